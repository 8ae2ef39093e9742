"""Knowledge distillation of a student B from a teacher A's logits (Hinton et al. 2015).

Loss: T² · KL(softmax(z_A / T) ‖ softmax(z_B / T)), batch mean (optionally plus ``hard_weight`` × cross-entropy
on labels).  The teacher's logits are computed once, in eval mode, on the training inputs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def kd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float = 4.0) -> torch.Tensor:
    """T² · KL(p_teacher^T ‖ p_student^T), mean over the batch."""
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(f"student logits {tuple(student_logits.shape)} and teacher logits "
                         f"{tuple(teacher_logits.shape)} differ; both models must output the same classes")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    t = float(temperature)
    log_p_s = F.log_softmax(student_logits / t, dim=-1)
    log_p_t = F.log_softmax(teacher_logits / t, dim=-1)
    return F.kl_div(log_p_s, log_p_t, log_target=True, reduction="batchmean") * t * t


def distill(student: nn.Module, teacher: nn.Module | torch.Tensor, x: torch.Tensor, *, temperature: float = 4.0,
            epochs: int = 30, lr: float = 1e-3, batch_size: int = 64, seed: int = 0, y: torch.Tensor | None = None,
            hard_weight: float = 0.0) -> nn.Module:
    """Train ``student`` (in place) to match ``teacher``'s logits on ``x`` (teacher: a module or its logits)."""
    from ..zoo.digits import predict_logits, train_classifier

    if not isinstance(teacher, torch.Tensor):
        teacher = predict_logits(teacher, x)
    if len(teacher) != len(x):
        raise ValueError(f"teacher logits have {len(teacher)} rows for {len(x)} inputs")
    if hard_weight and y is None:
        raise ValueError("hard_weight > 0 needs the labels y")
    if not hard_weight:
        targets = teacher.detach()

        def loss_fn(logits, tgt):
            return kd_loss(logits, tgt, temperature)
    else:
        targets = torch.cat([teacher.detach(), y.reshape(-1, 1).to(teacher.dtype)], dim=1)

        def loss_fn(logits, tgt):
            return (kd_loss(logits, tgt[:, :-1], temperature)
                    + hard_weight * F.cross_entropy(logits, tgt[:, -1].long()))

    return train_classifier(student, x, targets, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed,
                            loss_fn=loss_fn)
