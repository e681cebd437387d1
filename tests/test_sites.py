"""The dropout site: mask statistics, gradients, modes (docs/method_pgnas.md sections 1-3)."""

import math

import pytest
import torch

from pgnas_core.nn.sites import DropoutSite, concrete_drop, concrete_keep, logit


def test_concrete_drop_mean_matches_p_at_low_temperature():
    torch.manual_seed(0)
    theta = torch.tensor(logit(0.3))
    drop = concrete_drop(theta, (200_000,), tau=0.01)
    assert abs(drop.mean().item() - 0.3) < 0.01
    assert ((drop < 0.01) | (drop > 0.99)).float().mean() > 0.95  # nearly binary


def test_concrete_drop_is_smooth_at_high_temperature():
    torch.manual_seed(0)
    drop = concrete_drop(torch.tensor(logit(0.3)), (50_000,), tau=5.0)
    assert ((drop > 0.2) & (drop < 0.8)).float().mean() > 0.9


def test_concrete_keep_is_one_minus_drop_for_the_same_noise():
    theta = torch.tensor(logit(0.3), requires_grad=True)
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    keep = concrete_keep(theta, (1000,), 0.2, generator=g1)
    drop = concrete_drop(theta, (1000,), 0.2, generator=g2)
    torch.testing.assert_close(keep, 1 - drop, atol=1e-6, rtol=0)
    (gk,) = torch.autograd.grad(keep.sum(), theta)
    (gd,) = torch.autograd.grad((1 - drop).sum(), theta)
    torch.testing.assert_close(gk, gd, rtol=1e-4, atol=1e-5)


def test_relaxed_mask_gradient_reaches_theta():
    site = DropoutSite(8, p_init=0.2)
    site.set_mode("relaxed")
    x = torch.randn(16, 8, 4, 4)
    site(x).pow(2).sum().backward()
    assert site.theta.grad is not None and torch.isfinite(site.theta.grad)
    assert site.theta.grad.abs() > 0


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_hard_samples_keep_with_probability_one_minus_p(p):
    """Candidate masks (sampling.sample_masks) are Bernoulli(1 - p) per channel."""
    from pgnas_core import configure_sites, create_supernet
    from pgnas_core.rank.sampling import sample_masks

    net = configure_sites(create_supernet("supnet_m_tiny"), p_init=p)
    kept = torch.cat([torch.cat(list(sample_masks(net, seed).values())) for seed in range(60)])
    n = kept.numel()
    assert abs(kept.mean().item() - (1 - p)) < 4 * math.sqrt(p * (1 - p) / n)


def test_bernoulli_mode_statistics_and_no_gradient():
    torch.manual_seed(1)
    site = DropoutSite(64, p_init=0.3, learnable=False)
    site.set_mode("bernoulli")
    out = site(torch.ones(2000, 64))
    assert abs(out.mean().item() - 0.7) < 0.01
    assert set(out.unique().tolist()) <= {0.0, 1.0}


def test_modes_mean_off_and_hard():
    site = DropoutSite(4, p_init=0.25)
    x = torch.ones(3, 4, 2, 2)
    site.set_mode("off")
    assert torch.equal(site(x), x)
    site.set_mode("mean")
    assert torch.allclose(site(x), x * 0.75)
    site.rescale = True
    assert torch.equal(site(x), x)  # inverted coordinates: the mean network is unscaled
    site.rescale = False
    site.hard_mask = torch.tensor([1.0, 0.0, 1.0, 0.0])
    site.set_mode("hard")
    assert torch.equal(site(x)[:, 1], torch.zeros(3, 2, 2))
    assert torch.equal(site(x)[:, 0], torch.ones(3, 2, 2))
    site.hard_mask = torch.eye(4)[:3]  # one mask per sample row: (B, C)
    out = site(x)
    assert torch.equal(out[1, 1], torch.ones(2, 2)) and out[1, 0].abs().sum() == 0


def test_unknown_mode_is_rejected():
    with pytest.raises(ValueError, match="relaxed"):
        DropoutSite(2).set_mode("sometimes")


def test_extra_repr_names_p_and_mode():
    text = repr(DropoutSite(3, p_init=0.1))
    assert "p=0.100" in text and "mode=mean" in text
