# Two commands do everything on a fresh machine:  `make demo`  and  `make test`.
# Each creates the virtual environment .venv on first use (CPU torch pinned, never a CUDA build by accident).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# The CPU wheel of torch; on a machine with another torch source, override, e.g.
#   make demo TORCH_SPEC="torch --index-url https://download.pytorch.org/whl/cpu"
TORCH_SPEC ?= torch==2.13.0
PYTEST_ARGS ?=

.PHONY: venv demo test test-slow lint docs bench clean

# torch through pip (it honours the machine's pip configuration and local wheels); the rest through uv, which
# resolves and installs the package's ~200 dependencies in under half a minute (pip: about 3 minutes), falling
# back to pip where uv cannot be installed.  Then all bytecode at once, on every core: where
# PYTHONDONTWRITEBYTECODE is set (as on this project's machines) Python never caches it, so every process of the
# demo and the tests would compile torch, transformers, gradio ... again at each import (importing torch,
# transformers, pandas, scipy and scikit-learn: 21 s without bytecode, 8.7 s with it).  A few files that ship
# in packages without being Python 3 (templates, test data) do not compile; that is not a failure.
$(VENV)/.stamp: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --no-compile $(TORCH_SPEC)
	($(PY) -m pip install -q uv && $(VENV)/bin/uv pip install --python $(PY) -q -e ".[dev]") \
	  || $(PY) -m pip install -q -e ".[dev]"
	$(PY) -m compileall -q -j 0 "$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" src \
	  > /dev/null || true
	touch $@

venv: $(VENV)/.stamp

demo: venv
	$(VENV)/bin/unireps demo

test: venv
	$(PY) -m pytest -q -n 2 -m "not slow" $(PYTEST_ARGS)

# pytest exits 5 when no test is marked slow: that is not a failure
test-slow: venv
	$(PY) -m pytest -q -m slow $(PYTEST_ARGS) || [ $$? -eq 5 ]

lint: venv
	$(VENV)/bin/ruff check src tests benchmarks
	PYTHONPATH=src $(VENV)/bin/lint-imports

# The API reference (docs/api, from the docstrings) and the guides; warnings are errors. Output: site/
docs: venv
	PYTHONPATH=src $(VENV)/bin/mkdocs build --strict
	PYTHONPATH=src $(PY) scripts/check_api_docs.py

bench: venv
	$(PY) benchmarks/bench_metrics.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache site
