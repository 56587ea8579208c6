"""ABC classes from exact integers: the boundary conventions, ties, zeros and an empty ranking."""

from __future__ import annotations

from fractions import Fraction

import pytest

from app.reports import abc


def classed(values: dict[str | None, int]) -> list[tuple[str | None, int, str]]:
    return [(row.key, row.value, row.klass) for row in abc.rank(values.items())]


def test_the_key_that_ends_exactly_at_80_percent_is_a_and_the_next_is_b() -> None:
    # before each: 0, 50, 80 (exactly 80 %: B), 95 (exactly 95 %: C)
    assert classed({"x": 50, "y": 30, "z": 15, "w": 5}) == [("x", 50, "A"), ("y", 30, "A"), ("z", 15, "B"),
                                                            ("w", 5, "C")]


def test_the_key_that_crosses_80_percent_is_still_a() -> None:
    # before each: 0, 70 (A, crosses to 90), 90 (B), 96 (C)
    assert classed({"x": 70, "y": 20, "z": 6, "w": 4}) == [("x", 70, "A"), ("y", 20, "A"), ("z", 6, "B"),
                                                           ("w", 4, "C")]


def test_one_key_holding_everything_is_a_and_zeros_after_it_are_c() -> None:
    assert classed({"x": 10, "y": 0, "z": 0}) == [("x", 10, "A"), ("y", 0, "C"), ("z", 0, "C")]


def test_ties_go_by_key_and_no_key_comes_first() -> None:
    assert [row.key for row in abc.rank([("b", 5), ("a", 5), (None, 5), ("B", 5), ("c", 9)])] == [
        "c", None, "B", "a", "b"]


def test_shares_are_rounded_for_reading_but_classes_use_the_exact_sums() -> None:
    # 7999 / 9999 = 79.998 %: shown as 0.8, yet the next key is A (below 80 % exactly)
    ranked = abc.rank([("x", 7999), ("y", 1), ("z", 1999)])
    assert [(row.key, row.cumulative_share, row.klass) for row in ranked] == [
        ("x", 0.8, "A"), ("z", 0.9999, "A"), ("y", 1.0, "C")]
    ranked = abc.rank([("x", 7999), ("y", 2000)])
    assert [(row.cumulative_share, row.klass) for row in ranked] == [(0.8, "A"), (1.0, "A")]


def test_nothing_at_all() -> None:
    assert abc.rank([]) == []
    zero = abc.rank([("x", 0)])
    assert [(row.share, row.cumulative_share, row.klass) for row in zero] == [(None, None, "C")]
    assert abc.summary([], int) == [{"class": name, "keys": 0, "value": 0, "share": None} for name in "ABC"]


@pytest.mark.parametrize("seed", range(20))
def test_classes_agree_with_exact_fractions(seed: int) -> None:
    import random

    rng = random.Random(seed)
    values = {f"k{i}": rng.choice([0, 1, 5, rng.randrange(1, 10**12)]) for i in range(rng.randrange(1, 40))}
    ranked = abc.rank(values.items())
    total = sum(values.values())
    before = 0
    for row in ranked:
        part = Fraction(before, total) if total else Fraction(1)
        assert row.klass == ("A" if part < Fraction(4, 5) else "B" if part < Fraction(19, 20) else "C")
        before += row.value
    assert [row.value for row in ranked] == sorted(values.values(), reverse=True)
    summary = abc.summary(ranked, int)
    assert sum(c["keys"] for c in summary) == len(values) and sum(c["value"] for c in summary) == total
