"""The tutorial notebooks: committed without outputs, each with its offline HTML render, and (slow) each executes
from top to bottom in a fresh kernel on the embedded default."""

from __future__ import annotations

import importlib.util
import json
import re
import time
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
EXPECTED = [
    "01_similarity_in_three_lines",
    "02_layerwise_maps",
    "03_your_own_models_and_data",
    "04_brain_rsa",
    "05_stitching_merging_transfer",
    "06_federated_learning",
    "07_bridge_real_towers",
]
CELL_TIMEOUT = 600  # seconds per cell (the slowest cell builds zoo models on a cold cache)
MAX_HTML_BYTES = 1_000_000  # per render
MAX_HTML_TOTAL = 3_000_000


def _paths() -> list[Path]:
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def _render_module():
    spec = importlib.util.spec_from_file_location("unireps_notebooks_render", NOTEBOOKS / "render.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_notebooks_are_there():
    assert [p.stem for p in _paths()] == EXPECTED


@pytest.mark.parametrize("name", EXPECTED)
def test_notebook_is_valid_and_has_no_outputs(name):
    path = NOTEBOOKS / f"{name}.ipynb"
    nb = json.loads(path.read_text(encoding="utf-8"))  # valid JSON
    assert nb["nbformat"] == 4 and nb["metadata"]["kernelspec"]["name"] == "python3"
    cells = nb["cells"]
    assert cells[0]["cell_type"] == "markdown" and "".join(cells[0]["source"]).startswith("# ")
    code = [c for c in cells if c["cell_type"] == "code"]
    assert code, "a notebook without code"
    for c in code:
        assert c["outputs"] == [] and c["execution_count"] is None, f"{name}: outputs committed; run render.py --clear"
        assert "execution" not in c.get("metadata", {})
    try:
        import nbformat
    except ImportError:  # pragma: no cover - nbformat comes with the dev dependencies
        return
    nbformat.validate(nbformat.reads(path.read_text(encoding="utf-8"), as_version=4))


def test_html_renders_exist_offline_and_small():
    total = 0
    for name in EXPECTED:
        html = NOTEBOOKS / "html" / f"{name}.html"
        assert html.is_file(), f"missing render {html}; run python notebooks/render.py {name}"
        text = html.read_text(encoding="utf-8")
        size = len(text.encode("utf-8"))
        total += size
        assert size < MAX_HTML_BYTES, f"{html.name} is {size / 1e6:.1f} MB"
        assert "Executed in" in text
        assert "Traceback (most recent call last)" not in text and 'class="ansi-red-fg"' not in text  # no errors
        # offline: no script or stylesheet fetched from elsewhere
        assert not re.search(r"<(script|link)[^>]+(src|href)=\"https?://", text), f"{html.name} loads from a CDN"
        # it was rendered from the current notebook: every code cell's first line appears in it
        nb = json.loads((NOTEBOOKS / f"{name}.ipynb").read_text(encoding="utf-8"))
        import html as html_lib

        plain = html_lib.unescape(re.sub(r"<[^>]+>", "", text))
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                first = "".join(cell["source"]).strip().splitlines()[0].strip()
                assert first in plain, f"{html.name} is older than {name}.ipynb (no {first!r}); re-render it"
    assert total < MAX_HTML_TOTAL


def test_clear_outputs_strips_everything():
    nbformat = pytest.importorskip("nbformat")
    render = _render_module()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")])
    nb.cells[0].outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": "2"}, execution_count=1)]
    nb.cells[0].execution_count = 1
    nb.cells[0].metadata["execution"] = {"iopub.status.busy": "2026-01-01"}
    assert render.clear_outputs(nb) and not render.clear_outputs(nb)
    assert nb.cells[0].outputs == [] and nb.cells[0].execution_count is None and not nb.cells[0].metadata


@pytest.mark.slow
@pytest.mark.parametrize("name", EXPECTED)
def test_notebook_executes(name):
    pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    render = _render_module()
    t0 = time.perf_counter()
    nb, seconds, cpu = render.execute(NOTEBOOKS / f"{name}.ipynb", timeout=CELL_TIMEOUT)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    print(f"\n{name}: {time.perf_counter() - t0:.0f} s wall, {cpu:.0f} s CPU")
