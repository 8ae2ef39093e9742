"""Out-of-core measures equal the in-memory ones on the same rows, whatever the sharding and batching; sources
fail clearly; streaming reads one batch at a time."""

from __future__ import annotations

import json
import math
import tracemalloc

import numpy as np
import pytest
import torch
from safetensors.numpy import save_file

from unireps.metrics import (
    cca,
    linear_cka,
    linear_predictability,
    mutual_knn,
    ooc,
    paired_cosine,
    procrustes,
    pwcca,
    svcca,
)
from unireps.metrics.knn import knn, unit_rows
from unireps.metrics.predictability import _fit_ridge
from unireps.metrics.streaming import StreamingCCA, StreamingPredictability, fold_ids


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Small matrices: one intra-op thread is faster, and spares a shared machine (restored afterwards)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _pair(seed=0, n=600, dx=24, dy=16, latent=5, noise=0.6, dtype=np.float64):
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(n, latent))
    X = Z @ rng.normal(size=(latent, dx)) + noise * rng.normal(size=(n, dx)) + 3.0 * rng.normal(size=dx)
    Y = np.tanh(Z) @ rng.normal(size=(latent, dy)) + noise * rng.normal(size=(n, dy)) - 2.0
    return X.astype(dtype), Y.astype(dtype)


def _npy_shards(tmp_path, X, cuts, stem="x"):
    paths = []
    for i, (a, b) in enumerate(zip([0, *cuts], [*cuts, len(X)])):
        p = tmp_path / f"{stem}-part{i}.npy"
        np.save(p, X[a:b])
        paths.append(p)
    return paths


def _st_shards(tmp_path, Y, cuts, stem="y", key="feats"):
    paths = []
    for i, (a, b) in enumerate(zip([0, *cuts], [*cuts, len(Y)])):
        p = tmp_path / f"{stem}-part{i}.safetensors"
        save_file({key: np.ascontiguousarray(Y[a:b])}, str(p))
        paths.append(p)
    return paths


@pytest.fixture
def sharded(tmp_path):
    """X as 3 .npy shards in a directory, Y as 4 .safetensors shards with other boundaries."""
    X, Y = _pair()
    xdir, ydir = tmp_path / "x", tmp_path / "y"
    xdir.mkdir(), ydir.mkdir()
    _npy_shards(xdir, X, [150, 390])
    ys = _st_shards(ydir, Y, [100, 101, 420])
    return X, Y, xdir, ys


# ---------------------------------------------------------------------------------------------- sources


def test_sources_yield_exact_batches_across_shards(sharded):
    X, Y, xdir, ys = sharded
    for src, want in ((xdir, X), (ys, Y), (X, X), (torch.from_numpy(Y), Y), ([X[:7], X[7:]], X)):
        batches = list(ooc.iter_batches(src, batch_size=64))
        assert [b.shape[0] for b in batches] == [64] * 9 + [24]
        assert all(b.dtype == torch.float64 for b in batches)
        np.testing.assert_array_equal(torch.cat(batches).numpy(), want)
    s = ooc.as_source(xdir)
    assert s.shape == X.shape and len(s.pieces) == 3
    np.testing.assert_array_equal(s.take([599, 0, 151, 389, 390]).numpy(), X[[599, 0, 151, 389, 390]])
    np.testing.assert_array_equal(s.slice(140, 400).read(5, 20).numpy(), X[145:160])
    np.testing.assert_array_equal(s.slice(140, 400).take([0, 259]).numpy(), X[[140, 399]])
    pairs = list(ooc.iter_pairs(xdir, ys, batch_size=250, with_start=True))
    assert [p[0] for p in pairs] == [0, 250, 500]
    np.testing.assert_array_equal(pairs[1][2].numpy(), Y[250:500])


def test_directory_order_natural_or_listed(tmp_path):
    rows = [np.full((2, 3), i, dtype=np.float32) for i in range(12)]
    for i, r in enumerate(rows):
        np.save(tmp_path / f"part-{i}.npy", r)
    got = torch.cat(list(ooc.iter_batches(tmp_path, batch_size=5)))
    assert got.dtype == torch.float32
    assert got[::2, 0].tolist() == list(range(12))  # part-2 before part-10
    (tmp_path / "shards.json").write_text(json.dumps({"shards": [f"part-{i}.npy" for i in (3, 1)]}))
    assert torch.cat(list(ooc.iter_batches(tmp_path)))[:, 0].tolist() == [3, 3, 1, 1]


def test_dtypes_follow_the_in_memory_policy(tmp_path):
    np.save(tmp_path / "h.npy", np.ones((4, 2), dtype=np.float16))
    np.save(tmp_path / "i.npy", np.ones((4, 2), dtype=np.int32))
    assert next(ooc.iter_batches(tmp_path / "h.npy")).dtype == torch.float32
    assert next(ooc.iter_batches(tmp_path / "i.npy")).dtype == torch.float64
    assert next(ooc.iter_batches(tmp_path / "i.npy", dtype=torch.float32, device="cpu")).dtype == torch.float32


def test_row_count_mismatch_is_a_clear_error(sharded):
    X, Y, xdir, ys = sharded
    with pytest.raises(ValueError, match="X has 600 stimuli.*Y has 599"):
        ooc.streaming_linear_cka(xdir, Y[:-1])
    with pytest.raises(ValueError, match="same stimuli"):
        ooc.streaming_cca(X[:10], ys)
    with pytest.raises(ValueError, match="Y has 500"):
        ooc.mutual_knn_ooc(xdir, ys[1:], k=5)


def test_unreadable_shards_are_clear_errors(tmp_path):
    good = tmp_path / "good.npy"
    np.save(good, np.ones((5, 3)))
    trunc = tmp_path / "trunc.npy"
    trunc.write_bytes(good.read_bytes()[:-16])
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    st_trunc = tmp_path / "st.safetensors"
    save_file({"a": np.ones((50, 4), dtype=np.float32)}, str(st_trunc))
    st_trunc.write_bytes(st_trunc.read_bytes()[:-100])
    three_d = tmp_path / "cube.npy"
    np.save(three_d, np.ones((2, 2, 2)))
    wide = tmp_path / "wide.npy"
    np.save(wide, np.ones((5, 4)))
    two = tmp_path / "two.safetensors"
    save_file({"a": np.ones((3, 2), dtype=np.float32), "b": np.ones((3, 2), dtype=np.float32)}, str(two))
    cases = [
        (trunc, "trunc.npy"), (junk, "junk.safetensors"), (st_trunc, "st.safetensors"),
        (tmp_path / "missing.npy", "does not exist"), (three_d, "expected 2-D"),
        ([good, wide], "different numbers of features"), (two, "pass key="),
        (tmp_path / "x.csv", ".npy or .safetensors"),
    ]
    (tmp_path / "x.csv").write_text("1,2\n")
    for src, msg in cases:
        with pytest.raises(ooc.ShardError, match=msg):
            list(ooc.iter_batches(src))
    with pytest.raises(ValueError):  # ShardError is a ValueError
        ooc.streaming_linear_cka([good, trunc], np.ones((10, 2)))
    assert next(ooc.iter_batches(two, key="b")).shape == (3, 2)
    with pytest.raises(ooc.ShardError, match="no tensor 'c'"):
        ooc.as_source(two, key="c")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ooc.ShardError, match="no .npy or .safetensors"):
        ooc.as_source(empty)
    with pytest.raises(TypeError, match="row source"):
        ooc.as_source(42)


def test_cache_entries_read_by_layer_file_or_manifest(tmp_path):
    from unireps.models.cache import ActivationCache

    store = ActivationCache(tmp_path)
    entry = tmp_path / "entry"
    data = {}
    for layer in ("block.0", "block.1"):
        data[layer] = np.random.default_rng(len(layer)).normal(size=(9, 4)).astype(np.float32)
        w = store.writer(entry, layer, "mean", {"layer": layer}, 9, 4)
        w.write(slice(0, 9), data[layer])
        w.commit()
    for path in (entry / "block.1.mean.safetensors", entry / "block.1.mean.json"):
        np.testing.assert_array_equal(torch.cat(list(ooc.iter_batches(path, batch_size=4))).numpy(), data["block.1"])
    with pytest.raises(ValueError, match="activation-cache entry"):
        ooc.as_source(entry)


# ----------------------------------------------------------------------------------------- linear stats


@pytest.mark.parametrize("debiased", [False, True])
def test_streaming_cka_equals_in_memory(sharded, debiased):
    X, Y, xdir, ys = sharded
    want = linear_cka(X, Y, debiased=debiased)
    for bs in (64, 599, None):
        assert abs(ooc.streaming_linear_cka(xdir, ys, debiased=debiased, batch_size=bs) - want) < 1e-9


def test_streaming_cca_family_equals_in_memory(sharded):
    X, Y, xdir, ys = sharded
    acc = ooc.streaming_cca(xdir, ys, batch_size=97)
    assert abs(acc.cca() - cca(X, Y)) < 1e-8
    for keep in (0.99, 0.9, 0.5, 3, 100):
        assert abs(acc.svcca(keep) - svcca(X, Y, keep=keep)) < 1e-8
    assert abs(acc.pwcca() - pwcca(X, Y)) < 1e-8
    assert abs(acc.procrustes() - procrustes(X, Y)) < 1e-8
    assert abs(ooc.streaming_cca(ys, xdir).pwcca() - pwcca(Y, X)) < 1e-8  # the other side weights
    rho = acc.compute()
    assert rho.dtype == torch.float64 and bool((rho[:-1] >= rho[1:]).all())


def test_streaming_cca_rank_deficient_and_degenerate():
    X, Y = _pair(3, n=400, dx=12, dy=9)
    Xr = np.hstack([X, X[:, :5] @ np.random.default_rng(0).normal(size=(5, 6))])  # rank 12 of 18 columns
    acc = StreamingCCA()
    for s in range(0, 400, 128):
        acc.update(Xr[s:s + 128], Y[s:s + 128])
    assert abs(acc.cca() - cca(Xr, Y)) < 1e-8
    assert abs(acc.svcca() - svcca(Xr, Y)) < 1e-8
    with pytest.raises(ValueError, match="perfect correlations"):
        StreamingCCA().update(*_pair(0, n=20, dx=30, dy=5)).cca()
    with pytest.raises(ValueError, match="constant"):
        StreamingCCA().update(np.ones((10, 3)), Y[:10]).cca()
    with pytest.raises(ValueError, match="at least 3"):
        StreamingCCA().cca()
    with pytest.raises(ValueError, match="widths"):
        StreamingCCA().update(X[:5], Y[:5]).update(X[:5, :3], Y[:5])


def test_paired_cosine(sharded):
    X, _, xdir, _ = sharded
    Z = X + np.random.default_rng(0).normal(size=X.shape)
    assert abs(ooc.streaming_paired_cosine(xdir, Z, batch_size=77) - paired_cosine(X, Z)) < 1e-12


# --------------------------------------------------------------------------------------- predictability


def _same_folds_reference(X, Y, cv, seed):
    """linear_predictability's ridge (predictability._fit_ridge, SVD + GCV) on the hashed folds."""
    x, y = torch.from_numpy(X), torch.from_numpy(Y)
    folds = fold_ids(torch.arange(len(X)), cv, seed)
    sse = 0.0
    for k in range(cv):
        test = folds == k
        if not bool(test.any()):
            continue
        W, mx, my = _fit_ridge(x[~test], y[~test])
        sse += float(((y[test] - ((x[test] - mx) @ W + my)) ** 2).sum())
    return 1.0 - sse / float(((y - y.mean(0)) ** 2).sum())


@pytest.mark.parametrize("n,dx,cv,seed", [(600, 24, 5, 0), (80, 30, 3, 7), (300, 10, 2, 1)])
def test_streaming_predictability_equals_same_folds_reference(n, dx, cv, seed, tmp_path):
    X, Y = _pair(seed, n=n, dx=dx)
    want = _same_folds_reference(X, Y, cv, seed)
    paths = _npy_shards(tmp_path, X, [n // 3])
    for bs in (16, n):
        got = ooc.streaming_predictability(paths, Y, cv=cv, seed=seed, batch_size=bs)
        assert abs(got - want) < 1e-8
    # agrees with the in-memory measure (other folds) only statistically
    if n >= 300:
        assert abs(got - linear_predictability(X, Y, cv=cv, seed=seed)) < 0.05


def test_fold_ids_depend_on_the_row_only():
    rows = torch.arange(100_000)
    f = fold_ids(rows, 5, seed=3)
    assert f.min() == 0 and f.max() == 4
    counts = torch.bincount(f).double()
    assert float((counts - 20_000).abs().max()) < 600  # multinomial: sd ~ 126
    assert torch.equal(fold_ids(rows[777:5000], 5, 3), f[777:5000])
    assert not torch.equal(fold_ids(rows, 5, seed=4), f)
    high = fold_ids(torch.arange(2**40, 2**40 + 1000), 7, 0)  # the high 32 bits enter the hash too
    assert int(high.min()) >= 0 and int(high.max()) <= 6
    assert not torch.equal(high, fold_ids(torch.arange(1000), 7, 0))
    acc = StreamingPredictability(cv=3)
    with pytest.raises(ValueError, match="before any update"):
        acc.compute()
    with pytest.raises(ValueError, match="cv must be"):
        StreamingPredictability(cv=1)
    X, Y = _pair(0, n=40)
    with pytest.raises(ValueError, match="Y is constant"):
        StreamingPredictability().update(X, np.ones((40, 2))).compute()


# ------------------------------------------------------------------------------------------------ k-NN


def test_chunked_knn_equals_exact(sharded):
    X, Y, xdir, ys = sharded
    want_i, want_v = knn(unit_rows(torch.from_numpy(X)), 7)
    got = ooc.chunked_knn(xdir, 7, batch_size=83, query_batch_size=100)
    assert torch.equal(got.indices, want_i)
    torch.testing.assert_close(got.similarities, want_v, rtol=0, atol=1e-12)
    rows = np.array([5, 599, 0, 300])
    sub = ooc.chunked_knn(xdir, 7, query_rows=rows, batch_size=128)
    assert torch.equal(sub.indices, want_i[rows])
    assert got.recall is None


def test_mutual_knn_ooc_equals_in_memory(sharded):
    X, Y, xdir, ys = sharded
    for k in (1, 10):
        res = ooc.mutual_knn_ooc(xdir, ys, k=k, batch_size=111, query_batch_size=128)
        assert float(res) == pytest.approx(mutual_knn(X, Y, k=k), abs=1e-12)
        assert not res.approximate and res.recall_x is None
    with pytest.raises(ValueError, match="k="):
        ooc.mutual_knn_ooc(X, Y, k=600)
    Z = X.copy()
    Z[17] = 0
    with pytest.raises(ValueError, match="all-zero rows.*row 17"):
        ooc.mutual_knn_ooc(Z, Y, k=3, batch_size=50)


def test_approximate_knn_reports_recall(tmp_path):
    pytest.importorskip("faiss")
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(40, 6))
    Z = centres[rng.integers(0, 40, 3000)] + 0.3 * rng.normal(size=(3000, 6))
    X = (Z @ rng.normal(size=(6, 32)) + 0.2 * rng.normal(size=(3000, 32))).astype(np.float32)
    Y = (np.tanh(Z) @ rng.normal(size=(6, 20)) + 0.2 * rng.normal(size=(3000, 20))).astype(np.float32)
    paths = _npy_shards(tmp_path, X, [1000, 2000])
    exact = ooc.chunked_knn(paths, 10).indices
    res = ooc.approximate_knn(paths, 10, nlist=32, nprobe=8, recall_sample=400)
    assert res.indices.shape == (3000, 10) and res.recall_queries == 400
    true_recall = float((res.indices[:, :, None] == exact[:, None, :]).any(2).double().mean())
    assert 0.0 <= res.recall <= 1.0 and abs(res.recall - true_recall) < 0.05
    assert not bool((res.indices == torch.arange(3000)[:, None]).any())  # self excluded
    low = ooc.approximate_knn(paths, 10, nlist=64, nprobe=1, recall_sample=400)
    assert low.recall < res.recall  # fewer probed lists: lower recall, and it is reported
    hnsw = ooc.approximate_knn(paths, 10, index="hnsw", recall_sample=200)
    assert hnsw.recall > 0.9
    mk = ooc.mutual_knn_ooc(paths, Y, k=10, approximate=True, nlist=32, nprobe=16, recall_sample=300)
    assert mk.approximate and mk.recall_x > 0.9 and mk.recall_y > 0.9
    assert abs(mk.value - mutual_knn(X, Y, k=10)) < 0.03
    with pytest.raises(ValueError, match="method"):
        ooc.approximate_knn(paths, 10, method="annoy")
    with pytest.raises(TypeError, match="approximate=True"):
        ooc.mutual_knn_ooc(paths, Y, k=10, nprobe=3)


# ------------------------------------------------------------------------------------- bounded memory


def test_memmap_is_streamed_one_batch_at_a_time(tmp_path, monkeypatch):
    """A 16 MB float64 memmap streamed in 500-row batches: 40 reads of <= 500 rows, and the numpy
    allocations (traced) stay at a few batches, far below the file."""
    n, d = 40_000, 50
    path = tmp_path / "big.dat"
    mm = np.memmap(path, dtype=np.float64, mode="w+", shape=(n, d))
    rng = np.random.default_rng(0)
    for s in range(0, n, 5000):
        mm[s:s + 5000] = rng.normal(size=(5000, d))
    mm.flush()
    del mm
    X = np.memmap(path, dtype=np.float64, mode="r", shape=(n, d))
    Y = np.memmap(path, dtype=np.float64, mode="r", shape=(n, d))[:, :20]  # non-contiguous view: still batched
    calls = []
    original = ooc._ArrayPiece.read

    def counting(self, start, stop):
        calls.append(stop - start)
        return original(self, start, stop)

    monkeypatch.setattr(ooc._ArrayPiece, "read", counting)
    tracemalloc.start()
    value = ooc.streaming_linear_cka(X, Y, batch_size=500)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(calls) == 2 * math.ceil(n / 500) and max(calls) == 500
    assert peak < 2_000_000 and peak < path.stat().st_size // 8
    assert abs(value - linear_cka(np.asarray(X), np.asarray(Y))) < 1e-9
