"""Noise ceilings and bootstrap inference for RDM comparisons against several subjects, as rsatoolbox computes them.

**Pooling** (``pool_rdms``): the group RDM that a comparison method rewards most, built from the subjects' condensed
RDMs v_s as rsatoolbox's ``pool_rdm`` does (Nili et al. 2014, PLoS Comput Biol; Schuett et al. 2023, eLife):

* rank comparisons (spearman, rho_a, kendall_tau_a, kendall_tau_b): the mean of the subjects' rank transforms
  (average ranks of ties);
* pearson: the mean of the z-scored v_s (population sd), shifted so that its minimum is 0;
* cosine: the mean of v_s / sqrt(mean(v_s^2)) (each RDM divided by its root mean square).

**Noise ceiling** (``noise_ceiling``), rsatoolbox's ``boot_noise_ceiling``: with S subjects,
upper = mean_s compare(pool(all S subjects), v_s), lower = mean_s compare(pool(all but s), v_s) (leave one subject
out).  A model's score comparable with it is mean_s compare(model, v_s) (``mean_over_subjects``).  Pooling the raw
RDMs instead (an earlier unireps form) gives a different, method-inconsistent ceiling.

**Bootstrap** (``rsa_bootstrap``): each draw resamples stimuli and subjects with replacement; the same draw is
scored three ways: both resampled, subjects only, stimuli only (rsatoolbox's ``eval_dual_bootstrap`` with no
cross-validation).  Pairs formed by two copies of one stimulus are dropped (their dissimilarity is 0 by
construction; rsatoolbox sets them to NaN), duplicated subjects count once per copy in a model's score and in the
pooled RDM, and the ceiling is a mean over the distinct subjects left out (as rsatoolbox's leave-one-out over the
'index' descriptor).  A draw with fewer than 3 distinct stimuli, or (for the ceiling) fewer than 2 distinct
subjects, is skipped.  Reported: percentile intervals of each bootstrap and the dual-bootstrap standard error of
rsatoolbox's ``_dual_bootstrap`` small-sample formula (Schuett et al. 2023, eq. for the combined variance),
with the normal interval value +- z sd.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from scipy.stats import norm, rankdata

from ._validate import check_choice
from .pairboot import (
    WEIGHTED_METHODS,
    _ranks,
    compare_resamples,
    pair_weights,
    resampled_compare,
    weighted_corr,
    weighted_ranks,
)
from .rsa import COMPARE_METHODS, RANK_METHODS, as_condensed, compare_vectors


def _stack(rdms, what: str = "subjects", minimum: int = 2) -> np.ndarray:
    if isinstance(rdms, np.ndarray) and rdms.ndim == 2 and rdms.shape[0] != rdms.shape[1]:
        rdms = list(rdms)
    if len(rdms) < minimum:
        raise ValueError(f"a noise ceiling needs RDMs of at least {minimum} {what}, got {len(rdms)}")
    try:
        vs = [as_condensed(r, f"{what}[{k}]").double().cpu().numpy() for k, r in enumerate(rdms)]
    except ValueError as e:
        raise ValueError(f"{e}. The {what}' RDMs must be condensed vectors (the upper triangle, e.g. "
                         "scipy.spatial.distance.squareform(rdm, checks=False)) or square RDMs") from None
    shapes = sorted({v.shape for v in vs})
    if len(shapes) > 1:
        raise ValueError(f"the {what}' RDMs must cover the same stimuli; got condensed shapes {shapes}")
    return np.stack(vs)


def pool_rdms(rdms, compare: str = "spearman") -> np.ndarray:
    """The pooled (group) RDM for ``compare``, as rsatoolbox's ``pool_rdm``; see the module docstring.

    ``rdms``: a list of condensed or square RDMs over the same stimuli, or an (S, m) array of condensed RDMs.

    >>> import numpy as np
    >>> pool_rdms([np.array([1., 2, 3]), np.array([3., 2, 1])], "spearman")
    array([2., 2., 2.])
    """
    check_choice("compare", compare, COMPARE_METHODS)
    return _pool(_stack(rdms, "RDMs", 1), compare)


def _pool(R: np.ndarray, compare: str) -> np.ndarray:
    if compare in RANK_METHODS:
        return rankdata(R, axis=1).mean(0)
    if compare == "pearson":
        Z = R - R.mean(1, keepdims=True)
        pooled = (Z / Z.std(1, keepdims=True)).mean(0)
        return pooled - pooled.min()
    return (R / np.sqrt((R ** 2).mean(1, keepdims=True))).mean(0)


def _cmp(a: np.ndarray, b: np.ndarray, compare: str) -> float:
    return float(compare_matrix(a[None], b[None], compare)[0, 0])


def _unit(A: np.ndarray, centre: bool) -> np.ndarray:
    A = A - A.mean(1, keepdims=True) if centre else A
    norms = np.sqrt(np.einsum("ij,ij->i", A, A))
    if (norms == 0).any():
        raise ValueError("an RDM is constant (all dissimilarities equal) or zero, so its comparison with another "
                         "RDM is undefined; drop it")
    return A / norms[:, None]


def compare_matrix(A: np.ndarray, B: np.ndarray, compare: str) -> np.ndarray:
    """compare(A[k], B[l]) for every pair of condensed RDMs (rows of A and B): a (len(A), len(B)) array.

    The same definitions as ``rsa_rdms`` (see ``unireps.metrics.rsa``), vectorised in numpy for the bootstrap.

    >>> import numpy as np
    >>> compare_matrix(np.array([[1., 2, 3, 4]]), np.array([[1., 2, 4, 3], [4., 3, 2, 1]]), "spearman")
    array([[ 0.8, -1. ]])
    """
    A, B = np.atleast_2d(np.asarray(A, float)), np.atleast_2d(np.asarray(B, float))
    if compare in ("kendall_tau_a", "kendall_tau_b"):
        return np.array([[compare_vectors(torch.from_numpy(a), torch.from_numpy(b), compare) for b in B] for a in A])
    if compare in ("spearman", "rho_a"):
        A, B = rankdata(A, axis=1), rankdata(B, axis=1)
    return _compare_prepared(A, B, compare)


def _compare_prepared(A: np.ndarray, B: np.ndarray, compare: str) -> np.ndarray:
    """compare_matrix for spearman / rho_a given rows already rank-transformed (others: as compare_matrix)."""
    if compare in ("kendall_tau_a", "kendall_tau_b"):
        return compare_matrix(A, B, compare)
    if compare == "rho_a":
        m = float(A.shape[1])
        for V in (A, B):
            _unit(V, True)  # constant check
        return 12.0 * (A - A.mean(1, keepdims=True)) @ (B - B.mean(1, keepdims=True)).T / (m ** 3 - m)
    centre = compare != "cosine"
    return _unit(A, centre) @ _unit(B, centre).T


def _ceiling(R: np.ndarray, groups: np.ndarray, compare: str, ranks=None) -> tuple[float, float]:
    """Leave-one-group-out lower and all-subject upper bound; rows with equal ``groups`` are copies of one subject.

    ``ranks``: R's rows rank-transformed, when the method is spearman or rho_a (computed once by the caller)."""
    distinct = np.unique(groups)
    first = [int(np.argmax(groups == g)) for g in distinct]
    if compare in RANK_METHODS and ranks is None:
        ranks = rankdata(R, axis=1)
    P = ranks if compare in RANK_METHODS else None
    pool = (lambda rows: P[rows].mean(0)) if P is not None else (lambda rows: _pool(R[rows], compare))
    pooled = np.stack([pool(np.ones(len(R), bool)), *[pool(groups != g) for g in distinct]])
    if compare in ("spearman", "rho_a"):
        C = _compare_prepared(rankdata(pooled, axis=1), ranks[first], compare)
    elif compare in ("kendall_tau_a", "kendall_tau_b"):  # O(m log m) each: only the 2 S comparisons needed
        C = np.vstack([compare_matrix(pooled[:1], R[first], compare),
                       np.diag([compare_matrix(p[None], R[f][None], compare)[0, 0] for p, f in zip(pooled[1:], first,
                                                                                                     strict=True)])])
    else:
        C = compare_matrix(pooled, R[first], compare)
    upper, lower = C[0], np.diag(C[1:])
    return float(np.mean(lower)), float(np.mean(upper))


def noise_ceiling(rdms, compare: str = "spearman") -> tuple[float, float]:
    """(lower, upper) noise ceiling of several subjects' RDMs, equal to rsatoolbox's ``boot_noise_ceiling``.

    Pooling per comparison method and leave-one-subject-out lower bound: see the module docstring.  ``rdms``:
    a list of condensed (or square) RDMs over the same stimuli, one per subject.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> truth = rng.random(45)
    >>> subjects = [truth + 0.5 * rng.random(45) for _ in range(4)]
    >>> lower, upper = noise_ceiling(subjects, "spearman")
    >>> bool(0 < lower < upper < 1)
    True
    """
    check_choice("compare", compare, COMPARE_METHODS)
    R = _stack(rdms)
    return _ceiling(R, np.arange(len(R)), compare)


def _square(v: np.ndarray) -> np.ndarray:
    from scipy.spatial.distance import squareform

    return squareform(v, checks=False)


def score_sample(models: np.ndarray, subjects: np.ndarray, compare: str, subject_idx=None, stimulus_idx=None):
    """Model scores and ceiling on one resample: (scores (n_models,), lower, upper).

    ``models`` (k, m) and ``subjects`` (S, m) are condensed RDMs; ``subject_idx`` / ``stimulus_idx`` the drawn
    indices (with repeats; None = all).  Score = mean over the drawn subjects of compare(model, subject).
    """
    n = int(round((1 + np.sqrt(1 + 8 * subjects.shape[1])) / 2))
    s_idx = np.arange(len(subjects)) if subject_idx is None else np.asarray(subject_idx)
    if stimulus_idx is None:
        M, R = models, subjects[s_idx]
    else:
        idx = np.asarray(stimulus_idx)
        i, j = np.triu_indices(len(idx), 1)
        keep = idx[i] != idx[j]
        ii, jj = idx[i[keep]], idx[j[keep]]
        lo, hi = np.minimum(ii, jj), np.maximum(ii, jj)
        flat = n * lo - lo * (lo + 1) // 2 + (hi - lo - 1)  # condensed index of pair (lo, hi)
        M, R = models[:, flat], subjects[s_idx][:, flat]
    ranked = compare in ("spearman", "rho_a")
    Rp = rankdata(R, axis=1) if ranked else R
    Mp = rankdata(M, axis=1) if ranked else M
    scores = _compare_prepared(Mp, Rp, compare).mean(1)
    if len(np.unique(s_idx)) < 2:
        return scores, np.nan, np.nan
    lower, upper = _ceiling(R, s_idx, compare, Rp if ranked else None)
    return scores, lower, upper


def dual_bootstrap_variance(var_both, var_subjects, var_stimuli, n_subjects: int, n_stimuli: int):
    """rsatoolbox's ``_dual_bootstrap`` small-sample combination of the three bootstrap variances.

    v = N_s/(N_s-1) v_subj + N_p/(N_p-1) v_stim - N_s N_p/((N_s-1)(N_p-1)) (v_both - v_subj - v_stim), clipped
    below by each single corrected variance and above by v_both.

    >>> float(dual_bootstrap_variance(0.02, 0.01, 0.01, 4, 92))
    0.02
    """
    vb, vr, vp = (np.asarray(v, dtype=float) for v in (var_both, var_subjects, var_stimuli))
    r, p = n_subjects / (n_subjects - 1), n_stimuli / (n_stimuli - 1)
    v = r * vr + p * vp - r * p * (vb - vr - vp)
    return np.minimum(np.maximum(np.maximum(v, r * vr), p * vp), vb)


@dataclass
class RSABootstrap:
    """Result of ``rsa_bootstrap``: ``table`` (one row per model and for ceiling_lower / ceiling_upper) and the
    raw draws ``samples[mode]`` (n_boot, k + 2) for mode in both / subjects / stimuli (NaN = skipped draw)."""

    table: pd.DataFrame
    samples: dict
    compare: str
    n_boot: int
    level: float


def rsa_bootstrap(models: dict, subjects, compare: str = "spearman", n_boot: int = 1000, level: float = 0.95,
                  seed: int = 0) -> RSABootstrap:
    """Bootstrap over stimuli, subjects and both for model scores and the noise ceiling (rsatoolbox conventions).

    ``models``: {name: condensed or square RDM} (may be empty: CIs of the ceiling alone); ``subjects``: a list
    of per-subject RDMs over the same stimuli.
    Table columns: name, value (mean over subjects of compare(model, subject); the ceiling bounds for the two
    ceiling rows), sd_both / sd_subjects / sd_stimuli (bootstrap sd of each kind), ci_low / ci_high (percentile
    interval over both stimuli and subjects), sd_dual and dual_low / dual_high (value +- z sd_dual, rsatoolbox's
    dual-bootstrap variance), n_subjects, n_stimuli, n_boot (draws used).  See the module docstring.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> truth = rng.random(190)  # 20 stimuli
    >>> subjects = [truth + 0.5 * rng.random(190) for _ in range(5)]
    >>> res = rsa_bootstrap({"good": truth, "noise": rng.random(190)}, subjects, n_boot=50)
    >>> list(res.table.name)
    ['good', 'noise', 'ceiling_lower', 'ceiling_upper']
    >>> bool(res.table.ci_low[0] < res.table.value[0] < res.table.ci_high[0])
    True
    """
    from .stats import _check_count

    check_choice("compare", compare, COMPARE_METHODS)
    n_boot = _check_count("n_boot", n_boot, 2)
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), e.g. 0.95; got {level!r}")
    if not isinstance(models, dict):
        raise ValueError("models must be a dict {name: RDM} (empty: the ceiling alone)")
    R = _stack(subjects)
    M = _stack(list(models.values()), "models", 1) if models else np.empty((0, R.shape[1]))
    if M.shape[1] != R.shape[1]:
        raise ValueError(f"the model RDMs cover {M.shape[1]} pairs and the subjects' RDMs {R.shape[1]}; both must "
                         "be over the same stimuli in the same order")
    S, m = R.shape
    n = int(round((1 + np.sqrt(1 + 8 * m)) / 2))
    scores, lower, upper = score_sample(M, R, compare)
    value = np.r_[scores, lower, upper]
    rng = np.random.default_rng(seed)
    modes = ("both", "subjects", "stimuli")
    draws = {k: np.full((n_boot, len(value)), np.nan) for k in modes}
    s_draws, p_draws = [], []
    for _ in range(n_boot):
        s_draws.append(rng.integers(0, S, S))
        p_draws.append(rng.integers(0, n, n))
    stim_ok = np.array([len(np.unique(p)) >= 3 for p in p_draws], dtype=bool)
    if compare in ("spearman", "rho_a"):  # every draw at once by pair weights (unireps.metrics.pairboot)
        counts = np.stack([np.bincount(si, minlength=S) for si in s_draws]).astype(np.float64)
        ones = np.ones((n_boot, S))
        for mode, cnt, resample in (("both", counts, True), ("subjects", counts, False), ("stimuli", ones, True)):
            rows = np.flatnonzero(stim_ok) if resample else np.arange(n_boot)
            step = max(1, min(250, (1 << 22) // R.shape[1]))  # at most about 2**22 pair weights at once
            for s in range(0, len(rows), step):
                b = rows[s:s + step]
                W = pair_weights(np.stack([p_draws[i] for i in b]), n) if resample else np.ones((len(b), R.shape[1]))
                draws[mode][b] = _ranked_draws(M, R, compare, cnt[b], W)
    else:
        for b in range(n_boot):
            s_idx, p_idx = s_draws[b], p_draws[b]
            for mode, (si, pi) in zip(modes, ((s_idx, p_idx), (s_idx, None), (None, p_idx)), strict=True):
                if pi is not None and not stim_ok[b]:
                    continue
                sc, lo, hi = score_sample(M, R, compare, si, pi)
                draws[mode][b] = np.r_[sc, lo, hi]
    alpha = (1.0 - level) / 2.0
    var = {k: np.nanvar(d, axis=0, ddof=1) for k, d in draws.items()}
    sd_dual = np.sqrt(dual_bootstrap_variance(var["both"], var["subjects"], var["stimuli"], S, n))
    z = norm.ppf(1.0 - alpha)
    table = pd.DataFrame({
        "name": [*models, "ceiling_lower", "ceiling_upper"], "value": value,
        "ci_low": np.nanquantile(draws["both"], alpha, axis=0),
        "ci_high": np.nanquantile(draws["both"], 1.0 - alpha, axis=0),
        "sd_both": np.sqrt(var["both"]), "sd_subjects": np.sqrt(var["subjects"]),
        "sd_stimuli": np.sqrt(var["stimuli"]), "sd_dual": sd_dual,
        "dual_low": value - z * sd_dual, "dual_high": value + z * sd_dual,
        "n_subjects": S, "n_stimuli": n, "n_boot": np.isfinite(draws["both"]).sum(0), "compare": compare})
    return RSABootstrap(table, draws, compare, n_boot, level)


def _keys(T: np.ndarray) -> np.ndarray:
    """Sums of average ranks (multiples of 1/2) as exact integer sort keys 2 T; 16-bit when they fit (numpy sorts
    those by radix, several times faster than float64)."""
    K = np.rint(2.0 * T)
    small = K.min() >= 0 and K.max() < 2 ** 16
    return K.astype(np.uint16 if small else np.int64)


def _ranked_draws(M: np.ndarray, R: np.ndarray, compare: str, cnt: np.ndarray, W: np.ndarray) -> np.ndarray:
    """``score_sample`` for many draws at once (spearman / rho_a): (B, k + 2) rows of model scores, lower, upper.

    ``cnt`` (B, S): copies of each subject in each draw; ``W`` (B, m): copies of each pair (``pair_weights``; all
    ones when the stimuli are not resampled).  Subjects are ranked in each weighted sample from one sort each;
    the pooled RDMs (sums of the drawn copies' ranks, exact in float64: ranks are multiples of 1/2) are ranked
    row by row (``weighted_ranks``).  Equal to ``score_sample`` up to float rounding (tests)."""
    S = len(R)
    ranks = np.stack([_ranks(r, np.ascontiguousarray(W.T)).T for r in R])  # (S, B, m)
    out = np.full((len(W), len(M) + 2), np.nan)
    if len(M):
        C = resampled_compare(M, R, compare, W)  # (B, k, S)
        out[:, :len(M)] = np.einsum("bks,bs->bk", C, cnt) / cnt.sum(1, keepdims=True)
    total = np.einsum("bs,sbm->bm", cnt, ranks)  # pool of every drawn copy, times S
    pooled_all = weighted_ranks(_keys(total), W)
    present = cnt > 0
    lower, upper = np.zeros(len(W)), np.zeros(len(W))
    with np.errstate(invalid="ignore", divide="ignore"):
        for g in range(S):
            if not present[:, g].any():
                continue
            upper += np.where(present[:, g], weighted_corr(pooled_all, ranks[g], W, compare), 0.0)
            left_out = weighted_ranks(_keys(total - cnt[:, g:g + 1] * ranks[g]), W)  # the pool without g
            lower += np.where(present[:, g], weighted_corr(left_out, ranks[g], W, compare), 0.0)
    distinct = present.sum(1)
    ok = distinct >= 2
    out[ok, -2], out[ok, -1] = lower[ok] / distinct[ok], upper[ok] / distinct[ok]
    return out


def bootstrap_scores(rdms, target, compare: str = "spearman", n_boot: int = 1000, level: float = 0.95,
                     seed: int = 0) -> pd.DataFrame:
    """Percentile bootstrap CIs over stimuli of compare(rdm_k, target) for several RDMs at once (the same draws).

    ``rdms``: {name: RDM}; ``target``: one RDM over the same stimuli.  Stimuli are resampled with replacement and
    the pairs formed by two copies of one stimulus dropped (as ``bootstrap_rdms`` and rsatoolbox).  Columns: name,
    value, ci_low, ci_high, sd, n_boot.  Spearman, Pearson, cosine and rho-a: every draw at once by
    pair weights (``unireps.metrics.pairboot``: one sort per RDM, no re-ranking per draw); Kendall: draw by draw.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> t = rng.random(190)
    >>> bootstrap_scores({"near": t + 0.1 * rng.random(190), "far": rng.random(190)}, t, n_boot=100).name.tolist()
    ['near', 'far']
    """
    return _bootstrap_scores_targets(rdms, {"target": target}, compare, n_boot, level, seed)["target"]


def _bootstrap_scores_targets(rdms, targets: dict, compare: str = "spearman", n_boot: int = 1000,
                              level: float = 0.95, seed: int = 0) -> dict:
    """{target name: ``bootstrap_scores(rdms, target, compare, n_boot, level, seed)``} for several targets from the
    same draws: each RDM is ranked for every draw once, not once per target."""
    from .stats import _check_count

    check_choice("compare", compare, COMPARE_METHODS)
    n_boot = _check_count("n_boot", n_boot, 2)
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), e.g. 0.95; got {level!r}")
    M = _stack(list(rdms.values()), "RDMs", 1)
    T = np.concatenate([_stack([t], "target", 1) for t in targets.values()])
    if M.shape[1] != T.shape[1]:
        raise ValueError(f"the RDMs cover {M.shape[1]} pairs and the target {T.shape[1]}; both must be over the "
                         "same stimuli in the same order")
    value = compare_matrix(M, T, compare)
    rng = np.random.default_rng(seed)
    n = int(round((1 + np.sqrt(1 + 8 * M.shape[1])) / 2))
    draws = np.full((n_boot, len(M), len(T)), np.nan)
    idx = np.stack([rng.integers(0, n, n) for _ in range(n_boot)])
    ok = np.flatnonzero([len(np.unique(i)) >= 3 for i in idx])
    if compare in WEIGHTED_METHODS:  # every draw at once (unireps.metrics.pairboot): equal up to float rounding
        draws[ok] = compare_resamples(M, T, compare, idx[ok], n)
    else:
        for b in ok:
            for j in range(len(T)):
                draws[b, :, j] = score_sample(M, T[j:j + 1], compare, None, idx[b])[0]
    alpha = (1.0 - level) / 2.0
    return {name: pd.DataFrame({"name": list(rdms), "value": value[:, j],
                                "ci_low": np.nanquantile(draws[:, :, j], alpha, axis=0),
                                "ci_high": np.nanquantile(draws[:, :, j], 1 - alpha, axis=0),
                                "sd": np.nanstd(draws[:, :, j], axis=0, ddof=1),
                                "n_boot": np.isfinite(draws[:, :, j]).sum(0)})
            for j, name in enumerate(targets)}
