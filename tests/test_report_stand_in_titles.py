"""Figures whose titles or legends name a zoo stand-in say that it is a stand-in."""

from __future__ import annotations

import pytest

from unireps.report.depth import _legend_name, _stand_ins


def test_stand_in_names_in_legends_and_titles():
    assert _legend_name("clip-s0") == "clip-s0 (stand-in for CLIP)"
    assert _legend_name("siglip-s0") == "siglip-s0 (stand-in for SigLIP)"
    assert _legend_name("cnn16-gru-infonce-s0") == "cnn16-gru-infonce-s0"  # not a stand-in for a published model
    assert _legend_name("not-a-zoo-model") == "not-a-zoo-model"
    assert _stand_ins(["cnn16-gru-infonce-s0", "clip-s0", "clip-s0"]) == " (clip-s0 (stand-in for CLIP))"
    assert _stand_ins(["cnn16-gru-infonce-s0"]) == ""


@pytest.mark.slow  # runs 2 zoo models on the 92 photographs (about 40 s on 2 busy cores)
def test_brain_depth_figure_says_stand_in():
    from unireps.report.depth import section_brain_depth
    from unireps.report.standard import RunConfig

    tables, figs, numbers = section_brain_depth(RunConfig(), {"clip-s0", "cnn16-gru-infonce-s0"},
                                                models=("cnn16-gru-infonce-s0", "clip-s0"))
    fig = figs["brain_depth"]
    assert "clip-s0 (stand-in for CLIP)" in fig.layout.title.text and "synthetic shapes" in fig.layout.title.text
    names = {tr.name for tr in fig.data}
    assert "clip-s0 (stand-in for CLIP) · human IT" in names and "cnn16-gru-infonce-s0 · human IT" in names
    assert set(tables["brain_depth"].model) == {"clip-s0", "cnn16-gru-infonce-s0"}  # the table keeps the names
