"""Tiny, randomly initialised models of every supported family, built offline.

For tests and for anyone who needs a model folder that loads through the production path
(``load_model(folder)``) without network access: each builder saves the model with
``save_pretrained`` together with a tokenizer (a small WordPiece vocabulary, or a byte-level
CLIP BPE vocabulary) and an image processor (PIL backend, 32 px).

    from unireps.models.testing import make_tiny_model
    folder = make_tiny_model("clip", tmp_path / "clip")
"""

from __future__ import annotations

from pathlib import Path

import torch

FAMILIES = ("clip", "siglip", "siglip2", "align", "blip", "blip-model", "flava")

_WORDS = (
    "a an the of and in on at to is are was with for from by this that photo picture image "
    "man woman girl boy child baby people person dog cat bird horse car bus train plane boat "
    "red blue green black white yellow small large big two three eating food bread piece "
    "carrying holding sitting standing running walking playing riding water street field table "
    "room grass tree sky snow beach city house"
).split()


def tiny_wordpiece_vocab() -> list[str]:
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    chars = [chr(c) for c in range(ord("a"), ord("z") + 1)] + list("0123456789.,!?'-")
    return specials + chars + ["##" + c for c in chars] + list(dict.fromkeys(_WORDS))


def tiny_bert_tokenizer(model_max_length: int = 64):
    """A BERT WordPiece tokenizer over a ~200-token vocabulary (lower-cased)."""
    from transformers import BertTokenizer

    vocab = {tok: i for i, tok in enumerate(tiny_wordpiece_vocab())}
    return BertTokenizer(vocab=vocab, model_max_length=model_max_length)


def _bytes_to_unicode() -> dict[int, str]:
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def tiny_clip_tokenizer(model_max_length: int = 32):
    """A real ``CLIPTokenizer`` (byte-level BPE, ``</w>`` word ends) with single-byte tokens and a
    few merges; ``<|endoftext|>`` has the highest id, as in OpenAI's vocabulary."""
    from transformers import CLIPTokenizer

    chars = list(_bytes_to_unicode().values())
    vocab_list = chars + [c + "</w>" for c in chars]
    merges = [("t", "h"), ("th", "e</w>"), ("a", "n"), ("o", "n</w>")]
    for a, b in merges:
        vocab_list.append(a + b)
    vocab_list += ["<|startoftext|>", "<|endoftext|>"]
    vocab = {tok: i for i, tok in enumerate(dict.fromkeys(vocab_list))}
    return CLIPTokenizer(vocab=vocab, merges=list(merges), model_max_length=model_max_length)


def _common(n_layers: int = 2) -> dict:
    return dict(hidden_size=32, intermediate_size=37, num_hidden_layers=n_layers, num_attention_heads=4)


def make_tiny_model(family: str, path: str | Path, *, seed: int = 0, image_size: int = 32, n_layers: int = 2) -> Path:
    """Build a tiny random model of ``family`` (one of ``FAMILIES``) and save it, with its tokenizer and
    image processor, to ``path``. Returns ``path``."""
    import transformers as T

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    c = _common(n_layers)
    vis = dict(image_size=image_size, patch_size=8, **c)
    if family == "clip":
        tok = tiny_clip_tokenizer()
        text = dict(vocab_size=len(tok), max_position_embeddings=32, eos_token_id=tok.eos_token_id,
                    bos_token_id=tok.bos_token_id, pad_token_id=tok.pad_token_id, **c)
        model = T.CLIPModel(T.CLIPConfig(text_config=text, vision_config=vis, projection_dim=16))
        ip = T.CLIPImageProcessorPil(size={"shortest_edge": image_size},
                                     crop_size={"height": image_size, "width": image_size})
    elif family in ("siglip", "siglip2"):
        tok = tiny_bert_tokenizer(model_max_length=16)
        text = dict(vocab_size=len(tok), max_position_embeddings=16, pad_token_id=tok.pad_token_id,
                    bos_token_id=tok.cls_token_id, eos_token_id=tok.sep_token_id, **c)
        if family == "siglip":
            model = T.SiglipModel(T.SiglipConfig(text_config=text, vision_config=vis))
            ip = T.SiglipImageProcessorPil(size={"height": image_size, "width": image_size})
        else:
            v2 = dict(num_patches=(image_size // 8) ** 2, patch_size=8, **c)
            model = T.Siglip2Model(T.Siglip2Config(text_config=text, vision_config=v2))
            ip = T.Siglip2ImageProcessorPil(patch_size=8, max_num_patches=(image_size // 8) ** 2)
    elif family == "align":
        tok = tiny_bert_tokenizer()
        text = dict(vocab_size=len(tok), max_position_embeddings=64, pad_token_id=0, **c)
        v = dict(image_size=image_size, width_coefficient=1.0, depth_coefficient=1.0, kernel_sizes=[3, 3],
                 in_channels=[32, 16], out_channels=[16, 32], strides=[1, 2], num_block_repeats=[1, 1],
                 expand_ratios=[1, 2], hidden_dim=32, depthwise_padding=[])
        model = T.AlignModel(T.AlignConfig(text_config=text, vision_config=v, projection_dim=32))
        ip = T.EfficientNetImageProcessorPil(size={"height": image_size, "width": image_size},
                                             crop_size={"height": image_size, "width": image_size})
    elif family in ("blip", "blip-model"):
        tok = tiny_bert_tokenizer()
        text = dict(vocab_size=len(tok), max_position_embeddings=64, pad_token_id=0,
                    bos_token_id=tok.cls_token_id, sep_token_id=tok.sep_token_id, eos_token_id=tok.sep_token_id,
                    encoder_hidden_size=32, **c)
        cfg = T.BlipConfig(text_config=text, vision_config=vis, image_text_hidden_size=16, projection_dim=16)
        model = T.BlipForImageTextRetrieval(cfg) if family == "blip" else T.BlipModel(cfg)
        ip = T.BlipImageProcessorPil(size={"height": image_size, "width": image_size})
    elif family == "flava":
        tok = tiny_bert_tokenizer()
        text = dict(vocab_size=len(tok), max_position_embeddings=64, pad_token_id=0, **c)
        cfg = T.FlavaConfig(image_config=dict(vis, qkv_bias=True), text_config=text, multimodal_config=dict(c),
                            hidden_size=32, projection_dim=16)
        model = T.FlavaModel(cfg)
        ip = T.FlavaImageProcessorPil(size={"height": image_size, "width": image_size},
                                      crop_size={"height": image_size, "width": image_size})
    else:
        raise ValueError(f"unknown family {family!r}; choose from {FAMILIES}")
    model.eval()
    model.save_pretrained(path)
    tok.save_pretrained(path)
    ip.save_pretrained(path)
    return path
