"""The puzzle's real-network table (unireps.app.realpuzzle): its disk cache is keyed by what the numbers depend on
(another model pair or set never reads a stale table), the verdict sentence follows the numbers, absent packages
give a note naming the fix, and the per-model PCA memo of the explorer is keyed per model and set."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

from test_app_support import TINY, ZOO_CACHE, tiny_zoo_env

pytest.importorskip("gradio")

PAIR = (TINY["a"], TINY["clip"])


def engine(tmp_path, models=PAIR):
    from unireps.app.engine import AppConfig, Engine

    shared = ZOO_CACHE / "app-cache" / "activations"  # the app tests' activation cache (keyed by content)
    shared.mkdir(parents=True, exist_ok=True)
    if not (tmp_path / "activations").exists():
        (tmp_path / "activations").symlink_to(shared, target_is_directory=True)
    return Engine(AppConfig(cache_dir=tmp_path, precompute=False, applications=False, toy_models=False,
                            puzzle_models=models, puzzle_permutations=10))


def puzzle_files(tmp_path):
    return sorted((tmp_path / "results").glob("*real-puzzle-*.csv"))


def test_real_puzzle_table_is_cached_on_disk_under_its_own_key(tmp_path, monkeypatch):
    from unireps.app import realpuzzle as RP

    with tiny_zoo_env():
        e = engine(tmp_path)
        first = RP.real_puzzle(e)
        md = RP.real_puzzle_view(e)[0]
        # tiny zoo stand-ins: the heading follows describe_model and never says "Real networks"
        assert "Real networks" not in md and md.startswith("**Stand-ins on real photographs")
        t = first["table"]
        labels = {*PAIR, *(f"{m}-untrained" for m in PAIR)}
        assert set(t.model_a) | set(t.model_b) == labels and len(t) == 6 * len(RP.REAL_METRICS)
        assert (t.n == 92).all() and (t.ci_low <= t.ci_high).all() and (t.null_mean < 1).all()
        assert len(puzzle_files(tmp_path)) == 1
        # a new process with the same models reads the table from disk and computes nothing
        monkeypatch.setattr(RP, "pair_table", lambda *a, **k: pytest.fail("recomputed despite the disk cache"))
        again = RP.real_puzzle(engine(tmp_path))
        pd.testing.assert_frame_equal(again["table"], t, check_dtype=False)
        # another pair: another key, computed afresh (never the first pair's file)
        calls = []
        monkeypatch.setattr(RP, "pair_table", lambda reps, *a, **k: calls.append(sorted(reps)) or t)
        RP.real_puzzle(engine(tmp_path, (TINY["b"], TINY["clip"])))
        assert calls == [sorted([TINY["b"], TINY["clip"], f"{TINY['b']}-untrained", f"{TINY['clip']}-untrained"])]
        assert len(puzzle_files(tmp_path)) == 2


def test_heading_follows_what_the_models_are():
    from unireps.app.realpuzzle import heading

    assert heading(("efficientnet-lite0", "efficientnet-lite2")) == "Real networks on real photographs"
    assert heading(PAIR).startswith("Stand-ins on real photographs")
    mixed = heading(("efficientnet-lite0", TINY["clip"]))
    assert "Real networks" not in mixed and f"{TINY['clip']} is a stand-in" in mixed


def test_cache_key_names_models_data_and_counts():
    from unireps.app.realpuzzle import cache_key

    base = cache_key(PAIR, "h")
    assert base == cache_key(PAIR, "h")
    others = {cache_key(PAIR[::-1], "h"), cache_key(PAIR, "h2"), cache_key(PAIR, "h", n_permutations=100),
              cache_key(PAIR, "h", n_permutations=50), cache_key(PAIR, "h", seed=1),
              cache_key(PAIR, "h", metrics=("linear_cka",))}
    assert base not in others and len(others) == 6


def row(value, lo, hi, p95):
    return pd.Series({"value": value, "ci_low": lo, "ci_high": hi, "null_mean": 0.5, "null_p95": p95})


def test_verdict_follows_the_numbers():
    from unireps.app.realpuzzle import verdict

    high = verdict(row(0.9, 0.85, 0.95, 0.6), row(0.6, 0.55, 0.7, 0.6), "linear_cka")
    assert "is above the shuffled-pairing null" in high and "above its untrained twins" in high
    overlap = verdict(row(0.9, 0.85, 0.95, 0.6), row(0.88, 0.8, 0.93, 0.6), "linear_cka")
    assert "not distinguishable from its untrained twins" in overlap
    null = verdict(row(0.55, 0.45, 0.65, 0.6), row(0.5, 0.4, 0.6, 0.6), "mutual_knn")
    assert "not above the shuffled-pairing null" in null
    low = verdict(row(0.7, 0.65, 0.75, 0.6), row(0.9, 0.85, 0.95, 0.6), "linear_cka")
    assert "below its untrained twins" in low


def test_pair_table_null_is_the_shuffled_pairing():
    from unireps.app.realpuzzle import pair_table

    rng = np.random.default_rng(1)
    X = rng.normal(size=(60, 10))
    t = pair_table({"x": X, "noise": rng.normal(size=(60, 10))}, ("linear_cka", "mutual_knn"), 50)
    assert list(t.metric) == ["linear_cka", "mutual_knn"] and (t.n == 60).all()
    # unrelated representations: the value sits inside its own shuffled-pairing null
    assert (t.value < t.null_p95 + 0.05).all() and (t.p_value > 0.01).all()


def test_missing_networks_name_the_packages(tmp_path):
    from unireps.app.realpuzzle import PACKAGES_HINT, real_puzzle, real_puzzle_view

    with tiny_zoo_env():
        e = engine(tmp_path, ("no-such-net-a", "no-such-net-b"))
        assert real_puzzle(e) is None
        md, _fig, table = real_puzzle_view(e)
    assert PACKAGES_HINT in md and table.empty


def test_model_pca_memo_is_keyed_per_model_and_set(tmp_path):
    from unireps.app.compute import model_pca
    from unireps.viz import pca_2d

    with tiny_zoo_env():
        e = engine(tmp_path)
        a, b = model_pca(e, TINY["a"], "shapes", "image"), model_pca(e, TINY["b"], "shapes", "image")
        k = model_pca(e, TINY["a"], "kriegeskorte92", "image")
    assert a.shape == b.shape == (len(e.dataset("shapes")), 2) and k.shape == (92, 2)
    assert not np.allclose(a, b)
    np.testing.assert_allclose(a, pca_2d(e.embedding(TINY["a"], "shapes", "image")))


def test_absent_optional_imports_fail_at_once():
    from unireps.app.server import mark_absent_imports

    name = "unireps_no_such_package_xyz"
    try:
        assert mark_absent_imports((name, "json")) == [name]
        with pytest.raises(ImportError):
            __import__(name)
    finally:
        sys.modules.pop(name, None)
