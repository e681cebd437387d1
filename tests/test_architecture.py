"""The architecture value: hashable, JSON round trip, statistics, reproducible sampling."""

import json

import torch

from pgnas_core import Architecture, configure_sites, create_supernet
from pgnas_core.rank.sampling import sample_architecture


def _net(p=0.5):
    return configure_sites(create_supernet("supnet_m_tiny"), p_init=p)


def test_candidate_is_reproducible_from_seed_alone():
    net = _net()
    a, b = sample_architecture(net, 7), sample_architecture(net, 7)
    assert a == b and hash(a) == hash(b) and a.archid == b.archid
    assert sample_architecture(net, 8) != a
    # a fresh supernet with the same p (e.g. loaded from the checkpoint) draws the same one
    assert sample_architecture(_net(), 7) == a


def test_json_round_trip_and_stable_id():
    arch = sample_architecture(_net(), 3)
    again = Architecture.from_json(arch.to_json())
    assert again == arch and again.archid == arch.archid
    json.loads(arch.to_json())  # plain JSON


def test_drop_proportions_count_channels_and_operations():
    net = _net()
    masks = {s.name: torch.ones(s.channels) for s in net.sites()}
    first = net.sites()[0]
    masks[first.name] = torch.zeros(first.channels)
    arch = net.architecture_from_masks(masks)
    total = sum(s.channels for s in net.sites())
    assert abs(arch.channel_drop_proportion - first.channels / total) < 1e-12
    assert arch.dropped_operations == 1
    assert abs(arch.operation_drop_proportion - 1 / len(net.masked_ops())) < 1e-12
    full = net.full_architecture()
    assert full.channel_drop_proportion == 0 and full.dropped_operations == 0


def test_apply_architecture_rejects_another_supernet():
    arch = sample_architecture(_net(), 0)
    other = create_supernet("supnet_m_small")
    try:
        other.apply_architecture(arch)
    except ValueError as e:
        assert "supnet_m_tiny" in str(e)
    else:
        raise AssertionError("expected a ValueError")
