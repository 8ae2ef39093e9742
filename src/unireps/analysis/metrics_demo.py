"""The metrics demo on the embedded default: every measure on scikit-learn's digits, with statistics, and
the 92-object brain RDMs' known answer.

Representations of the 1,797 digits (rows = the same images): raw pixels; PCA to 16 components; two
random ReLU feature maps (different seeds) of the pixels; the one-hot digit label.  Each is compared with
the pixels by every registered measure; linear CKA also gets a bootstrap CI and a permutation p-value.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..data import load_dataset
from ..metrics import bootstrap_ci, list_metrics, permutation_test, rsa_rdms


def digit_representations(seed: int = 0) -> dict[str, np.ndarray]:
    ds = load_dataset("digits")
    pixels = ds.images[..., 0].reshape(len(ds), -1).astype(np.float64) / 255.0
    centred = pixels - pixels.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    reps = {"pixels": pixels, "pca16": centred @ vt[:16].T}
    for s in (seed, seed + 1):
        W = np.random.default_rng(s).normal(size=(pixels.shape[1], 256)) / 8.0
        reps[f"random_relu_seed{s}"] = np.maximum(pixels @ W - 0.5, 0.0)
    reps["label_onehot"] = np.eye(10)[ds.labels]
    return reps


def metrics_table(reps: dict[str, np.ndarray], reference: str = "pixels", n_boot: int = 200,
                  n_permutations: int = 200, seed: int = 0) -> pd.DataFrame:
    """Tidy table: one row per (representation, measure) against the reference representation."""
    rows = []
    ref = reps[reference]
    for name, Y in reps.items():
        if name == reference:
            continue
        for info in list_metrics():
            if info.equal_dims and Y.shape[1] != ref.shape[1]:
                continue
            row = {"reference": reference, "representation": name, "metric": info.name, "kind": info.kind,
                   "value": info(ref, Y), "ci_low": np.nan, "ci_high": np.nan, "p_value": np.nan}
            if info.name == "linear_cka":
                ci = bootstrap_ci(ref, Y, info.name, n_boot=n_boot, seed=seed)
                row.update(ci_low=ci.low, ci_high=ci.high)
                row["p_value"] = permutation_test(ref, Y, info.name, n_permutations=n_permutations, seed=seed).p_value
            rows.append(row)
    return pd.DataFrame(rows)


def brain_known_answer() -> pd.DataFrame:
    """Monkey IT vs human IT on the 92 objects (Kriegeskorte et al. 2008), RDMs as stored."""
    ds = load_dataset("kriegeskorte92")
    a, b = ds.rdms["monkey_IT"], ds.rdms["human_IT"]
    return pd.DataFrame([{"comparison": "monkey_IT vs human_IT", "compare": c, "value": rsa_rdms(a, b, compare=c)}
                         for c in ("spearman", "pearson", "kendall_tau_a")])
