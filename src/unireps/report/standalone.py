"""A standalone HTML rendering of the post for reading locally (offline, on a desktop or a phone): the Liquid
asset tags become relative paths, ``<d-cite>`` tags become numbered references with a bibliography, and the TeX
between ``$$`` is typeset as MathML by latex2mathml at render time (browsers draw MathML natively: no script, no
font download, nothing fetched when the page is viewed).  A ``$$…$$`` that fills its paragraph is display math;
one inside a sentence is inline, as in the blog's Distill layout."""

from __future__ import annotations

import html
import re
from pathlib import Path

import yaml

from ..io import atomic_write_text
from .check import _front_matter

CSS = """body{font-family:Georgia,serif;max-width:860px;margin:2em auto;padding:0 1em;line-height:1.6;color:#222;
font-size:18px;-webkit-text-size-adjust:100%;overflow-wrap:break-word}
h1,h2,h3{font-family:Helvetica,Arial,sans-serif;line-height:1.25}h1{font-size:1.8em}
img{max-width:100%;height:auto}iframe{border:0;width:100%;height:520px}
table{border-collapse:collapse;margin:1em 0;display:block;overflow-x:auto}
td,th{border:1px solid #ccc;padding:4px 8px;font-size:14px}
code,pre{background:#f5f5f5;font-size:.85em}pre{padding:.6em;overflow-x:auto}.cite{font-size:85%}
.meta{color:#666}.abstract{background:#f7f7f9;padding:.8em 1em;border-left:3px solid #888}
figure{margin:1.5em 0}figcaption{font-size:90%;color:#444}
math[display=block]{display:block;overflow-x:auto;margin:1em 0;font-size:1.1em}math{font-size:1.05em}
.snippet-output-label{font-size:85%;color:#555;margin-bottom:-.6em}
@media (max-width:600px){body{font-size:16px;margin:1em auto;padding:0 .7em}iframe{height:420px}
h1{font-size:1.5em}pre{font-size:.75em}}"""


def typeset_math(text: str) -> tuple[str, dict[str, str]]:
    """Replace each ``$$…$$`` by a placeholder and return the text and {placeholder: MathML} (display math when
    the formula is its own paragraph).  Placeholders survive Markdown; substitute them after rendering.

    >>> t, m = typeset_math("Let $$x^2$$ be.")
    >>> t, next(iter(m.values())).startswith('<math xmlns="http://www.w3.org/1998/Math/MathML" display="inline"')
    ('Let MATHPH0X be.', True)
    """
    from latex2mathml.converter import convert

    found: dict[str, str] = {}

    def repl(m):
        tex = m.group(1).strip()
        before, after = text[:m.start()], text[m.end():]
        display = (before.endswith("\n\n") or before == "" or before.endswith("\n")) and (
            after.startswith("\n") or after == "")
        tex = tex.rstrip(",.")  # sentence punctuation inside display math
        ph = f"MATHPH{len(found)}X"
        found[ph] = convert(tex, display="block" if display else "inline")
        return ph

    text = re.sub(r"\$\$(.+?)\$\$", repl, text, flags=re.S)
    return text, found


def _bib_entries(bib: str) -> dict[str, dict[str, str]]:
    out = {}
    for m in re.finditer(r"@\w+\s*\{\s*([^,\s]+)\s*,(.*?)\n\}", bib, flags=re.S):
        fields = dict(re.findall(r"(\w+)\s*=\s*\{((?:[^{}]|\{[^{}]*\})*)\}", m.group(2)))
        out[m.group(1)] = {k: re.sub(r"\s+", " ", v.replace("{", "").replace("}", "")) for k, v in fields.items()}
    return out


def render_standalone(post_root: str | Path, out_html: str | Path) -> Path:
    """Render the single post under ``post_root`` (a submission tree) to ``out_html``."""
    post_root = Path(post_root)
    post = next((post_root / "_posts").glob("*.md"))
    fm, body = _front_matter(post.read_text(encoding="utf-8"))
    out_html = Path(out_html)
    rel = Path(__import__("os").path.relpath(post_root, out_html.parent)).as_posix()
    body = re.sub(r"\{\{\s*'([^']+)'\s*\|\s*relative_url\s*\}\}", lambda m: f"{rel}/{m.group(1)}", body)
    bib = _bib_entries((post_root / "assets" / "bibliography" / fm["bibliography"]).read_text(encoding="utf-8"))
    order: list[str] = []

    def cite(m):
        nums = []
        for k in (x.strip() for x in m.group(1).split(",")):
            if k not in order:
                order.append(k)
            nums.append(f'<a href="#ref-{k}">{order.index(k) + 1}</a>')
        return f'<span class="cite">[{", ".join(nums)}]</span>'

    body = re.sub(r'<d-cite\s+key="([^"]+)"\s*>\s*</d-cite>', cite, body)
    import markdown

    body, maths = typeset_math(body)
    content = markdown.markdown(body, extensions=["tables", "fenced_code"])
    for ph, mathml in maths.items():
        content = content.replace(f"<p>{ph}</p>", mathml).replace(ph, mathml)
    content = content.replace("<p><strong>Abstract.</strong>", '<p class="abstract"><strong>Abstract.</strong>', 1)
    refs = []
    for k in order:
        e = bib.get(k, {})
        venue = e.get("booktitle") or e.get("journal") or ""
        refs.append(f'<li id="ref-{k}">{html.escape(e.get("author", k))}. <i>{html.escape(e.get("title", ""))}</i>. '
                    f'{html.escape(venue)}, {html.escape(e.get("year", ""))}.</li>')
    authors = ", ".join(a.get("name", "") for a in fm.get("authors") or [])
    page = (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(fm['title'])}</title>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'><style>{CSS}</style></head><body>"
            f"<h1>{html.escape(fm['title'])}</h1><p class='meta'>{html.escape(authors)} · {fm.get('date')}</p>"
            f"{content}"
            f"<h2>References</h2><ol>{''.join(refs)}</ol>"
            f"<!-- front matter: {html.escape(yaml.safe_dump(fm, sort_keys=False))} --></body></html>")
    return atomic_write_text(out_html, page)
