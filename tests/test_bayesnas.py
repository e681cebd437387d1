"""BayesNAS against hand computations: one HARD/ARD update with a known Hessian, the diagonal
GGN against a dense computation, a pruned parent removes its children; seeded runs repeat and a
run killed in either phase resumes exactly."""

from __future__ import annotations

import math
import signal

import pandas as pd
import pytest
import torch
from torch import nn

from pgnas_core.config import resolve_config
from pgnas_core.methods import create_method
from pgnas_core.methods.base import supernet_options
from pgnas_core.methods.bayesnas import ard_update
from pgnas_core.train.curvature import diagonal_ggn, per_sample_ggn_diagonal

from cli_run import run_cli

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = [
    "supernet.name=supnet_cell_tiny",
    "method.name=bayesnas",
    "method.baselines=[]",
    "train.device=cpu",
    "data.train_size=256",
    "data.batch_size=8",
]


def test_one_ard_update_by_hand():
    """One group of two cells, one switch each: gamma 2, H/lambda (0.5, 1.5), s = (0.6, 0.8)."""
    gamma = torch.tensor([2.0], dtype=torch.float64)
    hess = torch.tensor([[0.5], [1.5]], dtype=torch.float64)
    norms = torch.tensor([math.hypot(0.6, 0.8)], dtype=torch.float64)
    membership = torch.ones(1, 2, dtype=torch.float64)
    variance, omega, new_gamma = ard_update(gamma, hess, norms, membership)
    c1, c2 = 1 / (1 / 2 + 0.5), 1 / (1 / 2 + 1.5)  # C_j = (1/gamma + H_j)^-1
    w = math.sqrt(abs(1 / 2 - c1 / 4) + abs(1 / 2 - c2 / 4))
    assert variance.flatten().tolist() == pytest.approx([c1, c2])
    assert omega.item() == pytest.approx(w)
    assert new_gamma.item() == pytest.approx(1.0 / w)


class _Switched(nn.Module):
    """logits = W2 tanh(W1 (s * x)): three scalar switches on the inputs."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.s = nn.Parameter(torch.tensor([1.0, 0.5, -0.3]))
        self.l1, self.l2 = nn.Linear(3, 5), nn.Linear(5, 4)

    def forward(self, x):
        return self.l2(torch.tanh(self.l1(self.s * x)))


def test_diagonal_ggn_equals_the_dense_one():
    net = _Switched()
    batches = [(torch.randn(6, 3), torch.zeros(6)), (torch.randn(4, 3), torch.zeros(4))]
    got = diagonal_ggn(net, {"s": net.s}, batches)["s"]
    per_batch = []
    for x, _ in batches:  # dense: every sample's Jacobian by autograd, J' (diag p - p p') J
        g = torch.zeros(3, 3)
        for xn in x:

            def f(s, xn=xn):
                return torch.func.functional_call(net, {"s": s}, (xn[None],))[0]

            j = torch.autograd.functional.jacobian(f, net.s.detach())  # (C, 3)
            p = f(net.s.detach()).softmax(0)
            g += j.T @ (torch.diag(p) - torch.outer(p, p)) @ j
        per_batch.append(torch.diagonal(g) / len(x))
    assert torch.allclose(got, torch.stack(per_batch).mean(0), atol=1e-6)
    assert torch.allclose(diagonal_ggn(net, {"s": net.s}, batches, chunk_size=4)["s"], got)


def test_the_per_sample_switch_route_equals_torch_func():
    """What BayesNAS runs (per-sample switch copies, C backward passes) against the
    torch.func route checked above, on the tiny cell supernet with switches away from 1."""
    method, net = _method_and_net()
    torch.manual_seed(1)
    with torch.no_grad():
        net.gating.parent.uniform_(0.5, 1.5)
        net.gating.child.uniform_(0.5, 1.5)
        for m in net.modules():  # statistics of these inputs, so the logits are not saturated
            if isinstance(m, nn.BatchNorm2d):
                m.momentum = None
        net.train()
        net(torch.randn(64, 1, 8, 8))
    batches = [(torch.randn(5, 1, 8, 8), None), (torch.randn(3, 1, 8, 8), None)]
    switches = {"gating.parent": net.gating.parent, "gating.child": net.gating.child}
    ref = diagonal_ggn(net, switches, batches)
    got = per_sample_ggn_diagonal(net, net.gating.per_sample, batches)
    for name, want in ref.items():
        assert want.abs().max() > 1e-4, name  # a real curvature, not a vanishing one
        assert torch.allclose(got[name], want, rtol=1e-4, atol=1e-7), name


def _method_and_net():
    cfg = resolve_config("digits", None, TINY)
    method = create_method("bayesnas", cfg)
    from pgnas_core.data import load_data

    net = method.create(supernet_options(cfg, load_data(cfg.data).info))
    return method, net


def test_a_pruned_parent_removes_its_children():
    method, net = _method_and_net()
    method.gamma["child"].fill_(1.0)
    method.gamma["parent"].fill_(1.0)
    method.gamma["parent"][0, 2] = 1e-6  # edge 2<-1: its parent is irrelevant
    method.gamma["child"][0, 2] = 1.0  # even with relevant children of its own
    kept = method.kept(net)
    assert not kept["parent"][0, 2] and not kept["child"][0, 2].any()
    assert kept["child"][0, [0, 1, 3, 4, 5]].all()
    arch = method.architecture(net, kept)
    ops = net.ops_of(arch)
    assert all(cell[2] == () for cell in ops)  # the edge is "none" in every cell
    assert all(len(cell[0]) == 4 for cell in ops)  # the other edges keep every op
    # magnitude pruning ignores the prior: it keeps the children of that edge
    by_norm = method.kept(net, by="magnitude")
    assert by_norm["child"][0, 2].all()


def test_equal_sparsity_keeps_the_top_children():
    method, net = _method_and_net()
    method.gamma["child"] = torch.arange(24, dtype=torch.float32).view(1, 6, 4) + 1
    kept = method.kept(net, keep_children=5)
    assert int(kept["child"].sum()) == 5
    assert kept["child"].flatten()[-5:].all()  # the five most relevant


@pytest.mark.parametrize("how", ["mean", "batch", "data"])
def test_the_hessian_scale_multiplies_the_mean_ggn(how, monkeypatch):
    """H_j = diag GGN (of the mean CE) x 1 | batch size | the switch split's size, / lambda."""
    import pgnas_core.methods.bayesnas as bn

    method, net = _method_and_net()
    method.settings.hessian_scale = how
    from pgnas_core.data import load_data

    data = load_data(method.cfg.data)
    n = len(method.training_split(data))
    ggn = {"gating.parent": torch.full_like(net.gating.parent, 0.01)}
    ggn["gating.child"] = torch.full_like(net.gating.child, 0.01)
    monkeypatch.setattr(bn, "per_sample_ggn_diagonal", lambda *a: ggn)
    method.update_priors(net, [])
    scale = {"mean": 1, "batch": method.cfg.data.batch_size, "data": n}[how]
    h = 0.01 * scale / method.settings.lam
    assert method.variance["parent"].flatten()[0].item() == pytest.approx(1 / (1 + h))


def test_the_switches_learning_rate_scale():
    method, net = _method_and_net()
    method.settings.switch_lr_scale = 10.0
    groups = {g["name"]: g for g in method.param_groups(net)}
    assert groups["switches"]["lr"] == pytest.approx(10 * groups["weights"]["lr"])
    assert "switch_lr_scale=10" in method.step_settings()["switches"]


def _cli(out, *extra, kill_after=None):
    sets = [*TINY, "bayesnas.warmup_epochs=2", "train.checkpoint_every_steps=1"]
    args = [a for s in sets for a in ("--set", s)]
    return run_cli(
        "search",
        "--preset",
        "digits",
        "--no-progress",
        *args,
        "--out",
        str(out),
        *extra,
        kill_after=kill_after,
    )


def _same(a, b):
    for name in ("switches.csv", "history.csv", "best.json"):
        ta, tb = (a / name).read_text(), (b / name).read_text()
        if name == "history.csv":  # but the seconds column
            ta, tb = (pd.read_csv(p).drop(columns="seconds") for p in (a / name, b / name))
            pd.testing.assert_frame_equal(ta, tb)
        else:
            assert ta == tb, name
    last = sorted((a / "checkpoints").glob("epoch_0003.pt"))[0].name
    sa = torch.load(a / "checkpoints" / last, weights_only=True)
    sb = torch.load(b / "checkpoints" / last, weights_only=True)
    for k in sa["model"]:
        assert torch.equal(sa["model"][k], sb["model"][k]), k
    for level in ("parent", "child"):
        assert torch.equal(sa["method_state"]["gamma"][level], sb["method_state"]["gamma"][level])


@pytest.mark.slow
def test_seeded_runs_repeat_and_kills_in_either_phase_resume_exactly(tmp_path):
    ref, again = tmp_path / "ref", tmp_path / "again"
    for out in (ref, again):
        r = _cli(out)
        assert r.returncode == 0, r.stderr
    _same(ref, again)
    switches = pd.read_csv(ref / "switches.csv")
    assert sorted(switches["epoch"].unique()) == [0, 1, 2, 3]
    last = switches[switches["epoch"] == 3]
    assert last["variance"].notna().all() and (last["gamma"] != 1).any()  # updated once
    # warm-up: 26 images in batches of 8 (4 steps per pass); phase B: 230 images (29 steps)
    for name, at in (("warmup", "train:2"), ("phase_b", "train:18")):
        out = tmp_path / name
        r = _cli(out, kill_after=at)
        assert r.returncode == -signal.SIGKILL, r.stderr
        r = _cli(out, "--resume")
        assert r.returncode == 0, r.stderr
        _same(ref, out)
