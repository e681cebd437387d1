"""Evaluate a model on tensors already in memory (the validation and test splits)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


@torch.no_grad()
def evaluate(
    model,
    x: torch.Tensor,
    y: torch.Tensor,
    batch_size: int = 1000,
    topk: tuple[int, ...] = (1,),
    per_image: bool = False,
) -> dict:
    """Accuracy (top-k) and mean cross-entropy of ``model`` in its current mode; with
    ``per_image`` also ``correct``, the top-1 correctness of every image in order (a bool
    tensor whose mean is exactly ``acc``)."""
    device = next(model.parameters()).device
    correct = {k: 0 for k in topk}
    loss, n, hits = 0.0, 0, []
    for i in range(0, len(x), batch_size):
        xb = x[i : i + batch_size].to(device, non_blocking=True)
        yb = y[i : i + batch_size].to(device, non_blocking=True)
        logits = model(xb)
        loss += F.cross_entropy(logits, yb, reduction="sum").item()
        top = logits.topk(max(topk), dim=1).indices  # (B, k)
        for k in topk:
            correct[k] += (top[:, :k] == yb[:, None]).any(dim=1).sum().item()
        if per_image:
            hits.append((top[:, 0] == yb).cpu())
        n += len(xb)
    out = {"loss": loss / n}
    for k in topk:
        out["acc" if k == 1 else f"top{k}"] = correct[k] / n
    if per_image:
        out["correct"] = torch.cat(hits) if hits else torch.zeros(0, dtype=torch.bool)
    return out
