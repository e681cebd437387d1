"""Portable files of a compact net: ``pgnas export --format pt2|onnx``.

``folder`` (``weights.pt`` + ``arch.json``) reloads only with pgnas installed. ``pt2`` is a
``torch.export`` program that loads with torch alone (``torch.export.load(path).module()``);
``onnx`` runs with onnxruntime alone. Both take a batch of normalised NCHW float32 images of
any size (a dynamic batch dimension) and return the logits. A JSON sidecar beside the file
(``model.pt2.json``, ``model.onnx.json``) says what the file is and how to feed it.
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path

import torch
from torch import nn

from ..errors import unknown_name
from ..extras import installed, require

FORMATS = ("folder", "pt2", "onnx")
#: The packages each portable format needs at export time, and the extra that installs them.
NEEDS = {"pt2": (), "onnx": ("onnx", "onnxscript")}
EXTRA = "export"
INPUT_NAME, OUTPUT_NAME = "images", "logits"
LOADERS = {
    "pt2": "torch.export.load(PATH).module()(images)",
    "onnx": "onnxruntime.InferenceSession(PATH).run(None, {'images': images})[0]",
}


def portable_file(folder: Path, fmt: str) -> Path:
    """Where format ``fmt`` is written inside an exported subnet ``folder``."""
    return Path(folder) / f"model.{fmt}"


def sidecar_file(path: Path) -> Path:
    return Path(path).with_name(Path(path).name + ".json")


def check_format(fmt: str) -> None:
    """One-line errors, before any work: an unknown format, or a missing package."""
    if fmt not in FORMATS:
        raise unknown_name("--format", fmt, FORMATS)
    require(f"--format {fmt}", NEEDS.get(fmt, ()), EXTRA)


def write_portable(
    fmt: str, folder: Path, compact: nn.Module, images: torch.Tensor, meta: dict, info
) -> dict:
    """Write ``compact`` as ``folder/model.<fmt>`` and its sidecar; return the sidecar.

    ``images``: real (normalised) images; two of them trace the net, all of them check the
    written file against the compact net (the largest absolute difference is recorded).
    ``meta``: what ``save_subnet`` returned; ``info``: the dataset's DatasetInfo.
    """
    check_format(fmt)
    if fmt == "folder":
        raise ValueError("the folder format is save_subnet's")
    net = copy.deepcopy(compact).cpu().eval()
    images = images.detach().cpu().float()
    path = portable_file(folder, fmt)
    path.parent.mkdir(parents=True, exist_ok=True)
    tic = time.perf_counter()
    dynamic, extra = _WRITERS[fmt](net, images[:2], path)
    seconds = time.perf_counter() - tic
    with torch.no_grad():
        expected = net(images)
    got, runtime = _RUNNERS[fmt](path, images)
    sidecar = {
        "format": fmt,
        "file": path.name,
        "load": LOADERS[fmt].replace("PATH", repr(path.name)),
        "input": {
            "name": INPUT_NAME,
            "shape": ["batch" if dynamic else len(images[:2]), *meta["input_shape"]],
            "dtype": "float32",
            "layout": "NCHW",
            "normalise": "pixels in [0, 1], then (x - mean) / std per channel",
            "mean": list(info.mean),
            "std": list(info.std),
        },
        "output": {"name": OUTPUT_NAME, "shape": ["batch", info.num_classes], "kind": "logits"},
        "dataset": info.name,
        "num_classes": info.num_classes,
        "dynamic_batch": dynamic,
        **{k: meta[k] for k in ("seed", "archid", "params", "flops", "val_acc") if k in meta},
        "torch": torch.__version__,
        **extra,
        "export_seconds": round(seconds, 3),
        "check": {
            "images": len(images),
            "runtime": runtime,
            "max_abs_diff": None if got is None else float((got - expected).abs().max()),
            "max_abs_output": float(expected.abs().max()),  # the scale the difference is on
        },
    }
    sidecar_file(path).write_text(json.dumps(sidecar, indent=1))
    return sidecar


def _export_program(net: nn.Module, example: torch.Tensor):
    """(program, dynamic): a dynamic batch dimension where the net allows one."""
    batch = ({0: torch.export.Dim("batch")},)
    try:
        return torch.export.export(net, (example,), dynamic_shapes=batch), True
    except Exception:  # a net that fixes its batch size still exports, statically
        return torch.export.export(net, (example,)), False


def _write_pt2(net: nn.Module, example: torch.Tensor, path: Path) -> tuple[bool, dict]:
    program, dynamic = _export_program(net, example)
    torch.export.save(program, path)
    return dynamic, {}


def _write_onnx(net: nn.Module, example: torch.Tensor, path: Path) -> tuple[bool, dict]:
    program, dynamic = _export_program(net, example)
    onnx_program = torch.onnx.export(
        program,
        (example,),
        input_names=[INPUT_NAME],
        output_names=[OUTPUT_NAME],
        dynamo=True,
        verbose=False,
    )
    # one self-contained file (the weights inside, not in a .data file beside it)
    onnx_program.save(str(path), external_data=False)
    opset = next(o.version for o in onnx_program.model_proto.opset_import if o.domain == "")
    return dynamic, {"opset": opset}


def _run_pt2(path: Path, images: torch.Tensor):
    module = torch.export.load(path).module()
    with torch.no_grad():
        return module(images), f"torch {torch.__version__}"


def _run_onnx(path: Path, images: torch.Tensor):
    if not installed("onnxruntime"):
        return None, None  # written, but not checked here (pip install onnxruntime)
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (logits,) = session.run([OUTPUT_NAME], {INPUT_NAME: images.numpy()})
    return torch.from_numpy(logits), f"onnxruntime {ort.__version__}"


_WRITERS = {"pt2": _write_pt2, "onnx": _write_onnx}
_RUNNERS = {"pt2": _run_pt2, "onnx": _run_onnx}


def describe(sidecar: dict) -> str:
    """One line for the CLI: what was written and how well it matches."""
    check = sidecar["check"]
    diff = check["max_abs_diff"]
    checked = (
        f"max abs diff {diff:.2g} (outputs up to {check['max_abs_output']:.3g}) on "
        f"{check['images']} images ({check['runtime']})"
        if diff is not None
        else "not run here (onnxruntime is not installed)"
    )
    batch = "dynamic batch" if sidecar["dynamic_batch"] else "fixed batch"
    return (
        f"wrote {sidecar['file']} ({batch}, {sidecar['export_seconds']:.1f} s; sidecar "
        f"{sidecar['file']}.json): {checked}"
    )
