"""Plumbing shared by the Hugging Face ``transformers`` family adapters.

Only what is the same for every family lives here: reading a model folder offline
(``local_files_only=True``, safetensors first, ``.bin`` only through ``torch.load(weights_only=True)``),
loading the tokenizer and image processor, turning raw inputs into tensors, fingerprinting the
preprocessing and the weights. Per-family choices (which modules are layers, which output is
the shared embedding, default pooling, text padding) live in each family's module.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..encoder import Encoder
from ..hub import Snapshot, has_safetensors, weight_files, weights_fingerprint
from ..inputs import stable_hash, to_rgb_arrays
from ..pooling import last_index_from_mask


def read_config_json(folder: Path) -> dict[str, Any]:
    path = Path(folder) / "config.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {}


def embedding_tensor(out: Any) -> torch.Tensor:
    """``get_image_features``/``get_text_features`` return a tensor in transformers 4.x and a
    ``BaseModelOutputWithPooling`` (embedding in ``pooler_output``) in 5.x: accept both."""
    if isinstance(out, torch.Tensor):
        return out
    pooled = getattr(out, "pooler_output", None)
    if pooled is None:
        raise TypeError(f"no pooler_output in {type(out).__name__}")
    return pooled


class HFEncoder(Encoder):
    """Base class of the transformers-backed adapters. Subclasses set ``family`` and implement
    ``_model_class``, ``_setup`` (layer names, hooks, default pooling, embedding dim) and ``_forward``."""

    family = "hf"
    #: padding policy for text: "longest" (pad each batch, mask respected) or "max_length"
    text_padding = "longest"
    #: parameter-name prefixes whose weights must come from the checkpoint (never left random)
    required_weights: tuple[str, ...] = ()
    #: tokenizer outputs this family's text tower accepts
    text_input_keys: tuple[str, ...] = ("input_ids", "attention_mask")

    def __init__(
        self,
        snapshot: Snapshot,
        *,
        name: str,
        source: str,
        device: torch.device,
        batch_size: int = 32,
        dtype: torch.dtype | str | None = None,
        tokenizer: Any = None,
        image_processor: Any = None,
        trust_remote_code: bool = False,
        max_length: int | None = None,
        progress: bool | None = None,
    ):
        self.folder = Path(snapshot.path)
        self.trust_remote_code = bool(trust_remote_code)
        self.config = self._load_config()
        self.model = self._load_model(dtype)
        self.model.to(device).eval()
        self.model.requires_grad_(False)
        self.tokenizer = self._load_tokenizer(tokenizer)
        self.image_processor = self._load_image_processor(image_processor)
        self._max_length_override = max_length
        self._fingerprints: dict[str, str] = {}
        sha, per_file = weights_fingerprint(weight_files(self.folder))
        setup = self._setup()
        super().__init__(
            name=name,
            source=source,
            modalities=setup["modalities"],
            layer_names=setup["layer_names"],
            default_pooling=setup["default_pooling"],
            embedding_dim=setup["embedding_dim"],
            embedding_layer=setup.get("embedding_layer"),
            device=device,
            batch_size=batch_size,
            revision=snapshot.revision,
            weights_sha256=sha,
            weight_files=per_file,
            progress=progress,
        )

    # ------------------------------------------------------------------ loading
    def _load_config(self):
        from transformers import AutoConfig

        return AutoConfig.from_pretrained(
            self.folder, local_files_only=True, trust_remote_code=self.trust_remote_code
        )

    def _model_class(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def _load_model(self, dtype):
        cls = self._model_class()
        kwargs: dict[str, Any] = dict(
            local_files_only=True,
            use_safetensors=has_safetensors(self.folder),
            weights_only=True,
            output_loading_info=True,
        )
        if self.trust_remote_code:
            kwargs["trust_remote_code"] = True
        if dtype is not None:
            kwargs["dtype"] = getattr(torch, dtype) if isinstance(dtype, str) else dtype
        model, info = cls.from_pretrained(self.folder, **kwargs)
        missing = list(info.get("missing_keys") or [])
        bad = [k for k in missing if any(k.startswith(p) for p in self.required_weights)]
        if bad:
            raise ValueError(
                f"{self.folder}: the checkpoint has no weights for {bad[:6]}; loading it as "
                f"{cls.__name__} would leave them random (wrong model class for this checkpoint?)"
            )
        if missing:
            warnings.warn(
                f"{self.folder}: {len(missing)} weights not in the checkpoint were initialised at random: "
                f"{missing[:8]}",
                stacklevel=3,
            )
        return model

    def _load_tokenizer(self, tokenizer: Any):
        if tokenizer is not None and not isinstance(tokenizer, (str, Path)):
            return tokenizer
        from transformers import AutoTokenizer

        where = tokenizer or self.folder
        try:
            return AutoTokenizer.from_pretrained(
                where, local_files_only=True, trust_remote_code=self.trust_remote_code
            )
        except (OSError, ValueError, TypeError, KeyError, ImportError, AttributeError) as exc:
            self._tokenizer_error = f"{type(exc).__name__}: {exc}"
            return None

    def _load_image_processor(self, image_processor: Any):
        if image_processor is not None and not isinstance(image_processor, (str, Path)):
            return image_processor
        where = Path(image_processor or self.folder)
        if not (where / "preprocessor_config.json").exists() and not (where / "processor_config.json").exists():
            self._image_processor_error = f"no preprocessor_config.json in {where}"
            return None
        from transformers import AutoImageProcessor

        try:
            return AutoImageProcessor.from_pretrained(
                where, local_files_only=True, trust_remote_code=self.trust_remote_code
            )
        except (OSError, ValueError, TypeError, KeyError, ImportError) as exc:
            self._image_processor_error = f"{type(exc).__name__}: {exc}"
            return None

    def _setup(self) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    # ------------------------------------------------------------------ preprocessing
    @property
    def text_max_length(self) -> int:
        if self._max_length_override:
            return int(self._max_length_override)
        limits = []
        tc = getattr(self.config, "text_config", None) or self.config
        mpe = getattr(tc, "max_position_embeddings", None)
        if mpe:
            limits.append(int(mpe))
        tml = getattr(self.tokenizer, "model_max_length", None)
        if tml and tml < 100_000:
            limits.append(int(tml))
        return min(limits) if limits else 512

    def _require_tokenizer(self):
        if self.tokenizer is None:
            why = getattr(self, "_tokenizer_error", "")
            raise RuntimeError(
                f"{self.name!r}: no tokenizer could be loaded from {self.folder} ({why}); save one there "
                "(tokenizer.save_pretrained) or pass tokenizer=... to load_model"
            )
        return self.tokenizer

    def _require_image_processor(self):
        if self.image_processor is None:
            why = getattr(self, "_image_processor_error", "")
            raise RuntimeError(
                f"{self.name!r}: no image processor could be loaded from {self.folder} ({why}); save one "
                "there (image_processor.save_pretrained) or pass image_processor=... to load_model"
            )
        return self.image_processor

    def _prepare(self, modality: str, raw: Any) -> dict[str, torch.Tensor]:
        if modality == "image":
            return self._prepare_images(raw)
        return self._prepare_texts(raw)

    def _prepare_images(self, images: Any) -> dict[str, torch.Tensor]:
        ip = self._require_image_processor()
        arrays = to_rgb_arrays(images)
        out = ip(images=arrays, return_tensors="pt", input_data_format="channels_last")
        dtype = next(self.model.parameters()).dtype
        res = {}
        for k, v in out.items():
            if isinstance(v, torch.Tensor):
                v = v.to(self.device)
                res[k] = v.to(dtype) if v.is_floating_point() else v
        return res

    def _prepare_texts(self, texts: list[str]) -> dict[str, torch.Tensor]:
        tok = self._require_tokenizer()
        enc = tok(
            list(texts),
            padding=self.text_padding,
            truncation=True,
            max_length=self.text_max_length,
            return_tensors="pt",
            return_attention_mask=True,
        )
        return {k: v.to(self.device) for k, v in enc.items() if isinstance(v, torch.Tensor)}

    def _text_model_inputs(self, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {k: inputs[k] for k in self.text_input_keys if k in inputs}

    def _text_lengths(self, texts: list[str]) -> np.ndarray | None:
        if self.text_padding == "max_length":
            return None
        return np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))

    @staticmethod
    def _last_real_token(mask: torch.Tensor) -> torch.Tensor:
        return last_index_from_mask(mask)

    def preprocess_fingerprint(self, modality: str) -> str:
        if modality in self._fingerprints:
            return self._fingerprints[modality]
        if modality == "image":
            ip = self.image_processor
            d = {} if ip is None else {k: v for k, v in ip.to_dict().items() if not k.startswith("_")}
            d.pop("processor_class", None)
            fp = stable_hash({"image_processor": type(ip).__name__, "config": d})
        else:
            tok = self.tokenizer
            vocab = {}
            if tok is not None:
                try:
                    vocab = tok.get_vocab()
                except (AttributeError, NotImplementedError):
                    vocab = {}
            fp = stable_hash(
                {
                    "tokenizer": type(tok).__name__,
                    "vocab": stable_hash(sorted(vocab.items())),
                    "size": len(tok) if tok is not None else 0,
                    "special": getattr(tok, "all_special_tokens", None),
                    "lower": getattr(tok, "do_lower_case", None),
                    "padding": self.text_padding,
                    "max_length": self.text_max_length,
                }
            )
        self._fingerprints[modality] = fp
        return fp


def block_names(n: int) -> list[str]:
    return [f"block.{i}" for i in range(n)]
