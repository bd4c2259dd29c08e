"""Sharpness-aware minimisation (SAM; Foret et al., ICLR 2021) for the trainers.

Each step first climbs from the weights w to w + e, e = rho * g / ||g|| (g the batch's gradient,
the norm over all parameters together), takes the gradient there, steps back to w and lets the
optimiser apply that second gradient. The minimum it seeks is one whose neighbourhood of radius
rho is low as a whole, which Huang et al. (Interspeech 2025) and Shim et al. (Interspeech 2023)
found to carry speech-deepfake detectors better to unseen generators and datasets. A step costs
two forward and backward passes. Batch-norm statistics are updated by the first pass only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch


@contextmanager
def batchnorm_stats_frozen(model: torch.nn.Module) -> Iterator[None]:
    """Batch normalisation normalises by the batch as usual but leaves its running statistics as
    they are (momentum 0), so that a second pass over one batch does not count it twice."""
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    saved = [
        (m.momentum, m.num_batches_tracked.clone() if m.num_batches_tracked is not None else None)
        for m in norms
    ]
    for m in norms:
        m.momentum = 0.0
    try:
        yield
    finally:
        for m, (momentum, tracked) in zip(norms, saved, strict=True):
            m.momentum = momentum
            if tracked is not None and m.num_batches_tracked is not None:
                m.num_batches_tracked.copy_(tracked)


def sharpness_aware_step(
    model: torch.nn.Module, loss_of: Callable[[], torch.Tensor], opt: torch.optim.Optimizer, rho: float
) -> torch.Tensor:
    """One SAM step on the batch that ``loss_of`` scores (it runs the forward pass and returns the
    loss; it is called twice). Returns the loss at the weights before the step."""
    loss = loss_of()
    opt.zero_grad()
    loss.backward()
    grads = [(p, p.grad) for p in model.parameters() if p.grad is not None]
    if not grads:
        return loss.detach()
    norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for _, g in grads]))
    scale = rho / (float(norm) + 1e-12)
    with torch.no_grad():
        climbs = [(p, g * scale) for p, g in grads]
        for p, e in climbs:
            p.add_(e)
    opt.zero_grad()
    with batchnorm_stats_frozen(model):
        loss_of().backward()
    with torch.no_grad():
        for p, e in climbs:
            p.sub_(e)
    opt.step()
    return loss.detach()
