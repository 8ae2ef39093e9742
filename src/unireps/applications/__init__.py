"""unireps.applications: the demos of stitching, merging and transfer on the digits toy kit
(:mod:`unireps.zoo.digits`), each returning a tidy DataFrame. The methods themselves live in
:mod:`unireps.stitch`, :mod:`unireps.merge` and :mod:`unireps.transfer`; see ``docs/applications.md``.

* ``stitching_penalties``, ``summarise_stitching``          stitching penalty vs the random-bottom control
* ``lmc_width_sweep``, ``multitask_merge_table``, ``summarise_merge_table``   merging
* ``digits_embeddings``, ``digits_probe_transfer``, ``digits_cross_model_retrieval``, ``distillation_cka``   transfer
"""

from .merging import lmc_width_sweep, multitask_merge_table, summarise_merge_table
from .stitching import stitching_penalties, summarise_stitching
from .transfer import digits_cross_model_retrieval, digits_embeddings, digits_probe_transfer, distillation_cka

__all__ = [
    "digits_cross_model_retrieval", "digits_embeddings", "digits_probe_transfer", "distillation_cka",
    "lmc_width_sweep", "multitask_merge_table", "stitching_penalties", "summarise_merge_table",
    "summarise_stitching",
]
