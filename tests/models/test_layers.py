"""Layer specs: all, indices, negative indices, fractions of depth, and clear errors."""

from __future__ import annotations

import pytest

from emovec.errors import EmovecError
from emovec.models.layers import parse_layer_spec, relative_depths


@pytest.mark.parametrize(
    "spec,expected",
    [
        ("all", list(range(33))),
        ("0,8,16", [0, 8, 16]),
        ("16, 8,0,8", [0, 8, 16]),
        ("-1", [32]),
        ("0.66", [21]),  # round(0.66 * 32) = 21
        ("0.0,0.5,1.0", [0, 16, 32]),
        ([0, 4], [0, 4]),
    ],
)
def test_specs_resolve(spec, expected):
    assert parse_layer_spec(spec, 32) == expected


@pytest.mark.parametrize("spec", ["", "foo", "1,,2", "33", "-34", "1.5", "0.5x", "first"])
def test_bad_specs_raise_one_line(spec):
    with pytest.raises(EmovecError) as err:
        parse_layer_spec(spec, 32)
    assert "\n" not in str(err.value)


def test_relative_depths():
    assert relative_depths([0, 16, 32], 32) == [0.0, 0.5, 1.0]
