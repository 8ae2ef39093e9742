"""Honest layer selection for RSA: choose the best layer on one half of the stimuli, score it on the other.

Picking the best of L layers and reporting its score on the same stimuli is biased upwards (the maximum of L
noisy estimates). Here the stimuli are split in two halves (stratified by category when labels are given);
the layer with the highest RSA over the pairs *within* half A is scored over the pairs within half B, and vice
versa; this is repeated over ``n_splits`` random splits. The held-out score of the selected layer is unbiased
for "the layer this procedure selects" (not for any fixed layer); it is computed on half the stimuli, so it
is noisier (and its RDM correlation may be lower) than a full-set score. When several target RDMs are given
(e.g. 4 subjects), the score is their mean and the noise ceiling (Nili et al. 2014) is recomputed on the same
held-out half, so the two are comparable.

Reference: Kriegeskorte N., Simmons W. K., Bellgowan P. S. F., Baker C. I. (2009). Circular analysis in systems
neuroscience: the dangers of double dipping. Nature Neuroscience 12, 535-540.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.spatial.distance import squareform

from ..metrics import rsa_rdms


def _square(rdm: np.ndarray, n: int | None = None) -> np.ndarray:
    R = np.asarray(rdm, dtype=np.float64)
    if R.ndim == 1:
        R = squareform(R, checks=False)
    if R.ndim != 2 or R.shape[0] != R.shape[1] or (n is not None and R.shape[0] != n):
        raise ValueError(f"an RDM must be square (n, n) or condensed over the same {n or 'n'} stimuli; got "
                         f"shape {np.shape(rdm)}")
    return R


def _sub(R: np.ndarray, idx: np.ndarray) -> np.ndarray:
    return squareform(R[np.ix_(idx, idx)], checks=False)


def split_halves(n: int, n_splits: int, seed: int = 0, strata: Sequence | None = None) -> list[np.ndarray]:
    """``n_splits`` random halves of ``range(n)`` (boolean masks), each stratum split as evenly as possible.

    >>> masks = split_halves(10, 3, strata=[0] * 6 + [1] * 4)
    >>> [int(m.sum()) for m in masks], [int(m[:6].sum()) for m in masks]
    ([5, 5, 5], [3, 3, 3])
    """
    rng = np.random.default_rng(seed)
    groups = np.zeros(n, dtype=int) if strata is None else pd.factorize(np.asarray(strata))[0]
    if len(groups) != n:
        raise ValueError(f"strata has {len(groups)} labels for {n} stimuli")
    out = []
    for _ in range(int(n_splits)):
        mask = np.zeros(n, dtype=bool)
        flip = bool(rng.integers(2))
        for g in np.unique(groups):
            members = rng.permutation(np.flatnonzero(groups == g))
            take = len(members) // 2 + (len(members) % 2 if flip else 0)
            flip = not flip if len(members) % 2 else flip
            mask[members[:take]] = True
        out.append(mask)
    return out


def _scores(layers: Mapping[str, np.ndarray], targets: list[np.ndarray], compare: str) -> dict[str, float]:
    """{layer: mean over targets of compare(layer RDM, target RDM)} (condensed vectors), via ``rsa_rdms``."""
    return {k: float(np.mean([rsa_rdms(v, t, compare) for t in targets])) for k, v in layers.items()}


def _fast_scores(layers: Mapping[str, np.ndarray], targets: list[np.ndarray], compare: str) -> dict[str, float]:
    """The same as :func:`_scores` for Pearson / Spearman (average ranks for ties), as one matrix product;
    equal to ``rsa_rdms`` to rounding (tested). A constant vector gives NaN, as there."""
    from scipy.stats import rankdata

    def z(v):
        v = rankdata(v) if compare == "spearman" else np.asarray(v, dtype=np.float64)
        v = v - v.mean()
        norm = np.sqrt(v @ v)
        return v / norm if norm > 0 else np.full_like(v, np.nan)

    Z = np.stack([z(v) for v in layers.values()])
    Tz = np.stack([z(t) for t in targets])
    return dict(zip(layers, (Z @ Tz.T).mean(1).tolist()))


def _ceiling(subs: list[np.ndarray], compare: str) -> tuple[float, float]:
    from .brain import noise_ceiling

    return noise_ceiling(subs, compare) if len(subs) >= 2 else (np.nan, np.nan)


def select_layer_split_half(layer_rdms: Mapping[str, np.ndarray], targets: Sequence[np.ndarray] | np.ndarray,
                            compare: str = "spearman", n_splits: int = 20, seed: int = 0,
                            strata: Sequence | None = None) -> pd.DataFrame:
    """Split-half layer selection: one row per (split, direction) with the chosen layer and its held-out score.

    ``layer_rdms``: {layer: RDM} (square or condensed) over the same n stimuli, input to output. ``targets``: one
    RDM or a list of RDMs (e.g. one per subject; the score is the mean over them). Columns: ``split``,
    ``selected`` (layer name), ``depth`` (its index / (L - 1)), ``select_score`` (on the selection half),
    ``heldout_score``, ``ceiling_lower`` / ``ceiling_upper`` (on the held-out half; NaN with one target).

    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(20, 5))
    >>> layers = {"noise": rng.normal(size=(20, 5)), "signal": X + 0.1 * rng.normal(size=(20, 5))}
    >>> from unireps.metrics import compute_rdm
    >>> t = select_layer_split_half({k: compute_rdm(v) for k, v in layers.items()}, compute_rdm(X), n_splits=4)
    >>> sorted(set(t.selected))
    ['signal']
    """
    names = list(layer_rdms)
    if not names:
        raise ValueError("layer_rdms is empty: pass {layer name: RDM}")
    tlist = [targets] if isinstance(targets, np.ndarray) and targets.ndim in (1, 2) else list(targets)
    T = [_square(t) for t in tlist]
    n = T[0].shape[0]
    L = {k: _square(v, n) for k, v in layer_rdms.items()}
    T = [_square(t, n) for t in T]
    rows = []
    score = _fast_scores if compare in ("spearman", "pearson") else _scores
    for s, mask in enumerate(split_halves(n, n_splits, seed, strata)):
        for direction, (sel, held) in enumerate(((mask, ~mask), (~mask, mask))):
            a, b = np.flatnonzero(sel), np.flatnonzero(held)
            ta, tb = [_sub(t, a) for t in T], [_sub(t, b) for t in T]
            scores = score({k: _sub(R, a) for k, R in L.items()}, ta, compare)
            valid = {k: v for k, v in scores.items() if np.isfinite(v)}
            if not valid:
                raise ValueError("no layer has a defined RSA score on the selection half (constant RDMs?)")
            best = max(valid, key=valid.get)
            held_score = _scores({best: _sub(L[best], b)}, tb, compare)[best]
            lo, hi = _ceiling(tb, compare)
            rows.append({"split": s, "direction": direction, "selected": best,
                         "depth": names.index(best) / max(len(names) - 1, 1), "select_score": valid[best],
                         "heldout_score": held_score, "ceiling_lower": lo, "ceiling_upper": hi})
    return pd.DataFrame(rows)


def summarize_selection(table: pd.DataFrame) -> dict:
    """Mean (and SD over splits) of the held-out score, the selection score, the ceiling, the modal layer.

    The SD over splits is not a standard error of the mean (splits share stimuli); it shows how much the
    score depends on the split.
    """
    modal = table["selected"].mode()
    return {
        "heldout_mean": float(table.heldout_score.mean()), "heldout_sd": float(table.heldout_score.std(ddof=1)),
        "select_mean": float(table.select_score.mean()), "depth_mean": float(table.depth.mean()),
        "modal_layer": str(modal.iloc[0]) if len(modal) else "",
        "modal_share": float((table.selected == modal.iloc[0]).mean()) if len(modal) else np.nan,
        "ceiling_lower": float(table.ceiling_lower.mean()), "ceiling_upper": float(table.ceiling_upper.mean()),
        "n_splits": int(table.split.nunique()),
    }
