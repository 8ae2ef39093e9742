"""Transfer between models' embedding spaces: linear maps (lstsq, ridge, scaled Procrustes), relative
representations, probe transfer, cross-model retrieval and distillation; bridges between a frozen image tower and
a frozen text tower (linear maps, LiT-style contrastive heads, blind matching by quadratic assignment).
See ``docs/applications.md`` and ``docs/bridge.md``. The image-text models ``bridge:lite{0,1,2}-minilm`` live in
:mod:`unireps.transfer.bridge_model` (loaded with ``unireps.models.load_model``)."""

from .blind import BlindMatch, blind_match, cosine_kernel
from .bridge import BRIDGE_METHODS, ContrastiveHeads, LinearBridge
from .bridge_study import BridgeStudy, bridge_study, choose_layer, stratified_splits, summarize_bridge
from .distill import distill, kd_loss
from .maps import MAP_METHODS, LinearMap, RelativeProjection, pad_to, relative_representation
from .probe import TRANSFER_METHODS, cross_model_retrieval, fit_probe, probe_transfer
from .retrieval import retrieval_recall

__all__ = [
    "BRIDGE_METHODS", "MAP_METHODS", "TRANSFER_METHODS", "BlindMatch", "BridgeStudy", "ContrastiveHeads",
    "LinearBridge", "LinearMap", "RelativeProjection", "blind_match", "bridge_study", "choose_layer",
    "cosine_kernel", "cross_model_retrieval", "distill",
    "fit_probe", "kd_loss", "pad_to", "probe_transfer", "relative_representation", "retrieval_recall",
    "stratified_splits", "summarize_bridge",
]
