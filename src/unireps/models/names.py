"""One parser for model names: what ``load_model(name)`` will do, decided once.

A name is, in this order of precedence:

1. ``registered``: an entry of the registry (``minilm``, ``clip-vit-b32``, anything added with ``register_model``);
2. ``source``: ``<prefix>:<target>`` for a registered source prefix (``hf:``, ``sentence-transformers:``,
   ``open_clip:``, ``timm:``, and plug-ins such as the zoo's ``zoo:``);
3. ``path``: an existing file or folder, or a string shaped like a path (``./x``, ``/x``, ``~/x``, ``a/b/c``);
4. ``hub``: ``owner/name`` (read as ``hf:owner/name``).

A name that fits two of these (a registered name that is also a folder here, an ``owner/name`` that is also a
local folder) is refused with :class:`~unireps.errors.AmbiguousModelNameError`, which lists the spellings that
pick each reading.

>>> parse_model_name("hf:openai/clip-vit-base-patch32", registered=(), sources=("hf",))
ModelName(raw='hf:openai/clip-vit-base-patch32', kind='source', source='hf', target='openai/clip-vit-base-patch32')
>>> parse_model_name("owner/name", registered=(), sources=()).kind
'hub'
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..errors import AmbiguousModelNameError, ModelNotAvailableError, UnknownModelError
from .hub import not_available_message

NameKind = Literal["registered", "source", "path", "hub"]


@dataclass(frozen=True)
class ModelName:
    """A parsed model name. ``source``: the prefix without its colon (``kind == "source"``), else None.
    ``target``: what the loader gets (the part after the prefix, the path, the hub id or the registered name)."""

    raw: str
    kind: NameKind
    source: str | None
    target: str


def _looks_like_path(spec: str) -> bool:
    return spec.startswith((".", "/", "~")) or os.sep in spec.rstrip(os.sep) and spec.count("/") != 1


def _is_hub_id(spec: str) -> bool:
    return spec.count("/") == 1 and " " not in spec and not spec.startswith((".", "/", "~")) and ":" not in spec


def parse_model_name(spec: str, *, registered: Collection[str], sources: Collection[str]) -> ModelName:
    """Decide what ``spec`` names (see the module docstring). Raises ``UnknownModelError`` (with close matches
    among ``registered``), ``AmbiguousModelNameError`` (with the choices) or ``ModelNotAvailableError`` (a path
    that does not exist).

    >>> parse_model_name("minilm", registered=["minilm"], sources=["hf"])
    ModelName(raw='minilm', kind='registered', source=None, target='minilm')
    >>> parse_model_name("minilmm", registered=["minilm"], sources=["hf"])
    Traceback (most recent call last):
    ...
    unireps.errors.UnknownModelError: unknown model 'minilmm'. Did you mean 'minilm'? ...
    """
    if not isinstance(spec, str) or not spec:
        raise UnknownModelError(f"a model name must be a non-empty string; got {spec!r}")
    path = Path(os.path.expanduser(spec))
    exists = _path_exists(path)
    if spec in registered:
        if exists and not spec.startswith((".", "/", "~")):
            raise AmbiguousModelNameError(
                f"model name {spec!r} is both a registered model and a local path ({path.resolve()}); "
                f"write {os.path.join('.', spec)!r} for the local one, or run from another folder for the registered "
                "one"
            )
        return ModelName(spec, "registered", None, spec)
    prefix, sep, rest = spec.partition(":")
    if sep and prefix in sources:
        return ModelName(spec, "source", prefix, rest)
    if exists:
        if _is_hub_id(spec):
            raise AmbiguousModelNameError(
                f"model name {spec!r} is both a local folder ({path.resolve()}) and a hub id; write "
                f"{os.path.join('.', spec)!r} for the local one or 'hf:{spec}' for the hub one"
            )
        return ModelName(spec, "path", None, str(path))
    if _looks_like_path(spec):
        raise ModelNotAvailableError(
            not_available_message(spec, None, [f"{path.resolve()} (local path: does not exist)"])
        )
    if _is_hub_id(spec):
        return ModelName(spec, "hub", "hf", spec)
    close = difflib.get_close_matches(spec, list(registered), n=3)
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
    known = ", ".join(f"{s}:" for s in sorted(sources))
    raise UnknownModelError(
        f"unknown model {spec!r}.{hint} See list_models() or `unireps models` for the {len(registered)} registered "
        f"names; or use a source prefix ({known}), a hub id 'owner/name', a local folder or file."
    )


def _path_exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):  # a name too long or with a NUL byte is no path
        return False
