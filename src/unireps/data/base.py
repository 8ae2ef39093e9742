"""The `Dataset` container shared by every loader: images, captions, labels, factors, metadata."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from scipy.spatial.distance import squareform

PER_ITEM_METADATA = ("files", "originals")  # metadata lists with one entry per item, kept aligned by subset


@dataclass(eq=False, repr=False)
class Dataset:
    """Paired images and captions with optional labels and generative factors.

    ``images`` is uint8 RGB of shape (n, H, W, 3); ``captions`` has one string per image;
    ``labels`` is an int array of length n or None; ``factors`` has one row per item or is None.
    """

    name: str
    images: np.ndarray = field(repr=False)
    captions: list[str] = field(repr=False)
    labels: np.ndarray | None = field(default=None, repr=False)
    factors: pd.DataFrame | None = field(default=None, repr=False)
    metadata: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        imgs = np.asarray(self.images)
        if imgs.ndim != 4 or imgs.shape[-1] != 3 or imgs.dtype != np.uint8:
            raise ValueError(
                f"Dataset {self.name!r}: images must be uint8 RGB of shape (n, H, W, 3); "
                f"got dtype {imgs.dtype} and shape {imgs.shape}. Convert with np.asarray(x, np.uint8)."
            )
        self.images = imgs
        n = len(imgs)
        self.captions = [str(c) for c in self.captions]
        if len(self.captions) != n:
            raise ValueError(f"Dataset {self.name!r}: {n} images but {len(self.captions)} captions; "
                             "give exactly one caption per image.")
        if self.labels is not None:
            self.labels = np.asarray(self.labels)
            if self.labels.shape != (n,) or not np.issubdtype(self.labels.dtype, np.integer):
                raise ValueError(f"Dataset {self.name!r}: labels must be an int array of shape ({n},); "
                                 f"got {self.labels.dtype} {self.labels.shape}.")
        if self.factors is not None and len(self.factors) != n:
            raise ValueError(f"Dataset {self.name!r}: factors has {len(self.factors)} rows for {n} images.")

    def __len__(self) -> int:
        return len(self.images)

    def __repr__(self) -> str:
        extra = f", labels={len(np.unique(self.labels))} classes" if self.labels is not None else ""
        if self.factors is not None:
            extra += f", factors={list(self.factors.columns)}"
        shape = self.images.shape[1:]
        return f"{type(self).__name__}(name={self.name!r}, n={len(self)}, image_shape={shape}{extra})"

    @property
    def content_hash(self) -> str:
        """sha256 over image bytes (with shape), captions and labels: a stable cache key."""
        h = hashlib.sha256()
        h.update(repr(self.images.shape).encode())
        h.update(np.ascontiguousarray(self.images).tobytes())
        for c in self.captions:
            b = c.encode("utf-8")
            h.update(len(b).to_bytes(8, "little") + b)
        if self.labels is None:
            h.update(b"labels:none")
        else:
            h.update(b"labels:" + self.labels.astype("<i8").tobytes())
        return h.hexdigest()

    def _indices(self, indices) -> np.ndarray:
        idx = np.asarray(indices)
        if idx.dtype == bool:
            if idx.shape != (len(self),):
                raise ValueError(f"boolean mask must have length {len(self)}, got shape {idx.shape}")
            idx = np.flatnonzero(idx)
        if idx.ndim != 1 or (idx.size and not np.issubdtype(idx.dtype, np.integer)):
            raise ValueError("indices must be a 1-D sequence of ints or a boolean mask")
        if idx.size and (idx.min() < -len(self) or idx.max() >= len(self)):
            raise ValueError(f"indices out of range for a dataset of {len(self)} items")
        return idx.astype(np.int64)

    def subset(self, indices) -> Dataset:
        """A new dataset of the same type holding the given items (ints or boolean mask), in that order."""
        idx = self._indices(indices)
        meta = dict(self.metadata, subset_of=self.name, subset_indices=idx.tolist())
        for key in PER_ITEM_METADATA:
            if key in meta:
                meta[key] = [meta[key][i] for i in idx]
        return replace(
            self,
            images=self.images[idx],
            captions=[self.captions[i] for i in idx],
            labels=None if self.labels is None else self.labels[idx],
            factors=None if self.factors is None else self.factors.iloc[idx].reset_index(drop=True),
            metadata=meta,
        )


@dataclass(eq=False, repr=False)
class BrainDataset(Dataset):
    """A `Dataset` with measured representational dissimilarity matrices (RDMs) over its items.

    ``rdms`` maps a name (e.g. ``"human_IT"``, ``"behaviour/subject01"``, ``"model/HMAX"``) to a
    square (n, n) matrix whose rows follow the item order.
    """

    rdms: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def condensed(self, key: str) -> np.ndarray:
        """The upper triangle of ``rdms[key]`` as a condensed vector (scipy ``squareform`` order)."""
        if key not in self.rdms:
            raise ValueError(f"no RDM named {key!r}; available: {', '.join(self.rdms)}")
        return squareform(self.rdms[key], checks=False)

    def subset(self, indices) -> BrainDataset:
        """As `Dataset.subset`, with every RDM restricted to the same items."""
        idx = self._indices(indices)
        out = super().subset(idx)
        out.rdms = {k: v[np.ix_(idx, idx)] for k, v in self.rdms.items()}
        return out
