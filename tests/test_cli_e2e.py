"""The CLI end to end on a tiny configuration: the tiny zoo, small data, few resamples."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from unireps.cli import main

A, B = "zoo:tiny-cnn8-bow-infonce-s0", "zoo:tiny-cnn8-bow-infonce-s1"


@pytest.fixture(scope="module", autouse=True)
def tiny_zoo(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("UNIREPS_CACHE", str(tmp_path_factory.mktemp("cache")))
    assert main(["zoo", "build", "--preset", "tiny", "--json"]) == 0
    yield
    mp.undo()


def test_zoo_list(capsys):
    capsys.readouterr()
    assert main(["zoo", "--preset", "tiny", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert all(r["built"] for r in rows) and any(r["name"] == "tiny-clip-s0" for r in rows)


def test_compare_writes_tables_figures_provenance(tmp_path, capsys):
    out = tmp_path / "cmp"
    code = main(["compare", A, B, "--dataset", "shapes", "--n", "60", "--n-boot", "5", "--permutations", "5",
                 "--out", str(out), "--json"])
    assert code == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["metric"] for r in rows} == {"linear_cka", "mutual_knn"}
    t = pd.read_parquet(out / "compare.parquet")
    assert len(t) == len(rows) and (out / "heatmap_linear_cka.html").exists()
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["models"] == [A, B] and prov["packages"]["torch"]


def test_layers_and_brain(tmp_path, capsys):
    assert main(["layers", A, B, "--dataset", "shapes", "--n", "60", "--out", str(tmp_path / "l"), "--json"]) == 0
    ident = json.loads(capsys.readouterr().out)
    assert {r["metric"] for r in ident} == {"linear_cka", "cca", "svcca"}
    assert main(["brain", A, "--n-boot", "5", "--out", str(tmp_path / "b"), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["target"] for r in rows} == {"human_IT", "monkey_IT"}
    assert (tmp_path / "b" / "brain_human_IT.html").exists()


def test_extract_saves_arrays(tmp_path, capsys):
    assert main(["extract", A, "--dataset", "shapes", "--n", "40", "--layers", "all", "--out", str(tmp_path),
                 "--json"]) == 0
    files = json.loads(capsys.readouterr().out)
    assert len(files) >= 2 and all(v["shape"][0] == 40 for v in files.values())


def test_unknown_model_fails_with_one_line(capsys):
    assert main(["compare", "zoo:nope", A, "--n", "20"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nope" in err[0]


@pytest.mark.slow
def test_applications_commands(tmp_path, capsys):
    assert main(["transfer", "--anchors", "20", "--repeats", "1", "--out", str(tmp_path / "t"), "--json"]) == 0
    rows = {(r["method"], r["n_anchors"]): r["accuracy"] for r in json.loads(capsys.readouterr().out)}
    assert rows[("ridge", 20)] > rows[("no_map", 0)] + 0.3
    assert main(["stitch", "--widths", "32", "--epochs", "5", "--out", str(tmp_path / "s"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)
    assert main(["merge", "--widths", "16", "--epochs", "5", "--no-multitask", "--out", str(tmp_path / "m"),
                 "--json"]) == 0
    assert {r["alignment"] for r in json.loads(capsys.readouterr().out)} >= {"naive", "weight_matching"}
    assert main(["merge", "--points", "5", "--out", str(tmp_path / "m2")]) == 2
