"""Moved to :mod:`unireps.zoo.digits` (the digits toy kit lives in the zoo); this name keeps old imports working."""

from ..zoo.digits import *  # noqa: F401,F403
from ..zoo.digits import (  # noqa: F401  # noqa: F401
    DigitsSplit,
    digits_cnn,
    digits_mlp,
    digits_split,
    evaluate,
    make_digits_model,
    predict_logits,
    train_classifier,
    trained_digits_model,
)
