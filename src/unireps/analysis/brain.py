"""``brain_rsa``: how brain-like is each layer?  RSA with human IT and monkey IT on the 92 objects
(Kriegeskorte et al. 2008), with the noise ceiling and bootstrap CIs over stimuli; classic model RDMs and
behavioural RDMs as comparison rows.

Noise ceiling (Nili et al. 2014) from the four human subjects (each subject's RDM = mean of its two
sessions): upper bound = mean over subjects of compare(subject, mean of all subjects); lower bound = the same
with the mean of the other subjects (leave one subject out).  A model's score against human IT for the
ceiling is the mean over subjects of compare(model, subject).  Scores against the group RDMs of the
figure (human IT 316 voxels, monkey IT 674 neurons) are reported too.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..data import load_dataset
from ..metrics import bootstrap_rdms, compute_rdm, rsa_rdms
from ._checks import check_same_rows
from .reps import model_label, representations

SUBJECTS = ("BE", "KO", "SN", "TI")


def subject_rdms(ds) -> list[np.ndarray]:
    return [(ds.condensed(f"human_IT/{s}/session1") + ds.condensed(f"human_IT/{s}/session2")) / 2 for s in SUBJECTS]


def noise_ceiling(rdms: list[np.ndarray], compare: str = "spearman") -> tuple[float, float]:
    """(lower, upper) noise ceiling of a set of subject RDMs (condensed), as in Nili et al. 2014."""
    rdms = [np.asarray(r, dtype=float) for r in rdms]
    if len(rdms) < 2:
        raise ValueError("a noise ceiling needs RDMs of at least 2 subjects")
    shapes = {r.shape for r in rdms}
    if len(shapes) > 1 or any(len(s) != 1 for s in shapes):
        raise ValueError(f"the subjects' RDMs must be condensed vectors (the upper triangle, e.g. "
                         f"scipy.spatial.distance.squareform(rdm, checks=False)) over the same stimuli; got shapes "
                         f"{sorted(shapes)}")
    R = np.stack(rdms)
    mean_all = R.mean(0)
    upper = np.mean([rsa_rdms(r, mean_all, compare) for r in R])
    lower = np.mean([rsa_rdms(R[s], np.delete(R, s, axis=0).mean(0), compare) for s in range(len(R))])
    return float(lower), float(upper)


def _mean_over_subjects(model_rdm, subjects, compare):
    return float(np.mean([rsa_rdms(model_rdm, s, compare) for s in subjects]))


def reference_rows(dataset: str = "kriegeskorte92", compare: str = "spearman", n_boot: int = 200,
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
    for layer, rdm in rdms.items():
        for target in ("human_IT", "monkey_IT"):
            target_rdm = ds.condensed(target)
            row = {"model": model, "layer": layer, "kind": kind, "target": target,
                   "value": rsa_rdms(rdm, target_rdm, compare)}
            if n_boot:
                ci = bootstrap_rdms(rdm, target_rdm, compare, n_boot=n_boot, seed=seed)
                row.update(ci_low=ci.low, ci_high=ci.high)
            if target == "human_IT":
                row["mean_over_subjects"] = _mean_over_subjects(rdm, subjects, compare)
            rows.append(row)
    return pd.DataFrame(rows)


def brain_rsa(model, dataset: str = "kriegeskorte92", layers="all", rdm: str = "correlation",
              compare: str = "spearman", n_boot: int = 200, seed: int = 0, pooling: str | None = None,
              with_references: bool = True, cache_dir=None) -> pd.DataFrame:
    """Per layer of ``model``: RSA (``compare`` of ``rdm`` RDMs) with human IT and monkey IT on the 92 objects.

    Columns: model, layer, kind (layer / reference), target, value (vs the group RDM), ci_low/ci_high
    (bootstrap over stimuli), mean_over_subjects (human IT, the score comparable with the ceiling),
    ceiling_lower, ceiling_upper, and note: why a layer has no value (its RDM is undefined, e.g. a layer that
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
    lower, upper = noise_ceiling(subjects, compare)
    table["ceiling_lower"], table["ceiling_upper"] = lower, upper
    return table
