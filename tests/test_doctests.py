"""Every ``>>>`` example in the package's docstrings runs and gives what it shows (doctest), as part of the fast
suite. Modules whose import needs an optional extra that is missing are skipped."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

import unireps

FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _modules_with_examples() -> list[str]:
    """Modules whose docstrings hold ``>>>`` examples, found from the source text (nothing imported here)."""
    root = Path(unireps.__file__).parent
    out = []
    for path in sorted(root.rglob("*.py")):
        if ">>> " in path.read_text(encoding="utf-8"):
            parts = path.relative_to(root.parent).with_suffix("").parts
            out.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return out


@pytest.mark.parametrize("name", _modules_with_examples())
def test_docstring_examples(name):
    try:
        module = importlib.import_module(name)
    except ImportError as e:  # an optional extra (gradio, ray, open_clip, ...) that is not installed
        pytest.skip(f"{name}: {e}")
    tests = [t for t in doctest.DocTestFinder().find(module) if t.examples]
    assert tests, f"{name} has '>>> ' in its source but no docstring example doctest can find"
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    failures = []
    for t in tests:
        lines = []
        result = runner.run(t, out=lines.append)
        if result.failed:
            failures.append("".join(lines))
    assert not failures, "\n".join(failures)
