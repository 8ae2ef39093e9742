"""``unireps models`` and ``unireps extract``."""

from __future__ import annotations

from .common import (
    add_dataset,
    add_engine,
    add_json,
    add_out,
    check_engine,
    check_out,
    dataset_from_args,
    emit,
    engine_kwargs,
    out_dir,
)


def register(sub) -> None:
    p = sub.add_parser("models", help="list the registered models and whether each is available offline",
                       description="The model registry: name, family, modalities, offline availability and what each "
                       "model is (real pretrained weights, a stand-in trained here, an untrained twin).")
    p.add_argument("--available", action="store_true", help="only models usable offline now")
    add_json(p)
    p.set_defaults(func=run_list)

    e = sub.add_parser("extract", help="extract embeddings or per-layer activations (cached) and save them",
                       description="Run a model on a dataset and save its embedding or layers as .npy files.")
    e.add_argument("model", help="registry name, zoo:<name>, hf:<id> or local folder")
    add_dataset(e)
    e.add_argument("--modality", choices=("image", "text"), default="image")
    e.add_argument("--layers", default=None, help="'all', a comma-separated list, or omit for the embedding")
    e.add_argument("--pooling", default=None, help="cls, mean, eos, last, spatial_mean or flatten")
    e.add_argument("--allow-download", action="store_true")
    add_engine(e)
    add_out(e, default="runs/extract")
    add_json(e)
    e.set_defaults(func=run_extract)


def run_list(args) -> int:
    import pandas as pd

    from ..models import describe_model, list_models

    rows = [m.to_dict() | {"description": describe_model(m)} for m in list_models()
            if m.available or not args.available]
    table = (pd.DataFrame(rows)[["name", "family", "modalities", "available", "description"]] if rows
             else pd.DataFrame())
    emit(rows, args.json, table)
    return 0


def run_extract(args) -> int:
    import numpy as np
    import pandas as pd

    from ..io import atomic_write, write_json
    from ..models import extract, load_model
    from ..provenance import provenance
    from ..sizing import check_disk

    check_engine(args)
    check_out(args.out)
    ds = dataset_from_args(args)
    layers = args.layers if args.layers in (None, "all") else [x.strip() for x in args.layers.split(",") if x.strip()]
    if layers == []:
        raise ValueError("--layers is empty; give 'all', a comma-separated list of layer names, or omit it")
    if args.engine == "ray":
        from ..models.ray_engine import extract_ray

        ex = extract_ray(args.model, ds, args.modality, layers=layers, pooling=args.pooling, cache_dir=args.cache_dir,
                         **engine_kwargs(args))
    else:
        enc = load_model(args.model, allow_download=args.allow_download)
        ex = extract(enc, ds, modality=args.modality, layers=layers, pooling=args.pooling, cache_dir=args.cache_dir,
                     batch_size=args.batch_size, progress=not args.json)
    out = out_dir(args.out)
    check_disk("the extracted arrays", sum(np.asarray(a).nbytes for a in ex.values()), out,
               "extract fewer items (--n) or layers, or choose --out on a larger disk")
    files = {}
    for name, arr in ex.items():
        path = out / f"{name.replace('/', '_')}.npy"
        atomic_write(path, lambda f, arr=arr: np.save(f, np.asarray(arr)))  # streamed from the cache, no copy
        files[name] = {"file": str(path), "shape": list(np.shape(arr)), "from_cache": ex.from_cache.get(name)}
    write_json(out / "provenance.json", provenance(model=ex.model, dataset=args.dataset, n=len(ds),
                                                   content_hash=ex.content_hash, modality=args.modality,
                                                   pooling=ex.pooling, engine=args.engine))
    emit(files, args.json, pd.DataFrame([{"layer": k, **v} for k, v in files.items()]))
    return 0
