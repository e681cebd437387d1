"""The ImageNet path end to end on a small generated image tree: ImageFolder data with the
standard augmentation, a tiny SupNet-R-50 / SupNet-D-121 with the ImageNet stem, one epoch of
training, a few ranked candidates, top-1 and top-5 reported."""

import json

import pytest
import torch

from pgnas_core.config import resolve_config
from pgnas_core.data import load_data, stack_split

CLASSES = 6


def _make_tree(root, per_class_train=10, per_class_val=4, size=40):
    """Class c: a noisy image whose mean colour depends on c (learnable, not trivial)."""
    from PIL import Image

    g = torch.Generator().manual_seed(0)
    for split, n in (("train", per_class_train), ("val", per_class_val)):
        for c in range(CLASSES):
            folder = root / split / f"class{c}"
            folder.mkdir(parents=True)
            colour = torch.tensor([c / CLASSES, 1 - c / CLASSES, (c % 2) * 0.8])
            for i in range(n):
                img = colour.view(3, 1, 1) + 0.25 * torch.randn(3, size, size, generator=g)
                arr = (img.clamp(0, 1) * 255).byte().permute(1, 2, 0).numpy()
                Image.fromarray(arr).save(folder / f"{i}.png")
    return root


def _config(root, supernet):
    return resolve_config(
        None,
        overrides=[
            "data.dataset=imagefolder",
            f"data.root={root}",
            "data.image_size=32",
            "data.val_size=12",
            "data.batch_size=16",
            "data.eval_batch_size=64",
            f"supernet.name={supernet}",
            "posterior.l2=1.0",
            "posterior.n_train=48",
            "train.epochs=1",
            "train.lr=0.05",
            "train.device=cpu",
            "search.candidates=3",
            "method.baselines=[]",
        ],
    )


def test_imagefolder_splits_and_standard_augmentation(tmp_path):
    root = _make_tree(tmp_path / "imgs")
    cfg = _config(root, "supnet_r50_tiny")
    data = load_data(cfg.data)
    assert data.info.num_classes == CLASSES and data.info.in_channels == 3
    assert (len(data.train), len(data.val), len(data.test)) == (48, 12, 24)
    names = [type(t).__name__ for t in data.train.transform.transforms]
    assert names[:2] == ["RandomResizedCrop", "RandomHorizontalFlip"] and "Normalize" in names
    assert "CenterCrop" in [type(t).__name__ for t in data.val.transform.transforms]
    x, y = stack_split(data.val)
    assert x.shape == (12, 3, 32, 32) and y.max() < CLASSES


@pytest.mark.parametrize("supernet", ["supnet_r50_tiny", "supnet_d121_tiny"])
def test_search_on_an_image_tree_reports_top1_and_top5(tmp_path, supernet):
    from pgnas_core.rank.export import load_subnet
    from pgnas_core.run.pipeline import search

    root = _make_tree(tmp_path / "imgs")
    out = tmp_path / "run"
    summary = search(_config(root, supernet), out, progress=False)
    best = json.loads((out / "best.json").read_text())
    assert best["candidates"] == 3
    assert 0 <= best["test_acc"] <= best["test_top5"] <= 1
    sup = summary["pgnas"].supernet
    assert sup.test_acc <= sup.test_top5
    compact, arch = load_subnet(out / "subnet")
    assert arch.supernet == supernet
    assert compact(torch.randn(2, 3, 32, 32)).shape == (2, CLASSES)


def test_imagenet_presets_use_the_papers_imagenet_settings():
    for preset, name, batch in (
        ("supnet_r50_imagenet", "supnet_r50", 256),
        ("supnet_d121_imagenet", "supnet_d121", 300),
    ):
        cfg = resolve_config(preset)
        assert cfg.supernet.name == name and cfg.data.dataset == "imagefolder"
        assert cfg.data.image_size == 224 and cfg.data.batch_size == batch
        assert cfg.train.lr == 0.1 and cfg.data.augment
