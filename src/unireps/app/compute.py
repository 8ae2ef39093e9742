"""What each page computes, as plain functions of the :class:`~unireps.app.engine.Engine` returning tables,
arrays and figures.  Every similarity comes from ``unireps.metrics`` / ``unireps.analysis``; the applications
call the demos of ``unireps.stitch``, ``unireps.merge`` and ``unireps.transfer``.  The only computations written
here are display-level (tables and figures); nearest neighbours, the variance across models, zero-shot
probabilities and the explanations come from ``unireps.analysis``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .engine import MAX_MEASURES, MAX_MODELS, TOY_PREFIX, Engine, InputError, resize_images
from .figures import bar, heatmap, layer_heatmap, linked_panels, placeholder, training_panels

PUZZLE_METRICS = ("linear_cka", "mutual_knn")
CHEAP_BOOT = 100
COSTLY = {"linear_predictability", "cca", "svcca", "pwcca"}  # fewer bootstrap resamples for these


def _unit(x: np.ndarray) -> np.ndarray:
    from ..analysis import unit_rows

    return unit_rows(x)


def _fmt_ci(row: pd.Series) -> str:
    if "ci_low" in row and pd.notna(row.get("ci_low")):
        return f"{row['value']:.2f} (95% CI {row['ci_low']:.2f}–{row['ci_high']:.2f})"
    return f"{row['value']:.2f}"


def n_boot(engine: Engine, metric: str, n_pairs: int = 1, n_measures: int = 1) -> int:
    """Bootstrap resamples per pair: ``config.n_boot``, lowered (not below 30) so one request stays within
    ``config.boot_budget`` resamples over all its pairs and measures; a quarter of that for the SVD-heavy measures."""
    cfg = engine.config
    n = int(cfg.n_boot)
    if n <= 0:
        return 0
    n = min(n, max(30, int(cfg.boot_budget) // max(1, n_pairs * n_measures)))
    return max(10, n // 4) if metric in COSTLY else n


def outside_ci_note(t: pd.DataFrame) -> str:
    """A note for a table whose 95% intervals miss their own value (a percentile bootstrap shifted by repeated
    stimuli: ``ci="auto"`` gives linear CKA the jackknife, but the other measures only where a representation has
    at least as many features as stimuli), counted from the table; "" when every interval holds its value.

    >>> t = pd.DataFrame({"metric": ["linear_cka"], "value": [0.34], "ci_low": [0.35], "ci_high": [0.4]})
    >>> outside_ci_note(t)[:40], outside_ci_note(t.assign(value=0.36)), outside_ci_note(t.drop(columns="ci_low"))
    ('*Note:* for 1 of the 1 rows (linear_cka)', '', '')
    """
    if not {"ci_low", "ci_high"} <= set(t.columns):  # no intervals asked for (n_boot = 0)
        return ""
    out = t[(t.value < t.ci_low) | (t.value > t.ci_high)]
    if not len(out):
        return ""
    metrics = ", ".join(dict.fromkeys(out.metric))
    return (f"*Note:* for {len(out)} of the {len(t)} rows ({metrics}) the 95% interval does not contain the value "
            "itself (its resamples repeat stimuli, which shifts them), so it does not describe the value's "
            "uncertainty: read those values against their baselines only.")


def _with_boots(table: pd.DataFrame, b: int) -> pd.DataFrame:
    """``n_boot`` = resamples per pair on the bootstrap rows; none (NA) on jackknife rows."""
    from ..metrics import BootstrapResult

    boot = table["ci_method"].eq(BootstrapResult.LABEL) if "ci_method" in table else False
    return table.assign(n_boot=pd.Series(np.where(boot, b, None), index=table.index, dtype="Int64"))


def ci_text(table: pd.DataFrame) -> str:
    """How a comparison table's intervals were made, for a status line.

    >>> ci_text(pd.DataFrame({"ci_method": ["percentile bootstrap over stimuli"], "n_boot": [200]}))
    'percentile bootstrap over stimuli (200 resamples per pair)'
    """
    if "ci_method" not in table or not len(table):
        return "none"
    parts = []
    for method, rows in table.groupby("ci_method", sort=True):
        boots = sorted({int(b) for b in rows["n_boot"].dropna()}) if "n_boot" in rows else []
        parts.append(method + (f" ({'/'.join(map(str, boots))} resamples per pair)" if boots else ""))
    return "; ".join(parts)


def _ci_short(table: pd.DataFrame, metric: str) -> str:
    """The interval methods of ``metric``'s rows in a few words, for a figure title.

    >>> _ci_short(pd.DataFrame({"metric": ["m", "m"], "ci_method": ["jackknife over stimuli, t interval",
    ...                                                              "percentile bootstrap over stimuli"]}), "m")
    'jackknife / percentile bootstrap'
    """
    if "ci_method" not in table:
        return "none"
    rows = table.loc[table["metric"] == metric, "ci_method"].dropna()
    return " / ".join(sorted({m.split(" over ")[0] for m in rows})) or "none"


def compare_arrays(engine: Engine, reps: dict[str, np.ndarray], ds, metrics: Sequence[str], budgeted: bool = True,
                   cache: tuple | None = None):
    """``unireps.analysis.compare_models`` on precomputed arrays, 95% CIs per measure and pair: the jackknife for
    linear CKA and where a representation has at least as many features as stimuli, else the bootstrap
    (``ci="auto"``: the table's ``ci_method`` column names it, ``n_boot`` gives the resamples of bootstrap rows).

    With ``cache`` (a key naming what the rows of ``reps`` are, e.g. ``(reference set, modality)``; the labels must
    then name the models), each pair is compared on its own and memoised: a later request that shares a pair of
    models reuses it, and the start-up warm-up precomputes every pair of the default models (see
    :func:`precompute_pairs`).  A pair's result is the same as in a joint call except its shuffled-pairing baseline,
    which uses a permutation seeded by the pair alone."""
    from ..analysis import compare_models

    pairs = len(reps) * (len(reps) - 1) // 2 if budgeted else 1
    if cache is None:
        tables, matrices = [], {}
        for m in metrics:
            b = n_boot(engine, m, pairs, len(metrics) if budgeted else 1)
            c = compare_models(reps, ds, metrics=(m,), baselines=False, n_boot=b, n_permutations=0, ci="auto")
            tables.append(_with_boots(c.table, b))
            matrices.update(c.matrices)
        return pd.concat(tables, ignore_index=True), matrices
    labels = list(reps)
    tables, matrices = [], {}
    for m in metrics:
        b = n_boot(engine, m, pairs, len(metrics) if budgeted else 1)
        M = np.full((len(labels), len(labels)), np.nan)
        rows = []
        for i, a in enumerate(labels):
            for j in range(i + 1, len(labels)):
                c = labels[j]
                res = compare_pair(engine, cache, m, b, a, c, reps[a], reps[c], ds)
                if res is None:
                    continue
                row, S = res
                rows.append(row)
                M[i, j], M[j, i], M[i, i], M[j, j] = S[0, 1], S[1, 0], S[0, 0], S[1, 1]
        matrices[m] = pd.DataFrame(M, index=labels, columns=labels)
        tables.append(_with_boots(pd.DataFrame(rows), b))
    return pd.concat(tables, ignore_index=True), matrices


def compare_pair(engine: Engine, cache: tuple, metric: str, boots: int, a: str, b: str, A, B, ds):
    """One pair of models under one measure: (table row, 2×2 array of the measure between (a, b) in that order),
    memoised under ``cache``; None when the measure is undefined for the pair (e.g. it needs equal widths).  A
    symmetric measure is computed once per unordered pair (the memo key sorts the names), so (b, a) reuses (a, b).
    The matrix is a plain array: indexing pandas' string labels per pair cost more than the cached lookup."""
    import warnings

    from ..analysis import compare_models
    from ..metrics import get_metric

    if b < a and get_metric(metric).symmetric:
        res = compare_pair(engine, cache, metric, boots, b, a, B, A, ds)
        if res is None:
            return None
        row, S = res
        return {**row, "model_a": row["model_b"], "model_b": row["model_a"]}, S[::-1, ::-1]

    def compute():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            c = compare_models({a: A, b: B}, ds, metrics=(metric,), baselines=False, n_boot=boots, n_permutations=0,
                               ci="auto")
        if not len(c.table):
            return None
        return c.table.iloc[0].to_dict(), c.matrices[metric].loc[[a, b], [a, b]].to_numpy(float)

    return engine.memo(("pair", cache, metric, boots, a, b), compute)


def precompute_pairs(engine: Engine, models: Sequence[str], dskey: str, modality: str = "image",
                     metrics: Sequence[str] = ("linear_cka", "mutual_knn"), boots: int | None = None) -> int:
    """Warm the pair cache: every pair of ``models`` on ``dskey`` under each measure, with the resamples a request
    of two or three models and two measures gets (the explorer's default).  Returns the number of pairs."""
    ds = engine.dataset(dskey)
    reps = {m: engine.embedding(m, dskey, modality) for m in models if modality in engine.entry(m).modalities}
    labels = list(reps)
    done = 0
    for m in metrics:
        b = boots if boots is not None else n_boot(engine, m, 3, 2)
        for i, x in enumerate(labels):
            for y in labels[i + 1:]:
                compare_pair(engine, (dskey, modality), m, b, x, y, reps[x], reps[y], ds)
                done += 1
    return done


# ------------------------------------------------------------------------------------------------ 1. puzzle


def puzzle_pair(engine: Engine) -> tuple[str, str, str]:
    """(model a, model b, reference set): two zoo seeds of one recipe when built, else the toy digits MLPs."""
    zoo = [n for n in engine.names("image", twins=False, kinds=("zoo",))]
    pairs = engine.seed_pairs(zoo)
    if pairs:
        a, b = pairs[0]
        return a, b, "shapes"
    toy = engine.names("image", twins=False, kinds=("toy",))
    if f"{TOY_PREFIX}-s0" in toy and f"{TOY_PREFIX}-s1" in toy:
        return f"{TOY_PREFIX}-s0", f"{TOY_PREFIX}-s1", "digits"
    imgs = engine.names("image", twins=False)
    if len(imgs) >= 2:
        return imgs[0], imgs[1], "shapes"
    raise InputError("the puzzle needs two image models; build the zoo with `unireps zoo build`")


def puzzle(engine: Engine) -> dict[str, Any]:
    """Linear CKA and mutual k-NN (with 95% CIs: :func:`compare_arrays`) between two seeds, a model and its untrained
    twin, and the raw pixels — computed once per process (memoised)."""
    from ..analysis import raw_input

    def compute():
        a, b, dskey = puzzle_pair(engine)
        ds = engine.dataset(dskey)
        reps = {a: engine.embedding(a, dskey, "image"), b: engine.embedding(b, dskey, "image")}
        twin = engine.untrained_twin(a)
        if twin:
            reps[f"{a} (untrained)"] = engine.embedding(twin, dskey, "image")
        reps["raw pixels"] = raw_input(ds, "image")
        table, matrices = compare_arrays(engine, reps, ds, PUZZLE_METRICS, budgeted=False)  # precomputed
        return {"a": a, "b": b, "twin": twin, "dataset": dskey, "n": len(ds), "table": table, "matrices": matrices}

    return engine.memo(("puzzle",), compute)


def puzzle_view(engine: Engine) -> tuple[str, Any, pd.DataFrame]:
    from ..viz import ci_strings

    p = puzzle(engine)
    t = p["table"]
    a, b = p["a"], p["b"]

    def row(x, y, metric):
        r = t[(t.metric == metric) & (((t.model_a == x) & (t.model_b == y)) | ((t.model_a == y) & (t.model_b == x)))]
        return r.iloc[0] if len(r) else None

    lines = [f"**Live result** — computed on this machine from {p['n']} `{p['dataset']}` images "
             f"(linear CKA, Kornblith et al. 2019; mutual k-NN, Huh et al. 2024; 95% CIs over images: {ci_text(t)}):",
             ""]
    for metric in PUZZLE_METRICS:
        seeds = row(a, b, metric)
        parts = [f"two independently trained seeds `{a}` vs `{b}`: **{_fmt_ci(seeds)}**"] if seeds is not None else []
        if p["twin"]:
            tw = row(a, f"{a} (untrained)", metric)
            if tw is not None:
                parts.append(f"trained vs its untrained twin: **{_fmt_ci(tw)}**")
        raw = row(a, "raw pixels", metric)
        if raw is not None:
            parts.append(f"trained vs raw pixels: **{_fmt_ci(raw)}**")
        lines.append(f"- `{metric}` — " + "; ".join(parts))
    if note := outside_ci_note(t):
        lines += ["", note]
    lines += ["", "Nothing forces the two seeds to agree: they start from different random weights and see the "
              "training images in a different order, and an embedding is only defined up to rotations, "
              "permutations and rescaling of its axes.  The measures above are invariant to exactly those, so what "
              "they report is whether the two models arrange the *stimuli* the same way."]
    labels = list(p["matrices"]["linear_cka"].index)
    fig = heatmap(p["matrices"]["linear_cka"], "Linear CKA (95% CI in each cell)", (0.0, 1.0),
                  ci_strings(t, "linear_cka", labels))
    cols = [c for c in ("model_a", "model_b", "metric", "value", "ci_low", "ci_high", "ci_method", "shuffled", "n",
                        "n_boot") if c in t]
    return "\n".join(lines), fig, t[cols].round(4)


# ------------------------------------------------------------------------------------------------ 2. explorer


def check_models(engine: Engine, models: Sequence[str] | None, modality: str, lo: int = 2,
                 hi: int = MAX_MODELS) -> list[str]:
    models = [m for m in (models or []) if m]
    if len(models) < lo:
        raise InputError(f"choose at least {lo} model{'s' if lo > 1 else ''} (you chose {len(models)})")
    if len(models) > hi:
        raise InputError(f"choose at most {hi} models (you chose {len(models)})")
    if modality not in ("image", "text"):
        raise InputError("modality must be 'image' or 'text'")
    bad = [m for m in models if modality not in engine.entry(m).modalities]
    if bad:
        raise InputError(f"{', '.join(bad)} cannot encode {modality}s; pick models with a {modality} tower or switch "
                         "the modality")
    return list(dict.fromkeys(models))


def check_measures(measures: Sequence[str] | None) -> list[str]:
    from ..metrics import get_metric

    measures = [m for m in (measures or []) if m]
    if not measures:
        raise InputError("choose at least one measure")
    if len(measures) > MAX_MEASURES:
        raise InputError(f"choose at most {MAX_MEASURES} measures at once (you chose {len(measures)})")
    for m in measures:
        try:
            get_metric(m)
        except ValueError as e:
            raise InputError(str(e)) from None
    return measures


def explorer_compare(engine: Engine, models, dskey: str, measures, modality: str, baselines: bool = False):
    """Model × model matrices with CIs for each measure, and each model's 2-D layout."""
    from ..analysis import raw_input
    from ..viz import procrustes_align_2d

    models = check_models(engine, models, modality)
    measures = check_measures(measures)
    engine.dataset(dskey)

    def compute():
        ds = engine.dataset(dskey)
        reps = {m: engine.embedding(m, dskey, modality) for m in models}
        if baselines:
            for m in models:
                twin = engine.untrained_twin(m)
                if twin and twin not in reps:
                    reps[f"{m} (untrained)"] = engine.embedding(twin, dskey, modality)
            reps["raw pixels" if modality == "image" else "bag of words"] = raw_input(ds, modality)
        table, matrices = compare_arrays(engine, reps, ds, measures, cache=(dskey, modality))
        coords = procrustes_align_2d({m: model_pca(engine, m, dskey, modality) for m in models})
        return {"table": table, "matrices": matrices, "coords": coords}

    return engine.memo(("compare", tuple(models), dskey, tuple(measures), modality, bool(baselines)), compute)


def model_pca(engine: Engine, model: str, dskey: str, modality: str) -> np.ndarray:
    """The first two principal components of a model's reference-set embedding (``unireps.viz.pca_2d``), memoised
    per (model, set, modality): each explorer request only rotates them onto each other."""
    from ..viz import pca_2d

    return engine.memo(("pca_2d", model, dskey, modality), lambda: pca_2d(engine.embedding(model, dskey, modality)))


def explorer_view(engine: Engine, models, dskey: str, measures, modality: str, baselines: bool = False):
    """(result, heatmaps, linked panels) of one explorer request, memoised as a whole: a repeated request (the
    page's defaults, a visitor going back) only re-sends what was built."""
    res = explorer_compare(engine, models, dskey, measures, modality, baselines)
    measures = check_measures(measures)
    key = ("explorer_view", tuple(models), dskey, tuple(measures), modality, bool(baselines))
    figs, panels = engine.memo(key, lambda: explorer_figures(engine, res, dskey, measures), keep=4096)
    return res, figs, panels


def item_labels(engine: Engine, dskey: str) -> list[str]:
    ds = engine.dataset(dskey)
    return [f"{i}: {c}" for i, c in enumerate(ds.captions)]


def explorer_figures(engine: Engine, result: dict, dskey: str, measures: Sequence[str], highlight: int | None = None):
    from ..metrics import get_metric
    from ..viz import ci_strings

    figs = []
    for m in measures:
        M = result["matrices"][m]
        info = get_metric(m)
        figs.append(heatmap(M, f"{m} ({info.kind}; 95% CI in each cell: {_ci_short(result['table'], m)})",
                            info.range, ci_strings(result["table"], m, list(M.index))))
    ds = engine.dataset(dskey)
    panels = linked_panels(result["coords"], list(ds.captions), engine.groups(dskey), highlight=highlight)
    return figs, panels


def neighbours(engine: Engine, models, dskey: str, modality: str, item: int, k: int = 5) -> pd.DataFrame:
    """Cosine nearest neighbours of one reference item in each model's space; ``shared`` marks neighbours that are
    among the k nearest in every model."""
    from ..analysis import nearest_neighbours, neighbour_labels

    models = check_models(engine, models, modality, lo=1)
    ds = engine.dataset(dskey)
    if item is None or not 0 <= int(item) < len(ds):
        raise InputError(f"choose an item between 0 and {len(ds) - 1}")
    k = int(max(1, min(k, 20, len(ds) - 1)))
    table = nearest_neighbours({m: engine.embedding(m, dskey, modality) for m in models}, int(item), k)
    table = neighbour_labels(table, list(ds.captions), engine.groups(dskey))
    return table.assign(cosine=table.cosine.round(4)).rename(columns={"shared": "shared by all models"})


def layer_map(engine: Engine, a: str, b: str, dskey: str, modality: str, metric: str):
    from ..analysis import layerwise
    from ..metrics import get_metric

    for m in (a, b):
        if not m:
            raise InputError("choose two models for the layer × layer map")
        if modality not in engine.entry(m).modalities:
            raise InputError(f"{m} has no {modality} tower")
    check_measures([metric])

    def compute():
        ds = engine.dataset(dskey)
        la = engine.representations(a, dskey, modality, layers="all")
        lb = engine.representations(b, dskey, modality, layers="all")
        return layerwise(la, lb, ds, metric=metric, modality=modality, comparison_metrics=())

    lw = engine.memo(("layers", a, b, dskey, modality, metric), compute)
    M = lw.maps[metric]
    fig = layer_heatmap(M, f"{metric}: layers of {a} × layers of {b}", xlabel=b, ylabel=a,
                        value_range=get_metric(metric).range)
    ident = lw.identification.iloc[0]
    note = (f"Layer identification (Kornblith et al. 2019): the most similar layer of `{b}` is the counterpart for "
            f"{ident.identification_rate:.0%} of the layers of `{a}`." if pd.notna(ident.identification_rate)
            else "Layer identification needs two models with equally many layers (and a finite map).")
    return fig, note, lw.best_match.round(4)


# ------------------------------------------------------------------------------------------------ 3. cross-model


def cross_model(engine: Engine, image: np.ndarray | None, texts: list[str], models, dskey: str,
                metric: str = "linear_cka") -> dict[str, Any]:
    """Each model's embeddings of the visitor's image and texts, its image–text cosines, the model × model
    similarity over (visitor items + reference set) per modality, and the across-model variance of each item's
    similarity profile to the reference set.

    Variance across models: ``unireps.analysis.profile_variance``; the same number for the reference items
    themselves is the baseline.
    """
    from PIL import Image

    from ..analysis import profile_variance

    models = [m for m in (models or []) if m]
    if not models:
        raise InputError("choose at least one model")
    if len(models) > MAX_MODELS:
        raise InputError(f"choose at most {MAX_MODELS} models (you chose {len(models)})")
    if image is None and not texts:
        raise InputError("upload an image or type at least one text")
    check_measures([metric])
    ds = engine.dataset(dskey)
    H, W = ds.images.shape[1:3]
    items: dict[str, list[str]] = {"image": [], "text": []}
    arrays: dict[str, Any] = {}
    if image is not None:
        small = np.asarray(Image.fromarray(image).convert("RGB").resize((W, H), Image.BILINEAR), dtype=np.uint8)
        arrays["image"] = small[None]
        items["image"] = ["your image"]
    if texts:
        arrays["text"] = list(texts)
        items["text"] = [f"text {i + 1}: {t[:40]}" for i, t in enumerate(texts)]
    emb_rows, sims, per_modality = [], [], {}
    for m in models:
        e = engine.entry(m)
        mine = {}
        for mod in ("image", "text"):
            if mod in arrays and mod in e.modalities:
                mine[mod] = engine.encode(m, mod, arrays[mod])
                for lab, v in zip(items[mod], mine[mod]):
                    emb_rows.append({"model": m, "item": lab, "dim": int(v.shape[0]),
                                     "first values": ", ".join(f"{x:+.3f}" for x in v[:6])})
                ref = engine.embedding(m, dskey, mod)
                per_modality.setdefault(mod, {})[m] = (mine[mod], ref)
        if "image" in mine and "text" in mine and mine["image"].shape[1] == mine["text"].shape[1]:
            cos = _unit(mine["text"]) @ _unit(mine["image"])[0]
            for lab, c in zip(items["text"], cos):
                sims.append({"model": m, "text": lab, "cosine(image, text)": round(float(c), 4)})
    if not emb_rows:
        raise InputError("none of the chosen models can encode what you supplied (image-only models need an image, "
                         "text-only models need texts)")
    matrices, variances, tables = {}, [], []
    for mod, per in per_modality.items():
        if len(per) < 2:
            continue
        reps = {m: np.vstack([mine, ref]) for m, (mine, ref) in per.items()}
        table, mats = compare_arrays(engine, reps, ds, (metric,))
        matrices[mod] = (mats[metric], table)
        tables.append(table.assign(modality=mod))
        var = profile_variance({m: np.vstack([mine, ref]) for m, (mine, ref) in per.items()},
                               {m: ref for m, (_, ref) in per.items()})
        k = len(items[mod])
        for lab, v in zip(items[mod], var[:k]):
            variances.append({"item": lab, "modality": mod, "variance across models": float(v)})
        variances.append({"item": f"reference {mod}s (mean)", "modality": mod,
                          "variance across models": float(var[k:].mean())})
    return {"embeddings": pd.DataFrame(emb_rows), "similarities": pd.DataFrame(sims), "matrices": matrices,
            "variance": pd.DataFrame(variances), "table": pd.concat(tables) if tables else pd.DataFrame(),
            "image": arrays.get("image", [None])[0], "n_reference": len(ds)}


def cross_model_figures(result: dict, metric: str) -> tuple[Any, Any, Any]:
    from ..metrics import get_metric
    from ..viz import ci_strings

    figs = []
    for mod in ("image", "text"):
        if mod in result["matrices"]:
            M, table = result["matrices"][mod]
            figs.append(heatmap(M, f"{metric}: your {mod}(s) + {result['n_reference']} reference {mod}s",
                                get_metric(metric).range, ci_strings(table, metric, list(M.index))))
        else:
            figs.append(placeholder(f"No {mod} comparison: needs your {mod} input and at least two models with a "
                                    f"{mod} tower."))
    v = result["variance"]
    vfig = (bar(v, "item", "variance across models", "How much the models disagree about each item "
                "(variance of z-scored similarity profiles)", color="modality") if len(v)
            else placeholder("The variance across models needs at least two models."))
    return figs[0], figs[1], vfig


# ------------------------------------------------------------------------------------------------ 4. brain


def brain(engine: Engine, model: str, progress=None) -> dict[str, Any]:
    from ..analysis import brain_rsa

    if not model:
        raise InputError("choose a model")
    if "image" not in engine.entry(model).modalities:
        raise InputError(f"{model} has no image tower; brain RSA needs image representations of the 92 objects")

    def compute():
        if progress:
            progress(0.1, desc=f"{model}: every layer on the 92 images")
        reps = dict(engine.representations(model, "kriegeskorte92", "image", layers="all"))
        reps["embedding"] = engine.embedding(model, "kriegeskorte92", "image")
        if progress:
            progress(0.5, desc="RSA with human and monkey IT, bootstrap CIs")
        nb = engine.config.n_boot
        table = brain_rsa(reps, n_boot=nb, with_references=False)
        table.loc[table.kind == "layer", "model"] = model
        refs = brain_references(engine).assign(ceiling_lower=table.ceiling_lower.iloc[0],
                                               ceiling_upper=table.ceiling_upper.iloc[0])
        return pd.concat([table, refs], ignore_index=True)

    return {"table": engine.memo(("brain", model), compute), "model": model}


def brain_references(engine: Engine) -> pd.DataFrame:
    """The reference rows of the brain plot (classic model RDMs, behaviour), the same for every model: once."""
    from ..analysis import reference_rows

    return engine.memo(("brain_refs", engine.config.n_boot), lambda: reference_rows(n_boot=engine.config.n_boot))


def brain_summary(result: dict) -> str:
    t = result["table"]
    layers = t[(t.kind == "layer") & (t.target == "human_IT")]
    best = layers.loc[layers.mean_over_subjects.idxmax()]
    mk = t[(t.kind == "layer") & (t.target == "monkey_IT")]
    bm = mk.loc[mk.value.idxmax()]
    lo, hi = float(t.ceiling_lower.iloc[0]), float(t.ceiling_upper.iloc[0])
    return (f"**{result['model']}** — most human-IT-like layer: `{best.layer}` (Spearman ρ with the 4 subjects' RDMs, "
            f"mean over subjects: {best.mean_over_subjects:.3f}; in-sample: chosen and scored on the same 92 images, "
            "so optimistic — `unireps.analysis.brain_layer_selection` gives the cross-validated score); noise "
            f"ceiling {lo:.3f}–{hi:.3f} (Nili et al. 2014, rsatoolbox's pooling). "
            f"Most monkey-IT-like layer (in-sample): `{bm.layer}` (ρ = {bm.value:.3f}, 95% CI {bm.ci_low:.3f}–"
            f"{bm.ci_high:.3f}). "
            "Grey bars: classic model RDMs and human similarity judgements that ship with the data (Kriegeskorte et "
            "al. 2008), as reference points.")


# ------------------------------------------------------------------------------------------------ 5. theory (live)


def invariance_demo(seed: int = 0, n: int = 100, d: int = 20) -> pd.DataFrame:
    """Each measure between X and a transformed copy of X (or an unrelated Y): ``analysis.invariance_table``."""
    from ..analysis import invariance_table

    return invariance_table(n=n, d=d, seed=seed)


def convergence_by_layer(engine: Engine) -> pd.DataFrame:
    """Linear CKA layer by layer between the two toy seeds, trained vs untrained (digits reference set)."""
    from ..metrics import linear_cka

    def compute():
        names = {k: f"{TOY_PREFIX}-{k}" for k in ("s0", "s1", "s0-untrained", "s1-untrained")}
        reps = {k: engine.representations(v, "digits", "image", layers="all") for k, v in names.items()}
        rows = []
        for layer in reps["s0"]:
            if layer == "embedding":
                continue
            rows.append({"layer": layer,
                         "trained seed 0 vs trained seed 1": linear_cka(reps["s0"][layer], reps["s1"][layer]),
                         "untrained seed 0 vs untrained seed 1": linear_cka(reps["s0-untrained"][layer],
                                                                            reps["s1-untrained"][layer]),
                         "trained vs untrained (seed 0)": linear_cka(reps["s0"][layer], reps["s0-untrained"][layer])})
        return pd.DataFrame(rows).round(3)

    return engine.memo(("convergence_by_layer",), compute)


def noise_ceiling_live() -> tuple[float, float]:
    from ..analysis import noise_ceiling
    from ..analysis.brain import subject_rdms
    from ..data import load_dataset

    return noise_ceiling(subject_rdms(load_dataset("kriegeskorte92")))


# ------------------------------------------------------------------------------------------------ 6. applications


def app_merging(engine: Engine) -> pd.DataFrame:
    """Interpolation curves between two digits MLPs (seeds 0, 1), naive vs permutation-aligned (Git Re-Basin)."""
    from ..applications import lmc_width_sweep

    def run():
        _, curves = lmc_width_sweep((64,), (0, 1), epochs=10, splits=("test",), return_curves=True,
                                    alignments=("naive", "weight_matching"))
        return curves

    return engine.disk_table("merging_curves", run)


def app_stitching(engine: Engine) -> pd.DataFrame:
    """Stitching penalty (accuracy of B minus accuracy of A-bottom + linear stitch + B-top) vs a random bottom."""
    from ..applications import stitching_penalties, summarise_stitching

    def run():
        return summarise_stitching(stitching_penalties("mlp", (32,), epochs=10, stitch_epochs=10, methods=("lstsq",)))

    return engine.disk_table("stitching", run)


def app_transfer(engine: Engine) -> pd.DataFrame:
    """A linear probe of model B reused on model A through a map fitted on a few anchor digits."""
    from ..applications import digits_probe_transfer

    def run():
        return digits_probe_transfer((10, 20, 50, 200), n_repeats=1, methods=("procrustes", "ridge", "relative"))

    return engine.disk_table("transfer", run)


def app_development(engine: Engine) -> pd.DataFrame:
    """Distillation: CKA of a student with its teacher, before, after distilling, vs an independent student."""
    from ..applications import distillation_cka

    return engine.disk_table("distillation", lambda: distillation_cka(epochs=10))


def app_zoo_stitching(engine: Engine) -> pd.DataFrame | None:
    """Dual-encoder stitching on two zoo image–text models: images of model 1 against texts of model 2 through a
    linear map fitted on 2/3 of the shapes reference set (retrieval on the last third)."""
    from ..stitch import dual_encoder_retrieval

    both = [n for n in engine.names(twins=False, kinds=("zoo",))
            if {"image", "text"} <= set(engine.entry(n).modalities)]
    if len(both) < 2:
        return None
    pairs = engine.seed_pairs(both)
    a, b = pairs[0] if pairs else (both[0], both[1])

    def run():
        i1, t1 = engine.embedding(a, "shapes", "image"), engine.embedding(a, "shapes", "text")
        i2, t2 = engine.embedding(b, "shapes", "image"), engine.embedding(b, "shapes", "text")
        n = len(i1)
        tr, te = np.arange(2 * n // 3), np.arange(2 * n // 3, n)
        return dual_encoder_retrieval(i1, t2, tr, te, text_1=t1, image_2=i2).assign(model_1=a, model_2=b)

    return engine.memo(("zoo_stitching", a, b), run)


def merging_figure(curves: pd.DataFrame):
    from ..viz import lmc_plot

    df = curves.copy()
    df["curve"] = df["alignment"].map({"naive": "naive (weights as trained)",
                                       "weight_matching": "aligned (weight matching)"}).fillna(df["alignment"])
    return lmc_plot(df, y="loss", title="Test loss along the straight line between two digits MLPs (seeds 0 and 1)")


def transfer_figure(df: pd.DataFrame):
    d = df[df.n_anchors > 0].copy()
    d["n_anchors"] = d["n_anchors"].astype(str)
    fig = bar(d, "n_anchors", "accuracy", "Probe of model B used on model A through a map fitted on n anchors",
              color="method", yrange=(0, 1))
    ref = df[df.n_anchors == 0].set_index("method")["accuracy"]
    for name, dash in (("b_on_b", "dash"), ("no_map", "dot")):
        if name in ref:
            fig.add_hline(y=float(ref[name]), line_dash=dash, annotation_text=name.replace("_", " "))
    fig.update_xaxes(title="anchors (shared digits used to fit the map)")
    return fig


# ------------------------------------------------------------------------------------------------ educational


CLIP_INIT_TEMPERATURE = 0.07  # Radford et al. 2021 initialise tau at 0.07 (following Wu et al. 2018)


def temperature(engine: Engine, model: str) -> tuple[float, str]:
    scale = engine.logit_scale(model) if model else None
    if scale:
        return 1.0 / scale, f"the model's learned logit_scale (exp = {scale:.2f}, so τ = {1 / scale:.4f})"
    return CLIP_INIT_TEMPERATURE, ("CLIP's initial value τ = 0.07 (Radford et al. 2021); this model exposes no "
                                   "logit_scale")


OOD_COVERAGE = 0.999
OOD_REFERENCE = 1000  # images of the shapes world the nearest-neighbour test compares with


def far_from_training(engine: Engine, model: str, image: np.ndarray) -> dict | None:
    """For a model trained here on the shapes world (a zoo stand-in): whether ``image`` lies far from what it was
    trained on.  Nearest-neighbour test (as in Sun et al., ICML 2022, here on the model's input): the Euclidean
    distance between the image as the model sees it (resized to its input size, RGB in [0, 1]) and the nearest of
    1,000 images of the shapes world, against the leave-one-out nearest distances of those images themselves.
    Returns {"distance", "threshold", "coverage"} when the distance exceeds what a fraction ``coverage`` of the
    shapes images reach (so about 0.1% of new images of that world are flagged), else None (also for models not
    trained here: their training data are not at hand).  The model's own embedding is no guide here: a stand-in maps
    photographs close to the shapes it knows."""
    size = engine.input_size(model)
    if engine.entry(model).kind != "zoo" or size is None:
        return None

    def pixels(images):
        return resize_images(np.asarray(images), size).reshape(len(images), -1).astype(np.float32) / 255.0

    def calibrate():
        from ..data import load_dataset

        R = pixels(load_dataset("shapes", n=OOD_REFERENCE, seed=1, split="train").images)
        sq = (R * R).sum(1)
        D = sq[:, None] + sq[None, :] - 2.0 * (R @ R.T)
        np.fill_diagonal(D, np.inf)
        nearest = np.sqrt(np.maximum(D.min(axis=1), 0.0))
        return R, sq, float(np.quantile(nearest, OOD_COVERAGE))

    R, sq, threshold = engine.memo(("ood", size), calibrate)
    x = pixels(np.asarray(image)[None])[0]
    distance = float(np.sqrt(max(float((sq - 2.0 * (R @ x)).min() + x @ x), 0.0)))
    if distance <= threshold:
        return None
    return {"distance": distance, "threshold": threshold, "coverage": OOD_COVERAGE}


def model_image(engine: Engine, model: str, image: np.ndarray) -> np.ndarray:
    """The visitor's image at the size the model expects (see ``Engine.input_size``); as is when its own
    preprocessing resizes."""
    return engine.prepare_images(model, np.asarray(image)[None])[0]


def match_image(engine: Engine, model: str, image: np.ndarray, captions: list[str], tau: float) -> pd.DataFrame:
    """Zero-shot classification: cosine of the image with each caption, softmax(cos / τ) over the captions."""
    from ..analysis import zero_shot

    if not tau > 0:
        raise InputError("the temperature must be positive")
    img = engine.encode(model, "image", model_image(engine, model, image)[None])
    cos, p = zero_shot(img[0], engine.encode(model, "text", captions), float(tau))
    df = pd.DataFrame({"caption": captions, "cosine": cos.round(4), "probability": p.round(4)})
    return df.sort_values("probability", ascending=False, kind="stable").reset_index(drop=True)


def gallery_sets(engine: Engine) -> list[str]:
    return ["shapes", "kriegeskorte92"]


def match_caption(engine: Engine, model: str, caption: str, k: int = 8) -> pd.DataFrame:
    """The k gallery images (shapes + the 92 objects) closest to the caption by cosine."""
    q = _unit(engine.encode(model, "text", [caption]))[0]
    rows = []
    for key in gallery_sets(engine):
        ds = engine.dataset(key)
        s = _unit(engine.embedding(model, key, "image")) @ q
        rows += [{"set": key, "index": i, "caption of the image": ds.captions[i], "cosine": float(c)}
                 for i, c in enumerate(s)]
    df = pd.DataFrame(rows).sort_values("cosine", ascending=False, kind="stable").head(k).reset_index(drop=True)
    df["cosine"] = df["cosine"].round(4)
    return df


def caption_bank(engine: Engine) -> list[str]:
    from ..data import load_dataset

    def build():
        bank = list(load_dataset("shapes", n=400, seed=3).captions)
        bank += list(engine.dataset("kriegeskorte92").captions)
        bank += list(dict.fromkeys(load_dataset("digits").captions))
        return list(dict.fromkeys(bank))

    return engine.memo(("caption_bank",), build)


def alt_text(engine: Engine, model: str, image: np.ndarray, k: int = 5) -> pd.DataFrame:
    """Alt-text suggestions: the k captions of the caption bank closest to the image (caption retrieval)."""
    bank = caption_bank(engine)
    B = engine.memo(("bank_emb", model), lambda: _unit(engine.encode(model, "text", bank)))
    img = _unit(engine.encode(model, "image", model_image(engine, model, image)[None]))[0]
    s = B @ img
    order = np.argsort(-s, kind="stable")[:k]
    return pd.DataFrame({"suggestion": [bank[i] for i in order], "cosine": s[order].round(4)})


def occlusion(engine: Engine, model: str, image: np.ndarray, caption: str, grid: int | None = None):
    """Occlusion sensitivity (Zeiler & Fergus 2014): cover each cell of a grid in turn with the image's mean colour
    (a neutral patch: on the shapes world's black background a grey square would add an object); the map is the
    drop in cosine(image, caption) it causes (positive = the region supports the match)."""
    from ..analysis import occlusion_map

    img = model_image(engine, model, image)
    h, w = img.shape[:2]
    t = _unit(engine.encode(model, "text", [caption]))[0]
    heat, full = occlusion_map(img, lambda batch: _unit(engine.encode(model, "image", batch)) @ t,
                               int(grid or (8 if max(h, w) <= 64 else 7)))
    return img, heat, full


def leave_one_word_out(engine: Engine, model: str, image: np.ndarray, caption: str) -> pd.DataFrame:
    """Leave-one-word-out (Li et al. 2016): the drop in cosine(image, caption) when each word is removed."""
    from ..analysis import word_importance

    if len(caption.split()) < 2:
        raise InputError("type a caption of at least two words to see which words drive the match")
    img = _unit(engine.encode(model, "image", model_image(engine, model, image)[None]))[0]
    return word_importance(caption, lambda variants: _unit(engine.encode(model, "text", variants)) @ img)


def training_picture(engine: Engine, model: str, n: int = 12):
    """A batch of shapes images and captions embedded by the untrained twin and by the trained model, each state
    in its own 2-D PCA of the pooled image and caption embeddings."""
    from ..viz import pca_2d

    def compute():
        ds = engine.dataset("shapes")
        idx = np.arange(min(n, len(ds)))
        states = {}
        twin = engine.untrained_twin(model)
        for label, name in ((f"before training ({twin})", twin), (f"after training ({model})", model)):
            if not name:
                continue
            img = _unit(engine.embedding(name, "shapes", "image")[idx])
            txt = _unit(engine.embedding(name, "shapes", "text")[idx])
            P = pca_2d(np.vstack([img, txt]))
            states[label] = (P[: len(idx)], P[len(idx):], float(np.mean(np.sum(img * txt, axis=1))))
        return states, [ds.captions[i] for i in idx]

    states, caps = engine.memo(("training_picture", model, n), compute)
    fig = training_panels({k: (v[0], v[1]) for k, v in states.items()}, caps)
    stats = {k: v[2] for k, v in states.items()}
    return fig, stats


# ------------------------------------------------------------------------------------------------ explorer extras


def neighbour_panels(engine: Engine, models, dskey: str, modality: str, item: int):
    """The linked 2-D views with ``item`` ringed in every model's panel."""
    from ..viz import procrustes_align_2d

    coords = procrustes_align_2d({m: model_pca(engine, m, dskey, modality) for m in models})
    ds = engine.dataset(dskey)
    return linked_panels(coords, list(ds.captions), engine.groups(dskey), highlight=int(item))


# ------------------------------------------------------------------------------------------------ 6b. interactive


STITCH_ARCHS = {"mlp": ("relu1", "relu2"), "cnn": ("relu1", "relu2", "relu3")}
APP_EPOCHS = 10  # the applications' digits models: 10 epochs (about 95% test accuracy for the MLP)


def app_stitch_pair(engine: Engine, arch: str, seed_a: int, seed_b: int, cut: str, method: str = "lstsq"
                    ) -> pd.DataFrame:
    """Stitching penalty of model A's bottom (up to ``cut``) + a fitted linear layer + model B's top, with the
    random-bottom control (``unireps.stitch.stitching_penalties`` on two digits models, at one cut)."""
    from ..applications import stitching_penalties
    from ..stitch import STITCH_METHODS

    if arch not in STITCH_ARCHS:
        raise InputError(f"choose an architecture: {', '.join(STITCH_ARCHS)}")
    if cut not in STITCH_ARCHS[arch]:
        raise InputError(f"the {arch} has the cuts {', '.join(STITCH_ARCHS[arch])}; {cut!r} is not one of them")
    if method not in STITCH_METHODS:
        raise InputError(f"choose a stitching method: {', '.join(STITCH_METHODS)}")
    sa, sb = int(seed_a), int(seed_b)
    width = 32 if arch == "mlp" else 16

    def run():
        return stitching_penalties(arch, (width,), (sa, sb), methods=(method,), cuts=[cut], pairs="diagonal",
                                   epochs=APP_EPOCHS, stitch_epochs=APP_EPOCHS)

    return engine.disk_table(f"stitch-{arch}{width}-s{sa}-s{sb}-{cut}-{method}", run)


def app_merge_curve(engine: Engine, method: str, rebasin: bool) -> pd.DataFrame:
    """``unireps.merge.digits_merge_curve`` (test loss and accuracy vs the weight on model B), cached on disk."""
    from ..merge import CURVE_METHODS, digits_merge_curve

    if method not in CURVE_METHODS:
        raise InputError(f"choose a merging method: {', '.join(CURVE_METHODS)}")
    return engine.disk_table(f"merge-curve-{method}-{'rebasin' if rebasin else 'naive'}",
                             lambda: digits_merge_curve(method, bool(rebasin), epochs=APP_EPOCHS))


def app_transfer_at(engine: Engine, method: str, n_anchors: int) -> pd.DataFrame:
    """``unireps.transfer.digits_probe_transfer`` with one map and one number of anchors (3 draws of anchors)."""
    from ..applications import digits_probe_transfer
    from ..transfer import TRANSFER_METHODS

    if method not in TRANSFER_METHODS:
        raise InputError(f"choose a map: {', '.join(TRANSFER_METHODS)}")
    n = int(n_anchors)
    if not 2 <= n <= 1000:
        raise InputError(f"choose between 2 and 1000 anchors (you chose {n})")
    return engine.memo(("transfer_at", method, n),
                       lambda: digits_probe_transfer((n,), methods=(method,), n_repeats=3))


def precompute_applications(engine: Engine) -> None:
    """The interactive applications' default settings and every merging curve (Fisher's is slow)."""
    from ..merge import CURVE_METHODS

    app_stitch_pair(engine, "mlp", 0, 1, "relu1")
    for method in CURVE_METHODS:
        for rebasin in (False, True):
            app_merge_curve(engine, method, rebasin)
    app_transfer_at(engine, "procrustes", 20)
