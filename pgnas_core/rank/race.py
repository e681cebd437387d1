"""The statistics of racing: which validation images each round sees, and who is dropped.

Racing (``search.rank=racing``) scores every candidate on a first small sample of the
validation split, drops the candidates that are confidently worse than the leader, and
gives the rest more images, until the survivors have seen the whole split. Two ideas make
it cheap without giving up its error control:

- **Stratified draws.** Candidates sampled from one posterior agree on most images; they
  disagree on the images the posterior-mean network finds hard. The split is cut into
  ``strata`` groups by that network's margin ``|p_y - max_{k != y} p_k|`` (a property of
  the images, fixed before racing), each group is visited in its own seeded random order,
  and each round's images are allocated over the groups in proportion to
  ``N_h * sd_h`` (Neyman allocation; ``sd_h``: spread of the paired differences seen so far
  in group h). The hard groups get most of the draws; the estimate stays unbiased because
  every group is weighted by its size.
- **A test per round, valid for any leader.** In round r the leader L is the candidate with
  the most hits on the images seen *before* r. For candidate i, its full-split deficit to L
  is ``D = E + U``: E over the seen images (known exactly) and U over the unseen ones,
  estimated from round r's fresh images by the stratified estimator with the
  finite-population correction. i is dropped when ``E + U_hat - z * se > 0``. For the best
  candidate b, ``D <= 0`` whoever L is, and L was chosen before the fresh images were
  drawn, so each round drops b with probability at most ``alpha`` (normal approximation)
  -- no union over the candidates is needed, only over the rounds that test:
  ``z = Phi^-1(1 - delta / test_rounds)``.

Survivors of the last round have seen every image: their accuracies are full-split numbers.

**bf16 screening** (``search.precision=bf16``). The rounds before the last may score in bf16,
whose predictions differ from fp32's on a small share ``m`` of the images (measured on the
demo supernet: 0.26% on average, at most 0.55%, over 60 candidates). A candidate's fp32 hits
differ from its bf16 hits by at most ``m * N`` on the whole split, so a fp32 deficit is at
least the bf16 one minus ``2 m N``: the test drops i only when its lower bound exceeds that
``slack``. The last round scores the survivors again in fp32 on every image, so each
survivor's (and the winner's) numbers are fp32 numbers.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import torch

#: Per-image spread assumed at least this large in every stratum (a stratum whose sample
#: shows no disagreement yet is not trusted to have none).
MIN_PAIRED_SD = 0.05


def round_sizes(n_images: int, first: int, growth: float) -> list[int]:
    """Images of each racing round: ``first``, then times ``growth``, summing to n_images."""
    if first < 1 or growth < 1:
        raise ValueError(f"first {first} must be >= 1 and growth {growth} >= 1")
    sizes, seen, size = [], 0, float(first)
    while seen < n_images:
        t = min(n_images - seen, max(1, int(round(size))))
        sizes.append(t)
        seen += t
        size *= growth
    return sizes


def round_z(test_rounds: int, delta: float) -> float:
    """One-sided normal quantile of each round's test: ``delta`` shared over the rounds."""
    if not 0 < delta < 1:
        raise ValueError(f"delta {delta}: expected a number in (0, 1)")
    return NormalDist().inv_cdf(1 - delta / max(test_rounds, 1))


def image_margins(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(N,) ``|p_y - max_{k != y} p_k|`` of every image under ``logits`` (small: contested)."""
    p = logits.detach().float().softmax(1).cpu()
    y = y.cpu()
    p_y = p.gather(1, y[:, None]).squeeze(1)
    others = p.scatter(1, y[:, None], -1.0).max(1).values
    return (p_y - others).abs()


def margin_strata(logits: torch.Tensor, y: torch.Tensor, strata: int) -> torch.Tensor:
    """(N,) stratum of every image: quantile group of its :func:`image_margins` under the
    posterior-mean network's ``logits`` (0 = smallest margins, the contested images)."""
    n = len(y)
    if strata <= 1 or n == 0:
        return torch.zeros(n, dtype=torch.long)
    rank = torch.empty(n, dtype=torch.long)
    rank[torch.argsort(image_margins(logits, y), stable=True)] = torch.arange(n)
    return torch.clamp(rank * strata // n, max=strata - 1)


class RacePlan:
    """The order in which racing visits the split: one seeded random queue per stratum.

    ``draw(t, sd)`` takes the next ``t`` images, allocated over the strata in proportion to
    ``remaining_h * sd_h`` with at least 2 from every non-empty stratum (a stratum's spread
    needs 2 images); ``consume(seen)`` replays earlier draws (resuming).
    """

    def __init__(self, strata: torch.Tensor, seed: int = 0):
        self.strata = strata.long().cpu()
        self.count = int(self.strata.max()) + 1 if len(self.strata) else 1
        g = torch.Generator().manual_seed(seed)
        order = torch.randperm(len(self.strata), generator=g)
        self.queues = [order[self.strata[order] == h].tolist() for h in range(self.count)]

    def remaining(self) -> torch.Tensor:
        """(H,) unseen images per stratum."""
        return torch.tensor([len(q) for q in self.queues], dtype=torch.long)

    def allocation(self, t: int, sd: torch.Tensor | None = None) -> torch.Tensor:
        """(H,) images to take from each stratum this round (sums to min(t, remaining))."""
        rest = self.remaining()
        t = min(t, int(rest.sum()))
        floor = torch.minimum(rest, torch.full_like(rest, 2))  # 2 per stratum: a spread
        if int(floor.sum()) >= t:  # a tiny round: 2 per stratum, the hardest strata first
            take = torch.zeros_like(rest)
            for h in range(self.count):
                take[h] = min(int(floor[h]), t - int(take.sum()))
            return take
        spread = (
            torch.ones(self.count, dtype=torch.float64)
            if sd is None
            else sd.double().clamp(min=MIN_PAIRED_SD)
        )
        share = rest.double() * spread
        share = share / share.sum() * t  # Neyman allocation
        take = torch.maximum(floor, torch.minimum(rest, share.floor().long()))
        while int(take.sum()) > t:  # over by the 2-per-stratum floors: trim the largest excess
            excess = torch.where(take > floor, take - share, torch.full_like(share, -math.inf))
            take[int(torch.argmax(excess))] -= 1
        while int(take.sum()) < t:  # largest remainders first
            gap = torch.where(take < rest, share - take, torch.full_like(share, -math.inf))
            take[int(torch.argmax(gap))] += 1
        return take

    def draw(self, t: int, sd: torch.Tensor | None = None) -> torch.Tensor:
        """The next ``t`` images' indices (or every remaining one, if fewer are left)."""
        take = self.allocation(t, sd)
        out = []
        for h, k in enumerate(take.tolist()):
            out += self.queues[h][:k]
            self.queues[h] = self.queues[h][k:]
        return torch.tensor(out, dtype=torch.long)

    def consume(self, seen: torch.Tensor) -> None:
        """Remove images drawn before (in any order) from the queues."""
        done = set(seen.tolist())
        self.queues = [[i for i in q if i not in done] for q in self.queues]


def paired_spread(seen: torch.Tensor, strata: torch.Tensor, count: int) -> torch.Tensor:
    """(H,) spread of the per-image paired differences to the leader on the seen images,
    pooled over the candidates (the Neyman weights of the next draw)."""
    c = seen.double()
    leader = int(torch.argmax(c.sum(1))) if len(c) else 0
    d = c[leader][None] - c if len(c) else c
    sd = torch.full((count,), MIN_PAIRED_SD, dtype=torch.float64)
    for h in range(count):
        m = strata == h
        if int(m.sum()) > 1 and len(c) > 1:
            sd[h] = max(float(d[:, m].std()), MIN_PAIRED_SD)
    return sd


def stratified_eliminations(
    seen: torch.Tensor,
    fresh: torch.Tensor,
    fresh_strata: torch.Tensor,
    unseen_before: torch.Tensor,
    z: float,
    slack: float = 0.0,
) -> torch.Tensor:
    """Which candidates are confidently worse than the leader on the whole split.

    seen: (K, s) per-image correctness on the images seen before this round (the leader --
    most hits, first on ties -- is chosen from these alone); fresh: (K, t) on this round's
    images, drawn at random within strata; fresh_strata: (t,) their strata;
    unseen_before: (H,) images per stratum not seen before this round (the fresh ones
    included). The deficit of candidate i to the leader is exact on the seen images and
    estimated on the unseen ones (stratified, with the finite-population correction;
    per-stratum variance at least the pooled one and ``MIN_PAIRED_SD**2``); i is dropped
    when the deficit's lower bound at ``z`` standard errors is above ``slack`` images (the
    bf16 screening's precision bound; 0 in fp32). Returns (K,) bool.
    """
    k = seen.shape[0]
    if k < 2:
        return torch.zeros(k, dtype=torch.bool)
    s = seen.double()
    leader = int(torch.argmax(s.sum(1)))  # first maximum
    exact = (s[leader][None] - s).sum(1)  # E
    f = fresh.double()
    d = f[leader][None] - f  # (K, t)
    estimate = torch.zeros(k, dtype=torch.float64)
    variance = torch.zeros(k, dtype=torch.float64)
    for h, n_h in enumerate(unseen_before.tolist()):
        m = fresh_strata == h
        t_h = int(m.sum())
        if n_h == 0:
            continue
        if t_h == 0:  # an unseen stratum not sampled: its share is unknown, drop no one
            return torch.zeros(k, dtype=torch.bool)
        d_h = d[:, m]
        estimate += n_h * d_h.mean(1)
        if t_h < n_h:
            own = (
                d_h.var(1, unbiased=True)
                if t_h > 1
                else torch.full((k,), 0.25, dtype=torch.float64)
            )
            pooled = float(d_h.var()) if t_h > 1 else 0.25
            var_h = torch.clamp(own, min=max(pooled, MIN_PAIRED_SD**2))
            variance += n_h**2 * var_h / t_h * (n_h - t_h) / max(n_h - 1, 1)
    out = exact + estimate - z * variance.sqrt() > slack
    out[leader] = False
    return out


def exact_eliminations(correct: torch.Tensor, slack: float) -> torch.Tensor:
    """Which candidates trail the leader by more than ``slack`` hits when every image has been
    seen (bf16 screening of an exhaustive ranking: no sampling, only the precision bound).
    correct: (K, N) per-image correctness. Returns (K,) bool."""
    hits = correct.double().sum(1)
    if len(hits) < 2:
        return torch.zeros(len(hits), dtype=torch.bool)
    out = hits.max() - hits > slack
    out[int(torch.argmax(hits))] = False
    return out
