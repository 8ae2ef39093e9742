"""unireps.zoo: small models trained here on the ``shapes`` world, with cards, for controlled experiments.

Public API::

    list_zoo(preset="default") -> list[dict]      # names, card summaries, built or not
    build(preset="default", cache_dir=None, progress=True, force=False) -> BuildResult
    load_card(name, cache_dir=None) -> dict
    zoo_dir(cache_dir=None) -> Path               # $UNIREPS_CACHE/zoo or ~/.cache/unireps/zoo
    register_zoo_source() -> list[str]            # the zoo: source of unireps.models (done on import)

    from unireps.models import load_model
    enc = load_model("zoo:clip-s0")               # trained first if not built (build=False refuses instead)

Importing this package registers the ``zoo:`` source with :func:`unireps.models.register_source` (the plug-in
hook); ``unireps.models`` imports it by name the first time a ``zoo:`` name is loaded or listed.

Presets: ``tiny`` (tests, seconds), ``default`` (at most ~5 minutes on 2 CPU cores), ``full``.
Every trained model has a random-init twin ``<name>-untrained``; some have checkpoints
``<name>-ckpt<percent>``. See ``docs/zoo.md`` and :mod:`unireps.zoo.catalog`.
"""

from __future__ import annotations

from typing import Any

from .adapter import load_zoo_model, register_zoo_models, register_zoo_source
from .build import BuildResult, build
from .catalog import PRESETS, Entry, Recipe, catalogue, entry, preset_entries
from .store import is_built, read_card, zoo_dir

__all__ = [
    "PRESETS",
    "BuildResult",
    "Entry",
    "Recipe",
    "build",
    "catalogue",
    "list_zoo",
    "load_card",
    "load_zoo_model",
    "register_zoo_models",
    "register_zoo_source",
    "zoo_dir",
]


def list_zoo(preset: str = "default", cache_dir=None) -> list[dict[str, Any]]:
    """One dict per model of ``preset`` (``"all"``: the whole catalogue): name, variant, family,
    architecture, objective, seed, steps, ``built`` and, when built, the card's ``summary``
    (``i2t_r1``, ``t2i_r1``, ``chance_r1``, ``probe_shape``, ``probe_colour``, ``train_time_s``)."""
    entries = list(catalogue().values()) if preset == "all" else preset_entries(preset)
    root = zoo_dir(cache_dir)
    out = []
    for e in entries:
        built = is_built(root / e.name, e.recipe.hash())
        card = read_card(root / e.name) if built else None
        out.append({
            "name": e.name, "load_name": f"zoo:{e.name}", "variant": e.variant, "base": e.base,
            "family": e.family, "kind": e.recipe.kind, "architecture": e.architecture(),
            "objective": e.recipe.objective, "seed": e.recipe.seed, "steps": e.step, "presets": list(e.presets),
            "built": built, "summary": card.get("summary") if card else None,
        })
    return out


def load_card(name: str, cache_dir=None) -> dict[str, Any]:
    """The card (``card.json``) of a built zoo model; ``FileNotFoundError`` if it is not built."""
    e = entry(name)
    folder = zoo_dir(cache_dir) / e.name
    if not is_built(folder, e.recipe.hash()):
        raise FileNotFoundError(
            f"zoo model {e.name!r} is not built in {zoo_dir(cache_dir)}; build it with "
            f"unireps.zoo.build(names=[{e.name!r}]) or `unireps zoo build --preset {(e.presets or ('full',))[0]}`"
        )
    return read_card(folder)


register_zoo_source()
