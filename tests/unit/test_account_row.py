"""`AccountRow`: an account row built from its record in one place, and the row after a ledger write."""

from __future__ import annotations

from datetime import UTC, date, datetime

from app.accounts.repository import COLUMNS, AccountRow

RECORD = {"id": 7, "card": "C-7", "status": "active", "phone": None, "birth_date": date(1990, 5, 1),
          "registration_fingerprint": b"\x01", "debt": 0, "version": 3,
          "created_at": datetime(2026, 1, 2, tzinfo=UTC), "segments": None}


def test_the_row_has_every_column_and_no_segments_for_null() -> None:
    row = AccountRow.of(RECORD)
    assert COLUMNS.split(", ") == list(row.__dataclass_fields__)
    assert row.segments == frozenset() and row.active and row.birth_date == date(1990, 5, 1)
    assert AccountRow.of({**RECORD, "segments": ["vip", "b"], "status": "blocked"}).segments == {"vip", "b"}
    assert not AccountRow.of({**RECORD, "status": "blocked"}).active


def test_a_written_row_keeps_everything_but_debt_and_version() -> None:
    row = AccountRow.of(RECORD)
    assert row.written(150, 4) == AccountRow.of({**RECORD, "debt": 150, "version": 4})
    assert row.written(20).version == 3 and row.debt == 0
