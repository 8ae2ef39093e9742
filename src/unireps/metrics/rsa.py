"""Representational similarity analysis (Kriegeskorte, Mur & Bandettini, Front. Syst. Neurosci. 2008).

An RDM holds the dissimilarity of every pair of stimuli; two representations are compared through their
RDMs' upper triangles (i < j, the n(n-1)/2 pairs in scipy's ``squareform`` order), so the diagonal never
enters.  ``rsa`` returns a similarity (a correlation or cosine between RDM vectors, in [-1, 1]).

RDMs (``rdm=``):
* ``correlation``  1 - Pearson r between the two stimuli's feature vectors (rsatoolbox's 'correlation')
* ``euclidean``    ||x_i - x_j||
* ``sq_euclidean`` ||x_i - x_j||^2 (rsatoolbox's 'euclidean' is this divided by the number of features;
  rank and correlation comparisons are unaffected by that constant)
* ``cosine``       1 - cos(x_i, x_j)

Comparisons (``compare=``) of two condensed RDMs a, b of m = n(n-1)/2 pairs; r, s their average ranks (ties
share the mean of their ranks):

* ``spearman``       Pearson r of (r, s): the tie-corrected rank correlation
* ``pearson``        Pearson r of (a, b)
* ``cosine``         a.b / (|a| |b|), uncentred
* ``kendall_tau_a``  (C - D) / (m(m-1)/2), C/D = concordant/discordant pairs of pairs; a tie in either RDM counts
  as neither.  Nili et al. 2014 (PLoS Comput Biol) recommend it for model RDMs that predict ties: tie-corrected
  coefficients reward a model for predicting ties it cannot justify
* ``kendall_tau_b``  (C - D) / sqrt((m0 - t_a)(m0 - t_b)), m0 = m(m-1)/2, t = tied pairs of pairs in each RDM
  (Kendall 1945); the conventional tau, corrected for ties
* ``rho_a``          12 sum_k (r_k - mean r)(s_k - mean s) / (m^3 - m): Spearman's rho without the tie correction
  in the denominator, the expected Spearman rho under random tie breaking (Schuett et al. 2023, eLife,
  "Statistical inference on representational geometries"); for tie-free RDMs it equals ``spearman``, and like
  tau-a it does not reward predicted ties; O(m log m)

Values equal rsatoolbox's ``compare`` with methods 'spearman', 'corr', 'cosine', 'tau-a', 'tau-b' ('kendall'),
'rho-a' (conformance tests in tests/test_rsatoolbox_conformance.py).
"""

from __future__ import annotations

import numpy as np
import torch

from ..literals import CompareMethod, RDMKind
from . import _rdmstream as stream
from . import _validate
from ._validate import acc_dtype, center, check_choice, check_matrix, check_pair

RDM_KINDS = ("correlation", "euclidean", "sq_euclidean", "cosine")
COMPARE_METHODS = ("spearman", "pearson", "kendall_tau_a", "cosine", "rho_a", "kendall_tau_b")
#: compare= name -> rsatoolbox compare method of the same definition
RSATOOLBOX_NAMES = {"spearman": "spearman", "pearson": "corr", "kendall_tau_a": "tau-a", "cosine": "cosine",
                    "rho_a": "rho-a", "kendall_tau_b": "tau-b"}
#: comparisons that are defined through ranks (ceilings pool such RDMs after rank-transforming them)
RANK_METHODS = ("spearman", "kendall_tau_a", "rho_a", "kendall_tau_b")
#: the Kendall taus hold both whole RDMs plus scipy's O(m log m) work arrays (about 80 bytes per pair, measured):
#: beyond this many pairs (n of about 6,300 stimuli, 1.6 GB) they are refused with the bounded-memory alternatives
KENDALL_MAX_PAIRS = 20_000_000


def _triu(M: torch.Tensor) -> torch.Tensor:
    """Upper triangle (i < j) of a square matrix in condensed order, by row blocks (no index arrays)."""
    return stream.condensed_square(M)


def _unit_rows(x: torch.Tensor, what: str, name: str) -> torch.Tensor:
    norms = torch.linalg.vector_norm(x, dim=1, keepdim=True)
    if bool((norms == 0).any()):
        bad = int((norms == 0).sum())
        raise ValueError(f"{name} has {bad} stimuli whose {what} is zero, so the {what.split()[0]} RDM is "
                         "undefined for them; drop those stimuli or use rdm='euclidean'")
    return x / norms


def _rdm_operand(x: torch.Tensor, rdm: str, name: str):
    """(z, sq): the rows whose products give the RDM, and for Euclidean kinds their squared norms (the diagonal of
    the same products, so that duplicate stimuli are at distance exactly 0 where the products are exact)."""
    check_choice("rdm", rdm, RDM_KINDS)
    center(x, name)  # a representation constant across stimuli (up to rounding) has no RDM
    if rdm == "correlation":
        if x.shape[1] < 3:
            raise ValueError(f"the correlation RDM needs at least 3 features ({name} has {x.shape[1]}: the "
                             "correlation of two 2-vectors is always +-1); use rdm='euclidean'")
        xc = x - x.mean(dim=1, keepdim=True, dtype=acc_dtype(x)).to(x.dtype)
        return _unit_rows(xc, "variance across features", name), None
    if rdm == "cosine":
        return _unit_rows(x, "norm", name), None
    # shift by a data value per column (the lower median), not the mean: as stable against large offsets,
    # and exact for integer / grid-valued features, so tied dissimilarities stay exactly tied (ranks)
    z = x - x.median(dim=0, keepdim=True).values
    sq = torch.empty(z.shape[0], dtype=z.dtype, device=z.device)
    for s in range(0, z.shape[0], 1024):
        sq[s:s + 1024] = torch.diagonal(z[s:s + 1024] @ z[s:s + 1024].T)
    return z, sq


def rdm_blocks(X, rdm: str = "correlation", name: str = "X") -> stream.RDMBlocks:
    """The condensed RDM of X as blocks computed on demand (memory O(block), never n×n)."""
    z, sq = _rdm_operand(check_matrix(X, name), rdm, name)
    return stream.RDMBlocks(z, rdm, sq)


def rdm_matrix(X, rdm: str = "correlation", name: str = "X") -> torch.Tensor:
    """The square (n, n) RDM of representation X (rows = stimuli) under the named dissimilarity."""
    z, sq = _rdm_operand(check_matrix(X, name), rdm, name)
    G = z @ z.T
    if sq is None:
        D = 1.0 - G
    else:
        D = (sq[:, None] + sq[None, :] - 2.0 * G).clamp_(min=0)
        if rdm == "euclidean":
            D = D.sqrt_()
    D.diagonal().zero_()
    return D


def compute_rdm(X, rdm: str = "correlation") -> np.ndarray:
    """The condensed RDM (n(n-1)/2 upper-triangle values, scipy ``squareform`` order) as numpy float64.

    Computed block by block: memory is the output (8 bytes per pair) plus one block.

    >>> import numpy as np
    >>> compute_rdm(np.array([[0.0, 0.0], [3.0, 4.0], [6.0, 8.0]]), "euclidean")
    array([ 5., 10.,  5.])
    """
    blocks = rdm_blocks(X, rdm)
    out = np.empty(blocks.m, dtype=np.float64)
    for o, v in blocks:
        out[o:o + v.numel()] = v.double().cpu().numpy()
    return out


def as_condensed(A, name: str = "A") -> torch.Tensor:
    """Accept a square symmetric RDM or a condensed vector of length n(n-1)/2; return the condensed vector."""
    if isinstance(A, torch.Tensor):
        t = A.detach()
        t = t.double() if not t.is_floating_point() else t
    else:
        a = np.asarray(A)
        if a.dtype.kind not in "biuf":
            raise TypeError(f"{name} must be a numeric array (an RDM), got dtype {a.dtype}")
        t = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float64))
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"RDM {name} contains NaN or infinite values; remove those stimuli first")
    if t.ndim == 2:
        if t.shape[0] != t.shape[1]:
            raise ValueError(f"RDM {name} has shape {tuple(t.shape)}; a square RDM must be (n, n). Pass the "
                             "representation to rsa() instead, or a condensed vector")
        tol = 1e-8 * max(float(t.abs().max()), 1.0)
        if not bool(torch.allclose(t, t.T, atol=tol, rtol=0)):
            raise ValueError(f"RDM {name} is not symmetric; symmetrise it, e.g. (A + A.T) / 2")
        if t.shape[0] < 3:
            raise ValueError(f"RDM {name} covers {t.shape[0]} stimuli; RSA needs at least 3")
        return _triu(t)
    if t.ndim == 1:
        m = t.shape[0]
        n = int(round((1 + np.sqrt(1 + 8 * m)) / 2))
        if n * (n - 1) // 2 != m:
            raise ValueError(f"condensed RDM {name} has length {m}, which is not n(n-1)/2 for any n; pass "
                             "the upper triangle (scipy.spatial.distance.squareform order) or the square RDM")
        if n < 3:
            raise ValueError(f"RDM {name} covers {n} stimuli; RSA needs at least 3")
        return t
    raise ValueError(f"RDM {name} must be square (n, n) or condensed (n(n-1)/2,), got shape {tuple(t.shape)}")


def rankdata(v: torch.Tensor) -> torch.Tensor:
    """Average ranks (ties share the mean of their ranks, as scipy.stats.rankdata), on v's device."""
    sorted_v, order = torch.sort(v, stable=True)
    m = v.shape[0]
    new_group = torch.ones(m, dtype=torch.bool, device=v.device)
    new_group[1:] = sorted_v[1:] != sorted_v[:-1]
    group = torch.cumsum(new_group, 0) - 1
    n_groups = int(group[-1]) + 1
    pos = torch.arange(1, m + 1, dtype=torch.float64, device=v.device)
    sums = torch.zeros(n_groups, dtype=torch.float64, device=v.device).index_add_(0, group, pos)
    counts = torch.zeros(n_groups, dtype=torch.float64, device=v.device).index_add_(
        0, group, torch.ones_like(pos))
    ranks = torch.empty(m, dtype=torch.float64, device=v.device)
    ranks[order] = (sums / counts)[group]
    return ranks


def _cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.double(), b.double()
    return float(torch.dot(a, b) / (torch.linalg.vector_norm(a) * torch.linalg.vector_norm(b)))


def _kendall_tau_a(a: torch.Tensor, b: torch.Tensor) -> float:
    """(concordant - discordant) / (m(m-1)/2), from scipy's O(m log m) tau-b and the tie counts."""
    from scipy.stats import kendalltau

    x, y = a.double().cpu().numpy(), b.double().cpu().numpy()
    m = x.shape[0]
    n0 = m * (m - 1) / 2.0

    def ties(v):
        _, c = np.unique(v, return_counts=True)
        return float((c * (c - 1) / 2.0).sum())

    tau_b = kendalltau(x, y, variant="b").statistic
    con_minus_dis = tau_b * np.sqrt((n0 - ties(x)) * (n0 - ties(y)))
    return float(np.clip(con_minus_dis / n0, -1.0, 1.0))


def _kendall_tau_b(a: torch.Tensor, b: torch.Tensor) -> float:
    """(C - D) / sqrt((m0 - t_a)(m0 - t_b)): scipy's O(m log m) tau-b."""
    from scipy.stats import kendalltau

    return float(kendalltau(a.double().cpu().numpy(), b.double().cpu().numpy(), variant="b").statistic)


def _rho_a(a: torch.Tensor, b: torch.Tensor) -> float:
    """12 sum (r - mean r)(s - mean s) / (m^3 - m) on average ranks (Schuett et al. 2023)."""
    r, s = rankdata(a), rankdata(b)
    m = float(r.shape[0])
    return float(12.0 * torch.dot(r - r.mean(), s - s.mean()) / (m ** 3 - m))


def _compare_dense(a: torch.Tensor, b: torch.Tensor, compare: str) -> float:
    """Whole condensed vectors (tensors off the host, and the Kendall taus): ranks by one sort on the device."""
    for v, name in ((a, "A"), (b, "B")):
        if bool((v == v[0]).all()):
            raise ValueError(f"RDM {name} is constant (all dissimilarities equal), so its rank or correlation "
                             "with another RDM is undefined")
    if compare == "cosine":
        return _cosine(a, b)
    if compare == "kendall_tau_a":
        return _kendall_tau_a(a, b)
    if compare == "kendall_tau_b":
        return _kendall_tau_b(a, b)
    if compare == "rho_a":
        return _rho_a(a, b)
    if compare == "spearman":
        a, b = rankdata(a), rankdata(b)
    a, b = a.double(), b.double()
    return _cosine(a - a.mean(), b - b.mean())


def _compare_sources(A, B, compare: str) -> float:
    """Compare two condensed RDM sources (``RDMBlocks`` or ``VectorBlocks`` of equal length): on the host in bounded
    memory (streaming sums, exact bucketed ranks); the Kendall taus and tensors off the host as whole vectors."""
    if compare.startswith("kendall") and A.m > KENDALL_MAX_PAIRS:
        raise ValueError(f"compare={compare!r} holds both whole RDMs and scipy's sort arrays (about 80 bytes per "
                         f"pair): {A.m:,} pairs are more than its limit of {KENDALL_MAX_PAIRS:,} (about 6,300 "
                         "stimuli). Use compare='rho_a' (like tau-a, it does not reward predicted ties; Schuett et "
                         "al. 2023) or 'spearman', both exact in bounded memory at any n, or compare a random subset "
                         "of at most 6,300 stimuli")
    if compare.startswith("kendall") or _validate.host_numpy(A.probe()) is None:
        return _compare_dense(A.dense(), B.dense(), compare)
    if compare in ("spearman", "rho_a"):
        cross, ss_a, ss_b = stream.rank_terms(A, B)  # doubled, centred ranks
        if compare == "rho_a":
            m = float(A.m)
            return float(np.clip(12.0 * (cross / 4.0) / (m ** 3 - m), -1.0, 1.0))
        return float(np.clip(cross / np.sqrt(ss_a * ss_b), -1.0, 1.0))
    cross, ss_a, ss_b = stream.pearson_cosine(A, B, centred=compare == "pearson")
    if not (ss_a > 0 and ss_b > 0):
        raise ValueError(f"RDM {'A' if not ss_a > 0 else 'B'} is constant (all dissimilarities equal), so its "
                         "correlation with another RDM is undefined")
    return float(np.clip(cross / np.sqrt(ss_a * ss_b), -1.0, 1.0))


def compare_vectors(a: torch.Tensor, b: torch.Tensor, compare: str) -> float:
    """Compare two condensed RDMs (1-D tensors of equal length)."""
    check_choice("compare", compare, COMPARE_METHODS)
    return _compare_sources(stream.VectorBlocks(a), stream.VectorBlocks(b.to(a.device)), compare)


def rsa_rdms(A, B, compare: str = "spearman") -> float:
    """Compare two precomputed RDMs (square symmetric or condensed), upper triangles only.

    Returns a similarity in [-1, 1] (see the module docstring for the comparison conventions).
    """
    check_choice("compare", compare, COMPARE_METHODS)
    a, b = as_condensed(A, "A"), as_condensed(B, "B")
    if a.shape != b.shape:
        raise ValueError(f"RDMs A and B cover different numbers of pairs ({a.shape[0]} vs {b.shape[0]}); "
                         "both must be over the same stimuli in the same order")
    return compare_vectors(a, b, compare)


def rsa(X, Y, rdm: RDMKind = "correlation", compare: CompareMethod = "spearman") -> float:
    """RSA between representations X (n, d1) and Y (n, d2): compare(RDM(X), RDM(Y)) on the upper triangle.

    Default: correlation-distance RDMs (1 - Pearson r) compared by Spearman's rho. Similarity in [-1, 1].
    Bounded memory at any n: the RDMs are computed in blocks and compared in a streaming pass (Pearson, cosine)
    or by exact bucketed ranking (Spearman, rho-a): from 1 M to 16 M pairs (about 1,450 to 5,700 stimuli) the
    ranking runs in two threads, about 20 bytes per pair from float32; otherwise about 4 bytes per pair in
    memory, and beyond one sort group (about 32 M pairs from float32 or 8 M from float64) also 4 or 8 bytes per
    pair and RDM in a temporary folder, removed on return (``TMPDIR`` chooses where); only the Kendall taus hold both
    RDMs, up to ``KENDALL_MAX_PAIRS`` pairs (a clear error beyond, naming the alternatives).

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((60, 8))
    >>> Q, _ = np.linalg.qr(rng.standard_normal((8, 8)))  # a rotation
    >>> from unireps.metrics import rsa
    >>> round(rsa(X, 2 * X), 6)  # the same RDM up to scale (not rotation-invariant: see the registry)
    1.0
    """
    check_choice("rdm", rdm, RDM_KINDS)
    check_choice("compare", compare, COMPARE_METHODS)
    x, y = check_pair(X, Y, min_rows=3, rescale=True)  # every RDM kind scales uniformly; comparisons are scale free
    return _compare_sources(rdm_blocks(x, rdm, "X"), rdm_blocks(y, rdm, "Y"), compare)
