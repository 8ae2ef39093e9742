"""ALIGN (``AlignModel``: kakaobrain/align-base): EfficientNet image tower, BERT text tower.

===================  =====================================================================
shared embedding     image: ``get_image_features`` = the vision tower's ``pooler_output``
                     (average pool of the last EfficientNet block; ALIGN has no image
                     projection); text: ``get_text_features`` = ``text_projection`` of the
                     final-layer CLS token. L2-normalised by ``encode_*`` unless ``normalize=False``
image layers         ``embeddings`` (stem conv, (n, C, H, W)), ``block.0`` .. ``block.{K-1}``
                     (every EfficientNet MBConv block, feature maps), ``pooler`` ((n, p), the raw
                     shared embedding)
text layers          ``embeddings``, ``block.*`` (BERT is post-LN: ``block.{L-1}`` equals
                     ``last_hidden_state``; there is no separate final norm), ``projection``
default pooling      image: ``spatial_mean`` over H x W; text: ``cls``
text padding         longest in the batch; the attention mask keeps padding out of real tokens
                     and out of ``mean``
===================  =====================================================================
"""

from __future__ import annotations

from ..pooling import TokenInfo
from ._hf import HFEncoder, block_names, embedding_tensor


class AlignEncoder(HFEncoder):
    family = "align"
    required_weights = ("text_projection",)
    text_input_keys = ("input_ids", "attention_mask", "token_type_ids")

    def _model_class(self):
        from transformers import AlignModel

        return AlignModel

    def _setup(self):
        m = self.model
        v, t = m.vision_model, m.text_model
        nv, nt = len(v.encoder.blocks), len(t.encoder.layer)
        self._hooks = {
            "image": [("embeddings", v.embeddings)] + list(zip(block_names(nv), v.encoder.blocks)),
            "text": [("embeddings", t.embeddings)] + list(zip(block_names(nt), t.encoder.layer)),
        }
        return {
            "modalities": ("image", "text"),
            "layer_names": {
                "image": ["embeddings", *block_names(nv), "pooler"],
                "text": ["embeddings", *block_names(nt), "projection"],
            },
            "default_pooling": {"image": "spatial_mean", "text": "cls"},
            "embedding_dim": int(m.text_projection.out_features),
            "embedding_layer": {"image": "pooler", "text": "projection"},
        }

    def _forward(self, modality, inputs, layers):
        m = self.model
        if modality == "image":
            emb = embedding_tensor(m.get_image_features(pixel_values=inputs["pixel_values"]))
            return {"pooler": emb}, emb, TokenInfo("image", num_prefix_tokens=0, fixed_length=True)
        kw = self._text_model_inputs(inputs)
        emb = embedding_tensor(m.get_text_features(**kw))
        mask = inputs["attention_mask"]
        info = TokenInfo("text", mask=mask, eos_index=self._last_real_token(mask), fixed_length=False)
        return {"projection": emb}, emb, info


ADAPTER = AlignEncoder
