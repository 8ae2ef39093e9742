"""Trained digits models are cached on disk (safetensors, keyed by recipe and code): a warm rerun trains nothing,
a different recipe never gets another's weights, and a broken file is retrained and replaced."""

from __future__ import annotations

import pytest
import torch

from unireps.zoo import digits


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("UNIREPS_CACHE", str(tmp_path))
    digits._trained_state.cache_clear()
    yield tmp_path / "digits"
    digits._trained_state.cache_clear()


def _state(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def _no_training(monkeypatch):
    def fail(*a, **k):
        raise AssertionError("trained although the weights were cached")

    monkeypatch.setattr(digits, "train_classifier", fail)


def test_a_second_process_loads_the_same_weights_without_training(cache, monkeypatch):
    first = _state(digits.trained_digits_model("mlp", 8, seed=3, epochs=1))
    files = list(cache.glob("*.safetensors"))
    assert len(files) == 1 and files[0].name.startswith("mlp-w8-d2-s3-")
    digits._trained_state.cache_clear()  # as in a new process
    _no_training(monkeypatch)
    again = _state(digits.trained_digits_model("mlp", 8, seed=3, epochs=1))
    assert again.keys() == first.keys() and all(torch.equal(again[k], first[k]) for k in first)


def test_another_recipe_is_trained_not_taken_from_the_cache(cache, monkeypatch):
    a = _state(digits.trained_digits_model("mlp", 8, seed=3, epochs=1))
    b = _state(digits.trained_digits_model("mlp", 8, seed=4, epochs=1))
    c = _state(digits.trained_digits_model("mlp", 8, seed=3, epochs=2))
    assert len(list(cache.glob("*.safetensors"))) == 3
    assert not torch.equal(a["fc1.weight"], b["fc1.weight"]) and not torch.equal(a["fc1.weight"], c["fc1.weight"])


def test_the_key_follows_the_training_code(cache, monkeypatch):
    path = digits._state_path("mlp", 8, 3, 1, 1e-3, 2, 0)
    monkeypatch.setattr(digits, "_recipe_source", lambda: "other training code")
    assert digits._state_path("mlp", 8, 3, 1, 1e-3, 2, 0) != path


def test_a_broken_cache_file_is_retrained_and_replaced(cache):
    first = _state(digits.trained_digits_model("mlp", 8, seed=3, epochs=1))
    (path,) = cache.glob("*.safetensors")
    path.write_bytes(b"not a safetensors file")
    digits._trained_state.cache_clear()
    again = _state(digits.trained_digits_model("mlp", 8, seed=3, epochs=1))
    assert all(torch.equal(again[k], first[k]) for k in first)  # training is deterministic
    assert digits._read_state(path) is not None
    assert not list(cache.glob(".*.tmp"))
