"""app.core.text: money in minor units as text, and the aligned tables of the command line."""

from __future__ import annotations

import pytest

from app.core import text


@pytest.mark.parametrize(("minor", "shown"), [
    (0, "0.00"), (5, "0.05"), (100, "1.00"), (123456789, "1,234,567.89"), (-5, "-0.05"), (-100, "-1.00"),
    (-123456789, "-1,234,567.89"), (10**20 + 1, "1,000,000,000,000,000,000.01"), (None, "—"),
])
def test_amounts_are_major_units_with_two_decimals_in_integer_arithmetic(minor: int | None, shown: str) -> None:
    assert text.amount(minor) == shown


def test_amounts_for_csv_are_not_grouped() -> None:
    assert text.amount(123456789, grouped=False) == "1234567.89"
    assert text.amount(-5, grouped=False) == "-0.05"


def test_money_that_is_not_an_integer_is_refused_not_rounded() -> None:
    with pytest.raises(ValueError):
        text.amount(1234.5)  # type: ignore[arg-type]


def test_differences_carry_their_sign() -> None:
    assert [text.signed(v) for v in (5, 0, -5)] == ["+5", "0", "-5"]
    assert [text.signed_amount(v) for v in (799_000, 0, -5)] == ["+7,990.00", "0.00", "-0.05"]


def test_whole_amounts_round_towards_zero_and_counts_group_thousands() -> None:
    assert text.whole_amount(4_000_099) == "40,000" and text.whole_amount(-99) == "0"
    assert text.whole_amount(-100) == "-1"
    assert text.count(1234567) == "1,234,567" and text.count(None) == "—"


def test_an_estimate_is_shown_to_the_cent() -> None:
    assert text.estimate(12345.6) == "123.46" and text.estimate(-0.4) == "-0.00"


def test_tables_align_text_left_and_numbers_right_without_trailing_spaces() -> None:
    shown = text.table(["campaign", "receipts", "name"], [["a", "5", "ten percent"], ["longer", "1234", ""]],
                       left={0, 2})
    assert shown.splitlines() == [
        "campaign  receipts  name",
        "a                5  ten percent",
        "longer        1234",
    ]


def test_a_table_of_no_rows_is_its_header() -> None:
    assert text.table(["id", "role"], [], left=range(2)) == "id  role"
