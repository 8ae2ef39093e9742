"""Transfer between models' embedding spaces: linear maps (lstsq, ridge, scaled Procrustes), relative
representations, probe transfer, cross-model retrieval and distillation.  See ``docs/applications.md``."""

from .distill import distill, kd_loss
from .maps import MAP_METHODS, LinearMap, RelativeProjection, pad_to, relative_representation
from .probe import TRANSFER_METHODS, cross_model_retrieval, fit_probe, probe_transfer
from .retrieval import retrieval_recall

__all__ = [
    "MAP_METHODS", "TRANSFER_METHODS", "LinearMap", "RelativeProjection", "cross_model_retrieval",
    "distill",
    "fit_probe", "kd_loss", "pad_to", "probe_transfer", "relative_representation", "retrieval_recall",
]
