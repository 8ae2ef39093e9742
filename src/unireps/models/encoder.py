"""The :class:`Encoder` interface every loaded model exposes, and the batching engine behind it.

An encoder has one *tower* per modality (``"image"``, ``"text"``). A family adapter implements

* ``_prepare(modality, raw_batch) -> inputs`` (tokenise / preprocess, tensors on the device), and
* ``_forward(modality, inputs, layers) -> (activations, raw_embedding, TokenInfo)`` where
  ``activations`` maps each requested layer name to its batch tensor (``(B,T,D)``, ``(B,C,H,W)``
  or ``(B,D)``) and ``raw_embedding`` is the shared-space embedding before L2 normalisation,

and fills in the metadata. Everything else (batching, ``torch.inference_mode``, device, pooling,
normalisation, progress bar, numpy conversion) lives here, once.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from .errors import ModalityError
from .inputs import check_images, check_texts, n_items, stable_hash, take
from .pooling import TokenInfo, check_pooling, pool

MODALITIES = ("image", "text")
EMBEDDING = "embedding"  # pseudo-layer name of the shared-space embedding in extract()


def auto_device(device: str | torch.device | None = None) -> torch.device:
    """``device`` if given, else CUDA when present, else CPU."""
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def first_tensor(out: Any) -> torch.Tensor:
    """The activation tensor of a module output (tensor, tuple/list, or a ``ModelOutput``)."""
    if isinstance(out, torch.Tensor):
        return out
    if hasattr(out, "last_hidden_state") and out.last_hidden_state is not None:
        return out.last_hidden_state
    if isinstance(out, dict):
        out = list(out.values())
    if isinstance(out, (tuple, list)):
        for o in out:
            if isinstance(o, torch.Tensor):
                return o
    raise TypeError(f"cannot find a tensor in a module output of type {type(out).__name__}")


class LayerCapture:
    """Forward hooks that keep the first output of each named module during one forward pass.

    Only names in ``wanted`` are kept (hooks on the others return at once). A module called
    twice in one pass (BLIP's vision ``post_layernorm``) keeps its first, token-wise output.
    """

    def __init__(self, modules: Sequence[tuple[str, nn.Module]]):
        self.modules = list(modules)
        self.wanted: set[str] = set()
        self.out: dict[str, torch.Tensor] = {}
        self._handles: list[Any] = []

    def _hook(self, name: str):
        def hook(_module, _inputs, output):
            if name in self.wanted and name not in self.out:
                self.out[name] = first_tensor(output)

        return hook

    def __enter__(self) -> LayerCapture:
        for name, module in self.modules:
            self._handles.append(module.register_forward_hook(self._hook(name)))
        return self

    def __exit__(self, *exc) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()
        self.out = {}

    def reset(self, wanted: set[str]) -> None:
        self.wanted = set(wanted)
        self.out = {}


@dataclass
class Batch:
    """One batch of pooled results, ``index`` into the full input (a slice or an index array)."""

    index: slice | np.ndarray
    layers: dict[str, np.ndarray]
    embedding: np.ndarray | None


class Encoder:
    """A loaded model with image and/or text towers. See the module docstring for adapters.

    Public metadata: ``name``, ``family``, ``source``, ``revision``, ``weights_sha256``,
    ``weight_files`` ({file: sha256}), ``modalities``, ``embedding_dim``, ``layer_names``
    ({modality: [names, input to output]}), ``default_pooling`` ({modality: method}),
    ``embedding_layer`` ({modality: the layer the shared embedding comes from}), ``device``,
    ``batch_size``.
    """

    family: str = "generic"

    def __init__(
        self,
        *,
        name: str,
        source: str,
        modalities: Sequence[str],
        layer_names: dict[str, list[str]],
        default_pooling: dict[str, str],
        embedding_dim: int | None,
        device: torch.device,
        batch_size: int = 32,
        revision: str | None = None,
        weights_sha256: str | None = None,
        weight_files: dict[str, str] | None = None,
        embedding_layer: dict[str, str | None] | None = None,
        progress: bool | None = None,
    ):
        self.name = name
        self.source = source
        self.modalities = tuple(modalities)
        self.layer_names = {m: list(v) for m, v in layer_names.items()}
        self.default_pooling = dict(default_pooling)
        for p in self.default_pooling.values():
            check_pooling(p)
        self.embedding_dim = embedding_dim
        self.device = device
        self.batch_size = int(batch_size)
        self.revision = revision
        self.weights_sha256 = weights_sha256
        self.weight_files = dict(weight_files or {})
        self.embedding_layer = dict(embedding_layer or {})
        self.progress = progress
        self.forward_calls = 0  # number of model forward passes run (tests and benchmarks read it)

    # ------------------------------------------------------------------ adapter interface
    def _prepare(self, modality: str, raw: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _forward(
        self, modality: str, inputs: Any, layers: set[str]
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor | None, TokenInfo]:  # pragma: no cover
        raise NotImplementedError

    def _capture_modules(self, modality: str) -> list[tuple[str, nn.Module]]:
        """Modules to hook for ``modality`` (name, module): the adapter's ``_hooks[modality]`` when it keeps
        them per modality (a dict set in ``_setup``), else none; single-tower adapters override this."""
        hooks = getattr(self, "_hooks", None)
        return hooks.get(modality, []) if isinstance(hooks, dict) else []

    def _capture_wanted(self, modality: str, layers: set[str]) -> set[str]:
        """Hooked layers to record for ``layers`` (an adapter may need more to derive others)."""
        return layers

    def _postprocess(self, modality: str, acts: dict[str, torch.Tensor], info: TokenInfo) -> dict[str, torch.Tensor]:
        """Adapter hook run on the captured + returned activations before pooling."""
        return acts

    def preprocess_fingerprint(self, modality: str) -> str:
        """Hash of everything in preprocessing that changes the activations (resize, mean/std, tokenizer)."""
        return stable_hash({"modality": modality})

    def _text_lengths(self, texts: list[str]) -> np.ndarray | None:
        """Token lengths used to sort texts into batches of similar length (``None``: keep order)."""
        return None

    # ------------------------------------------------------------------ metadata
    @property
    def image_layer_names(self) -> list[str]:
        return list(self.layer_names.get("image", []))

    @property
    def text_layer_names(self) -> list[str]:
        return list(self.layer_names.get("text", []))

    def metadata(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "family": self.family,
            "source": self.source,
            "revision": self.revision,
            "weights_sha256": self.weights_sha256,
            "weight_files": dict(self.weight_files),
            "modalities": list(self.modalities),
            "embedding_dim": self.embedding_dim,
            "layer_names": {m: list(v) for m, v in self.layer_names.items()},
            "default_pooling": dict(self.default_pooling),
            "embedding_layer": dict(self.embedding_layer),
            "device": str(self.device),
            "batch_size": self.batch_size,
        }

    def identity(self) -> dict[str, Any]:
        """The fields that identify the model's weights (used in cache keys)."""
        return {
            "name": self.name,
            "family": self.family,
            "weights_sha256": self.weights_sha256,
            "revision": self.revision,
        }

    def __repr__(self) -> str:
        dims = ", ".join(f"{m}: {len(self.layer_names.get(m, []))} layers" for m in self.modalities)
        return (
            f"<{type(self).__name__} {self.name!r} family={self.family} dim={self.embedding_dim} "
            f"({dims}) device={self.device}>"
        )

    # ------------------------------------------------------------------ validation
    def _check_modality(self, modality: str) -> None:
        if modality not in MODALITIES:
            raise ValueError(f"modality must be 'image' or 'text'; got {modality!r}")
        if modality not in self.modalities:
            have = " and ".join(self.modalities) or "no"
            raise ModalityError(
                f"model {self.name!r} ({self.family}) has no {modality} tower; it encodes {have} inputs only"
            )

    def resolve_layers(self, modality: str, layers: Any) -> list[str]:
        """``None`` or ``"all"`` -> every layer; a name or list -> checked against ``layer_names``."""
        valid = self.layer_names.get(modality, [])
        if layers is None or (isinstance(layers, str) and layers == "all"):
            return list(valid)
        if isinstance(layers, str):
            layers = [layers]
        layers = list(layers)
        unknown = [x for x in layers if x not in valid]
        if unknown:
            raise ValueError(f"unknown {modality} layer(s) {unknown} for {self.name!r}; valid layers: {valid}")
        return layers

    def resolve_pooling(self, modality: str, pooling: str | None) -> str:
        return check_pooling(pooling) if pooling is not None else self.default_pooling[modality]

    # ------------------------------------------------------------------ engine
    def _check_items(self, modality: str, items: Any) -> Any:
        return check_images(items) if modality == "image" else check_texts(items)

    def iter_batches(
        self,
        modality: str,
        items: Any,
        *,
        layers: Sequence[str] = (),
        pooling: str | None = None,
        embedding: bool = True,
        normalize: bool = True,
        batch_size: int | None = None,
        progress: bool | None = None,
    ) -> Iterator[Batch]:
        """Run the model over ``items`` batch by batch; yield pooled numpy float32 results.

        Texts are grouped by token length (less padding); ``Batch.index`` says where each
        batch's rows go. One forward pass per batch gives every requested layer and the embedding.
        """
        self._check_modality(modality)
        items = self._check_items(modality, items)
        layers = self.resolve_layers(modality, layers) if layers else []
        method = self.resolve_pooling(modality, pooling)
        n = n_items(items)
        bs = int(batch_size or self.batch_size)
        if bs < 1:
            raise ValueError("batch_size must be >= 1")
        order = None
        if modality == "text" and n > bs:
            lengths = self._text_lengths(items)
            if lengths is not None:
                order = np.argsort(-np.asarray(lengths), kind="stable")
        n_batches = math.ceil(n / bs) if n else 0
        bar = _progress_bar(n_batches, f"{self.name} {modality}", self.progress if progress is None else progress)
        wanted = self._capture_wanted(modality, set(layers))
        try:
            with self._capture(modality) as cap, torch.inference_mode():
                for b in range(n_batches):
                    index: slice | np.ndarray
                    index = slice(b * bs, min(n, (b + 1) * bs)) if order is None else order[b * bs : (b + 1) * bs]
                    raw = take(items, index)
                    if cap is not None:
                        cap.reset(wanted)
                    inputs = self._prepare(modality, raw)
                    acts, emb, info = self._forward(modality, inputs, wanted)
                    self.forward_calls += 1
                    if cap is not None:
                        acts = {**cap.out, **acts}
                    acts = self._postprocess(modality, acts, info)
                    out = {}
                    for name in layers:
                        if name not in acts:
                            raise RuntimeError(f"adapter for {self.name!r} did not produce layer {name!r}")
                        out[name] = _to_numpy(pool(acts[name], method, info))
                    e = None
                    if embedding:
                        if emb is None:
                            raise RuntimeError(f"{self.name!r} produced no {modality} embedding")
                        emb = emb.float()
                        if normalize:
                            emb = torch.nn.functional.normalize(emb, dim=-1)
                        e = _to_numpy(emb)
                    yield Batch(index=index, layers=out, embedding=e)
                    if bar is not None:
                        bar.update(1)
        finally:
            if bar is not None:
                bar.close()

    @contextlib.contextmanager
    def _capture(self, modality: str):
        modules = self._capture_modules(modality)
        if not modules:
            yield None
            return
        with LayerCapture(modules) as cap:
            yield cap

    def _collect(self, modality, items, *, layers, pooling, embedding, normalize, batch_size, progress):
        items = self._check_items(modality, items) if modality in self.modalities else items
        n = n_items(items) if modality in self.modalities else 0
        layer_out: dict[str, np.ndarray] = {}
        emb_out = None
        for batch in self.iter_batches(
            modality, items, layers=layers, pooling=pooling, embedding=embedding,
            normalize=normalize, batch_size=batch_size, progress=progress,
        ):
            for name, arr in batch.layers.items():
                if name not in layer_out:
                    layer_out[name] = np.empty((n, arr.shape[1]), dtype=np.float32)
                layer_out[name][batch.index] = arr
            if batch.embedding is not None:
                if emb_out is None:
                    emb_out = np.empty((n, batch.embedding.shape[1]), dtype=np.float32)
                emb_out[batch.index] = batch.embedding
        return layer_out, emb_out

    # ------------------------------------------------------------------ public API
    def encode_images(self, images: Any, *, batch_size: int | None = None, normalize: bool = True,
                      progress: bool | None = None) -> np.ndarray:
        """Shared-space image embeddings, float32 ``(n, embedding_dim)`` (L2-normalised unless ``normalize=False``)."""
        return self._encode("image", images, batch_size, normalize, progress)

    def encode_texts(self, texts: Sequence[str], *, batch_size: int | None = None, normalize: bool = True,
                     progress: bool | None = None) -> np.ndarray:
        """Shared-space text embeddings, float32 ``(n, embedding_dim)`` (L2-normalised unless ``normalize=False``)."""
        return self._encode("text", texts, batch_size, normalize, progress)

    def _encode(self, modality, items, batch_size, normalize, progress):
        self._check_modality(modality)
        _, emb = self._collect(modality, items, layers=(), pooling=None, embedding=True,
                               normalize=normalize, batch_size=batch_size, progress=progress)
        if emb is None:
            return np.zeros((0, self.embedding_dim or 0), dtype=np.float32)
        return emb

    def image_layers(self, images: Any, pooling: str | None = None, *, layers: Any = "all",
                     batch_size: int | None = None, progress: bool | None = None) -> dict[str, np.ndarray]:
        """Pooled activations of the image tower: {layer: float32 (n, d)}, ordered input to output."""
        return self._layers("image", images, pooling, layers, batch_size, progress)

    def text_layers(self, texts: Sequence[str], pooling: str | None = None, *, layers: Any = "all",
                    batch_size: int | None = None, progress: bool | None = None) -> dict[str, np.ndarray]:
        """Pooled activations of the text tower: {layer: float32 (n, d)}, ordered input to output."""
        return self._layers("text", texts, pooling, layers, batch_size, progress)

    def _layers(self, modality, items, pooling, layers, batch_size, progress):
        self._check_modality(modality)
        names = self.resolve_layers(modality, layers)
        self.resolve_pooling(modality, pooling)
        out, _ = self._collect(modality, items, layers=names, pooling=pooling, embedding=False,
                               normalize=False, batch_size=batch_size, progress=progress)
        return {name: out[name] for name in names if name in out}


def _to_numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().to("cpu", dtype=torch.float32).numpy()


def _progress_bar(total: int, desc: str, progress: bool | None):
    """A tqdm bar for long runs: shown when ``progress`` is true, or (``None``) past 8 batches on a TTY."""
    if progress is False or total == 0 or (progress is None and total <= 8):
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="batch", disable=None if progress is None else False, leave=False)
