"""`pgnas export --format pt2|onnx`: a file that runs where pgnas cannot be imported (torch
alone, or onnxruntime alone without torch), with the compact net's outputs on real test
images (1e-5)."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from pgnas_core.run.cli import main

TOL = 1e-5

#: Put first on sys.meta_path: the listed top-level packages cannot be imported (the venv has
#: pgnas installed in editable mode, so ``python -I`` alone would still find it).
BLOCK = """import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {names!r}:
            raise ModuleNotFoundError(f"{{name}} is blocked", name=name)
sys.meta_path.insert(0, Block())
"""

#: What a user without pgnas runs: load the file, feed it images.npy, save logits.npy.
LOAD = {
    "pt2": """
import torch
net = torch.export.load(sys.argv[1]).module()
with torch.no_grad():
    logits = net(torch.from_numpy(np.load(sys.argv[2]))).numpy()
""",
    "onnx": """
import onnxruntime
session = onnxruntime.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
(logits,) = session.run(None, {"images": np.load(sys.argv[2])})
""",
}
#: What must not be importable while the file runs.
BLOCKED = {"pt2": ("pgnas_core", "pgnas_viz"), "onnx": ("pgnas_core", "pgnas_viz", "torch")}

LOADER = """
try:
    import pgnas_core
except ModuleNotFoundError:
    pass
else:
    raise SystemExit("pgnas_core is importable")
import numpy as np
{load}
np.save(sys.argv[3], logits)
assert not [m for m in sys.modules if m.split(".")[0] in {names!r}], "imported a blocked package"
"""


def _run_without_pgnas(fmt: str, model, images: np.ndarray, tmp_path) -> np.ndarray:
    """Run ``model`` on ``images`` in ``python -I`` in an empty folder, pgnas blocked."""
    work = tmp_path / f"clean_{fmt}"
    work.mkdir()
    np.save(work / "images.npy", images)
    names = BLOCKED[fmt]
    code = BLOCK.format(names=names) + LOADER.format(load=LOAD[fmt], names=names)
    env = {"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1", "HOME": str(work)}
    r = subprocess.run(
        [sys.executable, "-I", "-c", code, str(model), "images.npy", "logits.npy"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    return np.load(work / "logits.npy")


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A tiny digits run (1 epoch, 64 training images), PGNAS only."""
    out = tmp_path_factory.mktemp("export_formats") / "run"
    args = ["--preset", "digits", "--no-progress", "--set", "train.epochs=1"]
    args += ["--set", "data.train_size=64", "--set", "method.baselines=[]"]
    assert main(["train", *args, "--out", str(out)]) == 0
    return out


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["pt2", "onnx"])
def test_exported_file_matches_the_compact_net_without_pgnas(trained_run, tmp_path, fmt, capsys):
    from pgnas_core.config import resolve_config
    from pgnas_core.data import load_data, stack_split
    from pgnas_core.rank.export import load_subnet

    dest = tmp_path / "subnet"
    args = ["export", "--out", str(trained_run), "--seed", "2", "--dest", str(dest)]
    assert main([*args, "--format", fmt]) == 0
    printed = capsys.readouterr().out
    assert f"wrote model.{fmt} (dynamic batch" in printed
    model = dest / f"model.{fmt}"
    sidecar = json.loads((dest / f"model.{fmt}.json").read_text())
    meta = json.loads((dest / "arch.json").read_text())
    assert sidecar["file"] == model.name and sidecar["format"] == fmt
    assert sidecar["seed"] == 2 and sidecar["archid"] == meta["archid"]
    assert sidecar["params"] == meta["params"]
    assert sidecar["input"]["shape"] == ["batch", 1, 8, 8]
    assert sidecar["num_classes"] == 10 and sidecar["dataset"] == "digits"
    assert sidecar["check"]["max_abs_diff"] <= TOL

    # the compact net (the folder format, rebuilt by pgnas) on every real test image
    compact, _ = load_subnet(dest)
    x_test, y_test = stack_split(
        load_data(resolve_config(None, trained_run / "config.yaml").data).test
    )
    with torch.no_grad():
        expected = compact(x_test).numpy()
    got = _run_without_pgnas(fmt, model, x_test.numpy(), tmp_path)
    assert got.shape == (len(x_test), 10)  # a batch size other than the traced one
    assert np.abs(got - expected).max() <= TOL
    assert (got.argmax(1) == expected.argmax(1)).all()


def test_a_bad_format_is_one_line(tmp_path, capsys):
    assert main(["export", "--out", str(tmp_path / "none"), "--format", "tflite"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("pgnas: error: --format='tflite' is not allowed")
    assert "folder, onnx, pt2" in err[0]


@pytest.mark.slow  # a subprocess importing torch
def test_onnx_without_its_packages_names_the_extra(tmp_path):
    code = BLOCK.format(names=("onnx", "onnxscript")) + (
        "from pgnas_core.run.cli import main\nsys.exit(main(sys.argv[1:]))\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code, "export", "--out", str(tmp_path), "--format", "onnx"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == [
        "pgnas: error: --format onnx needs the onnx and onnxscript packages: "
        "pip install 'pgnas[export]'"
    ]
