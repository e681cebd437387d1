"""The DARTS search space (Liu et al., ICLR 2019) as data and as a supernet: the space's edges and
derivation rule, the supernet's shapes, compact export equal to the gated supernet, and every
method running on it."""

from __future__ import annotations

import json

import pytest
import torch

from pgnas_core import create_supernet
from pgnas_core.methods.differentiable import ArchLogits
from pgnas_core.methods.switches import Switches
from pgnas_core.supernets.spaces import DARTS_SPACE, NB201_SPACE

from cli_run import run_cli

pytestmark = pytest.mark.usefixtures("one_thread")


def test_the_spaces_as_data():
    assert len(DARTS_SPACE.edges) == 14 and len(DARTS_SPACE.ops) == 8
    assert DARTS_SPACE.edges[:5] == ((2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
    assert DARTS_SPACE.outputs == (2, 3, 4, 5) and DARTS_SPACE.none_index == 0
    assert len(NB201_SPACE.edges) == 6 and NB201_SPACE.outputs == (3,)
    assert NB201_SPACE.edge_label(5) == "3<-2"


def test_derive_keeps_each_nodes_two_strongest_edges():
    """Strength = the largest non-none softmax weight; "none" never chosen even when largest."""
    sp = DARTS_SPACE
    logits = torch.zeros(14, 8)
    ops = {op: k for k, op in enumerate(sp.ops)}
    logits[0, ops["sep_conv_3x3"]] = 2.0  # 2<-0
    logits[1, ops["none"]] = 9.0  # 2<-1: none dominates, its best real op is tiny
    logits[1, ops["skip_connect"]] = 0.5
    logits[2, ops["dil_conv_5x5"]] = 1.0  # 3<-0, and 3<-2 (edge 4) stronger
    logits[4, ops["max_pool_3x3"]] = 3.0
    logits[3, ops["avg_pool_3x3"]] = 0.1  # 3<-1: weakest of node 3
    chosen = sp.derive(logits)
    # node 2 has only two incoming edges: both kept, 2<-1 with its best non-none op
    assert chosen[:2] == ["sep_conv_3x3", "skip_connect"]
    assert chosen[2:5] == ["dil_conv_5x5", "none", "max_pool_3x3"]
    for j in (4, 5):  # ties everywhere else: the two earliest edges
        incoming = [e for e, (to, _) in enumerate(sp.edges) if to == j]
        kept = [e for e in incoming if chosen[e] != "none"]
        assert kept == incoming[:2]
    nodes = sp.nodes_of(chosen)
    assert [len(n) for n in nodes] == [2, 2, 2, 2]
    assert nodes[1] == [("dil_conv_5x5", 0), ("max_pool_3x3", 2)]


def test_nb201_derive_is_argmax_with_none():
    logits = torch.zeros(6, 5)
    logits[:, 0] = 1.0
    logits[3, 3] = 2.0
    assert NB201_SPACE.derive(logits) == ["none"] * 3 + ["conv_3x3"] + ["none"] * 2


def test_supernet_shapes_and_cell_types():
    net = create_supernet("supnet_darts_tiny")
    assert net.cell_type_of() == [0, 1, 1] and net.groups() == [0, 1, 1]
    assert net.groups("cell") == [0, 1, 2] and net.num_groups() == 2
    x = torch.randn(2, 1, 8, 8)
    assert net(x).shape == (2, 10)
    small = create_supernet("supnet_darts_small")
    assert small.cell_type_of() == [0, 1, 0, 1, 0]  # reductions at 1/3 and 2/3 of the depth
    layout = small.switch_layout()
    assert len(layout.edges) == 14 and layout.children == DARTS_SPACE.searched_ops
    assert layout.units == 5 and layout.groups == (0, 1, 0, 1, 0)
    h = small.body.stem(torch.randn(2, 1, 28, 28))
    s0 = s1 = h
    for cell in small.cells():
        s0, s1 = s1, cell(s0, s1)
    assert s1.shape == (2, 4 * 32, 4, 4)  # C doubled twice, 4 nodes concatenated


def _randomise(net, seed):
    g = torch.Generator().manual_seed(seed)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.5)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)


@pytest.mark.parametrize("gating", ["alpha", "switches", None])
def test_compact_equals_gated_supernet_for_a_random_architecture(gating):
    torch.manual_seed(0)
    net = create_supernet("supnet_darts_tiny")
    _randomise(net, 1)
    if gating == "alpha":
        net.attach_gating(ArchLogits(2, 1.0, net.space))
    elif gating == "switches":
        sw = Switches(3, 14, 7)
        with torch.no_grad():
            for p in sw.parameters():
                p.copy_(torch.randn_like(p))
        net.attach_gating(sw, share="cell")
    net.eval()
    g = torch.Generator().manual_seed(2)
    logits = torch.randn(net.num_groups(), 14, 8, generator=g)
    chosen = [net.space.derive(a) for a in logits]
    arch = net.architecture_from_ops(chosen)
    assert [list(ops) for ops in net.ops_of(arch)[1]] == [
        [] if op == "none" else [op] for op in chosen[net.groups()[1]]
    ]
    net.apply_architecture(arch)
    x = torch.randn(3, 1, 8, 8)
    with torch.no_grad():
        expected, got = net(x), net.compact_module()(x)
    assert torch.allclose(got, expected, atol=1e-5, rtol=1e-4)


QUICK = [
    "--preset",
    "digits",
    "--set",
    "supernet.name=supnet_darts_tiny",
    "--set",
    "method.baselines=[]",
    "--set",
    "data.train_size=128",
    "--set",
    "data.val_size=64",
    "--set",
    "data.batch_size=32",
    "--set",
    "train.epochs=1",
    "--set",
    "search.candidates=2",
    "--set",
    "bayesnas.warmup_epochs=1",
    "--set",
    "bayesnas.hessian_batches=1",
    "--no-progress",
]


@pytest.mark.slow  # 20-30 s of one CPU thread per method (minutes on a busy machine)
@pytest.mark.parametrize("method", ["darts", "balenas", "bayesnas", "pgnas", "random"])
def test_every_method_runs_on_the_darts_space(method, tmp_path):
    out = tmp_path / method
    r = run_cli("search", *QUICK, "--set", f"method.name={method}", "--out", str(out))
    assert r.returncode == 0, r.stderr[-3000:]
    from pgnas_core.supernets.genotypes import parse_genotype

    best = json.loads((out / "best.json").read_text())
    cell = best.get("cell")
    assert (out / "cell.txt").exists() == (cell is not None)
    if method in ("darts", "balenas"):  # argmax derivation: always two pairs per node
        assert parse_genotype(cell).normal_concat == [2, 3, 4, 5]
    elif cell is not None:  # channel subsets or pruning: a Genotype only when it fits
        assert len(parse_genotype(cell).normal) == 8


def test_derived_cells_print_and_parse_as_the_field_writes_them():
    from pgnas_core.supernets.genotypes import parse_genotype, parse_nb201

    net = create_supernet("supnet_darts_tiny")
    g = torch.Generator().manual_seed(3)
    chosen = [net.space.derive(torch.randn(14, 8, generator=g)) for _ in range(2)]
    text = net.cell_string(net.architecture_from_ops(chosen))
    geno = parse_genotype(text)
    assert geno.normal_concat == geno.reduce_concat == [2, 3, 4, 5]
    assert len(geno.normal) == len(geno.reduce) == 8
    assert geno.normal == [p for node in DARTS_SPACE.nodes_of(chosen[0]) for p in node]
    assert geno.reduce == [p for node in DARTS_SPACE.nodes_of(chosen[1]) for p in node]
    cell = create_supernet("supnet_cell_tiny")
    ops = ["conv_3x3", "skip_connect", "none", "avg_pool_3x3", "conv_1x1", "none"]
    text = cell.cell_string(cell.architecture_from_ops([ops]))
    assert text == (
        "|nor_conv_3x3~0|+|skip_connect~0|none~1|+|avg_pool_3x3~0|nor_conv_1x1~1|none~2|"
    )
    assert [op for node in parse_nb201(text) for op, _ in node] == ops


@pytest.mark.slow  # a few minutes on one thread
def test_darts_small_preset_leaves_a_genotype(tmp_path):
    from pgnas_core.supernets.genotypes import parse_genotype

    out = tmp_path / "run"
    r = run_cli(
        "search",
        "--preset",
        "darts_small",
        "--set",
        "method.name=balenas",
        "--out",
        str(out),
        "--no-progress",
        timeout=1800,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    geno = parse_genotype((out / "cell.txt").read_text())
    assert len(geno.normal) == len(geno.reduce) == 8 and geno.normal_concat == [2, 3, 4, 5]
    best = json.loads((out / "best.json").read_text())
    assert parse_genotype(best["cell"]) == geno
    assert "derived cell: Genotype(" in r.stdout


def test_darts_presets():
    from pgnas_core.config import resolve_config

    cfg = resolve_config("darts_cifar10")
    assert cfg.supernet.name == "supnet_darts" and cfg.data.dataset == "cifar10"
    t, d = cfg.train, cfg.darts
    assert (t.epochs, cfg.data.batch_size, t.lr, t.lr_min, t.momentum) == (50, 64, 0.025, 1e-3, 0.9)
    assert t.schedule == "cosine" and d.weight_decay == 3e-4
    assert (d.arch_lr, d.beta1, d.beta2, d.arch_weight_decay) == (3e-4, 0.5, 0.999, 1e-3)
    net = create_supernet("supnet_darts")
    assert len(net.cells()) == 8 and net.cell_type_of() == [0, 0, 1, 0, 0, 1, 0, 0]
    small = resolve_config("darts_small")
    assert small.supernet.name == "supnet_darts_small" and small.data.dataset == "fashion-mnist"


def test_an_nb201_edge_with_two_ops_has_no_arch_string():
    cell = create_supernet("supnet_cell_tiny")
    ops = [{"conv_3x3", "skip_connect"}] + ["none"] * 5
    assert cell.cell_string(cell.architecture_from_ops([ops])) is None


def test_a_darts_cell_not_of_two_pairs_per_node_has_no_genotype():
    """PGNAS and Random keep channel subsets of every op, BayesNAS whatever survives pruning:
    such a cell is no DARTS Genotype (exactly two (op, input) pairs per node), so none is
    recorded rather than one that DARTS's code would misread."""
    net = create_supernet("supnet_darts_tiny")
    assert net.cell_string(net.full_architecture()) is None
    g = torch.Generator().manual_seed(5)
    chosen = [net.space.derive(torch.randn(14, 8, generator=g)) for _ in range(2)]
    chosen[0][0] = "none"  # node 2 left with one incoming edge
    assert net.cell_string(net.architecture_from_ops(chosen)) is None
