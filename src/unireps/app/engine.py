"""The app's engine: which models are available, their embeddings of the reference sets (cached in memory and
on disk), and every computation the pages show — each one a call into the library (``unireps.analysis``,
``unireps.metrics``, ``unireps.stitch``, ``unireps.merge``, ``unireps.transfer``); no measure is defined here.

Thread safety: one lock per model (an encoder's forward hooks are not re-entrant), one lock per memoised result
(the first caller computes, concurrent callers wait for it), and a background thread that warms the caches at
startup (the puzzle's live result, reference-set embeddings, the applications' demos).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError

log = logging.getLogger("unireps.app")

ZOO_BUILD_HINT = "`unireps zoo build` (or `python -c \"import unireps.zoo as z; z.build('<preset>')\"`)"
TOY_PREFIX = "toy:digits-mlp"
REFERENCE_SETS = {
    "shapes": "shapes — generated coloured shapes with captions (the zoo's world)",
    "kriegeskorte92": "kriegeskorte92 — the 92 object images of Kriegeskorte et al. 2008",
    "digits": "digits — scikit-learn's 8×8 handwritten digits",
}
MAX_MODELS = 4
MAX_MEASURES = 3




@dataclass
class AppConfig:
    """Settings of one app process (see ``unireps.app.launch``).

    models: restrict the catalogue to these registry names (None: every model available offline).
    cache_dir: on-disk cache for activations and precomputed results (None: results in ``$UNIREPS_CACHE/app``,
    activations in the library's own cache, ``$UNIREPS_CACHE``, shared with the CLI: its entries are keyed by
    content and checksummed, so what `unireps demo` extracted is read, not computed again).
    analytics_db: SQLite file of the opt-in engagement metrics (None: ``analytics.default_db_path()``).
    dashboard: serve the owner's dashboard of those metrics at ``/dashboard`` (off unless set, or
    ``UNIREPS_DASHBOARD=1``); dashboard_password: put it behind a login (user ``owner``).
    puzzle_models: the two trained networks the puzzle leads with, each beside its untrained twin, on the 92
    photographs (``unireps.app.realpuzzle``); None or absent packages: the stand-ins only.
    """

    models: Sequence[str] | None = None
    cache_dir: str | os.PathLike | None = None
    analytics_db: str | os.PathLike | None = None
    n_reference: int = 120
    n_boot: int = 100
    boot_budget: int = 600  # bootstrap resamples per request, shared by its pairs × measures (>= 30 each)
    precompute: bool = True
    toy_models: bool = True
    max_texts: int = 16
    max_text_chars: int = 300
    max_image_pixels: int = 40_000_000
    max_file_size: str = "20mb"
    concurrency: int = 2
    queue_size: int = 128
    applications: bool = True
    warm_bridges: bool = True  # compute the real-tower bridge study of Lite0 (blind matching, held-out R@1) at startup
    delete_cache: tuple[int, int] = (300, 900)  # gradio: every 5 min, delete uploads/outputs older than 15 min
    federated: dict = field(default_factory=dict)  # FedConfig overrides (and "alphas") of the federated tab's grid
    dashboard: bool = False  # the owner's dashboard at /dashboard (also UNIREPS_DASHBOARD=1); off by default
    dashboard_password: str | None = None  # login "owner" / this password (also UNIREPS_DASHBOARD_PASSWORD)
    puzzle_models: tuple[str, ...] | None = ("efficientnet-lite0", "efficientnet-lite2")  # the puzzle's real pair
    puzzle_permutations: int = 200  # shuffled pairings per pair of the real-network puzzle
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ModelEntry:
    name: str
    modalities: tuple[str, ...]
    kind: str  # zoo | toy | hub | package | other
    family: str
    description: str = ""

    @property
    def is_twin(self) -> bool:
        return self.name.endswith(("-untrained", ":untrained"))


def _version_key() -> str:
    from .._version import __version__

    return f"app-v1-{__version__}"


def resize_images(images: np.ndarray, size: int) -> np.ndarray:
    """(n, H, W, 3) uint8 -> (n, size, size, 3) uint8 (PIL bilinear; PIL's area-aware reduction when shrinking)."""
    from PIL import Image

    out = [np.asarray(Image.fromarray(np.asarray(a, dtype=np.uint8)).convert("RGB").resize((size, size),
                                                                                          Image.BILINEAR))
           for a in images]
    return np.stack(out).astype(np.uint8)


# ------------------------------------------------------------------------------------------------ toy models


def _digits_stats():
    from ..data import load_dataset
    from ..zoo.digits import digits_split

    ds = load_dataset("digits")
    x = ds.images[..., 0].reshape(len(ds), -1).astype(np.float32) / 255.0
    train = digits_split(0).idx_train
    return float(x[train].mean()), float(x[train].std())


class DigitsPreprocess:
    """Any RGB images -> grey, 8×8 (PIL bilinear when the size differs), [0, 1], standardised like the digits
    split the toy models were trained on -> (n, 64) float."""

    def __init__(self):
        self.mean, self.std = _digits_stats()
        self.__qualname__ = "DigitsPreprocess-grey8-v1"

    def __call__(self, images):
        import torch
        from PIL import Image

        from ..models.inputs import to_rgb_arrays

        out = []
        for a in to_rgb_arrays(images):
            g = a.astype(np.float32).mean(-1)
            if g.shape != (8, 8):
                g = np.asarray(Image.fromarray(g.astype(np.uint8)).resize((8, 8), Image.BILINEAR), np.float32)
            out.append(g.reshape(-1) / 255.0)
        x = (np.stack(out) - self.mean) / self.std
        return torch.from_numpy(x.astype(np.float32))


def register_toy_models() -> list[str]:
    """Register the library's digits MLPs (``unireps.zoo.digits``, trained in seconds) as ``toy:digits-mlp-s0``,
    ``-s1`` and their untrained twins, so the app has image models even before the zoo is built.  The
    representation is the penultimate layer (``relu2``); layers ``fc1, relu1, fc2, relu2``."""
    from torch import nn

    from ..models import from_module, list_models, register_model

    have = {m.name for m in list_models()}
    names = []
    for seed in (0, 1):
        for trained in (True, False):
            name = f"{TOY_PREFIX}-s{seed}" + ("" if trained else "-untrained")
            names.append(name)
            if name in have:
                continue

            def loader(seed=seed, trained=trained, name=name, **_kw):
                from ..zoo.digits import make_digits_model, trained_digits_model

                full = trained_digits_model("mlp", 64, seed) if trained else make_digits_model("mlp", 64, seed)
                trunk = nn.Sequential(OrderedDict(list(full.named_children())[:-1]))
                return from_module(trunk, ["fc1", "relu1", "fc2", "relu2"], DigitsPreprocess(), name=name,
                                   source="unireps.zoo.digits (digits MLP 64-64-64-10, penultimate layer)",
                                   device="cpu")

            register_model(name, loader, family="toy", modalities=("image",), source="unireps.zoo.digits",
                           source_kind="toy", description=("digits MLP, " + ("trained" if trained else "untrained")
                                                           + f", seed {seed}"), overwrite=True)
    return names


# ------------------------------------------------------------------------------------------------ labels

def what_it_is(e: ModelEntry, short: bool = False) -> str:
    """What a model is, in the library's words (``unireps.models.model_kind``: "pretrained on ImageNet (real
    weights)", "stand-in for CLIP, trained here on synthetic shapes", "untrained twin ..."); ``short`` drops the
    parenthetical detail (for menus).  The app's toy digits models are "trained here on the digits (toy)".

    >>> what_it_is(ModelEntry("efficientnet-lite0-untrained", ("image",), "package", "efficientnet-lite"), short=True)
    'untrained twin'
    """
    from ..models import model_kind

    if e.kind == "toy":
        kind = "untrained twin" if e.is_twin else "trained here on the digits (toy)"
    else:
        try:
            kind = model_kind(e.name)
        except Exception:  # noqa: BLE001 - a model the registry cannot describe keeps its own description
            kind = e.description or "registered model"
    return re.sub(r"\s*\([^)]*\)", "", kind).strip() if short else kind


# ------------------------------------------------------------------------------------------------ engine


class Engine:
    def __init__(self, config: AppConfig | None = None):
        from ..models import default_cache_dir

        self.config = config or AppConfig()
        root = Path(self.config.cache_dir) if self.config.cache_dir else default_cache_dir() / "app"
        self.cache_dir = root
        self.activation_cache = root / "activations" if self.config.cache_dir else default_cache_dir()
        self._meta = threading.Lock()
        self._memo: OrderedDict[Any, Any] = OrderedDict()
        self._memo_locks: dict[Any, threading.Lock] = {}
        self._model_locks: dict[str, threading.RLock] = {}
        self._encoders: dict[str, Any] = {}
        self._catalogue: tuple[float, list[ModelEntry]] | None = None
        self.tasks: dict[str, dict[str, Any]] = {}
        self.slots = threading.BoundedSemaphore(max(1, int(self.config.concurrency)))  # process-wide compute limit
        self._thread: threading.Thread | None = None
        self.zoo_error: str | None = None
        if self.config.toy_models:
            register_toy_models()
        self._import_zoo()

    # -------------------------------------------------------------- memo
    def memo(self, key: Any, fn: Callable[[], Any], keep: int = 4096) -> Any:
        with self._meta:
            if key in self._memo:
                self._memo.move_to_end(key)
                return self._memo[key]
            lock = self._memo_locks.setdefault(key, threading.Lock())
        with lock:
            with self._meta:
                if key in self._memo:
                    return self._memo[key]
            value = fn()
            with self._meta:
                self._memo[key] = value
                while len(self._memo) > keep:
                    old, _ = self._memo.popitem(last=False)
                    self._memo_locks.pop(old, None)
            return value

    def model_lock(self, name: str) -> threading.RLock:
        with self._meta:
            return self._model_locks.setdefault(name, threading.RLock())

    # -------------------------------------------------------------- models
    def _import_zoo(self) -> None:
        try:
            import unireps.zoo as zoo  # noqa: F401  (importing registers the built zoo models)

            for fn in ("register_zoo", "register_models", "register"):
                if callable(getattr(zoo, fn, None)):
                    try:
                        getattr(zoo, fn)()
                    except TypeError:
                        pass
                    break
        except Exception as e:  # noqa: BLE001 - the zoo is optional: the app must serve without it
            self.zoo_error = f"{type(e).__name__}: {e}"

    def catalogue(self, refresh: bool = False) -> list[ModelEntry]:
        """Models usable offline now: zoo first, then the toy digits models, then other registered models."""
        with self._meta:
            if self._catalogue and not refresh and time.time() - self._catalogue[0] < 60:
                return self._catalogue[1]
        from ..models import list_models

        allowed = set(self.config.models) if self.config.models else None
        out = []
        for m in list_models():
            if not m.available or (allowed is not None and m.name not in allowed):
                continue
            kind = m.source_kind if m.source_kind in ("zoo", "toy", "hub", "package") else "other"
            if kind == "toy" and not self.config.toy_models:
                continue
            out.append(ModelEntry(m.name, tuple(m.modalities), kind, m.family, m.description))
        order = {"zoo": 0, "toy": 2, "hub": 1, "package": 3, "other": 4}
        out.sort(key=lambda e: (order[e.kind], e.is_twin, e.name))
        with self._meta:
            self._catalogue = (time.time(), out)
        return out

    def entry(self, name: str) -> ModelEntry:
        for e in self.catalogue():
            if e.name == name:
                return e
        raise InputError(f"model {name!r} is not available; available: {', '.join(self.names()) or 'none'}")

    def names(self, modality: str | None = None, twins: bool = True, kinds: Sequence[str] | None = None) -> list[str]:
        return [e.name for e in self.catalogue() if (modality is None or modality in e.modalities)
                and (twins or not e.is_twin) and (kinds is None or e.kind in kinds)]

    def label(self, name: str) -> str:
        """``name — what it is`` (:func:`what_it_is`): how the menus show a model."""
        return f"{name} — {what_it_is(self.entry(name), short=True)}"

    def menu(self, names: Sequence[str]) -> list[tuple[str, str]]:
        """Dropdown choices (label, value): each model labelled with what it is, the value its registry name."""
        return [(self.label(n), n) for n in names]

    def zoo_names(self) -> list[str]:
        return self.names(kinds=("zoo",))

    def zoo_status(self) -> str:
        zoo = [n for n in self.zoo_names()]
        if zoo:
            trained = [n for n in zoo if not n.endswith(("-untrained", ":untrained"))]
            return (f"**Zoo:** {len(trained)} trained model(s) and {len(zoo) - len(trained)} untrained twin(s) "
                    f"available offline ({', '.join(f'`{n}`' for n in zoo[:8])}{' …' if len(zoo) > 8 else ''}).")
        msg = ("**The model zoo is not built yet.** The pages below still work with the models available now "
               f"({', '.join(f'`{n}`' for n in self.names()) or 'none'}); to train the small zoo models on this "
               f"machine run {ZOO_BUILD_HINT}, then restart the app.")
        if self.zoo_error:
            msg += f" (importing `unireps.zoo` failed: {self.zoo_error})"
        return msg

    def untrained_twin(self, name: str) -> str | None:
        names = set(self.names())
        for cand in (f"{name}-untrained", f"{name}:untrained"):
            if cand in names:
                return cand
        return None

    def encoder(self, name: str):
        self.entry(name)
        with self.model_lock(name):
            if name not in self._encoders:
                from ..models import load_model

                self._encoders[name] = load_model(name, device="cpu")
            return self._encoders[name]

    def seed_pairs(self, names: Sequence[str]) -> list[tuple[str, str]]:
        """Pairs of models that differ only in their seed suffix (``…-s0`` / ``…-s1`` or ``…seed0``)."""
        groups: dict[str, list[tuple[int, str]]] = {}
        for n in names:
            m = re.match(r"^(.*?)[-_:]?s(?:eed)?[-_]?(\d+)$", n)
            if m:
                groups.setdefault(m.group(1), []).append((int(m.group(2)), n))
        pairs = []
        for members in groups.values():
            members.sort()
            if len(members) >= 2:
                pairs.append((members[0][1], members[1][1]))
        pairs.sort(key=lambda p: "tiny-" in p[0])  # the tests' tiny recipes last
        return pairs

    def clip_model(self) -> str | None:
        """The educational page's CLIP-like model: a real CLIP checkpoint when present, else the zoo's CLIP
        stand-in, else any image–text model."""
        both = [e for e in self.catalogue() if {"image", "text"} <= set(e.modalities) and not e.is_twin]
        both.sort(key=lambda e: "tiny-" in e.name)  # the tests' tiny recipes last
        for pred in (lambda e: e.kind == "hub" and e.family == "clip",
                     lambda e: e.kind == "zoo" and (e.family == "clip" or "clip" in e.name),
                     lambda e: e.kind == "zoo", lambda e: True):
            for e in both:
                if pred(e):
                    return e.name
        return None

    def logit_scale(self, name: str) -> float | None:
        """exp(logit_scale) of the model when it has one (CLIP-style temperature inverse), else None."""
        enc = self.encoder(name)
        for obj in (getattr(enc, "model", None), getattr(enc, "module", None), enc):
            ls = getattr(obj, "logit_scale", None)
            if ls is not None:
                try:
                    return float(np.exp(float(ls.detach().cpu().reshape(-1)[0]) if hasattr(ls, "detach")
                                        else float(ls)))
                except Exception:  # noqa: BLE001
                    continue
        return None

    # -------------------------------------------------------------- data
    def dataset(self, key: str):
        from ..data import load_dataset

        if key not in REFERENCE_SETS:
            raise InputError(f"unknown reference set {key!r}; choose one of {', '.join(REFERENCE_SETS)}")
        n = int(self.config.n_reference)

        def load():
            if key == "shapes":
                return load_dataset("shapes", n=n, seed=1, split="train")
            if key == "kriegeskorte92":
                return load_dataset("kriegeskorte92")
            ds = load_dataset("digits")
            rng = np.random.default_rng(0)
            return ds.subset(np.sort(rng.choice(len(ds), size=min(n, len(ds)), replace=False)))

        return self.memo(("dataset", key, n), load)

    def input_size(self, name: str) -> int | None:
        """The square image size a model needs its inputs resized to, or None when its preprocessing resizes
        (hub checkpoints, the toy digits models).  Zoo models take the 32×32 images of the shapes world."""
        e = self.entry(name)
        if e.kind != "zoo":
            return None
        try:
            from ..zoo.data import IMAGE_SIZE
        except Exception:  # noqa: BLE001
            IMAGE_SIZE = 32
        return int(IMAGE_SIZE)

    def dataset_for(self, name: str, key: str):
        """The reference set as model ``name`` sees it (images resized to its input size when it has one)."""
        from dataclasses import replace

        size = self.input_size(name)
        ds = self.dataset(key)
        if size is None or ds.images.shape[1:3] == (size, size):
            return ds
        return self.memo(("dataset", key, self.config.n_reference, size),
                         lambda: replace(ds, images=resize_images(ds.images, size)))

    def prepare_images(self, name: str, images: np.ndarray) -> np.ndarray:
        size = self.input_size(name)
        images = np.asarray(images)
        if size is None or images.shape[1:3] == (size, size):
            return images
        return resize_images(images, size)

    def groups(self, key: str) -> list[str]:
        ds = self.dataset(key)
        if key == "shapes":
            return list(ds.factors["shape"].astype(str))
        if key == "kriegeskorte92":
            names = ds.metadata.get("label_names")
            return [names[i] if names else str(i) for i in ds.labels]
        return [f"digit {int(v)}" for v in ds.labels]

    # -------------------------------------------------------------- representations
    def representations(self, name: str, dskey: str, modality: str, layers: Any = None) -> dict[str, np.ndarray]:
        from ..analysis import representations

        e = self.entry(name)
        if modality not in e.modalities:
            raise InputError(f"{name} has no {modality} tower (it encodes {' and '.join(e.modalities)})")
        lkey = layers if layers is None or isinstance(layers, str) else tuple(layers)

        def compute():
            enc = self.encoder(name)
            ds = self.dataset_for(name, dskey)
            with self.model_lock(name):
                reps = representations(enc, ds, modality, layers=layers, cache_dir=self.activation_cache)
            return {k: np.array(v, dtype=np.float32) for k, v in reps.items()}

        return self.memo(("reps", name, dskey, modality, lkey), compute)

    def embedding(self, name: str, dskey: str, modality: str) -> np.ndarray:
        reps = self.representations(name, dskey, modality)
        return reps["embedding"] if "embedding" in reps else next(iter(reps.values()))

    def encode(self, name: str, modality: str, items: Any) -> np.ndarray:
        """Shared-space embeddings of visitor items (images: (n, H, W, 3) uint8; texts: list of str)."""
        e = self.entry(name)
        if modality not in e.modalities:
            raise InputError(f"{name} has no {modality} tower")
        h = hashlib.sha256()
        if modality == "image":
            items = self.prepare_images(name, items)
            arr = np.ascontiguousarray(items)
            h.update(repr(arr.shape).encode() + arr.tobytes())
        else:
            h.update("\x00".join(items).encode())

        def compute():
            enc = self.encoder(name)
            with self.model_lock(name):
                fn = enc.encode_images if modality == "image" else enc.encode_texts
                return np.asarray(fn(items if modality == "text" else np.asarray(items), progress=False))

        return self.memo(("encode", name, modality, h.hexdigest()), compute, keep=2048)

    # -------------------------------------------------------------- background work
    def _run_task(self, name: str, fn: Callable[[], Any]) -> None:
        self.tasks[name] = {"state": "running", "started": time.time()}
        try:
            fn()
            self.tasks[name].update(state="done", seconds=round(time.time() - self.tasks[name]["started"], 2))
        except Exception as e:  # noqa: BLE001 - a failed warm-up must not stop the server
            log.warning("background task %s failed: %s", name, e)
            self.tasks[name].update(state="error", message=f"{type(e).__name__}: {e}",
                                    trace=traceback.format_exc(limit=4))

    def warm_up(self, steps: Sequence[tuple[str, Callable[[], Any]]]) -> None:
        for name, _ in steps:
            self.tasks.setdefault(name, {"state": "pending"})
        for name, fn in steps:
            self._run_task(name, fn)

    def start_background(self, steps: Sequence[tuple[str, Callable[[], Any]]]) -> threading.Thread:
        """Run ``steps`` (name, fn) one after the other in a daemon thread (one core, low priority)."""
        for name, _ in steps:
            self.tasks.setdefault(name, {"state": "pending"})

        def run():
            try:
                os.nice(5)
            except (AttributeError, OSError):
                pass
            self.warm_up(steps)

        self._thread = threading.Thread(target=run, name="unireps-app-warmup", daemon=True)
        self._thread.start()
        return self._thread

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the background warm-up to finish; True when it has (or never started)."""
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    def task_table(self) -> pd.DataFrame:
        rows = [{"task": k, "state": v.get("state"), "seconds": v.get("seconds"), "message": v.get("message", "")}
                for k, v in self.tasks.items()]
        return pd.DataFrame(rows, columns=["task", "state", "seconds", "message"])

    # -------------------------------------------------------------- disk cache of small tables
    def disk_table(self, name: str, fn: Callable[[], pd.DataFrame]) -> pd.DataFrame:
        """A DataFrame cached as CSV under ``cache_dir/results`` (written atomically), keyed by the app version."""
        from ..io import atomic_write_text

        path = self.cache_dir / "results" / f"{_version_key()}-{name}.csv"

        def compute():
            if path.exists():
                try:
                    return pd.read_csv(path)
                except Exception:  # noqa: BLE001 - a damaged cache file is recomputed
                    pass
            df = fn()
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(path, df.to_csv(index=False))
            return df

        return self.memo(("disk", name), compute)
