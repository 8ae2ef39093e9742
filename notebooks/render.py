"""Execute the tutorial notebooks and render each to ``notebooks/html/<name>.html`` for reading without running.

    .venv/bin/python notebooks/render.py              # all notebooks
    .venv/bin/python notebooks/render.py 04_brain_rsa  # some of them
    .venv/bin/python notebooks/render.py --clear      # only strip outputs from the .ipynb files

The ``.ipynb`` files in git carry no outputs; only the HTML renders do. The HTML is self-contained and offline (the
nbconvert ``basic`` body in a small page with its own CSS: no CDN scripts, figures as embedded PNGs).
"""

from __future__ import annotations

import argparse
import html
import os
import platform
import sys
import time
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
HTML_DIR = HERE / "html"
CELL_TIMEOUT = 600

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 980px; margin: 2em auto;
       padding: 0 1em; color: #1f2328; line-height: 1.5; }}
pre, code {{ font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.88em; }}
.jp-InputArea, .input_area {{ background: #f6f8fa; border: 1px solid #d0d7de; border-radius: 6px; margin: 0.6em 0; }}
.jp-InputArea pre, .input_area pre {{ margin: 0; padding: 0.6em 0.8em; overflow-x: auto; }}
.jp-InputPrompt, .jp-OutputPrompt, .prompt {{ display: none; }}
.jp-OutputArea-output pre {{ margin: 0.3em 0; padding: 0.4em 0.8em; overflow-x: auto; border-left: 3px solid #d0d7de; }}
.jp-RenderedText[data-mime-type="application/vnd.jupyter.stderr"] pre {{ border-left-color: #d29922; }}
table.dataframe {{ border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }}
table.dataframe th, table.dataframe td {{ border: 1px solid #d0d7de; padding: 2px 8px; text-align: right; }}
table.dataframe thead th {{ background: #f6f8fa; }}
.jp-OutputArea-output {{ overflow-x: auto; }}
img {{ max-width: 100%; }}
footer {{ margin-top: 3em; font-size: 0.85em; color: #59636e; border-top: 1px solid #d0d7de; padding-top: 0.5em; }}
{pygments}
</style></head>
<body>
{body}
<footer>{footer}</footer>
</body></html>
"""


def notebooks(names: list[str] | None = None) -> list[Path]:
    """The tutorial notebooks (``NN_*.ipynb``), in order; ``names`` selects by stem or prefix."""
    found = sorted(HERE.glob("[0-9][0-9]_*.ipynb"))
    if not names:
        return found
    chosen = [p for p in found if any(p.stem == n or p.stem.startswith(n) for n in names)]
    if not chosen:
        raise SystemExit(f"no notebook matches {names}; have {[p.stem for p in found]}")
    return chosen


def clear_outputs(nb) -> bool:
    """Strip outputs, execution counts and execution metadata in place; True if anything changed."""
    changed = False
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if cell.get("outputs") or cell.get("execution_count") is not None:
            changed = True
        cell["outputs"] = []
        cell["execution_count"] = None
        if cell.metadata.pop("execution", None) is not None:
            changed = True
    return changed


def _child_cpu() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def execute(path: Path, timeout: int = CELL_TIMEOUT):
    """Run a notebook in its folder with nbclient (a fresh kernel); returns (executed notebook, wall seconds,
    CPU seconds of the kernel and its children)."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    t0, c0 = time.perf_counter(), _child_cpu()
    client.execute()
    return nb, time.perf_counter() - t0, _child_cpu() - c0


def to_html(nb, title: str, seconds: float | None = None, cpu: float | None = None) -> str:
    from nbconvert import HTMLExporter
    from pygments.formatters import HtmlFormatter

    exporter = HTMLExporter(template_name="basic")
    body, _ = exporter.from_notebook_node(nb)
    import unireps

    when = time.strftime("%Y-%m-%d")
    ran = f" in {seconds:.0f} s" if seconds is not None else ""
    ran += f" ({cpu:.0f} s CPU)" if cpu is not None else ""
    footer = (f"Executed{ran} on {when} with unireps {unireps.__version__}, Python {platform.python_version()}, "
              f"{os.cpu_count()} CPU cores. Source: <code>notebooks/{html.escape(title)}.ipynb</code>; "
              "re-render with <code>python notebooks/render.py</code>.")
    css = HtmlFormatter(style="default").get_style_defs(".highlight")
    return PAGE.format(title=html.escape(title), body=body, footer=footer, pygments=css)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help="notebook stems or prefixes (default: all)")
    ap.add_argument("--timeout", type=int, default=CELL_TIMEOUT, help="seconds per cell")
    ap.add_argument("--clear", action="store_true", help="only strip outputs from the notebooks")
    args = ap.parse_args(argv)
    from unireps.io import atomic_write_text

    for path in notebooks(args.names):
        nb = nbformat.read(path, as_version=4)
        if clear_outputs(nb):
            atomic_write_text(path, nbformat.writes(nb) + "\n").chmod(0o644)
        if args.clear:
            continue
        executed, seconds, cpu = execute(path, args.timeout)
        out = atomic_write_text(HTML_DIR / f"{path.stem}.html", to_html(executed, path.stem, seconds, cpu))
        out.chmod(0o644)
        print(f"{path.name}: {seconds:.0f} s wall, {cpu:.0f} s CPU -> {out.relative_to(HERE.parent)} "
              f"({out.stat().st_size / 1e3:.0f} kB)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
