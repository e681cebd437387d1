"""SupNet-E / EI, SupNet-R-50 and SupNet-D-121: structure, counts, export, aux head, drop-path.

The registry-generated tests (test_supernets.py) cover forward, backward and export on random
masks for every small preset; these check what is specific to each family.
"""

import pytest
import torch
from torch import nn

from pgnas_core import configure_sites, create_supernet
from pgnas_core.config import resolve_config
from pgnas_core.rank.sampling import sample_architecture
from pgnas_core.supernets import aux_loss, supernet_entry
from pgnas_core.supernets.enas_cells import DropPath, drop_path


def _weights(net) -> int:
    thetas = {id(s.theta) for s in net.sites()}
    return sum(p.numel() for p in net.parameters() if id(p) not in thetas)


def _meta(name, **overrides):
    with torch.device("meta"):
        return create_supernet(name, **overrides)


def _randomise_batchnorm(net, seed=0):
    g = torch.Generator().manual_seed(seed)
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.5)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.randn(m.num_features, generator=g))
            m.bias.data.copy_(torch.randn(m.num_features, generator=g))


def _check_export(net, x, masks):
    arch = net.architecture_from_masks(masks)
    net.apply_architecture(arch)
    expected = net(x)
    compact = net.compact_module()
    assert torch.allclose(compact(x), expected, atol=1e-4, rtol=1e-4)
    return arch, compact


def _random_masks(net, seed, p_site_empty=0.3, p_channel=0.6):
    """Random kept sets, a share of the sites emptied whole."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for s in net.sites():
        if torch.rand((), generator=g) < p_site_empty:
            out[s.name] = torch.zeros(s.channels)
        else:
            out[s.name] = (torch.rand(s.channels, generator=g) < p_channel).float()
    return out


# ---- parameter counts at paper size (meta device) --------------------------------------------
@pytest.mark.slow
def test_densenet121_has_torchvision_densenet121_weights():
    from torchvision.models import densenet121

    with torch.device("meta"):
        ref = sum(p.numel() for p in densenet121(weights=None).parameters())
    assert _weights(_meta("supnet_d121")) == ref


def test_resnet50_reading_within_5_percent_and_the_dilated_one_is_not():
    paper = supernet_entry("supnet_r50").paper_params
    default = _weights(_meta("supnet_r50"))
    dilated = _weights(_meta("supnet_r50", branches=((1, 1), (3, 1), (3, 2), (5, 2))))
    assert abs(default - paper) / paper < 0.05
    assert abs(dilated - paper) / paper > 0.3
    # with one 3x3 branch only it is plain ResNet-50 (25.6M): the body is ResNet-50's
    from torchvision.models import resnet50

    with torch.device("meta"):
        ref = sum(p.numel() for p in resnet50(weights=None).parameters())
    assert _weights(_meta("supnet_r50", branches=((3, 1),))) == ref


@pytest.mark.parametrize("name", ["supnet_e", "supnet_ei"])
def test_enas_counts_include_the_aux_head(name):
    paper = supernet_entry(name).paper_params
    net = _meta(name)
    aux = sum(p.numel() for p in net.aux_head.parameters())
    assert abs(_weights(net) - paper) / paper < 0.05
    assert _weights(_meta(name, aux_weight=0.0)) == _weights(net) - aux


# ---- structure -------------------------------------------------------------------------------
def test_enas_structure_follows_the_fixed_arc():
    net = _meta("supnet_e")
    cells = net.body.cells
    assert len(cells) == 17  # 15 layers + 2 reduction cells
    # normal cells output the 5 nodes (inputs 0 and 1 are used), reduction cells 4 (3 is used)
    assert [len(c.outputs) for c in cells].count(5) == 15
    assert [i for i, c in enumerate(cells) if len(c.outputs) == 4] == [5, 11]
    seps = [op for op in net.masked_ops() if op.pre is not None]
    # 6 of the 10 node inputs are separable convs in either cell, each of two halves
    assert len(seps) == 2 * (17 * 6)
    for op in seps:
        assert op.pre.groups == op.pre.in_channels == op.sites[0].channels  # depthwise
        assert op.sites[0].tags["kernel"] in (3, 5)
    assert net.aux_layer == 12
    for s in net.sites():
        assert {"stage", "block", "branch", "layer", "kernel"} <= set(s.tags)


def test_resnet50_branches_are_separate_operations():
    net = _meta("supnet_r50")
    blocks = list(net.body.blocks)
    assert len(blocks) == 16
    for b in blocks:
        kernels = [op.sites[0].tags["kernel"] for op in b.branches]
        assert kernels == [1, 3, 5, 9]
        width = b.conv1.out_channels
        assert [op.out_channels for op in b.branches] == [width // 4] * 4
        assert all(op.conv.in_channels == width for op in b.branches)


def test_densenet_has_one_site_per_source():
    net = _meta("supnet_d121")
    blocks = list(net.body.blocks)
    assert [len(b.layers) for b in blocks] == [6, 12, 24, 16]
    for b in blocks:
        for i, layer in enumerate(b.layers):
            assert [s.channels for s in layer.conv1.sites] == b.sources[: i + 1]
            assert b.sources[1:] == [32] * len(b.layers)
    assert len(net.body.head.fc.sites) == 17
    # dense layers: i + 1 sources + the 3x3 conv; transitions: 7, 13, 25 sources; head: 17
    assert len(net.sites()) == sum(sum(i + 2 for i in range(n)) for n in (6, 12, 24, 16)) + 45 + 17


# ---- export ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name",
    [
        "supnet_e_small",
        "supnet_r50_small",
        "supnet_d121_small",
        "supnet_r50_tiny",
        "supnet_d121_tiny",
    ],
)
def test_export_equals_masked_supernet_with_emptied_sites(name):
    torch.manual_seed(0)
    net = create_supernet(name).eval()
    _randomise_batchnorm(net)
    size = supernet_entry(name).input_size
    x = torch.randn(3, net.in_channels, size, size)
    for seed in range(3):
        arch, compact = _check_export(net, x, _random_masks(net, seed))
        assert arch.dropped_operations > 0
        assert 0 < arch.operation_drop_proportion < 1
        assert 0 < arch.channel_drop_proportion < 1
        assert sum(p.numel() for p in compact.parameters()) < _weights(net)


def test_densenet_export_drops_whole_sources():
    """A layer whose output every consumer drops is not computed at all in the export."""
    torch.manual_seed(0)
    net = create_supernet("supnet_d121_small").eval()
    _randomise_batchnorm(net, seed=1)
    x = torch.randn(2, 1, 28, 28)
    # drop source 1 of every block (the first layer's output) wherever it is consumed
    masks = {s.name: torch.ones(s.channels) for s in net.sites()}
    for s in net.sites():
        if s.tags["branch"] == 1:
            masks[s.name] = torch.zeros(s.channels)
    arch, compact = _check_export(net, x, masks)
    assert [len(b.layers) for b in compact.blocks] == [2, 2, 2]  # of 3 each
    assert arch.dropped_operations == 0  # sources are dropped, every op keeps some input
    # and emptying the whole block input of block 1 removes the transition's conv
    for s in net.sites():
        if s.tags["stage"] == 1 and s.tags["branch"] == 0:
            masks[s.name] = torch.zeros(s.channels)
    _, compact2 = _check_export(net, x, masks)
    assert sum(p.numel() for p in compact2.parameters()) < sum(
        p.numel() for p in compact.parameters()
    )


def test_resnet50_export_removes_an_emptied_branch():
    net = create_supernet("supnet_r50_small").eval()
    _randomise_batchnorm(net, seed=2)
    x = torch.randn(2, 1, 28, 28)
    masks = {s.name: torch.ones(s.channels) for s in net.sites()}
    for s in net.sites():
        if s.tags["branch"] == 3:  # the 9x9 branches
            masks[s.name] = torch.zeros(s.channels)
    arch, compact = _check_export(net, x, masks)
    assert arch.dropped_operations == len(net.body.blocks)
    big = [m for m in compact.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (9, 9)]
    assert not big


def test_enas_export_with_every_first_separable_half_dropped():
    net = create_supernet("supnet_e_small").eval()
    _randomise_batchnorm(net, seed=4)
    x = torch.randn(2, 1, 28, 28)
    masks = {
        s.name: (
            torch.zeros(s.channels)
            if s.tags["layer"] == 1 and s.tags["kernel"] in (3, 5)
            else torch.ones(s.channels)
        )
        for s in net.sites()
    }
    arch, compact = _check_export(net, x, masks)
    depthwise = [m for m in compact.modules() if isinstance(m, nn.Conv2d) and m.groups > 1]
    assert depthwise and all(m.stride == (1, 1) for m in depthwise)  # only second halves left
    assert (
        arch.dropped_operations == len([op for op in net.masked_ops() if op.pre is not None]) // 2
    )


# ---- ENAS: auxiliary head and drop-path ---------------------------------------------------------
def test_aux_head_logits_only_in_training_and_its_loss():
    torch.manual_seed(0)
    net = create_supernet("supnet_e_small", aux_weight=0.4)
    x, y = torch.randn(4, 1, 28, 28), torch.randint(0, 10, (4,))
    net.train()
    logits = net(x)
    assert isinstance(logits, torch.Tensor) and logits.shape == (4, 10)
    assert net.aux_logits.shape == (4, 10)
    loss = aux_loss(net, y)
    expected = 0.4 * nn.functional.cross_entropy(net.aux_logits, y)
    assert torch.allclose(loss, expected)
    loss.backward()
    assert all(p.grad is not None for p in net.aux_head.parameters())
    net.eval()
    net(x)
    assert net.aux_logits is None and aux_loss(net, y) is None
    assert aux_loss(create_supernet("supnet_e_small"), y) is None  # no head
    assert not any("aux" in n for n, _ in net.compact_module().named_parameters())


@pytest.mark.slow
def test_training_adds_the_aux_loss(tmp_path):
    """One epoch on digits: the aux head's weights move only if its loss reaches the optimiser."""
    from pgnas_core.data import load_data
    from pgnas_core.methods import create_method
    from pgnas_core.run.pipeline import train

    cfg = resolve_config(
        "digits",
        overrides=[
            "supernet.name=supnet_e_small",
            "supernet.options={aux_weight: 0.4, input_size: 8}",
            "train.epochs=1",
            "data.train_size=96",
            "data.val_size=32",
            "data.test_size=32",
            "method.baselines=[]",
        ],
    )
    data = load_data(cfg.data)
    torch.manual_seed(cfg.train.seed)
    built = create_method("pgnas", cfg).build_supernet(data)
    before = {n: p.detach().clone() for n, p in built.aux_head.named_parameters()}
    net = train(cfg, data, tmp_path, progress=False)
    moved = [
        n for n, p in net.aux_head.named_parameters() if not torch.equal(p.detach(), before[n])
    ]
    assert moved, "the aux head was not trained"


@pytest.mark.slow
def test_drop_path_function_and_ramp():
    g = torch.Generator().manual_seed(0)
    x = torch.ones(1000, 2, 3, 3)
    out = drop_path(x, 0.6, generator=g)
    per_sample = out[:, 0, 0, 0]
    assert torch.all((per_sample == 0) | torch.isclose(per_sample, torch.tensor(1 / 0.6)))
    assert abs((per_sample > 0).float().mean().item() - 0.6) < 0.06
    assert torch.equal(drop_path(x, 1.0), x)

    net = create_supernet("supnet_e_small", drop_path_keep=0.5, drop_path_ramp_steps=4)
    paths = [m for m in net.modules() if isinstance(m, DropPath)]
    assert paths and paths[-1].keep < paths[0].keep  # falls with depth, as in ENAS
    assert (
        abs(paths[-1].keep - (1 - 5 / 5 * 0.5)) < 1e-6
    )  # 5 cells: the last reaches drop_path_keep
    net.train()
    x = torch.randn(2, 1, 28, 28)
    net(x)
    assert paths[0].ratio == pytest.approx(1 / 4)
    for _ in range(5):
        net(x)
    assert paths[0].ratio == 1.0 and int(net.train_steps) == 6
    with net.site_mode("off"):
        assert not torch.allclose(net(x), net(x))  # drop-path is random in training
        net.eval()
        assert torch.equal(net(x), net(x))


# ---- presets -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "preset,name,epochs,l2",
    [
        ("supnet_e_cifar10", "supnet_e", 630, 0.1),
        ("supnet_ei_cifar10", "supnet_ei", 630, 0.1),
        ("supnet_r50_imagenet", "supnet_r50", 90, 80.0),
        ("supnet_d121_imagenet", "supnet_d121", 180, 100.0),
    ],
)
def test_paper_presets(preset, name, epochs, l2):
    cfg = resolve_config(preset)
    assert cfg.supernet.name == name and cfg.train.epochs == epochs and cfg.posterior.l2 == l2
    assert cfg.posterior.tau == 0.2 and cfg.posterior.p_init == 0.1
    assert cfg.search.candidates == 1500
    if "imagenet" in preset:
        assert cfg.data.dataset == "imagefolder" and cfg.posterior.n_train == 1.2e6
    else:
        assert cfg.train.schedule == "sgdr" and (cfg.train.t0, cfg.train.t_mult) == (10, 2)


@pytest.mark.parametrize(
    "preset", ["enas_small_fashion", "r50_small_fashion", "d121_small_fashion"]
)
def test_small_presets_build_small_nets(preset):
    cfg = resolve_config(preset)
    net = create_supernet(cfg.supernet.name, **cfg.supernet.options)
    assert 3_000 <= _weights(net) <= 300_000
    assert not supernet_entry(cfg.supernet.name).paper
    configure_sites(net, p_init=0.5)
    arch = sample_architecture(net, 0)
    assert arch.supernet == cfg.supernet.name
