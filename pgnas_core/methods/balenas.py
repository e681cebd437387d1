"""BaLeNAS (Zhang et al., CVPR 2022; docs/method_siblings.md sections 3-4): a Gaussian q(alpha) =
N(mu, sigma^2) over the architecture logits, learned by natural-gradient VI with the Bayesian
learning rule in its Adam-like (Vadam) form; the mixed edges read a sample of q.

Each architecture step draws S samples ``alpha~ = mu + sigma * eps``, takes the validation-half
loss gradient ``g`` at each, and updates (``balenas.optimizer=vadam``)::

    sigma = 1 / sqrt(N_v * s + lambda0)
    m <- b1 m + (1 - b1) (g + lambda0 / N_v * mu)        (g: the mean over the S samples)
    s <- b2 s + (1 - b2) g^2                              (g^2: the mean of the squares)
    mu <- mu - eta * m_hat / (sqrt(s_hat) + lambda0 / N_v)   (hats: bias-corrected)

with ``s`` starting where sigma = sigma0 (as the reference Vadam code starts it). Alternatives:
``ivon`` (IVON, the same family's maintained optimiser, package ivon-opt) and ``adam`` (sigma
fixed at sigma0, Adam on mu: with sigma0 = 0 this is DARTS exactly, the ablation that shows
what the Bayesian treatment adds; tests/test_differentiable.py checks it).

Derivation (``balenas.derive``): ``argmax`` of mu per edge (BaLeNAS); ``tf``: K architectures
drawn from q, each scored by a training-free proxy on one batch of training images, the best
kept (BaLeNAS-TF); ``rank`` (ours): the K samples ranked on validation accuracy with the
supernet's weights, as PGNAS ranks its candidates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd
import torch

from ..data import stack_split
from ..errors import ConfigError, PgnasError, check_field
from ..nn.flops import count_flops, count_params
from ..rank import export_subnet
from ..rank.proxies import PROXIES, proxy_score, reinitialise
from ..settings import SEED_MAX, Range, check_settings, setting
from ..train.evaluation import evaluate
from .base import DeriveContext, Derived, Exported
from .differentiable import BilevelSettings, DifferentiableMethod
from .registry import register_method

OPTIMIZERS = ("vadam", "ivon", "adam")
DERIVES = ("argmax", "tf", "rank")
WEIGHTS_AT = ("mean", "sample")


@dataclass
class BalenasConfig(BilevelSettings):
    """BaLeNAS's settings: a Gaussian over alpha learned by the Bayesian learning rule, and
    how an architecture is derived from it.

    The paper's numbers for these defaults are unverified."""

    optimizer: str = setting(
        "vadam",
        "vadam (the Bayesian learning rule) | ivon | adam (sigma fixed at sigma0)",
        choices=OPTIMIZERS,
    )
    eta: float = setting(
        3e-4, "learning rate of mu (3e-3 for minutes-long CPU runs)", bounds=Range(0, 1, "(]")
    )
    lambda0: float | None = setting(
        None,
        "prior precision of alpha",
        bounds=Range(0, 1e9, "(]"),
        null="1e-3 times the architecture half's size, DARTS's decay",
    )
    sigma0: float = setting(
        0.1,
        "initial standard deviation of q (> 0 unless optimizer=adam, which keeps it fixed)",
        bounds=Range(0, 10),
    )
    samples: int = setting(1, "S: samples of alpha per architecture step", bounds=Range(1, 1000))
    weights_at: str = setting(
        "mean", "the weight step's alpha: mean (mu) | sample (a draw of q)", choices=WEIGHTS_AT
    )
    derive: str = setting(
        "argmax",
        "argmax (BaLeNAS) | tf (BaLeNAS-TF) | rank (ours: val accuracy)",
        choices=DERIVES,
    )
    proxy: str = setting("naswot", "derive=tf: the training-free proxy", choices=PROXIES)
    k: int = setting(
        100, "derive=tf / rank: architectures drawn from q", bounds=Range(1, 1_000_000)
    )
    proxy_batch: int = setting(
        64, "derive=tf: training images the proxy sees", bounds=Range(1, 100_000)
    )
    proxy_seed: int = setting(
        0,
        "derive=tf: seeds the initialisation the proxies score (and the batch drawn)",
        bounds=Range(0, SEED_MAX),
    )

    def validate(self) -> BalenasConfig:
        check_settings(self, "balenas")
        check_field(
            "balenas.sigma0",
            self.sigma0,
            self.sigma0 > 0 or self.optimizer == "adam",
            "a number > 0 and <= 10 (>= 0 with optimizer adam)",
        )
        if self.optimizer != "adam" and self.lambda0 is not None:
            # q's precision N_v s + lambda0 is at least the prior's: sigma0 <= 1/sqrt(lambda0)
            check_field(
                "balenas.sigma0",
                self.sigma0,
                self.sigma0 < 1 / math.sqrt(self.lambda0),
                f"a number below 1/sqrt(balenas.lambda0) = {1 / math.sqrt(self.lambda0):.4g}",
            )
        return self


def vadam_update(mu, m, s, g, g2, step: int, eta, b1, b2, lambda0, n):
    """One Vadam step in place (the update above); ``step`` counts from 1."""
    tl = lambda0 / n
    m.mul_(b1).add_((1 - b1) * (g + tl * mu))
    s.mul_(b2).add_((1 - b2) * g2)
    m_hat = m / (1 - b1**step)
    s_hat = s / (1 - b2**step)
    mu.sub_(eta * m_hat / (s_hat.sqrt() + tl))


@register_method
class BaLeNAS(DifferentiableMethod):
    name = "balenas"
    capabilities = frozenset({"posterior_samples", "epoch_architectures"})
    settings_section = "balenas"
    settings_class = BalenasConfig
    arch_step_field = "eta"
    description = "Gaussian over alpha by the Bayesian learning rule; argmax, or K samples + proxy"
    export_help = "it exports the argmax cell of mu, or K draws of q(alpha) with --sample K"

    @property
    def lambda0(self) -> float:
        s = self.settings
        return s.lambda0 if s.lambda0 is not None else 1e-3 * self.n_arch

    # ---- the Gaussian's optimiser ---------------------------------------------------------
    def make_arch_optimizer(self, net):
        s, alpha = self.settings, net.gating.alpha
        n, lam = self.n_arch, self.lambda0
        if s.optimizer == "adam":
            return torch.optim.Adam(
                [alpha], lr=s.eta, betas=(s.beta1, s.beta2), weight_decay=lam / n
            )
        if 1 / s.sigma0**2 <= lam:
            raise PgnasError(
                f"balenas.sigma0={s.sigma0} is wider than the prior allows "
                f"(lambda0={lam:g}): use sigma0 < {1 / math.sqrt(lam):.4g}"
            )
        if s.optimizer == "ivon":
            import ivon

            h0 = 1 / (n * s.sigma0**2) - lam / n  # sigma0 = 1 / sqrt(N_v (h0 + lambda0/N_v))
            return ivon.IVON(
                [alpha],
                lr=s.eta,
                ess=n,
                hess_init=h0,
                beta1=s.beta1,
                beta2=s.beta2,
                weight_decay=lam / n,
                mc_samples=s.samples,
            )
        self.vadam = {
            "m": torch.zeros_like(alpha.detach()),
            "s": torch.full_like(alpha.detach(), (1 / s.sigma0**2 - lam) / n),
            "step": 0,
        }
        return None

    def sigma(self, net) -> torch.Tensor:
        s = self.settings
        if getattr(self, "arch_optimizer", None) is None and not hasattr(self, "vadam"):
            return self._saved_sigma  # a trained run loaded back (no optimiser built)
        if s.optimizer == "adam":
            return torch.full_like(net.gating.alpha.detach(), s.sigma0)
        if s.optimizer == "ivon":
            group = self.arch_optimizer.param_groups[0]
            hess = group["hess"].view_as(net.gating.alpha)
            return 1 / (group["ess"] * (hess + group["weight_decay"])).sqrt()
        return 1 / (self.n_arch * self.vadam["s"] + self.lambda0).sqrt()

    def arch_step(self, net, x, y) -> None:
        s, alpha = self.settings, net.gating.alpha
        if s.optimizer == "ivon":
            for _ in range(s.samples):
                with self.arch_optimizer.sampled_params(train=True):
                    alpha.grad = self.arch_loss_grad(net, x, y, alpha)
            self.arch_optimizer.step()
        else:
            sigma = self.sigma(net)
            grads = []
            for _ in range(s.samples):
                sample = (alpha.detach() + sigma * torch.randn_like(sigma)).requires_grad_()
                grads.append(self.arch_loss_grad(net, x, y, sample))
            g = torch.stack(grads).mean(0)
            if s.optimizer == "adam":
                alpha.grad = g
                self.arch_optimizer.step()
            else:
                v = self.vadam
                v["step"] += 1
                with torch.no_grad():
                    vadam_update(
                        alpha,
                        v["m"],
                        v["s"],
                        g,
                        torch.stack(grads).pow(2).mean(0),
                        v["step"],
                        s.eta,
                        s.beta1,
                        s.beta2,
                        self.lambda0,
                        self.n_arch,
                    )
        alpha.grad = None
        if s.weights_at == "sample":  # the weight step that follows reads a draw of q
            net.gating.use(alpha.detach() + self.sigma(net) * torch.randn_like(alpha))

    def state_dict(self) -> dict:
        s = self.settings
        state = {"n_arch": self.n_arch, "sigma": self.sigma(self._net).clone()}
        if s.optimizer == "vadam":
            state["vadam"] = dict(self.vadam)
        else:
            state["arch_optimizer"] = self.arch_optimizer.state_dict()
        if s.optimizer == "ivon":
            state["ivon_step"] = self.arch_optimizer.current_step
        return state

    def load_state_dict(self, state: dict) -> None:
        """Restores the optimiser when training; for a run loaded back only sigma (and
        N_v) are needed, to sample from q."""
        self.n_arch = state.get("n_arch", getattr(self, "n_arch", None))
        self._saved_sigma = state.get("sigma")
        training = getattr(self, "arch_optimizer", None) is not None or hasattr(self, "vadam")
        if not training:
            return
        if "vadam" in state:
            self.vadam = {
                k: (v.clone() if torch.is_tensor(v) else v) for k, v in state["vadam"].items()
            }
        if "arch_optimizer" in state:
            self.arch_optimizer.load_state_dict(state["arch_optimizer"])
        if "ivon_step" in state:
            self.arch_optimizer.current_step = state["ivon_step"]

    # ---- derivation ---------------------------------------------------------------------
    def derive(self, net, data, ctx: DeriveContext) -> Derived:
        s = self.settings
        if s.derive == "argmax":
            return super().derive(net, data, ctx)
        table = self.score_samples(
            net, data, s.k, [s.proxy] if s.derive == "tf" else [], with_val=s.derive == "rank"
        )
        score = s.proxy if s.derive == "tf" else "val_acc"
        best = table.sort_values([score, "sample"], ascending=[False, True]).iloc[0]
        arch = self._samples[int(best["sample"])]
        selection = {
            "candidate": int(best["sample"]),
            "candidates": len(table),
            "selected_by": score,
        }
        derived = self.derived_from(net, data, arch, tables={"candidates": table})
        derived.selection.update({k: v for k, v in selection.items() if k != "selected_by"})
        return derived

    def export_samples(self, net, data, k: int) -> list[Exported]:
        """``k`` architectures drawn from q(alpha) (argmax of each draw), the draws of
        ``derive: tf / rank`` (``balenas.proxy_seed``), each with BN recalibrated for it."""
        if k < 1:
            raise ConfigError("--sample", k, "an integer >= 1")
        seed = self.settings.proxy_seed
        return [
            Exported(
                f"subnet_sample{i}",
                self.compact(net, data, arch),
                arch,
                {"derived": "sample of q(alpha)", "sample": i, "samples": k, "sample_seed": seed},
                f"draw {i} of q(alpha)",
            )
            for i, arch in enumerate(self.sample_architectures(net, k, seed))
        ]

    def sample_architectures(self, net, k: int, seed: int = 0):
        """``k`` architectures drawn from q: alpha ~ N(mu, sigma^2), each derived as the
        space derives alpha (argmax per edge; DARTS: top-2 edges per node)."""
        mu, sigma = net.gating.alpha.detach(), self.sigma(net)
        g = torch.Generator().manual_seed(seed)
        archs = []
        for _ in range(k):
            a = mu + sigma * torch.randn(mu.shape, generator=g).to(mu)
            archs.append(net.architecture_from_ops([net.space.derive(row) for row in a]))
        return archs

    def score_samples(
        self,
        net,
        data,
        k: int,
        proxies=PROXIES,
        with_val: bool = True,
        with_test: bool = False,
        scratch_epochs: int = 0,
    ) -> pd.DataFrame:
        """One row per architecture drawn from q: its proxies (at initialisation, on one
        batch of training images), its validation (and test) accuracy with the supernet's
        weights, and with ``scratch_epochs`` its test accuracy after training from fresh
        weights (``test_acc_scratch``). Architectures drawn twice are scored once."""
        s = self.settings
        self.bind_data(data)
        self._samples = self.sample_architectures(net, k, s.proxy_seed)
        device = next(net.parameters()).device
        xb, yb = self._proxy_batch(data, device)
        splits = {"val": stack_split(data.val)} if with_val else {}
        if with_test:
            splits["test"] = stack_split(data.test)
        rows, seen = [], {}
        for i, arch in enumerate(self._samples):
            if arch.archid in seen:
                rows.append({**rows[seen[arch.archid]], "sample": i})
                continue
            seen[arch.archid] = len(rows)
            with self.derived_mode(net, arch):  # its own BN statistics
                compact = export_subnet(net, arch)
            ops = [op for cell in net.ops_of(arch)[:1] for op in cell]  # the first cell
            row = {
                "sample": i,
                "archid": arch.archid,
                "params": count_params(compact),
                "flops": count_flops(compact, tuple(xb.shape[1:])),
                "param_free_fraction": _param_free(net, arch),
                "ops": " ".join("+".join(o) or "none" for o in ops),
            }
            fresh = reinitialise(compact, s.proxy_seed)
            for p in proxies:
                row[p] = proxy_score(p, fresh, xb, yb)
            for name, (x, y) in splits.items():
                row[f"{name}_acc"] = evaluate(compact, x, y, self.cfg.data.eval_batch_size)["acc"]
            if scratch_epochs > 0:
                row["test_acc_scratch"] = self.scratch_accuracy(compact, data, scratch_epochs)
            rows.append(row)
        return pd.DataFrame(rows)

    def _proxy_batch(self, data, device):
        x, y = stack_split(self.training_split(data))  # un-augmented training images
        g = torch.Generator().manual_seed(self.settings.proxy_seed)
        idx = torch.randperm(len(x), generator=g)[: self.settings.proxy_batch]
        return x[idx].to(device), y[idx].to(device)


def _param_free(net, arch) -> float:
    chosen = [ops for cell in net.ops_of(arch) for ops in cell]
    return sum(len(o) == 1 and o[0] in net.space.param_free for o in chosen) / len(chosen)
