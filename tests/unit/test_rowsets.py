"""The VALUES lists a Citus statement writes its rows with (app/core/rowsets.py)."""

from __future__ import annotations

from app.core.rowsets import values_list


def test_each_value_gets_the_next_parameter_in_its_columns_expression() -> None:
    text, args = values_list([(1, "a"), (2, "b")], ("{}::bigint", "coalesce({}::text, 'x')"), 4)
    assert text == "($4::bigint, coalesce($5::text, 'x')), ($6::bigint, coalesce($7::text, 'x'))"
    assert args == [1, "a", 2, "b"]


def test_a_constant_takes_no_value_of_the_row() -> None:
    text, args = values_list([("r1", 10), ("r2", 20)], ("{}::text", "'confirmed'", "{}::bigint"), 1)
    assert text == "($1::text, 'confirmed', $2::bigint), ($3::text, 'confirmed', $4::bigint)"
    assert args == ["r1", 10, "r2", 20]


def test_no_rows_no_values() -> None:
    assert values_list([], ("{}::bigint",), 1) == ("", [])
