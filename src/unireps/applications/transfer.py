"""Transfer demos on the embedded default (digits), returning tidy DataFrames.

A and B are digits MLPs (:mod:`unireps.zoo.digits`) of different seeds (and, by default, widths 64 and 128);
their embeddings are the penultimate layer (``relu2``) on the train and test splits of ``digits_split()``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from ..metrics import linear_cka
from ..stitch.core import StitchableModel
from ..transfer.distill import distill
from ..transfer.probe import TRANSFER_METHODS, cross_model_retrieval, probe_transfer
from ..zoo.digits import deterministic, digits_split, trained_digits_model


def digits_embeddings(width_a: int = 64, width_b: int = 128, seed_a: int = 0, seed_b: int = 1, layer: str = "relu2",
                      arch: str = "mlp", epochs: int = 30, split_seed: int = 0):
    """``(emb_a, emb_b, labels, train_idx, test_idx)``: rows = the train split then the test split of the digits."""

    data = digits_split(split_seed)
    x = torch.cat([data.x_train, data.x_test])
    y = torch.cat([data.y_train, data.y_test]).numpy()
    with deterministic():
        embs = []
        for w, s in ((width_a, seed_a), (width_b, seed_b)):
            model = StitchableModel.wrap(trained_digits_model(arch, w, s, epochs=epochs, split_seed=split_seed))
            embs.append(model.features(x, layer).reshape(len(x), -1).double().numpy())
    n_tr = len(data.x_train)
    return embs[0], embs[1], y, np.arange(n_tr), np.arange(n_tr, len(x))


def digits_probe_transfer(n_anchors: Sequence[int] = (10, 20, 50, 100, 200, 500), *, width_a: int = 64,
                          width_b: int = 128, seeds: tuple[int, int] = (0, 1),
                          methods: Sequence[str] = TRANSFER_METHODS, n_repeats: int = 3, seed: int = 0,
                          alpha: float = 1e-2) -> pd.DataFrame:
    """:func:`probe_transfer` on two digits MLPs' penultimate embeddings; adds width_a, width_b, seed_a, seed_b."""
    a, b, y, tr, te = digits_embeddings(width_a, width_b, seeds[0], seeds[1])
    df = probe_transfer(a, b, y, tr, te, n_anchors=n_anchors, methods=methods, n_repeats=n_repeats, seed=seed,
                        alpha=alpha)
    return df.assign(width_a=width_a, width_b=width_b, seed_a=seeds[0], seed_b=seeds[1])


def digits_cross_model_retrieval(n_anchors: Sequence[int] = (10, 20, 50, 100, 200, 500), *, width_a: int = 64,
                                 width_b: int = 128, seeds: tuple[int, int] = (0, 1),
                                 methods: Sequence[str] = TRANSFER_METHODS, n_repeats: int = 3, seed: int = 0,
                                 alpha: float = 1e-2) -> pd.DataFrame:
    """:func:`cross_model_retrieval` (B's test digits retrieve A's) on two digits MLPs' penultimate embeddings."""
    a, b, _, tr, te = digits_embeddings(width_a, width_b, seeds[0], seeds[1])
    df = cross_model_retrieval(a, b, tr, te, n_anchors=n_anchors, methods=methods, n_repeats=n_repeats, seed=seed,
                               alpha=alpha)
    return df.assign(width_a=width_a, width_b=width_b, seed_a=seeds[0], seed_b=seeds[1])


def distillation_cka(*, width_a: int = 64, width_b: int = 64, teacher_seed: int = 0, student_seed: int = 1,
                     temperature: float = 4.0, epochs: int = 30, layers: Sequence[str] = ("relu1", "relu2", "out"),
                     split_seed: int = 0) -> pd.DataFrame:
    """CKA between teacher A and student B, before vs after distilling B from A's logits, vs an independent B.

    Students (same architecture, initialised with ``student_seed``): ``init`` (untrained: before distillation),
    ``independent`` (trained on the labels), ``distilled`` (trained on A's logits only, KL at ``temperature``).
    Rows: student, layer, linear_cka (test split, vs A at the same layer), accuracy (test), agreement (fraction of
    test digits where B's and A's top-1 predictions agree).
    """
    from ..zoo.digits import (
        deterministic,
        digits_split,
        make_digits_model,
        predict_logits,
        trained_digits_model,
    )

    data = digits_split(split_seed)
    with deterministic():
        teacher = trained_digits_model("mlp", width_a, teacher_seed, epochs=epochs, split_seed=split_seed)
        students = {
            "init": make_digits_model("mlp", width_b, seed=student_seed).eval(),
            "independent": trained_digits_model("mlp", width_b, student_seed, epochs=epochs, split_seed=split_seed),
        }
        distilled = make_digits_model("mlp", width_b, seed=student_seed)
        distill(distilled, teacher, data.x_train, temperature=temperature, epochs=epochs, seed=student_seed)
        students["distilled"] = distilled
        ta = StitchableModel.wrap(teacher)
        pred_a = predict_logits(teacher, data.x_test).argmax(1)
        rows = []
        for name, student in students.items():
            sb = StitchableModel.wrap(student)
            pred_b = predict_logits(student, data.x_test).argmax(1)
            acc = float((pred_b == data.y_test).double().mean())
            agree = float((pred_b == pred_a).double().mean())
            for layer in layers:
                cka = linear_cka(ta.features(data.x_test, layer).double(), sb.features(data.x_test, layer).double())
                rows.append({"student": name, "layer": layer, "linear_cka": cka, "accuracy": acc, "agreement": agree,
                             "temperature": temperature})
    return pd.DataFrame(rows)
