"""Each Hugging Face stand-in: built from its own transformers class, trains (one step), saves with
its tokenizer and image processor, and loads through the unireps.models family adapter, which then
gives exactly the embeddings the zoo trains and evaluates with."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from unireps.zoo.catalog import TINY_HF_SIZE
from unireps.zoo.hf import FAMILIES, family
from unireps.zoo.train import deterministic, factor_codes

ADAPTER_CLASS = {"clip": "CLIPEncoder", "siglip": "SiglipEncoder", "align": "AlignEncoder", "blip": "BlipEncoder",
                 "flava": "FlavaEncoder"}


@pytest.fixture(autouse=True)
def quiet_transformers():
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    yield
    hf_logging.set_verbosity(level)


@pytest.fixture(scope="module")
def shapes():
    from unireps.data import load_dataset

    return load_dataset("shapes", n=12, seed=3, split="train")


@pytest.mark.parametrize("name", list(FAMILIES))
def test_family_trains_saves_and_loads_through_its_adapter(name, shapes, tmp_path):
    from unireps.models import load_model

    fam = family(name, TINY_HF_SIZE)
    with deterministic():
        model = fam.build(seed=0)
        pixels, inputs = fam.pixels(shapes.images), fam.texts(shapes.captions)
        loss = fam.loss(model, pixels, inputs, factor_codes(shapes)[:, 4])
        assert torch.isfinite(loss) and loss.item() > 0
        loss.backward()
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
        model.eval()
        with torch.inference_mode():
            want_img = F.normalize(fam.embed_images(model, pixels), dim=-1).numpy()
            want_txt = F.normalize(fam.embed_texts(model, inputs), dim=-1).numpy()
    fam.save(model, tmp_path)
    assert (tmp_path / "model.safetensors").exists() and (tmp_path / "preprocessor_config.json").exists()
    enc = load_model(str(tmp_path))
    assert type(enc).__name__ == ADAPTER_CLASS[name] and enc.family == name
    img, txt = enc.encode_images(shapes.images), enc.encode_texts(shapes.captions)
    assert img.shape == txt.shape == (12, enc.embedding_dim)
    np.testing.assert_allclose(img, want_img, atol=2e-5)
    np.testing.assert_allclose(txt, want_txt, atol=2e-5)


def test_zoo_tokenizer_covers_every_caption_word():
    from unireps.data import load_dataset
    from unireps.zoo.tokenizer import MAX_LENGTH, UNK_ID, tokenize

    for n_objects in (1, 2):
        ds = load_dataset("shapes", n=400, seed=0, n_objects=n_objects)
        ids = tokenize(ds.captions)["input_ids"]
        assert not (ids == UNK_ID).any() and ids.shape[1] < MAX_LENGTH
