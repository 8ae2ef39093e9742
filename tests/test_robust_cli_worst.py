"""Issue 18: the CLI fed its worst inputs. Every run ends with exit 0 (each value finite, or null with the reason
it was refused) or exit 2 with a clear message on stderr; never a traceback, never a NaN in the output."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from unireps.cli import main


def _worst_inputs():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 4))
    nan, inf, const = X.copy(), X.copy(), np.ones_like(X)
    nan[3, 1], inf[7, 2] = np.nan, np.inf
    return {
        "nan": nan, "inf": inf, "constant": const, "huge": X * 1e300, "tiny": X * 1e-300,
        "one_row": X[:1], "no_rows": X[:0], "no_features": X[:, :0], "three_d": X.reshape(30, 2, 2),
        "float16": X.astype(np.float16), "int": (X * 10).astype(np.int64), "bool": X > 0,
        "wrong_rows": X[:29], "two_rows": X[:2], "float32_wide": rng.normal(size=(30, 300)).astype(np.float32) * 1e30,
    }


WORST = _worst_inputs()


def _check_outcome(code, out, err):
    assert "Traceback" not in err
    if code == 0:
        rows = json.loads(out, parse_constant=lambda c: pytest.fail(f"{c} in JSON output"))
        for r in rows:
            assert (r["value"] is not None and math.isfinite(r["value"])) or r.get("refused"), r
    else:
        assert code == 2 and err.strip()


@pytest.mark.parametrize("case", sorted(WORST))
def test_metrics_worst_inputs(tmp_path, capsys, case):
    rng = np.random.default_rng(1)
    np.save(tmp_path / "x.npy", WORST[case])
    np.save(tmp_path / "y.npy", rng.normal(size=(30, 4)))
    code = main(["metrics", str(tmp_path / "x.npy"), str(tmp_path / "y.npy"), "--json"])
    out = capsys.readouterr()
    _check_outcome(code, out.out, out.err)
    if case in ("huge", "tiny"):  # scale-free measures must not lose the answer at extreme scales
        assert code == 0
        assert all(r["value"] is not None for r in json.loads(out.out) if r["metric"] != "rbf_cka")
    if case in ("nan", "inf"):
        assert code == 2 and "NaN or infinite" in out.err


@pytest.mark.parametrize("argv,needle", [
    (["--k", "0"], "k"), (["--k", "-3"], "k"), (["--permutations", "-1"], "permutations"),
    (["--permutations", "1.5"], "permutations"), (["--bootstrap", "1e12"], "bootstrap"),
    (["--metric", "no_such_measure"], "no_such_measure"),
])
def test_metrics_worst_options(tmp_path, capsys, argv, needle):
    rng = np.random.default_rng(1)
    np.save(tmp_path / "x.npy", rng.normal(size=(30, 4)))
    np.save(tmp_path / "y.npy", rng.normal(size=(30, 4)))
    try:
        code = main(["metrics", str(tmp_path / "x.npy"), str(tmp_path / "y.npy"), "--metric", "mutual_knn", *argv])
    except SystemExit as e:  # argparse's own usage error
        code = e.code
    err = capsys.readouterr().err
    assert code == 2 and needle in err and "Traceback" not in err


@pytest.mark.parametrize("argv", [["--n", "0"], ["--n", "-5"], ["--n", "1000000000"], ["--n", "1e9"]])
def test_extract_worst_sizes(capsys, argv):
    try:
        code = main(["extract", "zoo:clip-s0", *argv])
    except SystemExit as e:
        code = e.code
    err = capsys.readouterr().err
    assert code == 2 and "--n" in err and "Traceback" not in err
