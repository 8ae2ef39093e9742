"""Real pretrained networks on real photographs: EfficientNet-Lite0/1/2 (ImageNet weights) and their untrained
twins on the 92 object photographs of Kriegeskorte et al. (2008), against the brain, each other and language.

Every function takes ``reps``: ``{model label: {layer: (92, d) array}}`` (from :func:`net_layers`), so that the
networks run once. Labels ending in ``-untrained`` are the baselines.

* :func:`brain_profiles`    per-layer RSA with human IT (mean over 4 subjects, comparable with the noise
                            ceiling), monkey IT and the early-visual model RDMs shipped with the data (V1, EVA, HMAX)
* :func:`brain_selection`   the best layer chosen on one half of the stimuli and scored on the other
                            (:mod:`.layer_selection`), per model and target, with the held-out noise ceiling
* :func:`scale_agreement`   layer x layer linear CKA between Lite0/1/2, trained vs untrained, depth-matched
* :func:`language_alignment` each layer vs MiniLM caption embeddings (mutual k-NN, linear CKA), permutation nulls

Conventions: RDMs are 1 - Pearson correlation between the stimuli's (pooled) activation vectors; RDMs are
compared with Spearman's rho over the 4186 stimulus pairs; feature maps are pooled by their spatial mean.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..metrics import compute_rdm, get_metric, layer_similarity, permutation_test
from .layer_selection import _fast_scores, _scores, select_layer_split_half, summarize_selection

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

    out = {"human_IT (4 subjects)": subject_rdms(ds), "human_IT": [ds.condensed("human_IT")],
           "monkey_IT": [ds.condensed("monkey_IT")]}
    for m in EARLY_VISUAL:
        out[f"model/{m}"] = [ds.condensed(f"model/{m}")]
    return out


def _score(rdms: Mapping[str, np.ndarray], targets: list[np.ndarray], compare: str) -> dict[str, float]:
    return (_fast_scores if compare in ("spearman", "pearson") else _scores)(rdms, targets, compare)


def brain_profiles(reps: Mapping[str, Mapping[str, np.ndarray]], ds, compare: str = "spearman",
                   rdm: str = "correlation") -> pd.DataFrame:
    """Per (model, layer, target): RSA over all 92 stimuli. Columns: model, state, layer, depth, target, value."""
    targets = brain_targets(ds)
    rows = []
    for label, layers in reps.items():
        depth = _depths(list(layers))
        rdms = {k: compute_rdm(X, rdm) for k, X in layers.items()}
        for t, subs in targets.items():
            for layer, v in _score(rdms, subs, compare).items():
                rows.append({"model": label, "state": "untrained" if is_twin(label) else "trained", "layer": layer,
                             "depth": depth[layer], "target": t, "value": v})
    return pd.DataFrame(rows)


def brain_selection(reps: Mapping[str, Mapping[str, np.ndarray]], ds, compare: str = "spearman",
                    rdm: str = "correlation", n_splits: int = 20, seed: int = 0) -> pd.DataFrame:
    """Per (model, target): split-half selected layer and its held-out RSA (mean, SD over splits), the held-out
    noise ceiling (human IT, 4 subjects) and the full-data peak for comparison. Halves are stratified by category.
    """
    targets = brain_targets(ds)
    strata = list(ds.factors["category"])
    rows = []
    for label, layers in reps.items():
        rdms = {k: compute_rdm(X, rdm) for k, X in layers.items()}
        for t, subs in targets.items():
            table = select_layer_split_half(rdms, subs, compare=compare, n_splits=n_splits, seed=seed, strata=strata)
            full = _score(rdms, subs, compare)
            peak = max(full, key=full.get)
            rows.append({"model": label, "state": "untrained" if is_twin(label) else "trained", "target": t,
                         **summarize_selection(table), "full_peak_layer": peak, "full_peak_value": full[peak],
                         "full_peak_depth": _depths(list(rdms))[peak]})
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
                             "value": v})
            pooled = {"pooled_value": np.nan, "pooled_null_mean": np.nan, "pooled_p": np.nan}
            if "pooled" in la and "pooled" in lb:
                res = permutation_test(la["pooled"], lb["pooled"], metric, n_permutations=n_permutations, seed=seed)
                pooled = {"pooled_value": res.value, "pooled_null_mean": res.null_mean, "pooled_p": res.p_value}
            summ.append({"a": a, "b": b, "kind": kind, "depth_matched_mean": float(np.mean(matched)),
                         **pooled, "n_permutations": n_permutations})
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
                             "null_sd": res.null_std, "p": res.p_value, "n_permutations": n_permutations})
    return pd.DataFrame(rows)
