"""BLIP (Salesforce/blip-itm-*), loaded as ``BlipForImageTextRetrieval``.

``BlipModel`` would leave the ITC projections of the retrieval checkpoints random (they are
stored as ``vision_proj``/``text_proj``), so a folder whose ``architectures`` is
``BlipForImageTextRetrieval`` (or none) loads through that class; a folder saved from
``BlipModel`` loads as ``BlipModel`` and uses its ``visual_projection``/``text_projection``.
Missing projection weights are an error, never silently random.

===================  =====================================================================
shared embedding     the image-text contrastive (ITC) space: ``vision_proj`` of the vision
                     CLS token of ``last_hidden_state`` (after ``post_layernorm``) and
                     ``text_proj`` of the unimodal text encoder's CLS token (no cross-attention);
                     L2-normalised by ``encode_*`` unless ``normalize=False``
image layers         ``embeddings``, ``block.*`` (pre final LayerNorm), ``final_norm``
                     (``post_layernorm`` token-wise = ``last_hidden_state``), ``projection``
text layers          ``embeddings``, ``block.*`` (BERT-style, post-LN: the last block is
                     ``last_hidden_state``), ``projection``
default pooling      image: ``cls``; text: ``cls``
text padding         longest in the batch, attention mask respected
===================  =====================================================================
"""

from __future__ import annotations

from ..pooling import TokenInfo
from ._hf import HFEncoder, block_names, embedding_tensor


class BlipEncoder(HFEncoder):
    family = "blip"

    def _model_class(self):
        import transformers

        archs = getattr(self.config, "architectures", None) or ["BlipForImageTextRetrieval"]
        self._itr = archs[0] != "BlipModel"
        if self._itr:
            self.required_weights = ("vision_proj", "text_proj")
            return transformers.BlipForImageTextRetrieval
        self.required_weights = ("visual_projection", "text_projection")
        return transformers.BlipModel

    def _setup(self):
        m = self.model
        v = m.vision_model
        t = m.text_encoder if self._itr else m.text_model
        self._text = t
        nv, nt = len(v.encoder.layers), len(t.encoder.layer)
        self._hooks = {
            # post_layernorm runs twice per forward (all tokens, then the pooled CLS): the capture
            # keeps the first, token-wise call.
            "image": [("embeddings", v.embeddings)]
            + list(zip(block_names(nv), v.encoder.layers))
            + [("final_norm", v.post_layernorm)],
            "text": [("embeddings", t.embeddings)] + list(zip(block_names(nt), t.encoder.layer)),
        }
        proj = m.text_proj if self._itr else m.text_projection
        return {
            "modalities": ("image", "text"),
            "layer_names": {
                "image": ["embeddings", *block_names(nv), "final_norm", "projection"],
                "text": ["embeddings", *block_names(nt), "projection"],
            },
            "default_pooling": {"image": "cls", "text": "cls"},
            "embedding_dim": int(proj.out_features),
            "embedding_layer": {"image": "projection", "text": "projection"},
        }

    def _forward(self, modality, inputs, layers):
        m = self.model
        if modality == "image":
            if self._itr:
                out = m.vision_model(pixel_values=inputs["pixel_values"])
                emb = m.vision_proj(out.last_hidden_state[:, 0, :])
            else:
                emb = embedding_tensor(m.get_image_features(pixel_values=inputs["pixel_values"]))
            return {"projection": emb}, emb, TokenInfo("image", num_prefix_tokens=1, fixed_length=True)
        ids, mask = inputs["input_ids"], inputs["attention_mask"]
        if self._itr:
            out = self._text(input_ids=ids, attention_mask=mask)
            emb = m.text_proj(out.last_hidden_state[:, 0, :])
        else:
            emb = embedding_tensor(m.get_text_features(input_ids=ids, attention_mask=mask))
        info = TokenInfo("text", mask=mask, eos_index=self._last_real_token(mask), fixed_length=False)
        return {"projection": emb}, emb, info


ADAPTER = BlipEncoder
