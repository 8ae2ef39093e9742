"""Find the images of a user folder and pair each with its caption (csv, jsonl or .txt sidecars)."""

from __future__ import annotations

import csv
import json
import posixpath
from pathlib import Path

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
ID_KEYS = ("image", "file", "filename", "path")
CAPTION_KEYS = ("caption", "text")
HOWTO = ("give captions as captions.csv (columns image, caption), captions.jsonl "
         '({"image": "a.png", "caption": "..."} per line) or a .txt beside each image with the same stem')


def find_images(root: Path) -> list[str]:
    """Relative posix paths of the image files under ``root`` (recursive, hidden entries skipped), sorted."""
    out = []
    for p in root.rglob("*"):
        rel = p.relative_to(root)
        if p.is_file() and p.suffix.lower() in IMAGE_EXTS and not any(s.startswith(".") for s in rel.parts):
            out.append(rel.as_posix())
    return sorted(out)


def _norm(root: Path, ref: str, where: str) -> str:
    ref = str(ref).strip().replace("\\", "/")
    p = Path(ref)
    if p.is_absolute():
        try:
            ref = p.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            raise ValueError(f"{where}: image {ref!r} is outside the folder {root}; "
                             "use paths relative to the folder.") from None
    return posixpath.normpath(ref)


def _pick(row: dict, keys: tuple[str, ...], where: str, what: str):
    lower = {str(k).strip().lower(): v for k, v in row.items()}
    for k in keys:
        if k in lower:
            return lower[k]
    raise ValueError(f"{where}: no {what} field; expected one of {list(keys)}, found {list(row)}. {HOWTO}.")


def _rows_csv(path: Path) -> list[tuple[str, dict]]:
    with open(path, newline="", encoding="utf-8-sig") as f:
        return [(f"{path.name} row {i}", dict(r)) for i, r in enumerate(csv.DictReader(f), start=2)]


def _rows_jsonl(path: Path) -> list[tuple[str, dict]]:
    rows = []
    for i, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path.name} line {i}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"{where}: not valid JSON ({e.msg}); write one JSON object per line.") from None
        if not isinstance(obj, dict):
            raise ValueError(f"{where}: expected a JSON object like {{\"image\": ..., \"caption\": ...}}.")
        rows.append((where, obj))
    return rows


def _rows_txt(root: Path, images: list[str]) -> list[tuple[str, dict]]:
    by_caption: dict[str, str] = {}
    rows = []
    for img in images:
        txt = posixpath.splitext(img)[0] + ".txt"
        if txt in by_caption:
            raise ValueError(f"duplicate id: images {by_caption[txt]!r} and {img!r} share the caption file "
                             f"{txt!r}; rename one of them so that each image has its own .txt.")
        by_caption[txt] = img
        if (root / txt).is_file():
            rows.append((txt, {"image": img, "caption": (root / txt).read_text(encoding="utf-8-sig")}))
    for txt in sorted(p.relative_to(root).as_posix() for p in root.rglob("*.txt")):
        if txt not in by_caption:
            raise FileNotFoundError(f"caption file {txt!r} has no image with the same stem beside it "
                                    f"({', '.join(IMAGE_EXTS)}); add the image or remove the .txt.")
    return rows


def read_captions(root: Path, images: list[str]) -> tuple[list[tuple[str, str, object]], str]:
    """(image, caption, label or None) per image, in caption-file order (sorted for .txt), and the source."""
    sources = [n for n in ("captions.csv", "captions.jsonl") if (root / n).is_file()]
    if len(sources) > 1:
        raise ValueError(f"{root} holds both captions.csv and captions.jsonl; keep only one of them.")
    if sources:
        src = sources[0]
        rows = (_rows_csv if src.endswith(".csv") else _rows_jsonl)(root / src)
    else:
        src = ".txt sidecars"
        rows = _rows_txt(root, images)
        if not rows:
            raise ValueError(f"no captions found in {root}: {HOWTO}.")
    known, seen, out = set(images), {}, []
    for where, row in rows:
        img = _norm(root, _pick(row, ID_KEYS, where, "image"), where)
        cap = _pick(row, CAPTION_KEYS, where, "caption")
        cap = "" if cap is None else str(cap).strip()
        if img in seen:
            raise ValueError(f"duplicate id: image {img!r} is captioned twice ({seen[img]} and {where}); "
                             "keep one caption per image.")
        seen[img] = where
        if img not in known:
            hint = ("it is not an image type this loader reads" if (root / img).is_file()
                    else f"no such file in {root}")
            raise FileNotFoundError(f"{where}: caption refers to image {img!r}, but {hint}; fix the name "
                                    f"or remove the entry. Supported types: {', '.join(IMAGE_EXTS)}.")
        if not cap:
            raise ValueError(f"{where}: the caption of {img!r} is empty; write a caption or remove "
                             "the image.")
        label = {str(k).strip().lower(): v for k, v in row.items()}.get("label")
        out.append((img, cap, None if label in (None, "") else label))
    missing = [i for i in images if i not in seen]
    if missing:
        shown = ", ".join(repr(m) for m in missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise ValueError(f"{len(missing)} image(s) in {root} have no caption ({src}): {shown}; add a caption "
                         "for each or move them out of the folder.")
    return out, src
