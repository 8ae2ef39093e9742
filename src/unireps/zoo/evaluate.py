"""Card metrics: held-out image-text retrieval and linear factor probes on frozen embeddings.

Retrieval convention (``"factor-identical"``): many shapes captions describe several images
(and one image fits several paraphrased captions), so a retrieved item counts as correct when it
shows the same (shape, colour, size, position) as the query, i.e. when its caption and the
query's describe the same scene, wording aside. R@k: fraction of queries with a correct item
among the k most similar (cosine) candidates; ``chance_r1``: the mean fraction of candidates that
are correct for a query (1/N when every scene is unique). Ties go to the lower index.

Probes: standardised features, multinomial logistic regression (lbfgs, C=1), fit on the probe
set, accuracy on the held-out eval set; chance = the majority class's share of the eval set.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ..data import Dataset

KEY = ("shape", "colour", "size", "position")
PROBE_FACTORS = ("shape", "colour", "size", "position")
CONVENTION = "factor-identical: correct if the retrieved item has the query's (shape, colour, size, position)"


def _keys(ds: Dataset) -> np.ndarray:
    f = ds.factors
    joined = f[list(KEY)].astype(str).agg("|".join, axis=1).to_numpy()
    _, codes = np.unique(joined, return_inverse=True)
    return codes


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _recall(sim: np.ndarray, correct: np.ndarray, k: int) -> float:
    top = np.argsort(-sim, axis=1, kind="stable")[:, :k]
    return float(np.mean(np.take_along_axis(correct, top, axis=1).any(axis=1)))


def retrieval(image_emb: np.ndarray, text_emb: np.ndarray, ds: Dataset) -> dict:
    """R@1/R@5 both ways over the pairs of ``ds`` with the factor-identical convention."""
    codes = _keys(ds)
    correct = codes[:, None] == codes[None, :]
    sim = _normalise(image_emb) @ _normalise(text_emb).T
    return {
        "i2t_r1": _recall(sim, correct, 1), "t2i_r1": _recall(sim.T, correct, 1),
        "i2t_r5": _recall(sim, correct, 5), "t2i_r5": _recall(sim.T, correct, 5),
        "chance_r1": float(correct.mean()), "n": int(len(ds)), "convention": CONVENTION,
    }


def probes(train_x: np.ndarray, train_ds: Dataset, test_x: np.ndarray, test_ds: Dataset) -> dict:
    """Held-out accuracy of a logistic-regression probe per factor, and the majority-class chance."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(train_x)
    a, b = scaler.transform(train_x), scaler.transform(test_x)
    acc, chance = {}, {}
    for factor in PROBE_FACTORS:
        y_train = train_ds.factors[factor].astype(str).to_numpy()
        y_test = test_ds.factors[factor].astype(str).to_numpy()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf = LogisticRegression(C=1.0, max_iter=300).fit(a, y_train)
        acc[factor] = float(np.mean(clf.predict(b) == y_test))
        _, counts = np.unique(y_test, return_counts=True)
        chance[factor] = float(counts.max() / counts.sum())
    return {"accuracy": acc, "chance": chance, "features": "image embedding", "n_fit": int(len(train_ds)),
            "n_test": int(len(test_ds)), "method": "StandardScaler + LogisticRegression(C=1, lbfgs)"}
