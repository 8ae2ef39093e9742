"""Precomputed embeddings as a self-describing dataset: export once, reuse without running the models.

Layout of an export folder (``unireps export-embeddings --out DIR`` or :func:`export_embeddings`)::

    DIR/manifest.json     machine-readable: models (weight hashes, licences), datasets (content hashes,
                          licences, how to regenerate), arrays (model, dataset, modality, layer, pooling,
                          shape, shards), files (sha256 and size of every shard), how it was made
    DIR/datasheet.md      the same for people, as a datasheet (motivation, composition, collection, uses,
                          licences, maintenance)
    DIR/items/<dataset>.parquet                       one row per item: caption, label, factors
    DIR/shards/<model>/<dataset>/<modality>-00000.parquet
                          column ``item`` (int64, row of the dataset) and one float32 fixed-size-list column
                          per layer (``embedding`` = the shared-space embedding, L2-normalised)

Read it back with :func:`load_embeddings`::

    emb = load_embeddings("DIR")
    X = emb.get("zoo:clip-s0", "shapes", "embedding", modality="image")      # (n, d) float32
    layers = emb.arrays("zoo:clip-s0", "shapes", modality="image")           # {layer: (n, d)}
    emb.model_info("zoo:clip-s0")["weights_sha256"];  emb.items("shapes")   # metadata, captions, factors

Every shard is checked against its sha256 in the manifest before it is parsed (``verify="lazy"``, the
default) or all at once when the folder is opened (``verify="eager"``); a mismatch raises
:class:`EmbeddingsIntegrityError`. Writes are atomic: the export is assembled in a hidden sibling folder and
renamed into place at the end, every file written with temp + rename (:mod:`unireps.io`).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import inspect
import io
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import EmbeddingsIntegrityError

FORMAT = "unireps-embeddings"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DATASHEET = "datasheet.md"
EMBEDDING = "embedding"
DEFAULT_DATASETS = ("shapes:n=500,seed=0", "kriegeskorte92", "digits:image_size=32,n=500")
MODALITIES = ("image", "text")
ZOO_LICENCE = "MIT (trained by unireps on its generated shapes data; see the zoo card)"

__all__ = [
    "DEFAULT_DATASETS",
    "Embeddings",
    "EmbeddingsIntegrityError",
    "export_embeddings",
    "load_embeddings",
    "parse_dataset_spec",
]




# ----------------------------------------------------------------------------------------------- helpers


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "x"


def _value(text: str) -> Any:
    t = text.strip()
    if t.lower() in ("true", "false"):
        return t.lower() == "true"
    for cast in (int, float):
        try:
            return cast(t)
        except ValueError:
            pass
    return t


def parse_dataset_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``"shapes:n=500,seed=0"`` -> ``("shapes", {"n": 500, "seed": 0})``; ``"kriegeskorte92"`` -> no options.

    Options go to the dataset's loader; ``n`` for a loader without an ``n`` option keeps the first ``n`` items.
    """
    name, _, rest = str(spec).partition(":")
    name = name.strip().lower()
    if not name:
        raise ValueError(f"empty dataset name in {spec!r}; write NAME or NAME:key=value,...")
    opts: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, val = part.partition("=")
        if not eq or not key.strip():
            raise ValueError(f"dataset option {part!r} in {spec!r} is not key=value (e.g. shapes:n=500,seed=0)")
        opts[key.strip()] = _value(val)
    return name, opts


def _load_spec(name: str, opts: dict[str, Any]):
    """(dataset, loader kwargs, first-n subset or None, DatasetInfo)."""
    from .registry import _info, _loader, load_dataset

    info = _info(name)
    params = inspect.signature(_loader(info)).parameters
    kwargs = dict(opts)
    subset = None
    if "n" in kwargs and "n" not in params:
        subset = int(kwargs.pop("n"))
        if subset < 1:
            raise ValueError(f"dataset {name!r}: n must be >= 1, got {subset}")
    ds = load_dataset(name, **kwargs)
    if subset is not None and subset < len(ds):
        ds = ds.subset(range(subset))
    else:
        subset = None
    return ds, kwargs, subset, info


def _jsonable(obj: Any) -> Any:
    return json.loads(json.dumps(obj, default=str))


def _front_matter_licence(folder: Path) -> str | None:
    """The ``license:`` of a model card's YAML front matter (README.md of a hub snapshot or package)."""
    readme = Path(folder) / "README.md"
    try:
        text = readme.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    if not text.startswith("---"):
        return None
    head = text.split("---", 2)[1] if text.count("---") >= 2 else ""
    m = re.search(r"^license:\s*['\"]?([^'\"\n]+?)['\"]?\s*$", head, flags=re.MULTILINE)
    return m.group(1).strip() if m else None


def _model_licence(name: str, enc, overrides: Mapping[str, str]) -> tuple[str, str]:
    """(licence, where it came from)."""
    if name in overrides:
        return str(overrides[name]), "given by whoever ran the export"
    if name.startswith("zoo:"):
        return ZOO_LICENCE, "unireps zoo"
    folder = getattr(enc, "folder", None)
    if folder is not None:
        lic = _front_matter_licence(Path(folder))
        if lic:
            return lic, "license field of the model card (README.md) shipped with the weights"
    return (f"unknown: check the licence of {getattr(enc, 'source', name)} before redistributing",
            "no licence found with the weights")


def _zoo_card(name: str) -> dict | None:
    if not name.startswith("zoo:"):
        return None
    try:
        from ..zoo import load_card

        card = load_card(name[4:])
    except Exception:  # noqa: BLE001 - a model without a card is still exportable
        return None
    keep = ("name", "description", "kind", "family", "variant", "base", "untrained_twin", "percent_trained",
            "architecture", "objective", "parameters", "data", "steps", "seed", "recipe", "recipe_hash",
            "summary", "weights_sha256")
    return _jsonable({k: card[k] for k in keep if k in card})


def _items_table(ds) -> pd.DataFrame:
    df = pd.DataFrame({"item": np.arange(len(ds), dtype=np.int64), "caption": list(ds.captions)})
    if ds.labels is not None:
        df["label"] = np.asarray(ds.labels, dtype=np.int64)
        names = ds.metadata.get("label_names")
        if isinstance(names, (list, tuple)) and len(names) > int(df["label"].max()):
            df["label_name"] = [str(names[i]) for i in df["label"]]
    if ds.factors is not None:
        for col in ds.factors.columns:
            name = col if col not in df.columns else f"factor_{col}"
            values = ds.factors[col].to_numpy()
            df[name] = values.astype(str) if values.dtype == object else values
    files = ds.metadata.get("files")
    if isinstance(files, list) and len(files) == len(ds):
        df["file"] = [str(f) for f in files]
    return df


def _parquet_bytes(table) -> bytes:
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd")
    return buf.getvalue()


def _column(layer: str) -> str:
    """The Parquet column of a layer: its name, unless that is the row-index column's."""
    return f"layer:{layer}" if layer == "item" else layer


def _layer_table(arrays: Mapping[str, np.ndarray], start: int, stop: int, meta: dict[str, str]):
    import pyarrow as pa

    cols = {"item": pa.array(np.arange(start, stop, dtype=np.int64))}
    for layer, arr in arrays.items():
        block = np.ascontiguousarray(np.asarray(arr[start:stop]), dtype=np.float32)
        cols[_column(layer)] = pa.FixedSizeListArray.from_arrays(pa.array(block.reshape(-1)), int(block.shape[1]))
    table = pa.table(cols)
    return table.replace_schema_metadata({f"unireps.{k}": str(v) for k, v in meta.items()})


# ------------------------------------------------------------------------------------------------ export


class _Writer:
    """Files of one export, written atomically into the staging folder, each recorded with its sha256."""

    def __init__(self, root: Path):
        self.root = root
        self.files: dict[str, dict[str, Any]] = {}

    def write(self, rel: str, data: bytes, **extra: Any) -> str:
        from ..io import atomic_write_bytes

        _readable(atomic_write_bytes(self.root / rel, data))
        self.files[rel] = {"sha256": _sha256(data), "bytes": len(data), **extra}
        return rel


def _readable(path: Path) -> Path:
    """Temp files are created 0600; an export is meant to be shared: rw-r--r-- (less what the umask removes)."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(path, 0o644 & ~mask)
    return path


def _preset_models(preset: str | None, trained_only: bool) -> list[str]:
    if not preset:
        return []
    from ..zoo import list_zoo

    return [row["load_name"] for row in list_zoo(preset) if not trained_only or row["variant"] == "trained"]


def _model_names(zoo: list[str], models: Sequence[Any]) -> list[tuple[str, Any]]:
    """[(name in the export, what to load: a name for load_model or an Encoder)]: the zoo's, then ``models``."""
    out: list[tuple[str, Any]] = [(name, name) for name in zoo]
    for m in models:
        name = str(m) if isinstance(m, (str, os.PathLike)) else str(getattr(m, "name", "") or "")
        if not name:
            raise TypeError(f"models must be names or unireps Encoders (from load_model / from_module); got {m!r}")
        if name in dict(out):
            if m is dict(out)[name] or isinstance(m, (str, os.PathLike)):
                continue
            raise ValueError(f"two different models are named {name!r}; give each encoder a distinct name=")
        out.append((name, os.fspath(m) if isinstance(m, os.PathLike) else m))
    return out


def _has(ds, modality: str) -> bool:
    return getattr(ds, "images" if modality == "image" else "captions", None) is not None


def _replace_dir(staging: Path, out: Path) -> None:
    if out.exists():
        old = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
        os.replace(out, old)
        try:
            os.replace(staging, out)
        except BaseException:
            os.replace(old, out)
            raise
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, out)


def _check_out(out: Path, overwrite: bool) -> None:
    if not out.exists():
        return
    if not out.is_dir():
        raise ValueError(f"{out} exists and is not a folder; choose another --out")
    if not any(out.iterdir()):
        return
    if not overwrite:
        raise ValueError(f"{out} is not empty; pass overwrite=True (--overwrite) to replace an earlier export, "
                         "or choose another folder")
    if not (out / MANIFEST).is_file():
        raise ValueError(f"{out} is not empty and holds no {MANIFEST}: refusing to replace a folder that is not "
                         "an embeddings export; choose another folder")


def export_embeddings(
    out: str | os.PathLike,
    models: Sequence[Any] = (),
    datasets: Sequence[str] = DEFAULT_DATASETS,
    *,
    preset: str | None = "default",
    trained_only: bool = False,
    modalities: Sequence[str] = MODALITIES,
    layers: str | Sequence[str] = "all",
    pooling: str | None = None,
    shard_rows: int = 100_000,
    licences: Mapping[str, str] | None = None,
    overwrite: bool = False,
    allow_download: bool = False,
    strict: bool = False,
    device: Any = None,
    batch_size: int | None = None,
    cache_dir: str | os.PathLike | None = None,
    log=None,
) -> Path:
    """Run every model on every dataset and write embeddings + per-layer activations as an export folder.

    models: names for :func:`unireps.models.load_model` (``zoo:<name>``, ``minilm``, ``hf:<id>``, a folder) or
    loaded Encoders (e.g. ``from_module(net, name="my-cnn")``: exported under their ``name``), added to the zoo
    models of ``preset`` (``None``: no zoo models; ``trained_only`` drops untrained twins and
    checkpoints). datasets: specs ``NAME[:key=value,...]`` (:func:`parse_dataset_spec`). layers: ``"all"``
    (the embedding and every layer) or ``"embedding"`` or a list of layer names. A (model, dataset, modality)
    that cannot be extracted (e.g. a plain zoo CNN on images that are not 32 px) is recorded under
    ``skipped`` with the reason, unless ``strict``. Returns the export folder.
    """
    from .. import __version__
    from ..models import extract, load_model
    from ..provenance import provenance

    t_start = time.perf_counter()
    out = Path(out)
    _check_out(out, overwrite)
    bad = sorted(set(modalities) - set(MODALITIES))
    if bad or not modalities:
        raise ValueError(f"modalities must be among {MODALITIES}; got {list(modalities)}")
    if int(shard_rows) < 1:
        raise ValueError(f"shard_rows must be >= 1, got {shard_rows}")
    if isinstance(layers, str) and layers not in ("all", EMBEDDING):
        layers = [layers]
    licences = dict(licences or {})
    say = log or (lambda _msg: None)
    if preset is not None:
        import unireps.zoo  # noqa: F401 - registers the zoo:<name> models
    elif any(isinstance(m, str) and m.startswith("zoo:") for m in models):
        import unireps.zoo  # noqa: F401
    zoo_names = _preset_models(preset, trained_only)
    names = _model_names(zoo_names, list(models))
    n_preset = len(zoo_names)
    if not names:
        raise ValueError("no models to export: name some, or give a zoo preset (tiny, default, full)")
    specs = [parse_dataset_spec(s) for s in datasets]
    if not specs:
        raise ValueError("no datasets to export; give at least one spec such as shapes:n=500")

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.partial-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        w = _Writer(staging)
        loaded: dict[str, Any] = {}
        ds_meta: dict[str, dict[str, Any]] = {}
        keys = [name for name, _ in specs]
        for name, opts in specs:
            key = name if keys.count(name) == 1 else f"{name}[{','.join(f'{k}={v}' for k, v in opts.items())}]"
            if key in loaded:
                raise ValueError(f"dataset {key!r} is given twice")
            ds, kwargs, subset, info = _load_spec(name, opts)
            loaded[key] = ds
            items_rel = w.write(f"items/{_slug(key)}.parquet", _parquet_bytes(_items_pa(_items_table(ds))),
                                rows=len(ds))
            ds_meta[key] = {
                "name": name, "loader_kwargs": _jsonable(kwargs), "first_n": subset, "n": len(ds),
                "content_hash": ds.content_hash, "image_shape": list(ds.images.shape[1:]),
                "modalities": [m for m in MODALITIES if _has(ds, m)], "licence": info.licence,
                "citation": info.citation, "description": info.description, "items_file": items_rel,
                "regenerate": _regenerate_code(name, kwargs, subset),
            }
        models_meta: dict[str, dict[str, Any]] = {}
        arrays: list[dict[str, Any]] = []
        skipped: list[dict[str, Any]] = []
        used_slugs: set[str] = set()
        for i, (mname, spec) in enumerate(names, 1):
            t0 = time.perf_counter()
            try:
                enc = load_model(spec, device=device, allow_download=allow_download) if isinstance(spec, str) else spec
            except Exception as e:  # noqa: BLE001 - recorded, or re-raised when strict
                if strict:
                    raise
                skipped.append({"model": mname, "dataset": None, "modality": None, "reason": _reason(e)})
                say(f"[{i}/{len(names)}] {mname}: not loaded ({_reason(e)})")
                continue
            label = str(getattr(enc, "name", None) or mname)
            meta = {k: v for k, v in enc.metadata().items() if k not in ("device", "batch_size", "name")}
            lic, lic_from = _model_licence(mname, enc, licences)
            slug = _slug(mname)
            while slug in used_slugs:
                slug += "_"
            used_slugs.add(slug)
            models_meta[mname] = _jsonable({**meta, "load": mname if isinstance(spec, str) else None,
                                            "encoder_name": label, "licence": lic,
                                            "licence_source": lic_from, "zoo_card": _zoo_card(mname)})
            n_arrays = 0
            for key, ds in loaded.items():
                for modality in modalities:
                    if modality not in enc.modalities or not _has(ds, modality):
                        continue
                    want = _layers_for(enc, modality, layers)
                    try:
                        ex = extract(enc, ds, modality=modality, layers=want, pooling=pooling, cache_dir=cache_dir,
                                     batch_size=batch_size, progress=False)
                    except Exception as e:  # noqa: BLE001
                        if strict:
                            raise
                        skipped.append({"model": mname, "dataset": key, "modality": modality, "reason": _reason(e)})
                        continue
                    files = []
                    n = len(ds)
                    for part, start in enumerate(range(0, n, int(shard_rows))):
                        stop = min(n, start + int(shard_rows))
                        table = _layer_table(ex, start, stop, {"model": mname, "dataset": key, "modality": modality})
                        rel = f"shards/{slug}/{_slug(key)}/{modality}-{part:05d}.parquet"
                        files.append(w.write(rel, _parquet_bytes(table), rows=stop - start, first_item=start))
                    for layer, arr in ex.items():
                        arrays.append({
                            "model": mname, "dataset": key, "modality": modality, "layer": layer,
                            "column": _column(layer),
                            "pooling": ex.pooling[layer], "n": int(arr.shape[0]), "dim": int(arr.shape[1]),
                            "dtype": "float32", "normalized": layer == EMBEDDING, "files": files,
                        })
                        n_arrays += 1
            say(f"[{i}/{len(names)}] {mname}: {n_arrays} arrays ({time.perf_counter() - t0:.1f} s)")
            del enc

        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "unireps_version": __version__,
            "how": {
                "python": "unireps.data.embeddings.export_embeddings",
                "options": _jsonable({
                    "models": [name for name, _ in names[n_preset:]], "datasets": list(datasets), "preset": preset,
                    "trained_only": trained_only, "modalities": list(modalities), "layers": layers,
                    "pooling": pooling, "shard_rows": int(shard_rows), "device": device, "batch_size": batch_size,
                }),
                "extraction": ("unireps.models.extract: forward hooks on each named layer, pooled per layer "
                               "(pooling column; family defaults unless the export says otherwise) to one "
                               "vector per item; 'embedding' is the model's shared-space embedding, L2-normalised"),
                "seconds": None,
                "provenance": provenance(),
            },
            "models": models_meta,
            "datasets": ds_meta,
            "arrays": arrays,
            "skipped": skipped,
            "files": w.files,
        }
        manifest["how"]["seconds"] = round(time.perf_counter() - t_start, 1)
        from ..io import atomic_write_text, write_json

        _readable(atomic_write_text(staging / DATASHEET, datasheet(manifest)))
        _readable(write_json(staging / MANIFEST, manifest))  # last: a folder without it is not an export
        _replace_dir(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out


def _items_pa(df: pd.DataFrame):
    import pyarrow as pa

    return pa.Table.from_pandas(df, preserve_index=False)


def _reason(e: BaseException) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"{type(e).__name__}: {text}"[:300]


def _layers_for(enc, modality: str, layers) -> list[str]:
    if isinstance(layers, str):
        return [EMBEDDING] if layers == EMBEDDING else [EMBEDDING, *enc.layer_names.get(modality, [])]
    have = set(enc.layer_names.get(modality, [])) | {EMBEDDING}
    return [x for x in layers if x in have]


def _regenerate_code(name: str, kwargs: dict[str, Any], subset: int | None) -> str:
    args = ", ".join([repr(name), *(f"{k}={v!r}" for k, v in kwargs.items())])
    code = f"unireps.data.load_dataset({args})"
    return code + (f".subset(range({subset}))" if subset is not None else "")


# ------------------------------------------------------------------------------------------------ datasheet


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
        "from unireps.data.embeddings import load_embeddings",
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


# ------------------------------------------------------------------------------------------------ loading


class Embeddings:
    """An export folder opened for reading. See the module docstring; build it with :func:`load_embeddings`."""

    def __init__(self, path: Path, manifest: dict[str, Any], verify: str):
        self.path = path
        self.manifest = manifest
        self.verify_mode = verify
        self._verified: dict[str, tuple[int, int]] = {}
        self._index = pd.DataFrame(manifest["arrays"]) if manifest["arrays"] else pd.DataFrame(
            columns=["model", "dataset", "modality", "layer", "column", "pooling", "n", "dim", "dtype", "files"])

    def __repr__(self) -> str:
        return (f"<Embeddings {str(self.path)!r}: {len(self.models)} models, {len(self.datasets)} datasets, "
                f"{len(self._index)} arrays>")

    # ----- what is there
    @property
    def models(self) -> list[str]:
        return list(self.manifest["models"])

    @property
    def datasets(self) -> list[str]:
        return list(self.manifest["datasets"])

    @property
    def metadata(self) -> dict[str, Any]:
        """The whole manifest (models, datasets, arrays, files, how it was made)."""
        return self.manifest

    @property
    def skipped(self) -> pd.DataFrame:
        return pd.DataFrame(self.manifest.get("skipped", []), columns=["model", "dataset", "modality", "reason"])

    def index(self) -> pd.DataFrame:
        """One row per array: model, dataset, modality, layer, pooling, n, dim."""
        cols = ["model", "dataset", "modality", "layer", "pooling", "n", "dim"]
        return self._index[cols].copy() if len(self._index) else pd.DataFrame(columns=cols)

    def model_info(self, model: str) -> dict[str, Any]:
        """Metadata of one model: family, source, weights_sha256, weight_files, layer_names, licence, zoo_card."""
        return dict(self.manifest["models"][self._model(model)])

    def dataset_info(self, dataset: str) -> dict[str, Any]:
        """Metadata of one dataset: loader kwargs, n, content_hash, licence, citation, how to regenerate."""
        return dict(self.manifest["datasets"][self._dataset(dataset)])

    def layers(self, model: str, dataset: str, modality: str | None = None) -> list[str]:
        """Layer names of one (model, dataset[, modality]) in input-to-output order (``embedding`` first)."""
        rows = self._rows(model, dataset, modality)
        mods = rows["modality"].unique()
        if len(mods) > 1:
            raise ValueError(f"{model!r} has {' and '.join(mods)} layers on {dataset!r}; pass modality=")
        return rows["layer"].tolist()

    # ----- arrays
    def get(self, model: str, dataset: str, layer: str = EMBEDDING, modality: str | None = None) -> np.ndarray:
        """The (n, d) float32 array of ``layer`` of ``model`` on ``dataset`` (``modality`` needed only when the
        model has that layer in both towers; ``"image:embedding"`` is accepted as a layer too)."""
        if modality is None and ":" in layer and layer.split(":", 1)[0] in MODALITIES:
            modality, layer = layer.split(":", 1)
        rows = self._rows(model, dataset, modality)
        hit = rows[rows["layer"] == layer]
        if hit.empty:
            raise KeyError(f"no layer {layer!r} for {model!r} on {dataset!r}"
                           f"{f' ({modality})' if modality else ''}; layers: {', '.join(dict.fromkeys(rows['layer']))}")
        if len(hit) > 1:
            raise ValueError(f"{model!r} has a layer {layer!r} in both towers on {dataset!r}: pass "
                             f"modality='image' or 'text' (or write 'image:{layer}')")
        row = hit.iloc[0]
        return self._read(row["files"], [row["column"]], int(row["n"]), int(row["dim"]))[row["column"]]

    def __getitem__(self, key) -> np.ndarray:
        """``emb[model, dataset]`` (the embedding), ``emb[model, dataset, layer]`` or ``[..., layer, modality]``."""
        if not isinstance(key, tuple) or not 2 <= len(key) <= 4:
            raise KeyError("index with (model, dataset[, layer[, modality]])")
        return self.get(*key)

    def arrays(self, model: str, dataset: str, modality: str | None = None,
               layers: Iterable[str] | None = None) -> dict[str, np.ndarray]:
        """{layer: (n, d)} for one (model, dataset, modality), reading each shard once: the form the analyses
        take (``unireps.analysis.layerwise(emb.arrays(a, ds), emb.arrays(b, ds), ...)``)."""
        rows = self._rows(model, dataset, modality)
        mods = rows["modality"].unique()
        if len(mods) > 1:
            raise ValueError(f"{model!r} has {' and '.join(mods)} layers on {dataset!r}; pass modality=")
        if layers is not None:
            want = list(layers)
            missing = [x for x in want if x not in set(rows["layer"])]
            if missing:
                raise KeyError(f"no layers {missing} for {model!r} on {dataset!r}")
            rows = rows.set_index("layer").loc[want].reset_index()
        out: dict[str, np.ndarray] = {}
        for files, group in rows.groupby(rows["files"].map(tuple), sort=False):
            got = self._read(list(files), group["column"].tolist(), int(group["n"].iloc[0]),
                             dict(zip(group["column"], group["dim"])))
            out.update({lay: got[col] for lay, col in zip(group["layer"], group["column"])})
        return {lay: out[lay] for lay in rows["layer"]}

    def items(self, dataset: str) -> pd.DataFrame:
        """One row per item of ``dataset``: item, caption, label (and label_name), factors."""
        import pyarrow.parquet as pq

        rel = self.manifest["datasets"][self._dataset(dataset)]["items_file"]
        return pq.read_table(io.BytesIO(self._bytes(rel))).to_pandas()

    def source_dataset(self, dataset: str):
        """Regenerate the dataset the arrays were computed on (images included), checking its content hash."""
        from .registry import load_dataset

        info = self.dataset_info(dataset)
        ds = load_dataset(info["name"], **info["loader_kwargs"])
        if info.get("first_n"):
            ds = ds.subset(range(int(info["first_n"])))
        if ds.content_hash != info["content_hash"]:
            raise EmbeddingsIntegrityError(
                f"dataset {dataset!r} regenerated with {info['regenerate']} has content hash {ds.content_hash[:16]}…, "
                f"not the exported {info['content_hash'][:16]}…: the generator or data files changed since the "
                "export; the arrays do not describe these items")
        return ds

    @property
    def datasheet(self) -> str:
        return (self.path / DATASHEET).read_text(encoding="utf-8")

    def verify(self) -> None:
        """Check every file against the manifest; raise :class:`EmbeddingsIntegrityError` listing all problems."""
        problems = []
        for rel in self.manifest["files"]:
            try:
                self._bytes(rel, force=True)
            except EmbeddingsIntegrityError as e:
                problems.append(str(e))
        if problems:
            raise EmbeddingsIntegrityError(f"{len(problems)} file(s) of {self.path} fail verification:\n"
                                           + "\n".join(problems))

    # ----- internals
    def _model(self, model: str) -> str:
        if model in self.manifest["models"]:
            return model
        if f"zoo:{model}" in self.manifest["models"]:
            return f"zoo:{model}"
        raise KeyError(f"no model {model!r} in this export; models: {', '.join(self.models)}")

    def _dataset(self, dataset: str) -> str:
        if dataset in self.manifest["datasets"]:
            return dataset
        raise KeyError(f"no dataset {dataset!r} in this export; datasets: {', '.join(self.datasets)}")

    def _rows(self, model: str, dataset: str, modality: str | None) -> pd.DataFrame:
        m, d = self._model(model), self._dataset(dataset)
        idx = self._index
        rows = idx[(idx["model"] == m) & (idx["dataset"] == d)]
        if modality is not None:
            if modality not in MODALITIES:
                raise ValueError(f"modality must be 'image' or 'text', got {modality!r}")
            rows = rows[rows["modality"] == modality]
        if rows.empty:
            why = self.skipped
            why = why[(why["model"] == m) & ((why["dataset"] == d) | why["dataset"].isna())]
            note = f" (not exported: {why['reason'].iloc[0]})" if len(why) else ""
            raise KeyError(f"no arrays for {m!r} on {d!r}{f' ({modality})' if modality else ''}{note}")
        return rows

    def _bytes(self, rel: str, force: bool = False) -> bytes:
        rec = self.manifest["files"].get(rel)
        if rec is None:
            raise EmbeddingsIntegrityError(f"{rel} is not listed in {MANIFEST}")
        path = self.path / rel
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise EmbeddingsIntegrityError(f"{rel}: missing (listed in {MANIFEST})") from None
        if self.verify_mode != "none" or force:
            st = path.stat()
            stamp = (st.st_size, st.st_mtime_ns)
            if force or self._verified.get(rel) != stamp:
                digest = _sha256(data)
                if len(data) != rec["bytes"] or digest != rec["sha256"]:
                    raise EmbeddingsIntegrityError(
                        f"{rel}: sha256 {digest[:16]}… ({len(data)} bytes) does not match the manifest's "
                        f"{rec['sha256'][:16]}… ({rec['bytes']} bytes): the file is corrupt or was modified; "
                        "re-download or re-export it")
                self._verified[rel] = stamp
        return data

    def _read(self, files: list[str], columns: list[str], n: int, dims) -> dict[str, np.ndarray]:
        import pyarrow.parquet as pq

        parts: dict[str, list[np.ndarray]] = {c: [] for c in columns}
        expected = 0
        for rel in files:
            table = pq.read_table(io.BytesIO(self._bytes(rel)), columns=["item", *columns])
            item = table.column("item").to_numpy()
            if not np.array_equal(item, np.arange(expected, expected + len(item))):
                raise EmbeddingsIntegrityError(f"{rel}: rows are not items {expected}..{expected + len(item) - 1}")
            expected += len(item)
            for c in columns:
                col = table.column(c).combine_chunks()
                d = dims[c] if isinstance(dims, dict) else dims
                parts[c].append(np.asarray(col.values.to_numpy(zero_copy_only=False), dtype=np.float32).reshape(-1, d))
        if expected != n:
            raise EmbeddingsIntegrityError(f"{files}: {expected} rows, the manifest says {n}")
        return {c: (v[0] if len(v) == 1 else np.concatenate(v)) for c, v in parts.items()}


def load_embeddings(path: str | os.PathLike, verify: str | bool = "lazy") -> Embeddings:
    """Open an export folder written by :func:`export_embeddings` / ``unireps export-embeddings``.

    verify: ``"lazy"`` (default) checks each file's sha256 the first time it is read; ``"eager"`` (or True)
    checks every file now; ``"none"`` (or False) trusts the files. Integrity failures raise
    :class:`EmbeddingsIntegrityError` (a ``ValueError``).
    """
    mode = {True: "eager", False: "none", None: "lazy"}.get(verify, verify)  # type: ignore[arg-type]
    if mode not in ("lazy", "eager", "none"):
        raise ValueError(f"verify must be 'lazy', 'eager' or 'none', got {verify!r}")
    root = Path(path)
    mpath = root / MANIFEST
    if not mpath.is_file():
        hint = " (an interrupted export leaves no manifest: run it again)" if root.is_dir() else ""
        raise FileNotFoundError(f"{mpath} not found: {root} is not an embeddings export{hint}")
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise EmbeddingsIntegrityError(f"{mpath} is not valid JSON ({e}); the export is damaged") from None
    if manifest.get("format") != FORMAT:
        raise ValueError(f"{mpath} is not a {FORMAT} manifest (format={manifest.get('format')!r})")
    if int(manifest.get("format_version", 0)) > FORMAT_VERSION:
        raise ValueError(f"{root} uses format version {manifest['format_version']}; this unireps reads up to "
                         f"{FORMAT_VERSION}: upgrade unireps")
    for key in ("models", "datasets", "arrays", "files"):
        if key not in manifest:
            raise EmbeddingsIntegrityError(f"{mpath} has no {key!r} section; the export is damaged")
    emb = Embeddings(root, manifest, mode)
    if mode == "eager":
        emb.verify()
    return emb
