"""Stitching demo on the embedded default (digits): penalties between two seeds vs the random-bottom control."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from ..stitch.core import stitching_penalty_table
from ..zoo.digits import deterministic, digits_split, trained_digits_model

DEFAULT_CUTS = {"mlp": ("relu1", "relu2"), "cnn": ("relu1", "relu2", "relu3")}


def stitching_penalties(arch: str = "mlp", widths: Sequence[int] = (32, 64), seeds: tuple[int, int] = (0, 1), *,
                        methods: Sequence[str] = ("task", "lstsq"), pairs: str = "all",
                        cuts: Sequence[str] | None = None, control: bool = True, epochs: int = 30,
                        stitch_epochs: int = 20, split_seed: int = 0) -> pd.DataFrame:
    """:func:`stitching_penalty_table` for digits models A (seed ``seeds[0]``) and B (``seeds[1]``) per width.

    Cuts default to every hidden ReLU (``relu1, relu2`` for the MLP 64 -> w -> w -> 10; ``relu1..3`` for the CNN,
    whose 8x8, 4x4 and 2x2 maps only stitch at equal resolution).  Layers are fitted on the train split and
    scored on the test split; the control replaces A by a randomly initialised copy.
    """
    if arch not in DEFAULT_CUTS:
        raise ValueError(f"unknown arch={arch!r}; accepted values: 'mlp', 'cnn'")
    data = digits_split(split_seed)
    cuts = list(cuts) if cuts is not None else list(DEFAULT_CUTS[arch])
    frames = []
    with deterministic():
        for w in widths:
            a = trained_digits_model(arch, w, seeds[0], epochs=epochs, split_seed=split_seed)
            b = trained_digits_model(arch, w, seeds[1], epochs=epochs, split_seed=split_seed)
            df = stitching_penalty_table(a, b, data.x_train, data.y_train, data.x_test, data.y_test, cuts_a=cuts,
                                         cuts_b=cuts, pairs=pairs, methods=methods, control=control,
                                         seed=seeds[0], epochs=stitch_epochs)
            frames.append(df.assign(arch=arch, width=int(w), seed_a=seeds[0], seed_b=seeds[1]))
    return pd.concat(frames, ignore_index=True)


def summarise_stitching(table: pd.DataFrame) -> pd.DataFrame:
    """Penalty with A's bottom vs the random-bottom control, one row per (arch, width, cut_a, cut_b, method)."""
    keys = [k for k in ("arch", "width", "cut_a", "cut_b", "method") if k in table]
    wide = table.pivot_table(index=keys, columns="bottom", values="penalty", sort=False)
    return wide.rename(columns={"A": "penalty", "random": "penalty_random_bottom"}).reset_index()
