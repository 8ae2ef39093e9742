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

# Python caches the bytecode it compiles (in __pycache__, ignored by git) even where PYTHONDONTWRITEBYTECODE is
# set, as on this project's machines: otherwise every process of the demo and the tests compiles torch,
# transformers, gradio ... again at each import (importing torch, transformers, pandas, scipy and scikit-learn
# took 21 s without bytecode, 8.7 s with it).  Compiling all of the environment at install instead took 59 s
# more on the same machine, to save less on one demo.
unexport PYTHONDONTWRITEBYTECODE

# torch through pip (it honours the machine's pip configuration and local wheels); the rest through uv, which
# resolves and installs the package's ~200 dependencies in under half a minute (pip: about 3 minutes), falling
# back to pip where uv cannot be installed.  Bytecode is compiled on first import (pip --no-compile, uv's default).
$(VENV)/.stamp: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --no-compile $(TORCH_SPEC)
	($(PY) -m pip install -q uv && $(VENV)/bin/uv pip install --python $(PY) -q -e ".[dev]") \
	  || $(PY) -m pip install -q -e ".[dev]"
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
