"""The distribution report's buckets: readable edges that hold every value, open ends when asked."""

from __future__ import annotations

import itertools

import pytest

from loopline.domain.analytics import distribution_buckets, nice_bounds


@pytest.mark.parametrize(("low", "high", "buckets", "whole", "edges"), [
    (5, 125, 10, False, [0.0, 20.0, 40.0, 60.0, 80.0, 100.0, 120.0, 140.0]),
    (0, 0.95, 10, False, [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]),
    (-4.2, 17.9, 5, False, [-5.0, 0.0, 5.0, 10.0, 15.0, 20.0]),
    (1, 37, 10, True, [0, 5, 10, 15, 20, 25, 30, 35, 40]),
    (1, 3, 10, True, [1, 2, 3, 4]),  # whole numbers never get buckets narrower than 1
    (3, 3, 10, False, [3.0, 4.0]),  # one value: one bucket
])
def test_edges_are_round_numbers_around_the_values(low, high, buckets, whole, edges):
    assert nice_bounds(low, high, buckets, whole=whole) == edges


@pytest.mark.parametrize(("low", "high", "buckets"), [(0.1, 0.3, 10), (7, 7000, 3), (-1e6, 1e6, 50), (0.001, 0.002, 7)])
def test_every_value_lies_in_a_bucket_and_the_count_stays_near_the_ask(low, high, buckets):
    edges = nice_bounds(low, high, buckets, whole=False)
    assert edges[0] <= low
    assert edges[-1] > high
    assert all(a < b for a, b in itertools.pairwise(edges))
    assert len(edges) - 1 <= buckets + 2


def test_given_bounds_get_an_open_bucket_on_each_side():
    assert distribution_buckets([10, 50], open_ended=True) == [
        {"from": None, "to": 10}, {"from": 10, "to": 50}, {"from": 50, "to": None}]
    assert distribution_buckets([0, 5, 10], open_ended=False) == [{"from": 0, "to": 5}, {"from": 5, "to": 10}]
