"""Sentence-Transformers folders (``modules.json``: Transformer -> Pooling [-> Normalize]).

Run with ``transformers`` directly (the ``sentence_transformers`` package is not needed), so
every layer is reachable; the result equals ``SentenceTransformer.encode`` on the same folder.

===================  =====================================================================
shared embedding     the folder's Pooling module applied to ``last_hidden_state`` (mean over
                     real tokens for all-MiniLM-L6-v2, i.e. padding excluded), then L2
                     normalisation (the ``Normalize`` module; ``encode_texts`` normalises by
                     default for every family, ``normalize=False`` returns the raw pooled vector)
text layers          ``embeddings`` (``hidden_states[0]``), ``block.0`` .. ``block.{L-1}``
                     (``hidden_states[1:]``; BERT-style encoders are post-LN, so the last block
                     *is* ``last_hidden_state``)
default pooling      the folder's pooling mode (``mean`` for MiniLM), mask-aware
text padding         longest in the batch, truncated at ``max_seq_length``
                     (``sentence_bert_config.json``; 256 for all-MiniLM-L6-v2)
===================  =====================================================================
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from ..hub import Snapshot
from ..pooling import TokenInfo, pool
from ._hf import HFEncoder, block_names

SUPPORTED_MODULES = ("Transformer", "Pooling", "Normalize")


def read_st_folder(folder: Path) -> dict:
    """Parse ``modules.json`` and the module configs; refuse module types this adapter cannot run."""
    folder = Path(folder)
    modules = json.loads((folder / "modules.json").read_text())
    kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
    unsupported = [k for k in kinds if k not in SUPPORTED_MODULES]
    if unsupported:
        raise NotImplementedError(
            f"{folder}: sentence-transformers modules {unsupported} are not supported (supported: "
            f"{', '.join(SUPPORTED_MODULES)}); wrap the model with unireps.models.from_module instead"
        )
    info: dict = {"normalize": "Normalize" in kinds, "transformer_path": folder, "pooling": {}}
    for m, kind in zip(modules, kinds):
        path = folder / m.get("path", "")
        if kind == "Transformer":
            info["transformer_path"] = path
            for cfg_name in ("sentence_bert_config.json", "sentence_xlnet_config.json"):
                if (path / cfg_name).exists():
                    info["st_config"] = json.loads((path / cfg_name).read_text())
        elif kind == "Pooling":
            info["pooling"] = json.loads((path / "config.json").read_text())
    return info


def pooling_mode(cfg: dict) -> str:
    for key, mode in (
        ("pooling_mode_cls_token", "cls"),
        ("pooling_mode_mean_tokens", "mean"),
        ("pooling_mode_max_tokens", "max"),
        ("pooling_mode_mean_sqrt_len_tokens", "mean_sqrt_len"),
        ("pooling_mode_lasttoken", "last"),
    ):
        if cfg.get(key):
            return mode
    if cfg.get("pooling_mode"):
        return {"lasttoken": "last"}.get(cfg["pooling_mode"], cfg["pooling_mode"])
    return "mean"


class SentenceTransformerEncoder(HFEncoder):
    family = "sentence-transformers"
    text_input_keys = ("input_ids", "attention_mask", "token_type_ids")

    def __init__(self, snapshot: Snapshot, **kw):
        st = read_st_folder(snapshot.path)
        self._st = st
        modes = [k for k, v in st["pooling"].items() if k.startswith("pooling_mode_") and v]
        if len(modes) > 1:
            raise NotImplementedError(f"{snapshot.path}: several pooling modes at once ({modes}) are not supported")
        self._pool_mode = pooling_mode(st["pooling"])
        if self._pool_mode not in ("cls", "mean", "max", "mean_sqrt_len", "last"):
            raise NotImplementedError(f"{snapshot.path}: pooling mode {self._pool_mode!r} is not supported")
        cfg = st.get("st_config", {})
        self._lower = bool(cfg.get("do_lower_case", False))
        if kw.get("max_length") is None and cfg.get("max_seq_length"):
            kw["max_length"] = int(cfg["max_seq_length"])
        inner = Snapshot(path=Path(st["transformer_path"]), repo_id=snapshot.repo_id, revision=snapshot.revision)
        super().__init__(inner, **kw)

    def _model_class(self):
        from transformers import AutoModel

        return AutoModel

    def _setup(self):
        n = int(self.config.num_hidden_layers)
        default = self._pool_mode if self._pool_mode in ("cls", "mean", "last") else "mean"
        return {
            "modalities": ("text",),
            "layer_names": {"text": ["embeddings", *block_names(n)]},
            "default_pooling": {"text": default},
            "embedding_dim": int(self.config.hidden_size),
            "embedding_layer": {"text": block_names(n)[-1]},
        }

    def _prepare_texts(self, texts):
        if self._lower:
            texts = [t.lower() for t in texts]
        return super()._prepare_texts(texts)

    def _sentence_embedding(self, last: torch.Tensor, mask: torch.Tensor, info: TokenInfo) -> torch.Tensor:
        mode = self._pool_mode
        if mode in ("cls", "mean", "last"):
            return pool(last, mode, info)
        m = mask.to(last.dtype).unsqueeze(-1)
        if mode == "max":
            return last.masked_fill(m == 0, -1e9).max(dim=1).values
        # mean_sqrt_len
        return (last * m).sum(1) / m.sum(1).clamp(min=1e-9).sqrt()

    def _forward(self, modality, inputs, layers):
        out = self.model(**self._text_model_inputs(inputs), output_hidden_states=True)
        hs = out.hidden_states
        names = self.layer_names["text"] if hasattr(self, "layer_names") else []
        acts = {name: hs[i] for i, name in enumerate(names) if name in layers}
        mask = inputs["attention_mask"]
        info = TokenInfo("text", mask=mask, eos_index=self._last_real_token(mask), fixed_length=False)
        emb = self._sentence_embedding(out.last_hidden_state, mask, info)
        return acts, emb, info


ADAPTER = SentenceTransformerEncoder
