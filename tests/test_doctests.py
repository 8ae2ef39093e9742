"""Every ``>>>`` example in the package's docstrings runs and gives what it shows (doctest), as part of the fast
suite. Modules whose import needs an optional extra that is missing are skipped."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import unireps

FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _modules() -> list[str]:
    return ["unireps"] + sorted(m.name for m in pkgutil.walk_packages(unireps.__path__, "unireps."))


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples(name):
    try:
        module = importlib.import_module(name)
    except ImportError as e:  # an optional extra (gradio, ray, open_clip, ...) that is not installed
        pytest.skip(f"{name}: {e}")
    tests = [t for t in doctest.DocTestFinder().find(module) if t.examples]
    if not tests:
        pytest.skip(f"{name} has no docstring examples")
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    failures = []
    for t in tests:
        lines = []
        result = runner.run(t, out=lines.append)
        if result.failed:
            failures.append("".join(lines))
    assert not failures, "\n".join(failures)
