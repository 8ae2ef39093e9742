"""Merging demos on the embedded default (digits), returning tidy DataFrames.

* :func:`lmc_width_sweep` — interpolation barriers between independently trained digits MLPs (64 -> h -> h -> 10,
  different seeds, no BatchNorm) before and after permutation alignment, for several widths h.
* :func:`multitask_merge_table` — a digits MLP trunk pretrained on the 10-way digit task with few labels, fine-tuned
  (head first, then everything) on several label tasks, each with its own head; the trunks are merged by every
  method and each task is scored with the merged trunk and its own fine-tuned head.
"""

from __future__ import annotations

import copy
import itertools
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..merge.arithmetic import task_arithmetic, ties_merge
from ..merge.fisher import diagonal_fisher, fisher_merge
from ..merge.lmc import barriers, lmc_curve
from ..merge.permutation import activation_matching, apply_permutation, spec_from_module, weight_matching
from ..merge.slerp import slerp
from ..merge.soups import greedy_soup, uniform_soup
from ..zoo.digits import deterministic, digits_mlp, digits_split, evaluate, train_classifier, trained_digits_model

ALIGNMENTS = ("naive", "weight_matching", "activation_matching")


def lmc_width_sweep(widths: Sequence[int] = (16, 64, 256, 512), seeds: Sequence[int] = (0, 1), *,
                    alignments: Sequence[str] = ALIGNMENTS, splits: Sequence[str] = ("train", "test"),
                    n_points: int = 11, epochs: int = 30, lr: float = 1e-3, depth: int = 2, split_seed: int = 0,
                    return_curves: bool = False):
    """Loss and error barriers of digits MLP pairs (every pair of ``seeds``) per width, alignment and split.

    Columns: width, seed_a, seed_b, alignment, split, loss_a, loss_b, error_a, error_b, loss_barrier,
    error_barrier.  Weight matching uses A's and B's weights; activation matching uses the train split.
    With ``return_curves`` also returns the curves (t, loss, error with the same key columns).
    """

    bad = set(alignments) - set(ALIGNMENTS)
    if bad:
        raise ValueError(f"unknown alignments {sorted(bad)}; accepted values: {', '.join(ALIGNMENTS)}")
    if len(seeds) < 2:
        raise ValueError("lmc_width_sweep needs at least two seeds (a pair of independently trained models)")
    if n_points < 11:
        raise ValueError(f"n_points must be >= 11 for a trustworthy barrier, got {n_points}")
    data = digits_split(split_seed)
    rows, curves = [], []
    with deterministic():
        for width in widths:
            for sa, sb in itertools.combinations(seeds, 2):
                a = trained_digits_model("mlp", width, sa, epochs=epochs, lr=lr, depth=depth, split_seed=split_seed)
                b = trained_digits_model("mlp", width, sb, epochs=epochs, lr=lr, depth=depth, split_seed=split_seed)
                spec = spec_from_module(a, data.x_test[:16])
                aligned = {}
                for al in alignments:
                    if al == "naive":
                        aligned[al] = b.state_dict()
                    elif al == "weight_matching":
                        perms = weight_matching(spec, a.state_dict(), b.state_dict(), seed=sa)
                        aligned[al] = apply_permutation(spec, perms, b.state_dict())
                    else:
                        perms = activation_matching(spec, a, b, data.x_train)
                        aligned[al] = apply_permutation(spec, perms, b.state_dict())
                for split in splits:
                    x, y = data.get(split)
                    ea, eb = evaluate(a, x, y), evaluate(b, x, y)
                    for al, sd_b in aligned.items():
                        curve = lmc_curve(a, a.state_dict(), sd_b, x, y, n_points=n_points)
                        key = {"width": int(width), "seed_a": sa, "seed_b": sb, "alignment": al, "split": split}
                        rows.append({**key, "loss_a": ea["loss"], "loss_b": eb["loss"], "error_a": ea["error"],
                                     "error_b": eb["error"], **barriers(curve)})
                        if return_curves:
                            curves.append(curve.assign(**key))
    table = pd.DataFrame(rows)
    if return_curves:
        return table, pd.concat(curves, ignore_index=True)
    return table


# ------------------------------------------------------------------------------------------------ multi-task

TASKS = {
    "parity": ("digit is odd", lambda y: y % 2, 2),
    "gt4": ("digit > 4", lambda y: (y > 4).long(), 2),
    "mod3": ("digit mod 3", lambda y: y % 3, 3),
    "loop": ("digit has a closed loop (0, 4, 6, 8, 9)", lambda y: torch.isin(y, torch.tensor([0, 4, 6, 8, 9])).long(),
             2),
    "low": ("which digit, among 0-4 vs 'other'", lambda y: torch.where(y < 5, y, torch.full_like(y, 5)), 6),
}
MERGE_METHODS = ("pretrained", "uniform_soup", "greedy_soup", "task_arithmetic", "ties", "fisher", "slerp")


def _task_model(trunk: nn.Module, head: nn.Module) -> nn.Sequential:
    return nn.Sequential(OrderedDict(trunk=trunk, head=head))


def _trunk(width: int) -> nn.Sequential:
    """The digits MLP without its output layer (weights from the global RNG)."""

    full = digits_mlp(width=width, depth=2, seed=None)
    return nn.Sequential(OrderedDict((n, m) for n, m in full.named_children() if n != "out"))


def multitask_merge_table(tasks: Sequence[str] = ("parity", "gt4", "mod3"), *, width: int = 64, seed: int = 0,
                          pretrain_labels: int = 100, pretrain_epochs: int = 30, probe_epochs: int = 20,
                          finetune_epochs: int = 20, finetune_lr: float = 1e-3, methods: Sequence[str] = MERGE_METHODS,
                          scalings: Sequence[float] = (0.2, 0.4, 0.6, 0.8, 1.0, 1.2),
                          ties_densities: Sequence[float] = (0.2, 0.5, 1.0),
                          split_seed: int = 0) -> pd.DataFrame:
    """Merged vs individually fine-tuned accuracy per task (digits, shared MLP trunk, one head per task).

    Pretraining: the 10-way digit task on ``pretrain_labels`` labelled training digits.  Each task: a linear head
    trained on the frozen pretrained trunk (``probe_epochs``), then trunk and head fine-tuned together on the
    whole train split.  Merges act on the trunk's state_dict only; the scaling λ of task arithmetic and TIES (and
    TIES' density, from ``ties_densities``) is chosen on the val split (mean normalised accuracy); greedy soup
    scores ingredients by the same val measure; Fisher merging uses each fine-tuned model's expected diagonal
    Fisher on its task's train inputs; SLERP merges more than two trunks incrementally (θ ← slerp(θ, θ_k, 1/k)).
    Rows: method, task, accuracy (test), finetuned_accuracy, normalized_accuracy = accuracy / finetuned_accuracy,
    setting (the chosen hyperparameters).
    """

    unknown = [t for t in tasks if t not in TASKS]
    if unknown or len(tasks) < 2:
        raise ValueError(f"tasks must be >= 2 of {', '.join(TASKS)}; got {list(tasks)}")
    bad = set(methods) - set(MERGE_METHODS)
    if bad:
        raise ValueError(f"unknown methods {sorted(bad)}; accepted values: {', '.join(MERGE_METHODS)}")
    data = digits_split(split_seed)
    labels = {split: {t: TASKS[t][1](data.get(split)[1]) for t in tasks} for split in ("train", "val", "test")}
    with deterministic(), torch.random.fork_rng(devices=[]):  # seeded draws; the caller's RNG is left as it was
        torch.manual_seed(seed)
        trunk = _trunk(width)
        head10 = nn.Linear(width, 10)
        rng = np.random.default_rng(seed)
        few = torch.as_tensor(rng.choice(len(data.x_train), size=min(pretrain_labels, len(data.x_train)),
                                         replace=False))
        train_classifier(_task_model(trunk, head10), data.x_train[few], data.y_train[few], epochs=pretrain_epochs,
                         seed=seed)
        pre = copy.deepcopy(trunk.state_dict())
        heads, finetuned, fishers = {}, {}, {}
        for i, t in enumerate(tasks):
            torch.manual_seed(seed + 100 + i)
            head = nn.Linear(width, TASKS[t][2])
            model = _task_model(copy.deepcopy(trunk), head)
            train_classifier(model, data.x_train, labels["train"][t], epochs=probe_epochs, lr=1e-2,
                             seed=seed + i, params=list(head.parameters()))
            train_classifier(model, data.x_train, labels["train"][t], epochs=finetune_epochs, lr=finetune_lr,
                             seed=seed + i)
            heads[t] = model.head
            finetuned[t] = copy.deepcopy(model.trunk.state_dict())
            if "fisher" in methods:
                full = diagonal_fisher(model, data.x_train, mode="expected", batch_size=128)
                fishers[t] = {k[len("trunk."):]: v for k, v in full.items() if k.startswith("trunk.")}

        probe_model = {t: _task_model(copy.deepcopy(trunk), heads[t]) for t in tasks}

        def accuracy(trunk_sd: dict, t: str, split: str) -> float:
            m = probe_model[t]
            m.trunk.load_state_dict(trunk_sd)
            return evaluate(m, data.get(split)[0], labels[split][t])["accuracy"]

        ft_acc = {split: {t: accuracy(finetuned[t], t, split) for t in tasks} for split in ("val", "test")}

        def val_score(sd: dict) -> float:
            return float(np.mean([accuracy(sd, t, "val") / ft_acc["val"][t] for t in tasks]))

        fts = [finetuned[t] for t in tasks]
        merged: dict[str, tuple[dict, str]] = {"individual": ({}, "")}
        for method in methods:
            if method == "pretrained":
                merged[method] = (pre, "")
            elif method == "uniform_soup":
                merged[method] = (uniform_soup(fts), "")
            elif method == "greedy_soup":
                res = greedy_soup(fts, val_score)
                merged[method] = (res.state_dict, "ingredients=" + "+".join(tasks[i] for i in res.selected))
            elif method in ("task_arithmetic", "ties"):
                best = None
                densities = ties_densities if method == "ties" else (None,)
                for density, lam in itertools.product(densities, scalings):
                    if method == "task_arithmetic":
                        sd = task_arithmetic(pre, fts, scaling=lam)
                    else:
                        sd = ties_merge(pre, fts, density=density, scaling=lam)
                    sc = val_score(sd)
                    if best is None or sc > best[0] + 1e-12:
                        best = (sc, sd, lam, density)
                extra = f", density={best[3]}" if method == "ties" else ""
                merged[method] = (best[1], f"lambda={best[2]}{extra}")
            elif method == "fisher":
                merged[method] = (fisher_merge(fts, [fishers[t] for t in tasks]), "expected diagonal Fisher")
            elif method == "slerp":
                sd = fts[0]
                for k in range(1, len(fts)):
                    sd = slerp(sd, fts[k], t=1.0 / (k + 1))
                merged[method] = (sd, "incremental t=1/k" if len(fts) > 2 else "t=0.5")
        rows = []
        for method, (sd, setting) in merged.items():
            for t in tasks:
                acc = ft_acc["test"][t] if method == "individual" else accuracy(sd, t, "test")
                rows.append({"method": method, "task": t, "accuracy": acc, "finetuned_accuracy": ft_acc["test"][t],
                             "normalized_accuracy": acc / ft_acc["test"][t], "setting": setting})
    return pd.DataFrame(rows)


def summarise_merge_table(table: pd.DataFrame) -> pd.DataFrame:
    """One row per method: normalised accuracy per task and their mean (methods in the table's order)."""
    wide = table.pivot(index="method", columns="task", values="normalized_accuracy")
    wide = wide.reindex(list(dict.fromkeys(table["method"])))
    wide["mean"] = wide.mean(axis=1)
    return wide
