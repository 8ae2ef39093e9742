"""Family adapters. Each module holds one family's quirks and exports ``ADAPTER``.

A model folder's family is read from ``config.json``'s ``model_type`` (``modules.json`` marks a
sentence-transformers folder); unknown types use the generic transformers adapter.
"""

from __future__ import annotations

import importlib
from pathlib import Path

#: config.json model_type -> adapter module (in this package)
FAMILY_BY_MODEL_TYPE: dict[str, str] = {
    "clip": "clip",
    "siglip": "siglip",
    "siglip2": "siglip",
    "align": "align",
    "blip": "blip",
    "flava": "flava",
}


def adapter_module_for_folder(folder: Path) -> str:
    from ._hf import read_config_json

    folder = Path(folder)
    if (folder / "modules.json").exists():
        return "sentence_transformers"
    model_type = read_config_json(folder).get("model_type")
    return FAMILY_BY_MODEL_TYPE.get(model_type, "generic")


def adapter_for_folder(folder: Path):
    return importlib.import_module(f"{__name__}.{adapter_module_for_folder(folder)}").ADAPTER
