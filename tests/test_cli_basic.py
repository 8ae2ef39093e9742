"""The CLI end to end on small inputs: listing, comparing saved arrays, clear one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from unireps.cli import main


def test_metrics_list_json(capsys):
    assert main(["metrics", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["name"] for r in rows} >= {"linear_cka", "rsa", "mutual_knn", "cca", "procrustes"}


def test_metrics_compare_files(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 5))
    np.save(tmp_path / "x.npy", X)
    np.save(tmp_path / "y.npy", X @ rng.normal(size=(5, 4)))
    code = main(["metrics", str(tmp_path / "x.npy"), str(tmp_path / "y.npy"), "--metric", "linear_cka",
                 "--metric", "cca", "--permutations", "19", "--bootstrap", "20", "--json"])
    assert code == 0
    rows = {r["metric"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["cca"]["value"] == pytest.approx(1.0)
    assert rows["linear_cka"]["p_value"] == pytest.approx(0.05)
    assert rows["linear_cka"]["ci_low"] <= rows["linear_cka"]["value"] <= rows["linear_cka"]["ci_high"]


def test_metrics_jackknife_and_the_bootstrap_shift_note(tmp_path, capsys):
    from unireps.metrics import JackknifeResult, jackknife_ci

    rng = np.random.default_rng(4)
    Z = rng.normal(size=(40, 5))
    X, Y = (Z @ rng.normal(size=(5, 600)) + 3 * rng.normal(size=(40, 600)) for _ in range(2))
    np.save(tmp_path / "x.npy", X)
    np.save(tmp_path / "y.npy", Y)
    files = [str(tmp_path / "x.npy"), str(tmp_path / "y.npy"), "--metric", "linear_cka", "--json"]
    assert main(["metrics", *files, "--jackknife"]) == 0
    row = json.loads(capsys.readouterr().out)[0]
    ref = jackknife_ci(X, Y, "linear_cka")
    assert (row["ci_low"], row["ci_high"], row["ci_method"]) == (ref.low, ref.high, JackknifeResult.LABEL)
    assert main(["metrics", *files, "--bootstrap", "100"]) == 0
    row = json.loads(capsys.readouterr().out)[0]
    assert row["ci_low"] > row["value"] and "Use --jackknife" in row["note"]  # the shift is reported, not silent
    assert main(["metrics", *files, "--bootstrap", "100", "--jackknife"]) == 2
    assert "not both" in capsys.readouterr().err


def test_errors_are_one_clear_line(tmp_path, capsys):
    assert main(["metrics", str(tmp_path / "missing.npy"), str(tmp_path / "y.npy")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no such file" in err[0]
    np.save(tmp_path / "a.npy", np.ones((5, 2)))
    np.save(tmp_path / "b.npy", np.ones((6, 2)))
    assert main(["metrics", str(tmp_path / "a.npy"), str(tmp_path / "b.npy"), "--metric", "linear_cka"]) == 2
    assert "same stimuli" in capsys.readouterr().err


def test_datasets_list(capsys):
    assert main(["datasets", "--json"]) == 0
    names = {r["name"] for r in json.loads(capsys.readouterr().out)}
    assert {"shapes", "kriegeskorte92", "digits", "folder"} <= names


def test_help_everywhere(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    for cmd in ("metrics", "datasets", "demo"):
        with pytest.raises(SystemExit):
            main([cmd, "--help"])
        assert "usage: unireps" in capsys.readouterr().out
