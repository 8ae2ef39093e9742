"""The human-readable datasheet (Markdown) of an embeddings export, written from its manifest
(Gebru et al. 2021, "Datasheets for Datasets", CACM 64(12): motivation, composition, collection, uses,
distribution, maintenance)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pandas as pd

__all__ = ["datasheet"]


def _md_table(df: pd.DataFrame) -> str:
    def cell(v) -> str:
        if isinstance(v, float):
            return f"{v:.3g}"
        return str(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(map(str, df.columns)) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines)


def datasheet(manifest: Mapping[str, Any]) -> str:
    """The human-readable datasheet (Markdown) of an export, written from its manifest."""
    models, dsets, arrays = manifest["models"], manifest["datasets"], manifest["arrays"]
    total = sum(f["bytes"] for f in manifest["files"].values())
    how = manifest["how"]
    prov = how.get("provenance", {})
    mrows = [{
        "model": name, "family": m.get("family"), "modalities": ", ".join(m.get("modalities", [])),
        "layers": sum(len(v) for v in (m.get("layer_names") or {}).values()),
        "weights sha256": (m.get("weights_sha256") or "n/a")[:16] + "…", "licence": m.get("licence"),
    } for name, m in models.items()]
    drows = [{
        "dataset": key, "n": d["n"], "how to regenerate": f"`{d['regenerate']}`",
        "content sha256": d["content_hash"][:16] + "…", "licence": d["licence"],
    } for key, d in dsets.items()]
    idx = pd.DataFrame(arrays)
    per = (idx.groupby(["model", "dataset", "modality"], sort=False).agg(layers=("layer", "size"),
           n=("n", "first"), dims=("dim", lambda s: ", ".join(map(str, sorted(set(s))))),
           pooling=("pooling", lambda s: ", ".join(sorted(set(s))))).reset_index()
           if len(idx) else pd.DataFrame(columns=["model", "dataset", "modality", "layers", "n", "dims", "pooling"]))
    skipped = pd.DataFrame(manifest.get("skipped", []))
    pk = prov.get("packages", {})
    lines = [
        "# Datasheet: unireps embeddings export",
        "",
        f"Created {manifest['created']} with unireps {manifest['unireps_version']} "
        f"(format `{manifest['format']}` v{manifest['format_version']}). "
        f"{len(models)} models × {len(dsets)} datasets: {len(arrays)} arrays in "
        f"{sum(1 for f in manifest['files'] if f.startswith('shards/'))} shards, {total / 1e6:.1f} MB.",
        "",
        "## Motivation",
        "",
        "Representations of many models on the same stimuli, so that similarity analyses (CKA, RSA, k-NN "
        "alignment, layer-wise maps, brain RSA) can be run and reproduced without running the models. Made with "
        "the `unireps` toolkit (UniReps: when, how and why different neural models learn the same "
        "representations).",
        "",
        "## Composition",
        "",
        "Each array is one (model, dataset, modality, layer): float32, one row per dataset item in the item order "
        "of `items/<dataset>.parquet`. `embedding` is the model's shared-space embedding (L2-normalised); the "
        "other layers are activations pooled to one vector per item (the `pooling` of each array: `cls` = first "
        "token, `eos` = end-of-sequence token, `mean` = mask-aware token mean, `spatial_mean` = mean over "
        "positions of a feature map; `norm1` marks the L2-normalised embedding).",
        "",
        "### Models",
        "",
        _md_table(pd.DataFrame(mrows)) if mrows else "(none)",
        "",
        "Full weight hashes (sha256 of every weight file), layer names, default pooling, the zoo cards (recipe, "
        "training data, evaluation) are in `manifest.json` under `models`.",
        "",
        "### Datasets",
        "",
        _md_table(pd.DataFrame(drows)) if drows else "(none)",
        "",
        "Images are not redistributed: regenerate them with the code above (the content hash says whether you "
        "got the same items: `Embeddings.source_dataset(key)` checks it). Captions, labels and factors are in "
        "`items/`.",
        "",
        "### Arrays",
        "",
        _md_table(per) if len(per) else "(none)",
        "",
    ]
    if len(skipped):
        lines += ["### Not exported", "", "Combinations that could not be extracted, with the reason:", "",
                  _md_table(skipped.fillna("")), ""]
    lines += [
        "## Collection process",
        "",
        f"`{how.get('python')}` with options `{json.dumps(how.get('options', {}), sort_keys=True)}`; "
        f"command `{prov.get('command', '')}`; {how.get('seconds')} s. {how.get('extraction', '')}.",
        "",
        f"Environment: Python {prov.get('python')}, {prov.get('platform')}, torch {pk.get('torch')}, "
        f"transformers {pk.get('transformers')}, numpy {pk.get('numpy')}.",
        "",
        "## Uses",
        "",
        "Comparing representations across models, seeds, training, objectives, layers and modalities; brain "
        "RSA on `kriegeskorte92`; teaching. Not for judging the models' task performance (small stand-ins "
        "trained on a synthetic world), and not a substitute for running a model on new stimuli.",
        "",
        "```python",
        "from unireps.data import load_embeddings",
        "emb = load_embeddings('PATH')",
        "emb.index()                                        # one row per array",
        "X = emb.get(MODEL, DATASET, 'embedding', modality='image')",
        "```",
        "",
        "## Distribution and licences",
        "",
        "Each array derives from one model and one dataset and carries both their terms (licences in the tables "
        "above and in `manifest.json`). Dataset citations are in `manifest.json` (`datasets.<key>.citation`).",
        "",
        "## Maintenance and integrity",
        "",
        "`manifest.json` lists the sha256 and size of every file; `load_embeddings` checks each shard before "
        "reading it and `Embeddings.verify()` (or `unireps export-embeddings --verify --out PATH`) checks all "
        "of them. Re-running the same command with the same unireps version, weights and hardware reproduces "
        "the arrays.",
        "",
    ]
    return "\n".join(lines)
