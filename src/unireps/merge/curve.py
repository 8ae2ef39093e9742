"""The merge of two models as a function of the weight on the second: one curve per merging method, with or
without permutation alignment (Git Re-Basin) first — the app's interactive merging demo, on two digits MLPs."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .arithmetic import add_task_vectors, task_vector, ties_merge
from .fisher import diagonal_fisher, fisher_merge
from .permutation import apply_permutation, spec_from_module, weight_matching
from .slerp import slerp
from .soups import uniform_soup

CURVE_METHODS = ("uniform", "task_arithmetic", "ties", "fisher", "slerp")


def merge_at(method: str, a: dict, b: dict, t: float, *, base: dict | None = None, fishers=None,
             ties_density: float = 0.2) -> dict:
    """The merge of state_dicts ``a`` and ``b`` with weight ``t`` on ``b`` (``1 - t`` on ``a``):

    * ``uniform``: (1 − t) θ_a + t θ_b (a weighted model soup, Wortsman et al. 2022; linear interpolation);
    * ``task_arithmetic``: θ_0 + 2[(1 − t) τ_a + t τ_b] with task vectors τ = θ − θ_0 (Ilharco et al. 2023): at
      t = 1/2 the sum of the two task vectors, at t = 0 or 1 one vector doubled;
    * ``ties``: θ_0 + TIES of the same weighted task vectors (trimmed to ``ties_density``, sign elected, disjoint
      mean; Yadav et al. 2023);
    * ``fisher``: Σ w_i F_i θ_i / Σ w_i F_i with w = (1 − t, t) and diagonal Fishers ``fishers`` (Matena & Raffel
      2022);
    * ``slerp``: per-tensor spherical interpolation (Shoemake 1985).

    ``base`` (θ_0) is needed by the task-vector methods, ``fishers`` (two dicts) by ``fisher``.

    >>> import torch
    >>> a, b = {"w": torch.tensor([1.0, 0.0])}, {"w": torch.tensor([0.0, 1.0])}
    >>> merge_at("uniform", a, b, 0.25)["w"].tolist()
    [0.75, 0.25]
    """
    t = float(t)
    if not 0.0 <= t <= 1.0:
        raise ValueError(f"the weight t on the second model must be in [0, 1], got {t}")
    if method == "uniform":
        return uniform_soup([a, b], [1.0 - t, t])
    if method == "slerp":
        return slerp(a, b, t)
    if method == "fisher":
        if fishers is None:
            raise ValueError("fisher merging needs the two models' diagonal Fishers (merge.diagonal_fisher)")
        return fisher_merge([a, b], fishers, weights=[max(1.0 - t, 1e-6), max(t, 1e-6)])
    if method in ("task_arithmetic", "ties"):
        if base is None:
            raise ValueError(f"{method} needs the base state_dict θ_0 the task vectors are taken from")
        va = {k: 2.0 * (1.0 - t) * v for k, v in task_vector(a, base).items()}
        vb = {k: 2.0 * t * v for k, v in task_vector(b, base).items()}
        if method == "task_arithmetic":
            return add_task_vectors(base, [va, vb], 1.0)
        return ties_merge(base, [add_task_vectors(base, [va], 1.0), add_task_vectors(base, [vb], 1.0)],
                          density=ties_density, scaling=1.0)
    raise ValueError(f"unknown merging method {method!r}; accepted: {', '.join(CURVE_METHODS)}")


def digits_merge_curve(method: str = "uniform", rebasin: bool = False, weights: Sequence[float] | None = None, *,
                       width: int = 64, seeds: tuple[int, int] = (0, 1), epochs: int = 30, split: str = "test",
                       ties_density: float = 0.2, split_seed: int = 0) -> pd.DataFrame:
    """Loss and accuracy of :func:`merge_at` between two digits MLPs (64 → width → width → 10; A = ``seeds[0]``,
    B = ``seeds[1]``) for each weight t on B, on ``split``.  With ``rebasin``, B's hidden units are first permuted
    onto A's by weight matching (Ainsworth, Hayase & Srinivasa 2023).  The task-vector methods take θ_0 = A's
    random initialisation (the two models share no pre-trained ancestor); Fisher merging uses each model's expected
    diagonal Fisher on 512 training digits.  Columns: method, rebasin, t, loss, accuracy.

    >>> df = digits_merge_curve("uniform", weights=[0.0, 1.0], width=16, epochs=2)
    >>> df[["t", "accuracy"]].shape
    (2, 2)
    """
    from ..zoo.digits import deterministic, digits_split, evaluate, make_digits_model, trained_digits_model

    if method not in CURVE_METHODS:
        raise ValueError(f"unknown merging method {method!r}; accepted: {', '.join(CURVE_METHODS)}")
    weights = np.linspace(0.0, 1.0, 11) if weights is None else np.asarray(list(weights), dtype=float)
    data = digits_split(split_seed)
    x, y = data.get(split)
    with deterministic():
        ma = trained_digits_model("mlp", width, seeds[0], epochs=epochs, split_seed=split_seed)
        mb = trained_digits_model("mlp", width, seeds[1], epochs=epochs, split_seed=split_seed)
        a, b = ma.state_dict(), mb.state_dict()
        if rebasin:
            spec = spec_from_module(ma, data.x_test[:16])
            b = apply_permutation(spec, weight_matching(spec, a, b, seed=seeds[0]), b)
            mb.load_state_dict(b)
        base = make_digits_model("mlp", width=width, seed=seeds[0]).state_dict()
        fishers = None
        if method == "fisher":
            fishers = [diagonal_fisher(m, data.x_train[:512], mode="expected", batch_size=128) for m in (ma, mb)]
        probe = make_digits_model("mlp", width=width, seed=None)
        rows = []
        for t in weights:
            probe.load_state_dict(merge_at(method, a, b, float(t), base=base, fishers=fishers,
                                           ties_density=ties_density))
            ev = evaluate(probe.eval(), x, y)
            rows.append({"method": method, "rebasin": bool(rebasin), "t": float(t), "loss": ev["loss"],
                         "accuracy": ev["accuracy"]})
    return pd.DataFrame(rows)
