"""Fixtures shared by several test modules."""

import pytest
import torch


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread for a module: on a shared 2-core machine two threads are several times
    slower (oversubscription), and the numbers under test do not depend on it."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, one_thread):
    """supnet_m_tiny trained 2 epochs on digits (a few seconds): (net, x_val, y_val, x_train)."""
    from pgnas_core.config import resolve_config
    from pgnas_core.data import load_data, stack_split
    from pgnas_core.run.pipeline import train

    torch.manual_seed(0)
    cfg = resolve_config("digits", None, ["train.epochs=2", "train.device=cpu", "posterior.l2=20"])
    data = load_data(cfg.data)
    net = train(cfg, data, tmp_path_factory.mktemp("run"), "pgnas", progress=False)
    x_val, y_val = stack_split(data.val)
    x_train, _ = stack_split(data.train.subset(torch.arange(len(data.train))))
    return net, x_val, y_val, x_train
