"""Statistics for any registered measure: permutation tests, bootstrap confidence intervals, null calibration.

* ``permutation_test``: the rows of Y are permuted (breaking the stimulus pairing) ``n_permutations``
  times; p = (1 + #{null >= observed}) / (1 + n_permutations) for similarities (<= for distances), the
  add-one estimator of Phipson & Smyth 2010, never 0.  For RSA this is the Mantel-style test that permutes
  the stimuli of one RDM.
* ``bootstrap_ci``: stimuli resampled with replacement ``n_boot`` times (the same draw for X and Y);
  percentile interval.  Duplicated rows: kernel, CCA, Procrustes and regression measures keep copies as
  separate rows (the ordinary nonparametric bootstrap); RSA drops the pairs formed by two copies of one
  stimulus (their dissimilarity is 0 by construction; rsatoolbox does the same); k-NN measures exclude
  copies of a stimulus from its own neighbour set.  Where the interval misses the value itself (linear CKA with
  more features than stimuli: repeated stimuli raise it), a ``BootstrapShiftWarning`` says so and names
  ``jackknife_ci`` (:mod:`unireps.metrics.jackknife`: stimuli left out, never repeated; a Student-t interval from
  the jackknife standard error).
* ``null_calibrated``: (value - null mean) / (1 - null mean) for similarities bounded by 1, so that
  chance is 0 and identity is 1, plus the z-score against the permutation null.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch

from . import knn as _knn
from ._validate import BootstrapShiftWarning, center, check_k, check_pair
from .cka import GramStats, _use_feature_form, cka_from_hsic
from .registry import get_metric
from .rsa import _triu, compare_vectors, rankdata, rdm_matrix


@dataclass
class PermutationResult:
    value: float
    p_value: float
    null_mean: float
    null_std: float
    n_permutations: int
    null: np.ndarray

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "null"}


@dataclass
class BootstrapResult:
    LABEL = "percentile bootstrap over stimuli"  # the interval's method, as tables and the CLI name it

    value: float
    low: float
    high: float
    std: float
    level: float
    n_boot: int
    samples: np.ndarray

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "samples"}


MAX_RESAMPLES = 10_000_000  # 80 MB of null values; a p-value resolution of 1e-7


def _check_count(name: str, value: int, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value > MAX_RESAMPLES:
        raise ValueError(f"{name}={value:,} would hold {8 * value / 1e9:,.1f} GB of resampled values and run "
                         f"{value:,} evaluations of the measure; at most {MAX_RESAMPLES:,} are accepted (a p-value "
                         "from N permutations resolves 1/(N+1): 999-9999 permutations or 1000-10000 bootstrap "
                         "resamples are the usual choice)")
    return int(value)


def _permuted_scorer(name: str, x: torch.Tensor, y: torch.Tensor, kwargs: dict):
    """A function perm -> value that reuses what does not change when Y's rows are permuted."""
    info = get_metric(name)
    if name in ("linear_cka", "linear_cka_debiased") and not kwargs.get("debiased", name.endswith("debiased")):
        xc, yc = center(x, "X"), center(y, "Y")
        n, dx, dy = x.shape[0], x.shape[1], y.shape[1]
        if _use_feature_form(n, dx, dy):
            hxx = torch.linalg.vector_norm(xc.T @ xc, dtype=torch.float64) ** 2
            hyy = torch.linalg.vector_norm(yc.T @ yc, dtype=torch.float64) ** 2
            return lambda p: cka_from_hsic(torch.linalg.vector_norm(xc.T @ yc[p], dtype=torch.float64) ** 2,
                                           hxx, hyy)
        gx, gy = GramStats(xc @ xc.T, False, True), GramStats(yc @ yc.T, False, True)
        hxx, hyy = gx.hsic(gx), gy.hsic(gy)

        def gram_perm(p):
            L = gy.mat[p][:, p]
            return cka_from_hsic(torch.sum(gx.mat * L, dtype=torch.float64), hxx, hyy)

        return gram_perm
    if name == "rsa":
        rdm, compare = kwargs.get("rdm", "correlation"), kwargs.get("compare", "spearman")
        a = _triu(rdm_matrix(x, rdm, "X"))
        B = rdm_matrix(y, rdm, "Y")
        if compare == "spearman":
            a = rankdata(a)
            return lambda p: compare_vectors(a, rankdata(_triu(B[p][:, p])), "pearson")
        return lambda p: compare_vectors(a, _triu(B[p][:, p]), compare)
    if name in ("mutual_knn", "jaccard_knn"):  # permuting Y's rows relabels its neighbour lists
        k = check_k(kwargs.get("k", 10), x.shape[0])
        ia, _ = _knn.knn(_knn.unit_rows(x, "X"), k)
        ib, _ = _knn.knn(_knn.unit_rows(y, "Y"), k)

        def knn_perm(p):
            inv = torch.empty_like(p)
            inv[p] = torch.arange(len(p), device=p.device)
            inter = _knn.overlap_counts(ia, inv[ib[p]]).double()
            return float((inter / (2 * k - inter)).mean()) if name == "jaccard_knn" else float(inter.mean() / k)

        return knn_perm
    return lambda p: info.fn(x, y[p], **kwargs)


def _report(progress, done: int, total: int) -> None:
    """Call ``progress(done, total)`` about a hundred times over a run, and at its end."""
    if progress is not None and (done == total or done % max(1, total // 100) == 0):
        progress(done, total)


def _percentile_interval(value: float, samples: np.ndarray, level: float, what: str, n: int) -> tuple[float, float]:
    """The percentile interval of ``samples``; warns (:class:`BootstrapShiftWarning`) when it misses ``value``."""
    alpha = (1.0 - level) / 2.0
    low, high = (float(q) for q in np.quantile(samples, [alpha, 1.0 - alpha]))
    if not low <= value <= high:
        warnings.warn(
            f"{what}: the {level:.0%} percentile bootstrap interval [{low:.4g}, {high:.4g}] does not contain the "
            f"value {value:.4g} itself (resamples' median {float(np.median(samples)):.4g}, n={n} stimuli). Resampling "
            "with replacement repeats stimuli, and where the features outnumber the distinct stimuli, kernel "
            "measures such as linear CKA rise as that number falls: the resamples are shifted, not spread around "
            "the value. Use jackknife_ci (leave stimuli out, no copies) for this interval",
            BootstrapShiftWarning, stacklevel=3)
    return low, high


def permutation_test(X, Y, metric: str = "linear_cka", n_permutations: int = 1000, seed: int = 0,
                     progress=None, **metric_kwargs) -> PermutationResult:
    """Permutation test of the pairing of X's and Y's rows; see the module docstring for the p-value.

    ``progress``: optional ``callable(done, total)``, called about every 1% of the permutations."""
    info = get_metric(metric)
    info.check_kwargs(metric_kwargs)
    n_permutations = _check_count("n_permutations", n_permutations)
    x, y = check_pair(X, Y, min_rows=info.min_n)
    value = info.fn(x, y, **metric_kwargs)
    score = _permuted_scorer(info.name, x, y, metric_kwargs)
    g = torch.Generator().manual_seed(int(seed))
    n = x.shape[0]
    null = np.empty(n_permutations)
    for i in range(n_permutations):
        null[i] = score(torch.randperm(n, generator=g).to(x.device))
        _report(progress, i + 1, n_permutations)
    extreme = null >= value - 1e-12 if info.kind == "similarity" else null <= value + 1e-12
    p = (1.0 + extreme.sum()) / (1.0 + n_permutations)
    return PermutationResult(float(value), float(p), float(null.mean()), float(null.std(ddof=1))
                             if n_permutations > 1 else 0.0, n_permutations, null)


def _bootstrap_scorer(name: str, x: torch.Tensor, y: torch.Tensor, kwargs: dict):
    info = get_metric(name)
    if name == "rsa":
        rdm, compare = kwargs.get("rdm", "correlation"), kwargs.get("compare", "spearman")
        A, B = rdm_matrix(x, rdm, "X"), rdm_matrix(y, rdm, "Y")

        def rsa_boot(idx):
            i, j = torch.triu_indices(len(idx), len(idx), offset=1, device=idx.device)
            keep = idx[i] != idx[j]  # drop pairs of two copies of one stimulus
            ii, jj = idx[i[keep]], idx[j[keep]]
            return compare_vectors(A[ii, jj], B[ii, jj], compare)

        return rsa_boot
    if name in ("mutual_knn", "jaccard_knn"):
        k = check_k(kwargs.get("k", 10), x.shape[0])
        xu, yu = _knn.unit_rows(x, "X"), _knn.unit_rows(y, "Y")

        def knn_boot(idx):
            ia, _ = _knn.knn(xu[idx], k, groups=idx)
            ib, _ = _knn.knn(yu[idx], k, groups=idx)
            inter = _knn.overlap_counts(ia, ib).double()
            if name == "jaccard_knn":
                return float((inter / (2 * k - inter)).mean())
            return float(inter.mean() / k)

        return knn_boot
    if name == "linear_cka" and not kwargs.get("debiased", False) and x.shape[0] <= GRAM_BOOTSTRAP_MAX_N:
        return _gram_cka_bootstrap(x, y)
    return lambda idx: info.fn(x[idx], y[idx], **kwargs)


GRAM_BOOTSTRAP_MAX_N = 2048  # two float64 n×n Grams: 64 MB at this n
_WEIGHT_BLOCK = 256  # resamples per block of the batched CKA bootstrap: an (n, 256) float64 count matrix


def _batched_scorer(name: str, x: torch.Tensor, y: torch.Tensor, kwargs: dict):
    """A function (list of resample indices) -> array of values (NaN for a degenerate resample), for the measures
    whose resamples can be scored together; None for the others (they are scored one resample at a time)."""
    if name == "linear_cka" and not kwargs.get("debiased", False) and x.shape[0] <= GRAM_BOOTSTRAP_MAX_N:
        return _weighted_gram_cka_bootstrap(x, y)
    return None


def _weighted_gram_cka_bootstrap(x: torch.Tensor, y: torch.Tensor):
    """Biased linear CKA of many resamples at once, from two n×n Grams and the resamples' count vectors.

    A resample ``idx`` with counts w (w_i = how often stimulus i was drawn, m = sum w rows: m = n for a bootstrap
    resample, fewer for a jackknife replicate, whose counts are 0 or 1) has Gram P K P^T (P selects the rows
    ``idx``), and P^T H P = W - w w^T / m with W = diag(w), H the m×m centring matrix.  Hence (K, L symmetric)

        HSIC(idx) = tr(K M L M),  M = W - w w^T / m
                  = w^T (K∘L) w - (2/m) Σ_i w_i (K w)_i (L w)_i + (w^T K w)(w^T L w) / m^2

    and CKA = HSIC_xy / sqrt(HSIC_xx HSIC_yy) (Kornblith et al. 2019, eq. 3), the same value as
    ``linear_cka(X[idx], Y[idx])`` to float64 rounding; a block of B resamples costs three n×n by n×B products.
    K = Xc Xc^T is formed in float64 from the full set's centred rows (translation invariance: the resample's own
    centring is the M above).  A resample with no variance (tr of its centred Gram at the rounding level of the
    raw one: every row a copy of one stimulus) scores NaN (counted as degenerate)."""

    def gram(t, label):
        tc = center(t, label).to(torch.float64)
        return tc @ tc.T

    K, L = gram(x, "X"), gram(y, "Y")
    n = K.shape[0]
    KL, KK, LL = K * L, K * K, L * L
    dk, dl = torch.diagonal(K), torch.diagonal(L)

    def block(idx_list):
        W = torch.stack([torch.bincount(i.to(K.device), minlength=n) for i in idx_list], dim=1).to(K)  # (n, B)
        m = W.sum(0)  # rows of each resample
        Kw, Lw = K @ W, L @ W
        wKw, wLw = (W * Kw).sum(0), (W * Lw).sum(0)
        hxy = (W * (KL @ W)).sum(0) - 2.0 / m * (W * Kw * Lw).sum(0) + wKw * wLw / m**2
        hxx = (W * (KK @ W)).sum(0) - 2.0 / m * (W * Kw * Kw).sum(0) + wKw * wKw / m**2
        hyy = (W * (LL @ W)).sum(0) - 2.0 / m * (W * Lw * Lw).sum(0) + wLw * wLw / m**2
        ok = torch.ones(W.shape[1], dtype=torch.bool, device=W.device)
        for d, wq in ((dk, wKw), (dl, wLw)):
            raw = d @ W  # tr(P K P^T)
            ok &= (raw - wq / m) > 1e-12 * raw  # tr of the resample's centred Gram
        out = hxy / torch.sqrt(hxx * hyy)
        out = torch.where(ok & (hxx * hyy > 0), out, torch.full_like(out, float("nan")))
        return np.array([float(v) for v in out])  # scalar reads: the tensors stay on their device

    def score_all(idx_list):
        return np.concatenate([block(idx_list[s:s + _WEIGHT_BLOCK]) for s in range(0, len(idx_list), _WEIGHT_BLOCK)])

    return score_all


def _gram_cka_bootstrap(x: torch.Tensor, y: torch.Tensor):
    """Biased linear CKA of a resample ``idx`` from two n×n Grams formed once (float64, on column-centred inputs).

    The Gram of X[idx] is K[idx][:, idx] with K = X X^T, and centring the resample's rows is H K_idx H (translation
    invariance lets K use the full set's centring first, which keeps the float64 sums well conditioned); so
    CKA = <H K_idx H, H L_idx H> / (||H K_idx H|| ||H L_idx H||) (Kornblith et al. 2019, eq. 3) costs O(n^2) per
    resample instead of the feature form's O(n d1 d2).  Equal to ``linear_cka(X[idx], Y[idx])`` to float64
    rounding; a resample whose rows are all copies of one stimulus raises ValueError (counted as degenerate)."""
    from .cka import center_gram

    def gram(t, label):
        tc = center(t, label).to(torch.float64)
        return tc @ tc.T

    K, L = gram(x, "X"), gram(y, "Y")

    def gram_boot(idx):
        Kb, Lb = K[idx][:, idx], L[idx][:, idx]
        Kc, Lc = center_gram(Kb), center_gram(Lb)
        for c, raw in ((Kc, Kb), (Lc, Lb)):
            if not float(torch.trace(c)) > 1e-12 * float(torch.trace(raw)):
                raise ValueError("a resample of one repeated stimulus has no variance")
        return cka_from_hsic(torch.sum(Kc * Lc), torch.sum(Kc * Kc), torch.sum(Lc * Lc))

    return gram_boot


def bootstrap_ci(X, Y, metric: str = "linear_cka", n_boot: int = 1000, level: float = 0.95, seed: int = 0,
                 progress=None, **metric_kwargs) -> BootstrapResult:
    """Percentile bootstrap CI over stimuli; see the module docstring for how duplicates are handled.

    ``progress``: optional ``callable(done, total)``, called about every 1% of the resamples."""
    info = get_metric(metric)
    info.check_kwargs(metric_kwargs)
    n_boot = _check_count("n_boot", n_boot, 2)
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), e.g. 0.95; got {level!r}")
    x, y = check_pair(X, Y, min_rows=max(info.min_n, 3))
    value = info.fn(x, y, **metric_kwargs)
    g = torch.Generator().manual_seed(int(seed))
    n = x.shape[0]
    samples, failed = [], 0
    batched = _batched_scorer(info.name, x, y, metric_kwargs)
    if batched is not None:  # the same draws, scored together
        draws = [torch.randint(n, (n,), generator=g) for _ in range(n_boot)]
        step = max(1, n_boot // 100) if progress is not None else n_boot  # about 100 progress calls
        parts = []
        for s in range(0, n_boot, step):
            parts.append(batched(draws[s:s + step]))
            _report(progress, min(s + step, n_boot), n_boot)
        values = np.concatenate(parts)
        samples, failed = list(values[np.isfinite(values)]), int((~np.isfinite(values)).sum())
    else:
        score = _bootstrap_scorer(info.name, x, y, metric_kwargs)
        for i in range(n_boot):
            idx = torch.randint(n, (n,), generator=g).to(x.device)
            try:
                samples.append(score(idx))
            except ValueError:  # a degenerate resample (e.g. too few distinct stimuli)
                failed += 1
            _report(progress, i + 1, n_boot)
    if failed > 0.1 * n_boot:
        raise ValueError(f"{failed} of {n_boot} bootstrap resamples were degenerate for {info.name} "
                         f"(n={n} stimuli is too few); use more stimuli")
    s = np.asarray(samples)
    low, high = _percentile_interval(float(value), s, level, info.name, n)
    return BootstrapResult(float(value), low, high, float(s.std(ddof=1)), float(level), len(s), s)


def bootstrap_pairs(reps: dict, pairs, metric: str = "linear_cka", n_boot: int = 1000, level: float = 0.95,
                    seed: int = 0, **metric_kwargs) -> dict:
    """``bootstrap_ci`` of many pairs of representations of the same stimuli, sharing what the pairs have in
    common: {(a, b): BootstrapResult} equal to ``bootstrap_ci(reps[a], reps[b], metric, n_boot, level, seed)``.

    Every pair uses the same ``seed``, hence the same resamples; the work that depends on one representation and
    one resample is done once per representation instead of once per pair: the k-NN lists of each resample for
    ``mutual_knn`` / ``jaccard_knn`` (then each pair only counts overlaps), the centred Gram of each
    representation for linear CKA.  Other measures fall back to ``bootstrap_ci`` pair by pair.

    >>> import numpy as np
    >>> from unireps.metrics import bootstrap_ci, bootstrap_pairs
    >>> rng = np.random.default_rng(0)
    >>> reps = {name: rng.normal(size=(40, 5)) for name in ("a", "b", "c")}
    >>> got = bootstrap_pairs(reps, [("a", "b"), ("a", "c")], "mutual_knn", n_boot=20, k=5)
    >>> bool(np.allclose(got["a", "c"].samples, bootstrap_ci(reps["a"], reps["c"], "mutual_knn", 20, k=5).samples))
    True
    """
    info = get_metric(metric)
    info.check_kwargs(metric_kwargs)
    pairs = [tuple(p) for p in pairs]
    if info.name not in ("mutual_knn", "jaccard_knn"):
        return {(a, b): bootstrap_ci(reps[a], reps[b], info.name, n_boot, level, seed, **metric_kwargs)
                for a, b in pairs}
    n_boot = _check_count("n_boot", n_boot, 2)
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), e.g. 0.95; got {level!r}")
    checked = {(a, b): check_pair(reps[a], reps[b], min_rows=max(info.min_n, 3)) for a, b in pairs}
    n = next(iter(checked.values()))[0].shape[0] if checked else 0
    k = check_k(metric_kwargs.get("k", 10), n) if checked else 0
    units: dict = {}  # (label, dtype) -> unit rows: a pair's common dtype decides, as in bootstrap_ci
    for (a, b), (x, y) in checked.items():
        for label, t, name in ((a, x, "X"), (b, y, "Y")):
            if (label, t.dtype) not in units:
                units[(label, t.dtype)] = _knn.unit_rows(t, name)
    g = torch.Generator().manual_seed(int(seed))
    samples: dict = {pair: np.empty(n_boot) for pair in checked}
    for r in range(n_boot):
        idx = torch.randint(n, (n,), generator=g)
        lists = {key: _knn.knn(u[idx.to(u.device)], k, groups=idx.to(u.device))[0] for key, u in units.items()}
        for (a, b), (x, y) in checked.items():
            inter = _knn.overlap_counts(lists[(a, x.dtype)], lists[(b, y.dtype)]).double()
            samples[(a, b)][r] = float((inter / (2 * k - inter)).mean()) if info.name == "jaccard_knn" \
                else float(inter.mean() / k)
    out = {}
    for (a, b), (x, y) in checked.items():
        s, value = samples[(a, b)], float(info.fn(x, y, **metric_kwargs))
        low, high = _percentile_interval(value, s, level, f"{info.name} ({a} vs {b})", n)
        out[(a, b)] = BootstrapResult(value, low, high, float(s.std(ddof=1)), float(level), len(s), s)
    return out


def bootstrap_rdms(A, B, compare: str = "spearman", n_boot: int = 1000, level: float = 0.95,
                   seed: int = 0) -> BootstrapResult:
    """Percentile bootstrap CI of ``rsa_rdms(A, B)`` over stimuli, for precomputed RDMs (e.g. brain data).

    Stimuli are resampled with replacement; pairs formed by two copies of one stimulus are dropped.
    """
    from .rsa import as_condensed

    a, b = as_condensed(A, "A"), as_condensed(B, "B")
    if a.shape != b.shape:
        raise ValueError(f"RDMs A and B cover different numbers of pairs ({a.shape[0]} vs {b.shape[0]})")
    n_boot = _check_count("n_boot", n_boot, 2)
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), e.g. 0.95; got {level!r}")
    m = a.shape[0]
    n = int(round((1 + np.sqrt(1 + 8 * m)) / 2))
    i, j = torch.triu_indices(n, n, offset=1, device=a.device)
    SA = torch.zeros((n, n), dtype=a.dtype, device=a.device)
    SB = torch.zeros((n, n), dtype=b.dtype, device=b.device)
    SA[i, j], SB[i, j] = a, b
    SA, SB = SA + SA.T, SB + SB.T
    value = compare_vectors(a, b, compare)
    g = torch.Generator().manual_seed(int(seed))
    samples = []
    for _ in range(n_boot):
        idx = torch.randint(n, (n,), generator=g)
        bi, bj = torch.triu_indices(n, n, offset=1)
        keep = idx[bi] != idx[bj]
        ii, jj = idx[bi[keep]], idx[bj[keep]]
        try:
            samples.append(compare_vectors(SA[ii, jj], SB[ii, jj], compare))
        except ValueError:
            continue
    s = np.asarray(samples)
    low, high = _percentile_interval(float(value), s, level, f"rsa_rdms ({compare})", n)
    return BootstrapResult(float(value), low, high, float(s.std(ddof=1)), float(level), len(s), s)


def null_calibrated(X, Y, metric: str = "linear_cka", n_permutations: int = 200, seed: int = 0,
                    **metric_kwargs) -> dict:
    """Chance-corrected score (value - null mean) / (1 - null mean), and the z-score against the null.

    Defined for similarities whose maximum is 1; 0 means chance level, 1 means identical.
    """
    info = get_metric(metric)
    if info.kind != "similarity" or info.range[1] != 1.0:
        raise ValueError(f"null calibration needs a similarity bounded by 1; {info.name} is a {info.kind} "
                         f"with range {info.range}")
    res = permutation_test(X, Y, metric, n_permutations, seed, **metric_kwargs)
    calibrated = (res.value - res.null_mean) / (1.0 - res.null_mean)
    z = (res.value - res.null_mean) / res.null_std if res.null_std > 0 else float("inf")
    return {"value": res.value, "calibrated": float(calibrated), "z": float(z), "null_mean": res.null_mean,
            "null_std": res.null_std, "p_value": res.p_value, "n_permutations": n_permutations}
