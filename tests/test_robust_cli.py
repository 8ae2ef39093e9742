"""Issue 18, cases 3-4 for ``unireps metrics``: one refusing measure does not lose the others (exit 0, the
reason on stderr / in JSON), ``--strict`` fails on the first refusal, ``--k`` reaches the k-NN measures, and
absurd permutation / bootstrap counts are refused up front with the estimate."""

from __future__ import annotations

import json

import numpy as np
import pytest

from unireps.cli import main


@pytest.fixture
def wide(tmp_path):
    """20 stimuli × 500 features: the CCA family refuses (rank n-1); CKA, RSA, k-NN work."""
    rng = np.random.default_rng(0)
    np.save(tmp_path / "x.npy", rng.normal(size=(20, 500)))
    np.save(tmp_path / "y.npy", rng.normal(size=(20, 500)))
    return tmp_path


def _run(tmp, *extra):
    return main(["metrics", str(tmp / "x.npy"), str(tmp / "y.npy"), *extra])


def test_partial_results_survive_a_refusing_measure(wide, capsys):
    assert _run(wide, "--json") == 0
    out = capsys.readouterr()
    rows = {r["metric"]: r for r in json.loads(out.out)}
    assert rows["linear_cka"]["value"] is not None and rows["rsa"]["value"] is not None
    assert rows["cca"]["value"] is None and "rank" in rows["cca"]["refused"]
    assert "cca" in out.err and "refused" in out.err


def test_partial_results_table_lists_refusals(wide, capsys):
    assert _run(wide) == 0
    out = capsys.readouterr()
    assert "linear_cka" in out.out and "rsa" in out.out
    assert "cca" in out.err and "rank 19" in out.err


def test_strict_exits_on_first_refusal(wide, capsys):
    assert _run(wide, "--strict") == 2
    assert "rank" in capsys.readouterr().err


def test_all_refused_is_an_error(wide, capsys):
    assert _run(wide, "--metric", "cca", "--metric", "pwcca") == 2
    err = capsys.readouterr().err
    assert "cca" in err and "pwcca" in err


def test_k_option_reaches_knn_measures(tmp_path, capsys):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(11, 3))
    np.save(tmp_path / "x.npy", X)
    np.save(tmp_path / "y.npy", X + 0.1 * rng.normal(size=X.shape))
    # default k=10 is refused at n=11 with the hint "choose k <= 8"; the hinted flag must exist and work
    assert _run(tmp_path, "--metric", "mutual_knn", "--json") == 2
    assert "--k" in capsys.readouterr().err
    assert _run(tmp_path, "--metric", "mutual_knn", "--metric", "linear_cka", "--k", "3", "--json") == 0
    rows = {r["metric"]: r for r in json.loads(capsys.readouterr().out)}
    from unireps.metrics import mutual_knn

    assert rows["mutual_knn"]["value"] == pytest.approx(mutual_knn(X, np.load(tmp_path / "y.npy"), k=3))


@pytest.mark.parametrize("flag,count", [("--permutations", "1e9"), ("--bootstrap", "1e12"),
                                        ("--permutations", "100000000")])
def test_absurd_resampling_counts_are_refused_with_the_estimate(tmp_path, capsys, flag, count):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 5))
    np.save(tmp_path / "x.npy", X)
    np.save(tmp_path / "y.npy", X + rng.normal(size=X.shape))
    assert _run(tmp_path, "--metric", "linear_cka", flag, count) == 2
    err = capsys.readouterr().err
    assert "estimate" in err and flag in err


def test_uninformative_values_carry_a_note(wide, capsys):
    assert _run(wide, "--metric", "linear_cka", "--json") == 0
    row = json.loads(capsys.readouterr().out)[0]
    assert "chance" in row["note"]


def test_resampling_reports_progress():
    from unireps.metrics import bootstrap_ci, permutation_test

    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 4))
    Y = X + rng.normal(size=X.shape)
    for fn, kw in ((permutation_test, {"n_permutations": 250}), (bootstrap_ci, {"n_boot": 250})):
        calls = []
        fn(X, Y, "linear_cka", progress=lambda done, total, calls=calls: calls.append((done, total)), **kw)
        assert calls[-1] == (250, 250) and 50 <= len(calls) <= 300
        assert [c[0] for c in calls] == sorted(c[0] for c in calls)


def test_library_refuses_absurd_resample_counts():
    from unireps.metrics import bootstrap_ci, permutation_test

    X = np.random.default_rng(0).normal(size=(30, 4))
    with pytest.raises(ValueError, match="GB"):
        permutation_test(X, X, n_permutations=10**9)
    with pytest.raises(ValueError, match="GB"):
        bootstrap_ci(X, X, n_boot=10**12)
