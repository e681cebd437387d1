"""The two ways of scoring candidates, and the rule that picks one.

- ``batched``: one forward pass of the masked supernet scores K candidates at once, each
  sample row carrying its own candidate's hard mask (the images are repeated K times: rows
  ``k*B .. (k+1)*B-1`` belong to candidate k; site masks are (K*B, C)).
- ``compact``: each candidate is exported as its compact network (fewer channels, fewer
  FLOPs) and run on the images, as an evaluation copy: eval-mode BN folded into the
  preceding conv (logits move at float-rounding level; tests hold them within 1e-4), the
  family's faster equivalents (:meth:`Supernet.evaluation_module`) and, where the family
  has one, its site-free stem computed once and cached (:meth:`Supernet.shared_stem`).

Both give per-image outcomes equal to the one-candidate-at-a-time path's to float
tolerance; which is faster depends on the device and the kept fraction (``benchmarks/``
measures both; :func:`choose_engine` applies the rule they support).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..nn.fold_bn import fold_batchnorm
from ..train.precision import autocast
from .bn_recalibration import bn_statistics_kept, recalibrate_bn
from .export import export_subnet
from .sampling import sample_architecture, sample_masks

#: Below this mean keep-probability the CPU's ``auto`` picks the compact engine (above it the
#: export costs more than the FLOPs it saves).
COMPACT_KEEP_THRESHOLD = 0.95


@dataclass
class Outcomes:
    """Per-candidate, per-image results on the images evaluated so far (CPU tensors)."""

    correct: torch.Tensor  # (K, n) bool
    loss: torch.Tensor  # (K, n) float64 cross-entropy

    @staticmethod
    def empty(k: int) -> Outcomes:
        return Outcomes(torch.zeros(k, 0, dtype=torch.bool), torch.zeros(k, 0, dtype=torch.float64))

    @staticmethod
    def stack(parts: Sequence[Outcomes]) -> Outcomes:
        """Candidates of several parts, one after the other."""
        return Outcomes(torch.cat([p.correct for p in parts]), torch.cat([p.loss for p in parts]))

    def extend(self, other: Outcomes) -> Outcomes:
        """The same candidates on more images."""
        return Outcomes(
            torch.cat([self.correct, other.correct], 1), torch.cat([self.loss, other.loss], 1)
        )

    def select(self, rows) -> Outcomes:
        return Outcomes(self.correct[rows], self.loss[rows])

    def columns(self, images) -> Outcomes:
        """The same candidates on a slice of their images."""
        return Outcomes(self.correct[:, images], self.loss[:, images])


def logit_outcomes(logits: torch.Tensor, y: torch.Tensor) -> Outcomes:
    """logits (K, B, classes), y (B,) -> per-image correctness and loss, on the CPU."""
    k, b, n = logits.shape
    logits = logits.float()
    yk = y.expand(k, b)
    loss = F.cross_entropy(logits.reshape(k * b, n), yk.reshape(-1), reduction="none")
    correct = logits.argmax(-1) == yk
    return Outcomes(correct.cpu(), loss.view(k, b).double().cpu())


def stacked_masks(supernet, seeds: Sequence[int]) -> dict[str, torch.Tensor]:
    """Site name -> (K, C) hard masks of the candidates drawn with ``seeds`` (CPU, float).
    Row k is exactly :func:`~pgnas_core.rank.sampling.sample_masks` of ``seeds[k]``."""
    per = [sample_masks(supernet, s) for s in seeds]
    return {name: torch.stack([m[name] for m in per]) for name in per[0]}


def _set_row_masks(
    supernet, masks: dict[str, torch.Tensor], rows_per_candidate: int, device
) -> None:
    """Give every sample row its candidate's mask: (K, C) -> (K*B, C), candidate-major."""
    for s in supernet.sites():
        s.hard_mask = masks[s.name].to(device).repeat_interleave(rows_per_candidate, dim=0)
        s.mode = "hard"


@torch.no_grad()
def batched_outcomes(
    supernet,
    masks: dict[str, torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    image_batch: int,
    precision: str = "fp32",
) -> Outcomes:
    """Outcomes of the K candidates in ``masks`` on (x, y), K candidates per forward pass
    of ``image_batch`` images each (K * image_batch rows), in ``precision`` (fp32 | bf16).
    Leaves the sites in hard mode."""
    k = next(iter(masks.values())).shape[0]
    device = x.device
    out, last_b = Outcomes.empty(k), None
    for i in range(0, len(x), image_batch):
        xb, yb = x[i : i + image_batch], y[i : i + image_batch]
        b = len(xb)
        if b != last_b:
            _set_row_masks(supernet, masks, b, device)
            last_b = b
        xk = xb.repeat(k, *([1] * (xb.dim() - 1)))  # (K*B, C, H, W), candidate-major
        with autocast(precision, device):
            logits = supernet(xk.contiguous(memory_format=xb_layout(xb)))
        out = out.extend(logit_outcomes(logits.view(k, b, -1), yb))
    return out


def xb_layout(x: torch.Tensor) -> torch.memory_format:
    """Keep a channels-last input channels-last after a repeat (4-d inputs only)."""
    if x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last):
        return torch.channels_last
    return torch.contiguous_format


@torch.no_grad()
def module_outcomes(
    model, x: torch.Tensor, y: torch.Tensor, image_batch: int, precision: str = "fp32"
) -> Outcomes:
    """Outcomes of one network (a compact export, or the supernet in its current mode)."""
    out = Outcomes.empty(1)
    for i in range(0, len(x), image_batch):
        with autocast(precision, x.device):
            logits = model(x[i : i + image_batch])
        out = out.extend(logit_outcomes(logits[None], y[i : i + image_batch]))
    return out


@torch.no_grad()
def stem_features(supernet, x: torch.Tensor, image_batch: int) -> torch.Tensor:
    """The supernet's shared stem's output on ``x`` (eval mode), computed once per ranking."""
    stem = supernet.shared_stem()
    was_training = stem.training
    stem.eval()
    try:
        return torch.cat([stem(x[i : i + image_batch]) for i in range(0, len(x), image_batch)])
    finally:
        stem.train(was_training)


def evaluation_copy(
    supernet, compact: torch.nn.Module, fold_bn: bool = True, from_stem: bool = False
) -> torch.nn.Module:
    """What the compact engine runs (never exported): ``compact`` with BN folded and the
    family's faster equivalents; with ``from_stem`` its input is the cached stem output."""
    net = fold_batchnorm(compact, inplace=True) if fold_bn else compact
    return supernet.evaluation_module(net, from_stem).eval()


def choose_engine(supernet, device: torch.device, cfg) -> str:
    """The engine ``auto`` means: BN recalibration needs one candidate at a time (compact);
    on a GPU, K candidates per pass fill the device (batched; not measured in the session
    that wrote this); on a CPU a pass is already compute-bound (about 40-50% of a plain
    matmul's FLOP/s, benchmarks/bench_flops.py), so the compact net's fewer FLOPs win unless
    nearly every channel is kept."""
    if cfg.rank_engine != "auto":
        return cfg.rank_engine
    if cfg.bn_recalibration_batches > 0:
        return "compact"
    if device.type == "cuda":
        return "batched"
    sites = supernet.sites()
    keep = sum(s.keep_prob.item() * s.channels for s in sites) / max(
        sum(s.channels for s in sites), 1
    )
    return "compact" if keep < COMPACT_KEEP_THRESHOLD else "batched"


def use_channels_last(cfg, precision: str, x: torch.Tensor) -> bool:
    """``search.channels_last``: on, off, or auto -- on a GPU with bf16 (tensor cores want
    NHWC), off on a CPU: on the demo's compact nets at 1 thread it changed nothing measurable
    (fp32 114 vs 116 ms, bf16 70 vs 77 ms per 500 images; benchmarks/BENCHMARKS.md)."""
    if x.dim() != 4 or cfg.channels_last == "off":
        return False
    return cfg.channels_last == "on" or (precision == "bf16" and x.device.type == "cuda")


class Scorer:
    """Scores groups of candidates (by seed) on given images with one engine, in fp32 or in
    bf16 (``score(..., precision=)``; the race scores its last round in fp32).

    The compact engine keeps candidates' evaluation copies between racing rounds (bounded
    by ``cfg.compact_cache_params``) and records each candidate's (params, FLOPs) once.
    ``on_pass`` is called with the number of candidate-passes done (tests interrupt with it).
    """

    def __init__(
        self,
        engine: str,
        supernet,
        x_val: torch.Tensor,
        cfg,
        image_batch: int,
        x_train: torch.Tensor | None = None,
        recal_batch_size: int = 128,
        on_pass: Callable[[int], None] | None = None,
        size_of=None,
        precision: str = "fp32",
    ):
        self.engine, self.supernet, self.cfg, self.image_batch = engine, supernet, cfg, image_batch
        self.precision = precision  # of the screening rounds (fp32 | bf16, resolved)
        self.channels_last = use_channels_last(cfg, precision, x_val)
        self.x_train, self.recal_batch_size = x_train, recal_batch_size
        self.recal = cfg.bn_recalibration_batches
        self.on_pass, self.passes = on_pass, 0
        self.size_of = size_of  # (compact net) -> (params, flops), caching by archid
        self.per_pass = max(1, cfg.candidates_per_pass) if engine == "batched" else 1
        self.cached: dict[int, torch.nn.Module] = {}
        self.cached_params: dict[int, int] = {}
        self.stem_x = None
        if (
            engine == "compact"
            and cfg.stem_cache
            and self.recal == 0
            and supernet.shared_stem() is not None
        ):
            self.stem_x = stem_features(supernet, x_val, image_batch)  # fp32: shared by all

    def inputs(self, x: torch.Tensor, idx: torch.Tensor | None) -> torch.Tensor:
        """What the candidates take for the images ``x`` (= x_val[idx]): the images, or the
        cached stem output of those images (channels-last where the scorer uses it)."""
        if self.stem_x is not None:
            x = self.stem_x if idx is None else self.stem_x[idx.to(self.stem_x.device)]
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def score(
        self,
        group: list[int],
        xs: torch.Tensor,
        ys: torch.Tensor,
        keep: bool,
        precision: str | None = None,
    ) -> Outcomes:
        """Outcomes of the candidates ``group`` on ``xs`` (from :meth:`inputs`) in
        ``precision`` (default: the scorer's); ``keep``: keep their compact copies for a
        later round."""
        precision = precision or self.precision
        if self.engine == "batched":
            out = batched_outcomes(
                self.supernet,
                stacked_masks(self.supernet, group),
                xs,
                ys,
                self.image_batch,
                precision,
            )
        else:
            out = Outcomes.stack(
                [
                    module_outcomes(self._compact(seed, keep), xs, ys, self.image_batch, precision)
                    for seed in group
                ]
            )
        self.passes += 1
        if self.on_pass is not None:
            self.on_pass(self.passes)
        return out

    def drop(self, seed: int) -> None:
        self.cached.pop(seed, None)
        self.cached_params.pop(seed, None)

    def _compact(self, seed: int, keep: bool) -> torch.nn.Module:
        if seed in self.cached:
            return self.cached[seed]
        net = self.supernet
        arch = sample_architecture(net, seed)
        net.apply_architecture(arch)
        with bn_statistics_kept(net, self.recal > 0):
            if self.recal > 0:
                recalibrate_bn(net, self.x_train, self.recal, self.recal_batch_size)
            compact = export_subnet(net, arch)
        params, _ = self.size_of(compact, arch.archid)
        copy = evaluation_copy(net, compact, self.cfg.fold_bn, self.stem_x is not None)
        if self.channels_last:
            copy = copy.to(memory_format=torch.channels_last)
        budget = self.cfg.compact_cache_params
        if keep and sum(self.cached_params.values()) + params <= budget:
            self.cached[seed], self.cached_params[seed] = copy, params
        return copy
