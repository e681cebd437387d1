"""BayesNAS's switches and their Laplace / ARD update (docs/method_siblings.md section 5; the method
is :mod:`.bayesnas`)."""

from __future__ import annotations

from contextlib import contextmanager

import torch
from torch import nn

from ..supernets.mixed_edge import EdgeGates


class Switches(nn.Module):
    """Parent switches (units, edges) and child switches (units, edges, children), all 1."""

    def __init__(self, units: int, edges: int, children: int):
        super().__init__()
        self.parent = nn.Parameter(torch.ones(units, edges))
        self.child = nn.Parameter(torch.ones(units, edges, children))
        self._copies: dict[str, torch.Tensor] | None = None

    def forward(self) -> EdgeGates:
        gates = self._copies or {"parent": self.parent, "child": self.child}
        return EdgeGates(op_weights=gates["child"], input_scale=gates["parent"])

    @contextmanager
    def per_sample(self, n: int, trailing: int = 3):
        """One copy of every switch per sample, shaped ``(*switch, n, 1, 1, 1)`` so that it
        broadcasts over a batch of feature maps: sample k is scaled by its own copies only,
        so their gradients are per-sample gradients (the curvature step's protocol; the
        supernets multiply by the gates and need no change)."""
        ones = (1,) * trailing
        self._copies = {
            name: p.detach()
            .reshape(*p.shape, 1, *ones)
            .expand(*p.shape, n, *ones)
            .clone()
            .requires_grad_()
            for name, p in (("parent", self.parent), ("child", self.child))
        }
        try:
            yield {f"gating.{k}": v for k, v in self._copies.items()}
        finally:
            self._copies = None


def ard_update(
    gamma: torch.Tensor, hess: torch.Tensor, norms: torch.Tensor, membership: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One Laplace / ARD update of one level of switches (docs/method_siblings.md section 5).

    gamma (G, ...): the groups' prior variances; hess (cells, ...): the switches' diagonal
    GGN divided by lambda; norms (G, ...): ``||s_g||`` over each group's cells; membership
    (G, cells): which cells each group holds. Returns (posterior variance C_j per switch,
    omega_g, new gamma_g)."""
    g_cells = (membership.T @ gamma.reshape(membership.shape[0], -1)).reshape(hess.shape)
    variance = 1 / (1 / g_cells + hess)  # C_j = (1/gamma_g + H_j)^-1
    term = (1 / g_cells - variance / g_cells**2).abs()
    omega = (membership @ term.reshape(hess.shape[0], -1)).sqrt().reshape(gamma.shape)
    return variance, omega, norms / omega.clamp_min(1e-12)
