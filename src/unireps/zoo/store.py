"""Where zoo models live on disk, what makes one "built", and atomic directory writes.

Layout: ``<zoo_dir>/<name>/`` holds ``card.json`` and the weights: for a Hugging Face stand-in
a ``save_pretrained`` folder (``config.json``, ``model.safetensors``, tokenizer and image
processor files), for a plain model ``model.safetensors``, ``zoo_model.json`` and ``vocab.txt``.
A model counts as built when its card parses, names the current recipe hash and its weights file
has the sha256 the card records. Every folder is written under a temporary name in ``zoo_dir``
and moved into place with one ``os.replace``; a half-written model is never visible.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

CARD = "card.json"
WEIGHTS = "model.safetensors"


def zoo_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """``cache_dir`` if given, else ``$UNIREPS_CACHE/zoo``, else ``~/.cache/unireps/zoo``."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get("UNIREPS_CACHE")
    return (Path(env).expanduser() if env else Path("~/.cache/unireps").expanduser()) / "zoo"


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_card(folder: Path) -> dict | None:
    try:
        return json.loads((Path(folder) / CARD).read_text())
    except (OSError, ValueError):
        return None


_VERIFIED: dict[tuple, str] = {}  # (weights path, size, mtime_ns) -> sha256, so repeated checks stay cheap


def is_built(folder: Path, recipe_hash: str) -> bool:
    """Card parses, names ``recipe_hash``, and the weights file has the card's sha256."""
    card = read_card(folder)
    if not card or card.get("recipe_hash") != recipe_hash:
        return False
    weights = Path(folder) / card.get("weights_file", WEIGHTS)
    try:
        st = weights.stat()
        key = (str(weights.resolve()), st.st_size, st.st_mtime_ns)
        if key not in _VERIFIED:
            _VERIFIED[key] = sha256_file(weights)
        return _VERIFIED[key] == card.get("weights_sha256")
    except OSError:
        return False


@contextlib.contextmanager
def atomic_dir(final: Path) -> Iterator[Path]:
    """Yield a fresh temporary folder beside ``final``; on success move it to ``final`` (replacing
    an existing folder), on error delete it."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".tmp-{final.name}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        yield tmp
        old = None
        if final.exists():
            old = final.parent / f".old-{final.name}-{uuid.uuid4().hex[:8]}"
            os.replace(final, old)
        os.replace(tmp, final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_json(path: Path, obj) -> None:
    Path(path).write_text(json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")


@contextlib.contextmanager
def build_lock(root: Path) -> Iterator[None]:
    """An exclusive lock on ``<root>/.lock`` (POSIX ``flock``) so that concurrent builds take turns;
    the second one then finds the models built and skips them."""
    root.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no lock, writes stay atomic
        yield
        return
    with open(root / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
