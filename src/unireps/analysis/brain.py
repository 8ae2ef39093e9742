"""``brain_rsa``: how brain-like is each layer?  RSA with human IT and monkey IT on the 92 objects
(Kriegeskorte et al. 2008), with the noise ceiling and bootstrap CIs over stimuli; classic model RDMs and
behavioural RDMs as comparison rows.

Noise ceiling from the four human subjects (each subject's RDM = mean of its two sessions), as rsatoolbox's
``boot_noise_ceiling`` computes it (``unireps.metrics.ceiling``; Nili et al. 2014; Schuett et al. 2023): the
subjects' RDMs are pooled the way the comparison method rewards (mean of rank transforms for spearman / rho_a /
tau, of z-scored RDMs for pearson, of RMS-normalised RDMs for cosine); upper bound = mean over subjects of
compare(subject, pool of all subjects), lower bound = the same with the pool of the other subjects (leave one
subject out).  Its CIs come from rsatoolbox's dual bootstrap (stimuli and subjects resampled).  A model's score
comparable with the ceiling is the mean over subjects of compare(model, subject).  Scores against the group RDMs
of the figure (human IT 316 voxels, monkey IT 674 neurons) are reported too.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..data import load_dataset
from ..metrics import compute_rdm, rsa_rdms
from ..metrics.ceiling import _bootstrap_scores_targets, noise_ceiling, rsa_bootstrap
from ._checks import check_same_rows
from .reps import model_label, representations

SUBJECTS = ("BE", "KO", "SN", "TI")


def subject_rdms(ds) -> list[np.ndarray]:
    return [(ds.condensed(f"human_IT/{s}/session1") + ds.condensed(f"human_IT/{s}/session2")) / 2 for s in SUBJECTS]


def ceiling_table(subjects, compare: str = "spearman", n_boot: int = 1000, seed: int = 0) -> dict:
    """The noise ceiling with its dual-bootstrap percentile CIs (stimuli and subjects resampled together).

    >>> from unireps.data import load_dataset
    >>> c = ceiling_table(subject_rdms(load_dataset("kriegeskorte92")), n_boot=20)
    >>> round(c["ceiling_lower"], 4), round(c["ceiling_upper"], 4)
    (0.3723, 0.6657)
    """
    if not n_boot:
        lower, upper = noise_ceiling(subjects, compare)
        return {"ceiling_lower": lower, "ceiling_upper": upper}
    t = rsa_bootstrap({}, subjects, compare, n_boot=n_boot, seed=seed).table.set_index("name")
    out = {}
    for key in ("ceiling_lower", "ceiling_upper"):
        out.update({key: float(t.loc[key, "value"]), f"{key}_ci_low": float(t.loc[key, "ci_low"]),
                    f"{key}_ci_high": float(t.loc[key, "ci_high"])})
    out["ceiling_n_boot"] = int(t.n_boot.min())
    return out


def _mean_over_subjects(model_rdm, subjects, compare):
    return float(np.mean([rsa_rdms(model_rdm, s, compare) for s in subjects]))


def reference_rows(dataset: str = "kriegeskorte92", compare: str = "spearman", n_boot: int = 1000,
                   seed: int = 0) -> pd.DataFrame:
    """The classic model RDMs and the mean behavioural RDM against human and monkey IT (comparison rows)."""
    ds = load_dataset(dataset) if isinstance(dataset, str) else dataset
    subjects = subject_rdms(ds)
    behaviour = np.mean([ds.condensed(k) for k in ds.rdms if k.startswith("behaviour/")], axis=0)
    sources = {k.split("/", 1)[1]: ds.condensed(k) for k in ds.rdms if k.startswith("model/")}
    sources["behaviour (mean of 16)"] = behaviour
    return _score_rows(sources, ds, subjects, compare, n_boot, seed, model="reference", kind="reference")


def _score_rows(rdms: dict, ds, subjects, compare, n_boot, seed, model: str, kind: str) -> pd.DataFrame:
    rows = []
    targets = {t: ds.condensed(t) for t in ("human_IT", "monkey_IT")}
    # both targets from the same draws (the same seed as one call per target): each RDM ranked once per draw
    all_cis = _bootstrap_scores_targets(rdms, targets, compare, n_boot=n_boot, seed=seed) if n_boot and rdms else {}
    for target, target_rdm in targets.items():
        cis = all_cis[target].set_index("name") if all_cis else None
        for layer, rdm in rdms.items():
            row = {"model": model, "layer": layer, "kind": kind, "target": target,
                   "value": rsa_rdms(rdm, target_rdm, compare)}
            if cis is not None:
                row.update(ci_low=cis.loc[layer, "ci_low"], ci_high=cis.loc[layer, "ci_high"])
            if target == "human_IT":
                row["mean_over_subjects"] = _mean_over_subjects(rdm, subjects, compare)
            rows.append(row)
    order = {k: i for i, k in enumerate(rdms)}
    return pd.DataFrame(rows).sort_values("layer", key=lambda c: c.map(order), kind="stable").reset_index(drop=True) \
        if rows else pd.DataFrame(rows)


def brain_rsa(model, dataset: str = "kriegeskorte92", layers="all", rdm: str = "correlation",
              compare: str = "spearman", n_boot: int = 1000, seed: int = 0, pooling: str | None = None,
              with_references: bool = True, cache_dir=None) -> pd.DataFrame:
    """Per layer of ``model``: RSA (``compare`` of ``rdm`` RDMs) with human IT and monkey IT on the 92 objects.

    Columns: model, layer, kind (layer / reference), target, value (vs the group RDM), ci_low/ci_high
    (bootstrap over stimuli), mean_over_subjects (human IT, the score comparable with the ceiling),
    ceiling_lower, ceiling_upper (rsatoolbox's ceiling for ``compare``) with ceiling_*_ci_low / _ci_high
    (percentile CIs of the dual bootstrap over stimuli and subjects, ``n_boot`` draws), and note: why a layer
    has no value (its RDM is undefined, e.g. a layer that
    is the same for every image).
    """
    from ..metrics._validate import check_choice
    from ..metrics.rsa import COMPARE_METHODS, RDM_KINDS

    check_choice("rdm", rdm, RDM_KINDS)  # before any model runs, not as a note on every row
    check_choice("compare", compare, COMPARE_METHODS)
    ds = load_dataset(dataset) if isinstance(dataset, str) else dataset
    if not hasattr(ds, "condensed") or not all(k in getattr(ds, "rdms", {}) for k in ("human_IT", "monkey_IT")):
        raise ValueError(f"brain_rsa needs a dataset with measured human and monkey IT RDMs (kriegeskorte92); "
                         f"{getattr(ds, 'name', dataset)!r} has none")
    reps = representations(model, ds, "image", layers=layers, pooling=pooling, cache_dir=cache_dir)
    for name, X in reps.items():
        if np.ndim(X) < 1:
            raise ValueError(f"layer {name!r} is not an (n, d) array")
    check_same_rows({f"layer {k!r}": v for k, v in reps.items()}, "layer", expected=len(ds),
                    source=f"{ds.name} (the {len(ds)} stimuli with measured RDMs, in the dataset's order)")
    rdms, notes = {}, {}
    for name, X in reps.items():
        try:
            rdms[name] = compute_rdm(X, rdm)
        except ValueError as e:  # e.g. a CLS token before the first block: the same for every image
            notes[name] = str(e).splitlines()[0]
    subjects = subject_rdms(ds)
    table = _score_rows(rdms, ds, subjects, compare, n_boot, seed, model=model_label(model), kind="layer")
    if notes:
        skipped = pd.DataFrame([{"model": model_label(model), "layer": k, "kind": "layer", "target": t,
                                 "value": np.nan, "note": v} for k, v in notes.items()
                                for t in ("human_IT", "monkey_IT")])
        table = pd.concat([table, skipped], ignore_index=True)
    if with_references:
        table = pd.concat([table, reference_rows(dataset, compare, n_boot, seed)], ignore_index=True)
    memo = (ds.name, compare, n_boot, seed)
    if memo not in _CEILINGS:  # the same for every model: computed once per process
        _CEILINGS[memo] = ceiling_table(subjects, compare, n_boot, seed)
    for key, v in _CEILINGS[memo].items():
        table[key] = v
    return table


_CEILINGS: dict = {}


def brain_layer_selection(models, dataset: str = "kriegeskorte92", layers="all", rdm: str = "correlation",
                          compare: str = "spearman", n_splits: int = 100, n_permutations: int = 1000, seed: int = 0,
                          pooling: str | None = None, cache_dir=None):
    """Cross-validated choice of the most human-IT-like (model, layer) among ``models``' layers.

    Candidates: every layer of every model whose ``rdm`` RDM is defined; target: the four human subjects (score =
    mean over subjects, comparable with the noise ceiling).  Returns ``unireps.analysis.LayerSelection``: the
    held-out score of the layer picked on the other half of the 92 stimuli (mean ± sd over ``n_splits``), the
    in-sample maximum (labelled so) and its permutation null.  Candidate names are "model · layer".

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> fake = {"a": rng.normal(size=(92, 10)), "b": rng.normal(size=(92, 10))}  # precomputed layers
    >>> sel = brain_layer_selection([fake], n_splits=5, n_permutations=20)
    >>> sel.n_candidates, sel.n_stimuli
    (2, 92)
    """
    from .selection import select_layer_cv

    ds = load_dataset(dataset) if isinstance(dataset, str) else dataset
    models = models if isinstance(models, (list, tuple)) else [models]
    candidates = {}
    for m in models:
        label = model_label(m) if not isinstance(m, dict) else ""
        reps = representations(m, ds, "image", layers=layers, pooling=pooling, cache_dir=cache_dir)
        check_same_rows({f"layer {k!r}": v for k, v in reps.items()}, "layer", expected=len(ds),
                        source=f"{ds.name} (the {len(ds)} stimuli with measured RDMs, in the dataset's order)")
        for name, X in reps.items():
            try:
                candidates[f"{label} · {name}" if label else str(name)] = compute_rdm(X, rdm)
            except ValueError:  # undefined RDM (a layer constant across images): not a candidate
                continue
    return select_layer_cv(candidates, subject_rdms(ds), compare=compare, n_splits=n_splits,
                           n_permutations=n_permutations, seed=seed)
