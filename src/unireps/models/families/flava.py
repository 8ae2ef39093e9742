"""FLAVA (``FlavaModel``: facebook/flava-full) — its unimodal image and text encoders.

In transformers 5.x ``FlavaModel.get_image_features``/``get_text_features`` return the
projection of *every* token (``pooler_output`` of shape (n, T, p)); FLAVA's contrastive space
uses the CLS token of it, which is what this adapter returns.

===================  =====================================================================
shared embedding     ``image_projection`` / ``text_projection`` of the CLS token of the
                     unimodal encoder's ``last_hidden_state`` (after its final ``layernorm``);
                     L2-normalised by ``encode_*`` unless ``normalize=False``
image layers         ``embeddings`` (CLS + patches), ``block.*`` (pre final LayerNorm: FLAVA's
                     encoders are pre-LN), ``final_norm`` (``layernorm`` = ``last_hidden_state``),
                     ``projection``
text layers          same names as image
default pooling      image: ``cls``; text: ``cls``
text padding         longest in the batch, attention mask respected
===================  =====================================================================
"""

from __future__ import annotations

from ..pooling import TokenInfo
from ._hf import HFEncoder, block_names


class FlavaEncoder(HFEncoder):
    family = "flava"
    required_weights = ("image_projection", "text_projection")
    text_input_keys = ("input_ids", "attention_mask", "token_type_ids")

    def _model_class(self):
        from transformers import FlavaModel

        return FlavaModel

    def _setup(self):
        m = self.model
        v, t = m.image_model, m.text_model
        nv, nt = len(v.encoder.layer), len(t.encoder.layer)
        self._hooks = {
            "image": [("embeddings", v.embeddings)]
            + list(zip(block_names(nv), v.encoder.layer))
            + [("final_norm", v.layernorm)],
            "text": [("embeddings", t.embeddings)]
            + list(zip(block_names(nt), t.encoder.layer))
            + [("final_norm", t.layernorm)],
        }
        return {
            "modalities": ("image", "text"),
            "layer_names": {
                "image": ["embeddings", *block_names(nv), "final_norm", "projection"],
                "text": ["embeddings", *block_names(nt), "final_norm", "projection"],
            },
            "default_pooling": {"image": "cls", "text": "cls"},
            "embedding_dim": int(m.text_projection.out_features),
            "embedding_layer": {"image": "projection", "text": "projection"},
        }

    def _forward(self, modality, inputs, layers):
        m = self.model
        if modality == "image":
            out = m.image_model(pixel_values=inputs["pixel_values"])
            emb = m.image_projection(out.last_hidden_state[:, 0, :])
            return {"projection": emb}, emb, TokenInfo("image", num_prefix_tokens=1, fixed_length=True)
        out = m.text_model(**self._text_model_inputs(inputs))
        emb = m.text_projection(out.last_hidden_state[:, 0, :])
        mask = inputs["attention_mask"]
        info = TokenInfo("text", mask=mask, eos_index=self._last_real_token(mask), fixed_length=False)
        return {"projection": emb}, emb, info


ADAPTER = FlavaEncoder
