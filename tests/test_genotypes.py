"""Derived cells as the field writes them: NAS-Bench-201 arch strings and DARTS Genotypes, checked
against strings published in those projects (NAS-Bench-201's API docstring and README; DARTS's
``genotypes.py``)."""

import pytest

from pgnas_core.errors import PgnasError
from pgnas_core.supernets.genotypes import (
    Genotype,
    genotype_nodes,
    genotype_string,
    nb201_string,
    parse_genotype,
    parse_nb201,
)

# NAS-Bench-201's API docstring (query_index_by_arch) and its README's examples.
NB201_PUBLISHED = [
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",
    "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|none~0|nor_conv_3x3~1|avg_pool_3x3~2|",
    "|avg_pool_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|nor_conv_3x3~0|nor_conv_1x1~1|nor_conv_1x1~2|",
]

# DARTS (Liu et al. 2019), genotypes.py, verbatim (DARTS_V2 is the paper's cell; one line each).
DARTS_V1 = """Genotype(normal=[('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('skip_connect', 0), ('sep_conv_3x3', 1), ('skip_connect', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('skip_connect', 2)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 0), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('avg_pool_3x3', 0)], reduce_concat=[2, 3, 4, 5])"""  # noqa: E501
DARTS_V2 = """Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])"""  # noqa: E501
# the same cell as later DARTS-family code writes it: spread over lines, concats as ranges
DARTS_V2_MULTILINE = """Genotype(
    normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1),
            ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)],
    normal_concat=range(2, 6),
    reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1),
            ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)],
    reduce_concat=range(2, 6))"""


@pytest.mark.parametrize("text", NB201_PUBLISHED)
def test_published_nb201_strings_round_trip(text):
    nodes = parse_nb201(text)
    assert [len(n) for n in nodes] == [1, 2, 3]
    assert nb201_string(nodes) == text


def test_nb201_names_are_translated_to_ours():
    nodes = parse_nb201(NB201_PUBLISHED[1])
    assert nodes[0] == [("conv_3x3", 0)]
    assert nodes[1] == [("conv_1x1", 0), ("skip_connect", 1)]
    assert nodes[2] == [("none", 0), ("conv_3x3", 1), ("avg_pool_3x3", 2)]


@pytest.mark.parametrize(
    "bad, says",
    [
        ("|nor_conv_3x3~0|+|sep_conv_3x3~0|none~1|", "sep_conv_3x3~0"),  # a DARTS op
        ("|nor_conv_3x3~0|+|none~0|", "node 2"),  # an edge missing
        ("|nor_conv_3x3|", "op~i"),
        ("nor_conv_3x3~0", "not |op~i|"),
    ],
)
def test_bad_nb201_strings_are_refused_naming_the_part(bad, says):
    with pytest.raises(PgnasError, match=says.replace("|", r"\|")):
        parse_nb201(bad)


@pytest.mark.parametrize("text", [DARTS_V1, DARTS_V2])
def test_published_genotypes_round_trip_verbatim(text):
    g = parse_genotype(text)
    assert len(g.normal) == len(g.reduce) == 8 and g.normal_concat == [2, 3, 4, 5]
    assert genotype_string(g) == text


def test_a_multiline_genotype_with_ranges_parses_to_the_same_cell():
    assert parse_genotype(DARTS_V2_MULTILINE) == parse_genotype(DARTS_V2)
    g = parse_genotype(DARTS_V2)
    assert genotype_nodes(g.normal)[3] == [("skip_connect", 0), ("dil_conv_3x3", 2)]


@pytest.mark.parametrize(
    "bad, says",
    [
        ("Genotype(normal=[('a', 0)], normal_concat=[2], reduce=[])", "missing"),
        (
            "Genotype(normal=__import__('os'), normal_concat=[2], reduce=[], reduce_concat=[2])",
            "literal",
        ),
        ("Genotype(normal=[('a', 'x')], normal_concat=[2], reduce=[], reduce_concat=[2])", "pairs"),
        ("Cell(normal=[])", "expected Genotype"),
        ("Genotype(normal=[", "syntax"),
    ],
)
def test_bad_genotypes_are_refused_without_running_them(bad, says):
    with pytest.raises(PgnasError, match=says):
        parse_genotype(bad)


def test_a_genotype_is_a_namedtuple_like_darts():
    g = Genotype([("skip_connect", 0)], [2], [("max_pool_3x3", 1)], [2])
    assert g._fields == ("normal", "normal_concat", "reduce", "reduce_concat")
    assert parse_genotype(genotype_string(g)) == g
