"""Honest "best layer" selection: choose on one split of the stimuli, score on the other.

Taking the best of K candidate layers (or models) on the same stimuli it is scored on inflates the score: the
maximum of K noisy estimates is biased upwards.  ``select_layer_cv`` repeats, over ``n_splits`` random halvings of
the stimuli: pick the candidate with the highest score on the pairs within the selection half, then score that pick
on the pairs within the held-out half; it reports the mean ± sd of the held-out scores (the cross-validated
score of "the best layer"), how often each candidate was picked, the in-sample maximum *labelled as such*, and a
permutation null of that maximum (the target's stimuli permuted, the maximum over all K candidates taken each
time; p = (1 + #{null >= observed}) / (1 + n_permutations), Phipson & Smyth 2010).

Scores are RSA comparisons of condensed RDMs (``unireps.metrics.rsa``); with several subjects' RDMs as the target
a score is the mean over subjects of compare(candidate, subject), the score comparable with the noise ceiling, and
the noise ceiling (``unireps.metrics.noise_ceiling``, rsatoolbox's ``boot_noise_ceiling``) is recomputed on each
held-out half, so that the held-out score and the ceiling are over the same stimuli.  With ``strata`` (e.g. the
stimuli's categories) each half takes half of every stratum.

References: Kriegeskorte N., Simmons W. K., Bellgowan P. S. F., Baker C. I. (2009). Circular analysis in systems
neuroscience: the dangers of double dipping. Nature Neuroscience 12, 535-540.  Phipson B., Smyth G. K. (2010).
Permutation p-values should never be zero. Stat. Appl. Genet. Mol. Biol. 9(1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..metrics.ceiling import compare_matrix
from ..metrics.pairboot import WEIGHTED_METHODS, compare_resamples
from ..metrics.rsa import COMPARE_METHODS


@dataclass
class LayerSelection:
    """Result of ``select_layer_cv``.

    * ``cv_mean``, ``cv_sd``: mean and sd over splits of the held-out score of the layer picked on the other half
    * ``splits``: one row per split (picked, score_selection: its score on the selection half, score_heldout)
    * ``frequency``: how often each candidate was picked (share of splits), highest first
    * ``in_sample_best``, ``in_sample_value``: the maximum over candidates on all stimuli (optimistic: selection
      and scoring on the same data), ``in_sample``: every candidate's score on all stimuli
    * ``null_mean``, ``null_p95``, ``p_value``: the permutation null of the in-sample maximum over candidates
    * ``ceiling_lower``, ``ceiling_upper``: the noise ceiling on the held-out halves, mean over splits (NaN with a
      single target RDM); per split in ``splits``
    """

    cv_mean: float
    cv_sd: float
    n_splits: int
    splits: pd.DataFrame
    frequency: pd.Series
    in_sample_best: str
    in_sample_value: float
    in_sample: pd.Series
    null_mean: float
    null_p95: float
    p_value: float
    n_permutations: int
    null: np.ndarray
    compare: str
    n_stimuli: int
    n_candidates: int
    ceiling_lower: float = np.nan
    ceiling_upper: float = np.nan
    stratified: bool = False

    def as_dict(self) -> dict:
        """Scalars only (for tables and numbers.json)."""
        return {"cv_mean": self.cv_mean, "cv_sd": self.cv_sd, "n_splits": self.n_splits,
                "most_picked": str(self.frequency.index[0]), "most_picked_share": float(self.frequency.iloc[0]),
                "in_sample_best": self.in_sample_best, "in_sample_value": self.in_sample_value,
                "null_mean": self.null_mean, "null_p95": self.null_p95, "p_value": self.p_value,
                "n_permutations": self.n_permutations, "compare": self.compare, "n_stimuli": self.n_stimuli,
                "n_candidates": self.n_candidates, "ceiling_lower_heldout": self.ceiling_lower,
                "ceiling_upper_heldout": self.ceiling_upper, "stratified": self.stratified}

    def summary(self) -> str:
        return (f"best of {self.n_candidates} candidates, chosen on half of {self.n_stimuli} stimuli and scored "
                f"on the other half: {self.cv_mean:.3f} ± {self.cv_sd:.3f} (sd over {self.n_splits} splits; "
                f"most often picked: {self.frequency.index[0]}, {100 * self.frequency.iloc[0]:.0f}%). In-sample "
                f"maximum (selected and scored on the same stimuli): {self.in_sample_value:.3f} "
                f"({self.in_sample_best}); permutation null of the maximum: 95th percentile {self.null_p95:.3f}, "
                f"p = {self.p_value:.3g} ({self.n_permutations} permutations). Comparison: {self.compare}.")


def _n_from_pairs(m: int) -> int:
    n = int(round((1 + np.sqrt(1 + 8 * m)) / 2))
    if n * (n - 1) // 2 != m:
        raise ValueError(f"a condensed RDM of length {m} is not n(n-1)/2 for any n")
    return n


def _as_rdms(layers: dict, rdm: str) -> tuple[list[str], np.ndarray]:
    from ..metrics import compute_rdm

    if not isinstance(layers, dict) or len(layers) < 2:
        raise ValueError("select_layer_cv needs a dict of at least 2 candidates {name: representation (n, d) or "
                         "condensed RDM}")
    names, rows = [], []
    for name, v in layers.items():
        a = v if hasattr(v, "shape") and not isinstance(v, (list, tuple)) else np.asarray(v)
        if getattr(a, "ndim", 0) == 1:
            rows.append(np.asarray(a, dtype=float))
        elif getattr(a, "ndim", 0) == 2:
            rows.append(compute_rdm(a, rdm))
        else:
            raise ValueError(f"candidate {name!r} must be a representation (n, d) or a condensed RDM (n(n-1)/2,); "
                             f"got shape {getattr(a, 'shape', None)}")
        names.append(str(name))
    lengths = {len(r) for r in rows}
    if len(lengths) > 1:
        raise ValueError(f"the candidates cover different numbers of stimulus pairs {sorted(lengths)}; all must be "
                         "over the same stimuli in the same order")
    R = np.stack(rows)
    if not np.isfinite(R).all():
        raise ValueError("a candidate's RDM has NaN or infinite values; drop that candidate (e.g. a constant layer)")
    return names, R


def _as_target(target, m: int) -> np.ndarray:
    T = np.atleast_2d(np.asarray(target, dtype=float)) if not isinstance(target, (list, tuple)) else \
        np.stack([np.asarray(t, dtype=float) for t in target])
    if T.ndim != 2 or T.shape[1] != m:
        raise ValueError(f"target must be a condensed RDM of length {m} (the candidates' pairs) or a list of such "
                         f"RDMs (one per subject); got shape {T.shape}")
    if not np.isfinite(T).all():
        raise ValueError("the target RDM has NaN or infinite values")
    return T


def _pair_index(n: int, stimuli: np.ndarray) -> np.ndarray:
    """Condensed indices of the pairs within ``stimuli`` (sorted)."""
    s = np.sort(stimuli)
    i, j = np.triu_indices(len(s), 1)
    lo, hi = s[i], s[j]
    return n * lo - lo * (lo + 1) // 2 + (hi - lo - 1)


def _scores(C: np.ndarray, T: np.ndarray, compare: str) -> np.ndarray:
    return compare_matrix(C, T, compare).mean(1)


def _max_null(C: np.ndarray, T: np.ndarray, compare: str, n: int, n_permutations: int, rng) -> np.ndarray:
    """Max over candidates of the score with the target's stimuli permuted.

    A permutation of the stimuli permutes the target's pairs, so its ranks, mean and norm are those of the
    unpermuted target: each RDM is ranked and normalised once, and the permuted targets of many permutations are
    gathers of that vector scored by one matrix product (spearman / pearson / cosine / rho_a; Kendall's tau draw
    by draw).  The permutations are drawn one by one from ``rng`` as before."""
    perms = [rng.permutation(n) for _ in range(n_permutations)]
    if compare not in ("spearman", "pearson", "cosine", "rho_a"):
        from scipy.spatial.distance import squareform

        squares = [squareform(t, checks=False) for t in T]
        iu = np.triu_indices(n, 1)
        return np.array([_scores(C, np.stack([S[np.ix_(p, p)][iu] for S in squares]), compare).max() for p in perms])
    Cu, Tu = _normalised(C, compare), _normalised(T, compare)
    i, j = np.triu_indices(n, 1)
    out = np.empty(n_permutations)
    step = max(1, (1 << 22) // (len(T) * T.shape[1]))
    for s in range(0, n_permutations, step):
        P = np.stack(perms[s:s + step])  # (batch, n)
        lo, hi = np.minimum(P[:, i], P[:, j]), np.maximum(P[:, i], P[:, j])
        flat = n * lo - lo * (lo + 1) // 2 + (hi - lo - 1)  # pair (i, j) of the permuted square, condensed
        scores = (Cu @ Tu[:, flat].reshape(-1, T.shape[1]).T).reshape(len(C), len(T), len(P))
        out[s:s + step] = scores.mean(1).max(0)
    return out


def _normalised(A: np.ndarray, compare: str) -> np.ndarray:
    """Rows prepared so that compare(a, b) = a' . b' (``_compare_prepared``'s forms)."""
    from scipy.stats import rankdata

    from ..metrics.ceiling import _unit

    A = rankdata(A, axis=1) if compare in ("spearman", "rho_a") else A
    if compare == "rho_a":
        m = float(A.shape[1])
        _unit(A, True)  # constant check
        return np.sqrt(12.0 / (m ** 3 - m)) * (A - A.mean(1, keepdims=True))
    return _unit(A, compare != "cosine")


def split_halves(n: int, n_splits: int, seed: int = 0, strata=None) -> list[np.ndarray]:
    """``n_splits`` random halves of ``range(n)`` (boolean masks), each stratum split as evenly as possible
    (odd strata alternate which half gets the extra member, so the halves differ in size by at most one).

    >>> masks = split_halves(10, 3, strata=[0] * 6 + [1] * 4)
    >>> tuple(int(m.sum()) for m in masks), tuple(int(m[:6].sum()) for m in masks)
    ((5, 5, 5), (3, 3, 3))
    """
    rng = np.random.default_rng(seed)
    groups = np.zeros(n, dtype=int) if strata is None else pd.factorize(np.asarray(strata))[0]
    if len(groups) != n:
        raise ValueError(f"strata has {len(groups)} labels for {n} stimuli; give one label per stimulus")
    out = []
    for _ in range(int(n_splits)):
        mask = np.zeros(n, dtype=bool)
        flip = bool(rng.integers(2))
        for g in np.unique(groups):
            members = rng.permutation(np.flatnonzero(groups == g))
            mask[members[:len(members) // 2 + (len(members) % 2 if flip else 0)]] = True
            flip = not flip if len(members) % 2 else flip
        out.append(mask)
    return out


def _halves(n: int, n_splits: int, rng, seed: int, strata):
    """(selection, held-out) stimulus indices per split: random halves from ``rng`` or stratified halves."""
    if strata is None:
        for _ in range(n_splits):
            perm = rng.permutation(n)
            yield perm[: n // 2], perm[n // 2:]
    else:
        for mask in split_halves(n, n_splits, seed, strata):
            yield np.flatnonzero(mask), np.flatnonzero(~mask)


def _heldout_ceiling(T: np.ndarray, b: np.ndarray, compare: str) -> tuple[float, float]:
    from ..metrics.ceiling import noise_ceiling

    return noise_ceiling(T[:, b], compare) if len(T) >= 2 else (np.nan, np.nan)


def select_layer_cv(layers: dict, target, compare: str = "spearman", rdm: str = "correlation", n_splits: int = 100,
                    n_permutations: int = 1000, seed: int = 0, strata=None) -> LayerSelection:
    """Cross-validated best-layer selection against a target RDM, with a permutation null of the maximum.

    ``layers``: {name: representation (n, d) or condensed RDM (n(n-1)/2,)} — the K candidates (layers of one
    model, or (model, layer) pairs); representations are turned into ``rdm`` RDMs.  ``target``: a condensed RDM
    over the same n stimuli, or a list of per-subject RDMs (score = mean over subjects).  ``compare``: any
    ``unireps.metrics.rsa`` comparison.  Each split halves the stimuli at random (``strata``: one label per
    stimulus, each stratum halved); see the module docstring.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> truth = rng.normal(size=(40, 8))
    >>> layers = {f"layer{k}": truth + k * rng.normal(size=(40, 8)) for k in range(1, 5)}
    >>> from unireps.metrics import compute_rdm
    >>> sel = select_layer_cv(layers, compute_rdm(truth), n_splits=20, n_permutations=50)
    >>> sel.frequency.index[0], sel.in_sample_best, bool(sel.p_value < 0.05)
    ('layer1', 'layer1', True)
    >>> sel.as_dict()["cv_mean"] == sel.cv_mean, sel.stratified
    (True, False)
    """
    from ..metrics._validate import check_choice
    from ..metrics.stats import _check_count

    check_choice("compare", compare, COMPARE_METHODS)
    n_splits = _check_count("n_splits", n_splits, 2)
    n_permutations = _check_count("n_permutations", n_permutations, 0)
    names, C = _as_rdms(layers, rdm)
    T = _as_target(target, C.shape[1])
    n = _n_from_pairs(C.shape[1])
    if n < 8:
        raise ValueError(f"cross-validated selection needs at least 8 stimuli (two halves of >= 4), got {n}")
    rng = np.random.default_rng(seed)
    full = _scores(C, T, compare)
    rows = []
    halves = list(_halves(n, n_splits, rng, seed, strata))
    if compare in WEIGHTED_METHODS:  # every split at once: the pairs within a half are a 0/1-weighted sample
        sel_all = compare_resamples(C, T, compare, [f for f, _ in halves], n).mean(2)
        held_all = compare_resamples(C, T, compare, [h for _, h in halves], n).mean(2)
    for s, (first, second) in enumerate(halves):
        a, b = _pair_index(n, first), _pair_index(n, second)
        sel = sel_all[s] if compare in WEIGHTED_METHODS else _scores(C[:, a], T[:, a], compare)
        k = int(np.argmax(sel))
        held = float(held_all[s, k]) if compare in WEIGHTED_METHODS else \
            float(_scores(C[k:k + 1, b], T[:, b], compare)[0])
        lower, upper = _heldout_ceiling(T, b, compare)
        rows.append({"split": s, "picked": names[k], "score_selection": float(sel[k]), "score_heldout": held,
                     "ceiling_lower": lower, "ceiling_upper": upper})
    splits = pd.DataFrame(rows)
    freq = splits.picked.value_counts(normalize=True)
    best = int(np.argmax(full))
    null = _max_null(C, T, compare, n, n_permutations, rng) if n_permutations else np.array([])
    p = (1.0 + float((null >= full[best] - 1e-12).sum())) / (1.0 + len(null)) if len(null) else np.nan
    return LayerSelection(
        cv_mean=float(splits.score_heldout.mean()), cv_sd=float(splits.score_heldout.std(ddof=1)),
        n_splits=n_splits, splits=splits, frequency=freq, in_sample_best=names[best],
        in_sample_value=float(full[best]), in_sample=pd.Series(full, index=names, name=compare),
        null_mean=float(null.mean()) if len(null) else np.nan,
        null_p95=float(np.quantile(null, 0.95)) if len(null) else np.nan, p_value=float(p),
        n_permutations=n_permutations, null=null, compare=compare, n_stimuli=n, n_candidates=len(names),
        ceiling_lower=float(splits.ceiling_lower.mean()), ceiling_upper=float(splits.ceiling_upper.mean()),
        stratified=strata is not None)


__all__ = ["LayerSelection", "select_layer_cv", "split_halves"]
