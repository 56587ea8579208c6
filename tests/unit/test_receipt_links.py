"""A receipt's links read back from every shape confirm and refunds store, and are stored as they were."""

from __future__ import annotations

from typing import Any

import pytest

from app.receipts.links import Links, PointLinks

# documents as confirm and refunds store them (and rows hold them today), written out
STORED: dict[str, dict[str, Any]] = {
    "cardless, nothing used": {},
    "cardless, a coupon and a burned certificate": {"coupons": ["C-1", "C-2"], "burned": {"GC-1": 300}},
    "an account, no points": {"bonus_lots": [], "return_entries": []},
    "an account, every link": {"coupons": ["C-1"], "burned": {"GC-1": 300, "GC-2": 5},
                               "bonus_lots": [17, 18], "return_entries": [41, 44],
                               "redemption_entry": 40, "accrual_lot": 16},
    "an account, a redemption only": {"bonus_lots": [], "return_entries": [], "redemption_entry": 9},
}


@pytest.mark.parametrize("name", STORED)
def test_a_stored_document_reads_back_and_is_stored_the_same(name: str) -> None:
    assert Links.from_json(STORED[name]).to_json() == STORED[name]


def test_the_fields_of_a_stored_document() -> None:
    links = Links.from_json(STORED["an account, every link"])
    assert links == Links(("C-1",), {"GC-1": 300, "GC-2": 5}, PointLinks(40, 16, (17, 18), (41, 44)))
    assert links.redemption_entries == [40, 41, 44]
    assert links.points is not None and links.points.own_lots == [16, 17, 18]


def test_a_receipt_without_point_links_has_no_redemption_and_no_own_lots() -> None:
    links = Links.from_json(STORED["cardless, a coupon and a burned certificate"])
    assert links.points is None and links.redemption_entries == []


def test_a_return_entry_is_added_after_the_earlier_ones() -> None:
    links = Links.from_json(STORED["an account, every link"]).with_return_entry(50)
    assert links.to_json()["return_entries"] == [41, 44, 50]
    first = Links().with_points(PointLinks(redemption_entry=9)).with_return_entry(10)
    assert first.to_json() == {"bonus_lots": [], "return_entries": [10], "redemption_entry": 9}


def test_an_account_receipt_stores_its_empty_lists_and_a_cardless_one_none() -> None:
    assert Links().with_points(PointLinks()).to_json() == {"bonus_lots": [], "return_entries": []}
    assert Links().to_json() == {}
