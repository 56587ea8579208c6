"""Many rows written by one statement on Citus: a multi-row `INSERT … VALUES` list.

On one PostgreSQL server a batch's rows go in as `unnest` of one array per column: one statement text
whatever the number of rows, so one generic plan. Citus runs an `INSERT … SELECT … FROM unnest(…)` through
the coordinator instead: the rows become an intermediate result, copied into each shard they go to over a
connection of its own per shard, and each such connection is one more participant in the two-phase commit.
A multi-row `INSERT … VALUES` is routed row by row: one task per shard, over the transaction's one
connection per worker (measured on a coordinator and two workers: 8 ledger rows of 8 accounts 20 ms as
`unnest`, 4-5 ms as VALUES; deploy/SCALING.md section 4).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# PostgreSQL's wire protocol numbers a statement's parameters with 16 bits
MAX_PARAMETERS = 65_535


def values_list(rows: Sequence[Sequence[Any]], expressions: Sequence[str], first: int) -> tuple[str, list[Any]]:
    """`rows` as a VALUES list, each value in its column's expression (`{}` stands for the parameter:
    `{}::bigint`, `coalesce({}::timestamptz, now())`; an expression without `{}` is a constant and takes no
    value of the row), parameters numbered from `first`; and the arguments in that order."""
    takes = [i for i, expression in enumerate(expressions) if "{}" in expression]
    tuples = []
    for r in range(len(rows)):
        numbered = list(expressions)
        for k, i in enumerate(takes):
            numbered[i] = expressions[i].format(f"${first + r * len(takes) + k}")
        tuples.append("(" + ", ".join(numbered) + ")")
    return ", ".join(tuples), [value for row in rows for value in row]
