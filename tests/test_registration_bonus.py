"""Registration bonuses and their `when`: a registration has no receipt, so a registration bonus honours
only its `active` period at the moment the account is created, and its `when` conditions (channels,
stores, tiers, segments, weekdays, hours: all facts of a receipt) are not judged. The service does so
for POST /v1/accounts and for auto-enrolment on a first receipt, and `bonus-engine simulate` agrees.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.programs import program
from tests.support import Service, account, assert_books, card, confirm, ledger, line, receipt, register
from tests.test_simulate import as_json, campaign
from tests.test_simulate import receipt as simulated_receipt


def welcome(campaign_id: str, points: int, **fields: Any) -> dict[str, Any]:
    return {"id": campaign_id, "name": campaign_id, "type": "bonus", "trigger": "registration",
            "priority": 1, "points": points, **fields}


# Each bonus's points are a distinct power of two, so a sum says which fired.
FIRES = {
    "welcome-online": 1_000,  # the made-up context was channel pos: never fired
    "welcome-s99": 2_000,  # ... and store "": never fired
    "welcome-gold-loyal": 4_000,  # ... and tier None, segment none: never fired
    "welcome-open": 32_000,  # no `when`: fired before as now
}
NEVER = {
    "welcome-later": 8_000,  # not started yet
    "welcome-over": 16_000,  # ended
}
PROGRAM = program(expire_days=365, campaigns=[
    welcome("welcome-online", 1_000, when={"channels": ["online"]}),
    welcome("welcome-s99", 2_000, when={"stores": ["s99"]}),
    welcome("welcome-gold-loyal", 4_000, when={"tiers": ["gold"], "segments": ["loyal"],
                                               "weekdays": [1, 2, 3, 4, 5, 6, 7], "hours": "00:00-24:00"}),
    welcome("welcome-later", 8_000, active={"from": "2099-01-01T00:00:00+00:00"}, when={"channels": ["pos"]}),
    welcome("welcome-over", 16_000, active={"to": "2020-01-01T00:00:00+00:00"}),
    welcome("welcome-open", 32_000),
])
EXPECTED = sum(FIRES.values())


def registration_entries(client: Any, number: str) -> dict[str, int]:
    """The account's registration bonuses by campaign id, from its ledger."""
    found: dict[str, int] = {}
    for entry in ledger(client, number):
        if entry["kind"] == "bonus" and entry.get("reason", "").startswith("registration: "):
            found[entry["reason"].removeprefix("registration: ")] = entry["points"]
    return found


@pytest.fixture(scope="module")
def svc(make_module_service: Callable[..., Service]) -> Service:
    return make_module_service(PROGRAM)


def test_post_accounts_fires_registration_bonuses_whatever_their_when(svc: Service) -> None:
    client, number = svc.client(svc.key("pos", "s17")), card()
    created = register(client, number)
    assert created["points"]["available"] == EXPECTED
    assert registration_entries(client, number) == FIRES
    assert_books(svc, client, number)


def test_auto_enrolment_on_a_receipt_fires_the_same_bonuses(svc: Service) -> None:
    """A pos receipt at store s17 opens the account: neither `channels: [online]` nor `stores: [s99]`
    holds for that receipt, and the bonuses still fire, exactly as for POST /v1/accounts."""
    client, number = svc.client(svc.key("pos", "s17")), card()
    result = confirm(client, receipt([line("1", 10_000)], number, channel="pos", store_id="s17"))
    assert result["card_status"] == "ok"
    assert registration_entries(client, number) == FIRES
    assert account(client, number)["points"]["available"] == EXPECTED + 300  # 3 % of 10,000
    # registering it afterwards fills in the details and fires no second bonus
    again = client.post("/v1/accounts", json={"card": number, "phone": "+79001234567"})
    assert again.status_code == 200, again.text
    assert registration_entries(client, number) == FIRES
    assert_books(svc, client, number)


def test_simulate_fires_the_same_registration_bonuses(svc: Service, tmp_path: Path) -> None:
    """`bonus-engine simulate` auto-enrols the card of a pos receipt and fires what the service fires."""
    at = datetime.now(UTC).replace(microsecond=0).isoformat()
    result = as_json(tmp_path, PROGRAM, [simulated_receipt("a", 10_000, card="C1", at=at, channel="pos")])
    assert result["program"]["totals"]["registration_points"] == EXPECTED
    fired = {c: campaign(result, c)["points"] for c in [*FIRES, *NEVER] if campaign(result, c)["receipts"]}
    assert fired == FIRES
    # and the service, for a card enrolled by the same kind of receipt
    client, number = svc.client(svc.key("pos", "s1")), card()
    confirm(client, receipt([line("1", 10_000)], number, channel="pos", store_id="s1"))
    assert registration_entries(client, number) == fired
