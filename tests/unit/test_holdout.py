"""Holdout control groups in the pure engine: the split, who is eligible, and what a held-out member gets."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import timeit
from pathlib import Path
from typing import Any

import pytest

from rules import ProgramError, parse_program
from rules._holdout import bucket, is_held_out

from ._helpers import account, campaign, discount_campaign, line, program, program_doc, receipt, run

ROOT = Path(__file__).resolve().parents[2]
CARDS = [f"29{n:011d}" for n in range(10_000)]


def test_buckets_are_pinned_so_that_no_version_moves_a_member() -> None:
    # the first 8 bytes of BLAKE2b-64 of "<campaign>\n<card>", big-endian, mod 10,000: written out here once
    # so that a change of encoding or hash (which would regroup every member) fails this test
    expected = int.from_bytes(hashlib.blake2b(b"winter-check\n2900000000001", digest_size=8).digest(), "big") % 10_000
    assert expected == 877
    assert [bucket("winter-check", c) for c in ("2900000000001", "2900000000002", "2900000000003")] == [877, 5111, 1295]
    assert [bucket("big-check", c) for c in ("2900000000001", "2900000000002", "2900000000003")] == [6261, 2609, 8169]


def test_buckets_are_the_same_in_another_process_with_another_hash_seed() -> None:
    code = "from rules._holdout import bucket; print([bucket('winter-check', f'29{n:011d}') for n in range(50)])"
    answers = {
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT,
                       env={**os.environ, "PYTHONHASHSEED": seed}).stdout
        for seed in ("1", "2")
    }
    assert answers == {str([bucket("winter-check", f"29{n:011d}") for n in range(50)]) + "\n"}


@pytest.mark.parametrize("percent", [1, 10, 25, 50])
def test_the_split_is_close_to_its_percent_over_10000_accounts(percent: int) -> None:
    held = sum(is_held_out("winter-check", c, percent) for c in CARDS)
    # binomial: sd = sqrt(10,000 × p × (1 − p)) ≤ 50 members; 4 sd either side
    sd = (10_000 * percent / 100 * (1 - percent / 100)) ** 0.5
    assert abs(held - 100 * percent) <= 4 * sd
    # the same members on every call (a second pass over them agrees member by member)
    assert [is_held_out("winter-check", c, percent) for c in CARDS[:500]] == \
        [is_held_out("winter-check", c, percent) for c in CARDS[:500]]


def test_groups_of_two_campaigns_are_independent() -> None:
    # with 50 % each, a quarter of the members is held out of both (about 2,500 of 10,000)
    both = sum(is_held_out("a", c, 50) and is_held_out("b", c, 50) for c in CARDS)
    assert abs(both - 2500) <= 4 * (10_000 * 0.25 * 0.75) ** 0.5


def test_percent_0_holds_nobody_out_and_50_holds_the_lower_half_of_the_buckets() -> None:
    assert not any(is_held_out("winter-check", c, 0) for c in CARDS)
    assert all(is_held_out("winter-check", c, 50) == (bucket("winter-check", c) < 5000) for c in CARDS[:1000])


def test_hashing_a_member_costs_microseconds() -> None:
    per_call_s = min(timeit.repeat(lambda: bucket("winter-check", "2900000012345"), number=2000, repeat=5)) / 2000
    assert per_call_s < 20e-6  # about 1 µs on the development machine; no cache needed


def _split(percent: int) -> tuple[str, str]:
    """A card held out of `disc` and one that is not."""
    held = next(c for c in CARDS if is_held_out("disc", c, percent))
    kept = next(c for c in CARDS if not is_held_out("disc", c, percent))
    return held, kept


def test_a_held_out_member_gets_nothing_from_the_campaign_and_the_outcome_says_so() -> None:
    prog = program([discount_campaign("disc", 10, control_percent=20), discount_campaign("other", 5, priority=20)])
    held, kept = _split(20)
    out = run(receipt(line("1", 100000), card=held), prog)
    # only `other`: 5 % of 100,000
    assert [c.id for c in out.campaigns] == ["other"] and out.total("discount") == 5000
    assert out.holdout_held_out == ("disc",) and out.holdout_treated == ()
    got = run(receipt(line("1", 100000), card=kept), prog)
    # 10 % of 100,000 = 10,000, then 5 % of 90,000 = 4,500
    assert got.total("discount") == 14500 and got.holdout_treated == ("disc",) and got.holdout_held_out == ()


def test_a_held_out_member_earns_no_accrual_campaign_points() -> None:
    extra = campaign("accrual", "disc", percent=10, mode="add", control_percent=50)
    prog = program([extra])
    held, kept = _split(50)
    # base 3 %; + 10 % for the treated: 13 % of 100,000
    assert run(receipt(line("1", 100000), card=held), prog).total("points_accrued") == 3000
    assert run(receipt(line("1", 100000), card=kept), prog).total("points_accrued") == 13000


def test_cardless_and_unknown_cards_are_never_held_out() -> None:
    prog = program([discount_campaign("disc", 10, control_percent=50)])
    cardless = run(receipt(line("1", 100000)), prog, account("none"))
    assert cardless.total("discount") == 10000 and cardless.holdout_held_out == () == cardless.holdout_treated
    held, _ = _split(50)
    unknown = run(receipt(line("1", 100000), card=held), prog, account("unknown"))
    assert unknown.total("discount") == 10000 and unknown.holdout_held_out == ()
    blocked = run(receipt(line("1", 100000), card=held), prog, account("blocked"))
    assert blocked.total("discount") == 0 and blocked.holdout_held_out == ("disc",)  # a blocked card is a member


def test_only_eligible_receipts_count_in_a_group() -> None:
    held, kept = _split(30)
    stores = program([discount_campaign("disc", 10, control_percent=30, when={"stores": ["s99"]})])
    assert run(receipt(line("1", 100000), card=kept), stores).holdout_treated == ()  # its `when` fails at s17
    scoped = program([discount_campaign("disc", 10, control_percent=30, items={"skus": ["SKU-9"]})])
    assert run(receipt(line("1", 100000), card=held), scoped).holdout_held_out == ()  # none of its items
    # a threshold not reached is still an eligible receipt: the campaign was tried on this member
    high = program([discount_campaign("disc", 10, min_amount=500000, control_percent=30)])
    out = run(receipt(line("1", 100000), card=kept), high)
    assert out.total("discount") == 0 and out.holdout_treated == ("disc",)


def test_without_control_percent_nothing_is_recorded() -> None:
    out = run(receipt(line("1", 100000), card=CARDS[0]), program([discount_campaign("disc", 10)]))
    assert out.holdout_treated == () == out.holdout_held_out


def _invalid(entry: dict[str, Any]) -> list[dict[str, str]]:
    with pytest.raises(ProgramError) as raised:
        parse_program(program_doc([entry]))
    return raised.value.errors


@pytest.mark.parametrize("value", [51, -1, "10", 10.5, 10.0, True])
def test_control_percent_is_a_whole_number_from_0_to_50(value: Any) -> None:
    errors = _invalid(discount_campaign("disc", 10, control_percent=value))
    assert [e["path"] for e in errors] == ["campaigns[0].control_percent"]


def test_coupons_and_registration_bonuses_have_no_control_group() -> None:
    coupon = campaign("coupon", "c", code="SAVE", percent=5, control_percent=10)
    assert "control group" in _invalid(coupon)[0]["message"]
    bonus = campaign("bonus", "b", trigger="registration", points=100, control_percent=10)
    assert "control group" in _invalid(bonus)[0]["message"]
    receipt_bonus = campaign("bonus", "b", trigger="receipt", points=100, control_percent=10)
    assert parse_program(program_doc([receipt_bonus])).campaigns[0].control_percent == 10
    assert parse_program(program_doc([{**coupon, "control_percent": 0}])).campaigns[0].control_percent == 0


def test_the_document_keeps_control_percent_and_leaves_it_out_when_absent() -> None:
    doc = parse_program(program_doc([discount_campaign("disc", 10, control_percent=15), discount_campaign("b", 5)]))
    campaigns = doc.document()["campaigns"]
    assert campaigns[0]["control_percent"] == 15 and "control_percent" not in campaigns[1]
