"""CLIP (``CLIPModel``: openai/clip-vit-*, and any ``model_type: clip`` folder).

===================  =====================================================================
shared embedding     ``get_image_features`` / ``get_text_features`` (a tensor in transformers
                     4.x, ``pooler_output`` of a ``BaseModelOutputWithPooling`` in 5.x): the
                     projection of vision ``post_layernorm(CLS)`` / text ``final_layer_norm``
                     at the EOS token; L2-normalised by ``encode_*`` unless ``normalize=False``
image layers         ``embeddings`` (patch + position embeddings after ``pre_layrnorm``, the
                     encoder's input), ``block.0`` .. ``block.{L-1}`` (residual stream after
                     each encoder layer: ``hidden_states[1:]``; the last one precedes the final
                     LayerNorm), ``final_norm`` (``post_layernorm`` applied token-wise: CLS of it
                     is the model's pooled output, i.e. ``last_hidden_state`` post-LN),
                     ``projection`` ((n, p), the raw shared embedding)
text layers          ``embeddings``, ``block.*`` (pre final LayerNorm), ``final_norm``
                     (``last_hidden_state``, after ``final_layer_norm``), ``projection``
default pooling      image: ``cls``; text: ``eos`` (position of the EOS token exactly as
                     ``CLIPTextTransformer`` finds it: ``argmax(input_ids)`` when the config's
                     ``eos_token_id`` is the legacy 2, else the first ``eos_token_id``)
text padding         longest in the batch; causal attention, so padding never changes real tokens
===================  =====================================================================
"""

from __future__ import annotations

import torch

from ..pooling import TokenInfo
from ._hf import HFEncoder, block_names, embedding_tensor


class CLIPEncoder(HFEncoder):
    family = "clip"
    required_weights = ("visual_projection", "text_projection")

    def _model_class(self):
        from transformers import CLIPModel

        return CLIPModel

    def _setup(self):
        m = self.model
        v, t = m.vision_model, m.text_model
        nv, nt = len(v.encoder.layers), len(t.encoder.layers)
        self._hooks = {
            "image": [("embeddings", v.pre_layrnorm)]
            + list(zip(block_names(nv), v.encoder.layers)),
            "text": [("embeddings", t.embeddings)]
            + list(zip(block_names(nt), t.encoder.layers))
            + [("final_norm", t.final_layer_norm)],
        }
        return {
            "modalities": ("image", "text"),
            "layer_names": {
                "image": ["embeddings", *block_names(nv), "final_norm", "projection"],
                "text": ["embeddings", *block_names(nt), "final_norm", "projection"],
            },
            "default_pooling": {"image": "cls", "text": "eos"},
            "embedding_dim": int(self.config.projection_dim),
            "embedding_layer": {"image": "projection", "text": "projection"},
        }

    def _eos_index(self, input_ids: torch.Tensor) -> torch.Tensor:
        eos = self.model.text_model.eos_token_id
        if eos == 2:  # legacy configs: the EOS token has the highest id
            return input_ids.to(torch.int).argmax(dim=-1)
        return (input_ids == eos).int().argmax(dim=-1)

    def _forward(self, modality, inputs, layers):
        m = self.model
        acts = {}
        if modality == "image":
            out = m.get_image_features(pixel_values=inputs["pixel_values"])
            emb = embedding_tensor(out)
            if "final_norm" in layers:
                last = out.last_hidden_state if hasattr(out, "last_hidden_state") else None
                if last is None:  # transformers 4.x returns a bare tensor: rerun the tower
                    last = m.vision_model(pixel_values=inputs["pixel_values"]).last_hidden_state
                acts["final_norm"] = m.vision_model.post_layernorm(last)
            acts["projection"] = emb
            return acts, emb, TokenInfo("image", num_prefix_tokens=1, fixed_length=True)
        ids, mask = inputs["input_ids"], inputs["attention_mask"]
        out = m.get_text_features(input_ids=ids, attention_mask=mask)
        emb = embedding_tensor(out)
        acts["projection"] = emb
        info = TokenInfo("text", mask=mask, eos_index=self._eos_index(ids), fixed_length=False)
        return acts, emb, info


ADAPTER = CLIPEncoder
