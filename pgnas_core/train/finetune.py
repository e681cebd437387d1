"""Optional fine-tuning of an exported winner (paper Tables 3 and 5 report both)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from ..data import make_loader


def finetune(
    model: torch.nn.Module,
    train_set,
    epochs: int,
    lr: float,
    batch_size: int,
    seed: int = 0,
    weight_decay: float = 5e-4,
    progress: bool = True,
) -> torch.nn.Module:
    """Plain SGD (Nesterov, cosine decay, weight decay) on the compact network, in place."""
    device = next(model.parameters()).device
    opt = torch.optim.SGD(
        model.parameters(), lr=lr, momentum=0.9, nesterov=True, weight_decay=weight_decay
    )
    steps = epochs * -(-len(train_set) // batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(steps, 1))
    torch.manual_seed(seed)
    for epoch in range(epochs):
        model.train()
        loader = make_loader(train_set, batch_size, shuffle=True, seed=seed * 7919 + epoch)
        for x, y in tqdm(
            loader, desc=f"finetune {epoch + 1}/{epochs}", disable=not progress, leave=False
        ):
            x, y = x.to(device), y.to(device)
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    return model.eval()


def train_from_scratch(
    model: torch.nn.Module,
    train_set,
    epochs: int,
    lr: float,
    batch_size: int,
    seed: int = 0,
    progress: bool = True,
) -> torch.nn.Module:
    """A derived architecture trained from fresh weights (docs/method_siblings.md section 1's second
    number): ``model`` re-initialised with ``seed``, then :func:`finetune`'s schedule."""
    from ..nn.init import reinitialise

    return finetune(
        reinitialise(model, seed), train_set, epochs, lr, batch_size, seed, progress=progress
    )
