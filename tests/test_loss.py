"""The regulariser and the negative ELBO equal the formulas of docs/method_pgnas.md section 3
computed by hand."""

import math

import torch
from torch import nn

from pgnas_core.nn.masked_op import MaskedOp
from pgnas_core.nn.sites import DropoutSite
from pgnas_core.supernets.base import Supernet
from pgnas_core.train.loss import negative_elbo, regulariser


class TwoSiteNet(Supernet):
    """A hand-checkable supernet: a 1x1 conv (3 -> 2) and a linear layer (2 -> 2)."""

    def __init__(self, p1=0.2, p2=0.4):
        super().__init__()
        self.conv = MaskedOp([DropoutSite(3, p_init=p1)], nn.Conv2d(3, 2, 1, bias=False))
        self.fc = MaskedOp([DropoutSite(2, p_init=p2)], nn.Linear(2, 2))
        with torch.no_grad():
            self.conv.conv.weight.copy_(torch.arange(6.0).view(2, 3, 1, 1) / 10)
            self.fc.conv.weight.copy_(torch.tensor([[1.0, -2.0], [0.5, 3.0]]))
        self.finalize()

    def forward(self, x):
        return self.fc(self.conv(x).mean((2, 3)))


def _by_hand(l2, p1=0.2, p2=0.4, coupled=True):
    m1 = sum((i / 10) ** 2 for i in range(6))
    m2 = 1 + 4 + 0.25 + 9
    w = l2 * ((1 - p1) * m1 + (1 - p2) * m2) if coupled else l2 * (m1 + m2)
    ent = sum(k * (p * math.log(p) + (1 - p) * math.log(1 - p)) for k, p in ((3, p1), (2, p2)))
    return w, ent


def test_regulariser_equals_formula():
    net = TwoSiteNet()
    reg = regulariser(net, l2=3.0)
    w, ent = _by_hand(3.0)
    assert math.isclose(reg.weight.item(), w, rel_tol=1e-5)
    assert math.isclose(reg.entropy.item(), ent, rel_tol=1e-5)


def test_constant_l2_ablation_drops_the_keep_factor():
    net = TwoSiteNet()
    w, _ = _by_hand(2.0, coupled=False)
    assert math.isclose(regulariser(net, 2.0, "constant").weight.item(), w, rel_tol=1e-5)


def test_inverted_coordinates_divide_by_keep_probability():
    net = TwoSiteNet()
    for s in net.sites():
        s.rescale = True
    m1 = sum((i / 10) ** 2 for i in range(6))
    m2 = 14.25
    expected = 1.5 * (m1 / 0.8 + m2 / 0.6)
    assert math.isclose(regulariser(net, 1.5).weight.item(), expected, rel_tol=1e-5)


def test_fixed_sites_give_plain_weight_decay_and_no_entropy():
    net = TwoSiteNet()
    for s in net.sites():
        s.theta.requires_grad_(False)
    reg = regulariser(net, 2.0)
    w, _ = _by_hand(2.0, coupled=False)
    assert math.isclose(reg.weight.item(), w, rel_tol=1e-5)
    assert reg.entropy.item() == 0.0


def test_weight_term_pushes_p_up_and_entropy_pushes_toward_half():
    """With M fixed, d/dp [l2 (1-p)||M||^2] < 0: larger l2 drives more dropping (Table 4)."""
    net = TwoSiteNet(p1=0.2, p2=0.4)
    regulariser(net, l2=10.0).weight.backward()
    assert all(s.theta.grad < 0 for s in net.sites())  # descent raises theta, i.e. p
    net.zero_grad()
    regulariser(net, l2=0.0).entropy.backward()
    assert all(s.theta.grad < 0 for s in net.sites())  # p < 0.5 pulled up toward 0.5


def test_negative_elbo_is_ce_plus_r_over_n():
    torch.manual_seed(0)
    net = TwoSiteNet()
    x, y = torch.randn(5, 3, 2, 2), torch.tensor([0, 1, 1, 0, 1])
    logits = net(x)
    loss, ce, reg_n = negative_elbo(logits, y, net, l2=3.0, n_train=1000.0)
    w, ent = _by_hand(3.0)
    assert math.isclose(reg_n.item(), (w + ent) / 1000.0, rel_tol=1e-5)
    expected_ce = nn.functional.cross_entropy(logits, y)
    assert torch.allclose(loss, expected_ce + reg_n)
    assert torch.allclose(ce, expected_ce)
