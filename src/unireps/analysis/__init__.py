"""unireps.analysis: when, how and why models converge — each question a function returning tidy tables.

* ``compare_models``        N×N similarity per measure with CIs, p-values and baselines
* ``layerwise``             layer × layer maps, best matches, the layer-identification test
* ``pairwise_table``, ``sweep``   convergence over seed, width, training step, objective, architecture
* ``cross_modal_alignment`` image vs text towers and vs a language model, with retrieval competence
* ``factor_alignment``      similarity to the generative factors of ``shapes``
* ``all_pairs_ray``         every (a, b) similarity as Ray tasks (optional Ray), equal to ``layer_similarity``
* ``brain_rsa``, ``noise_ceiling``   RSA with human and monkey IT on the 92 objects
* ``nearest_neighbours``, ``profile_variance``   item-level agreement between models
* ``zero_shot``, ``occlusion_map``, ``word_importance``   explaining one image–text match
* ``invariance_table``      the measures' invariances, measured
* ``select_layer_cv``, ``brain_layer_selection``   "best layer" chosen on one half of the stimuli, scored on the
  other, with the permutation null of the in-sample maximum; ``identification_ci`` the identification rate's CI
"""

from .allpairs import all_pairs_ray
from .audit import Audit, audit, effective_rank
from .brain import brain_layer_selection, brain_rsa, ceiling_table, noise_ceiling, reference_rows
from .compare import Comparison, ci_method_for, compare_models
from .crossmodal import cross_modal_alignment, retrieval_at_1
from .explain import occlusion_images, occlusion_map, word_importance, zero_shot
from .groundtruth import factor_alignment, factor_matrices
from .invariance import invariance_table
from .layerwise import Layerwise, identification_ci, identification_cis, identification_rate, layerwise
from .neighbours import nearest_neighbours, neighbour_labels, profile_variance, unit_rows
from .reps import raw_input, representations, untrained_twin
from .selection import LayerSelection, select_layer_cv
from .sweeps import pairwise_table, sweep

__all__ = [
    "Audit", "Comparison", "LayerSelection", "Layerwise", "all_pairs_ray", "audit", "brain_layer_selection",
    "brain_rsa", "ceiling_table", "effective_rank",
    "ci_method_for", "compare_models", "cross_modal_alignment", "factor_alignment", "factor_matrices",
    "identification_ci", "identification_cis",
    "identification_rate", "invariance_table", "layerwise", "nearest_neighbours", "neighbour_labels",
    "noise_ceiling", "occlusion_images", "occlusion_map", "pairwise_table", "profile_variance", "raw_input",
    "reference_rows", "representations", "retrieval_at_1", "select_layer_cv", "sweep", "unit_rows",
    "untrained_twin", "word_importance", "zero_shot",
]
