"""CLI input handling: bad input gets one clear line on stderr and a non-zero exit, options are used,
--json is valid JSON."""

from __future__ import annotations

import json
import sqlite3
import types

import numpy as np
import pandas as pd
import pytest

from unireps.cli import main


def _err(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "Traceback" not in err[0]
    return err[0]


# ------------------------------------------------------------------------------------------------ metrics X Y


@pytest.fixture
def arrays(tmp_path):
    rng = np.random.default_rng(0)
    np.save(tmp_path / "x.npy", rng.normal(size=(30, 4)))
    return tmp_path


def test_metrics_1d_array_is_a_clear_error(arrays, capsys):
    np.save(arrays / "v.npy", np.arange(30.0))
    assert main(["metrics", str(arrays / "x.npy"), str(arrays / "v.npy")]) == 2
    err = _err(capsys)
    assert "(30,)" in err and "2-D" in err and "reshape(-1, 1)" in err


def test_metrics_garbage_and_object_files(arrays, capsys):
    (arrays / "bad.npy").write_text("not an array")
    assert main(["metrics", str(arrays / "x.npy"), str(arrays / "bad.npy")]) == 2
    err = _err(capsys)
    assert "bad.npy" in err and "np.save" in err and "allow_pickle" not in err
    (arrays / "bad.pt").write_text("not a tensor")
    assert main(["metrics", str(arrays / "x.npy"), str(arrays / "bad.pt")]) == 2
    assert "cannot read" in _err(capsys)
    assert main(["metrics", str(arrays / "x.npy"), str(arrays)]) == 2
    assert "is a folder" in _err(capsys)


def test_metrics_reads_pt_and_npz(arrays, capsys):
    import torch

    X = np.load(arrays / "x.npy")
    torch.save(torch.from_numpy(X), arrays / "x.pt")
    np.savez(arrays / "x.npz", X=X)
    capsys.readouterr()
    for other in ("x.pt", "x.npz"):
        assert main(["metrics", str(arrays / "x.npy"), str(arrays / other), "--metric", "linear_cka",
                     "--metric", "linear_cka", "--json"]) == 0
        rows = json.loads(capsys.readouterr().out)
        assert len(rows) == 1 and rows[0]["value"] == pytest.approx(1.0)


# ------------------------------------------------------------------------------------------------ JSON output


def test_json_output_has_no_nan(capsys):
    from unireps.cli.common import emit

    emit([{"rate": float("nan"), "n": np.int64(3), "x": np.float32(0.5), "inf": np.inf, "m": pd.NA}], True)
    out = capsys.readouterr().out
    rows = json.loads(out, parse_constant=lambda c: pytest.fail(f"invalid JSON constant {c}"))
    assert rows == [{"rate": None, "n": 3, "x": 0.5, "inf": None, "m": None}]


def test_table_cuts_long_notes_only_on_screen(capsys):
    from unireps.cli.common import emit

    emit([], False, pd.DataFrame({"metric": ["cca"], "note": ["x" * 5000]}))
    out = capsys.readouterr().out
    assert "…" in out and len(max(out.splitlines(), key=len)) < 300


# ------------------------------------------------------------------------------------------------ datasets, --out


@pytest.mark.parametrize("n", ["0", "-5"])
def test_non_positive_n_is_refused(tmp_path, capsys, n):
    for ds in ("shapes", "digits"):
        assert main(["extract", "zoo:any", "--dataset", ds, "--n", n, "--out", str(tmp_path / "e")]) == 2
        assert f"--n {n}" in _err(capsys)


def test_path_without_folder_dataset_is_refused(tmp_path, capsys):
    assert main(["extract", "zoo:any", "--path", str(tmp_path), "--n", "5", "--out", str(tmp_path / "e")]) == 2
    assert "--dataset folder" in _err(capsys)


def test_out_that_is_a_file(tmp_path, capsys):
    f = tmp_path / "file.txt"
    f.write_text("keep me")
    for argv in (["extract", "zoo:any", "--n", "5"], ["report"], ["stitch"], ["transfer"],
                 ["compare", "zoo:a", "zoo:b"], ["brain", "zoo:a"], ["layers", "zoo:a", "zoo:b"]):
        assert main([*argv, "--out", str(f)]) == 2, argv
        assert "existing file" in _err(capsys)
    assert f.read_text() == "keep me"


def test_datasets_table_shows_no_nan(capsys):
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    assert "NaN" not in out and "92.0" not in out and " 92 " in out


def test_oserror_is_one_line(tmp_path, capsys, monkeypatch):
    import unireps.data

    def boom():
        raise PermissionError(13, "Permission denied", "/root/x")

    monkeypatch.setattr(unireps.data, "list_datasets", boom)  # (the command imports it when it runs)
    assert main(["datasets"]) == 2
    assert "Permission denied" in _err(capsys)


# ------------------------------------------------------------------------------------------------ analyses


def test_same_model_twice_is_refused(capsys):
    assert main(["compare", "zoo:m", "zoo:m", "--n", "10"]) == 2
    assert "given twice" in _err(capsys)
    assert main(["brain", "zoo:m", "zoo:m"]) == 2
    assert "given twice" in _err(capsys)
    assert main(["compare", "zoo:m", "--no-baselines", "--n", "10"]) == 2
    assert "nothing to compare" in _err(capsys)


def test_brain_unknown_rdm_fails_before_running(capsys):
    with pytest.raises(SystemExit) as e:
        main(["brain", "zoo:m", "--rdm", "nope"])
    assert e.value.code == 2
    assert "invalid choice: 'nope'" in capsys.readouterr().err


def test_engine_options_validated(capsys):
    assert main(["layers", "zoo:a", "zoo:b", "--batch-size", "0"]) == 2
    assert "--batch-size 0" in _err(capsys)
    assert main(["extract", "zoo:a", "--num-actors", "-1"]) == 2
    assert "--num-actors -1" in _err(capsys)


def test_compare_records_options(tmp_path, capsys, monkeypatch):
    import unireps.analysis as analysis
    import unireps.cli.cmd_analysis as ca

    encs = {"zoo:a": types.SimpleNamespace(), "zoo:b": types.SimpleNamespace()}
    seen = {}

    def fake_compare(models, ds, **kw):
        seen.update(kw=kw)
        table = pd.DataFrame([{"model_a": "zoo:a", "model_b": "zoo:b", "metric": "linear_cka", "value": np.nan}])
        M = pd.DataFrame([[1.0, np.nan], [np.nan, 1.0]], index=list(encs), columns=list(encs))
        return types.SimpleNamespace(table=table, matrices={"linear_cka": M})

    monkeypatch.setattr(ca, "load_models", lambda args: encs)
    monkeypatch.setattr(analysis, "compare_models", fake_compare)
    out = tmp_path / "c"
    assert main(["compare", "zoo:a", "zoo:b", "--n", "10", "--metric", "linear_cka", "--modality", "text",
                 "--n-boot", "7", "--permutations", "0", "--out", str(out), "--json"]) == 0
    assert seen["kw"]["modality"] == "text" and seen["kw"]["n_boot"] == 7
    assert json.loads(capsys.readouterr().out)[0]["value"] is None
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["modality"] == "text" and prov["n_boot"] == 7 and prov["permutations"] == 0


def test_layers_passes_layers_and_batch_size(tmp_path, capsys, monkeypatch):
    import unireps.analysis as analysis
    import unireps.cli.cmd_analysis as ca
    import unireps.models as models

    encs = {"zoo:a": object(), "zoo:b": object()}
    calls = {}

    def fake_extract(enc, ds, **kw):
        calls.setdefault("extract", []).append(kw)

    def fake_layerwise(a, b, ds, **kw):
        calls["layerwise"] = kw
        M = pd.DataFrame([[1.0, 0.2], [0.3, np.nan]], index=["l1", "l2"], columns=["l1", "l2"])
        ident = pd.DataFrame([{"metric": "linear_cka", "identification_rate": np.nan, "n_layers": 2, "note": ""}])
        best = pd.DataFrame([{"metric": "linear_cka", "layer_a": "l1", "best_layer_b": "l1"}])
        return types.SimpleNamespace(maps={"linear_cka": M}, identification=ident, best_match=best,
                                     model_a="zoo:a", model_b="zoo:b")

    monkeypatch.setattr(ca, "load_models", lambda args: encs)
    monkeypatch.setattr(models, "extract", fake_extract)
    monkeypatch.setattr(analysis, "layerwise", fake_layerwise)
    assert main(["layers", "zoo:a", "zoo:b", "--n", "10", "--layers", "l1, l2", "--batch-size", "4",
                 "--out", str(tmp_path / "l"), "--json"]) == 0
    assert calls["layerwise"]["layers"] == ["l1", "l2"]
    assert calls["layerwise"]["engine_kwargs"] == {"batch_size": 4}  # reaches extract via representations
    captured = capsys.readouterr()
    assert json.loads(captured.out)[0]["identification_rate"] is None
    assert "identification rate undefined" in captured.err


# ------------------------------------------------------------------------------------------------ applications


@pytest.mark.parametrize("argv,needle", [
    (["stitch", "--epochs", "0"], "--epochs 0"),
    (["merge", "--widths", "16", "--epochs", "0"], "--epochs 0"),
    (["merge", "--widths", "0"], "--widths 0"),
    (["transfer", "--repeats", "0"], "--repeats 0"),
    (["transfer", "--anchors", "1"], "--anchors 1"),
])
def test_application_options_validated(tmp_path, capsys, argv, needle):
    assert main([*argv, "--out", str(tmp_path / "o")]) == 2
    assert needle in _err(capsys)
    assert not (tmp_path / "o").exists()


# ------------------------------------------------------------------------------------------------ report, app


@pytest.mark.parametrize("argv,needle", [
    (["report", "--date", "notadate"], "YYYY-MM-DD"),
    (["report", "--date", "2025-4-1"], "YYYY-MM-DD"),
    (["report", "--n", "0"], "--n 0"),
    (["demo", "--n-boot", "1"], "--n-boot 1"),
    (["demo", "--port", "70000"], "--port 70000"),
    (["report", "--author", "A", "--author", "B", "--author", "C", "--affiliation", "X", "--affiliation", "Y"],
     "one per author"),
    (["demo", "--config", "no-such-authors.yaml"], "no-such-authors.yaml"),
    (["app", "--port", "-1"], "--port -1"),
])
def test_report_demo_app_options_fail_fast(tmp_path, capsys, monkeypatch, argv, needle):
    import unireps.app
    import unireps.report

    def must_not_run(*a, **kw):
        raise AssertionError("bad options must be refused before any work")

    monkeypatch.setattr(unireps.report, "generate_report", must_not_run)
    monkeypatch.setattr(unireps.app, "launch", must_not_run)
    assert main([*argv, *(["--out", str(tmp_path / "r")] if argv[0] != "app" else [])]) == 2
    assert needle in _err(capsys)


def test_app_unknown_model_is_refused(capsys, monkeypatch):
    import unireps.app

    monkeypatch.setattr(unireps.app, "launch", lambda *a, **kw: pytest.fail("the app must not start"))
    assert main(["app", "--model", "zoo:definitely-not-a-model", "--no-precompute"]) == 2
    assert "zoo:definitely-not-a-model" in _err(capsys)


def test_analytics_missing_or_bad_db(tmp_path, capsys):
    assert main(["analytics", "--db", str(tmp_path / "none.db")]) == 2
    assert "no such file" in _err(capsys)
    assert not (tmp_path / "none.db").exists()
    bad = tmp_path / "bad.db"
    bad.write_text("not sqlite" * 100)
    assert main(["analytics", "--db", str(bad)]) == 2
    assert "SQLite" in _err(capsys)
    good = tmp_path / "good.db"
    sqlite3.connect(good).close()
    assert main(["analytics", "--db", str(good), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["events"] == 0


# ------------------------------------------------------------------------------------------------ export


def test_export_with_nothing_exported_fails(tmp_path, capsys, monkeypatch):
    import unireps.data.embeddings as emb
    import unireps.export.embeddings as exp

    def fake_export(out, *a, **kw):
        return out

    def fake_load(path, verify=None):
        return types.SimpleNamespace(
            index=lambda: pd.DataFrame(columns=["model", "dataset", "modality", "layer", "n", "dim"]),
            manifest={"files": {}, "skipped": [{"model": "zoo:nope", "reason": "ValueError: unknown model"}],
                      "how": {}}, path=path, models=[], datasets=["shapes"])

    monkeypatch.setattr(exp, "export_embeddings", fake_export)
    monkeypatch.setattr(emb, "load_embeddings", fake_load)
    assert main(["export-embeddings", "zoo:nope", "--preset", "none", "--out", str(tmp_path / "x")]) == 2
    err = _err(capsys)
    assert "nothing was exported" in err and "zoo:nope" in err


def test_demo_json_keeps_stdout_pure(tmp_path, capsys, monkeypatch):
    import unireps.app
    import unireps.cli.cmd_report as cr

    res = {"post": "p", "standalone": "s", "out": tmp_path, "run_time_s": 1.0,
           "results": types.SimpleNamespace(numbers={"x": float("nan")})}
    import unireps.report

    monkeypatch.setattr(cr, "_report", lambda args, federated=None: res)
    monkeypatch.setattr(unireps.report, "start_federated", lambda *a, **k: None)  # no Flower grid in a fast test
    monkeypatch.setattr(unireps.app, "launch", lambda **kw: print("unireps app: http://127.0.0.1:7860/"))
    assert main(["demo", "--json", "--out", str(tmp_path / "d")]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["numbers"] == {"x": None}
    assert "unireps app" in captured.err and "Serving" in captured.err


def test_metrics_list_json_is_strict_json(capsys):
    """linear_predictability's range is [-inf, 1]: it used to be written as -Infinity, which strict parsers refuse."""
    assert main(["metrics", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out, parse_constant=lambda c: pytest.fail(f"invalid JSON constant {c}"))
    lp = next(r for r in rows if r["name"] == "linear_predictability")
    assert lp["range"] == [None, 1.0]


def test_report_refuses_the_tiny_preset(capsys):
    """The tiny zoo lacks the families, seeds and checkpoints the standard analyses compare."""
    with pytest.raises(SystemExit):
        main(["report", "--preset", "tiny"])
    assert "invalid choice: 'tiny'" in capsys.readouterr().err
