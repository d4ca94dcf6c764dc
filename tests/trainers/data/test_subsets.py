"""Nested subsets: prefixes of one seeded permutation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trainers.data.subsets import nested_subset


@st.composite
def sizes(draw: st.DrawFn) -> tuple[int, int, int, int]:
    n_total = draw(st.integers(0, 400))
    a = draw(st.integers(0, n_total))
    b = draw(st.integers(a, n_total))
    return n_total, a, b, draw(st.integers(0, 2**32 - 1))


@given(sizes())
def test_smaller_subset_is_a_prefix_of_larger(case: tuple[int, int, int, int]) -> None:
    n_total, a, b, seed = case
    small, large = nested_subset(n_total, a, seed), nested_subset(n_total, b, seed)
    assert large[:a] == small
    assert set(small) <= set(large)


@given(sizes())
def test_deterministic_distinct_and_in_range(case: tuple[int, int, int, int]) -> None:
    n_total, _, b, seed = case
    subset = nested_subset(n_total, b, seed)
    assert subset == nested_subset(n_total, b, seed)
    assert len(subset) == b == len(set(subset))
    assert all(0 <= i < n_total for i in subset)
    assert all(type(i) is int for i in subset)


def test_seeds_give_different_subsets() -> None:
    assert nested_subset(1000, 100, seed=1) != nested_subset(1000, 100, seed=2)


def test_too_large_a_subset_names_both_numbers() -> None:
    with pytest.raises(ValueError, match=r"subset of 4000 clips from a set of only 2500"):
        nested_subset(2500, 4000, seed=0)


def test_negative_size_is_an_error() -> None:
    with pytest.raises(ValueError, match="size=-1"):
        nested_subset(10, -1, seed=0)
