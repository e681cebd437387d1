"""Tests generated from the registry: every supernet gets forward, backward, export, counts."""

import pytest
import torch

from pgnas_core import configure_sites, create_supernet, list_supernets
from pgnas_core.rank.sampling import sample_architecture
from pgnas_core.supernets import supernet_entry

SMALL = list_supernets(paper=False)
PAPER = list_supernets(paper=True)


def _input(name, batch=4):
    entry = supernet_entry(name)
    net = create_supernet(name)
    size = entry.input_size
    first = next(m for m in net.modules() if isinstance(m, torch.nn.Conv2d))
    return net, torch.randn(batch, first.in_channels, size, size)


def _randomise_batchnorm(net, seed=0):
    """Non-trivial BN statistics so the export equivalence cannot pass by accident."""
    g = torch.Generator().manual_seed(seed)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.5)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            if not m.affine:  # the DARTS space's operations, as in DARTS's search
                continue
            m.weight.data.copy_(torch.randn(m.num_features, generator=g))
            m.bias.data.copy_(torch.randn(m.num_features, generator=g))


def test_registry_has_the_paper_supernets_and_small_presets():
    assert {"supnet_m", "supnet_mi"} <= set(PAPER)
    assert SMALL, "every family needs small CPU presets"
    with pytest.raises(ValueError, match="already registered"):
        from pgnas_core.supernets import register_supernet

        register_supernet("supnet_m", family="x")(lambda: None)


@pytest.mark.parametrize("name", SMALL)
def test_forward_and_backward_reach_every_parameter(name):
    torch.manual_seed(0)
    net, x = _input(name)
    net.train()
    net.set_site_mode("relaxed")
    from pgnas_core.train.loss import negative_elbo

    logits = net(x)
    y = torch.randint(0, logits.shape[1], (len(x),))
    loss, _, _ = negative_elbo(logits, y, net, l2=1.0, n_train=100)
    loss.backward()
    for pname, p in net.named_parameters():
        assert p.grad is not None, f"{pname} got no gradient"
        assert torch.isfinite(p.grad).all(), f"{pname} has a non-finite gradient"
    assert all(s.theta.grad is not None and s.theta.grad != 0 for s in net.sites())


@pytest.mark.parametrize("name", SMALL)
def test_keep_probability_one_equals_the_deterministic_network(name):
    """p -> 0 in every site (keep 1): the supernet equals the network without masks."""
    torch.manual_seed(0)
    net, x = _input(name)
    net.eval()
    with net.site_mode("off"):
        plain = net(x)
    configure_sites(net, p_init=1e-7)
    for mode in ("mean", "relaxed"):
        with net.site_mode(mode):
            # rtol: the ungated DARTS supernet sums every op of 14 edges, outputs ~1e7 at init
            assert torch.allclose(net(x), plain, atol=1e-4, rtol=1e-4), mode


@pytest.mark.parametrize("name", SMALL)
@pytest.mark.parametrize("p", [0.3, 0.7, 0.97])
def test_compact_export_equals_masked_supernet(name, p):
    """Random masks, including ones that empty whole operations (p near 1)."""
    torch.manual_seed(1)
    net, x = _input(name)
    _randomise_batchnorm(net)
    configure_sites(net, p_init=p)
    net.eval()
    for seed in range(3):
        arch = sample_architecture(net, seed)
        net.apply_architecture(arch)
        expected = net(x)
        compact = net.compact_module()
        assert torch.allclose(compact(x), expected, atol=1e-4, rtol=1e-4), (name, p, seed)
        n_compact = sum(q.numel() for q in compact.parameters())
        assert n_compact <= sum(q.numel() for q in net.parameters())


@pytest.mark.parametrize("name", SMALL)
def test_export_of_a_fully_dropped_operation(name):
    """Every even site keeps nothing: whole operations become BN constants."""
    net, x = _input(name)
    _randomise_batchnorm(net, seed=3)
    net.eval()
    masks = {
        s.name: (torch.zeros(s.channels) if i % 2 == 0 else torch.ones(s.channels))
        for i, s in enumerate(net.sites())
    }
    arch = net.architecture_from_masks(masks)
    assert arch.dropped_operations > 0
    net.apply_architecture(arch)
    assert torch.allclose(net.compact_module()(x), net(x), atol=1e-4, rtol=1e-4)


@pytest.mark.slow  # builds the full-size paper supernets
@pytest.mark.parametrize("name", PAPER)
def test_paper_parameter_counts_within_5_percent(name):
    entry = supernet_entry(name)
    if entry.family in ("cell", "darts"):
        pytest.skip("the cell spaces' supernets have no parameter count in our sources")
    assert entry.paper_params, f"{name} has no paper parameter count"
    with torch.device("meta"):
        net = create_supernet(name)
    n = sum(p.numel() for p in net.parameters() if not _is_site_param(net, p))
    assert abs(n - entry.paper_params) / entry.paper_params < 0.05, (name, n)


def _is_site_param(net, p):
    return any(p is s.theta for s in net.sites())


def test_multibranch_resnet_branch_options():
    for kernels in [(3,), (3, 5), (1, 3, 5, 7)]:
        net = create_supernet("supnet_m_tiny", branch_kernels=kernels)
        assert len(net.body.blocks[0].branches) == len(kernels)
        assert net(torch.randn(2, 1, 8, 8)).shape == (2, 10)
    with pytest.raises(ValueError, match="1 to 4"):
        create_supernet("supnet_m_tiny", branch_kernels=(3, 3, 3, 3, 3))


def test_unknown_supernet_suggests_the_nearest_name():
    from pgnas_core.errors import ConfigError

    with pytest.raises(ConfigError, match="supnet_m"):
        create_supernet("supnet_mm")
