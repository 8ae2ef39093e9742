"""`kriegeskorte92`: the 92-object images with human IT, monkey IT, behavioural and model RDMs.

Data files come unchanged from rsatoolbox (MIT); see ``kriegeskorte2008/README.md`` for provenance.
The condensed RDMs of ``RDMs_mIT_hIT_fig1`` are in scipy ``squareform`` order (row-major upper
triangle); this was checked against the square ``monkeyIT`` model RDM, which equals it exactly.
"""

from __future__ import annotations

import csv
import hashlib
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.io as sio
from scipy.spatial.distance import squareform

from .base import BrainDataset

SUPPL = "Kriegeskorte_Neuron2008_supplementalData.mat"
SHA256 = {
    SUPPL: "06f21214399a5d43dc264eed19a7f4b8daf11c8622a59eec3e106064ce5e3504",
    "92_brainRDMs.mat": "1743f90a15e895798a94318649e80e1123a7e5943a1703fa1dd7c31ea5780b7c",
    "92_behavRDMs.mat": "7a8e118c144c3840adeeeef6ea0706a0be2b3e80df719af15fbb56fc62562f5f",
    "92_modelRDMs.mat": "e1d2b58bb2f9508bc13da4c81b94d1ab07823b25ed30b9563bd9d6d730c2a00a",
}
CITATION = (
    "Kriegeskorte N., Mur M., Ruff D.A., Kiani R., Bodurka J., Esteky H., Tanaka K., Bandettini P.A. (2008). "
    "Matching categorical object representations in inferior temporal cortex of man and monkey. "
    "Neuron 60(6), 1126-1141."
)
FIG1_KEYS = {"mIT_674neurons": "monkey_IT", "hITvisStim_316vx": "human_IT"}


def default_dir() -> Path:
    """The folder shipped inside the package that holds the .mat files, README and captions."""
    return Path(str(resources.files("unireps.data") / "kriegeskorte2008"))


def _verified(folder: Path, fname: str) -> Path:
    path = folder / fname
    if not path.is_file():
        raise FileNotFoundError(f"kriegeskorte92: {path} is missing; reinstall unireps (pip install "
                                "--force-reinstall unireps) or pass data_dir= a folder holding it.")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != SHA256[fname]:
        raise ValueError(f"kriegeskorte92: {path} is corrupt or modified (sha256 {digest}, expected "
                         f"{SHA256[fname]}); restore it from the unireps package or from "
                         "rsatoolbox's demos/92imageData.")
    return path


def _load(folder: Path, fname: str) -> dict:
    return sio.loadmat(_verified(folder, fname), squeeze_me=True, struct_as_record=False)


def _square(rdm: np.ndarray) -> np.ndarray:
    rdm = np.asarray(rdm, dtype=np.float64)
    return squareform(rdm, checks=False) if rdm.ndim == 1 else rdm


def _read_captions(folder: Path, categories: list[str]) -> list[str]:
    path = folder / "captions.csv"
    if not path.is_file():
        raise FileNotFoundError(f"kriegeskorte92: {path} is missing; reinstall unireps.")
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if [int(r["index"]) for r in rows] != list(range(92)) or [r["category"] for r in rows] != categories:
        raise ValueError(f"kriegeskorte92: {path} must list indices 0..91 in order with the categories "
                         "of the stimuli in the .mat file; restore it from the unireps package.")
    return [r["caption"].strip() for r in rows]


def resize_photos(images: np.ndarray, size: int) -> np.ndarray:
    """(n, H, W, 3) uint8 -> (n, size, size, 3) uint8, PIL bicubic (whole photo, no crop).

    >>> resize_photos(np.zeros((2, 175, 175, 3), np.uint8), 224).shape
    (2, 224, 224, 3)
    """
    from PIL import Image

    if int(size) < 8:
        raise ValueError(f"image_size={size}: give a side length of at least 8 pixels (e.g. 224)")
    return np.stack([np.asarray(Image.fromarray(a).resize((int(size), int(size)), Image.BICUBIC)) for a in images])


def load_kriegeskorte92(data_dir: str | Path | None = None, image_size: int | None = None) -> BrainDataset:
    """Load the 92 images (175x175 RGB), captions, category labels and every RDM (square, 92x92).

    ``image_size``: resize the photos to ``image_size`` x ``image_size`` (PIL bicubic) for a network that expects
    that resolution (e.g. 224 / 240 / 260 for EfficientNet-Lite0/1/2). The EfficientNet-Lite encoders of
    ``unireps.models`` take the native 175-px photos and crop and resize them themselves, as in their training.

    RDM names: ``monkey_IT`` (674 neurons), ``human_IT`` (316 voxels), ``human_IT/<subject>/session<k>``
    (4 subjects x 2 sessions), ``behaviour/subject<NN>`` (16 similarity-judgement RDMs) and
    ``model/<name>`` (animacy, FaceBodyManmadeNatobj, monkeyIT, EVA, HMAX, V1, Silhouette, RADON).
    """
    folder = Path(data_dir) if data_dir is not None else default_dir()
    sup = _load(folder, SUPPL)
    stim = sup["stimuli_92objs"]
    images = np.stack([np.asarray(s.image, dtype=np.uint8) for s in stim])
    if image_size is not None:
        images = resize_photos(images, image_size)
    categories = [str(s.category) for s in stim]
    cat_names = list(dict.fromkeys(categories))
    factors = pd.DataFrame({
        "category": categories,
        **{k: np.array([int(getattr(s, k)) for s in stim]) for k in ("human", "face", "animal", "natural")},
        **{f"cv_{lab}": sup["categoryVectors"][:, j].astype(int)
           for j, lab in enumerate(sup["categoryLabels"])},
    })

    rdms: dict[str, np.ndarray] = {}
    for r in sup["RDMs_mIT_hIT_fig1"]:
        rdms[FIG1_KEYS[str(r.name)]] = _square(r.RDM)
    for r in _load(folder, "92_brainRDMs.mat")["RDMs"].flat:
        _, subject, session = (p.strip() for p in str(r.name).split("|"))
        rdms[f"human_IT/{subject}/session{session.split(':')[1].strip()}"] = _square(r.RDM)
    for k, r in enumerate(_load(folder, "92_behavRDMs.mat")["rdms_behav_92"], start=1):
        rdms[f"behaviour/subject{k:02d}"] = _square(r.RDM)
    for r in _load(folder, "92_modelRDMs.mat")["Models"]:
        rdms[f"model/{r.name}"] = _square(r.RDM)

    meta = {
        "citation": CITATION,
        "licence": "data files: rsatoolbox (MIT, github.com/rsagroup/rsatoolbox, commit "
                   "f1f83cadb7243492a1aae7460466e0f0140b20ac); captions: written for unireps (MIT)",
        "sha256": dict(SHA256),
        "label_names": cat_names,
        "category_labels": [str(x) for x in sup["categoryLabels"]],
        "rdm_notes": {
            "monkey_IT": "monkey IT, 674 neurons (RDMs_mIT_hIT_fig1)",
            "human_IT": "human IT fMRI, 316 voxels (RDMs_mIT_hIT_fig1)",
            "human_IT/*": "human IT per subject and session (92_brainRDMs.mat), basis for a noise ceiling",
            "behaviour/*": "similarity judgements of 16 subjects",
            "model/*": "classic model RDMs shipped with rsatoolbox",
        },
        "data_dir": str(folder),
    }
    return BrainDataset(
        name="kriegeskorte92", images=images, captions=_read_captions(folder, categories),
        labels=np.array([cat_names.index(c) for c in categories], dtype=np.int64),
        factors=factors, metadata=meta, rdms=rdms,
    )
