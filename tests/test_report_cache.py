"""The report's result cache (unireps.report.cache): exact round trips, atomic writes, keys that change with every
input, and the report steps that reuse it (sections, the federated child, the real networks, the screenshots)."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from unireps.report import cache as C
from unireps.report import standard as S


def _section():
    t = pd.DataFrame({"model": ["a", "b", None], "value": [0.25, np.nan, 1e-17], "n": [1, 2, 3],
                      "ok": [True, False, True], "kind": pd.Categorical(["x", "y", "x"])})
    fig = go.Figure(go.Bar(x=["a", "b"], y=[1.0, 2.5]), layout={"title": {"text": "t"}})
    numbers = {"z_first": 0.1 + 0.2, "nan": float("nan"), "flag": True, "count": 7, "pair": "a and b",
               "np": np.float64(1 / 3), "b_last": None}
    return {"second": t.iloc[::-1], "first": t}, {"fig": fig}, numbers


def test_a_section_comes_back_exactly_and_in_order(tmp_path):
    cache = C.ResultCache(tmp_path, "k")
    tables, figures, numbers = _section()
    cache.store("s", (tables, figures, numbers), wall_s=1.5, cpu_s=2.5)
    t2, f2, n2 = cache.load("s")
    assert list(t2) == ["second", "first"] and list(n2) == list(numbers)
    for name in tables:
        pd.testing.assert_frame_equal(t2[name], tables[name])
    assert json.loads(f2["fig"].to_json()) == json.loads(figures["fig"].to_json())
    assert n2["z_first"] == 0.1 + 0.2 and np.isnan(n2["nan"]) and n2["np"] == 1 / 3 and n2["flag"] is True
    meta = cache.meta("s")
    assert (meta["wall_s"], meta["cpu_s"], meta["section"]) == (1.5, 2.5, "s")
    assert not [p for p in (tmp_path / "k").iterdir() if p.name.startswith(".")], "no temporary folder is left"


def test_disabled_refresh_and_damaged_folders_compute_again(tmp_path):
    off = C.ResultCache(None, "k")
    off.store("s", _section(), 1, 1)
    assert off.load("s") is None and not any(tmp_path.iterdir())
    cache = C.ResultCache(tmp_path, "k")
    cache.store("s", _section(), 1, 1)
    assert C.ResultCache(tmp_path, "k", refresh=True).load("s") is None
    assert C.ResultCache(tmp_path, "other").load("s") is None
    assert cache.with_variant("zoo-1").load("s") is None
    (cache.folder("s") / "tables" / "first.parquet").write_bytes(b"not parquet")
    assert cache.load("s") is None
    cache.store("s", _section(), 1, 1)  # rewritten over the damaged one
    assert cache.load("s") is not None
    meta = cache.folder("s") / "meta.json"
    meta.write_text(meta.read_text().replace('"format": 1', '"format": 999'))
    assert cache.load("s") is None


def test_numbers_json_would_change_are_refused_before_writing(tmp_path):
    cache = C.ResultCache(tmp_path, "k")
    with pytest.raises(TypeError, match="'widths' is a tuple"):
        cache.store("s", ({}, {}, {"widths": (16, 64)}), 1, 1)
    assert not (tmp_path / "k").exists()


def test_the_key_changes_with_settings_parts_and_package_files(tmp_path, monkeypatch):
    base = C.fingerprint({"n": 500})
    assert base == C.fingerprint({"n": 500}) and len(base) == 24
    assert base != C.fingerprint({"n": 501}) and base != C.fingerprint({"n": 500}, "zoo")
    monkeypatch.setattr(C, "package_digest", lambda: "edited")
    assert base != C.fingerprint({"n": 500})
    (tmp_path / "w.bin").write_bytes(b"1")
    d = C.folder_digest(tmp_path)
    (tmp_path / "w.bin").write_bytes(b"2")
    assert C.folder_digest(tmp_path) != d != C.folder_digest(tmp_path / "missing")


def test_runconfig_key_ignores_where_a_run_computes_not_what(tmp_path):
    key = S.result_cache(S.RunConfig(result_cache=str(tmp_path))).key
    assert S.result_cache(S.RunConfig(result_cache=str(tmp_path / "x"), recompute=True, cache_dir="y",
                                      federated_background=False)).key == key
    assert S.result_cache(S.RunConfig(result_cache=str(tmp_path), n_boot=7)).key != key
    assert not S.result_cache(S.RunConfig()).enabled


def test_old_result_folders_are_pruned(tmp_path):
    for i in range(C.KEEP + 3):
        C.ResultCache(tmp_path, f"k{i}").store("s", ({}, {}, {"i": i}), 1, 1)
        os.utime(tmp_path / f"k{i}", (i, i))
    C.ResultCache(tmp_path, "newest").store("s", ({}, {}, {}), 1, 1)
    kept = sorted(p.name for p in tmp_path.iterdir())
    assert len(kept) == C.KEEP and "newest" in kept and "k0" not in kept


def test_cached_section_computes_once_and_records_the_reuse(tmp_path):
    calls = []

    def fn():
        calls.append(1)
        return _section()

    cache = C.ResultCache(tmp_path, "k")
    first, second = S.RunResults(), S.RunResults()
    a = S.cached_section(cache, "seeds", fn, first)
    b = S.cached_section(cache, "seeds", fn, second)
    assert len(calls) == 1 and first.reused == {} and set(second.reused) == {"seeds"}
    assert second.reused["seeds"]["wall_s"] >= 0 and a[2]["count"] == b[2]["count"] == 7


def test_a_cached_federated_section_starts_no_child(tmp_path):
    cfg = S.RunConfig(result_cache=str(tmp_path))
    tables = {"federated": pd.DataFrame({"round": [1], "global_acc": [0.5]})}
    S.result_cache(cfg).store("federated", (tables, {}, {"federated_rounds": 1}), wall_s=9.0, cpu_s=20.0)
    child = S.start_federated(cfg, progress=None)
    assert isinstance(child, S._CachedSection)
    out = S.RunResults(config=cfg, pending_federated=child)
    S.finish_federated(out, progress=None)
    assert out.numbers["federated_rounds"] == 1 and out.reused["federated"]["wall_s"] == 9.0
    pd.testing.assert_frame_equal(out.tables["federated"], tables["federated"])


def test_realnets_are_copied_from_the_cache_without_computing(tmp_path, monkeypatch):
    from unireps.report import realnets as R

    def fake_compute(out, *args):
        (out / "tables").mkdir(parents=True, exist_ok=True)
        for t in R.TABLES:
            pd.DataFrame({"v": [1.0]}).to_csv(out / "tables" / f"realnets_{t}.csv", index=False)
        (out / "realnets_numbers.json").write_text(json.dumps({"x": 0.5}))
        (out / "realnets_meta.json").write_text(json.dumps({"run_time_s": 3.0}))
        (out / "realnets.md").write_text("# real")
        return {"numbers": {"x": 0.5}}

    cache = C.ResultCache(tmp_path / "cache", "k")
    monkeypatch.setattr(R, "_compute_realnets", fake_compute)
    R.run_realnets(tmp_path / "first", result_cache=cache, progress=None)
    assert not (tmp_path / "first" / "realnets_reused.json").exists()

    def fail(*args):
        raise AssertionError("computed although cached")

    monkeypatch.setattr(R, "_compute_realnets", fail)
    res = R.run_realnets(tmp_path / "second", result_cache=cache, progress=None)
    assert res["numbers"] == {"x": 0.5} and res["meta"]["run_time_s"] == 3.0 and "computed" in res["reused"]
    assert (tmp_path / "second" / "realnets_reused.json").is_file() and set(res["tables"]) == set(R.TABLES)
    with pytest.raises(AssertionError, match="computed although cached"):  # other settings: another entry
        R.run_realnets(tmp_path / "third", n_splits=3, result_cache=cache, progress=None)


def test_screenshots_are_reused_only_for_the_same_folder_name(tmp_path):
    from unireps.report import _screenshots

    calls = []

    def capture(folder):
        calls.append(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "app.png").write_bytes(b"png")
        return {"files": ["app.png"], "reason": ""}

    res = S.RunResults(cache=C.ResultCache(tmp_path / "cache", "k", variant="zoo"))
    first = _screenshots(res, capture, tmp_path / "a" / "2026-12-07-post", None)
    again = _screenshots(res, capture, tmp_path / "b" / "2026-12-07-post", None)
    assert first == again and len(calls) == 1 and (tmp_path / "b" / "2026-12-07-post" / "app.png").is_file()
    assert set(res.reused) == {"screenshots"}
    _screenshots(res, capture, tmp_path / "c" / "2026-12-08-post", None)
    assert len(calls) == 2


def test_a_failed_capture_is_not_cached(tmp_path):
    from unireps.report import _screenshots

    calls = []

    def no_browser(folder):
        calls.append(folder)
        return {"files": [], "reason": "no Chromium"}

    res = S.RunResults(cache=C.ResultCache(tmp_path / "cache", "k"))
    for _ in range(2):
        assert _screenshots(res, no_browser, tmp_path / "shots", None)["reason"] == "no Chromium"
    assert len(calls) == 2 and res.reused == {}


def test_a_section_stored_meanwhile_by_another_run_is_kept(tmp_path, monkeypatch):
    cache = C.ResultCache(tmp_path, "k")
    cache.store("s", ({}, {}, {"who": "other run"}), 1, 1)
    other = C.ResultCache(tmp_path / "elsewhere", "k")
    other.store("s", ({}, {}, {"who": "other run"}), 1, 1)
    real_replace = os.replace

    def racing_replace(src, dst):  # the other run's folder appears between our removal and our rename
        if not os.path.exists(dst):
            real_replace(other.folder("s"), dst)
        return real_replace(src, dst)

    monkeypatch.setattr(C.os, "replace", racing_replace)
    cache.store("s", ({}, {}, {"who": "this run"}), 1, 1)
    assert cache.load("s")[2] == {"who": "other run"}
    assert not [p for p in (tmp_path / "k").iterdir() if p.name.startswith(".")]
