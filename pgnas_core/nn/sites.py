"""Dropout sites: a channel mask with one learned drop probability ``p = sigmoid(theta)``.

The math is in pure functions (tests call them directly); :class:`DropoutSite` holds the
parameter, the mode and the hard mask of a sampled candidate.
"""

from __future__ import annotations

import math

import torch
from torch import nn

#: How a site masks its input.
#: relaxed   - concrete (relaxed Bernoulli) mask per sample and channel (PGNAS training, Eq. 16)
#: bernoulli - hard Bernoulli mask per sample and channel (ordinary dropout: Random baseline)
#: mean      - multiply by the keep-probability (posterior-mean network)
#: hard      - a fixed mask shared by all inputs (a sampled candidate), or one per sample row
#: off       - identity (the deterministic supernet)
SITE_MODES = ("relaxed", "bernoulli", "mean", "hard", "off")

_EPS = 1e-7


def logit(p: float) -> float:
    return math.log(p) - math.log1p(-p)


def _concrete_logits(
    theta: torch.Tensor, shape: tuple[int, ...], tau: float, generator: torch.Generator | None
) -> torch.Tensor:
    """(log p - log(1-p) + log u - log(1-u)) / tau with u ~ U(0, 1); log p - log(1-p) is
    exactly ``theta``, and ``torch.logit`` computes log u - log(1-u) (u clamped to
    [1e-7, 1 - 1e-7]) in one pass."""
    # no generator= keyword unless given: torch.compile cannot trace rand(generator=None)
    extra = {} if generator is None else {"generator": generator}
    u = torch.rand(shape, device=theta.device, dtype=theta.dtype, **extra)
    return (theta + torch.logit(u, eps=_EPS)) * (1.0 / tau)


def concrete_drop(
    theta: torch.Tensor,
    shape: tuple[int, ...],
    tau: float,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Relaxed drop indicators (paper Eq. 16, supplement A10).

    drop = sigmoid((log p - log(1-p) + log u - log(1-u)) / tau), u ~ U(0, 1). Differentiable
    in ``theta``; tends to Bernoulli(p) as tau -> 0.
    """
    return torch.sigmoid(_concrete_logits(theta, shape, tau, generator))


def concrete_keep(
    theta: torch.Tensor,
    shape: tuple[int, ...],
    tau: float,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Relaxed keep indicators ``1 - concrete_drop`` (same u), as ``sigmoid(-logits)``: one
    op fewer in a training step's forward and backward than ``1 - sigmoid``."""
    return torch.sigmoid(-_concrete_logits(theta, shape, tau, generator))


def bernoulli_keep(
    p: torch.Tensor, shape: tuple[int, ...], generator: torch.Generator | None = None
) -> torch.Tensor:
    """Hard keep indicators, 1 with probability ``1 - p`` (no gradient to ``p``)."""
    u = torch.rand(shape, device=p.device, dtype=p.dtype, generator=generator)
    return (u >= p.detach()).to(p.dtype)


class DropoutSite(nn.Module):
    """One dropout site: masks ``channels`` input channels of one convolution (or linear).

    Default coordinates follow the official code: kept channels are not rescaled. With
    ``rescale=True`` (inverted dropout) kept channels are divided by the keep-probability.
    """

    def __init__(
        self,
        channels: int,
        p_init: float = 0.1,
        learnable: bool = True,
        tau: float = 0.2,
        rescale: bool = False,
        **tags,
    ):
        super().__init__()
        self.channels = channels
        self.theta = nn.Parameter(torch.tensor(logit(p_init)), requires_grad=learnable)
        self.tau = tau
        self.rescale = rescale
        self.mode = "mean"
        self.tags = dict(tags)  # stage / block / branch / kernel: for tables and plots
        self.name = ""  # the module path, set by the supernet
        self.op = ""  # the operation (masked conv) this site feeds, set by the supernet
        # The candidate's hard mask: (C,) shared by all inputs, or (B, C) one per sample row.
        self.register_buffer("hard_mask", torch.ones(channels), persistent=False)

    @property
    def learnable(self) -> bool:
        return self.theta.requires_grad

    @property
    def p(self) -> torch.Tensor:
        return torch.sigmoid(self.theta)

    @property
    def keep_prob(self) -> torch.Tensor:
        return torch.sigmoid(-self.theta)  # 1 - p, accurately

    def keep_weights(self, batch: int) -> torch.Tensor | None:
        """Per-sample channel multipliers, shape (B, C) or (1, C); None means identity."""
        mode = self.mode
        if mode == "off" or (mode == "mean" and self.rescale):
            return None
        if mode == "mean":
            return self.keep_prob.expand(1, self.channels)
        if mode == "relaxed":
            keep = concrete_keep(self.theta, (batch, self.channels), self.tau)
        elif mode == "bernoulli":
            keep = bernoulli_keep(self.p.expand(self.channels), (batch, self.channels))
        elif mode == "hard":
            keep = self.hard_mask.view(-1, self.channels)
        else:
            raise ValueError(f"site mode {mode!r}: expected one of {SITE_MODES}")
        return keep / self.keep_prob if self.rescale else keep

    def set_mode(self, mode: str) -> None:
        if mode not in SITE_MODES:
            raise ValueError(f"site mode {mode!r}: expected one of {', '.join(SITE_MODES)}")
        self.mode = mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        keep = self.keep_weights(x.shape[0])
        if keep is None:
            return x
        # the mask is computed in fp32 (from theta) and applied in the activations' dtype
        # (bf16 under autocast: an fp32 mask would promote every activation back to fp32)
        keep = keep.to(x.dtype).view(keep.shape[0], self.channels, *([1] * (x.dim() - 2)))
        return x * keep  # (B, C, 1, 1)

    def extra_repr(self) -> str:
        return (
            f"channels={self.channels}, p={self.p.item():.3f}, tau={self.tau}, "
            f"mode={self.mode}, learnable={self.learnable}, rescale={self.rescale}"
        )
