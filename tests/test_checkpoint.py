"""Checkpoints: atomic, complete (every RNG state), weights_only, clear errors when damaged."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from pgnas_core.errors import CheckpointError
from pgnas_core.train.checkpoint import (
    epoch_checkpoints,
    latest_checkpoint,
    load_checkpoint,
    rng_states,
    save_epoch_checkpoint,
    set_rng_states,
)


def _state(v: float) -> dict:
    return {"model": {"w": torch.full((3,), v)}, "epoch": 1, "rng": rng_states()}


def test_order_and_retention(tmp_path):
    save_epoch_checkpoint(_state(1), tmp_path, 1, keep=3)
    save_epoch_checkpoint(_state(2), tmp_path, 2, keep=3, step=5)
    save_epoch_checkpoint(_state(3), tmp_path, 2, keep=3, step=10)
    save_epoch_checkpoint(_state(4), tmp_path, 2, keep=3)
    names = [p.name for p in epoch_checkpoints(tmp_path)]
    assert names == ["epoch_0002_step_000005.pt", "epoch_0002_step_000010.pt", "epoch_0002.pt"]
    assert latest_checkpoint(tmp_path).name == "epoch_0002.pt"
    assert not list(tmp_path.glob(".*tmp*"))  # no temporary files left behind


def test_rng_states_round_trip(tmp_path):
    torch.manual_seed(1), random.seed(2), np.random.seed(3)
    path = save_epoch_checkpoint(_state(0), tmp_path, 1)
    expect = (torch.rand(4), random.random(), np.random.rand())
    torch.manual_seed(9), random.seed(9), np.random.seed(9)
    set_rng_states(load_checkpoint(path)["rng"])
    got = (torch.rand(4), random.random(), np.random.rand())
    assert torch.equal(expect[0], got[0]) and expect[1:] == got[1:]


def test_truncated_checkpoint_names_older_one(tmp_path):
    save_epoch_checkpoint(_state(1), tmp_path, 1)
    newest = save_epoch_checkpoint(_state(2), tmp_path, 2)
    newest.write_bytes(newest.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="epoch_0001.pt"):
        load_checkpoint(newest)


def test_corrupted_only_checkpoint(tmp_path):
    path = tmp_path / "epoch_0001.pt"
    path.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="no older checkpoint"):
        load_checkpoint(path)


def test_weights_only_refuses_pickled_code(tmp_path):
    path = tmp_path / "epoch_0001.pt"
    torch.save({"model": {}, "evil": random.Random}, path)  # a class: needs full pickle
    with pytest.raises(CheckpointError):
        load_checkpoint(path)
