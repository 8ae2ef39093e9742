"""The standard analyses on the embedded default (the zoo and the shapes world), run by ``unireps demo`` and
``unireps report``.  Each section returns tidy tables, plotly figures and named numbers; the blog post is
written from those numbers only.

Sections: models (zoo cards), convergence (model × model with baselines), seeds (seed vs seed against trained
vs untrained), training (cross-architecture similarity over training), layers (layer maps, identification
rates of CKA vs CCA/SVCCA), objectives, cross-modal (alignment vs competence, with MiniLM), ground truth,
brain (92 objects), applications (stitching, merging, transfer).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import analysis, viz
from ..childproc import ChildSection
from ..data import load_dataset
from ..runtime import StepTimes, threads_for_small_ops
from .cache import ResultCache, fingerprint, folder_digest
from .depth import section_brain_depth, section_depth, stitch_diagram

HF_FAMILIES = ("clip", "siglip", "align", "blip", "flava")
REPORT_PRESETS = ("default", "full")  # the tiny preset (tests) lacks the families, seeds and checkpoints compared
SEED_BASE = "cnn16-gru-infonce"
# sections that share no activations with the others (the 92 photos; the digits), run by run_standard in a child
# process beside them
SIDE_SECTIONS = ("brain", "brain_depth", "applications")


@dataclass
class RunConfig:
    preset: str = "default"
    n: int = 500  # stimuli of the eval set: new draws from the training distribution (not held out)
    n_boot: int = 100  # general sections (model x model CIs); the brain section and identification use stat_boot
    n_permutations: int = 100
    n_splits: int = 100  # random halvings of the stimuli for cross-validated best-layer selection
    stat_boot: int = 1000  # resamples for the noise-ceiling / brain-score CIs and the identification-rate CI
    stat_permutations: int = 1000  # permutations for the null of the maximum over layers
    seed: int = 0
    applications: bool = True
    quick_applications: bool = False  # smaller application runs (tests)
    federated_engine: str = "flower"  # Flower's simulation (Ray); "inprocess": the reference loop, no Ray
    federated_seeds: int = 3  # seeds seed, seed + 1, ... of the federated grid (mean ± SD over them)
    federated_background: bool = True  # the federated section in a child process, beside the others (Ray stays there)
    side_process: bool = True  # SIDE_SECTIONS in a child process beside the others (which run on one thread: on 2
    # cores the second is free once the federated child has ended)
    cache_dir: str | None = None  # activation cache (the zoo lives where `zoo:` names load from: $UNIREPS_CACHE/zoo)
    result_cache: str | None = None  # folder of the result cache (unireps.report.cache); None: compute everything
    recompute: bool = False  # with result_cache: compute every section again and rewrite its cached copy


# RunConfig fields that choose where and how a run computes, not what it computes (left out of the cache key)
_NOT_IN_KEY = ("cache_dir", "result_cache", "recompute", "federated_background", "side_process")


def result_cache(cfg: RunConfig) -> ResultCache:
    """The result cache of runs with ``cfg``'s settings (disabled when ``cfg.result_cache`` is None; the CLI sets
    it to :func:`unireps.report.cache.default_root`).

    >>> import tempfile
    >>> result_cache(RunConfig()).enabled
    False
    >>> root = tempfile.mkdtemp()
    >>> result_cache(RunConfig(result_cache=root)).key == result_cache(RunConfig(result_cache=root, seed=0)).key
    True
    >>> result_cache(RunConfig(result_cache=root)).key == result_cache(RunConfig(result_cache=root, seed=1)).key
    False
    """
    if cfg.result_cache is None:
        return ResultCache(None, "")
    settings = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in _NOT_IN_KEY}
    return ResultCache(cfg.result_cache, fingerprint(settings), refresh=cfg.recompute)


def cached_section(cache: ResultCache, name: str, fn: Callable, out: RunResults):
    """``fn()`` (a section's ``(tables, figures, numbers)``), or its copy from ``cache`` when one is stored under
    the same key (recorded in ``out.reused`` with when and in how many seconds it was computed).

    >>> import tempfile
    >>> cache, out = ResultCache(tempfile.mkdtemp(), "key"), RunResults()
    >>> cached_section(cache, "s", lambda: ({}, {}, {"x": 1.0}), out)[2], out.reused
    ({'x': 1.0}, {})
    >>> cached_section(cache, "s", lambda: 1 / 0, out)[2], list(out.reused)
    ({'x': 1.0}, ['s'])
    """
    hit = cache.load(name)
    if hit is not None:
        out.reused[name] = cache.meta(name)
        return hit
    t, c = time.perf_counter(), time.process_time()
    result = fn()
    cache.store(name, result, time.perf_counter() - t, time.process_time() - c)
    return result


@dataclass
class RunResults:
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    figures: dict = field(default_factory=dict)
    numbers: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)  # wall-clock seconds per step
    cpu_times: dict = field(default_factory=dict)  # process CPU seconds per step (all threads)
    config: RunConfig = field(default_factory=RunConfig)
    pending_federated: ChildSection | None = None  # the federated child, when run_standard left it running
    reused: dict = field(default_factory=dict)  # section -> meta.json of its copy in the result cache
    cache: ResultCache = field(default_factory=lambda: ResultCache(None, ""))  # the sections' (zoo variant)

    def add(self, tables=None, figures=None, numbers=None):
        self.tables.update(tables or {})
        self.figures.update(figures or {})
        self.numbers.update(numbers or {})


def zoo(name: str) -> str:
    return f"zoo:{name}"


def eval_set(n: int):
    """New images and captions from the training distribution (the zoo's eval role, seed 1)."""
    from ..zoo.data import EVAL_SEED, IMAGE_SIZE

    return load_dataset("shapes", n=n, seed=EVAL_SEED, split="train", image_size=IMAGE_SIZE)


def _available(preset: str) -> set[str]:
    from ..zoo import list_zoo

    return {z["name"] for z in list_zoo(preset)}


# ------------------------------------------------------------------------------------------------ sections


def section_models(cfg: RunConfig, names: set[str]):
    from ..zoo import list_zoo

    rows = []
    for z in list_zoo(cfg.preset):
        s = z.get("summary") or {}
        rows.append({"model": z["name"], "family": z["family"], "architecture": z["architecture"],
                     "objective": z["objective"], "seed": z["seed"], "steps": z["steps"], **s})
    cards = pd.DataFrame(rows)
    trained = cards[~cards.model.str.contains("-untrained|-ckpt")]
    numbers = {"n_zoo_models": int(len(cards)), "n_trained_models": int(len(trained))}
    for fam in HF_FAMILIES:
        row = cards[cards.model == f"{fam}-s0"]
        if len(row) and "i2t_r1" in row:
            numbers[f"{fam}_i2t_r1"] = float(row.i2t_r1.iloc[0])
            numbers[f"{fam}_t2i_r1"] = float(row.t2i_r1.iloc[0])
    if "chance_r1" in cards and cards.chance_r1.notna().any():
        numbers["chance_r1"] = float(cards.chance_r1.dropna().iloc[0])
    if "train_time_s" in cards:
        numbers["zoo_train_time_s"] = float(cards.train_time_s.fillna(0).sum())
    fig = viz.bar_plot(trained.melt(id_vars="model", value_vars=[c for c in ("i2t_r1", "t2i_r1") if c in trained],
                                    var_name="direction", value_name="R@1"),
                       "model", "R@1", color="direction",
                       title="Retrieval R@1 of the zoo (stand-ins trained here on synthetic shapes; clip-s0 etc. "
                       "are stand-ins, not the pretrained models) on new images from the training distribution "
                       "(factor-identical convention)")
    return {"zoo_cards": cards}, {"zoo_retrieval": fig}, numbers


def section_convergence(cfg: RunConfig, ds):
    models = {f"{f}-s0": zoo(f"{f}-s0") for f in HF_FAMILIES}
    res = analysis.compare_models(models, ds, metrics=("linear_cka", "mutual_knn"), n_boot=cfg.n_boot,
                                  n_permutations=cfg.n_permutations, seed=cfg.seed, cache_dir=cfg.cache_dir)
    t = res.table
    trained = t[(t.role_a == "model") & (t.role_b == "model")]
    untrained = t[(t.role_a != "model") & (t.role_b != "model") & (t.role_a == "untrained twin")
                  & (t.role_b == "untrained twin")]
    numbers = {}
    for metric in ("linear_cka", "mutual_knn"):
        tr, un = trained[trained.metric == metric], untrained[untrained.metric == metric]
        numbers[f"cross_family_{metric}_trained_mean"] = float(tr.value.mean())
        numbers[f"cross_family_{metric}_trained_min"] = float(tr.value.min())
        numbers[f"cross_family_{metric}_trained_max"] = float(tr.value.max())
        numbers[f"cross_family_{metric}_untrained_mean"] = float(un.value.mean()) if len(un) else float("nan")
        numbers[f"cross_family_{metric}_shuffled_mean"] = float(tr.shuffled.mean())
        numbers[f"cross_family_{metric}_max_p"] = float(tr.p_value.max())
        best = tr.sort_values("value").iloc[-1]
        numbers[f"cross_family_{metric}_best_pair"] = f"{best.model_a} and {best.model_b}"
    title = "{}: zoo stand-ins, untrained twins and raw pixels"
    figs = {f"heatmap_{m}": viz.similarity_heatmap(res.matrices[m], title=title.format(m),
                                                   ci=viz.ci_strings(t, m, list(res.matrices[m].index)))
            for m in ("linear_cka", "mutual_knn")}
    mats = {f"matrix_{m}": M.reset_index(names="model") for m, M in res.matrices.items()}
    return {"convergence": t, **mats}, figs, numbers


def section_seeds(cfg: RunConfig, ds, names: set[str]):
    seeds = sorted(n for n in names if n.startswith(f"{SEED_BASE}-s") and n.split("-s")[-1].isdigit())
    models = {zoo(n): {"seed": int(n.split("-s")[-1]), "state": "trained"} for n in seeds}
    models.update({zoo(f"{n}-untrained"): {"seed": int(n.split("-s")[-1]), "state": "untrained"}
                   for n in seeds if f"{n}-untrained" in names})
    t = analysis.pairwise_table(models, ds, metrics=("linear_cka", "mutual_knn", "procrustes"),
                                cache_dir=cfg.cache_dir)
    both = t[(t.state_a == "trained") & (t.state_b == "trained")]
    mixed = t[(t.state_a != t.state_b)]
    untr = t[(t.state_a == "untrained") & (t.state_b == "untrained")]
    numbers = {"n_seeds": len(seeds)}
    rows = []
    for metric in ("linear_cka", "mutual_knn", "procrustes"):
        for label, part in (("trained vs trained (different seeds)", both), ("trained vs untrained", mixed),
                            ("untrained vs untrained", untr)):
            v = part[part.metric == metric].value
            rows.append({"comparison": label, "metric": metric, "mean": v.mean(), "min": v.min(), "max": v.max(),
                         "pairs": len(v)})
        numbers[f"seed_{metric}_mean"] = float(both[both.metric == metric].value.mean())
        numbers[f"seed_{metric}_min"] = float(both[both.metric == metric].value.min())
        numbers[f"trained_vs_untrained_{metric}_mean"] = float(mixed[mixed.metric == metric].value.mean())
        numbers[f"trained_vs_untrained_{metric}_max"] = float(mixed[mixed.metric == metric].value.max())
    summary = pd.DataFrame(rows)
    fig = viz.bar_plot(summary, "metric", "mean", color="comparison", title="Two seeds vs trained and untrained",
                       yrange=(0, 1))
    return {"seeds_pairs": t, "seeds_summary": summary}, {"seeds": fig}, numbers


def section_training(cfg: RunConfig, ds, names: set[str]):
    """Similarity of the CNN checkpoints (0, 25, 50, 100% of training) to trained models of other architectures."""
    base = f"{SEED_BASE}-s0"
    steps = [("0%", f"{base}-untrained"), ("25%", f"{base}-ckpt25"), ("50%", f"{base}-ckpt50"), ("100%", base)]
    steps = [(s, n) for s, n in steps if n in names]
    others = [n for n in ("vit-gru-infonce-s0", "mlp-gru-infonce-s0", "clip-s0", "siglip-s0") if n in names]
    from ..metrics import linear_cka, mutual_knn

    rows = []
    reps = {n: analysis.reps.embedding(zoo(n), ds, cache_dir=cfg.cache_dir) for _, n in steps}
    other_reps = {o: analysis.reps.embedding(zoo(o), ds, cache_dir=cfg.cache_dir) for o in others}
    for s, n in steps:
        for o, Y in other_reps.items():
            rows.append({"training": s, "model": n, "other": o, "metric": "linear_cka",
                         "value": linear_cka(reps[n], Y)})
            rows.append({"training": s, "model": n, "other": o, "metric": "mutual_knn",
                         "value": mutual_knn(reps[n], Y, k=10)})
    t = pd.DataFrame(rows)
    numbers = {}
    for metric in ("linear_cka", "mutual_knn"):
        m = t[t.metric == metric].groupby("training", sort=False).value.mean()
        if len(m):
            numbers[f"training_{metric}_start"] = float(m.iloc[0])
            numbers[f"training_{metric}_end"] = float(m.iloc[-1])
            numbers[f"training_{metric}_monotone"] = bool(np.all(np.diff(m.to_numpy()) >= -1e-9))
    fig = viz.layer_curves(t.assign(series=t.other + " · " + t.metric), x="training", color="series",
                           title=f"Similarity of {base} to other trained architectures over its training")
    return {"training": t}, {"training": fig}, numbers


def section_layers(cfg: RunConfig, ds, names: set[str]):
    a, b = zoo(f"{SEED_BASE}-s0"), zoo(f"{SEED_BASE}-s1")
    res = analysis.layerwise(a, b, ds, metric="linear_cka", comparison_metrics=("cca", "svcca"),
                             cache_dir=cfg.cache_dir)
    ident = res.identification.set_index("metric")
    numbers = {f"identification_{m}": float(ident.loc[m, "identification_rate"]) for m in ident.index}
    numbers["n_layers"] = int(ident.loc["linear_cka", "n_layers"])
    la = analysis.representations(a, ds, "image", layers="all", cache_dir=cfg.cache_dir)
    lb = analysis.representations(b, ds, "image", layers="all", cache_dir=cfg.cache_dir)
    cis = []
    # bootstrap over stimuli: how much the rate depends on the particular images; the measures share the draws
    shared = analysis.identification_cis(la, lb, tuple(ident.index), n_boot=cfg.stat_boot, seed=cfg.seed)
    for m, ci in shared.items():
        if isinstance(ci, ValueError):  # the measure is undefined for some layer (see the table's note)
            continue
        cis.append(ci)
        numbers[f"identification_{m}_ci_low"], numbers[f"identification_{m}_ci_high"] = ci["ci_low"], ci["ci_high"]
    numbers["identification_n_boot"] = min((c["n_boot"] for c in cis), default=0)
    if cis:
        res.identification = res.identification.merge(pd.DataFrame(cis)[["metric", "ci_low", "ci_high", "n_boot"]],
                                                      on="metric", how="left")
    fig = viz.layer_map(res.maps["linear_cka"], title="Linear CKA between layers of two seeds",
                        xlabel=f"{SEED_BASE} seed 1", ylabel=f"{SEED_BASE} seed 0")
    maps = {f"layers_map_{m}": M.reset_index(names="layer_a") for m, M in res.maps.items()}
    return {"layers_identification": res.identification, "layers_best_match": res.best_match, **maps}, \
        {"layers": fig}, numbers


def section_objectives(cfg: RunConfig, ds, names: set[str]):
    objs = {"contrastive (InfoNCE)": f"{SEED_BASE}-s0", "sigmoid": "cnn16-gru-sigmoid-s0",
            "supervised factors": "cnn16-supervised-s0", "reconstruction": "cnn16-autoencoder-s0"}
    objs = {k: zoo(v) for k, v in objs.items() if v in names}
    res = analysis.compare_models(objs, ds, metrics=("linear_cka",), n_boot=0, n_permutations=0, baselines=False,
                                  cache_dir=cfg.cache_dir)
    rows = []
    for label, m in objs.items():
        fa = analysis.factor_alignment(m, ds, metrics=("linear_cka",), cache_dir=cfg.cache_dir)
        rows += [{"objective": label, **r} for r in fa.to_dict("records")]
    factors = pd.DataFrame(rows)
    allf = factors[factors.factor == "all factors"].set_index("objective").value
    numbers = {f"factor_cka_{k.split()[0].strip('()').lower()}": float(v) for k, v in allf.items()}
    numbers["objective_cka_min"] = float(res.table.value.min())
    numbers["objective_cka_max"] = float(res.table.value.max())
    figs = {"objectives": viz.similarity_heatmap(res.matrices["linear_cka"], title="Linear CKA across objectives"),
            "factors": viz.bar_plot(factors, "factor", "value", color="objective",
                                    title="Linear CKA with the generative factors of the shapes world", yrange=(0, 1))}
    return {"objectives": res.table, "factor_alignment": factors}, figs, numbers


def section_crossmodal(cfg: RunConfig, ds, names: set[str]):
    models = [zoo(f"{f}-s0") for f in HF_FAMILIES] + [zoo(n) for n in (f"{SEED_BASE}-s0", "cnn16-tfm-infonce-s0",
                                                                         "cnn16-bow-infonce-s0") if n in names]
    t = analysis.cross_modal_alignment(models, ds, metrics=("mutual_knn", "linear_cka"), language_model="minilm",
                                       cache_dir=cfg.cache_dir)
    numbers = {}
    for metric in ("mutual_knn", "linear_cka"):
        tm = t[t.metric == metric]
        tr, un = tm[tm.state == "trained"], tm[tm.state == "untrained"]
        numbers[f"xmodal_{metric}_own_trained_mean"] = float(tr.image_vs_own_text.mean())
        numbers[f"xmodal_{metric}_own_untrained_mean"] = float(un.image_vs_own_text.mean())
        numbers[f"xmodal_{metric}_lm_trained_mean"] = float(tr.image_vs_language_model.mean())
        numbers[f"xmodal_{metric}_lm_untrained_mean"] = float(un.image_vs_language_model.mean())
        from scipy.stats import spearmanr

        for col in ("image_vs_own_text", "image_vs_language_model"):
            # within a comparable group: trained models only (pooling untrained twins, which have near-chance
            # competence and low alignment, manufactures a correlation); the pooled value is kept, labelled
            for group, part in (("trained", tr), ("pooled", tm)):
                comp, v = part.r1_image_to_text.to_numpy(), part[col].to_numpy()
                ok = np.isfinite(comp) & np.isfinite(v)
                key = f"xmodal_{metric}_{col}_vs_r1_spearman" + ("" if group == "trained" else "_pooled")
                res = spearmanr(comp[ok], v[ok]) if ok.sum() > 2 else None
                numbers[key] = float(res.statistic) if res is not None else float("nan")
                numbers[key.replace("_spearman", "_p")] = float(res.pvalue) if res is not None else float("nan")
                numbers[key.replace("_spearman", "_n")] = int(ok.sum())
    numbers["xmodal_n_models"] = int(t.model.nunique())
    fig = viz.style(__import__("plotly.express", fromlist=["scatter"]).scatter(
        t[t.metric == "mutual_knn"], x="r1_image_to_text", y="image_vs_language_model", color="state",
        hover_name="model", labels={"r1_image_to_text": "competence: image→text R@1",
                                    "image_vs_language_model": "mutual k-NN with MiniLM (captions)"}),
        "Vision–language alignment vs competence", height=420)
    return {"crossmodal": t}, {"crossmodal": fig}, numbers


def section_brain(cfg: RunConfig, names: set[str]):
    ds92 = load_dataset("kriegeskorte92")  # each model's own preprocessing resizes the 175-px images
    models = [zoo(f"{f}-s0") for f in HF_FAMILIES] + [zoo(f"{SEED_BASE}-s0"), zoo(f"{SEED_BASE}-s0-untrained")]
    tables = []
    for i, m in enumerate(models):
        t = analysis.brain_rsa({k: v for k, v in analysis.representations(m, ds92, "image", layers="all",
                                                                          cache_dir=cfg.cache_dir).items()},
                               n_boot=cfg.stat_boot, seed=cfg.seed, with_references=i == 0)
        tables.append(t.assign(model=t.model.where(t.kind == "reference", m.removeprefix("zoo:"))))
    t = pd.concat(tables, ignore_index=True)
    layers = t[(t.kind == "layer") & t.value.notna()]
    h = layers[layers.target == "human_IT"]
    mk = layers[layers.target == "monkey_IT"]
    best_h = h.sort_values("mean_over_subjects").iloc[-1]
    best_m = mk.sort_values("value").iloc[-1]
    ref = t[t.kind == "reference"]
    numbers = {"brain_undefined_layers": int(t[(t.kind == "layer") & t.value.isna()].layer.nunique()),
               "ceiling_lower": float(t.ceiling_lower.iloc[0]), "ceiling_upper": float(t.ceiling_upper.iloc[0]),
               "brain_best_human": float(best_h.mean_over_subjects), "brain_best_human_layer":
               f"{best_h.model} · {best_h.layer}", "brain_best_monkey": float(best_m.value),
               "brain_best_monkey_layer": f"{best_m.model} · {best_m.layer}",
               "brain_monkey_vs_human": float(ref[(ref.layer == "monkeyIT") & (ref.target == "human_IT")]
                                              .value.iloc[0]),
               "brain_animacy_human": float(ref[(ref.layer == "animacy") & (ref.target == "human_IT")]
                                            .mean_over_subjects.iloc[0])}
    best_per_model = h.groupby("model").mean_over_subjects.max()
    numbers["brain_untrained_best_human"] = float(best_per_model.get(f"{SEED_BASE}-s0-untrained", np.nan))
    numbers["brain_trained_cnn_best_human"] = float(best_per_model.get(f"{SEED_BASE}-s0", np.nan))
    numbers.update(_ceiling_numbers(t))
    numbers.update(_tie_numbers(ds92))
    # "best layer" chosen on one half of the 92 images and scored on the other (trained models), and the same
    # for the untrained twin's layers (the baseline); the in-sample maximum only with its permutation null
    trained = [m for m in models if "untrained" not in m]
    kw = dict(n_splits=cfg.n_splits, seed=cfg.seed, n_permutations=cfg.stat_permutations, cache_dir=cfg.cache_dir)
    selections = {"trained": analysis.brain_layer_selection(trained, **kw),
                  "untrained": analysis.brain_layer_selection([zoo(f"{SEED_BASE}-s0-untrained")], **kw)}
    for group, sel in selections.items():
        d = sel.as_dict()
        for k in ("cv_mean", "cv_sd", "n_splits", "in_sample_value", "null_mean", "null_p95", "p_value",
                  "n_permutations", "n_candidates", "most_picked_share"):
            numbers[f"brain_{group}_{k}"] = d[k]
        numbers[f"brain_{group}_most_picked"] = d["most_picked"].removeprefix("zoo:")
        numbers[f"brain_{group}_in_sample_best"] = d["in_sample_best"].removeprefix("zoo:")
    selection_table = pd.DataFrame([{"candidates": g, **s.as_dict()} for g, s in selections.items()])
    stand = "zoo stand-ins' layers (trained here on synthetic shapes, not the pretrained models)"
    figs = {"brain_human": viz.brain_plot(t, "human_IT", title=f"RSA of {stand} with human IT, 92 photographs"),
            "brain_monkey": viz.brain_plot(t, "monkey_IT", title=f"RSA of {stand} with monkey IT, 92 photographs")}
    return {"brain": t, "brain_layer_selection": selection_table}, figs, numbers


def _tie_numbers(ds92) -> dict:
    """The animacy model RDM (two distinct values) against human IT under Spearman, tau-a and rho-a, and the
    lower bound of the noise ceiling under each (ties: Nili et al. 2014)."""
    from ..analysis.brain import subject_rdms
    from ..metrics import noise_ceiling, rsa_rdms

    subjects, animacy = subject_rdms(ds92), ds92.condensed("model/animacy")
    out = {}
    for c in ("spearman", "kendall_tau_a", "rho_a"):
        out[f"brain_animacy_human_{c}"] = float(np.mean([rsa_rdms(animacy, s, c) for s in subjects]))
        out[f"ceiling_lower_{c}"] = noise_ceiling(subjects, c)[0]
    return out


def _ceiling_numbers(t: pd.DataFrame) -> dict:
    out = {}
    for key in ("ceiling_lower", "ceiling_upper"):
        for suffix in ("_ci_low", "_ci_high"):
            if key + suffix in t:
                out[key + suffix] = float(t[key + suffix].iloc[0])
    if "ceiling_n_boot" in t:
        out["ceiling_n_boot"] = int(t.ceiling_n_boot.iloc[0])
    return out


def section_embeddings(cfg: RunConfig, ds, names: set[str]):
    pick = [m for m in (f"{SEED_BASE}-s0", "clip-s0", "siglip-s0") if m in names]
    trained = sorted(m for m in names if "-untrained" not in m and "-ckpt" not in m)
    pick += [m for m in trained if m not in pick][:max(0, 3 - len(pick))]  # other presets (tiny): their own models
    if not pick:
        return {}, {}, {}
    sub = ds.subset(range(min(200, len(ds))))
    coords = {m: viz.pca_2d(analysis.reps.embedding(zoo(m), sub, cache_dir=cfg.cache_dir)) for m in pick}
    fig = viz.embedding_panels(viz.procrustes_align_2d(coords), list(sub.captions),
                               groups=list(sub.factors["shape"]), title=f"The same {len(sub)} images in "
                               f"{len(pick)} zoo stand-ins trained here on synthetic shapes (PCA, rotated onto the "
                               "first); colour = shape")
    return {}, {"embeddings": fig}, {"n_embedding_panel_images": len(sub), "n_embedding_panel_models": len(pick)}


def stitching_bars(s: pd.DataFrame):
    """Grouped bars: one bar per (width, cut, method) condition and bottom (seed A or random), never stacked."""
    long = s.melt(id_vars=[c for c in s.columns if c not in ("penalty", "penalty_random_bottom")],
                  value_vars=["penalty", "penalty_random_bottom"], var_name="bottom", value_name="accuracy_drop")
    width = ("w" + long.width.astype(str) + " ") if "width" in long else ""
    long = long.assign(condition=width + long.cut_a + "→" + long.cut_b + " (" + long.method + ")",
                       bottom=long.bottom.map({"penalty": "A's bottom (seed 0)", "penalty_random_bottom":
                                               "random bottom (control)"}))
    assert not long.duplicated(["condition", "bottom"]).any(), "one bar per condition and bottom"
    return viz.bar_plot(long, "condition", "accuracy_drop", color="bottom",
                        title="Stitching penalty (B's accuracy − stitched), A's bottom vs a random bottom")


def section_applications(cfg: RunConfig):
    from ..applications import (
        digits_probe_transfer,
        lmc_width_sweep,
        multitask_merge_table,
        stitching_penalties,
        summarise_merge_table,
        summarise_stitching,
    )

    quick = cfg.quick_applications
    widths = (16, 64) if quick else (16, 64, 256, 512)
    lmc, curves = lmc_width_sweep(widths=widths, seeds=(0, 1), epochs=10 if quick else 30, return_curves=True)
    stitch = summarise_stitching(stitching_penalties(widths=(32,) if quick else (32, 64),
                                                     epochs=10 if quick else 30))
    transfer = digits_probe_transfer(n_anchors=(20, 100) if quick else (10, 20, 50, 100, 200, 500),
                                     n_repeats=1 if quick else 3)
    merge = multitask_merge_table() if not quick else multitask_merge_table(pretrain_epochs=5, probe_epochs=5,
                                                                             finetune_epochs=5)
    merge_summary = summarise_merge_table(merge).reset_index()
    numbers = {}
    test = lmc[lmc.split == "test"] if "split" in lmc else lmc
    for (w, al), g in test.groupby(["width", "alignment"]):
        numbers[f"lmc_loss_barrier_w{w}_{al}"] = float(g.loss_barrier.mean())
        numbers[f"lmc_error_barrier_w{w}_{al}"] = float(g.error_barrier.mean())
    numbers["lmc_widths"] = ", ".join(str(w) for w in sorted(test.width.unique()))
    s = stitch
    numbers["stitch_penalty_mean"] = float(s.penalty.mean())
    numbers["stitch_penalty_max"] = float(s.penalty.max())
    numbers["stitch_control_mean"] = float(s.penalty_random_bottom.mean())
    numbers["stitch_control_min"] = float(s.penalty_random_bottom.min())
    numbers.update(stitch_diagram(s)[1])
    tr = transfer.groupby(["method", "n_anchors"]).accuracy.mean().reset_index()
    numbers.update({f"transfer_{k}": float(v) for k, v in tr[tr.n_anchors == 0].set_index("method").accuracy.items()})
    tr = tr[tr.n_anchors > 0]
    big = tr[tr.n_anchors == tr.n_anchors.max()].set_index("method").accuracy
    numbers.update({f"transfer_{k}": float(v) for k, v in big.items()})
    numbers["transfer_max_anchors"] = int(tr.n_anchors.max())
    ms = merge_summary.set_index("method")["mean"]
    numbers.update({f"merge_{k}": float(v) for k, v in ms.items()})
    curves_t = curves[curves.split == "test"] if "split" in curves else curves
    w_show = max(widths)
    cv = curves_t[(curves_t.width == w_show) & (curves_t.seed_a == 0)].copy()
    cv["curve"] = cv.alignment.map(lambda a: f"{a} w={w_show}")
    figs = {"lmc": viz.lmc_plot(cv, y="loss", title=f"Interpolating two digits MLPs (width {w_show})"),
            "lmc_barriers": viz.bar_plot(test.groupby(["width", "alignment"]).loss_barrier.mean().reset_index()
                                         .assign(width=lambda d: d.width.astype(str)), "width", "loss_barrier",
                                         color="alignment", title="Loss barrier vs width, before and after alignment"),
            "stitching": stitching_bars(s),
            "stitch_diagram": stitch_diagram(s)[0],
            "transfer": viz.sweep_plot(tr.rename(columns={"accuracy": "value"}), x="n_anchors", color="method",
                                       err=None, title="Probe transfer from model A to model B vs anchors "
                                       f"(no map: {numbers['transfer_no_map']:.2f}; A's probe on A: "
                                       f"{numbers['transfer_a_on_a']:.2f})"),
            "merge": viz.bar_plot(merge_summary, "method", "mean", title="Merged trunk: mean normalised accuracy "
                                  "over tasks")}
    figs = {k: v for k, v in figs.items() if v is not None}
    return {"lmc": lmc, "lmc_curves": curves, "stitching": s, "transfer": transfer, "merge": merge,
            "merge_summary": merge_summary}, figs, numbers


def section_federated(cfg: RunConfig):
    """Federated digits (unireps.federated) on Flower's simulation engine: FedAvg and FedProx at a strong and a weak
    label skew over ``cfg.federated_seeds`` seeds (mean ± SD), with the central, isolated and untrained baselines;
    the paragraph and its numbers for the post."""
    from ..federated import FedConfig
    from ..federated.experiment import report_section, run_experiment

    quick = cfg.quick_applications
    fed = FedConfig(n_clients=2, rounds=2, local_epochs=1, seed=cfg.seed) if quick else FedConfig(seed=cfg.seed)
    seeds = [cfg.seed + i for i in range(max(1, cfg.federated_seeds))]
    # aligned averaging is left to `unireps federated`: from the shared init of every round it finds the identity;
    # interpolation barriers too (the paragraph does not use them; they cost about a third of the analysis)
    # Ray on one core, one client actor: the section runs beside the others on a 2-core machine; a second actor
    # only imports torch again (the whole grid alone, quiet: 168 -> 135 CPU s, 132 -> 134 s wall, equal numbers)
    tables = run_experiment(fed, alphas=(0.1, 10.0), strategies=("fedavg",) if quick else ("fedavg", "fedprox"),
                            seeds=seeds, engine=cfg.federated_engine, with_barrier=False,
                            flower_options={"num_cpus": 1})
    table, paragraph = report_section(tables, fed)
    numbers = {"federated_paragraph": paragraph, "federated_clients": fed.n_clients, "federated_rounds": fed.rounds,
               "federated_seeds": len(seeds), "federated_engine": cfg.federated_engine}
    last = table[table["round"] == table.groupby(["alpha", "strategy"])["round"].transform("max")]
    for row in last.dropna(subset=["global_acc"]).itertuples():
        numbers[f"federated_acc_a{row.alpha:g}_{row.strategy}"] = float(row.global_acc)
        if row.n_seeds > 1:
            numbers[f"federated_acc_sd_a{row.alpha:g}_{row.strategy}"] = float(row.global_acc_sd)
    return {"federated": table, **{f"federated_{k}": v for k, v in tables.items()}}, {}, numbers


# ------------------------------------------------------------------------------------------------ runner

SECTIONS: list[tuple[str, Callable]] = []


def start_federated(cfg: RunConfig, progress: Callable[[str], None] | None = print) -> ChildSection | None:
    """Start the federated section in its child process now (None when ``cfg`` runs it in-process or not at all);
    pass the result to :func:`run_standard` as ``federated``.  `unireps demo` starts it before the real networks,
    so that it overlaps them too.

    >>> start_federated(RunConfig(applications=False)) is None
    True
    """
    if not (cfg.applications and cfg.federated_background):
        return None
    cache = result_cache(cfg)
    section = cache.load("federated")
    if section is not None:
        return _CachedSection(cache, section)
    if progress is not None:
        progress("analysis: federated (in a child process, beside the other sections)...")
    return ChildSection(_federated_in_child, cfg)


def run_standard(cfg: RunConfig | None = None, progress: Callable[[str], None] | None = print,
                 federated: ChildSection | None = None, collect_federated: bool = True) -> RunResults:
    """Build the zoo (cached), then every section; a section that fails raises (no silent gaps).

    ``federated``: the federated section's child process if :func:`start_federated` started it already (it is
    collected here, or stopped if a section fails); otherwise it is started here when ``cfg`` asks for it.
    ``collect_federated=False`` leaves it running in ``RunResults.pending_federated`` for the caller to collect
    with :func:`finish_federated` after other work (the report takes its screenshots first).  The sections of
    :data:`SIDE_SECTIONS` (the 92 photos, the digits: no activations shared with the others) run in a child process
    of their own beside the others, which run on one thread, unless ``cfg.side_process`` is False (those found in
    the result cache are read from it)."""
    from ..zoo import build

    cfg = cfg or RunConfig()
    if cfg.preset not in REPORT_PRESETS:
        raise ValueError(f"the standard analyses run on the zoo presets {', '.join(REPORT_PRESETS)}; got "
                         f"{cfg.preset!r} (the tiny preset, for tests, lacks the families, seeds and checkpoints "
                         "they compare)")
    out = RunResults(config=cfg)
    times = StepTimes()
    out.timings, out.cpu_times = times.wall, times.cpu
    say = progress or (lambda s: None)
    say(f"building the zoo (preset {cfg.preset}; cached after the first run)...")
    with times.step("zoo"):
        build(preset=cfg.preset, progress=progress is not None)  # where load_model("zoo:...") looks
    names = _available(cfg.preset)
    cache = result_cache(cfg)
    if cache.enabled:  # the sections load the zoo: its files are part of their key
        from ..zoo import zoo_dir

        cache = cache.with_variant(folder_digest(zoo_dir()))
    out.cache = cache
    ds = eval_set(cfg.n)
    out.numbers["n_stimuli"] = len(ds)
    steps = _steps(cfg, ds, names)
    side = [n for n, _ in steps if n in SIDE_SECTIONS] if cfg.side_process else []
    done: dict[str, tuple] = {n: hit for n in side if (hit := cache.load(n)) is not None}  # read once
    out.reused.update({n: cache.meta(n) for n in done})
    side = [n for n in side if n not in done]
    background, lane = federated, None
    try:
        if cfg.applications:
            if not cfg.federated_background:
                steps.append(("federated", lambda: section_federated(cfg)))
            elif background is None:
                background = start_federated(cfg, progress)
        if side:
            say(f"analysis: {', '.join(side)} (in a child process, beside the other sections)...")
            lane = ChildSection(_sections_in_child, cfg, sorted(names), side)
        with threads_for_small_ops():  # n = 500 and 92 stimuli: many small products (see threads_for_small_ops)
            for name, fn in steps:
                if name in done or name in side:
                    continue
                say(f"analysis: {name}...")
                with times.step(name):
                    done[name] = cached_section(cache, name, fn, out)
        if lane is not None:
            say(f"analysis: {', '.join(side)} (waiting for the child process)...")
            with times.step("side sections: wait"):
                timed = lane.result()[0]
            lane = None
            for name, (section, wall, cpu) in timed.items():
                done[name] = section
                out.timings[name], out.cpu_times[name] = wall, cpu
                cache.store(name, section, wall, cpu)
        for name, _ in steps:  # the tables, figures and numbers in the sections' order, wherever they ran
            out.add(*done[name])
        out.pending_federated, background = background, None
        if collect_federated:
            finish_federated(out, progress)
    finally:
        for child in (lane, background):
            if child is not None:  # a step failed: end the children too
                child.stop()
    return out


def finish_federated(out: RunResults, progress: Callable[[str], None] | None = print) -> None:
    """Wait for the federated child left in ``out.pending_federated`` and add its tables, numbers and times
    (``federated``: the child's wall and CPU seconds; ``federated: wait``: how long the caller waited).  Stops the
    child if collecting fails.

    >>> finish_federated(RunResults(), progress=None)  # nothing pending: nothing to do
    """
    child, out.pending_federated = out.pending_federated, None
    if child is None:
        return
    if progress is not None:
        progress("analysis: federated (waiting for the child process)...")
    t0 = time.perf_counter()
    try:
        section, wall, cpu = child.result()
    except BaseException:
        child.stop()
        raise
    out.timings["federated: wait"], out.cpu_times["federated: wait"] = time.perf_counter() - t0, 0.0
    out.add(*section)
    out.timings["federated"], out.cpu_times["federated"] = wall, cpu
    if isinstance(child, _CachedSection):
        out.reused["federated"] = child.cache.meta("federated")
    else:
        result_cache(out.config).store("federated", section, wall, cpu)


class _CachedSection:
    """The federated section's copy from the result cache (read once, by :func:`start_federated`), in place of its
    child process."""

    def __init__(self, cache: ResultCache, section):
        self.cache = cache
        self._section = section

    def result(self):
        return self._section, 0.0, 0.0

    def stop(self) -> None:
        pass


def _steps(cfg: RunConfig, ds, names: set[str]) -> list[tuple[str, Callable]]:
    """The in-process sections of :func:`run_standard`, in the post's order: ``[(name, fn)]`` (``ds``: the eval
    set; the sections of :data:`SIDE_SECTIONS` do not use it)."""
    steps = [("models", lambda: section_models(cfg, names)),
             ("embeddings", lambda: section_embeddings(cfg, ds, names)),
             ("convergence", lambda: section_convergence(cfg, ds)),
             ("seeds", lambda: section_seeds(cfg, ds, names)),
             ("training", lambda: section_training(cfg, ds, names)),
             ("layers", lambda: section_layers(cfg, ds, names)),
             ("objectives", lambda: section_objectives(cfg, ds, names)),
             ("crossmodal", lambda: section_crossmodal(cfg, ds, names)),
             ("brain", lambda: section_brain(cfg, names)),
             ("depth", lambda: section_depth(cfg, ds, names)),
             ("brain_depth", lambda: section_brain_depth(cfg, names))]
    if cfg.applications:
        steps.append(("applications", lambda: section_applications(cfg)))
    return steps


def _sections_in_child(cfg: RunConfig, names: list[str], which: list[str]) -> dict[str, tuple]:
    """The sections ``which`` (of :data:`SIDE_SECTIONS`) in the child process :func:`run_standard` starts after the
    zoo: ``{name: (section, wall_s, cpu_s)}``.  One thread for small products, as in the parent; the activations
    come from the same on-disk cache; the digits models train with deterministic algorithms: the numbers equal an
    in-process run's."""
    run, times, out = dict(_steps(cfg, None, set(names))), StepTimes(), {}
    with threads_for_small_ops():
        for name in which:
            with times.step(name):
                section = run[name]()
            out[name] = (section, times.wall[name], times.cpu[name])
    return out


def _federated_in_child(cfg: RunConfig):
    """:func:`section_federated` as the child process of :func:`run_standard` runs it (one thread for small
    products, as in the parent)."""
    with threads_for_small_ops():
        return section_federated(cfg)
