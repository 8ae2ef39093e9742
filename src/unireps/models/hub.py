"""Where model files live: the Hugging Face cache, local folders; fingerprints of weight files.

Offline first: :func:`resolve_hub_snapshot` never touches the network unless ``allow_download``
is true. A missing model fails at once with :class:`ModelNotAvailableError`, whose message
names the model, where it was looked for and how to get it.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from .errors import ModelNotAvailableError, WeightsMismatchError

WEIGHT_PATTERNS = ("*.safetensors", "pytorch_model*.bin", "*.pt", "*.pth", "*.bin")
CONFIG_PATTERNS = ["*.json", "*.txt", "*.model", "*.tiktoken", "merges.txt", "vocab*"]


@dataclass(frozen=True)
class Snapshot:
    """A model folder on disk and where it came from."""

    path: Path
    repo_id: str | None = None
    revision: str | None = None  # commit hash for hub snapshots


def hf_cache_dir() -> Path:
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def hf_repo_cache_path(repo_id: str) -> Path:
    return hf_cache_dir() / ("models--" + repo_id.replace("/", "--"))


def not_available_message(name: str, repo_id: str | None, looked: list[str], extra: str = "") -> str:
    lines = [f"Model {name!r} is not available offline" + (f" (hub id {repo_id})." if repo_id else ".")]
    lines.append("Looked for it in:")
    lines += [f"  - {p}" for p in looked]
    lines.append("To get it, either:")
    lines.append(
        "  - allow the download: load_model(..., allow_download=True)"
        " (command line: `unireps ... --allow-download`), or"
    )
    if repo_id:
        lines.append(
            f"  - on a machine with internet, download it to a folder (e.g. `hf download {repo_id}"
            " --local-dir DIR`), copy that folder here and pass its path: load_model('DIR')."
        )
    else:
        lines.append("  - download it to a folder and pass that folder's path to load_model.")
    if extra:
        lines.append(extra)
    return "\n".join(lines)


def resolve_hub_snapshot(
    repo_id: str,
    *,
    name: str | None = None,
    revision: str | None = None,
    allow_download: bool = False,
    trust_remote_code: bool = False,
) -> Snapshot:
    """Return the local snapshot folder of ``repo_id``; download only when ``allow_download``."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo_id, "config.json", revision=revision)
    if isinstance(found, str) and os.path.exists(found):
        snap = Path(found).parent
        if _has_weights(snap):
            return Snapshot(path=snap, repo_id=repo_id, revision=snap.name)
    if not allow_download:
        raise ModelNotAvailableError(
            not_available_message(
                name or repo_id,
                repo_id,
                [f"{hf_repo_cache_path(repo_id)} (Hugging Face cache; set HF_HUB_CACHE / HF_HOME to move it)"],
            )
        )
    return _download_snapshot(repo_id, revision=revision, trust_remote_code=trust_remote_code)


def _download_snapshot(repo_id: str, *, revision: str | None, trust_remote_code: bool) -> Snapshot:
    """Download config, tokenizer/processor files and safetensors weights (``.bin`` only if no safetensors)."""
    from huggingface_hub import HfApi, snapshot_download

    files = [s.rfilename for s in HfApi().model_info(repo_id, revision=revision).siblings or []]
    patterns = list(CONFIG_PATTERNS)
    if any(f.endswith(".safetensors") for f in files):
        patterns.append("*.safetensors")
    else:
        patterns.append("pytorch_model*.bin")
    if trust_remote_code:
        patterns.append("*.py")
    path = Path(snapshot_download(repo_id, revision=revision, allow_patterns=patterns))
    return Snapshot(path=path, repo_id=repo_id, revision=path.name)


def _has_weights(folder: Path) -> bool:
    return bool(weight_files(folder))


def weight_files(folder: Path) -> list[Path]:
    """The weight files of a model folder: safetensors if any, else ``.bin``/``.pt`` files (sorted)."""
    folder = Path(folder)
    st = sorted(p for p in folder.glob("*.safetensors") if p.is_file())
    if st:
        return st
    return sorted(
        p for pat in ("pytorch_model*.bin", "*.pt", "*.pth", "*.bin") for p in folder.glob(pat) if p.is_file()
    )


def has_safetensors(folder: Path) -> bool:
    return any(Path(folder).glob("*.safetensors"))


# ---------------------------------------------------------------------------------------------
# sha256 of weight files, memoised on disk by (real path, size, mtime)

_memo_lock = threading.Lock()


def _memo_path() -> Path:
    from .cache import default_cache_dir

    return default_cache_dir() / "weights_sha256.json"


def file_sha256(path: str | Path, *, memo: bool = True) -> str:
    """sha256 of a file, streamed; memoised on disk by (path, size, mtime_ns)."""
    path = Path(path)
    st = path.stat()
    key = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"
    memo_file = _memo_path() if memo else None
    table: dict[str, str] = {}
    if memo_file is not None:
        try:
            table = json.loads(memo_file.read_text())
        except (OSError, ValueError):
            table = {}
        if key in table:
            return table[key]
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    digest = h.hexdigest()
    if memo_file is not None:
        with _memo_lock:
            try:
                try:
                    table = json.loads(memo_file.read_text())
                except (OSError, ValueError):
                    table = {}
                table[key] = digest
                memo_file.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(dir=memo_file.parent, prefix=".weights_sha256.", suffix=".tmp")
                with os.fdopen(fd, "w") as f:
                    json.dump(table, f)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, memo_file)
            except OSError:
                pass  # the memo is an optimisation only
    return digest


def weights_fingerprint(files: list[Path]) -> tuple[str | None, dict[str, str]]:
    """(combined sha256, {file name: sha256}). One file: its own sha256."""
    per = {Path(f).name: file_sha256(f) for f in files}
    if not per:
        return None, {}
    if len(per) == 1:
        return next(iter(per.values())), per
    h = hashlib.sha256()
    for k in sorted(per):
        h.update(f"{k}:{per[k]}\n".encode())
    return h.hexdigest(), per


def verify_sha256(path: Path, expected: str, what: str) -> str:
    got = file_sha256(path)
    if got != expected:
        raise WeightsMismatchError(
            f"{what}: sha256 of {path} is {got}, expected {expected}; the file is corrupted or not the "
            "recorded checkpoint (reinstall it, or pass verify=False to load it anyway)"
        )
    return got
