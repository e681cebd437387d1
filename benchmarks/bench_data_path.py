"""Data path: training images per second with the per-image pipelines vs the device loader.

Three loaders over the demo training split (8,000 Fashion-MNIST images, crop + flip
augmentation): torchvision's FashionMNIST with PIL transforms (RandomCrop, RandomHorizontalFlip,
ToTensor, Normalize), pgnas's default per-image tensor pipeline (``epoch_loader``), and the
``DeviceLoader``. Each is timed for one epoch of data alone, and for ``--steps`` training steps
of the demo supernet (loader + step). Same process, interleaved.

    python benchmarks/bench_data_path.py [--quick]
"""

from __future__ import annotations

import argparse
import itertools
import time

import torch
import torch.nn.functional as F

from pgnas_core.data import load_data
from pgnas_core.data.device_loader import DeviceLoader
from pgnas_core.data.order import epoch_loader
from pgnas_core.supernets import create_supernet

import _common


def torchvision_loader(cfg, batch):
    from torch.utils.data import DataLoader, Subset
    from torchvision import transforms as T
    from torchvision.datasets import FashionMNIST

    from pgnas_core.data.splits import carve_train_val

    ds = FashionMNIST(
        str(cfg.resolved_root()),
        train=True,
        transform=T.Compose(
            [
                T.RandomCrop(28, padding=2),
                T.RandomHorizontalFlip(),
                T.ToTensor(),
                T.Normalize((0.2860,), (0.3530,)),
            ]
        ),
    )
    train_idx, _ = carve_train_val(len(ds), cfg)
    return DataLoader(
        Subset(ds, train_idx.tolist()),
        batch_size=batch,
        shuffle=True,
        generator=torch.Generator().manual_seed(0),
    )


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args(argv)
    if a.quick:
        a.steps = 5
    torch.set_num_threads(a.threads)
    wall = time.perf_counter()
    cfg = _common.demo_config().data
    data = load_data(cfg)
    loaders = {
        "torchvision_pil": lambda: torchvision_loader(cfg, a.batch),
        "per_image_tensor": lambda: epoch_loader(data.train, a.batch, 0, 1),
        "device_loader": lambda: DeviceLoader(data.train, a.batch, seed=0, epoch=1),
    }
    net = create_supernet("supnet_m_small").train()
    net.set_site_mode("relaxed")
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    rows = []
    for name, make in loaders.items():
        tic = time.perf_counter()
        n = sum(len(y) for _, y in make())
        t_data = time.perf_counter() - tic
        tic = time.perf_counter()
        m = 0
        for x, y in itertools.islice(make(), a.steps):
            loss = F.cross_entropy(net(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            m += len(y)
        t_train = time.perf_counter() - tic
        rows.append(
            dict(
                loader=name,
                data_images_per_s=n / t_data,
                epoch_images=n,
                train_images_per_s=m / t_train,
                train_steps=a.steps,
            )
        )
    base = {r["loader"]: r for r in rows}["per_image_tensor"]
    for r in rows:
        r["data_speedup_vs_per_image"] = r["data_images_per_s"] / base["data_images_per_s"]
        r["train_speedup_vs_per_image"] = r["train_images_per_s"] / base["train_images_per_s"]
        print(
            f"{r['loader']:17s} data only {r['data_images_per_s']:9.0f} img/s "
            f"(x{r['data_speedup_vs_per_image']:.1f})   with training step "
            f"{r['train_images_per_s']:7.0f} img/s (x{r['train_speedup_vs_per_image']:.2f})"
        )
    _common.write_results(
        "data_path", rows, {"args": vars(a), "wall_seconds": time.perf_counter() - wall}
    )


if __name__ == "__main__":
    main()
