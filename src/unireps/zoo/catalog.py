"""The zoo's catalogue: every recipe by name, and the presets that select them.

A *recipe* fully determines a trained model (architecture, objective, data size, steps, batch,
learning rate, seed). Each trained recipe ``<name>`` comes with its random-init twin
``<name>-untrained`` (the very initialisation training started from: step 0) and, where the
recipe asks for them, checkpoints ``<name>-ckpt<pct>`` saved ``pct`` % of the way through
training (the trained model itself is 100 %, the twin 0 %). A name always means one recipe, in
every preset.

Plain names read ``<image>-<text>-<objective>-s<seed>`` (``<image>-<objective>-s<seed>`` for
image-only objectives): image ``cnn<width>`` / ``mlp`` / ``vit``, text ``gru`` / ``bow`` / ``tfm``
(small transformer), objective ``infonce`` / ``sigmoid`` / ``supervised`` / ``autoencoder``.
Hugging Face stand-ins read ``<family>-s<seed>``. ``tiny-*`` recipes are for tests.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

ZOO_VERSION = 2  # bump when training code changes what a recipe produces: every model rebuilds
PRESETS = ("tiny", "default", "full")

HF_SIZE = {"hidden": 64, "layers": 2, "heads": 4, "mlp": 128, "proj": 64, "patch": 8}
TINY_HF_SIZE = {"hidden": 32, "layers": 1, "heads": 2, "mlp": 64, "proj": 32, "patch": 8}

IMAGE_TOWERS: dict[str, dict[str, Any]] = {
    **{f"cnn{w}": {"kind": "cnn", "width": w} for w in (8, 16, 32, 64, 128)},
    "mlp": {"kind": "mlp", "width": 256},
    "vit": {"kind": "vit", "width": 64, "depth": 2, "patch": 8},
}
TEXT_TOWERS: dict[str, dict[str, Any]] = {
    "gru": {"kind": "gru", "width": 64},
    "bow": {"kind": "bow", "width": 64},
    "tfm": {"kind": "transformer", "width": 64, "depth": 2},
}
OBJECTIVES = {
    "infonce": "contrastive image-text, CLIP-style softmax InfoNCE both ways, learned temperature",
    "sigmoid": "contrastive image-text, SigLIP-style pairwise sigmoid loss, learned temperature and bias",
    "supervised": "supervised classification of shape, colour, size and position from the image embedding",
    "autoencoder": "reconstruction: image embedding -> transposed-conv decoder, mean squared error on pixels",
}
HF_OBJECTIVES = {
    "clip": "infonce", "siglip": "sigmoid", "align": "infonce (label smoothing 0.1)",
    "blip": "image-text contrastive + image-text matching", "flava": "infonce (unimodal encoders)",
}


@dataclass(frozen=True)
class Recipe:
    """Everything that determines one trained zoo model."""

    kind: str  # "plain" | "hf"
    objective: str
    seed: int
    steps: int
    batch_size: int = 128
    lr: float = 3e-3
    scalar_lr: float | None = None
    weight_decay: float = 0.01
    n_train: int = 4000
    n_eval: int = 500
    n_probe: int = 1000
    dim: int = 64
    family: str | None = None  # hf
    size: dict[str, int] | None = None  # hf
    image: dict[str, Any] | None = None  # plain
    text: dict[str, Any] | None = None  # plain
    checkpoints: tuple[int, ...] = ()  # percent of training, strictly between 0 and 100

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["checkpoints"] = list(self.checkpoints)
        return d

    def hash(self) -> str:
        from .data import generator_fingerprint
        from .tokenizer import vocab_hash

        blob = json.dumps({"recipe": self.to_dict(), "zoo_version": ZOO_VERSION, "data": generator_fingerprint(),
                           "vocab": vocab_hash()}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:20]

    def checkpoint_steps(self) -> dict[int, int]:
        """{percent: step} for the recipe's checkpoints."""
        return {p: int(round(self.steps * p / 100)) for p in self.checkpoints}


@dataclass(frozen=True)
class Entry:
    """One named zoo model: a trained recipe, its untrained twin, or one of its checkpoints."""

    name: str
    base: str  # the trained recipe's name
    recipe: Recipe
    variant: str  # "trained" | "untrained" | "checkpoint"
    percent: int  # 100 trained, 0 untrained, else the checkpoint's percent
    description: str = ""
    presets: tuple[str, ...] = field(default=())

    @property
    def step(self) -> int:
        return int(round(self.recipe.steps * self.percent / 100))

    @property
    def modalities(self) -> tuple[str, ...]:
        r = self.recipe
        return ("image", "text") if r.kind == "hf" or r.text else ("image",)

    @property
    def family(self) -> str:
        return self.recipe.family if self.recipe.kind == "hf" else "zoo"

    def architecture(self) -> str:
        r = self.recipe
        if r.kind == "hf":
            from .hf import FAMILIES

            return f"{FAMILIES[r.family].model_class} (tiny: {json.dumps(r.size, sort_keys=True)})"
        def tower(spec: dict[str, Any]) -> str:
            return spec["kind"] + "(" + ", ".join(f"{k}={v}" for k, v in spec.items() if k != "kind") + ")"

        return tower(r.image) + (f" + {tower(r.text)}" if r.text else "")


def _plain(img: str, txt: str | None, objective: str, seed: int, *, prefix: str = "", **kw) -> tuple[str, Recipe]:
    name = "-".join(p for p in (img, txt, objective) if p) + f"-s{seed}"
    lr = {"infonce": 5e-3, "sigmoid": 2e-3, "supervised": 3e-3, "autoencoder": 3e-3}[objective]
    if txt == "tfm" and objective in ("infonce", "sigmoid"):
        lr = 2e-3
    args = dict(kind="plain", objective={"autoencoder": "reconstruction"}.get(objective, objective), seed=seed,
                steps=200, lr=lr, image=dict(IMAGE_TOWERS[img]), text=dict(TEXT_TOWERS[txt]) if txt else None)
    args.update(kw)
    return prefix + name, Recipe(**args)


def _hf(family: str, seed: int, *, prefix: str = "", **kw) -> tuple[str, Recipe]:
    args = dict(kind="hf", family=family, size=dict(HF_SIZE), objective=HF_OBJECTIVES[family], seed=seed,
                steps=250 if family == "siglip" else 200, lr=2e-3)
    args.update(kw)
    return f"{prefix}{family}-s{seed}", Recipe(**args)


def _recipes() -> dict[str, tuple[Recipe, tuple[str, ...]]]:
    """{base name: (recipe, presets it belongs to)}."""
    out: dict[str, tuple[Recipe, set[str]]] = {}

    def add(item: tuple[str, Recipe], *presets: str) -> None:
        name, recipe = item
        if name in out and out[name][0] != recipe:
            raise RuntimeError(f"zoo catalogue: {name!r} defined twice with different recipes")
        out.setdefault(name, (recipe, set()))[1].update(presets)

    # --- tiny: for tests (seconds)
    tiny = dict(n_train=512, n_eval=200, n_probe=400, batch_size=64)
    add(_plain("cnn8", "bow", "infonce", 0, prefix="tiny-", steps=60, checkpoints=(50,), **tiny), "tiny")
    add(_plain("cnn8", "bow", "infonce", 1, prefix="tiny-", steps=60, **tiny), "tiny")
    add(_hf("clip", 0, prefix="tiny-", size=dict(TINY_HF_SIZE), steps=30, **tiny), "tiny")

    # --- default (and full): one of each HF family, controlled plain families
    for fam in ("clip", "siglip", "align", "blip", "flava"):
        add(_hf(fam, 0), "default", "full")
    add(_plain("cnn16", "gru", "infonce", 0, checkpoints=(25, 50)), "default")
    for s in (1, 2):
        add(_plain("cnn16", "gru", "infonce", s), "default", "full")
    for img in ("cnn8", "cnn32", "mlp", "vit"):
        add(_plain(img, "gru", "infonce", 0), "default")
    for txt in ("bow", "tfm"):
        add(_plain("cnn16", txt, "infonce", 0), "default")
    for obj in ("sigmoid",):
        add(_plain("cnn16", "gru", obj, 0), "default")
    for obj in ("supervised", "autoencoder"):
        add(_plain("cnn16", None, obj, 0), "default")

    # --- full: more seeds, wider sweep, checkpoints everywhere, longer training
    full_ckpt = (10, 25, 50, 75)
    for fam in ("clip", "siglip", "align", "blip", "flava"):
        for s in (1, 2):
            add(_hf(fam, s), "full")
    add(_plain("cnn16", "gru", "infonce", 0, checkpoints=(25, 50)), "full")
    for s in (3, 4):
        add(_plain("cnn16", "gru", "infonce", s), "full")
    for img in ("cnn8", "cnn32", "cnn64", "cnn128", "mlp", "vit"):
        for s in (0, 1, 2):
            add(_plain(img, "gru", "infonce", s), "full")
    for txt in ("bow", "tfm"):
        for s in (0, 1, 2):
            add(_plain("cnn16", txt, "infonce", s), "full")
    for s in (0, 1, 2):
        add(_plain("cnn16", "gru", "sigmoid", s), "full")
        add(_plain("cnn16", None, "supervised", s), "full")
        add(_plain("cnn16", None, "autoencoder", s), "full")
    add(_plain("cnn16", "gru", "infonce", 0, prefix="long-", steps=1000, checkpoints=full_ckpt), "full")
    add(_plain("vit", "tfm", "infonce", 0, prefix="long-", steps=1000, checkpoints=full_ckpt), "full")
    add(_hf("clip", 0, prefix="long-", steps=1000, checkpoints=full_ckpt), "full")
    return {k: (r, tuple(p for p in PRESETS if p in ps)) for k, (r, ps) in out.items()}


def _describe(name: str, recipe: Recipe) -> str:
    if recipe.kind == "hf":
        from .hf import FAMILIES

        cls = FAMILIES[recipe.family].model_class
        return (f"stand-in for {cls.removesuffix('Model')}: a small {cls} trained here on synthetic shapes "
                f"({recipe.objective}), not the pretrained model")
    obj = {"reconstruction": "autoencoder"}.get(recipe.objective, recipe.objective)
    return OBJECTIVES[obj]


_CATALOGUE: dict[str, Entry] | None = None


def catalogue() -> dict[str, Entry]:
    """{name: Entry} for every trained model, twin and checkpoint, in a fixed order."""
    global _CATALOGUE
    if _CATALOGUE is None:
        cat: dict[str, Entry] = {}
        for base, (recipe, presets) in _recipes().items():
            desc = _describe(base, recipe)
            cat[base] = Entry(base, base, recipe, "trained", 100, desc, presets)
            for pct in recipe.checkpoints:
                cat[f"{base}-ckpt{pct}"] = Entry(f"{base}-ckpt{pct}", base, recipe, "checkpoint", pct,
                                                 f"{desc}; checkpoint at {pct}% of training", presets)
            cat[f"{base}-untrained"] = Entry(f"{base}-untrained", base, recipe, "untrained", 0,
                                             f"random-init twin of {base} (its step-0 weights)", presets)
        _CATALOGUE = cat
    return _CATALOGUE


def entry(name: str) -> Entry:
    name = name[4:] if name.startswith("zoo:") else name
    cat = catalogue()
    if name not in cat:
        import difflib

        close = difflib.get_close_matches(name, list(cat), n=3)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise ValueError(f"unknown zoo model {name!r}.{hint} See unireps.zoo.list_zoo('full') for every name.")
    return cat[name]


def preset_entries(preset: str) -> list[Entry]:
    if preset not in PRESETS:
        raise ValueError(f"unknown zoo preset {preset!r}; choose one of {', '.join(PRESETS)}")
    return [e for e in catalogue().values() if preset in e.presets]
