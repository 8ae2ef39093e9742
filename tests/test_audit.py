"""unireps.audit / `unireps audit X Y`: the reliability report and its warnings."""

from __future__ import annotations

import json

import numpy as np

import unireps
from unireps.cli.main import main


def test_biased_cka_on_independent_wide_data_is_flagged():
    rng = np.random.default_rng(0)
    a = unireps.audit(rng.normal(size=(50, 2000)), rng.normal(size=(50, 2000)), n_permutations=30, n_boot=30)
    assert a.numbers["linear_cka_biased"] > 0.95 and abs(a.numbers["linear_cka_debiased"]) < 0.05
    assert a.numbers["null_mean"] > 0.9 and a.numbers["p_value"] > 0.05
    assert any("d ≫ n" in w for w in a.warnings) and any("not distinguishable" in w for w in a.warnings)


def test_outlier_dimension_and_related_data():
    rng = np.random.default_rng(1)
    Z = rng.normal(size=(200, 10))
    X = Z @ rng.normal(size=(10, 30))
    Y = Z @ rng.normal(size=(10, 20))
    X[:, 0] *= 100.0  # one dimension dominates X
    a = unireps.audit(X, Y, n_permutations=30, n_boot=30, n_splits=3)
    assert a.numbers["top_feature_share_x"] > 0.9 and a.numbers["p_value"] < 0.05
    assert any("dominates X" in w for w in a.warnings)
    assert not any("d ≫ n" in w for w in a.warnings)
    assert 1.0 <= a.numbers["effective_rank_y"] <= 10.0 + 1e-9
    assert set(a.table.columns) == {"quantity", "value", "note"}


def test_cli_audit_json(tmp_path, capsys):
    rng = np.random.default_rng(2)
    np.save(tmp_path / "x.npy", rng.normal(size=(40, 8)))
    np.save(tmp_path / "y.npy", rng.normal(size=(40, 6)))
    assert main(["audit", str(tmp_path / "x.npy"), str(tmp_path / "y.npy"), "--permutations", "20",
                 "--bootstrap", "20", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n"] == 40 and out["d_x"] == 8 and "warnings" in out and any("40 stimuli" in w for w in out["warnings"])
