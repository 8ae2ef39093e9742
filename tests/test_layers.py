"""Package layering (issue 15): the import-linter contract, the error hierarchy, the model-source plug-in hook
and the one model-name parser."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from unireps import errors
from unireps.cli import main
from unireps.errors import AmbiguousModelNameError, UnirepsError, UnknownModelError
from unireps.models import ModelName, parse_model_name

ROOT = Path(__file__).resolve().parents[1]


def _lint_imports(config: Path | None = None) -> subprocess.CompletedProcess:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    if exe is None:
        pytest.skip("import-linter is not installed (pip install -e '.[dev]')")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    args = [exe, "--no-cache"] + (["--config", str(config)] if config else [])
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_layer_contract_is_kept():
    got = _lint_imports()
    assert got.returncode == 0, got.stdout[-3000:] + got.stderr[-2000:]
    assert "1 kept, 0 broken" in got.stdout


def test_layer_contract_catches_an_upward_import_inside_a_function(tmp_path):
    """The same contract on a copy of the package with one function-level import from metrics up to models."""
    pkg = tmp_path / "src" / "unireps"
    shutil.copytree(ROOT / "src" / "unireps", pkg, ignore=shutil.ignore_patterns("__pycache__", "*.mat", "*.csv"))
    with open(pkg / "metrics" / "knn.py", "a") as f:
        f.write("\n\ndef _upward():\n    from ..models import load_model  # noqa: F401\n")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    if exe is None:
        pytest.skip("import-linter is not installed")
    got = subprocess.run([exe, "--no-cache"], cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(tmp_path / "src")},
                         capture_output=True, text=True, timeout=300)
    assert got.returncode != 0
    assert "unireps.metrics is not allowed to import unireps.models" in got.stdout


def test_every_project_exception_is_a_unireps_error_and_keeps_its_builtin_base():
    builtin = {"ModelNotAvailableError": FileNotFoundError, "WeightsMismatchError": RuntimeError,
               "ModalityError": ValueError, "ShardError": ValueError, "EmbeddingsIntegrityError": ValueError,
               "IncompatibleCutsError": ValueError, "InputError": ValueError, "UnknownModelError": ValueError}
    for name, base in builtin.items():
        cls = getattr(errors, name)
        assert issubclass(cls, UnirepsError) and issubclass(cls, base), name
    # the old import paths name the same classes
    from unireps.data.embeddings import EmbeddingsIntegrityError
    from unireps.metrics.ooc import ShardError
    from unireps.models import ModelNotAvailableError, WeightsMismatchError
    from unireps.stitch import IncompatibleCutsError

    assert ModelNotAvailableError is errors.ModelNotAvailableError and ShardError is errors.ShardError
    assert EmbeddingsIntegrityError is errors.EmbeddingsIntegrityError
    assert WeightsMismatchError is errors.WeightsMismatchError
    assert IncompatibleCutsError is errors.IncompatibleCutsError


def test_cli_turns_unireps_errors_into_one_line_and_other_runtime_errors_into_tracebacks(capsys, monkeypatch):
    import importlib
    import types

    main_mod = importlib.import_module("unireps.cli.main")

    def corrupted(_args):
        raise errors.WeightsMismatchError("weights of x do not match the recorded sha256\nsecond line")

    parser_funcs = {"f": corrupted}

    def register(sub):
        sub.add_parser("probe-error").set_defaults(func=lambda args: parser_funcs["f"](args))

    monkeypatch.setattr(main_mod, "COMMANDS", [*main_mod.COMMANDS, types.SimpleNamespace(register=register)])
    assert main(["probe-error"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "unireps probe-error: error: weights of x do not match the recorded sha256"

    def bug(_args):
        raise RuntimeError("an internal bug")

    parser_funcs["f"] = bug
    with pytest.raises(RuntimeError, match="internal bug"):
        main(["probe-error"])


# ------------------------------------------------------------------------------------------------ model names


@pytest.mark.parametrize("spec, kind, source, target", [
    ("minilm", "registered", None, "minilm"),
    ("hf:openai/clip-vit-base-patch32", "source", "hf", "openai/clip-vit-base-patch32"),
    ("zoo:clip-s0", "source", "zoo", "clip-s0"),
    ("timm:resnet18", "source", "timm", "resnet18"),
    ("openai/clip-vit-base-patch32", "hub", "hf", "openai/clip-vit-base-patch32"),
])
def test_parse_model_name(spec, kind, source, target):
    got = parse_model_name(spec, registered=["minilm"], sources=["hf", "zoo", "timm"])
    assert got == ModelName(spec, kind, source, target)


def test_parse_model_name_refusals(tmp_path, monkeypatch):
    with pytest.raises(UnknownModelError, match="Did you mean 'minilm'"):
        parse_model_name("minilmm", registered=["minilm"], sources=["hf"])
    with pytest.raises(UnknownModelError, match=r"source prefix \(hf:, zoo:\)"):
        parse_model_name("nosuch", registered=[], sources=["hf", "zoo"])
    with pytest.raises(errors.ModelNotAvailableError, match="does not exist"):
        parse_model_name(str(tmp_path / "missing"), registered=[], sources=[])
    monkeypatch.chdir(tmp_path)
    (tmp_path / "minilm").mkdir()
    with pytest.raises(AmbiguousModelNameError, match=r"'\./minilm' for the local one"):
        parse_model_name("minilm", registered=["minilm"], sources=[])
    (tmp_path / "owner" / "name").mkdir(parents=True)
    with pytest.raises(AmbiguousModelNameError, match="'hf:owner/name' for the hub one"):
        parse_model_name("owner/name", registered=[], sources=["hf"])
    assert parse_model_name("./owner/name", registered=[], sources=["hf"]).kind == "path"


def test_register_source_plug_in_hook():
    import torch

    from unireps.models import from_module, list_models, load_model, model_sources, register_source, unregister_source
    from unireps.models.registry import ModelInfo

    calls = []

    def load(target, *, name, device=None, allow_download=False, **kw):
        calls.append((target, name, allow_download))
        return from_module(torch.nn.Linear(int(target), 2), name=name)

    def listed():
        return [ModelInfo("lin:3", "module", ("image",), "test", "lin", True)]

    register_source("lin", load, list_models=listed)
    try:
        assert "lin" in model_sources() and "zoo" in model_sources()
        with pytest.raises(ValueError, match="already registered"):
            register_source("lin", load)
        enc = load_model("lin:3")
        assert enc.name == "lin:3" and calls == [("3", "lin:3", False)]
        assert {m.name: m for m in list_models()}["lin:3"].source_kind == "lin"
    finally:
        unregister_source("lin")
    with pytest.raises(UnknownModelError):
        load_model("lin:3")


def test_importing_models_does_not_import_the_zoo():
    code = ("import sys, unireps.models as m; assert 'unireps.zoo' not in sys.modules; "
            "m.parse_name('zoo:tiny-cnn8-bow-infonce-s0'); assert 'unireps.zoo' in sys.modules; print('ok')")
    got = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
                         capture_output=True, text=True, timeout=120)
    assert got.returncode == 0 and got.stdout.strip() == "ok", got.stderr[-2000:]


def test_zoo_build_false_refuses_instead_of_training(tmp_path):
    from unireps.models import load_model

    with pytest.raises(errors.ModelNotAvailableError, match="build=False"):
        load_model("zoo:tiny-cnn8-bow-infonce-s0", build=False, cache_dir=tmp_path)
    assert not any(tmp_path.iterdir())  # nothing was trained or written
