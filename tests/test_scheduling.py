"""The xdist ordering of tests/conftest.py: shares cut as xdist cuts them, longest first."""

from conftest import _shares, schedule


def test_shares_match_xdist_worksteal_cut():
    # xdist: each idle node in turn gets len(pending) // nodes_remaining
    assert _shares(7, 2) == [3, 4]
    assert _shares(10, 3) == [3, 3, 4]
    assert sum(_shares(575, 4)) == 575


def test_long_tests_are_spread_over_the_shares_and_lead_them():
    seconds = {"a": 50, "b": 20, "c": 19, "d": 15, "e": 1, "f": 1, "g": 1, "h": 1}
    order = schedule(list("hgfedcba"), seconds, workers=2)
    first, second = order[:4], order[4:]
    assert {first[0], second[0]} == {"a", "b"}  # the two longest lead the two shares
    # brute force over every split into two shares of 4: the schedule's worse share is optimal
    from itertools import combinations

    best = min(max(sum(seconds[i] for i in s), sum(seconds.values()) - sum(seconds[i] for i in s))
               for s in combinations(seconds, 4))
    worst = max(sum(seconds[i] for i in first), sum(seconds[i] for i in second))
    assert worst <= best + 1  # LPT with equal counts is within the smallest item of optimal
    assert all(seconds[x] >= seconds[y] for share in (first, second)
               for x, y in zip(share, share[1:], strict=False))


def test_unknown_tests_cost_the_median_and_order_is_deterministic():
    seconds = {"a": 10, "b": 2, "c": 1}
    ids = ["x", "a", "b", "c", "y"]
    assert schedule(ids, seconds, 2) == schedule(list(ids), seconds, 2)
    assert schedule(ids, seconds, 1) == ["a", "x", "b", "y", "c"]  # x, y cost the median, 2
    assert sorted(schedule(ids, seconds, 3)) == sorted(ids)
