"""The schema against the Citus plan of deploy/SCALING.md section 4, read from the live catalog after the
migrations: which table goes where is data (app/core/distribution.py, which `bonus-engine migrate` applies on
a Citus coordinator), and the rules Citus enforces are checked on it.

- every table of the schema is placed: in a colocation group with its distribution column, a reference
  table, or local to the coordinator (a new table must be placed before it can be created);
- a distributed table's distribution column exists, is NOT NULL, and has the type of its group's other
  distribution columns (colocated shards are cut by one hash of one type);
- every PRIMARY KEY and UNIQUE key of a distributed table contains its distribution column (a shard can
  only enforce uniqueness of what it holds);
- no foreign key goes from one group to another, from a reference or local table to a distributed one,
  and a foreign key inside a group pairs the two distribution columns (the rows it ties share a shard).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from app.core.distribution import DISTRIBUTED, GROUPS, LOCAL, REFERENCE
from app.core.migrations import upgrade
from tests.conftest import Servers
from tests.load import sql

SCALING = Path(__file__).resolve().parents[1] / "deploy" / "SCALING.md"


def placement(table: str) -> str:
    if table in DISTRIBUTED:
        return f"group {DISTRIBUTED[table][0].anchor}"
    if table in REFERENCE:
        return "reference"
    return "local" if table in LOCAL else "unplaced"


# --- the catalog ------------------------------------------------------------------------------------

TABLES = """
SELECT c.relname AS name FROM pg_class c
WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition"""

COLUMNS = """
SELECT c.relname AS table, a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS not_null
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped"""

# unique indexes, whether they back a PRIMARY KEY or UNIQUE constraint or not; an expression's attnum is 0
UNIQUE_KEYS = """
SELECT c.relname AS table, ic.relname AS name, i.indisprimary AS is_primary,
       array(SELECT a.attname FROM unnest(i.indkey) k JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k)
           AS columns
FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_class ic ON ic.oid = i.indexrelid
WHERE c.relnamespace = 'public'::regnamespace AND i.indisunique"""

FOREIGN_KEYS = """
SELECT con.conname AS name, src.relname AS source, dst.relname AS target,
       array(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(attnum, n)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum ORDER BY k.n) AS columns,
       array(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(attnum, n)
             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum ORDER BY k.n) AS target_columns
FROM pg_constraint con JOIN pg_class src ON src.oid = con.conrelid JOIN pg_class dst ON dst.oid = con.confrelid
WHERE con.contype = 'f' AND con.connamespace = 'public'::regnamespace"""


def plan_violations(database_url: str) -> list[str]:
    """Every way the schema of `database_url` breaks the plan, as sentences; empty when it follows it."""
    tables = {row["name"] for row in sql(database_url, TABLES)}
    columns = {(row["table"], row["name"]): row for row in sql(database_url, COLUMNS)}
    return (placement_violations(tables) + column_violations(tables, columns)
            + key_violations(sql(database_url, UNIQUE_KEYS))
            + foreign_key_violations(sql(database_url, FOREIGN_KEYS)))


def placement_violations(tables: set[str]) -> list[str]:
    planned = set(DISTRIBUTED) | set(REFERENCE) | LOCAL
    return ([f"table {t} is not in the plan: place it (app/core/distribution.py, SCALING.md section 4)"
             for t in sorted(tables - planned)]
            + [f"table {t} is in the plan but not in the schema" for t in sorted(planned - tables)])


def column_violations(tables: set[str], columns: dict[tuple[str, str], Any]) -> list[str]:
    problems = []
    for group in GROUPS:
        types = set()
        for table, column in group.tables.items():
            if table not in tables:
                continue
            found = columns.get((table, column))
            if found is None:
                problems.append(f"{table}: no distribution column {column}")
                continue
            types.add(found["type"])
            if not found["not_null"]:
                problems.append(f"{table}: distribution column {column} may be NULL")
        if len(types) > 1:
            problems.append(f"group {group.anchor}: distribution columns of types {sorted(types)}")
    return problems


def key_violations(keys: list[Any]) -> list[str]:
    problems = []
    for key in keys:
        if key["table"] not in DISTRIBUTED:
            continue
        column = DISTRIBUTED[key["table"]][1]
        if column not in key["columns"]:
            kind = "PRIMARY KEY" if key["is_primary"] else "UNIQUE"
            problems.append(f"{key['table']}: {kind} {key['name']} ({', '.join(key['columns'])}) "
                            f"lacks the distribution column {column}")
    return problems


def foreign_key_violations(keys: list[Any]) -> list[str]:
    problems = []
    for key in keys:
        source, target = key["source"], key["target"]
        where = (f"{key['name']}: {source} ({', '.join(key['columns'])}) → "
                 f"{target} ({', '.join(key['target_columns'])})")
        if target in REFERENCE and (source in DISTRIBUTED or source in REFERENCE):
            continue  # every node has the reference table
        if source not in DISTRIBUTED or target not in DISTRIBUTED:
            problems.append(f"{where}: from {placement(source)} to {placement(target)}")
        elif DISTRIBUTED[source][0] is not DISTRIBUTED[target][0]:
            problems.append(f"{where}: crosses from {placement(source)} to {placement(target)}")
        elif (DISTRIBUTED[source][1], DISTRIBUTED[target][1]) not in zip(key["columns"], key["target_columns"],
                                                                         strict=True):
            problems.append(f"{where}: does not pair the distribution columns {DISTRIBUTED[source][1]} → "
                            f"{DISTRIBUTED[target][1]}")
    return problems


# --- the tests --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def at_head(servers: Servers) -> str:
    return servers.new_database()


def test_the_schema_follows_the_plan(at_head: str) -> None:
    assert plan_violations(at_head) == []


def test_the_plan_here_is_the_one_scaling_md_gives(servers: Servers) -> None:
    """The create_reference_table / create_distributed_table calls of SCALING.md place the same tables."""
    text = SCALING.read_text(encoding="utf-8")
    assert set(re.findall(r"create_reference_table\('(\w+)'\)", text)) == set(REFERENCE)
    documented: dict[str, tuple[str, str]] = {}
    for table, column, colocated in re.findall(
            r"create_distributed_table\('(\w+)',\s*'(\w+)'(?:,\s*colocate_with => '(\w+)')?", text):
        documented[table] = (colocated or table, column)
    assert documented == {table: (group.anchor, column) for table, (group, column) in DISTRIBUTED.items()}


def test_the_checks_catch_what_the_schema_before_0004_did(servers: Servers) -> None:
    before = servers.empty_database()
    upgrade(before, "0002")
    found = "\n".join(plan_violations(before))
    for expected in (
        "table cards is in the plan but not in the schema",
        "table receipt_claims is in the plan but not in the schema",
        "receipts: no distribution column owner_id",
        "ledger: PRIMARY KEY ledger_pkey (id) lacks the distribution column account_id",
        "lots: PRIMARY KEY lots_pkey (id) lacks the distribution column account_id",
        "lot_moves: PRIMARY KEY lot_moves_pkey (id) lacks the distribution column account_id",
        "coupon_uses: PRIMARY KEY coupon_uses_pkey (id) lacks the distribution column code",
        "certificate_moves: PRIMARY KEY certificate_moves_pkey (id) lacks the distribution column code",
        "accounts: UNIQUE accounts_card_key (card) lacks the distribution column id",
        "lot_moves_entry_id_fkey: lot_moves (entry_id) → ledger (id): does not pair",
        "lot_moves_lot_id_fkey: lot_moves (lot_id) → lots (id): does not pair",
        "receipts_account_id_fkey: receipts (account_id) → accounts (id): does not pair",
        "coupon_uses_receipt_id_fkey: coupon_uses (receipt_id) → receipts (receipt_id): crosses",
        "coupon_uses_account_id_fkey: coupon_uses (account_id) → accounts (id): crosses",
    ):
        assert expected in found, found


def test_a_new_table_must_be_placed(at_head: str) -> None:
    sql(at_head, "CREATE TABLE unplaced (id bigint PRIMARY KEY, account_id bigint REFERENCES accounts (id))")
    try:
        found = plan_violations(at_head)
    finally:
        sql(at_head, "DROP TABLE unplaced")
    assert found == [
        "table unplaced is not in the plan: place it (app/core/distribution.py, SCALING.md section 4)",
        "unplaced_account_id_fkey: unplaced (account_id) → accounts (id): from unplaced to group accounts",
    ]
