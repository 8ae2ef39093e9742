"""Real pretrained networks on real photographs: EfficientNet-Lite0/1/2 (ImageNet weights) and their untrained
twins on the 92 object photographs of Kriegeskorte et al. (2008), against the brain, each other and language.

Every function takes ``reps``: ``{model label: {layer: (92, d) array}}`` (from :func:`net_layers`), so that the
networks run once. Labels ending in ``-untrained`` are the baselines.

* :func:`brain_profiles`    per-layer RSA with human IT (mean over 4 subjects, comparable with the noise
                            ceiling), monkey IT and the early-visual model RDMs shipped with the data (V1, EVA, HMAX),
                            with bootstrap CIs over stimuli and, for the 4 subjects, rsatoolbox's dual bootstrap
                            over stimuli and subjects (:func:`layer_bootstrap`)
* :func:`brain_selection`   the best layer chosen on one half of the stimuli and scored on the other
                            (:func:`unireps.analysis.select_layer_cv`, halves stratified by category), per model and
                            target, with the noise ceiling on the same held-out halves
* :func:`scale_agreement`   layer x layer linear CKA between Lite0/1/2, trained vs untrained, depth-matched
* :func:`language_alignment` each layer vs MiniLM caption embeddings (mutual k-NN, linear CKA), permutation nulls

Conventions: RDMs are 1 - Pearson correlation between the stimuli's (pooled) activation vectors; RDMs are
compared with Spearman's rho over the 4186 stimulus pairs; feature maps are pooled by their spatial mean.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..metrics import compute_rdm, estimator_label, get_metric, layer_similarity, permutation_test, rsa_label
from ..metrics.ceiling import _compare_prepared, compare_matrix, dual_bootstrap_variance
from ..metrics.pairboot import WEIGHTED_METHODS, compare_resamples
from .selection import select_layer_cv

SUBJECTS_TARGET = "human_IT (4 subjects)"

REAL_NETS = ("efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2")
EARLY_VISUAL = ("V1", "EVA", "HMAX")
SKIP_LAYERS = ("head",)  # equal to "pooled" under spatial-mean pooling


def is_twin(label: str) -> bool:
    return str(label).endswith("-untrained")


def net_layers(models: Sequence[str] = REAL_NETS, dataset=None, twins: bool = True, cache_dir=None,
               skip: Sequence[str] = SKIP_LAYERS) -> dict[str, dict[str, np.ndarray]]:
    """{label: {layer: (n, d)}} of ``models`` and their ``<name>-untrained`` twins on ``dataset`` (default: the
    92 photos); ``head`` is left out (equal to ``pooled`` under spatial-mean pooling)."""
    from ..data import load_dataset
    from .reps import representations

    ds = load_dataset("kriegeskorte92") if dataset is None else dataset
    names = [m for name in models for m in ((name, f"{name}-untrained") if twins else (name,))]
    out = {}
    for name in names:
        reps = representations(name, ds, "image", layers="all", cache_dir=cache_dir)
        out[name] = {k: v for k, v in reps.items() if k not in skip}
    return out


def _depths(layers: Sequence[str]) -> dict[str, float]:
    n = len(layers)
    return {k: i / max(n - 1, 1) for i, k in enumerate(layers)}


def brain_targets(ds) -> dict[str, list[np.ndarray]]:
    """{target: [condensed RDMs]}: human IT per subject (4), the group human and monkey IT RDMs, early-visual models."""
    from .brain import subject_rdms

    out = {SUBJECTS_TARGET: subject_rdms(ds), "human_IT": [ds.condensed("human_IT")],
           "monkey_IT": [ds.condensed("monkey_IT")]}
    for m in EARLY_VISUAL:
        out[f"model/{m}"] = [ds.condensed(f"model/{m}")]
    return out


def _pair_flat(n: int, idx: np.ndarray) -> np.ndarray:
    """Condensed indices of the pairs of resampled stimuli ``idx``, pairs of two copies of one stimulus dropped
    (as ``unireps.metrics.ceiling.score_sample`` and rsatoolbox)."""
    i, j = np.triu_indices(len(idx), 1)
    keep = idx[i] != idx[j]
    lo, hi = np.minimum(idx[i[keep]], idx[j[keep]]), np.maximum(idx[i[keep]], idx[j[keep]])
    return n * lo - lo * (lo + 1) // 2 + (hi - lo - 1)


def _prepare(A: np.ndarray, compare: str) -> np.ndarray:
    from scipy.stats import rankdata

    return rankdata(A, axis=1) if compare in ("spearman", "rho_a") else A


def layer_bootstrap(layer_rdms: Mapping[str, np.ndarray], targets: Mapping[str, Sequence[np.ndarray]],
                    compare: str = "spearman", n_boot: int = 1000, level: float = 0.95,
                    seed: int = 0) -> pd.DataFrame:
    """Every layer against every target with bootstrap CIs, all from the same draws (one rank transform of each
    RDM per draw).

    ``layer_rdms``: {layer: condensed RDM}; ``targets``: {target: [condensed RDMs]} over the same n stimuli (one
    RDM, or several subjects' RDMs: the score is then the mean over subjects of compare(layer, subject), the score
    comparable with the noise ceiling).  Each draw resamples the n stimuli and the S subjects with replacement
    (pairs of two copies of one stimulus dropped), in the order and with the generator of
    ``unireps.metrics.rsa_bootstrap`` (rsatoolbox's ``eval_dual_bootstrap``; Schuett et al. 2023, eLife 12:e82566),
    so for a target with several subjects the columns equal that function's model rows: ``ci_low`` / ``ci_high``
    (percentile interval over stimuli), ``both_low`` / ``both_high`` (stimuli and subjects resampled together),
    ``sd_dual`` and ``dual_low`` / ``dual_high`` (value +- z sd of the dual-bootstrap variance).  For a single
    target RDM (or fewer subjects than the largest group) the subject columns are NaN.  A draw with fewer than 3
    distinct stimuli is skipped.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> truth = rng.random(190)  # 20 stimuli
    >>> subjects = [truth + 0.5 * rng.random(190) for _ in range(4)]
    >>> t = layer_bootstrap({"good": truth, "noise": rng.random(190)}, {"subjects": subjects}, n_boot=50)
    >>> tuple(t.layer), bool(t.ci_low[0] > t.ci_high[1])
    (('good', 'noise'), True)
    """
    from scipy.stats import norm

    from ..metrics._validate import check_choice
    from ..metrics.rsa import COMPARE_METHODS
    from ..metrics.stats import _check_count

    check_choice("compare", compare, COMPARE_METHODS)
    n_boot = _check_count("n_boot", n_boot, 2)
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), e.g. 0.95; got {level!r}")
    names, M = list(layer_rdms), np.stack([np.asarray(v, dtype=np.float64) for v in layer_rdms.values()])
    groups = {t: np.stack([np.asarray(r, dtype=np.float64) for r in rdms]) for t, rdms in targets.items()}
    bad = {t: g.shape for t, g in groups.items() if g.ndim != 2 or g.shape[1] != M.shape[1]}
    if bad:
        raise ValueError(f"targets {bad} must be lists of condensed RDMs of length {M.shape[1]} (the layers' pairs)")
    T = np.concatenate(list(groups.values()))
    cols = np.cumsum([0] + [len(g) for g in groups.values()])
    n = int(round((1 + np.sqrt(1 + 8 * M.shape[1])) / 2))
    full = _compare_prepared(_prepare(M, compare), _prepare(T, compare), compare)  # (layers, all target rows)
    rng = np.random.default_rng(seed)
    spans = list(zip(cols[:-1].tolist(), cols[1:].tolist(), strict=True))
    S = max(len(g) for g in groups.values())
    draws = {k: np.full((n_boot, len(groups), len(M)), np.nan) for k in ("both", "subjects", "stimuli")}
    resample_subjects = [g for g, (lo, hi) in enumerate(spans) if hi - lo == S >= 2]
    s_draws, p_draws = [], []
    for b in range(n_boot):
        # the generator is used as rsa_bootstrap uses it (subjects, then stimuli), for the largest subject group
        s_idx, p_idx = rng.integers(0, S, S), rng.integers(0, n, n)
        s_draws.append(s_idx)
        p_draws.append(p_idx)
        for g in resample_subjects:
            draws["subjects"][b, g] = full[:, slice(*spans[g])][:, s_idx].mean(1)
    ok = [b for b in range(n_boot) if len(np.unique(p_draws[b])) >= 3]
    if compare in WEIGHTED_METHODS:  # every draw at once by pair weights (unireps.metrics.pairboot)
        resampled = compare_resamples(M, T, compare, [p_draws[b] for b in ok], n)
    for i, b in enumerate(ok):
        s_idx = s_draws[b]
        if compare in WEIGHTED_METHODS:
            C = resampled[i]
        else:
            flat = _pair_flat(n, p_draws[b])
            C = _compare_prepared(_prepare(M[:, flat], compare), _prepare(T[:, flat], compare), compare)
        for g, span in enumerate(spans):
            draws["stimuli"][b, g] = C[:, slice(*span)].mean(1)
            if g in resample_subjects:
                draws["both"][b, g] = C[:, slice(*span)][:, s_idx].mean(1)
    alpha = (1.0 - level) / 2.0
    z = norm.ppf(1.0 - alpha)
    rows = []
    for g, target in enumerate(groups):
        lo, hi = cols[g], cols[g + 1]
        value = full[:, lo:hi].mean(1)
        stim, both, subj = draws["stimuli"][:, g], draws["both"][:, g], draws["subjects"][:, g]
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: a single target has no subjects
            var = {k: np.nanvar(d, axis=0, ddof=1) for k, d in (("both", both), ("subjects", subj),
                                                                 ("stimuli", stim))}
            sd_dual = np.sqrt(dual_bootstrap_variance(var["both"], var["subjects"], var["stimuli"], hi - lo, n)) \
                if hi - lo >= 2 else np.full(len(M), np.nan)
            q = {k: (np.nanquantile(d, alpha, axis=0), np.nanquantile(d, 1 - alpha, axis=0))
                 for k, d in (("stim", stim), ("both", both))}
        for k, layer in enumerate(names):
            rows.append({"layer": layer, "target": target, "value": float(value[k]), "ci_low": q["stim"][0][k],
                         "ci_high": q["stim"][1][k], "both_low": q["both"][0][k], "both_high": q["both"][1][k],
                         "sd_dual": float(sd_dual[k]), "dual_low": float(value[k] - z * sd_dual[k]),
                         "dual_high": float(value[k] + z * sd_dual[k]), "n_subjects": int(hi - lo),
                         "n_stimuli": n, "n_boot": int(np.isfinite(stim[:, k]).sum()), "compare": compare})
    return pd.DataFrame(rows)


def brain_profiles(reps: Mapping[str, Mapping[str, np.ndarray]], ds, compare: str = "spearman",
                   rdm: str = "correlation", n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Per (model, layer, target): RSA over all 92 stimuli with bootstrap CIs (:func:`layer_bootstrap`).

    Columns: model, state, layer, depth, target, value, ci_low / ci_high (percentile CI over stimuli), for the 4
    human subjects also both_low / both_high and dual_low / dual_high (stimuli and subjects resampled), n_boot,
    n_stimuli, compare.  ``n_boot=0``: no CIs (NaN).  Every layer is scored on the same stimuli it would be
    selected on: this is a profile, not a selected score (see :func:`brain_selection`).
    """
    targets = brain_targets(ds)
    frames = []
    for label, layers in reps.items():
        depth = _depths(list(layers))
        rdms = {k: compute_rdm(X, rdm) for k, X in layers.items()}
        if n_boot:
            t = layer_bootstrap(rdms, targets, compare, n_boot=n_boot, seed=seed)
        else:
            C = {name: compare_matrix(np.stack(list(rdms.values())), np.stack(subs), compare).mean(1)
                 for name, subs in targets.items()}
            t = pd.DataFrame([{"layer": k, "target": name, "value": float(v[i]), "n_boot": 0, "n_stimuli": len(ds),
                               "compare": compare} for name, v in C.items() for i, k in enumerate(rdms)])
        frames.append(t.assign(model=label, state="untrained" if is_twin(label) else "trained",
                               depth=t.layer.map(depth), estimator=rsa_label(rdm, compare)))
    out = pd.concat(frames, ignore_index=True)
    first = ["model", "state", "layer", "depth", "target", "value"]
    return out[first + [c for c in out.columns if c not in first]]


def brain_selection(reps: Mapping[str, Mapping[str, np.ndarray]], ds, compare: str = "spearman",
                    rdm: str = "correlation", n_splits: int = 40, n_permutations: int = 200,
                    seed: int = 0) -> pd.DataFrame:
    """Per (model, target): the layer chosen on one half of the 92 stimuli and scored on the other
    (:func:`unireps.analysis.select_layer_cv`, halves stratified by the 6 categories, ``n_splits`` splits).

    Columns: model, state, target, heldout_mean / heldout_sd (mean and SD over splits of the held-out score of
    the selected layer; the SD is not a standard error: splits share stimuli), select_mean (the selected layer's
    score on its selection half, biased upwards), depth_mean (relative depth of the selected layer, 0 = first,
    1 = last), modal_layer / modal_share (the layer picked most often, and how often), ceiling_lower /
    ceiling_upper (the noise ceiling on the same held-out halves; 4 human subjects only, NaN otherwise),
    n_splits, full_peak_layer / full_peak_value / full_peak_depth (the in-sample maximum over all 92 stimuli,
    selected and scored on the same data: biased upwards), max_null_p95 / max_null_p (the permutation null of
    that maximum over the layers, ``n_permutations`` shuffles), n_layers, n_stimuli, compare.
    """
    targets = brain_targets(ds)
    strata = list(ds.factors["category"])
    rows = []
    for label, layers in reps.items():
        depth = _depths(list(layers))
        rdms = {k: compute_rdm(X, rdm) for k, X in layers.items()}
        for t, subs in targets.items():
            sel = select_layer_cv(rdms, subs, compare=compare, n_splits=n_splits, n_permutations=n_permutations,
                                  seed=seed, strata=strata)
            sp = sel.splits
            rows.append({"model": label, "state": "untrained" if is_twin(label) else "trained", "target": t,
                         "heldout_mean": sel.cv_mean, "heldout_sd": sel.cv_sd,
                         "select_mean": float(sp.score_selection.mean()),
                         "depth_mean": float(sp.picked.map(depth).mean()),
                         "modal_layer": str(sel.frequency.index[0]), "modal_share": float(sel.frequency.iloc[0]),
                         "ceiling_lower": sel.ceiling_lower, "ceiling_upper": sel.ceiling_upper,
                         "n_splits": sel.n_splits, "full_peak_layer": sel.in_sample_best,
                         "full_peak_value": sel.in_sample_value, "full_peak_depth": depth[sel.in_sample_best],
                         "max_null_p95": sel.null_p95, "max_null_p": sel.p_value,
                         "n_permutations": sel.n_permutations, "n_layers": sel.n_candidates,
                         "n_stimuli": sel.n_stimuli, "compare": compare, "estimator": rsa_label(rdm, compare)})
    return pd.DataFrame(rows)


def _nearest_depth(depth: float, depths_b: dict[str, float]) -> str:
    return min(depths_b, key=lambda k: abs(depths_b[k] - depth))


def scale_agreement(reps: Mapping[str, Mapping[str, np.ndarray]], metric: str = "linear_cka",
                    n_permutations: int = 200, seed: int = 0) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    """Layer x layer maps between every pair of models, and their depth-matched summary.

    Returns ``(maps, by_layer, summary)``: ``maps[(a, b)]`` a (len(a), len(b)) array; ``by_layer`` one row per
    (pair, layer of a): the similarity with b's layer at the nearest relative depth; ``summary`` per pair: the
    mean depth-matched similarity, the ``pooled`` x ``pooled`` value and its permutation null (``n_permutations``
    shuffles of the stimulus pairing; p one-sided). Pair kinds: ``trained-trained``, ``untrained-untrained``,
    ``trained-untrained``.
    """
    labels = list(reps)
    maps, rows, summ = {}, [], []
    for i, a in enumerate(labels):
        for b in labels[i + 1:]:
            la, lb = reps[a], reps[b]
            M = layer_similarity(list(la.values()), list(lb.values()), metric)
            maps[(a, b)] = M
            da, db = _depths(list(la)), _depths(list(lb))
            names_b = list(lb)
            states = ["untrained" if is_twin(x) else "trained" for x in (a, b)]
            kind = "trained-untrained" if states[0] != states[1] else f"{states[0]}-{states[1]}"
            matched = []
            for r, layer in enumerate(la):
                partner = _nearest_depth(da[layer], db)
                v = float(M[r, names_b.index(partner)])
                matched.append(v)
                rows.append({"a": a, "b": b, "kind": kind, "layer_a": layer, "layer_b": partner, "depth": da[layer],
                             "value": v, "estimator": estimator_label(metric), "n": len(la[layer])})
            pooled = {"pooled_value": np.nan, "pooled_null_mean": np.nan, "pooled_p": np.nan}
            if "pooled" in la and "pooled" in lb:
                res = permutation_test(la["pooled"], lb["pooled"], metric, n_permutations=n_permutations, seed=seed)
                pooled = {"pooled_value": res.value, "pooled_null_mean": res.null_mean, "pooled_p": res.p_value}
            summ.append({"a": a, "b": b, "kind": kind, "depth_matched_mean": float(np.mean(matched)),
                         **pooled, "n_permutations": n_permutations, "estimator": estimator_label(metric),
                         "n": len(next(iter(la.values())))})
    return maps, pd.DataFrame(rows), pd.DataFrame(summ)


def language_alignment(reps: Mapping[str, Mapping[str, np.ndarray]], text: np.ndarray,
                       metrics: Sequence[str] = ("mutual_knn", "linear_cka"), n_permutations: int = 200,
                       seed: int = 0, metric_kwargs: Mapping[str, dict] | None = None) -> pd.DataFrame:
    """Each layer of each model vs caption embeddings ``text`` (n, d), with a permutation null per cell.

    Columns: model, state, layer, depth, metric, value, null_mean, null_sd, p (one-sided, (1 + #null >= value) /
    (1 + n_permutations)). ``metric_kwargs`` e.g. ``{"mutual_knn": {"k": 10}}`` (the default k of the measure
    otherwise).
    """
    metric_kwargs = dict(metric_kwargs or {})
    rows = []
    for label, layers in reps.items():
        depth = _depths(list(layers))
        for layer, X in layers.items():
            for metric in metrics:
                get_metric(metric)
                res = permutation_test(X, text, metric, n_permutations=n_permutations, seed=seed,
                                       **metric_kwargs.get(metric, {}))
                rows.append({"model": label, "state": "untrained" if is_twin(label) else "trained", "layer": layer,
                             "depth": depth[layer], "metric": metric, "value": res.value, "null_mean": res.null_mean,
                             "null_sd": res.null_std, "p": res.p_value, "n_permutations": n_permutations,
                             "estimator": estimator_label(metric, **metric_kwargs.get(metric, {})), "n": len(X)})
    return pd.DataFrame(rows)
