"""Write precomputed embeddings as a self-describing dataset (the format: :mod:`unireps.data.embeddings`).

:func:`export_embeddings` runs each model on each dataset and writes Parquet shards per model / dataset /
modality, ``manifest.json`` (weight, content and file hashes, pooling, licences, provenance) and
``datasheet.md``; read it back with :func:`unireps.data.load_embeddings`. The export is assembled in a hidden
sibling folder and renamed into place at the end, every file written with temp + rename (:mod:`unireps.io`).
"""

from __future__ import annotations

import datetime as _dt
import io
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._version import __version__
from ..data.embeddings import (
    DATASHEET,
    EMBEDDING,
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    MODALITIES,
    _column,
    _load_spec,
    _sha256,
    parse_dataset_spec,
)
from ..io import atomic_write_bytes, atomic_write_text, write_json
from ..literals import LayerChoice, Modality, Pooling
from ..models import extract, load_model
from ..provenance import provenance
from ..zoo import list_zoo, load_card
from .datasheet import datasheet
from .defaults import DEFAULT_DATASETS

ZOO_LICENCE = "MIT (trained by unireps on its generated shapes data; see the zoo card)"

__all__ = ["DEFAULT_DATASETS", "ExportConfig", "export_embeddings"]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "x"


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


def _layer_table(arrays: Mapping[str, np.ndarray], start: int, stop: int, meta: dict[str, str]):
    import pyarrow as pa

    cols = {"item": pa.array(np.arange(start, stop, dtype=np.int64))}
    for layer, arr in arrays.items():
        block = np.ascontiguousarray(np.asarray(arr[start:stop]), dtype=np.float32)
        cols[_column(layer)] = pa.FixedSizeListArray.from_arrays(pa.array(block.reshape(-1)), int(block.shape[1]))
    table = pa.table(cols)
    return table.replace_schema_metadata({f"unireps.{k}": str(v) for k, v in meta.items()})


class _Writer:
    """Files of one export, written atomically into the staging folder, each recorded with its sha256."""

    def __init__(self, root: Path):
        self.root = root
        self.files: dict[str, dict[str, Any]] = {}

    def write(self, rel: str, data: bytes, **extra: Any) -> str:
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


@dataclass(frozen=True)
class ExportConfig:
    """The options of :func:`export_embeddings` (everything except where, which models and which datasets).

    preset: the zoo preset whose models come first (``tiny``, ``default``, ``full``; None: no zoo models);
    trained_only: drop untrained twins and checkpoints of the preset. modalities: among ``image``, ``text``.
    layers: ``"all"`` (the embedding and every layer), ``"embedding"``, or layer names. pooling: None for each
    family's default (see :data:`unireps.models.POOLINGS`). shard_rows: rows per Parquet shard. licences:
    ``{model: licence}`` overrides. overwrite: replace an earlier export at ``out``. allow_download: fetch hub
    models. strict: raise on the first (model, dataset, modality) that cannot be extracted instead of recording it
    under ``skipped``. device, batch_size, cache_dir: passed to :func:`unireps.models.extract`.

    >>> ExportConfig(layers="embedding", shard_rows=1000).layers
    'embedding'
    >>> ExportConfig(modalities=("audio",))
    Traceback (most recent call last):
    ...
    ValueError: modalities must be among ('image', 'text'); got ['audio']
    """

    preset: str | None = "default"
    trained_only: bool = False
    modalities: Sequence[Modality] = MODALITIES
    layers: LayerChoice | Sequence[str] = "all"
    pooling: Pooling | None = None
    shard_rows: int = 100_000
    licences: Mapping[str, str] = field(default_factory=dict)
    overwrite: bool = False
    allow_download: bool = False
    strict: bool = False
    device: Any = None
    batch_size: int | None = None
    cache_dir: str | os.PathLike | None = None

    def __post_init__(self) -> None:
        bad = sorted(set(self.modalities) - set(MODALITIES))
        if bad or not self.modalities:
            raise ValueError(f"modalities must be among {MODALITIES}; got {list(self.modalities)}")
        if int(self.shard_rows) < 1:
            raise ValueError(f"shard_rows must be >= 1, got {self.shard_rows}")
        layers = self.layers
        if isinstance(layers, str) and layers not in ("all", EMBEDDING):
            layers = [layers]
        object.__setattr__(self, "layers", layers if isinstance(layers, str) else list(layers))
        object.__setattr__(self, "modalities", tuple(self.modalities))
        object.__setattr__(self, "licences", dict(self.licences or {}))

    def options(self) -> dict[str, Any]:
        """The options recorded in the manifest (``how.options``)."""
        return {"preset": self.preset, "trained_only": self.trained_only, "modalities": list(self.modalities),
                "layers": self.layers, "pooling": self.pooling, "shard_rows": int(self.shard_rows),
                "device": self.device, "batch_size": self.batch_size}


def export_embeddings(
    out: str | os.PathLike,
    models: Sequence[Any] = (),
    datasets: Sequence[str] = DEFAULT_DATASETS,
    config: ExportConfig | None = None,
    *,
    log: Callable[[str], None] | None = None,
    **options: Any,
) -> Path:
    """Run every model on every dataset and write embeddings + per-layer activations as an export folder.

    models: names for :func:`unireps.models.load_model` (``zoo:<name>``, ``minilm``, ``hf:<id>``, a folder) or
    loaded Encoders (e.g. ``from_module(net, name="my-cnn")``: exported under their ``name``), added to the zoo
    models of the preset. datasets: specs ``NAME[:key=value,...]`` (:func:`parse_dataset_spec`). config: an
    :class:`ExportConfig`; ``options`` are its fields given as keywords (they override ``config``). A (model,
    dataset, modality) that cannot be extracted (e.g. a plain zoo CNN on images that are not 32 px) is recorded
    under ``skipped`` with the reason, unless ``strict``. ``log(message)`` gets one line per model. Returns the
    export folder.

    >>> import tempfile, torch
    >>> from unireps.models import from_module
    >>> net = from_module(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(32 * 32 * 3, 4)), name="tiny")
    >>> out = export_embeddings(tempfile.mkdtemp() + "/e", [net], ["shapes:n=8"], preset=None, layers="embedding")
    >>> from unireps.data import load_embeddings
    >>> load_embeddings(out).get("tiny", "shapes", "embedding", modality="image").shape
    (8, 4)
    """
    cfg = _config(config, options)
    t_start = time.perf_counter()
    out = Path(out)
    _check_out(out, cfg.overwrite)
    zoo_names = _preset_models(cfg.preset, cfg.trained_only)
    names = _model_names(zoo_names, list(models))
    if not names:
        raise ValueError("no models to export: name some, or give a zoo preset (tiny, default, full)")
    specs = [parse_dataset_spec(s) for s in datasets]
    if not specs:
        raise ValueError("no datasets to export; give at least one spec such as shapes:n=500")
    say = log or (lambda _msg: None)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.partial-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        w = _Writer(staging)
        loaded, ds_meta = _write_datasets(w, specs)
        models_meta, arrays, skipped = _write_models(w, names, loaded, cfg, say)
        options = {"models": [name for name, _ in names[len(zoo_names):]], "datasets": list(datasets),
                   **cfg.options()}
        manifest = _manifest(options, models_meta, ds_meta, arrays, skipped, w.files)
        manifest["how"]["seconds"] = round(time.perf_counter() - t_start, 1)
        _readable(atomic_write_text(staging / DATASHEET, datasheet(manifest)))
        _readable(write_json(staging / MANIFEST, manifest))  # last: a folder without it is not an export
        _replace_dir(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out


def _config(config: ExportConfig | None, options: dict[str, Any]) -> ExportConfig:
    known = {f.name for f in fields(ExportConfig)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise TypeError(f"export_embeddings got unknown option(s) {unknown}; the options are {sorted(known)}")
    return replace(config or ExportConfig(), **options)


def _write_datasets(w: _Writer, specs: list[tuple[str, dict[str, Any]]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Load each dataset, write its items table; (datasets by key, manifest entries by key)."""
    loaded: dict[str, Any] = {}
    ds_meta: dict[str, dict[str, Any]] = {}
    keys = [name for name, _ in specs]
    for name, opts in specs:
        key = name if keys.count(name) == 1 else f"{name}[{','.join(f'{k}={v}' for k, v in opts.items())}]"
        if key in loaded:
            raise ValueError(f"dataset {key!r} is given twice")
        ds, kwargs, subset, info = _load_spec(name, opts)
        loaded[key] = ds
        items_rel = w.write(f"items/{_slug(key)}.parquet", _parquet_bytes(_items_pa(_items_table(ds))), rows=len(ds))
        ds_meta[key] = {
            "name": name, "loader_kwargs": _jsonable(kwargs), "first_n": subset, "n": len(ds),
            "content_hash": ds.content_hash, "image_shape": list(ds.images.shape[1:]),
            "modalities": [m for m in MODALITIES if _has(ds, m)], "licence": info.licence,
            "citation": info.citation, "description": info.description, "items_file": items_rel,
            "regenerate": _regenerate_code(name, kwargs, subset),
        }
    return loaded, ds_meta


def _write_models(w: _Writer, names: list[tuple[str, Any]], loaded: dict[str, Any], cfg: ExportConfig,
                  say: Callable[[str], None]) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """Load each model and write its shards; (manifest entries by model, array entries, skipped entries)."""
    models_meta: dict[str, dict[str, Any]] = {}
    arrays: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    used_slugs: set[str] = set()
    for i, (mname, spec) in enumerate(names, 1):
        t0 = time.perf_counter()
        try:
            enc = load_model(spec, device=cfg.device, allow_download=cfg.allow_download) if isinstance(spec, str) \
                else spec
        except Exception as e:  # noqa: BLE001 - recorded, or re-raised when strict
            if cfg.strict:
                raise
            skipped.append({"model": mname, "dataset": None, "modality": None, "reason": _reason(e)})
            say(f"[{i}/{len(names)}] {mname}: not loaded ({_reason(e)})")
            continue
        slug = _slug(mname)
        while slug in used_slugs:
            slug += "_"
        used_slugs.add(slug)
        models_meta[mname] = _model_meta(mname, spec, enc, cfg.licences)
        n_before = len(arrays)
        for key, ds in loaded.items():
            for modality in cfg.modalities:
                if modality in enc.modalities and _has(ds, modality):
                    _write_arrays(w, enc, mname, slug, key, ds, modality, cfg, arrays, skipped)
        say(f"[{i}/{len(names)}] {mname}: {len(arrays) - n_before} arrays ({time.perf_counter() - t0:.1f} s)")
        del enc
    return models_meta, arrays, skipped


def _model_meta(mname: str, spec: Any, enc, licences: Mapping[str, str]) -> dict[str, Any]:
    label = str(getattr(enc, "name", None) or mname)
    meta = {k: v for k, v in enc.metadata().items() if k not in ("device", "batch_size", "name")}
    lic, lic_from = _model_licence(mname, enc, licences)
    return _jsonable({**meta, "load": mname if isinstance(spec, str) else None, "encoder_name": label,
                      "licence": lic, "licence_source": lic_from, "zoo_card": _zoo_card(mname)})


def _write_arrays(w: _Writer, enc, mname: str, slug: str, key: str, ds, modality: str, cfg: ExportConfig,
                  arrays: list[dict[str, Any]], skipped: list[dict[str, Any]]) -> None:
    """Extract one (model, dataset, modality) and write its shards; appends to ``arrays`` or ``skipped``."""
    try:
        ex = extract(enc, ds, modality=modality, layers=_layers_for(enc, modality, cfg.layers), pooling=cfg.pooling,
                     cache_dir=cfg.cache_dir, batch_size=cfg.batch_size, progress=False)
    except Exception as e:  # noqa: BLE001
        if cfg.strict:
            raise
        skipped.append({"model": mname, "dataset": key, "modality": modality, "reason": _reason(e)})
        return
    files = []
    n, rows = len(ds), int(cfg.shard_rows)
    for part, start in enumerate(range(0, n, rows)):
        stop = min(n, start + rows)
        table = _layer_table(ex, start, stop, {"model": mname, "dataset": key, "modality": modality})
        rel = f"shards/{slug}/{_slug(key)}/{modality}-{part:05d}.parquet"
        files.append(w.write(rel, _parquet_bytes(table), rows=stop - start, first_item=start))
    for layer, arr in ex.items():
        arrays.append({
            "model": mname, "dataset": key, "modality": modality, "layer": layer, "column": _column(layer),
            "pooling": ex.pooling[layer], "n": int(arr.shape[0]), "dim": int(arr.shape[1]),
            "dtype": "float32", "normalized": layer == EMBEDDING, "files": files,
        })


def _manifest(options: dict[str, Any], models_meta, ds_meta, arrays, skipped, files) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "unireps_version": __version__,
        "how": {
            "python": "unireps.export.export_embeddings",
            "options": _jsonable(options),
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
        "files": files,
    }


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
