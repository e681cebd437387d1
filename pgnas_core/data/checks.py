"""Does the data fit the supernet? Checked before training, so a mismatch costs seconds."""

from __future__ import annotations

import torch

from pgnas_core.errors import DataError


def check_data_fits(cfg, data) -> None:
    """Raise DataError when the splits cannot train ``cfg``'s supernet: an empty split,
    images of the wrong channel count or a size the net cannot take, labels out of range."""
    from pgnas_core.supernets import create_supernet, supernet_entry

    for name in ("train", "val"):
        if len(getattr(data, name)) == 0:
            raise DataError(
                f"the {name} split of {data.info.name} is empty: check data.val_size "
                f"and data.train_size, and that the dataset is complete"
            )
    x, _ = data.val[0]
    x = torch.as_tensor(x)
    info = data.info
    opts = cfg.supernet.options
    channels = opts.get("in_channels", info.in_channels)
    classes = opts.get("num_classes", info.num_classes)
    if x.dim() != 3 or x.shape[0] != channels:
        raise DataError(
            f"{info.name} images have shape {tuple(x.shape)} (C, H, W) but the "
            f"supernet expects {channels} input channels (supernet.options."
            f"in_channels); leave in_channels unset to take the dataset's"
        )
    if classes < info.num_classes:
        raise DataError(
            f"{info.name} has {info.num_classes} classes but supernet.options."
            f"num_classes={classes}: labels would be out of range"
        )
    labels = getattr(data.val, "labels", None)
    for split in (data.train, data.val):
        labels = getattr(split, "labels", None)
        if (
            labels is not None
            and len(labels)
            and (int(labels.min()) < 0 or int(labels.max()) >= classes)
        ):
            raise DataError(
                f"{info.name} labels span {int(labels.min())}..{int(labels.max())}"
                f" but the supernet has {classes} classes (0..{classes - 1})"
            )
    entry = supernet_entry(cfg.supernet.name)
    net = create_supernet(
        cfg.supernet.name,
        **{"in_channels": info.in_channels, "num_classes": info.num_classes, **opts},
    )
    try:
        with torch.no_grad():
            out = net.eval()(x[None])  # (1, classes)
    except RuntimeError as e:
        raise DataError(
            f"{info.name} images of size {tuple(x.shape[1:])} do not fit supernet "
            f"{cfg.supernet.name} (made for {entry.input_size}x{entry.input_size} "
            f"inputs): {str(e).splitlines()[0][:150]}"
        ) from None
    if out.shape[-1] != classes:
        raise DataError(
            f"supernet {cfg.supernet.name} outputs {out.shape[-1]} classes, "
            f"{info.name} has {classes}"
        )
