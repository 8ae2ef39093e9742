"""Measures stay on the device of their torch input.

On the CPU (always): every registered measure runs on torch tensors under ``DeviceLeakMode``, a
``TorchFunctionMode`` that follows the data (the inputs and every tensor computed from them) and records each
``Tensor.cpu``, ``Tensor.numpy``, ``Tensor.tolist``, ``Tensor.__array__`` and ``Tensor.to(<cpu>)`` applied to
it.  ``.to(x.device)`` with the device of the data is not a move and is not recorded; scalars read back with
``float()`` / ``.item()`` (the result) are allowed.  Documented exceptions (docs/scale.md) must leak, so the
list stays true.  With CUDA (skipped here): every measure on CUDA tensors equals its CPU value, with the same
no-leak check, and the out-of-core functions run with ``device="cuda"``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.overrides import TorchFunctionMode

from unireps.metrics import _validate, list_metrics, ooc, rsa

_MOVES = {"cpu", "numpy", "tolist", "__array__"}
_TAG = "_unireps_on_device"

# measure (with options) -> why it leaves the device; keep in sync with docs/scale.md
DOCUMENTED_LEAKS = {
    "rsa(compare='kendall_tau_a')": "scipy.stats.kendalltau on the CPU (O(m log m) tau-b), m = n(n-1)/2 pairs",
    "rsa(compare='kendall_tau_b')": "scipy.stats.kendalltau on the CPU (O(m log m) tau-b), m = n(n-1)/2 pairs",
}


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Small matrices: one intra-op thread is faster, and spares a shared machine (restored afterwards).

    The host routes (numpy BLAS / sorting for CPU tensors only, ``unireps.metrics._validate.HOST_ROUTES``) are
    switched off, so that the CPU run follows the route an accelerator's tensors take."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    _validate.HOST_ROUTES = False
    yield
    _validate.HOST_ROUTES = True
    torch.set_num_threads(before)


def _flat(obj):
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for o in obj:
            yield from _flat(o)
    elif isinstance(obj, dict):
        for o in obj.values():
            yield from _flat(o)


def _on_device(t) -> bool:
    return isinstance(t, torch.Tensor) and getattr(t, _TAG, False)


def mark(*tensors):
    for t in tensors:
        setattr(t, _TAG, True)
    return tensors


class DeviceLeakMode(TorchFunctionMode):
    """Records every transfer of data-derived tensors to the CPU / numpy / Python lists (``leaks``), and every
    operation that mixes data tensors with host tensors made without the data's device (``mixes``): on CUDA
    those raise "Expected all tensors to be on the same device".  A tensor made with ``device=`` a device read
    from the data, or moved with ``.to(<that device>)``, counts as data; 0-dim host tensors (CPU scalars) and
    host index tensors into data tensors are allowed, as CUDA allows them."""

    def __init__(self):
        super().__init__()
        self.leaks: list[str] = []
        self.mixes: list[str] = []
        self._data_devices: list[torch.device] = []  # device objects read from data tensors (kept alive)

    def _is_data_device(self, dev) -> bool:
        return any(dev is d for d in self._data_devices)

    def _target_device(self, args, kwargs):
        cands = list(args[1:]) + [kwargs.get("device")]
        for a in cands:
            if isinstance(a, torch.Tensor):
                return None if _on_device(a) else a.device
            if isinstance(a, torch.device):
                return None if self._is_data_device(a) else a
            if isinstance(a, (str, int)) and not isinstance(a, bool):
                return torch.device(a)
        return None

    def _to_data_device(self, name, args, kwargs) -> bool:
        devs = [kwargs.get("device")] + (list(args[1:]) if name == "to" else [])
        return any(isinstance(d, torch.device) and self._is_data_device(d) for d in devs)

    def _check_mix(self, name, args, kwargs) -> None:
        def host(t):
            return isinstance(t, torch.Tensor) and not _on_device(t) and t.dim() > 0

        if name == "__getitem__":
            bad = not _on_device(args[0]) and any(_on_device(t) for t in _flat(args[1:]))
        elif name == "__setitem__":
            bad = (not _on_device(args[0]) and _on_device(args[2])) or (_on_device(args[0]) and host(args[2]))
        elif name in ("to", "copy_", "__set__", "__get__"):
            bad = False
        else:
            bad = any(host(t) for t in _flat((args, kwargs)))
        if bad:
            self.mixes.append(name)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        data_in = any(_on_device(t) for t in _flat((args, kwargs)))
        name = getattr(func, "__name__", str(func))
        if data_in:
            self._check_mix(name, args, kwargs)
        if data_in and args and _on_device(args[0]):
            if name in _MOVES:
                self.leaks.append(f"Tensor.{name}")
            elif name == "to":
                dev = self._target_device(args, kwargs)
                if dev is not None and dev.type == "cpu":
                    self.leaks.append(f"Tensor.to({dev})")
        out = func(*args, **kwargs)
        if data_in or self._to_data_device(name, args, kwargs):
            if isinstance(out, torch.device):
                self._data_devices.append(out)
            for t in _flat(out):
                try:
                    setattr(t, _TAG, True)
                except (AttributeError, RuntimeError):  # pragma: no cover
                    pass
        return out


def _inputs(info, n=64, device="cpu", seed=0):
    g = torch.Generator().manual_seed(seed)
    dx, dy = (12, 12) if info.equal_dims else (12, 9)
    z = torch.randn(n, 4, generator=g, dtype=torch.float64)
    X = z @ torch.randn(4, dx, generator=g, dtype=torch.float64) + 0.5 * torch.randn(n, dx, generator=g,
                                                                                      dtype=torch.float64)
    Y = torch.tanh(z) @ torch.randn(4, dy, generator=g, dtype=torch.float64) + 0.5 * torch.randn(
        n, dy, generator=g, dtype=torch.float64)
    return X.to(device), Y.to(device)


def _run_checked(fn, *args, **kwargs):
    """(value, leaks); fails on any host/device mix (which would raise on CUDA)."""
    mode = DeviceLeakMode()
    args = tuple(a.clone() if isinstance(a, torch.Tensor) else a for a in args)
    mark(*(a for a in args if isinstance(a, torch.Tensor)))
    with mode:
        value = fn(*args, **kwargs)
    assert not mode.mixes, f"host tensors mixed with device data in: {sorted(set(mode.mixes))}"
    return value, mode.leaks


METRICS = [m.name for m in list_metrics()]


def test_leak_mode_detects_moves():
    x = torch.randn(5, 3)
    for fn in (lambda t: t.cpu(), lambda t: t.numpy(), lambda t: t.tolist(), lambda t: np.asarray(t),
               lambda t: (t * 2).to("cpu"), lambda t: t.sum(0).to(torch.device("cpu"), torch.float64)):
        _, leaks = _run_checked(fn, x)
        assert leaks, fn
    # not moves: the data's own device, dtype changes, scalar results, host tensors sent to the data's device
    for fn in (lambda t: t.to(t.device), lambda t: t.double(), lambda t: float(t.sum()),
               lambda t: t[torch.randperm(5).to(t.device)], lambda t: t.to(t)):
        _, leaks = _run_checked(fn, x)
        assert not leaks, fn


def test_mix_check_detects_host_tensors():
    """Host tensors made without the data's device, combined with data: an error on CUDA, caught here."""
    x = torch.randn(6, 3)
    for fn in (lambda t: t + torch.ones(6, 3), lambda t: t @ torch.eye(3), lambda t: torch.cat([t, torch.zeros(1, 3)]),
               lambda t: torch.zeros(6, 3).index_copy_(0, torch.arange(6), t),
               lambda t: torch.arange(10)[t.argmax(0)]):
        with pytest.raises(AssertionError, match="host tensors mixed"):
            _run_checked(fn, x)
    # fine on CUDA: the data's device, CPU scalars, host indices into data, Python numbers
    for fn in (lambda t: t + torch.ones(6, 3, device=t.device), lambda t: t * torch.tensor(2.0),
               lambda t: t[torch.arange(3)], lambda t: t @ torch.eye(3).to(t.device), lambda t: t.sum() * 3,
               lambda t: torch.zeros_like(t) + t):
        _run_checked(fn, x)


@pytest.mark.parametrize("name", METRICS)
def test_measures_stay_on_device(name):
    info = next(m for m in list_metrics() if m.name == name)
    X, Y = _inputs(info)
    value, leaks = _run_checked(info.fn, X, Y, **info.default_kwargs)
    assert np.isfinite(value)
    assert not leaks, f"{name} moves data off the device: {leaks}"


def test_documented_leaks_still_leak():
    """The exceptions listed in docs/scale.md: if one stops leaving the device, update the docs."""
    info = next(m for m in list_metrics() if m.name == "rsa")
    X, Y = _inputs(info)
    _, leaks = _run_checked(rsa, X, Y, compare="kendall_tau_a")
    assert leaks and "rsa(compare='kendall_tau_a')" in DOCUMENTED_LEAKS


@pytest.mark.parametrize("compare", ["spearman", "pearson", "cosine"])
@pytest.mark.parametrize("rdm", ["correlation", "euclidean", "cosine"])
def test_rsa_options_stay_on_device(rdm, compare):
    info = next(m for m in list_metrics() if m.name == "rsa")
    X, Y = _inputs(info)
    _, leaks = _run_checked(rsa, X, Y, rdm=rdm, compare=compare)
    assert not leaks


@pytest.mark.parametrize("debiased", [False, True])
def test_streaming_and_ooc_stay_on_device(debiased):
    info = next(m for m in list_metrics() if m.name == "linear_cka")
    X, Y = _inputs(info, n=200)

    def run(x, y):
        out = [ooc.streaming_linear_cka(x, y, debiased=debiased, batch_size=37)]
        c = ooc.streaming_cca(x, y, batch_size=50)
        out += [c.cca(), c.svcca(), c.pwcca(), c.procrustes()]
        out.append(ooc.streaming_predictability(x, y, batch_size=64))
        out.append(float(ooc.mutual_knn_ooc(x, y, 5, batch_size=70, query_batch_size=64)))
        out.append(float(ooc.chunked_knn(x, 5, batch_size=70).similarities.sum()))
        return out

    values, leaks = _run_checked(run, X, Y)
    assert all(np.isfinite(values))
    assert not leaks, leaks


STATS_METRICS = ["linear_cka", "rbf_cka", "rsa", "mutual_knn", "cknna", "cca", "svcca", "procrustes",
                 "linear_predictability"]


@pytest.mark.parametrize("metric", STATS_METRICS)
def test_statistics_stay_on_device(metric):
    """Permutation tests, bootstrap CIs and the chance-corrected score with each scorer (fast paths included)."""
    from unireps.metrics import bootstrap_ci, null_calibrated, permutation_test

    info = next(m for m in list_metrics() if m.name == metric)
    X, Y = _inputs(info, n=48)

    def run(x, y):
        p = permutation_test(x, y, metric, n_permutations=20, seed=1)
        b = bootstrap_ci(x, y, metric, n_boot=20, seed=1)
        c = null_calibrated(x, y, metric, n_permutations=10, seed=1)
        return [p.value, p.p_value, b.low, b.high, c["calibrated"]]

    values, leaks = _run_checked(run, X, Y)
    assert np.all(np.isfinite(values))
    assert not leaks, leaks


@pytest.mark.parametrize("metric", ["linear_cka", "rbf_cka", "rsa", "mutual_knn", "cca"])
def test_layer_similarity_moves_only_its_result(metric):
    """layer_similarity returns a numpy (len(a), len(b)) matrix: at most that one transfer at the end."""
    from unireps.metrics import layer_similarity

    info = next(m for m in list_metrics() if m.name == "linear_cka")
    X, Y = _inputs(info, n=60)
    M, leaks = _run_checked(lambda x, y: layer_similarity([x, y, x[:, :5]], [y, x], metric), X, Y)
    assert M.shape == (3, 2) and np.isfinite(M).all()
    assert leaks in ([], ["Tensor.cpu", "Tensor.numpy"]), leaks


def test_rdms_and_streaming_objects_stay_on_device():
    from unireps.metrics import StreamingCKA, bootstrap_rdms, rsa_rdms
    from unireps.metrics.rsa import rdm_matrix

    info = next(m for m in list_metrics() if m.name == "linear_cka")
    X, Y = _inputs(info, n=60)

    def run(x, y):
        out = []
        A, B = rdm_matrix(x), rdm_matrix(y)
        out.append(rsa_rdms(A, B))
        r = bootstrap_rdms(A, B, n_boot=20, seed=0)
        out += [r.low, r.high]
        for estimator in ("exact", "minibatch"):
            for debiased in (False, True):
                s = StreamingCKA(debiased=debiased, estimator=estimator)
                for i in range(0, 60, 20):
                    s.update(x[i:i + 20], y[i:i + 20])
                out.append(s.compute())
        return out

    values, leaks = _run_checked(run, X, Y)
    assert np.all(np.isfinite(values))
    assert not leaks, leaks


# ------------------------------------------------------------------------------------------------- CUDA

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available")


@cuda
@pytest.mark.parametrize("name", METRICS)
def test_cuda_equals_cpu_without_leaving(name):
    info = next(m for m in list_metrics() if m.name == name)
    X, Y = _inputs(info)
    want = info.fn(X, Y, **info.default_kwargs)
    got, leaks = _run_checked(info.fn, X.cuda(), Y.cuda(), **info.default_kwargs)
    assert not leaks, f"{name} moves CUDA data to the CPU: {leaks}"
    assert abs(got - want) < 1e-8


@cuda
def test_cuda_out_of_core():
    info = next(m for m in list_metrics() if m.name == "linear_cka")
    X, Y = _inputs(info, n=500)
    Xn, Yn = X.numpy(), Y.numpy()  # host sources, batches moved to the device
    for deb in (False, True):
        a = ooc.streaming_linear_cka(Xn, Yn, debiased=deb, batch_size=128, device="cuda")
        b = ooc.streaming_linear_cka(Xn, Yn, debiased=deb, batch_size=128)
        assert abs(a - b) < 1e-10
    assert abs(ooc.streaming_cca(Xn, Yn, device="cuda").cca() - ooc.streaming_cca(Xn, Yn).cca()) < 1e-8
    assert abs(ooc.streaming_predictability(Xn, Yn, device="cuda") - ooc.streaming_predictability(Xn, Yn)) < 1e-8
    r_gpu = ooc.chunked_knn(Xn, 5, batch_size=100, device="cuda")
    assert r_gpu.indices.device.type == "cuda"
    assert torch.equal(r_gpu.indices.cpu(), ooc.chunked_knn(Xn, 5, batch_size=100).indices)
    _, leaks = _run_checked(lambda x, y: ooc.streaming_linear_cka(x, y, batch_size=100), X.cuda(), Y.cuda())
    assert not leaks


@cuda
def test_cuda_statistics_and_layers_equal_cpu():
    from unireps.metrics import bootstrap_ci, bootstrap_rdms, layer_similarity, permutation_test
    from unireps.metrics.rsa import rdm_matrix

    info = next(m for m in list_metrics() if m.name == "linear_cka")
    X, Y = _inputs(info, n=80)
    Xc, Yc = X.cuda(), Y.cuda()
    for metric in ("linear_cka", "mutual_knn", "rsa"):
        a, b = permutation_test(X, Y, metric, n_permutations=30), permutation_test(Xc, Yc, metric, n_permutations=30)
        assert abs(a.value - b.value) < 1e-8
        a, b = bootstrap_ci(X, Y, metric, n_boot=30), bootstrap_ci(Xc, Yc, metric, n_boot=30)
        assert abs(a.value - b.value) < 1e-8
        np.testing.assert_allclose(layer_similarity([Xc, Yc], [Yc], metric), layer_similarity([X, Y], [Y], metric),
                                   atol=1e-8)
    r = bootstrap_rdms(rdm_matrix(Xc), rdm_matrix(Yc), n_boot=30)
    assert abs(r.value - bootstrap_rdms(rdm_matrix(X), rdm_matrix(Y), n_boot=30).value) < 1e-8
