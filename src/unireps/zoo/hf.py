"""Tiny stand-ins for the seed Hugging Face families, built from their own ``transformers`` classes.

Each family object builds a small random model (seeded), its image processor (PIL backend, 32 px)
and the zoo tokenizer, computes the shared-space embeddings exactly as the matching
:mod:`unireps.models.families` adapter does (so a saved stand-in loads through that adapter and
gives the embeddings it was trained and evaluated with), and defines the family's training loss:

=======  ===========================  ==========================================================
family   class                        objective
=======  ===========================  ==========================================================
clip     CLIPModel                    softmax InfoNCE both ways, learned ``logit_scale``
siglip   SiglipModel                  pairwise sigmoid loss, learned ``logit_scale``/``logit_bias``
                                      (initialised at log 10 and -10 as in the SigLIP paper)
align    AlignModel (EfficientNet +   InfoNCE with label smoothing 0.1 (``align_loss``), learned
         BERT)                        ``temperature`` (initialised at 0.07)
blip     BlipForImageTextRetrieval    image-text contrastive (ITC, fixed temperature 0.07) plus
                                      image-text matching (ITM head, in-batch hard negatives)
flava    FlavaModel                   InfoNCE between the unimodal encoders' CLS projections,
                                      learned ``logit_scale`` (the multimodal encoder stays at
                                      its initialisation)
=======  ===========================  ==========================================================

Text inputs follow each adapter: padding to the longest caption (an attention mask), except
SigLIP, which always pads to ``max_position_embeddings`` (24 here) and reads no mask.

Departures from the families' defaults, all stored in the saved configs / processor files: images
are normalised with shapes statistics (`SHAPES_MEAN`, `SHAPES_STD`) rather than ImageNet ones,
BLIP's vision ``initializer_range`` is 0.02 (default 1e-10) and FLAVA's is 0.1 (default 0.02);
without these the tiny models embed every image alike and stall for most of their 200 steps.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .tokenizer import CLS_ID, MAX_LENGTH, PAD_ID, SEP_ID, make_tokenizer, shapes_vocab, tokenize

HF_FAMILIES = ("clip", "siglip", "align", "blip", "flava")
# Normalisation fitted to shapes images (mostly black; per-channel mean ~0.016, std ~0.1 in [0, 1]):
# with a family's ImageNet statistics every image maps to nearly the same input and training stalls.
SHAPES_MEAN, SHAPES_STD = [0.02, 0.02, 0.02], [0.1, 0.1, 0.1]
_NORM = dict(image_mean=SHAPES_MEAN, image_std=SHAPES_STD)
SIGLIP_TEXT_LENGTH = 24  # longest shapes caption: 22 tokens


def _pooled(out: Any) -> torch.Tensor:
    if isinstance(out, torch.Tensor):
        return out
    return out.pooler_output


def _infonce(img: torch.Tensor, txt: torch.Tensor, scale: torch.Tensor, smoothing: float = 0.0) -> torch.Tensor:
    logits = scale * img @ txt.T
    labels = torch.arange(len(img), device=img.device)
    return (F.cross_entropy(logits, labels, label_smoothing=smoothing)
            + F.cross_entropy(logits.T, labels, label_smoothing=smoothing)) / 2


def _sigmoid(img: torch.Tensor, txt: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    logits = scale * img @ txt.T + bias
    labels = 2 * torch.eye(len(img), device=img.device) - 1
    return -F.logsigmoid(labels * logits).sum() / len(img)


class HFFamily:
    """One family: build, preprocess, embed and loss. ``size`` keys: hidden, layers, heads, mlp, proj, patch."""

    name = ""
    model_class = ""
    text_padding = "longest"
    token_type_ids = False

    def __init__(self, size: dict[str, int]):
        self.size = dict(size)
        self.tokenizer = make_tokenizer(self.text_length)
        self.image_processor = self._image_processor()

    # ------------------------------------------------------------------ construction
    def _common(self) -> dict[str, Any]:
        s = self.size
        return dict(hidden_size=s["hidden"], intermediate_size=s["mlp"], num_hidden_layers=s["layers"],
                    num_attention_heads=s["heads"])

    def _vision(self) -> dict[str, Any]:
        return dict(image_size=32, patch_size=self.size["patch"], **self._common())

    def _text(self) -> dict[str, Any]:
        return dict(vocab_size=len(shapes_vocab()), max_position_embeddings=MAX_LENGTH, pad_token_id=PAD_ID,
                    **self._common())

    def config(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def _image_processor(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def build(self, seed: int):
        """A freshly initialised model (``torch.manual_seed(seed)`` first), in train mode."""
        import transformers

        torch.manual_seed(int(seed))
        model = getattr(transformers, self.model_class)(self.config())
        self._post_init(model)
        return model.train()

    def _post_init(self, model) -> None:
        pass

    def save(self, model, folder) -> None:
        model.save_pretrained(folder, safe_serialization=True)
        self.tokenizer.save_pretrained(folder)
        self.image_processor.save_pretrained(folder)

    def describe(self, model) -> dict[str, Any]:
        cfg = model.config.to_dict()
        keep = ("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "patch_size",
                "image_size", "vocab_size", "max_position_embeddings", "width_coefficient", "depth_coefficient",
                "out_channels", "strides", "num_block_repeats", "expand_ratios", "kernel_sizes")
        sub = {}
        for key in ("vision_config", "image_config", "text_config", "multimodal_config"):
            if isinstance(cfg.get(key), dict):
                sub[key] = {k: v for k, v in cfg[key].items() if k in keep}
        return {"transformers_class": self.model_class, "model_type": cfg.get("model_type"), **sub,
                "projection_dim": cfg.get("projection_dim", cfg.get("image_text_hidden_size")),
                "tokenizer": "zoo WordPiece (shapes vocabulary)",
                "image_processor": type(self.image_processor).__name__}

    # ------------------------------------------------------------------ inputs
    def pixels(self, images: np.ndarray) -> torch.Tensor:
        out = self.image_processor(images=list(images), return_tensors="pt", input_data_format="channels_last")
        return out["pixel_values"].float()

    text_length = MAX_LENGTH

    def texts(self, captions: list[str]) -> dict[str, torch.Tensor]:
        pad = "max_length" if self.text_padding == "max_length" else "longest"
        return tokenize(captions, padding=pad, max_length=self.text_length, token_type_ids=self.token_type_ids)

    # ------------------------------------------------------------------ embeddings (raw, as the adapters)
    def embed_images(self, model, pixel_values: torch.Tensor) -> torch.Tensor:
        return _pooled(model.get_image_features(pixel_values=pixel_values))

    def embed_texts(self, model, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return _pooled(model.get_text_features(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"]))

    def loss(self, model, pixel_values, inputs, keys) -> torch.Tensor:
        img = F.normalize(self.embed_images(model, pixel_values), dim=-1)
        txt = F.normalize(self.embed_texts(model, inputs), dim=-1)
        return self._contrastive(model, img, txt)

    def _contrastive(self, model, img, txt) -> torch.Tensor:
        return _infonce(img, txt, model.logit_scale.exp().clamp(max=100))

    def adapter_layers(self, model) -> dict[str, list[str]]:
        return {}


class CLIPFamily(HFFamily):
    name, model_class = "clip", "CLIPModel"

    def config(self):
        from transformers import CLIPConfig

        text = dict(self._text(), bos_token_id=CLS_ID, eos_token_id=SEP_ID)
        return CLIPConfig(text_config=text, vision_config=self._vision(), projection_dim=self.size["proj"])

    def _image_processor(self):
        from transformers import CLIPImageProcessorPil

        return CLIPImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}, **_NORM)


class SiglipFamily(HFFamily):
    name, model_class = "siglip", "SiglipModel"
    text_padding = "max_length"
    text_length = SIGLIP_TEXT_LENGTH

    def config(self):
        from transformers import SiglipConfig

        # the text tower reads a fixed window (no mask): 24 positions hold every shapes caption
        text = dict(self._text(), projection_size=self.size["proj"], bos_token_id=CLS_ID, eos_token_id=SEP_ID,
                    max_position_embeddings=SIGLIP_TEXT_LENGTH)
        return SiglipConfig(text_config=text, vision_config=self._vision())

    def _post_init(self, model) -> None:
        with torch.no_grad():
            model.logit_scale.fill_(math.log(10.0))
            model.logit_bias.fill_(-10.0)

    def _image_processor(self):
        from transformers import SiglipImageProcessorPil

        return SiglipImageProcessorPil(size={"height": 32, "width": 32}, **_NORM)

    def embed_texts(self, model, inputs):
        return _pooled(model.get_text_features(input_ids=inputs["input_ids"]))

    def _contrastive(self, model, img, txt):
        return _sigmoid(img, txt, model.logit_scale.exp(), model.logit_bias)


class AlignFamily(HFFamily):
    name, model_class = "align", "AlignModel"
    token_type_ids = True

    def config(self):
        from transformers import AlignConfig

        w = self.size["hidden"]
        text = dict(self._text(), hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
        # stem (stride 2) -> three MBConv blocks with squeeze-excitation: 16x16 -> 8x8 -> 4x4 -> 4x4
        vision = dict(image_size=32, width_coefficient=1.0, depth_coefficient=1.0, depth_divisor=8,
                      kernel_sizes=[3, 3, 3], in_channels=[32, 16, 32], out_channels=[16, 32, w],
                      strides=[2, 2, 1], num_block_repeats=[1, 1, 1], expand_ratios=[1, 2, 2],
                      hidden_dim=w, drop_connect_rate=0.0, depthwise_padding=[])
        return AlignConfig(text_config=text, vision_config=vision, projection_dim=w, temperature_init_value=0.07)

    def _image_processor(self):
        from transformers import EfficientNetImageProcessorPil

        return EfficientNetImageProcessorPil(size={"height": 32, "width": 32}, crop_size={"height": 32, "width": 32},
                                             include_top=False, **_NORM)

    def embed_texts(self, model, inputs):
        kw = {k: inputs[k] for k in ("input_ids", "attention_mask", "token_type_ids") if k in inputs}
        return _pooled(model.get_text_features(**kw))

    def _contrastive(self, model, img, txt):
        return _infonce(img, txt, 1.0 / model.temperature.clamp(min=0.01), smoothing=0.1)


class BlipFamily(HFFamily):
    name, model_class = "blip", "BlipForImageTextRetrieval"
    itc_temperature = 0.07
    itm_pairs = 16  # queries per batch that get ITM positives and hard negatives

    def config(self):
        from transformers import BlipConfig

        text = dict(self._text(), bos_token_id=CLS_ID, sep_token_id=SEP_ID, eos_token_id=SEP_ID,
                    encoder_hidden_size=self.size["hidden"], hidden_dropout_prob=0.0,
                    attention_probs_dropout_prob=0.0)
        # BlipVisionConfig's initializer_range is 1e-10 (fine-tuning default): every image would embed alike
        vision = dict(self._vision(), initializer_range=0.02)
        return BlipConfig(text_config=text, vision_config=vision, image_text_hidden_size=self.size["proj"],
                          projection_dim=self.size["proj"])

    def _image_processor(self):
        from transformers import BlipImageProcessorPil

        return BlipImageProcessorPil(size={"height": 32, "width": 32}, **_NORM)

    def embed_images(self, model, pixel_values):
        return model.vision_proj(model.vision_model(pixel_values=pixel_values).last_hidden_state[:, 0, :])

    def embed_texts(self, model, inputs):
        out = model.text_encoder(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"])
        return model.text_proj(out.last_hidden_state[:, 0, :])

    def loss(self, model, pixel_values, inputs, keys):
        tokens = model.vision_model(pixel_values=pixel_values).last_hidden_state
        img = F.normalize(model.vision_proj(tokens[:, 0, :]), dim=-1)
        txt = F.normalize(self.embed_texts(model, inputs), dim=-1)
        itc = _infonce(img, txt, torch.tensor(1.0 / self.itc_temperature))
        # ITM: positives, and for each image (text) the most similar text (image) of another scene
        m = min(self.itm_pairs, len(img))
        with torch.no_grad():
            sim = (img @ txt.T).masked_fill(keys[:, None] == keys[None, :], -1e4)
            neg_txt = sim[:m].argmax(1)
            neg_img = sim[:, :m].argmax(0)
        idx = torch.arange(m)
        img_idx, txt_idx = torch.cat([idx, idx, neg_img]), torch.cat([idx, neg_txt, idx])
        labels = torch.cat([torch.ones(m), torch.zeros(2 * m)]).long()
        enc = tokens[img_idx]
        out = model.text_encoder(
            input_ids=inputs["input_ids"][txt_idx], attention_mask=inputs["attention_mask"][txt_idx],
            encoder_hidden_states=enc, encoder_attention_mask=torch.ones(enc.shape[:2], dtype=torch.long),
        )
        itm = F.cross_entropy(model.itm_head(out.last_hidden_state[:, 0, :]), labels)
        return itc + itm


class FlavaFamily(HFFamily):
    name, model_class = "flava", "FlavaModel"
    token_type_ids = True

    def config(self):
        from transformers import FlavaConfig

        h = self.size["hidden"]
        # initializer_range 0.1 (default 0.02): at 0.02 the tiny model's CLS tokens start out the same for
        # every input and contrastive training stalls for most of the step budget
        nodrop = dict(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, initializer_range=0.1)
        image = dict(self._vision(), qkv_bias=True, **nodrop)
        text = dict(self._text(), **nodrop)
        mm = dict(self._common(), num_hidden_layers=1)
        return FlavaConfig(image_config=image, text_config=text, multimodal_config=mm, hidden_size=h,
                           projection_dim=self.size["proj"], init_codebook=False)

    def _image_processor(self):
        from transformers import FlavaImageProcessorPil

        return FlavaImageProcessorPil(size={"height": 32, "width": 32}, crop_size={"height": 32, "width": 32}, **_NORM)

    def embed_images(self, model, pixel_values):
        return model.image_projection(model.image_model(pixel_values=pixel_values).last_hidden_state[:, 0, :])

    def embed_texts(self, model, inputs):
        kw = {k: inputs[k] for k in ("input_ids", "attention_mask", "token_type_ids") if k in inputs}
        return model.text_projection(model.text_model(**kw).last_hidden_state[:, 0, :])


FAMILIES: dict[str, type[HFFamily]] = {
    "clip": CLIPFamily, "siglip": SiglipFamily, "align": AlignFamily, "blip": BlipFamily, "flava": FlavaFamily,
}


def family(name: str, size: dict[str, int]) -> HFFamily:
    return FAMILIES[name](size)
