"""DARTS and BaLeNAS on the cell space, against hand computations: one Vadam update, sigma = 0
with Adam is DARTS step for step, the training-free proxies by a second route; a seeded run
is reproducible and a run killed mid-search resumes exactly."""

from __future__ import annotations

import json
import math
import signal

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from pgnas_core.config import resolve_config
from pgnas_core.data import load_data
from pgnas_core.methods import create_method
from pgnas_core.methods.balenas import vadam_update
from pgnas_core.rank.proxies import grad_norm, naswot, synflow
from pgnas_core.run.run_dir import MethodDir
from pgnas_core.supernets.genotypes import parse_nb201
from pgnas_core.supernets.spaces import NB201_SPACE as SPACE
from pgnas_core.train.loop import Training

from cli_run import run_cli

pytestmark = pytest.mark.usefixtures("one_thread")

CELL = [
    "supernet.name=supnet_cell_tiny",
    "method.baselines=[]",
    "train.device=cpu",
    "data.train_size=256",
    "data.batch_size=32",
]


def test_one_vadam_update_by_hand():
    """The Vadam step (docs/method_siblings.md section 4) on two numbers, with plain floats."""
    mu = torch.tensor([0.5, -1.0], dtype=torch.float64)
    m = torch.tensor([0.1, 0.0], dtype=torch.float64)
    s = torch.tensor([0.02, 0.5], dtype=torch.float64)
    g = torch.tensor([0.3, -0.2], dtype=torch.float64)
    g2 = torch.tensor([0.1, 0.05], dtype=torch.float64)  # the mean of squares over S samples
    eta, b1, b2, lam, n, step = 0.01, 0.5, 0.999, 4.0, 100, 3
    want = []
    for i in range(2):
        tl = lam / n
        m_i = b1 * m[i].item() + (1 - b1) * (g[i].item() + tl * mu[i].item())
        s_i = b2 * s[i].item() + (1 - b2) * g2[i].item()
        m_hat, s_hat = m_i / (1 - b1**step), s_i / (1 - b2**step)
        want.append((mu[i].item() - eta * m_hat / (math.sqrt(s_hat) + tl), m_i, s_i))
    vadam_update(mu, m, s, g, g2, step, eta, b1, b2, lam, n)
    for i, (mu_i, m_i, s_i) in enumerate(want):
        assert mu[i].item() == pytest.approx(mu_i, rel=1e-12)
        assert m[i].item() == pytest.approx(m_i, rel=1e-12)
        assert s[i].item() == pytest.approx(s_i, rel=1e-12)


def _training(tmp_path, method, *overrides):
    cfg = resolve_config("digits", None, [*CELL, *overrides])
    data = load_data(cfg.data)
    m = create_method(method, cfg)
    files = MethodDir(tmp_path, method).training_files(m)
    return Training(m, data, cfg.train, cfg.data, files, progress=False, on_step=None)


def test_balenas_with_sigma_zero_and_adam_is_darts_step_for_step(tmp_path):
    darts = _training(tmp_path / "d", "darts", "darts.arch_lr=0.01", "train.epochs=2")
    n_v = darts.method.n_arch
    bal = _training(
        tmp_path / "b",
        "balenas",
        "balenas.optimizer=adam",
        "balenas.sigma0=0",
        "balenas.eta=0.01",
        f"balenas.lambda0={1e-3 * n_v}",
        "train.epochs=2",
    )
    assert torch.equal(darts.net.gating.alpha, bal.net.gating.alpha)  # the same start
    trajectories = []
    for run in (darts, bal):
        alphas = []
        run.on_step = lambda _, run=run, alphas=alphas: alphas.append(
            run.net.gating.alpha.detach().clone()
        )
        for epoch in (1, 2):
            run.train_epoch(epoch, {"stop": False})
        trajectories.append(alphas)
    assert len(trajectories[0]) == 2 * darts.steps
    for step, (a, b) in enumerate(zip(*trajectories)):
        assert torch.equal(a, b), step
    assert not torch.equal(trajectories[0][0], trajectories[0][-1])  # alpha did move
    for p, q in zip(darts.net.parameters(), bal.net.parameters()):
        assert torch.equal(p, q)


def test_balenas_sigma_follows_its_precision(tmp_path):
    run = _training(tmp_path, "balenas", "balenas.sigma0=0.2", "train.epochs=1")
    sigma = run.method.sigma(run.net)
    assert torch.allclose(sigma, torch.tensor(0.2))  # starts at sigma0
    stop = {"stop": False}
    run.train_epoch(1, stop)
    v = run.method.vadam
    want = 1 / (run.method.n_arch * v["s"] + run.method.lambda0).sqrt()
    assert torch.allclose(run.method.sigma(run.net), want)
    assert not torch.allclose(run.method.sigma(run.net), torch.tensor(0.2))


def test_balenas_with_ivon_starts_at_sigma0_and_learns(tmp_path):
    """optimizer=ivon: IVON's Hessian estimate starts where sigma0 says, then moves with the
    data, and the architecture means move."""
    run = _training(
        tmp_path, "balenas", "balenas.optimizer=ivon", "balenas.sigma0=0.2", "train.epochs=1"
    )
    assert torch.allclose(run.method.sigma(run.net), torch.tensor(0.2))
    before = run.net.gating.alpha.detach().clone()
    run.train_epoch(1, {"stop": False})
    sigma = run.method.sigma(run.net)
    assert sigma.isfinite().all() and not torch.allclose(sigma, torch.tensor(0.2))
    assert not torch.allclose(run.net.gating.alpha.detach(), before)


def test_the_dominant_hessian_eigenvalue_of_a_quadratic():
    """0.5 x'Ax + b'x with a known spectrum (2, -5, 1): the largest magnitude is -5."""
    from pgnas_core.train.curvature import dominant_hessian_eigenvalue

    q, _ = torch.linalg.qr(torch.randn(3, 3, generator=torch.Generator().manual_seed(3)))
    a = q @ torch.diag(torch.tensor([2.0, -5.0, 1.0])) @ q.T
    b = torch.tensor([0.3, -0.2, 0.1])

    def loss(x):
        return 0.5 * x @ a @ x + b @ x

    value = dominant_hessian_eigenvalue(loss, torch.zeros(3), iters=60)
    assert value == pytest.approx(-5.0, rel=1e-4)


# ---- the proxies, against hand computations ----------------------------------------------------
def _two_layers(bias: bool):
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4, bias=bias), nn.ReLU(), nn.Linear(4, 2, bias=bias))


def test_naswot_is_the_log_determinant_of_the_hamming_kernel():
    net = _two_layers(True)
    x = torch.randn(5, 3)
    codes = (net[0](x) > 0).numpy().astype(int)  # the ReLU's on/off pattern per input
    units = codes.shape[1]
    k = np.array([[units - np.sum(a != b) for b in codes] for a in codes], dtype=float)
    want = np.linalg.slogdet(k)[1]
    assert naswot(net, x) == pytest.approx(want, rel=1e-9)


def test_synflow_of_a_linear_net_by_hand():
    net = _two_layers(False)
    w1, w2 = net[0].weight.detach().abs().double(), net[2].weight.detach().abs().double()
    # R = 1' |W2| relu(|W1| 1) = 1' |W2| |W1| 1 (all positive):
    # dR/dW1 = |W2|'1 1', dR/dW2 = 1 (|W1| 1)'
    d1 = w2.sum(0)[:, None] * torch.ones(1, 3, dtype=torch.float64)
    d2 = torch.ones(2, 1, dtype=torch.float64) * (w1 @ torch.ones(3, dtype=torch.float64))[None]
    want = float((w1 * d1).sum() + (w2 * d2).sum())
    assert synflow(net, (3,)) == pytest.approx(want, rel=1e-12)


def test_grad_norm_by_torch_func():
    net = _two_layers(True)
    x, y = torch.randn(6, 3), torch.tensor([0, 1, 1, 0, 1, 0])
    params = {k: v.detach() for k, v in net.named_parameters()}

    def loss(p):
        out = torch.func.functional_call(net, p, (x,))
        return torch.nn.functional.cross_entropy(out, y)

    grads = torch.func.grad(loss)(params)
    want = float(grads["0.weight"].norm() + grads["2.weight"].norm())
    assert grad_norm(net, x, y) == pytest.approx(want, rel=1e-6)


# ---- runs from the command line ---------------------------------------------------------------
def _cli(out, method, *extra, kill_after=None):
    sets = [*CELL, f"method.name={method}", "train.epochs=2", "train.checkpoint_every_steps=1"]
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


def _same_run(a, b):
    for name in ("arch_params.csv", "derived.csv", "best.json"):
        ta, tb = (a / name).read_text(), (b / name).read_text()
        if name == "best.json":
            assert ta == tb
        else:
            assert ta == tb, name
    sa = torch.load(a / "checkpoints" / "epoch_0002.pt", weights_only=True)
    sb = torch.load(b / "checkpoints" / "epoch_0002.pt", weights_only=True)
    for k in sa["model"]:
        assert torch.equal(sa["model"][k], sb["model"][k]), k


@pytest.mark.slow
@pytest.mark.parametrize("method", ["darts", "balenas"])
def test_seeded_runs_repeat_and_a_kill_mid_search_resumes_exactly(tmp_path, method):
    ref, again = tmp_path / "ref", tmp_path / "again"
    for out in (ref, again):
        r = _cli(out, method)
        assert r.returncode == 0, r.stderr
    _same_run(ref, again)
    # after a whole step (epoch 2, step 2 of 4: 128 images each half), and inside step 7:
    # alpha has taken its step, the weights have not, nothing of the step is saved
    for at in ("train:6", "arch:7"):
        killed = tmp_path / at.replace(":", "_")
        r = _cli(killed, method, kill_after=at)
        assert r.returncode == -signal.SIGKILL, r.stderr
        assert not (killed / "checkpoints" / "epoch_0002.pt").exists()
        r = _cli(killed, method, "--resume")
        assert r.returncode == 0, r.stderr
        _same_run(ref, killed)
    params = pd.read_csv(ref / "arch_params.csv")
    assert sorted(params["epoch"].unique()) == [0, 1, 2] and set(params["op"]) == set(SPACE.ops)
    cell = (ref / "cell.txt").read_text().strip()  # the NAS-Bench-201 arch string
    assert len(parse_nb201(cell)) == 3
    assert json.loads((ref / "best.json").read_text())["cell"] == cell
    if method == "balenas":
        assert "sigma" in params and (params["sigma"] > 0).all()
