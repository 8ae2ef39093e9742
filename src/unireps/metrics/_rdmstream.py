"""Condensed RDMs in blocks, and their exact comparison in bounded memory (the engine behind ``rsa``).

A condensed RDM holds the m = n(n-1)/2 upper-triangle dissimilarities (i < j) in scipy's ``squareform`` order;
row i's pairs are contiguous, so a block of rows s..e-1 is one contiguous segment.  ``RDMBlocks`` computes those
segments from a representation (one (rows × remaining columns) product per block, never an n×n matrix and never
``triu_indices``); ``VectorBlocks`` slices a given condensed vector.  Both can be iterated again, and give the same
values every time.

Comparisons stream over the blocks:
* Pearson and cosine: one pass of float64 sums (shifted by the first block's mean, so no cancellation).
* Spearman: exact average ranks (ties share the mean of their positions, as ``scipy.stats.rankdata``) by a
  bucketed sort.  Each value maps to an order-preserving integer key; when all m keys fit the memory budget one
  sort ranks them.  Otherwise one pass computes both RDMs, writes their keys to a temporary folder (4 bytes per
  pair each from float32 inputs, 8 from float64; the folder is removed on return, ``TMPDIR`` chooses where) and
  histograms the keys' top 20 bits; the histogram splits the key range into groups of whole bins that each fit,
  and each group is gathered in one read of the key file and sorted (ties never straddle groups).  B's doubled
  ranks are kept as one uint32 per pair (4 bytes × m); A's groups carry those ranks as the sort payload, so
  sum (2 r_a - m - 1)(2 r_b - m - 1) accumulates without any random access.  Memory: 4 m bytes plus the group
  buffer (``budget_bytes``); time: the two RDMs' products once, one read of the key file per group, the sorts:
  O(m log m).  From 1 M pairs on (with two cores) this runs in two threads: the two RDMs' keys are written at
  once, each group is gathered by two threads (the first half of the pairs into the buffer's front, the second
  into its back: the order within a group is free), and its sort and rank passes are split as below.  From 1 M
  pairs up to where both RDMs' sort buffers fit the budget together (16 M pairs from float32
  inputs by default), the same method runs in two threads (about 20 bytes per pair from float32 inputs): both
  RDMs' keys are computed into memory (pair order) at once, every sort of 32-bit keys is split at its median by
  one partition and its halves sorted at once, and the rank passes (B's scatter, A's cross sum) run by halves.
  There, when B's 32-bit keys span fewer than 2 m key values (as a float32 RDM of millions of pairs in a few
  octaves does), B's ranks need no key+payload sort and no scatter: its keys alone are sorted, each tie run's
  doubled rank goes to a table indexed by key, and the table is read in pair order.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import sys
import tempfile

import numpy as np
import torch

from ..runtime import release_free_memory
from . import _validate

_BLOCK_ELEMS = 1 << 22  # values per block (about 16 MiB in float32)
_READ_ELEMS = 1 << 20  # keys per chunk read back from memory or the spill file (small: two threads' temporaries)
_BUDGET_BYTES = 256 << 20  # group buffer of the exact ranking (float32: 32 M values; float64 inputs: 8 M values)
_PREFIX_SHIFT = 12  # histogram bins: the top 20 bits of the 32-bit keys
_SUB = 1 << 20  # ranks are assigned in sub-chunks of this many sorted values
_MIN_CAP = 1 << 16  # smallest group of the exact ranking (values)
_LO, _HI = (0, 1) if sys.byteorder == "little" else (1, 0)  # uint32 halves of a uint64: payload, key
_THREADS_MIN = 1 << 20  # pairs from which the ranking runs in two threads (if both RDMs' buffers fit together)
_TABLE_SPAN = 2  # there, 32-bit keys spanning fewer than this many key values per pair are ranked through a table
_MAX_PAIRS = (1 << 31) - 2  # doubled ranks (at most 2 m) and pair indices are held as uint32
# (the knobs above are read when a computation starts, so tests can shrink them to drive every code path)


def n_pairs(n: int) -> int:
    return n * (n - 1) // 2


def row_offset(i: int, n: int) -> int:
    """Position of pair (i, i+1) in the condensed vector."""
    return i * n - i * (i + 1) // 2


def _upper_mask(rows: int, cols: int, device) -> torch.Tensor:
    """mask[r, c] = c > r: the entries right of the diagonal of a block starting at the diagonal."""
    return torch.arange(cols, device=device)[None, :] > torch.arange(rows, device=device)[:, None]


def _upper_part(D: torch.Tensor) -> torch.Tensor:
    """D's entries right of its diagonal, row by row (numpy's boolean indexing on the host: several times faster
    than torch's there)."""
    mask = _upper_mask(D.shape[0], D.shape[1], D.device)
    a = _validate.host_numpy(D)
    return torch.from_numpy(a[mask.numpy()]) if a is not None else torch.masked_select(D, mask)


def row_blocks(n: int, block_elems: int | None = None):
    """(s, e) row ranges whose (e - s) × (n - s) blocks hold about ``block_elems`` values each."""
    block_elems = block_elems or _BLOCK_ELEMS
    s = 0
    while s < n - 1:
        e = min(n - 1, s + max(1, block_elems // (n - s)))
        yield s, e
        s = e


class RDMBlocks:
    """Condensed RDM of a representation, computed block by block.

    ``kind``: 'correlation' or 'cosine' (u = unit rows of the row-centred or raw x, D = 1 - u u^T), or
    'euclidean' / 'sq_euclidean' (x shifted by a column median; D = sq_i + sq_j - 2 G_ij clamped at 0, sq_i the
    diagonal of the same products).  Values in x's dtype.
    """

    def __init__(self, z: torch.Tensor, kind: str, sq: torch.Tensor | None = None, block_elems: int | None = None):
        self.z, self.kind, self.sq, self.block_elems = z, kind, sq, block_elems or _BLOCK_ELEMS
        self.n = z.shape[0]
        self.m = n_pairs(self.n)
        self.dtype = z.dtype

    def __iter__(self):
        z, n = self.z, self.n
        for s, e in row_blocks(n, self.block_elems):
            G = z[s:e] @ z[s:].T
            if self.kind in ("correlation", "cosine"):
                D = G.neg_().add_(1.0)
            else:
                D = G.mul_(-2.0).add_(self.sq[s:e, None]).add_(self.sq[None, s:]).clamp_(min=0)
                if self.kind == "euclidean":
                    D.sqrt_()
            yield row_offset(s, n), _upper_part(D)

    def probe(self) -> torch.Tensor:
        return self.z[:1, :1]

    def dense(self) -> torch.Tensor:
        out = torch.empty(self.m, dtype=self.dtype, device=self.z.device)
        for o, v in self:
            out[o:o + v.numel()] = v
        return out


class VectorBlocks:
    """A condensed vector, in slices."""

    def __init__(self, v: torch.Tensor, block_elems: int | None = None):
        self.v, self.m, self.dtype, self.block_elems = v, v.shape[0], v.dtype, block_elems or _BLOCK_ELEMS

    def __iter__(self):
        for o in range(0, self.m, self.block_elems):
            yield o, self.v[o:o + self.block_elems]

    def probe(self) -> torch.Tensor:
        return self.v[:1]

    def dense(self) -> torch.Tensor:
        return self.v


def condensed_square(M: torch.Tensor) -> torch.Tensor:
    """The upper triangle (i < j) of a square matrix in condensed order, row block by row block."""
    n = M.shape[0]
    out = torch.empty(n_pairs(n), dtype=M.dtype, device=M.device)
    for s, e in row_blocks(n):
        o = row_offset(s, n)
        seg = _upper_part(M[s:e, s:])
        out[o:o + seg.numel()] = seg
    return out


# ------------------------------------------------------------------------------------ streaming moments


def _np(v: torch.Tensor) -> np.ndarray:
    return v.detach().cpu().numpy()


def pearson_cosine(A, B, centred: bool) -> tuple[float, float, float]:
    """(cross, ss_a, ss_b) for Pearson (centred) or cosine (raw) in one pass of float64 sums.

    Centred sums are shifted by the first block's mean (exact algebra, no cancellation for any offset)."""
    shift_a = shift_b = 0.0
    sa = sb = saa = sbb = sab = 0.0
    lo = [math.inf, math.inf]
    hi = [-math.inf, -math.inf]
    first = True
    for (_, a), (_, b) in zip(A, B, strict=True):
        a, b = _np(a).astype(np.float64), _np(b).astype(np.float64)
        if first and centred:
            shift_a, shift_b, first = float(a.mean()), float(b.mean()), False
        a -= shift_a
        b -= shift_b
        for t, v in ((0, a), (1, b)):
            lo[t], hi[t] = min(lo[t], float(v.min())), max(hi[t], float(v.max()))
        sa, sb = sa + float(a.sum()), sb + float(b.sum())
        saa, sbb, sab = saa + float(a @ a), sbb + float(b @ b), sab + float(a @ b)
    _check_not_constant(lo, hi)
    m = A.m
    if centred:
        return sab - sa * sb / m, saa - sa * sa / m, sbb - sb * sb / m
    return sab, saa, sbb


def _check_not_constant(lo, hi):
    for t, name in ((0, "A"), (1, "B")):
        if not hi[t] > lo[t]:
            raise ValueError(f"RDM {name} is constant (all dissimilarities equal), so its rank or correlation with "
                             "another RDM is undefined")


# ---------------------------------------------------------------------------------------- exact ranks


def _keys32(v: np.ndarray) -> np.ndarray:
    """Order-preserving uint32 keys of float32 values (-0.0 and +0.0 equal): the sign bit flipped for values >= 0,
    every bit flipped for negative ones (x ^ (sign-extended sign | top bit))."""
    b = (v + np.float32(0.0)).view(np.int32)  # -0.0 -> +0.0 (and a copy we may modify)
    mask = (b >> 31).view(np.uint32)
    mask |= np.uint32(1 << 31)
    keys = b.view(np.uint32)
    keys ^= mask
    return keys


def _keys64(v: np.ndarray) -> np.ndarray:
    """Order-preserving uint64 keys of float64 values (-0.0 and +0.0 equal), as :func:`_keys32`."""
    b = (v + 0.0).view(np.int64)
    mask = (b >> 63).view(np.uint64)
    mask |= np.uint64(1 << 63)
    keys = b.view(np.uint64)
    keys ^= mask
    return keys


class _Ranker:
    """Exact average ranks of one source's values, group by group (see the module docstring)."""

    def __init__(self, src, budget_bytes: int):
        self.src, self.m = src, src.m
        self.wide = src.dtype == torch.float64  # 64-bit keys: values and payload sorted as two arrays
        self.key_dtype = np.uint64 if self.wide else np.uint32
        self.shift = 44 if self.wide else _PREFIX_SHIFT  # key >> shift: the histogram bin (top 20 bits)
        per = 32 if self.wide else 8  # bytes per value while a group is gathered and sorted
        self.cap = max(_MIN_CAP, budget_bytes // per)
        self.path: str | None = None  # the keys' spill file, once written
        self.held: np.ndarray | None = None  # or all keys in memory, in pair order, once computed

    def hold(self):
        """Compute every key once into memory (pair order), for later passes to read."""
        held = np.empty(self.m, dtype=self.key_dtype)
        for o, v in self.src:
            held[o:o + v.numel()] = self.keys(v)
        self.held = held

    def keys(self, v: torch.Tensor) -> np.ndarray:
        a = _np(v)
        return _keys64(a.astype(np.float64, copy=False)) if self.wide else _keys32(a.astype(np.float32, copy=False))

    def chunks(self, span=None):
        """(offset, keys) over the pairs ``span`` (start, stop; default all): from memory or read back from the
        spill file when there is one (so the RDM's products are computed once however many groups there are), else
        computed from the source (all pairs only)."""
        start, stop = span or (0, self.m)
        if self.held is not None:
            for o in range(start, stop, _READ_ELEMS):
                yield o, self.held[o:min(stop, o + _READ_ELEMS)]
            return
        if self.path is None:
            assert (start, stop) == (0, self.m), "a span of pairs is read from held or spilled keys only"
            for o, v in self.src:
                yield o, self.keys(v)
            return
        with open(self.path, "rb") as f:
            f.seek(start * np.dtype(self.key_dtype).itemsize)
            o = start
            while o < stop:
                k = np.fromfile(f, dtype=self.key_dtype, count=min(_READ_ELEMS, stop - o))
                if k.shape[0] == 0:
                    raise OSError(f"the temporary key file {self.path} ended early (removed while in use?)")
                yield o, k
                o += k.shape[0]

    def stored(self) -> bool:
        """Whether the keys are held in memory or spilled (so any span of pairs can be read)."""
        return self.held is not None or self.path is not None

    def groups(self, hist: np.ndarray | None):
        """[(lo_bin, hi_bin, count, below)]: key-bin ranges holding at most ``cap`` values where possible."""
        if hist is None:
            return [(None, None, self.m, 0)]
        out, start, count, below = [], 0, 0, 0
        for b in np.flatnonzero(hist):
            c = int(hist[b])
            if count and count + c > self.cap:
                out.append((start, int(b), count, below))
                below += count
                start, count = int(b), 0
            count += c
        out.append((start, len(hist), count, below))
        return out

    def prefix(self, k: np.ndarray) -> np.ndarray:
        return (k >> self.key_dtype(self.shift)).astype(np.int64)

    def select(self, k: np.ndarray, group) -> np.ndarray | None:
        """Positions of the keys in the group's bin range (None: all of them), by comparing keys with its ends."""
        lo, hi = group[0], group[1]
        if lo is None:
            return None
        mask = None
        if lo > 0:
            mask = k >= (self.key_dtype(lo) << self.key_dtype(self.shift))
        if hi < (1 << 20):
            upper = k < (self.key_dtype(hi) << self.key_dtype(self.shift))
            mask = upper if mask is None else mask & upper
        return np.arange(k.shape[0]) if mask is None else np.flatnonzero(mask)

    def gather(self, group, payload_of, pool=None):
        """The group's keys with their uint32 payloads, sorted by key: (sorted keys, payloads or None).

        32-bit keys travel as one uint64 (key in the high half, payload in the low half) written through a uint32
        view, so one sort of plain integers orders both (in two threads with a ``pool``: see :func:`_sort`);
        64-bit keys are argsorted with their payload beside (in two threads with a ``pool``: :func:`_argsort`)."""
        count = group[2]
        keys = np.empty(count, dtype=np.uint64)
        pay = np.empty(count, dtype=np.uint32) if self.wide else None
        # with a pool (keys held or spilled), the first half of the pairs fills the front, the second the back
        _halves(pool if self.stored() else None, self.m, self._fill, group, payload_of, keys, pay)
        if self.wide:
            order = _argsort(keys, pool)
            return keys[order], pay[order]
        _sort(keys, pool)
        return keys, None

    def _fill(self, group, payload_of, keys, pay, span) -> None:
        """Write the group's keys and payloads among the pairs ``span`` into ``keys`` (and ``pay``): from its front
        for a span starting at pair 0, else from its back (the order within a group is free: it is sorted next)."""
        from_back = span[0] > 0
        halves = None if self.wide else keys.view(np.uint32)
        cur = keys.shape[0] if from_back else 0
        for o, k in self.chunks(span):
            idx = self.select(k, group)
            L = k.shape[0]
            if idx is not None:
                k = k[idx]
            n_in = k.shape[0]
            lo = cur - n_in if from_back else cur
            if self.wide:
                keys[lo:lo + n_in], pay[lo:lo + n_in] = k, payload_of(o, idx, L)
            else:
                halves[2 * lo + _HI:2 * (lo + n_in):2] = k
                halves[2 * lo + _LO:2 * (lo + n_in):2] = payload_of(o, idx, L)
            cur = lo if from_back else lo + n_in

    def ranks(self, group, sorted_keys, pay, span=None):
        """Yield (doubled average ranks as int64, uint32 payloads, sum of t^2 - 1 over the elements) over the sorted
        group's positions ``span`` (start, stop; default all), in sub-chunks; t is the length of an element's tie run,
        so the last term sums t^3 - t over runs.

        A run of equal values occupying sorted positions [s, e) has the doubled mean rank 2 below + s + e + 1: the
        run starts are where a value differs from its predecessor, each run's rank is repeated over its members,
        and the runs cut by a sub-chunk's edges are measured by a binary search in the whole sorted group."""
        below2 = 2 * group[3]
        start, stop = span or (0, sorted_keys.shape[0])
        halves = None if self.wide else sorted_keys.view(np.uint32)
        for c0 in range(start, stop, _SUB):
            c1 = min(stop, c0 + _SUB)
            if self.wide:
                ids, p = sorted_keys[c0:c1], pay[c0:c1]
            else:
                ids, p = halves[2 * c0 + _HI:2 * c1:2], halves[2 * c0 + _LO:2 * c1:2]
            s, e, lens, ties = _runs(sorted_keys, ids, c0, self._run_floor(ids[0]), self._run_ceiling(ids[-1]))
            s += e
            s += below2 + 2 * c0 + 1
            yield np.repeat(s, lens), p, ties

    def one_run(self, group, sorted_keys) -> bool:
        """Whether the group holds all m values and they are equal (a constant RDM)."""
        if group[2] != self.m or self.m == 0:
            return False
        return self._run_ceiling(self._key_of(sorted_keys[0])) >= sorted_keys[-1]

    def _key_of(self, value):
        return value if self.wide else value >> np.uint64(32)

    def _run_floor(self, key):
        """The smallest sorted value whose key is ``key`` (32-bit keys: that key with payload 0)."""
        return key if self.wide else np.uint64(key) << np.uint64(32)

    def _run_ceiling(self, key):
        """The largest sorted value whose key is ``key``."""
        return key if self.wide else (np.uint64(key) << np.uint64(32)) | np.uint64(0xFFFFFFFF)


def _runs(sorted_all: np.ndarray, ids: np.ndarray, c0: int, first, last):
    """The tie runs of ids, the keys at sorted positions c0.. of ``sorted_all``: (s, e, lens, tie term) with s, e
    the whole runs' starts and ends (exclusive) relative to c0 (the first run may begin before ids and the last go
    on after them: a binary search in ``sorted_all`` for ``first`` / ``last``, the smallest / largest stored value
    with ids' first / last key), lens the runs' lengths within ids, and the sum of lens (t^2 - 1), t = e - s."""
    L = ids.shape[0]
    change = np.empty(L, dtype=bool)
    change[0] = True
    np.not_equal(ids[1:], ids[:-1], out=change[1:])
    s = np.flatnonzero(change)  # local run starts
    e = np.empty_like(s)  # local run ends (exclusive)
    e[:-1], e[-1] = s[1:], L
    lens = e - s
    s[0] = np.searchsorted(sorted_all, first, "left") - c0
    e[-1] = np.searchsorted(sorted_all, last, "right") - c0
    ties = _tie_term(s, e, lens, L) if s.size < L or s[0] < 0 or e[-1] > L else 0.0
    return s, e, lens, ties


def _tie_term(s: np.ndarray, e: np.ndarray, lens: np.ndarray, L: int) -> float:
    """Sum over a sub-chunk's runs of lens (t^2 - 1), t = e - s the whole run's length: t = lens inside the
    sub-chunk, so sum lens^3 - L (int64: at most L^3, below 2^63 for sub-chunks of up to 2^21 values) corrected at
    the first and last run."""
    ties = float(int((lens * lens) @ lens) - L)
    for j in {0, s.size - 1}:
        t, k = float(e[j] - s[j]), float(lens[j])
        ties += k * (t * t - k * k)
    return ties


def _spill(A, B, ra: _Ranker, rb: _Ranker, folder: str, pool=None):
    """One pass over each source: their keys go to two files in ``folder`` (4 or 8 bytes per pair each) and their
    top-20-bit histograms are returned (with a pool, A's pass in it while B's runs here).  Later passes read the
    files instead of recomputing the RDMs."""
    need = sum(np.dtype(r.key_dtype).itemsize * r.m for r in (ra, rb))
    free = shutil.disk_usage(folder).free
    if need > free:
        raise OSError(f"exact Spearman ranks of {A.m} pairs write {need / 2**30:.1f} GiB of sort keys to a temporary "
                      f"folder, but {folder} has {free / 2**30:.1f} GiB free; set TMPDIR to a folder with more space, "
                      "or compare with compare='pearson' (streaming, no temporary files)")
    paths = os.path.join(folder, "a.keys"), os.path.join(folder, "b.keys")
    if pool is None:
        return _spill_one(ra, paths[0]), _spill_one(rb, paths[1])
    return _both(pool, lambda: _spill_one(ra, paths[0]), lambda: _spill_one(rb, paths[1]))


def _spill_one(r: _Ranker, path: str) -> np.ndarray:
    """Write the keys of ``r``'s source to ``path`` (then read from there) and return their histogram."""
    bins = 1 << 20
    hist = np.zeros(bins, dtype=np.int64)
    with open(path, "wb") as f:
        for _, v in r.src:
            k = r.keys(v)
            hist += np.bincount(r.prefix(k), minlength=bins)
            k.tofile(f)
    r.path = path
    return hist


def rank_terms(A, B, budget_bytes: int | None = None) -> tuple[float, float, float]:
    """(sum c_a c_b, sum c_a^2, sum c_b^2) over pairs, c = 2 r - (m + 1) the doubled centred average rank.

    When both RDMs' sort buffers fit the budget at once (and m is at least ``_THREADS_MIN``, about 1 M, below
    which threads cost more than they save) the ranking runs in two threads (the sorts and products release the
    GIL); when one group holds each, in this thread; otherwise the keys are spilled once to a temporary folder
    (removed on return) and ranked group by group, in two threads from ``_THREADS_MIN`` pairs on.

    The sums of squares need no pass of their own: doubled centred ranks of m values sum in square to (m^3 - m)/3
    without ties, and each tie run of length t takes away (t^3 - t)/3 (Kendall's tie correction)."""
    budget = budget_bytes or _BUDGET_BYTES
    ra, rb = _Ranker(A, budget), _Ranker(B, budget)
    m = ra.m
    if m > _MAX_PAIRS:
        raise ValueError(f"exact Spearman ranks hold pair indices and ranks as 32-bit integers: {m:,} pairs are more "
                         f"than {_MAX_PAIRS:,} (about 65,500 stimuli); compare a random subset of stimuli or use "
                         "compare='pearson' (streaming, any n)")
    threads = _THREADS_MIN <= m and (os.cpu_count() or 1) > 1
    if threads and 2 * m <= min(ra.cap, rb.cap):
        return _rank_terms_in_two_threads(ra, rb)
    if m <= min(ra.cap, rb.cap):
        return _rank_terms(ra, None, _ranks_by_pair(rb, None))
    with tempfile.TemporaryDirectory(prefix="unireps-rsa-ranks-") as folder, _two_threads(threads) as pool:
        hist_a, hist_b = _spill(A, B, ra, rb, folder, pool=pool)
        release_free_memory()  # the two threads' freed block buffers, before the ranks' 4 m bytes
        b_ranks = _ranks_by_pair(rb, hist_b, pool)
        release_free_memory()
        return _rank_terms(ra, hist_a, b_ranks, pool)


@contextlib.contextmanager
def _two_threads(wanted: bool = True):
    """A pool of two threads (None if not ``wanted``), with one intra-op thread for torch and the BLAS inside:
    two threads' products with two threads apiece would oversubscribe the cores."""
    if not wanted:
        yield None
        return
    from concurrent.futures import ThreadPoolExecutor

    from ..runtime import threads_for_small_ops

    with threads_for_small_ops(), ThreadPoolExecutor(2, thread_name_prefix="unireps-rsa-ranks") as pool:
        yield pool


def _both(pool, f, g):
    """(f(), g()): f in the pool while g runs in this thread."""
    later = pool.submit(f)
    here = g()
    return later.result(), here


def _halves(pool, count: int, work, *args) -> list:
    """[work(*args, (0, h)), work(*args, (h, count))] at once (one half in the pool), or [work(*args, (0, count))]
    without a pool."""
    if pool is None:
        return [work(*args, (0, count))]
    h = count // 2
    return list(_both(pool, lambda: work(*args, (0, h)), lambda: work(*args, (h, count))))


def _sort(values: np.ndarray, pool) -> None:
    """Sort in place; with a pool, in two threads: one partition at the median, then both halves at once."""
    h = values.shape[0] // 2
    if pool is None or h == 0:
        values.sort()
        return
    values.partition(h)
    _both(pool, values[:h].sort, values[h:].sort)


def _argsort(keys: np.ndarray, pool) -> np.ndarray:
    """Indices sorting ``keys``; with a pool, in two threads: one partition at the median, then both halves'
    argsorts at once (equal keys may lie on both sides of the median: the halves still concatenate in order)."""
    h = keys.shape[0] // 2
    if pool is None or h == 0:
        return np.argsort(keys)
    part = np.argpartition(keys, h)
    lo, hi = part[:h], part[h:]
    return np.concatenate(_both(pool, lambda: lo[np.argsort(keys[lo])], lambda: hi[np.argsort(keys[hi])]))


def _pair_index(o, idx, L):
    return np.arange(o, o + L, dtype=np.uint32) if idx is None else (idx + o).astype(np.uint32)


def _ranks_by_pair(r: _Ranker, hist, pool=None) -> tuple[np.ndarray, float, bool]:
    """(doubled average ranks in pair order as uint32, sum of t^3 - t over tie runs, whether all values are equal)."""
    rank = np.empty(r.m, dtype=np.uint32)
    ties, constant = 0.0, False
    for group in r.groups(hist):
        keys, pay = r.gather(group, _pair_index, pool)
        constant |= r.one_run(group, keys)
        ties += sum(_halves(pool, group[2], _scatter_ranks, r, group, keys, pay, rank))
        del keys, pay  # (the payloads are views of the keys: nothing of this group outlives the call above)
    return rank, ties, constant


def _ranks_by_table(r: _Ranker, pool) -> tuple[np.ndarray, float, bool] | None:
    """(as :func:`_ranks_by_pair`) for 32-bit keys held in memory that span fewer than ``_TABLE_SPAN`` m key
    values, else None: the keys alone are sorted (a copy, no payload: half the bytes of a key+payload sort), each
    tie run's doubled rank is written to a table indexed by key - lowest key (4 bytes per key value of the span),
    and the table is read in pair order (no scatter)."""
    if r.wide:
        return None
    held = r.held
    lo, hi = held.min(), held.max()
    if int(hi) - int(lo) >= _TABLE_SPAN * r.m:
        return None
    table = np.empty(int(hi - lo) + 1, dtype=np.uint32)
    ranked = held.copy()
    _sort(ranked, pool)
    ties = 0.0
    for c0 in range(0, r.m, _SUB):
        ids = ranked[c0:c0 + _SUB]
        s, e, _, t = _runs(ranked, ids, c0, ids[0], ids[-1])
        table[ids[s.clip(0)] - lo] = s + e + (2 * c0 + 1)  # runs cut by the sub-chunk's edges: the same value
        ties += t
    del ranked
    rank = np.empty(r.m, dtype=np.uint32)
    _halves(pool, r.m, _look_up, table, held, lo, rank)
    return rank, ties, bool(lo == hi)


def _look_up(table: np.ndarray, keys: np.ndarray, lo, out: np.ndarray, span) -> None:
    """out = table[keys - lo] over the positions ``span``, block by block."""
    for o in range(span[0], span[1], _BLOCK_ELEMS):
        e = min(span[1], o + _BLOCK_ELEMS)
        np.take(table, keys[o:e] - lo, out=out[o:e])


def _scatter_ranks(r: _Ranker, group, keys, pay, rank: np.ndarray, span) -> float:
    """rank[pair] = doubled rank over the positions ``span`` of one sorted group; returns their tie term."""
    ties = 0.0
    for r2, p, t in r.ranks(group, keys, pay, span):
        rank[p.astype(np.intp)] = r2
        ties += t
    return ties


def _cross_terms(ra: _Ranker, group, keys, pay, mid: int, span) -> tuple[float, float]:
    """(sum (r_a - mid)(r_b - mid), tie term) over the positions ``span`` of one sorted group of A whose payloads
    are B's doubled ranks."""
    cross = ties = 0.0
    for r2, p, t in ra.ranks(group, keys, pay, span):
        cross += float(np.subtract(r2, mid, dtype=np.float64) @ np.subtract(p, mid, dtype=np.float64))
        ties += t
    return cross, ties


def _sums_of_squares(m: int, ties_a: float, ties_b: float, constant) -> tuple[float, float]:
    full = (float(m) ** 3 - m) / 3.0
    ss_a, ss_b = full - ties_a / 3.0, full - ties_b / 3.0
    if constant[0] or constant[1] or not (ss_a > 0 and ss_b > 0):
        name = "A" if constant[0] or not ss_a > 0 else "B"
        raise ValueError(f"RDM {name} is constant (all dissimilarities equal), so its rank or correlation with "
                         "another RDM is undefined")
    return ss_a, ss_b


def _rank_terms(ra: _Ranker, hist_a, b_ranks, pool=None, a_keys=None) -> tuple[float, float, float]:
    """``b_ranks``: B's doubled ranks in pair order (one uint32 per pair), its tie term and whether it is constant;
    A's groups carry those ranks as payload, so the cross sum needs no random access.  With a pool, every sort
    and rank pass runs in two threads, and ``a_keys`` (a future) computes A's keys into memory meanwhile."""
    m = ra.m
    mid = m + 1  # doubled mean rank
    rank_b, ties_b, const_b = b_ranks
    if a_keys is not None:
        a_keys.result()

    def b_rank(o, idx, L):
        seg = rank_b[o:o + L]
        return seg if idx is None else seg[idx]

    cross, ties_a, const_a = 0.0, 0.0, False
    for group in ra.groups(hist_a):
        keys, pay = ra.gather(group, b_rank, pool)
        const_a |= ra.one_run(group, keys)
        for c, t in _halves(pool, group[2], _cross_terms, ra, group, keys, pay, mid):
            cross, ties_a = cross + c, ties_a + t
        del keys, pay
    return (cross, *_sums_of_squares(m, ties_a, ties_b, (const_a, const_b)))


def _rank_terms_in_two_threads(ra: _Ranker, rb: _Ranker) -> tuple[float, float, float]:
    """:func:`_rank_terms` with one group each, in two threads: A's keys are computed (its products) while B is
    ranked (through a table when its keys span a narrow range: :func:`_ranks_by_table`), and every later stage is
    split in halves."""
    with _two_threads() as pool:
        a_keys = pool.submit(ra.hold)
        rb.hold()
        b_ranks = _ranks_by_table(rb, pool) or _ranks_by_pair(rb, None, pool)
        rb.held = None
        return _rank_terms(ra, None, b_ranks, pool, a_keys)


def spearman(A, B, budget_bytes: int | None = None) -> float:
    """Spearman's rho between two condensed RDM sources: Pearson r of exact average ranks."""
    cross, ss_a, ss_b = rank_terms(A, B, budget_bytes)
    return cross / math.sqrt(ss_a * ss_b)
