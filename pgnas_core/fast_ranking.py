"""Fast candidate ranking (Algorithm 1, step 3): many candidates per pass, racing, resumable.

The simple path (:func:`pgnas_core.ranking.rank_candidates`) evaluates one candidate at a time
on the whole validation split. Here the same numbers are computed faster:

- **Engines.** ``batched``: one forward pass of the masked supernet scores K candidates at
  once, each sample row carrying its own candidate's hard mask (the val images are repeated K
  times: rows ``k*B .. (k+1)*B-1`` belong to candidate k; site masks are (K*B, C)).
  ``compact``: each candidate is exported as its compact network (fewer channels, fewer
  FLOPs) and run on the images. Both give per-image outcomes equal to the simple path's to
  float tolerance; which one is faster depends on the device and the kept fraction
  (``benchmarks/`` measures both; ``auto`` applies the rule they support, see
  :func:`choose_engine`). Params and FLOPs columns come from the compact export, FLOPs
  counted with forward hooks (:func:`conv_linear_flops`, equal to ``count_flops``).
- **Racing.** ``rank="racing"``: successive rounds over growing samples of the validation
  split (``first_chunk`` images, then ``growth`` times more each round), drawn within
  strata of the posterior-mean network's margin so the contested images come first; after
  each round a candidate is dropped when a paired test on the round's fresh images says the
  leader beats it on the whole split. The statistics, and why the chance of dropping the
  best candidate stays below ``delta``, are in :mod:`pgnas_core.racing`. Survivors run to
  the end of the split, so every survivor's accuracy -- the winner's included -- is a
  full-split number; eliminated rows carry their partial accuracy, ``evaluated_images`` and
  ``eliminated_round``. The compact engine keeps survivors' compact nets between rounds
  (bounded by ``compact_cache_params``). ``rank="exhaustive"`` scores every candidate on
  every image.
- **Evaluation copies** (compact engine): the stem, which has no dropout site and is the
  same in every candidate, runs once on the split and candidates start from its cached
  output (``stem_cache``; ResNetBody-shaped supernets, others fall back to the full
  forward); eval-mode BN is folded into the preceding conv (``fold_bn``: logits move at
  float-rounding level, tests hold them within 1e-4); the exported subnets keep their BN.
- **Batch-norm recalibration** (off by default, as in the paper): before scoring, a
  candidate's BN statistics are re-estimated on a few training batches under its mask.
- **Resumable.** Finished rows are appended to a partial CSV (flushed) and the race state is
  saved after every round; a rerun with the same ``partial_path`` skips finished candidates.
- **Devices.** The validation tensors stay on the net's device; on CUDA, channels-last and
  bf16 autocast are used for the batched engine (``gpu_fast``). The CPU path is fp32 and
  contiguous: its numbers are those of the simple path.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import pandas as pd
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .export import export_subnet
from .flops import count_params
from .racing import (RacePlan, margin_strata, paired_spread, round_sizes, round_z,
                     stratified_eliminations)
from .sampling import sample_masks

RANK_METHODS = ("exhaustive", "racing")
ENGINES = ("auto", "batched", "compact")

#: Columns of the fast ranker's table: the simple path's, then the racing bookkeeping.
FAST_COLUMNS = ["candidate", "seed", "archid", "val_acc", "val_loss", "params", "flops",
                "kept_fraction", "dropped_ops", "ops", "evaluated_images", "eliminated_round"]

PARTIAL_FILE, RACE_STATE_FILE = "candidates.partial.csv", "candidates.race.pt"
RACE_ORDER_SEED = 0  # racing visits each stratum of the split in this seeded random order


# ---- candidate masks -------------------------------------------------------------------------
def stacked_masks(supernet, seeds: Sequence[int]) -> dict[str, torch.Tensor]:
    """Site name -> (K, C) hard masks of the candidates drawn with ``seeds`` (CPU, float).

    Row k is exactly :func:`pgnas_core.sampling.sample_masks` of ``seeds[k]``.
    """
    per = [sample_masks(supernet, s) for s in seeds]
    return {name: torch.stack([m[name] for m in per]) for name in per[0]}


def _set_row_masks(supernet, masks: dict[str, torch.Tensor], rows_per_candidate: int,
                   device) -> None:
    """Give every sample row its candidate's mask: (K, C) -> (K*B, C), candidate-major."""
    for s in supernet.sites():
        m = masks[s.name].to(device)
        s.hard_mask = m.repeat_interleave(rows_per_candidate, dim=0)  # (K*B, C)
        s.mode = "hard"


# ---- per-image outcomes -------------------------------------------------------------------
@dataclass
class Outcomes:
    """Per-candidate, per-image results on the images evaluated so far (CPU tensors)."""

    correct: torch.Tensor  # (K, n) bool
    loss: torch.Tensor  # (K, n) float64 cross-entropy

    @staticmethod
    def empty(k: int) -> "Outcomes":
        return Outcomes(torch.zeros(k, 0, dtype=torch.bool), torch.zeros(k, 0, dtype=torch.float64))

    def extend(self, other: "Outcomes") -> "Outcomes":
        return Outcomes(torch.cat([self.correct, other.correct], 1),
                        torch.cat([self.loss, other.loss], 1))

    def select(self, rows) -> "Outcomes":
        return Outcomes(self.correct[rows], self.loss[rows])


def _logit_outcomes(logits: torch.Tensor, y: torch.Tensor) -> Outcomes:
    """logits (K, B, classes), y (B,) -> per-image correctness and loss, on the CPU."""
    k, b, n = logits.shape
    logits = logits.float()
    yk = y.expand(k, b)
    loss = F.cross_entropy(logits.reshape(k * b, n), yk.reshape(-1), reduction="none")
    correct = logits.argmax(-1) == yk
    return Outcomes(correct.cpu(), loss.view(k, b).double().cpu())


@torch.no_grad()
def batched_outcomes(supernet, masks: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor,
                     image_batch: int, gpu_fast: bool = True) -> Outcomes:
    """Outcomes of the K candidates in ``masks`` on (x, y), K candidates per forward pass.

    Each pass holds K * ``image_batch`` rows. Leaves the sites in hard mode.
    """
    k = next(iter(masks.values())).shape[0]
    device = x.device
    fast = gpu_fast and device.type == "cuda"
    out = Outcomes.empty(k)
    last_b = None
    for i in range(0, len(x), image_batch):
        xb, yb = x[i:i + image_batch], y[i:i + image_batch]
        b = len(xb)
        if b != last_b:
            _set_row_masks(supernet, masks, b, device)
            last_b = b
        xk = xb.repeat(k, *([1] * (xb.dim() - 1)))  # (K*B, C, H, W), candidate-major
        if fast:
            xk = xk.contiguous(memory_format=torch.channels_last)
            with torch.autocast("cuda", dtype=torch.bfloat16):
                logits = supernet(xk)
        else:
            logits = supernet(xk)
        out = out.extend(_logit_outcomes(logits.view(k, b, -1), yb))
    return out


@torch.no_grad()
def module_outcomes(model, x: torch.Tensor, y: torch.Tensor, image_batch: int) -> Outcomes:
    """Outcomes of one network (a compact export, or the supernet in its current mode)."""
    out = Outcomes.empty(1)
    for i in range(0, len(x), image_batch):
        logits = model(x[i:i + image_batch])
        out = out.extend(_logit_outcomes(logits[None], y[i:i + image_batch]))
    return out


# ---- evaluation-only copies: shared stem, folded BN ------------------------------------------
def shared_stem(supernet) -> torch.nn.Module | None:
    """The module every candidate's compact net starts with unchanged, or None.

    Supported shape: a supernet whose ``body`` is a ``ResNetBody`` (stem -> blocks -> head)
    with no dropout site in the stem (its compact export copies the stem as is). Other
    supernets fall back to the full compact forward."""
    from .sites import DropoutSite
    from .supernets.multibranch_resnet import ResNetBody
    body = getattr(supernet, "body", None)
    if not isinstance(body, ResNetBody):
        return None
    if any(isinstance(m, DropoutSite) for m in body.stem.modules()):
        return None
    return body.stem


@torch.no_grad()
def stem_features(supernet, x: torch.Tensor, image_batch: int) -> torch.Tensor:
    """The shared stem's output on ``x`` (eval mode), computed once per ranking."""
    stem = shared_stem(supernet)
    was_training = stem.training
    stem.eval()
    try:
        return torch.cat([stem(x[i:i + image_batch]) for i in range(0, len(x), image_batch)])
    finally:
        stem.train(was_training)


class _BodyFromStem(torch.nn.Module):
    """A compact ``ResNetBody`` without its stem: input = the cached stem output."""

    def __init__(self, body):
        super().__init__()
        self.blocks, self.classifier = body.blocks, body.classifier

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.blocks(h))
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(h, 1), 1))


class _StridedSkip(torch.nn.Module):
    """``DownsampleSkip`` with ``avg_pool2d(x, 1, s)`` written as the equal slice ``[::s]``."""

    def __init__(self, skip):
        super().__init__()
        self.stride, self.path1, self.path2 = skip.stride, skip.path1, skip.path2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(x)
        s = self.stride
        y1 = x[:, :, ::s, ::s]
        y2 = F.pad(x[:, :, 1:, 1:], (0, 1, 0, 1))[:, :, ::s, ::s]
        return torch.cat([self.path1(y1), self.path2(y2)], dim=1)


def evaluation_copy(compact: torch.nn.Module, fold_bn: bool = True,
                    body_only: bool = False) -> torch.nn.Module:
    """What the compact engine runs (never exported): BN folded into the convs
    (:func:`pgnas_core.fold_bn.fold_batchnorm`, float-rounding-level change), the
    downsampling skips' 1x1 average pools as slices (exact), and with ``body_only`` the
    net from the cached stem output on (``compact`` must be a ``ResNetBody``)."""
    from .fold_bn import fold_batchnorm
    from .supernets.multibranch_resnet import DownsampleSkip, ResNetBody
    net = fold_batchnorm(compact, inplace=True) if fold_bn else compact
    for m in list(net.modules()):
        for name, child in list(m._modules.items()):
            if type(child) is DownsampleSkip:
                m._modules[name] = _StridedSkip(child)
    if body_only:
        if not isinstance(net, ResNetBody):
            raise TypeError("body_only needs a ResNetBody compact net")
        net = _BodyFromStem(net)
    return net.eval()


# ---- batch-norm recalibration -----------------------------------------------------------------
def _bn_modules(net):
    return [m for m in net.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]


@torch.no_grad()
def recalibrate_bn(supernet, x_train: torch.Tensor, batches: int, batch_size: int) -> None:
    """Re-estimate every BN's running statistics under the current hard masks.

    The statistics become the plain average over ``batches`` batches of ``x_train`` (BN
    momentum None); weights are untouched. Callers save and restore the BN buffers.
    """
    bns = _bn_modules(supernet)
    saved = [(m.momentum, m.training) for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average
        m.train()
    for j in range(batches):
        i = (j * batch_size) % max(len(x_train) - batch_size + 1, 1)
        supernet(x_train[i:i + batch_size])
    for m, (momentum, training) in zip(bns, saved):
        m.momentum = momentum
        m.train(training)


def _bn_state(net) -> list[tuple[torch.Tensor, ...]]:
    return [(m.running_mean.clone(), m.running_var.clone(), m.num_batches_tracked.clone())
            for m in _bn_modules(net)]


def _load_bn_state(net, state) -> None:
    for m, (mean, var, nbt) in zip(_bn_modules(net), state):
        m.running_mean.copy_(mean)
        m.running_var.copy_(var)
        m.num_batches_tracked.copy_(nbt)


# ---- the ranker --------------------------------------------------------------------------------
@dataclass(frozen=True)
class RankOptions:
    """How :func:`fast_rank_candidates` ranks (SearchConfig's ranking fields)."""

    method: str = "racing"  # racing | exhaustive
    engine: str = "auto"  # auto | batched | compact
    candidates_per_pass: int = 16  # K: candidates per forward pass of the batched engine
    image_batch: int = 250  # images per pass (a pass has K * image_batch rows)
    first_chunk: int = 64  # images of the first racing round (then times ``growth``)
    growth: float = 1.5  # racing: each round sees this many times the previous round's images
    strata: int = 8  # racing: margin strata of the split (racing.margin_strata); 1: none
    delta: float = 0.05  # racing: chance of dropping the best, shared over the rounds that test
    order_seed: int = RACE_ORDER_SEED  # racing: seed of the order each stratum is visited in
    bn_recalibration_batches: int = 0  # 0: BN statistics as trained (the paper)
    bn_recalibration_batch_size: int = 128
    gpu_fast: bool = True  # channels-last + bf16 autocast for the batched engine on CUDA
    sizes: str = "all"  # params/FLOPs columns for: all | survivors (eliminated rows get NaN)
    compact_cache_params: int = 50_000_000  # racing: compact nets kept between rounds (params)
    fold_bn: bool = True  # compact engine: evaluate a BN-folded copy (rounding-level change)
    stem_cache: bool = True  # compact engine: run the shared site-free stem once, cached


def choose_engine(supernet, device: torch.device, options: RankOptions) -> str:
    """The engine ``auto`` means: BN recalibration needs one candidate at a time (compact);
    on a GPU, K candidates per pass fill the device (batched; not measured in the session
    that wrote this); on a CPU a pass is already compute-bound (about 40-50% of a plain
    matmul's FLOP/s, benchmarks/bench_flops.py), so the compact net's fewer FLOPs win unless
    nearly every channel is kept: on the demo supernet (mean keep 0.81) compact took about
    half the batched engine's time per candidate."""
    if options.engine != "auto":
        return options.engine
    if options.bn_recalibration_batches > 0:
        return "compact"
    if device.type == "cuda":
        return "batched"
    keep = sum(s.keep_prob.item() * s.channels for s in supernet.sites()) / max(
        sum(s.channels for s in supernet.sites()), 1)
    return "compact" if keep < COMPACT_KEEP_THRESHOLD else "batched"


#: Below this mean keep-probability the CPU's ``auto`` picks the compact engine (above
#: it the export costs more than the FLOPs it saves).
COMPACT_KEEP_THRESHOLD = 0.95


@torch.no_grad()
def conv_linear_flops(module: torch.nn.Module, input_shape: tuple[int, ...]) -> int:
    """FLOPs of one input through ``module``'s convolutions and linear layers (multiply and
    add counted separately): what :func:`pgnas_core.flops.count_flops` counts for the compact
    nets, computed with forward hooks instead of a dispatch mode (about 50x faster)."""
    total = [0]

    def conv_hook(m, inp, out):
        kh, kw = m.kernel_size
        total[0] += 2 * out.numel() * (m.in_channels // m.groups) * kh * kw

    def linear_hook(m, inp, out):
        total[0] += 2 * out.numel() * m.in_features

    hooks = []
    for m in module.modules():
        if isinstance(m, torch.nn.Conv2d):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, torch.nn.Linear):
            hooks.append(m.register_forward_hook(linear_hook))
    p = next(module.parameters(), None)
    was_training = module.training
    module.eval()
    try:
        module(torch.zeros(1, *input_shape, device=p.device if p is not None else "cpu"))
    finally:
        for h in hooks:
            h.remove()
        module.train(was_training)
    return total[0]


def _sizes(compact, input_shape) -> tuple[int, int]:
    return count_params(compact), conv_linear_flops(compact, input_shape)


def _describe(supernet, seed: int, input_shape, size_cache: dict, sizes: bool = True) -> dict:
    """Architecture columns of one candidate: archid, params, FLOPs, kept fraction, ops."""
    from .sampling import sample_architecture
    arch = sample_architecture(supernet, seed)
    if not sizes:
        params, flops = float("nan"), float("nan")
    else:
        if arch.archid not in size_cache:
            size_cache[arch.archid] = _sizes(export_subnet(supernet, arch), input_shape)
        params, flops = size_cache[arch.archid]
    return dict(archid=arch.archid, params=params, flops=flops,
                kept_fraction=arch.kept_channel_fraction, dropped_ops=arch.dropped_operations,
                ops=len(arch.operations))


class _Partial:
    """Finished rows appended to a CSV (flushed per write) and the race state, for resuming."""

    def __init__(self, path: Path | None, key: dict):
        self.path = Path(path) if path is not None else None
        self.state_path = (self.path.with_name(RACE_STATE_FILE) if self.path is not None
                           else None)
        self.key = key

    def finished(self) -> pd.DataFrame:
        if self.path is None or not self.path.exists() or self.path.stat().st_size == 0:
            return pd.DataFrame(columns=FAST_COLUMNS)
        from .tables import read_appended_csv
        done = read_appended_csv(self.path)
        return done if len(done.columns) else pd.DataFrame(columns=FAST_COLUMNS)

    def append(self, rows: list[dict]) -> None:
        if self.path is None or not rows:
            return
        new = not self.path.exists() or self.path.stat().st_size == 0
        with open(self.path, "a") as f:
            pd.DataFrame(rows, columns=FAST_COLUMNS).to_csv(f, header=new, index=False)
            f.flush()
            os.fsync(f.fileno())

    def load_state(self) -> dict | None:
        if self.state_path is None or not self.state_path.exists():
            return None
        state = torch.load(self.state_path, weights_only=True)
        return state if state.get("key") == self.key else None

    def save_state(self, state: dict) -> None:
        if self.state_path is not None:
            from .checkpoint import atomic_save
            atomic_save({"key": self.key, **state}, self.state_path)


def fast_rank_candidates(supernet, x_val: torch.Tensor, y_val: torch.Tensor,
                         seeds: Sequence[int], base_seed: int = 0,
                         options: RankOptions = RankOptions(),
                         x_train: torch.Tensor | None = None,
                         partial_path: str | Path | None = None, progress: bool = True,
                         on_pass: Callable[[int], None] | None = None) -> pd.DataFrame:
    """Rank the candidates drawn with ``seeds``; one row per candidate (``FAST_COLUMNS``).

    ``candidate`` is ``seed - base_seed`` (so shards of one seed list merge into one table).
    ``x_train`` (stacked training images) is needed only for BN recalibration.
    ``partial_path``: where finished rows go (e.g. ``run/candidates.partial.csv``); rows
    already there are not evaluated again. ``on_pass`` is called with the number of
    candidate-passes done (tests use it to interrupt a ranking).
    """
    if options.method not in RANK_METHODS:
        raise ValueError(f"rank method {options.method!r}: expected one of {RANK_METHODS}")
    if options.sizes not in ("all", "survivors"):
        raise ValueError(f"sizes {options.sizes!r}: expected all or survivors")
    if options.engine not in ENGINES:
        raise ValueError(f"engine {options.engine!r}: expected one of {ENGINES}")
    seeds = [int(s) for s in seeds]
    if len(set(seeds)) != len(seeds):
        raise ValueError("seeds must be distinct")
    recal = options.bn_recalibration_batches
    if recal > 0 and x_train is None:
        raise ValueError("BN recalibration needs x_train")
    device = next(supernet.parameters()).device
    x_val, y_val = x_val.to(device), y_val.to(device)
    if x_train is not None:
        x_train = x_train.to(device)
    engine = choose_engine(supernet, device, options)
    if recal > 0 and engine == "batched":
        raise ValueError("BN recalibration needs one candidate at a time: use the compact "
                         "(or auto) engine")
    n = len(x_val)
    racing = options.method == "racing"
    sizes = round_sizes(n, options.first_chunk, options.growth) if racing else [n]
    z = round_z(len(sizes) - 2, options.delta) if racing else float("nan")
    key = {"seeds": seeds, "n_val": n, "method": options.method, "sizes": sizes,
           "recal": recal, "strata": options.strata, "delta": options.delta,
           "order_seed": options.order_seed}
    partial = _Partial(partial_path, key)
    done = partial.finished()
    done_seeds = set(int(s) for s in done["seed"]) if len(done) else set()
    rows: list[dict] = done[done["seed"].isin(seeds)].to_dict("records") if len(done) else []
    supernet.eval()

    # Racing's order over the split: strata by the posterior-mean net's margins (racing.py).
    strata = torch.zeros(n, dtype=torch.long)
    if racing and options.strata > 1:
        with supernet.site_mode("mean"), torch.no_grad():
            logits = torch.cat([supernet(x_val[i:i + options.image_batch])
                                for i in range(0, n, options.image_batch)])
        strata = margin_strata(logits, y_val, options.strata)
    plan = RacePlan(strata, options.order_seed)

    # survivors: seeds still racing, with their outcomes on the images ``seen`` (in order)
    state = partial.load_state()
    if state is not None:
        survivors = [s for s in state["survivors"] if s not in done_seeds]
        keep = [state["survivors"].index(s) for s in survivors]
        seen_outcomes = Outcomes(state["correct"][keep], state["loss"][keep])
        seen = state["seen"]
        plan.consume(seen)
        first_round = int(state["round"]) + 1
    else:
        survivors = [s for s in seeds if s not in done_seeds]
        seen_outcomes = Outcomes.empty(len(survivors))
        seen = torch.zeros(0, dtype=torch.long)
        first_round = 0

    input_shape = tuple(x_val.shape[1:])
    size_cache: dict = {}
    compacts: dict = {}  # seed -> compact net, kept between racing rounds (bounded)
    cached_params, cached_sizes = [0], {}
    passes = [0]
    bn_saved = _bn_state(supernet) if recal > 0 else None

    # Work shared by every candidate: the site-free stem, run once on the whole split.
    stem_x = None
    if (engine == "compact" and options.stem_cache and recal == 0
            and shared_stem(supernet) is not None):
        stem_x = stem_features(supernet, x_val, options.image_batch)

    def score(group: list[int], xs, ys, stem_xs, keep_compact: bool) -> Outcomes:
        if engine == "batched":
            out = batched_outcomes(supernet, stacked_masks(supernet, group), xs, ys,
                                   options.image_batch, options.gpu_fast)
        else:
            parts = []
            for seed in group:
                compact = compacts.get(seed)
                if compact is None:
                    from .sampling import sample_architecture
                    arch = sample_architecture(supernet, seed)
                    supernet.apply_architecture(arch)
                    if recal > 0:
                        recalibrate_bn(supernet, x_train, recal,
                                       options.bn_recalibration_batch_size)
                    compact = export_subnet(supernet, arch)
                    sizes_ = _sizes(compact, input_shape)
                    compact = evaluation_copy(compact, options.fold_bn,
                                              body_only=stem_x is not None)
                    size_cache.setdefault(arch.archid, sizes_)
                    if recal > 0:
                        _load_bn_state(supernet, bn_saved)
                    if keep_compact and cached_params[0] + sizes_[0] <= options.compact_cache_params:
                        compacts[seed] = compact  # reused in the next racing round
                        cached_sizes[seed] = sizes_[0]
                        cached_params[0] += sizes_[0]
                inputs = xs if stem_x is None else stem_xs
                parts.append(module_outcomes(compact, inputs, ys, options.image_batch))
            out = Outcomes(torch.cat([p.correct for p in parts]), torch.cat([p.loss for p in parts]))
        passes[0] += 1
        if on_pass is not None:
            on_pass(passes[0])
        return out

    def finish(seed: int, oc: Outcomes, rnd: int | None) -> dict:
        m = oc.correct.shape[1]
        return dict(candidate=seed - base_seed, seed=seed, val_acc=oc.correct.double().mean().item(),
                    val_loss=oc.loss.mean().item(), evaluated_images=m,
                    eliminated_round=-1 if rnd is None else rnd,
                    **_describe(supernet, seed, input_shape, size_cache,
                                sizes=options.sizes == "all" or rnd is None))

    k_pass = max(1, options.candidates_per_pass) if engine == "batched" else 1
    total = (n - len(seen)) * len(survivors)
    bar = tqdm(total=total, desc="rank", disable=not progress, leave=False, unit="img*cand")
    spread = paired_spread(seen_outcomes.correct, strata[seen], plan.count)
    try:
        for rnd in range(first_round, len(sizes)):
            last = rnd == len(sizes) - 1
            unseen_before = plan.remaining()
            if racing:
                idx = plan.draw(n if last else sizes[rnd], spread)
                xs, ys = x_val[idx.to(device)], y_val[idx.to(device)]
                stem_xs = None if stem_x is None else stem_x[idx.to(device)]
            else:  # exhaustive: the whole split in its own order, no copy
                idx, xs, ys, stem_xs = torch.arange(n), x_val, y_val, stem_x
            parts = []
            # Exhaustive ranking finishes candidates chunk by chunk (resumable per chunk).
            for g in range(0, len(survivors), k_pass):
                group = survivors[g:g + k_pass]
                oc = score(group, xs, ys, stem_xs, keep_compact=not last)
                bar.update(len(group) * len(idx))
                if last:
                    prev = seen_outcomes.select(slice(g, g + len(group)))
                    full = prev.extend(oc)
                    new = [finish(s, full.select([j]), None) for j, s in enumerate(group)]
                    partial.append(new)
                    rows += new
                else:
                    parts.append(oc)
            if last:
                break
            fresh = Outcomes(torch.cat([p.correct for p in parts]), torch.cat([p.loss for p in parts]))
            out = torch.zeros(len(survivors), dtype=torch.bool)
            if len(seen) > 0:  # round 0 has no leader chosen beforehand: it only scores
                out = stratified_eliminations(seen_outcomes.correct, fresh.correct, strata[idx],
                                              unseen_before, z)
            seen_outcomes = seen_outcomes.extend(fresh)
            seen = torch.cat([seen, idx])
            new = [finish(s, seen_outcomes.select([j]), rnd)
                   for j, (s, o) in enumerate(zip(survivors, out.tolist())) if o]
            partial.append(new)
            rows += new
            for j, o in enumerate(out.tolist()):
                if o and compacts.pop(survivors[j], None) is not None:
                    cached_params[0] -= cached_sizes.pop(survivors[j])
            keep = (~out).nonzero().flatten()
            survivors = [survivors[j] for j in keep.tolist()]
            seen_outcomes = seen_outcomes.select(keep)
            bar.total -= int(out.sum()) * (n - len(seen))
            spread = paired_spread(seen_outcomes.correct, strata[seen], plan.count)
            partial.save_state({"round": rnd, "survivors": survivors, "seen": seen,
                                "correct": seen_outcomes.correct, "loss": seen_outcomes.loss})
    finally:
        bar.close()
        if bn_saved is not None:
            _load_bn_state(supernet, bn_saved)
        supernet.set_site_mode("mean")
        for s in supernet.sites():
            s.hard_mask = torch.ones(s.channels, device=device)
    table = pd.DataFrame(rows, columns=FAST_COLUMNS)
    table = table.sort_values("candidate", kind="stable").reset_index(drop=True)
    table.attrs.update(engine=engine, passes=passes[0], z=z, round_sizes=sizes,
                       stem_cached=stem_x is not None)
    return table


def remove_partial(partial_path: str | Path) -> None:
    """Delete the partial rows and race state once the final table is written."""
    p = Path(partial_path)
    p.unlink(missing_ok=True)
    p.with_name(RACE_STATE_FILE).unlink(missing_ok=True)


def export_candidate(supernet, seed: int, x_train: torch.Tensor | None = None,
                     bn_recalibration_batches: int = 0, batch_size: int = 128):
    """(compact net, architecture) of the candidate drawn with ``seed``, its BN statistics
    recalibrated as in the ranking when ``bn_recalibration_batches`` > 0 (the supernet's own
    statistics are restored). Leaves the supernet in hard mode with the candidate's masks."""
    from .sampling import sample_architecture
    arch = sample_architecture(supernet, seed)
    if bn_recalibration_batches <= 0:
        return export_subnet(supernet, arch), arch
    if x_train is None:
        raise ValueError("BN recalibration needs x_train")
    saved = _bn_state(supernet)
    was_training = supernet.training
    supernet.eval()
    try:
        supernet.apply_architecture(arch)
        recalibrate_bn(supernet, x_train.to(next(supernet.parameters()).device),
                       bn_recalibration_batches, batch_size)
        compact = export_subnet(supernet, arch)
    finally:
        _load_bn_state(supernet, saved)
        supernet.train(was_training)
    return compact, arch
