"""A checker for a UniReps blog submission tree, written to the blog's rules:

* exactly one post ``_posts/YYYY-MM-DD-<slug>.md``; the key is taken from ``(\\d{4}-\\d{2}-\\d{2})-(\\w+)`` as the
  blog's check does, so the slug must be letters, digits and underscores (a hyphen would cut the key short);
* files only under ``_posts/`` and ``assets/<type>/<key>/`` (img, plotly, ...) or ``assets/bibliography/<key>.bib``;
* front matter with layout: distill, title, description, tags, giscus_comments, date, featured, authors (each
  with name, url, affiliations), bibliography: <key>.bib, toc (each with name, optional subsections);
* the bibliography exists and defines every ``<d-cite key="...">`` key;
* every asset the post references (``assets/...`` paths in Liquid tags, img src or iframe src) exists.

:func:`check_run` adds the numbers: it re-renders the post from the run folder's ``numbers.json``,
``provenance.json``, ``snippets.json`` and ``app_screens.json`` with the same template and compares every number
in the post's text (abstract included) with the re-rendered one, so a hand-edited or stale post fails, naming the
number and the run's key that should have produced it.
"""

from __future__ import annotations

import difflib
import json
import re
from pathlib import Path

import yaml

KEY_RE = re.compile(r"(\d{4}-\d{2}-\d{2})-(\w+)")
REQUIRED = ("layout", "title", "description", "tags", "giscus_comments", "date", "featured", "authors",
            "bibliography", "toc")


def _front_matter(text: str) -> tuple[dict, str]:
    if not text.startswith("---\n"):
        raise ValueError("the post does not start with a '---' front-matter block")
    end = text.find("\n---", 4)
    if end < 0:
        raise ValueError("the front-matter block is not closed with '---'")
    return yaml.safe_load(text[4:end]) or {}, text[end + 4:]


def bib_keys(bib: str) -> set[str]:
    return set(re.findall(r"@\w+\s*\{\s*([^,\s]+)\s*,", bib))


def check_post(root: str | Path) -> list[str]:
    """All rule violations found in the submission tree at ``root`` (an empty list means it passes)."""
    root = Path(root)
    problems: list[str] = []
    posts = sorted((root / "_posts").glob("*.md")) if (root / "_posts").is_dir() else []
    if len(posts) != 1:
        return [f"expected exactly one post under _posts/, found {len(posts)}"]
    post = posts[0]
    m = KEY_RE.match(post.stem)
    if not m or m.group(0) != post.stem:
        problems.append(f"post file name {post.name!r} is not YYYY-MM-DD-<slug>.md with an underscore-only slug "
                        f"(the blog's check would read the key as {m.group(0) if m else None!r})")
        return problems
    key = post.stem
    for f in root.rglob("*"):
        if f.is_dir():
            continue
        rel = f.relative_to(root).as_posix()
        ok = (rel == f"_posts/{post.name}" or rel == f"assets/bibliography/{key}.bib"
              or re.fullmatch(rf"assets/[a-z_]+/{re.escape(key)}/.+", rel) is not None)
        if not ok:
            problems.append(f"file outside the allowed places: {rel}")
    try:
        fm, body = _front_matter(post.read_text(encoding="utf-8"))
    except (ValueError, yaml.YAMLError) as e:
        return problems + [f"front matter: {e}"]
    for field in REQUIRED:
        if field not in fm:
            problems.append(f"front matter lacks {field!r}")
    if fm.get("layout") != "distill":
        problems.append(f"layout must be 'distill', got {fm.get('layout')!r}")
    if fm.get("bibliography") != f"{key}.bib":
        problems.append(f"bibliography must be '{key}.bib', got {fm.get('bibliography')!r}")
    if str(fm.get("date", ""))[:10] != m.group(1):
        problems.append(f"front-matter date {fm.get('date')!r} differs from the file name's {m.group(1)}")
    for a in fm.get("authors") or []:
        for field in ("name", "url", "affiliations"):
            if not isinstance(a, dict) or field not in a:
                problems.append(f"an author entry lacks {field!r}: {a!r}")
    for t in fm.get("toc") or []:
        if not isinstance(t, dict) or "name" not in t:
            problems.append(f"a toc entry lacks 'name': {t!r}")
    bib = root / "assets" / "bibliography" / f"{key}.bib"
    defined = bib_keys(bib.read_text(encoding="utf-8")) if bib.exists() else set()
    if not bib.exists():
        problems.append(f"bibliography assets/bibliography/{key}.bib is missing")
    cited = {k.strip() for group in re.findall(r'<d-cite\s+key="([^"]+)"', body) for k in group.split(",")}
    for k in sorted(cited - defined):
        problems.append(f"citation key {k!r} is not defined in the bibliography")
    if not cited:
        problems.append("the post cites nothing (<d-cite key=...>)")
    for ref in sorted(set(re.findall(r"assets/[\w./-]+", body))):
        if not (root / ref).exists():
            problems.append(f"referenced asset {ref} does not exist")
    return problems


NUMBER_RE = re.compile(r"(?<![\w.])[-−]?\d+(?:\.\d+)?%?")


def _numbers_in(text: str) -> list[tuple[str, int]]:
    return [(m.group(0), m.start()) for m in NUMBER_RE.finditer(text)]


def _context(text: str, pos: int, width: int = 40) -> str:
    return re.sub(r"\s+", " ", text[max(0, pos - width):pos + width]).strip()


def _load_json(path: Path, what: str) -> dict:
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: {what}; pass the folder that `unireps report --out` wrote")
    return json.loads(path.read_text(encoding="utf-8"))


def check_numbers(run_dir: str | Path) -> list[str]:
    """Every number of the post under ``run_dir/blog`` compared with the post re-rendered from the run's files;
    one problem per differing number, naming it (an empty list means every number equals the run's)."""
    from .post import Numbers, render

    run = Path(run_dir)
    posts = sorted((run / "blog" / "_posts").glob("*.md"))
    if len(posts) != 1:
        return [f"expected exactly one post under {run / 'blog' / '_posts'}, found {len(posts)}"]
    numbers = _load_json(run / "numbers.json", "the run's numbers")
    prov = _load_json(run / "provenance.json", "the run's provenance")
    snippets = _load_json(run / "snippets.json", "the snippets' outputs")
    screens = json.loads((run / "app_screens.json").read_text()) if (run / "app_screens.json").is_file() else {}
    fm, body = _front_matter(posts[0].read_text(encoding="utf-8"))
    N = Numbers(numbers)  # noqa: N806
    try:
        abstract, expected = render(posts[0].stem, N, prov, snippets, screens)
    except KeyError as e:
        return [f"the post cannot be re-rendered from this run: {e.args[0]}"]
    problems = []
    desc = " ".join(str(fm.get("description", "")).split())
    for where, have, want in (("front-matter abstract", desc, abstract), ("post", body.lstrip("\n"), expected)):
        a, b = _numbers_in(have), _numbers_in(want)
        sm = difflib.SequenceMatcher(a=[t for t, _ in a], b=[t for t, _ in b], autojunk=False)
        for op, i1, i2, j1, j2 in sm.get_opcodes():
            if op == "equal":
                continue
            for k in range(max(i2 - i1, j2 - j1)):
                got = a[i1 + k] if i1 + k < i2 else None
                exp = b[j1 + k] if j1 + k < j2 else None
                if exp is not None:
                    keys = [key for text, ks in N.used.items() if exp[0] in NUMBER_RE.findall(text) for key in ks]
                    name = f" ({', '.join(dict.fromkeys(keys))})" if keys else ""
                    if got is not None:
                        problems.append(f"{where}: the post says {got[0]} where the run gives {exp[0]}{name}, near "
                                        f"\"{_context(have, got[1])}\"")
                    else:
                        problems.append(f"{where}: the run's number {exp[0]}{name} is missing from the post, near "
                                        f"\"{_context(want, exp[1])}\"")
                else:
                    problems.append(f"{where}: the post says {got[0]}, which the run does not give, near "
                                    f"\"{_context(have, got[1])}\"")
    return problems


def check_run(run_dir: str | Path) -> list[str]:
    """The blog's rules (:func:`check_post` on ``run_dir/blog``) and the numbers (:func:`check_numbers`)."""
    return check_post(Path(run_dir) / "blog") + check_numbers(run_dir)
