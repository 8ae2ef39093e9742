"""The fixed data every zoo model is trained and evaluated on (all from the ``shapes`` world).

===========  ===========================================================  =================
role         call                                                         default n
===========  ===========================================================  =================
train        ``load_dataset("shapes", split="train", seed=0, n=n_train)``   recipe's n_train
eval         ``load_dataset("shapes", split="train", seed=1, n=500)``       500 (held-out
             (new images and captions from the training distribution)      pairs)
compos.      ``load_dataset("shapes", split="test", seed=1, n=500)``        500 (unseen
             (only the held-out shape-colour pairs)                        combinations)
probe fit    ``load_dataset("shapes", split="train", seed=2, n=1000)``      1000
===========  ===========================================================  =================

The model's seed never changes the data: two seeds of one recipe see the same images, only
their initialisation and batch order differ.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..data import Dataset

IMAGE_SIZE = 32
TRAIN_SEED, EVAL_SEED, PROBE_SEED = 0, 1, 2
N_EVAL, N_PROBE = 500, 1000


@dataclass(frozen=True)
class ZooData:
    train: Dataset
    eval: Dataset
    compositional: Dataset
    probe: Dataset

    def describe(self) -> dict:
        def d(ds: Dataset) -> dict:
            m = ds.metadata
            return {"dataset": ds.name, "split": m.get("split"), "seed": m.get("seed"), "n": len(ds),
                    "image_size": m.get("image_size"), "content_hash": ds.content_hash}

        return {"train": d(self.train), "eval": d(self.eval), "compositional": d(self.compositional),
                "probe": d(self.probe)}


@functools.lru_cache(maxsize=4)
def zoo_data(n_train: int, n_eval: int = N_EVAL, n_probe: int = N_PROBE) -> ZooData:
    """Training, held-out, compositional and probe sets (memoised per process)."""
    from ..data import load_dataset  # the datasets (pandas, PIL) load when the zoo's data does, not on import

    kw = dict(image_size=IMAGE_SIZE)
    return ZooData(
        train=load_dataset("shapes", n=int(n_train), seed=TRAIN_SEED, split="train", **kw),
        eval=load_dataset("shapes", n=int(n_eval), seed=EVAL_SEED, split="train", **kw),
        compositional=load_dataset("shapes", n=int(n_eval), seed=EVAL_SEED, split="test", **kw),
        probe=load_dataset("shapes", n=int(n_probe), seed=PROBE_SEED, split="train", **kw),
    )


@functools.lru_cache(maxsize=1)
def generator_fingerprint() -> str:
    """Content hash of a few shapes items: changes whenever the shapes generator's output changes."""
    from ..data import load_dataset

    return load_dataset("shapes", n=8, seed=TRAIN_SEED, split="train", image_size=IMAGE_SIZE).content_hash[:16]
