"""Datasets of the embedded default: ``shapes``, ``kriegeskorte92``, ``digits`` and ``folder``.

>>> from unireps.data import load_dataset
>>> ds = load_dataset("shapes", n=100, seed=0)
>>> ds.images.shape, ds.captions[0]  # doctest: +SKIP
"""

from .base import BrainDataset, Dataset
from .embeddings import EmbeddingsIntegrityError, load_embeddings
from .registry import DatasetInfo, brain_rdms, list_datasets, load_dataset

__all__ = ["BrainDataset", "Dataset", "DatasetInfo", "EmbeddingsIntegrityError", "brain_rdms", "list_datasets",
           "load_dataset", "load_embeddings"]
