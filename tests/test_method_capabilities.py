"""Analyses that only some methods' runs support ask the method (``SearchMethod.require``)
and stop in one line naming the methods that do, instead of failing inside on an attribute
or a table only one method has."""

import pytest

from pgnas_core.config import resolve_config
from pgnas_core.errors import PgnasError
from pgnas_core.methods.registry import CAPABILITIES, create_method, list_methods, methods_with


def test_every_capability_has_a_method_and_every_method_names_only_known_ones():
    for capability in CAPABILITIES:
        assert methods_with(capability), capability
    cfg = resolve_config("digits")
    for name in list_methods():
        assert set(create_method(name, cfg).capabilities) <= set(CAPABILITIES), name


@pytest.mark.parametrize(
    "method, capability, owners",
    [
        ("pgnas", "pruning", "bayesnas"),
        ("darts", "posterior_samples", "balenas"),
        ("random", "epoch_architectures", "balenas or darts"),
    ],
)
def test_an_analysis_on_the_wrong_method_stops_naming_the_right_ones(method, capability, owners):
    cfg = resolve_config("digits")
    with pytest.raises(PgnasError, match=f"needs a run of {owners}; this run is {method}"):
        create_method(method, cfg).require(capability, "the analysis")
    create_method(owners.split(" or ")[0], cfg).require(capability, "the analysis")
