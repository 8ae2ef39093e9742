"""unireps.viz: plotly figures of the analyses' tidy tables, one consistent style (HTML works offline; PNG via
kaleido and a system Chromium)."""

from .figures import (
    bar_plot,
    brain_layer_curves,
    brain_plot,
    ci_strings,
    embedding_panels,
    layer_curves,
    layer_map,
    lmc_plot,
    pca_2d,
    procrustes_align_2d,
    save,
    similarity_heatmap,
    style,
    sweep_plot,
    write_plotlyjs,
)

__all__ = [
    "bar_plot", "brain_layer_curves", "brain_plot", "ci_strings", "embedding_panels", "layer_curves", "layer_map",
    "lmc_plot", "pca_2d",
    "procrustes_align_2d", "save", "similarity_heatmap", "style", "sweep_plot", "write_plotlyjs",
]
