"""``unireps export-embeddings``: the zoo's (and named models') embeddings and layer activations on the standard
datasets, written as a self-describing dataset (Parquet shards, manifest.json, datasheet.md)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from .common import add_json, emit

if TYPE_CHECKING:
    import pandas as pd

DESCRIPTION = """\
Run the zoo models of --preset (and any MODEL you name) on the standard datasets and write the shared-space
embeddings and every layer's pooled activations as Parquet shards, with manifest.json (weight hashes, dataset
content hashes, pooling, licences, sha256 of every file) and datasheet.md. Read it back with
unireps.data.load_embeddings(PATH). The export appears atomically at --out when it is complete.
See docs/embeddings_dataset.md."""


def register(sub) -> None:
    from ..export.defaults import DEFAULT_DATASETS

    p = sub.add_parser("export-embeddings", help="write zoo and named models' embeddings/activations as a dataset",
                       description=DESCRIPTION)
    p.add_argument("models", nargs="*", metavar="MODEL",
                   help="extra models: registry name (e.g. minilm), zoo:<name>, hf:<id> or a local folder")
    p.add_argument("--out", default="runs/embeddings", help="export folder (default: runs/embeddings)")
    p.add_argument("--preset", default="default", choices=("tiny", "default", "full", "none"),
                   help="zoo models to include (default: default; none = only the named models)")
    p.add_argument("--trained-only", action="store_true", help="leave out untrained twins and checkpoints")
    p.add_argument("--dataset", action="append", dest="datasets", metavar="SPEC",
                   help="NAME[:key=value,...], repeatable; options go to the loader, n keeps the first n items of "
                        f"a fixed-size dataset (default: {' '.join(DEFAULT_DATASETS)})")
    p.add_argument("--modality", choices=("image", "text", "both"), default="both")
    p.add_argument("--layers", default="all",
                   help="'all' (embedding + every layer, default), 'embedding', or a comma-separated list")
    p.add_argument("--pooling", default=None, help="override the family default: cls, mean, eos, last, spatial_mean")
    p.add_argument("--shard-rows", type=int, default=100_000, help="rows per Parquet shard (default: 100000)")
    p.add_argument("--licence", action="append", default=[], metavar="MODEL=LICENCE",
                   help="record the licence of a named model (repeatable); zoo licences are known, hub and "
                        "package ones are read from the model card when it is there")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--device", default=None, help="cpu, cuda, ... (default: CUDA when present)")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier export at --out")
    p.add_argument("--strict", action="store_true", help="stop at the first model/dataset that fails to extract")
    p.add_argument("--allow-download", action="store_true", help="let hub models download (off by default)")
    p.add_argument("--verify", action="store_true", help="only check an existing export at --out against its manifest")
    add_json(p)
    p.set_defaults(func=run)


def _licences(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        model, eq, text = item.partition("=")
        if not eq or not model.strip() or not text.strip():
            raise ValueError(f"--licence {item!r}: write MODEL=LICENCE, e.g. --licence hf:org/model=apache-2.0")
        out[model.strip()] = text.strip()
    return out


def _summary(emb) -> tuple[dict, pd.DataFrame]:
    import pandas as pd

    idx = emb.index()
    table = (idx.groupby(["model", "dataset", "modality"], sort=False)
             .agg(layers=("layer", "size"), n=("n", "first"), max_dim=("dim", "max")).reset_index()
             if len(idx) else pd.DataFrame(columns=["model", "dataset", "modality", "layers", "n", "max_dim"]))
    files = emb.manifest["files"]
    summary = {
        "out": str(emb.path), "models": len(emb.models), "datasets": emb.datasets, "arrays": len(idx),
        "files": len(files), "bytes": sum(f["bytes"] for f in files.values()),
        "skipped": emb.manifest.get("skipped", []), "seconds": emb.manifest["how"].get("seconds"),
    }
    return summary, table


def run(args) -> int:
    from ..data.embeddings import load_embeddings
    from ..export.embeddings import DEFAULT_DATASETS, ExportConfig, export_embeddings

    if args.verify:
        emb = load_embeddings(args.out, verify="eager")
        summary, table = _summary(emb)
        summary["verified"] = True
        if not args.json:
            print(f"{args.out}: all {summary['files']} files match manifest.json", file=sys.stderr)
        emit(summary, args.json, table)
        return 0
    layers = args.layers if args.layers in ("all", "embedding") else [x.strip() for x in args.layers.split(",") if x]
    log = None if args.json else (lambda msg: print(msg, file=sys.stderr, flush=True))
    config = ExportConfig(
        preset=None if args.preset == "none" else args.preset, trained_only=args.trained_only,
        modalities=("image", "text") if args.modality == "both" else (args.modality,), layers=layers,
        pooling=args.pooling, shard_rows=args.shard_rows, licences=_licences(args.licence),
        overwrite=args.overwrite, allow_download=args.allow_download, strict=args.strict, device=args.device,
        batch_size=args.batch_size,
    )
    path = export_embeddings(args.out, args.models, args.datasets or DEFAULT_DATASETS, config, log=log)
    emb = load_embeddings(path, verify="eager")
    summary, table = _summary(emb)
    if not summary["arrays"]:  # every model failed: an empty "dataset" is not a success
        first = (summary["skipped"] or [{}])[0]
        reason = str(first.get("reason", "no arrays were extracted")).strip().splitlines()[0]
        who = first.get("model")
        raise ValueError(f"nothing was exported to {path}: every model/dataset was skipped"
                         + (f" (first: {who}: {reason[:300]})" if who else f" ({reason[:300]})")
                         + "; check the model names with `unireps models --available`, or use --strict to stop at "
                         "the first failure")
    if not args.json:
        print(f"wrote {path} ({summary['arrays']} arrays, {summary['bytes'] / 1e6:.1f} MB, "
              f"{len(summary['skipped'])} skipped; see datasheet.md)", file=sys.stderr)
    emit(summary, args.json, table)
    return 0
