"""Model stitching: cut models into bottom / top at named layers, fit stitching layers by task loss or least
squares, stitching penalties with the random-bottom control, and dual-encoder stitching on embeddings.
See ``docs/applications.md``."""

from .core import (
    STITCH_KINDS,
    STITCH_METHODS,
    IncompatibleCutsError,
    StitchableModel,
    Stitcher,
    StitchLayer,
    random_init_copy,
    stitching_penalty_table,
)
from .dual import DualEncoderStitch, dual_encoder_retrieval, synthetic_dual_encoders

__all__ = [
    "STITCH_KINDS", "STITCH_METHODS", "DualEncoderStitch", "IncompatibleCutsError", "StitchLayer", "StitchableModel",
    "Stitcher", "dual_encoder_retrieval", "random_init_copy", "stitching_penalty_table",
    "synthetic_dual_encoders",
]
