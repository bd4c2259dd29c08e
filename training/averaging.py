"""Averages of a model's weights along its training run, for the face and voice trainers.

``WeightAverage`` with a decay is an exponential moving average (the face trainer's ``--ema``);
without one it is the uniform running mean of every weight it is given (stochastic weight
averaging, Izmailov et al., UAI 2018; averaged densely at every step, as SWAD does for domain
generalisation: Cha et al., NeurIPS 2021). Parameters and floating-point buffers (batch-norm
statistics) are averaged; integer buffers (batch-norm step counts) follow the model.
"""

from __future__ import annotations

import torch


class WeightAverage:
    """An average of a model's parameters and buffers, kept on the model's device: exponential
    with ``decay`` (ramped up as (1 + step) / (10 + step), so that the first steps' weights do not
    linger), or uniform over every update since it was made when ``decay`` is None."""

    def __init__(self, model: torch.nn.Module, decay: float | None = None) -> None:
        self.decay = decay
        self.count = 1  # the weights it starts from count as the first
        self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}

    @torch.no_grad()
    def update(self, model: torch.nn.Module, step: int) -> None:
        self.count += 1
        d = min(self.decay, (1 + step) / (10 + step)) if self.decay is not None else 1 - 1 / self.count
        for k, v in model.state_dict().items():
            if v.is_floating_point():
                self.state[k].mul_(d).add_(v.detach(), alpha=1 - d)
            else:
                self.state[k].copy_(v)
