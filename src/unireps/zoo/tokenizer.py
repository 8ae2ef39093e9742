"""The zoo's text tokenizer: a WordPiece vocabulary built offline from the shapes world's own words.

Every caption word of ``unireps.data.shapes`` (templates, shapes, colours, size words, positions,
relations) is one token; single characters and ``##`` continuation characters cover anything
else, so no lower-case ASCII word ever becomes ``[UNK]``. Ids: ``[PAD]`` 0, ``[UNK]`` 1,
``[CLS]`` 2, ``[SEP]`` 3, ``[MASK]`` 4 (so CLIP's legacy "EOS is id 2" rule never applies).
The same tokenizer serves the Hugging Face stand-ins (saved beside them with ``save_pretrained``
and loaded by ``AutoTokenizer``) and the plain torch text encoders.
"""

from __future__ import annotations

import functools
import hashlib
import re
import string

import torch

SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
PAD_ID, UNK_ID, CLS_ID, SEP_ID = 0, 1, 2, 3
MAX_LENGTH = 32  # longest shapes caption (two objects) is 22 tokens with [CLS]/[SEP]


@functools.lru_cache(maxsize=1)
def shapes_vocab() -> tuple[str, ...]:
    """The vocabulary, in id order (deterministic: derived from the shapes module's constants)."""
    from tokenizers.pre_tokenizers import BertPreTokenizer

    from ..data import shapes as S

    texts = [re.sub(r"\{[^}]*\}", " ", t) for t in (*S.ONE, *S.TWO)]
    texts += list(S.SHAPES) + list(S.COLOURS) + [w for ws in S.SIZE_WORDS.values() for w in ws]
    texts += list(S.POSITIONS) + [p.replace(" ", "-") for p in S.POSITIONS]
    texts += list(S.RELATIONS) + list(S.RELATIONS.values()) + ["a", "an", "the", "and", "image"]
    pre = BertPreTokenizer()
    words = sorted({w for t in texts for w, _ in pre.pre_tokenize_str(t.lower())})
    chars = list(string.ascii_lowercase + string.digits) + list(string.punctuation)
    cont = ["##" + c for c in string.ascii_lowercase + string.digits]
    return tuple(dict.fromkeys([*SPECIALS, *chars, *words, *cont]))


def vocab_hash() -> str:
    return hashlib.sha256("\n".join(shapes_vocab()).encode()).hexdigest()[:16]


def make_tokenizer(model_max_length: int = MAX_LENGTH):
    """A ``transformers`` BERT WordPiece tokenizer (fast, ``tokenizers``-backed) over `shapes_vocab`."""
    from transformers import BertTokenizer

    vocab = {tok: i for i, tok in enumerate(shapes_vocab())}
    return BertTokenizer(vocab=vocab, do_lower_case=True, model_max_length=model_max_length)


@functools.lru_cache(maxsize=4)
def _cached_tokenizer(model_max_length: int):
    return make_tokenizer(model_max_length)


def tokenize(texts: list[str], *, padding: str | bool = "longest", max_length: int = MAX_LENGTH,
             token_type_ids: bool = False) -> dict[str, torch.Tensor]:
    """Token ids and attention mask (``(n, T)`` int64 tensors) for a list of captions."""
    tok = _cached_tokenizer(max_length)
    enc = tok(list(texts), padding=padding, truncation=True, max_length=max_length, return_tensors="pt",
              return_attention_mask=True, return_token_type_ids=token_type_ids)
    return {k: v for k, v in enc.items() if isinstance(v, torch.Tensor)}


class TextPreprocess:
    """``preprocess`` for the plain zoo text encoders: list of str -> {input_ids, attention_mask}.

    Padding to the longest text of the batch; the encoders ignore padded positions.
    """

    def __init__(self, max_length: int = MAX_LENGTH):
        self.max_length = int(max_length)

    @property
    def id(self) -> str:
        return f"unireps.zoo.TextPreprocess(vocab={vocab_hash()}, max_length={self.max_length})"

    def __call__(self, texts) -> dict[str, torch.Tensor]:
        return tokenize(list(texts), padding="longest", max_length=self.max_length)
