"""EfficientNet-Lite0/1/2 (Tan & Le 2019; the "Lite" variants of the TensorFlow TPU repository, 2020) in plain torch.

EfficientNet-Lite is EfficientNet-B0's inverted-residual (MBConv) network with three changes for mobile
accelerators: no squeeze-and-excitation, ReLU6 instead of swish, and the stem (32 channels) and head (1280
channels) kept fixed when the network is scaled, as are the repeats of the first and the last stage.

======== ============ ============ ========== ==============
variant  width mult.  depth mult.  input (px)  blocks
======== ============ ============ ========== ==============
lite0    1.0          1.0          224        16
lite1    1.0          1.1          240        21
lite2    1.1          1.2          260        21
======== ============ ============ ========== ==============

The seven stages of B0 (expand ratio, kernel, stride, output channels, repeats)::

    (1, 3, 1, 16, 1) (6, 3, 2, 24, 2) (6, 5, 2, 40, 2) (6, 3, 2, 80, 3)
    (6, 5, 1, 112, 3) (6, 5, 2, 192, 4) (6, 3, 1, 320, 1)

Channels are scaled by the width multiplier and rounded to a multiple of 8 (never more than 10 % down);
repeats of the middle stages are scaled by the depth multiplier and rounded up. Convolutions pad like
TensorFlow's ``"SAME"`` (total padding ``max((ceil(n/s) - 1) s + k - n, 0)``, the extra pixel at the bottom
and right), which the ImageNet checkpoints were trained with; batch norm has eps 1e-3 (TensorFlow's value).

The attribute names follow the checkpoints' state dicts (``_conv_stem``, ``_bn0``, ``_blocks.N._expand_conv``,
``_depthwise_conv``, ``_project_conv``, ``_bn0/1/2``, ``_conv_head``, ``_bn1``, ``_fc``), so that
``load_state_dict(strict=True)`` uses every key.

Reference: Tan M., Le Q. V. (2019). EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks.
ICML. EfficientNet-Lite: github.com/tensorflow/tpu, models/official/efficientnet/lite/README.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

#: (expand ratio, kernel, stride, output channels, repeats) of EfficientNet-B0's seven stages
B0_STAGES: tuple[tuple[int, int, int, int, int], ...] = (
    (1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
    (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1),
)
BN_EPS = 1e-3
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280


@dataclass(frozen=True)
class LiteConfig:
    """Scaling of one EfficientNet-Lite variant."""

    width: float
    depth: float
    resolution: int
    num_classes: int = 1000


LITE_CONFIGS: dict[str, LiteConfig] = {
    "efficientnet-lite0": LiteConfig(1.0, 1.0, 224),
    "efficientnet-lite1": LiteConfig(1.0, 1.1, 240),
    "efficientnet-lite2": LiteConfig(1.1, 1.2, 260),
}


def round_channels(channels: int, width: float, divisor: int = 8) -> int:
    """``channels * width`` to the nearest multiple of ``divisor``, never more than 10 % below it.

    >>> round_channels(40, 1.1), round_channels(320, 1.1), round_channels(16, 1.1)
    (48, 352, 16)
    """
    scaled = channels * width
    out = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    return out + divisor if out < 0.9 * scaled else out


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """(before, after) padding of TensorFlow's ``"SAME"`` for one spatial dimension.

    >>> same_padding(224, 3, 2), same_padding(7, 5, 1)
    ((0, 1), (2, 2))
    """
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class SameConv2d(nn.Conv2d):
    """A bias-free ``Conv2d`` that pads its input like TensorFlow's ``"SAME"`` (from the input's size).

    At stride 1 with an odd kernel that is (k - 1) / 2 zeros on every side whatever the size: the convolution pads
    by itself (no padded copy of the input); at stride 2 the padding depends on the size and may be one larger
    after than before, so the input is padded first.
    """

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1):
        symmetric = stride == 1 and kernel % 2 == 1
        super().__init__(cin, cout, kernel, stride=stride, padding=(kernel - 1) // 2 if symmetric else 0,
                         groups=groups, bias=False)
        self.symmetric = symmetric

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.symmetric:
            return super().forward(x)
        k, s = self.kernel_size[0], self.stride[0]
        top, bottom = same_padding(x.shape[-2], k, s)
        left, right = same_padding(x.shape[-1], k, s)
        if top or bottom or left or right:
            x = F.pad(x, (left, right, top, bottom))
        return super().forward(x)


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=0.01)


class MBConv(nn.Module):
    """Inverted residual without squeeze-excitation: [1x1 expand, BN, ReLU6], depthwise kxk, BN, ReLU6,
    1x1 project, BN; plus the input when the stride is 1 and the channels are unchanged."""

    def __init__(self, cin: int, cout: int, expand: int, kernel: int, stride: int):
        super().__init__()
        mid = cin * expand
        if expand != 1:
            self._expand_conv = SameConv2d(cin, mid, 1)
            self._bn0 = _bn(mid)
        self._depthwise_conv = SameConv2d(mid, mid, kernel, stride, groups=mid)
        self._bn1 = _bn(mid)
        self._project_conv = SameConv2d(mid, cout, 1)
        self._bn2 = _bn(cout)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        if hasattr(self, "_expand_conv"):  # the ReLU6s act in place on the fresh batch-norm outputs
            h = F.relu6(self._bn0(self._expand_conv(h)), inplace=True)
        h = F.relu6(self._bn1(self._depthwise_conv(h)), inplace=True)
        h = self._bn2(self._project_conv(h))
        return h + x if self.residual else h


def block_specs(cfg: LiteConfig) -> list[tuple[int, int, int, int, int]]:
    """(in channels, out channels, expand, kernel, stride) of every block, input to output.

    >>> len(block_specs(LITE_CONFIGS["efficientnet-lite0"])), len(block_specs(LITE_CONFIGS["efficientnet-lite2"]))
    (16, 21)
    """
    specs, cin = [], STEM_CHANNELS
    last = len(B0_STAGES) - 1
    for i, (expand, kernel, stride, cout, repeats) in enumerate(B0_STAGES):
        cout = round_channels(cout, cfg.width)
        n = repeats if i in (0, last) else int(math.ceil(cfg.depth * repeats))
        for j in range(n):
            specs.append((cin, cout, expand, kernel, stride if j == 0 else 1))
            cin = cout
    return specs


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite for ImageNet: ``forward(x)`` -> logits (n, 1000); ``forward_layers`` gives every stage.

    ``x`` is (n, 3, H, W), normalised as the checkpoints expect: ``(pixel - 127) / 128`` with pixels in [0, 255].

    >>> net = EfficientNetLite("efficientnet-lite0").eval()
    >>> sum(p.numel() for p in net.parameters())
    4652008
    >>> out = net.forward_layers(torch.zeros(1, 3, 224, 224), {"stem", "block.15", "pooled", "logits"})
    >>> [tuple(out[k].shape) for k in ("stem", "block.15", "pooled", "logits")]
    [(1, 32, 112, 112), (1, 320, 7, 7), (1, 1280), (1, 1000)]
    """

    def __init__(self, variant: str = "efficientnet-lite0"):
        super().__init__()
        if variant not in LITE_CONFIGS:
            raise ValueError(f"unknown EfficientNet-Lite variant {variant!r}; choose one of {', '.join(LITE_CONFIGS)}")
        self.variant = variant
        self.config = cfg = LITE_CONFIGS[variant]
        self._conv_stem = SameConv2d(3, STEM_CHANNELS, 3, stride=2)
        self._bn0 = _bn(STEM_CHANNELS)
        self._blocks = nn.ModuleList(MBConv(ci, co, e, k, s) for ci, co, e, k, s in block_specs(cfg))
        last = block_specs(cfg)[-1][1]
        self._conv_head = SameConv2d(last, HEAD_CHANNELS, 1)
        self._bn1 = _bn(HEAD_CHANNELS)
        self._fc = nn.Linear(HEAD_CHANNELS, cfg.num_classes)

    @property
    def layer_names(self) -> list[str]:
        """``stem``, ``block.0`` .. ``block.N``, ``head``, ``pooled`` (the 1280-d average), ``logits``."""
        return ["stem", *(f"block.{i}" for i in range(len(self._blocks))), "head", "pooled", "logits"]

    def forward_layers(self, x: torch.Tensor, layers: set[str] | None = None) -> dict[str, torch.Tensor]:
        """The activations named in ``layers`` (default: all of :attr:`layer_names`), plus nothing else."""
        wanted = set(self.layer_names) if layers is None else set(layers)
        out: dict[str, torch.Tensor] = {}

        def keep(name: str, t: torch.Tensor) -> None:
            if name in wanted:
                out[name] = t

        h = F.relu6(self._bn0(self._conv_stem(x)))
        keep("stem", h)
        for i, block in enumerate(self._blocks):
            h = block(h)
            keep(f"block.{i}", h)
        h = F.relu6(self._bn1(self._conv_head(h)))
        keep("head", h)
        pooled = h.mean(dim=(2, 3))
        keep("pooled", pooled)
        if "logits" in wanted:
            out["logits"] = self._fc(pooled)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_layers(x, {"logits"})["logits"]


def init_untrained(net: EfficientNetLite, seed: int) -> EfficientNetLite:
    """Seeded random initialisation of the EfficientNet reference code (Tan & Le 2019, TPU repository):
    convolution kernels N(0, 2 / fan_out) with fan_out = k * k * out_channels / groups-per-output, the
    classifier U(-1/sqrt(1000), 1/sqrt(1000)) with zero bias, batch norm gamma 1, beta 0, running mean 0, var 1.

    >>> a = init_untrained(EfficientNetLite("efficientnet-lite0"), 0)
    >>> b = init_untrained(EfficientNetLite("efficientnet-lite0"), 0)
    >>> bool(torch.equal(a._conv_stem.weight, b._conv_stem.weight))
    True
    """
    gen = torch.Generator().manual_seed(int(seed))
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.Conv2d):
                k = m.kernel_size[0] * m.kernel_size[1]
                fan_out = k * m.out_channels // m.groups
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * math.sqrt(2.0 / fan_out))
            elif isinstance(m, nn.BatchNorm2d):
                m.reset_parameters()
            elif isinstance(m, nn.Linear):
                bound = 1.0 / math.sqrt(m.out_features)
                m.weight.copy_(torch.rand(m.weight.shape, generator=gen) * 2 * bound - bound)
                m.bias.zero_()
    return net
