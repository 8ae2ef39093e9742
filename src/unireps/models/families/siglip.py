"""SigLIP and SigLIP 2 (``SiglipModel`` / ``Siglip2Model``: google/siglip-*, google/siglip2-*).

===================  =====================================================================
shared embedding     ``get_image_features`` / ``get_text_features`` (``pooler_output`` in
                     transformers 5.x): vision = attention-pooling head (MAP) over the
                     post-LayerNorm patch tokens; text = ``head`` (Linear) of the final-LN last
                     token. L2-normalised by ``encode_*`` unless ``normalize=False``
image layers         ``embeddings`` (patch + position embeddings; no CLS token), ``block.*``
                     (residual stream, pre final LayerNorm), ``final_norm`` (``post_layernorm``
                     output = ``last_hidden_state``), ``head`` ((n, p), the raw shared embedding;
                     absent when the checkpoint has no vision head)
text layers          ``embeddings``, ``block.*``, ``final_norm`` (``last_hidden_state``),
                     ``projection`` (the text ``head``, raw shared embedding)
default pooling      image: ``mean`` of the patch tokens (SigLIP has no CLS; for SigLIP 2 only
                     the valid patches of ``pixel_attention_mask`` count); text: ``last``
text padding         always ``max_length`` (64 for the released checkpoints), as SigLIP was
                     trained; the model attends to the pad tokens, exactly as in training, so
                     ``last`` is the final position of that fixed window (what SigLIP's head
                     reads) and a text's vector never depends on its batch. ``mean`` averages
                     the real tokens only (tokenizer attention mask); ``flatten`` is allowed
===================  =====================================================================
"""

from __future__ import annotations

import torch

from ..pooling import TokenInfo
from ._hf import HFEncoder, block_names, embedding_tensor


class SiglipEncoder(HFEncoder):
    family = "siglip"
    text_padding = "max_length"
    text_input_keys = ("input_ids",)  # SigLIP was trained without an attention mask

    def _model_class(self):
        import transformers

        self._v2 = getattr(self.config, "model_type", "siglip") == "siglip2"
        return transformers.Siglip2Model if self._v2 else transformers.SiglipModel

    @property
    def text_max_length(self) -> int:
        if self._max_length_override:
            return int(self._max_length_override)
        return int(self.config.text_config.max_position_embeddings)

    def _setup(self):
        if self._v2:
            self.family = "siglip2"
        m = self.model
        v, t = m.vision_model, m.text_model
        nv, nt = len(v.encoder.layers), len(t.encoder.layers)
        self._has_head = bool(getattr(v, "use_head", True)) and hasattr(v, "head")
        self._hooks = {
            "image": [("embeddings", v.embeddings)]
            + list(zip(block_names(nv), v.encoder.layers))
            + [("final_norm", v.post_layernorm)],
            "text": [("embeddings", t.embeddings)]
            + list(zip(block_names(nt), t.encoder.layers))
            + [("final_norm", t.final_layer_norm)],
        }
        image_layers = ["embeddings", *block_names(nv), "final_norm"] + (["head"] if self._has_head else [])
        return {
            "modalities": ("image", "text"),
            "layer_names": {
                "image": image_layers,
                "text": ["embeddings", *block_names(nt), "final_norm", "projection"],
            },
            "default_pooling": {"image": "mean", "text": "last"},
            "embedding_dim": int(t.head.out_features),
            "embedding_layer": {"image": "head" if self._has_head else "final_norm", "text": "projection"},
        }

    def _forward(self, modality, inputs, layers):
        m = self.model
        if modality == "image":
            kw = {k: v for k, v in inputs.items() if k in ("pixel_values", "pixel_attention_mask", "spatial_shapes")}
            out = m.get_image_features(**kw)
            patch_mask = kw.get("pixel_attention_mask")
            info = TokenInfo("image", num_prefix_tokens=0, fixed_length=True, patch_mask=patch_mask)
            if self._has_head:
                emb = embedding_tensor(out)
                return {"head": emb}, emb, info
            # no vision head: the shared embedding is the mean of the final-LN patch tokens
            from ..pooling import pool

            emb = pool(out.last_hidden_state, "spatial_mean", info)
            return {}, emb, info
        ids = inputs["input_ids"]
        out = m.get_text_features(input_ids=ids)
        emb = embedding_tensor(out)
        mask = inputs.get("attention_mask")
        last = torch.full((ids.shape[0],), ids.shape[1] - 1, dtype=torch.long, device=ids.device)
        eos = self._last_real_token(mask) if mask is not None else last
        info = TokenInfo("text", mask=mask, eos_index=eos, last_index=last, fixed_length=True)
        return {"projection": emb}, emb, info


ADAPTER = SiglipEncoder
