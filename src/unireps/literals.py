"""The string options of the public API as ``Literal`` types, for type checkers and for the reader of a signature.

Each type lists exactly the values the code accepts at run time; ``tests/test_literals.py`` checks them against the
tuples the functions validate with (``POOLINGS``, ``RDM_KINDS``, ...). This module is in the bottom layer: it
imports nothing from unireps.

>>> from typing import get_args
>>> get_args(Modality)
('image', 'text')
"""

from __future__ import annotations

from typing import Literal

__all__ = ["CompareMethod", "Engine", "LayerChoice", "MapMethod", "Modality", "Pooling", "RDMKind",
           "TransferMethod", "Verify"]

Modality = Literal["image", "text"]
"""Which tower of a model: ``image`` or ``text``."""

Pooling = Literal["cls", "mean", "eos", "last", "spatial_mean", "flatten"]
"""How a layer's tokens or feature map become one vector per item (:data:`unireps.models.POOLINGS`)."""

LayerChoice = Literal["all", "embedding"]
"""Every layer (and the embedding), or only the shared-space embedding."""

RDMKind = Literal["correlation", "euclidean", "sq_euclidean", "cosine"]
"""The dissimilarity of an RDM (:func:`unireps.metrics.rsa`)."""

CompareMethod = Literal["spearman", "pearson", "kendall_tau_a", "cosine", "rho_a", "kendall_tau_b"]
"""How two RDMs are compared (:func:`unireps.metrics.rsa`)."""

Engine = Literal["local", "ray"]
"""Where extraction and all-pairs comparisons run (:func:`unireps.analysis.layerwise`)."""

Verify = Literal["lazy", "eager"]
"""When an embeddings export checks its files' sha256 (:func:`unireps.data.load_embeddings`; or a bool)."""

MapMethod = Literal["lstsq", "ridge", "procrustes"]
"""Linear maps between embedding spaces (:class:`unireps.transfer.LinearMap`)."""

TransferMethod = Literal["lstsq", "ridge", "procrustes", "relative"]
"""Probe-transfer methods (:func:`unireps.transfer.probe_transfer`)."""
