"""`bonus-engine simulate`: the real command on small files, numbers worked out by hand.

Unless a test says otherwise the program is tests/programs.py's: tiers base 0 → 3 %, silver 100,000 → 5 %,
gold 500,000 → 7 %; accrual on what is paid, rounding to the minor unit, points available at once,
max_redeem_percent 50, auto_enroll on. Money and points are in minor units.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.programs import program

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "rules" / "examples" / "program.yaml"


def ten_percent(percent: int = 10, campaign_id: str = "ten-off", priority: int = 10) -> dict[str, Any]:
    return {"id": campaign_id, "name": f"{percent}% off everything", "type": "receipt_discount", "priority": priority,
            "thresholds": [{"min_amount": 0, "percent": percent}]}


def receipt(receipt_id: str, *amounts: int, card: str | None = None, at: str = "2026-11-24T10:15:00+03:00",
            category: str = "misc", **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "receipt_id": receipt_id, "store_id": "s1", "issued_at": at,
        "lines": [{"line_id": str(i), "sku": f"SKU-{i}", "category": category, "quantity": "1", "price": amount,
                   "amount": amount} for i, amount in enumerate(amounts, start=1)],
        **fields,
    }
    if card is not None:
        body["card"] = card
    return body


def write_jsonl(path: Path, rows: list[dict[str, Any] | str]) -> Path:
    path.write_text("".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows))
    return path


def simulate(tmp_path: Path, program_text: str | Path, receipts: list[dict[str, Any] | str], *extra: str,
             check: bool = True) -> subprocess.CompletedProcess[str]:
    if isinstance(program_text, Path):
        program_file = program_text
    else:
        program_file = tmp_path / "program.yaml"
        program_file.write_text(program_text)
    receipts_file = write_jsonl(tmp_path / "receipts.jsonl", receipts)
    completed = subprocess.run(
        [sys.executable, "-m", "app.cli", "simulate", "--program", str(program_file),
         "--receipts", str(receipts_file), *extra],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )
    if check:
        assert completed.returncode == 0, completed.stderr
    return completed


def as_json(tmp_path: Path, program_text: str | Path, receipts: list[dict[str, Any] | str],
            *extra: str) -> dict[str, Any]:
    return json.loads(simulate(tmp_path, program_text, receipts, "--format", "json", *extra).stdout)


def campaign(result: dict[str, Any], campaign_id: str, side: str = "program") -> dict[str, Any]:
    return next(c for c in result[side]["campaigns"] if c["id"] == campaign_id)


def test_receipt_discount_over_three_receipts(tmp_path: Path) -> None:
    # 10 % of 100,000 = 10,000; of 250,000 = 25,000; of 33,335 = 3,333.5 → half up 3,334. Cardless: no points.
    receipts = [receipt("a", 100_000), receipt("b", 200_000, 50_000), receipt("c", 33_335)]
    result = as_json(tmp_path, program(campaigns=[ten_percent()]), receipts)
    assert campaign(result, "ten-off") == {"id": "ten-off", "name": "10% off everything", "receipts": 3,
                                           "discount": 38_334, "points": 0, "held_out": 0}
    assert result["program"]["totals"] == {"receipts": 3, "amount": 383_335, "discount": 38_334,
                                           "points_accrued": 0, "points_redeemed": 0, "registration_points": 0,
                                           "birthday_points": 0}
    assert result["program"]["card_status"] == {"ok": 0, "none": 3, "unknown": 0, "blocked": 0}
    assert result["baseline"] is None
    assert result["input"] == {"lines": 3, "receipts": 3, "invalid": 0, "duplicates": 0, "problems": []}


def test_table_shows_minor_and_major_units(tmp_path: Path) -> None:
    receipts = [receipt("a", 100_000), receipt("b", 200_000, 50_000), receipt("c", 33_335)]
    table = simulate(tmp_path, program(campaigns=[ten_percent()]), receipts).stdout
    row = next(line for line in table.splitlines() if line.startswith("ten-off"))
    assert row.split()[:6] == ["ten-off", "3", "38334", "383.34", "0", "0.00"]
    assert any(line.split()[-2:] == ["383335", "3,833.35"] for line in table.splitlines() if line.startswith("amount"))


def test_accrual_multiplier_and_points_spent_on_the_next_receipt(tmp_path: Path) -> None:
    double = {"id": "double-coffee", "name": "Double points on coffee", "type": "accrual", "priority": 20,
              "items": {"categories": ["coffee"]}, "multiplier": 2}
    first = receipt("a", 10_000, card="C1")
    first["lines"][0]["category"] = "coffee/beans"  # the campaign's `coffee` matches its sub-categories
    first["lines"].append({"line_id": "2", "sku": "TEA", "category": "tea", "quantity": "1", "price": 20_000,
                           "amount": 20_000})
    second = receipt("b", 10_000, card="C1", category="coffee", at="2026-11-25T10:00:00+03:00", redeem_points=1_000)
    result = as_json(tmp_path, program(campaigns=[double]), [first, second])
    # a: coffee 10,000 × 3 % × 2 = 600 (300 over the tier's rate), tea 20,000 × 3 % = 600 → 1,200 accrued,
    #    available at once (pending_days 0).
    # b: redeem 1,000 of the 1,200 available (cap 50 % of 10,000 = 5,000); base 10,000 − 1,000 = 9,000;
    #    9,000 × 6 % = 540 (270 over the tier's rate). Tier purchases 30,000 after a: still base.
    assert campaign(result, "double-coffee") == {"id": "double-coffee", "name": "Double points on coffee",
                                                 "receipts": 2, "discount": 0, "points": 300 + 270,
                                                 "held_out": 0}
    totals = result["program"]["totals"]
    assert (totals["points_accrued"], totals["points_redeemed"]) == (1_200 + 540, 1_000)
    assert result["program"]["card_status"]["ok"] == 2


def test_pending_points_are_not_spent_before_they_ripen(tmp_path: Path) -> None:
    # pending_days 14: the 300 points of a (10,000 × 3 %) are not available a day later, nor is anything else.
    receipts = [receipt("a", 10_000, card="C1"),
                receipt("b", 10_000, card="C1", at="2026-11-25T10:00:00+03:00", redeem_points=300),
                receipt("c", 10_000, card="C1", at="2026-12-08T10:15:00+03:00", redeem_points=300)]
    result = as_json(tmp_path, program(pending_days=14), receipts)
    # c comes exactly 14 days after a: a's 300 and nothing of b's (ripens 2026-12-09) → 300 redeemed;
    # points: a 300, b 300, c (10,000 − 300) × 3 % = 291.
    assert result["program"]["totals"]["points_redeemed"] == 300
    assert result["program"]["totals"]["points_accrued"] == 300 + 300 + 291


def test_accounts_file_opens_balances_and_tiers(tmp_path: Path) -> None:
    accounts = write_jsonl(tmp_path / "accounts.jsonl", [
        {"card": "K1", "tier_purchases": 100_000, "available_points": 2_000},
        {"card": "B1", "blocked": True},
    ])
    receipts = [receipt("a", 10_000, card="K1", redeem_points=3_000),  # silver 5 %, 2,000 available
                receipt("b", 10_000, card="U1", redeem_points=3_000),  # unknown: auto_enroll is off
                receipt("c", 10_000, card="B1", redeem_points=3_000)]  # blocked: earns and spends nothing
    result = as_json(tmp_path, program(auto_enroll=False), receipts, "--accounts", str(accounts))
    # a: redeem min(3,000, 2,000 available, 50 % of 10,000) = 2,000; (10,000 − 2,000) × 5 % = 400.
    assert result["program"]["totals"]["points_redeemed"] == 2_000
    assert result["program"]["totals"]["points_accrued"] == 400
    assert result["program"]["card_status"] == {"ok": 1, "none": 0, "unknown": 1, "blocked": 1}


def test_custom_segments_come_from_the_accounts_file(tmp_path: Path) -> None:
    """A campaign for a custom segment applies to the cards the accounts file puts in it, for the whole run;
    a card not in the file, and one in another segment, are in none of them."""
    vip = {**ten_percent(), "when": {"segments": ["coffee-lovers", "churn"]}}
    accounts = write_jsonl(tmp_path / "accounts.jsonl", [{"card": "K1", "segments": ["coffee-lovers"]},
                                                         {"card": "K2", "segments": ["tea-lovers"]}])
    receipts = [receipt("a", 10_000, card="K1"), receipt("b", 20_000, card="K2"), receipt("c", 30_000, card="K3"),
                receipt("d", 40_000, card="K1", at="2026-11-30T10:00:00+03:00")]
    result = as_json(tmp_path, program(campaigns=[vip]), receipts, "--accounts", str(accounts))
    # K1's two receipts only: 10 % of 10,000 and of 40,000
    assert campaign(result, "ten-off") == {**campaign(result, "ten-off"), "receipts": 2, "discount": 5_000}
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"card": "K1", "segments": ["Not An Id"]}])
    invalid = simulate(tmp_path, program(campaigns=[vip]), receipts, "--accounts", str(bad), check=False)
    assert invalid.returncode == 1 and "bad.jsonl:1: segments" in invalid.stderr


def test_tier_grows_with_the_simulated_purchases(tmp_path: Path) -> None:
    # a (100,000) earns at base 3 % = 3,000 and lifts the card to silver; b then earns 5 % of 10,000 = 500.
    receipts = [receipt("a", 100_000, card="C1"), receipt("b", 10_000, card="C1", at="2026-11-25T10:00:00+03:00")]
    result = as_json(tmp_path, program(), receipts)
    assert result["program"]["totals"]["points_accrued"] == 3_000 + 500


def test_shared_coupon_uses_are_counted(tmp_path: Path) -> None:
    once = {"id": "once", "name": "50.00 off, one use", "type": "coupon", "priority": 10, "code": "SAVE5",
            "amount": 5_000, "max_uses": 1}
    per_card = {"id": "per-card", "name": "5% once per card", "type": "coupon", "priority": 20, "code": "HELLO",
                "percent": 5, "max_uses_per_account": 1}
    receipts = [receipt("a", 100_000, card="C1", coupons=["save5", "HELLO"]),
                receipt("b", 100_000, card="C2", coupons=["SAVE5", "hello"]),
                receipt("c", 100_000, card="C1", coupons=["HELLO", "BATCH-CODE-1"]),
                receipt("d", 100_000, coupons=["HELLO"])]
    result = as_json(tmp_path, program(campaigns=[once, per_card]), receipts)
    # a: SAVE5 applied (5,000), then 5 % of 95,000 = 4,750; b: SAVE5 usage_limit_reached, HELLO 5,000 (C2's first);
    # c: HELLO usage_limit_reached (C1's second), the batch code unknown (no store without a database);
    # d: HELLO card_required (a per-account limit needs a card).
    assert result["program"]["coupons"] == {
        "SAVE5": {"campaign": "once", "applied": 1, "rejected": {"usage_limit_reached": 1}},
        "HELLO": {"campaign": "per-card", "applied": 2,
                  "rejected": {"usage_limit_reached": 1, "card_required": 1}},
        "(other codes)": {"campaign": None, "applied": 0, "rejected": {"unknown": 1}},
    }
    assert campaign(result, "once")["receipts"] == 1
    assert campaign(result, "once")["discount"] == 5_000
    assert campaign(result, "per-card")["discount"] == 4_750 + 5_000
    assert result["program"]["totals"]["discount"] == 5_000 + 4_750 + 5_000


def test_baseline_difference(tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps({"tiers": {"levels": [{"id": "base", "min_purchases": 0, "accrual_percent": 3}]},
                                    "campaigns": [ten_percent(5), ten_percent(1, "old-one", 20)]}))
    receipts = [receipt("a", 100_000), receipt("b", 200_000)]
    extra = ("--baseline", str(baseline))
    result = as_json(tmp_path, program(campaigns=[ten_percent(10)]), receipts, *extra)
    # program: 10 % → 10,000 + 20,000; baseline: 5 % then 1 % of what is left:
    # a: 5,000 + 950; b: 10,000 + 1,900.
    assert campaign(result, "ten-off")["discount"] == 30_000
    assert campaign(result, "ten-off", "baseline")["discount"] == 15_000
    assert campaign(result, "old-one", "baseline")["discount"] == 2_850
    assert result["difference"]["totals"]["discount"] == 30_000 - 17_850
    assert {c["id"]: c["discount"] for c in result["difference"]["campaigns"]} == {"ten-off": 15_000,
                                                                                   "old-one": -2_850}
    table = simulate(tmp_path, program(campaigns=[ten_percent(10)]), receipts, *extra).stdout
    rows = [line.split() for line in table.splitlines()]
    assert ["discount", "30000", "15000", "+15000", "+150.00"] in [r[:5] for r in rows]  # ten-off's rows
    assert ["discount", "0", "2850", "-2850", "-28.50"] in [r[:5] for r in rows]  # old-one's (baseline only)
    assert ["discount", "30000", "17850", "+12150", "+121.50"] in [r[:5] for r in rows]  # totals


def test_malformed_lines_are_reported_and_skipped(tmp_path: Path) -> None:
    bad_amount = receipt("b", 100_000)
    bad_amount["lines"][0]["amount"] = 100_000.0
    receipts: list[dict[str, Any] | str] = [receipt("a", 100_000), "{not json", bad_amount, "",
                                            receipt("a", 100_000), receipt("c", 100_000)]
    completed = simulate(tmp_path, program(campaigns=[ten_percent()]), receipts, "--format", "json")
    result = json.loads(completed.stdout)
    assert result["input"]["receipts"] == 2
    assert (result["input"]["invalid"], result["input"]["duplicates"]) == (2, 1)
    assert [p["line"] for p in result["input"]["problems"]] == [2, 3, 5]
    assert "lines.0.amount" in result["input"]["problems"][1]["error"]
    assert result["program"]["totals"]["discount"] == 20_000
    assert "receipts.jsonl:2:" in completed.stderr and "receipts.jsonl:3: lines.0.amount" in completed.stderr
    assert "receipts.jsonl:5: receipt_id a repeats line 1" in completed.stderr


def test_example_program(tmp_path: Path) -> None:
    shoes = receipt("a", 799_000, 50_000, card="C1")
    shoes["lines"][0].update(sku="BOOT-123", category="shoes/winter")
    shoes["lines"][1].update(sku="CREAM-7", category="care")
    cardless = receipt("b", 399_500, category="shoes", at="2026-11-25T10:15:00+03:00")
    clearance = receipt("c", 300_000, card="C1", category="clearance", at="2026-12-20T10:15:00+03:00",
                        redeem_points=100_000)
    result = as_json(tmp_path, EXAMPLE, [shoes, cardless, clearance])
    # a: C1 is auto-enrolled: welcome 20,000 (available at once, expires 14 days later, on 2026-12-08).
    #    winter-check: shoes 799,000 ≥ 500,000 → 5 % = 39,950; points (whole): boots 759,050 × 3 % = 22,771.5
    #    → 22,700; care 50,000 × 6 % = 3,000 (care-double adds 1,500) → 25,700, available 2026-12-08.
    # b: cardless, 399,500 < 500,000: nothing.
    # c: welcome has expired, a's 25,700 have ripened: redeem 25,700 (cap 150,000); clearance is replaced
    #    by 0 %: 0 points where the tier would give (300,000 − 25,700) × 3 % = 8,229 → 8,200.
    touched = {c["id"]: (c["receipts"], c["discount"], c["points"])
               for c in result["program"]["campaigns"] if c["receipts"]}
    assert touched == {
        "welcome": (1, 0, 20_000), "winter-check": (1, 39_950, 0), "care-double": (1, 0, 1_500),
        "no-points-on-sale": (1, 0, -8_200),
    }
    assert result["program"]["totals"] == {"receipts": 3, "amount": 1_548_500, "discount": 39_950,
                                           "points_accrued": 25_700, "points_redeemed": 25_700,
                                           "registration_points": 20_000, "birthday_points": 0}


def test_csv_format(tmp_path: Path) -> None:
    completed = simulate(tmp_path, program(campaigns=[ten_percent()]), [receipt("a", 123_456)], "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(completed.stdout)))
    discount = next(r for r in rows if r["section"] == "campaign" and r["metric"] == "discount")
    assert (discount["id"], discount["value"], discount["value_major"]) == ("ten-off", "12346", "123.46")
    total = next(r for r in rows if r["section"] == "total" and r["metric"] == "amount")
    assert (total["value"], total["value_major"]) == ("123456", "1234.56")


def test_progress_on_request(tmp_path: Path) -> None:
    receipts = [receipt(f"r{i}", 1_000) for i in range(50)]
    completed = simulate(tmp_path, program(), receipts, "--progress")
    assert completed.stderr.splitlines()[-1].startswith("simulate [####################] 100%  50 receipts")
    quiet = simulate(tmp_path, program(), receipts)  # stderr is a pipe here: no progress without --progress
    assert quiet.stderr == ""


def test_bad_input_files(tmp_path: Path) -> None:
    broken = simulate(tmp_path, "tiers: {levels: []}\n", [receipt("a", 1_000)], check=False)
    assert broken.returncode == 1
    assert "tiers.levels" in broken.stderr
    missing = simulate(tmp_path, program(), [receipt("a", 1_000)], "--accounts", str(tmp_path / "none.jsonl"),
                       check=False)
    assert missing.returncode == 1 and "none.jsonl" in missing.stderr
    accounts = write_jsonl(tmp_path / "accounts.jsonl", [{"card": "K1", "available_points": 1.5}])
    invalid = simulate(tmp_path, program(), [receipt("a", 1_000)], "--accounts", str(accounts), check=False)
    assert invalid.returncode == 1 and "accounts.jsonl:1: available_points" in invalid.stderr


def test_birthday_bonuses_sweep_each_simulated_day_in_the_chains_time_zone(tmp_path: Path) -> None:
    """Each day from the first receipt's to the last one's is swept at its start, in --time-zone. `bday`: the
    birthday and the day before; `bday-gold`: gold customers on the birthday itself.

    In Moscow (UTC+3) the receipts fall on 24, 26 and 27 November (the last is 23:30 UTC on the 26th):
    c1 (born 25 Nov) gets `bday` on the 24th and redeems it on the 26th; c4 (gold, born 26 Nov) `bday` on the
    25th and `bday-gold` on the 26th; c5 (born 28 Nov) `bday` on the 27th, the day before. c2 (29 Feb),
    blocked c3 and c6 (born 23 Nov: its window ended before the first receipt's day) get nothing:
    3 × 5,000 + 7,000 = 22,000.
    In UTC the last receipt is on the 26th: no day 27, so c5 gets nothing: 17,000."""
    bday = {"id": "bday", "name": "Birthday", "type": "bonus", "trigger": "birthday", "priority": 1,
            "points": 5_000, "days_before": 1}
    gold = {**bday, "id": "bday-gold", "name": "Gold birthday", "points": 7_000, "when": {"tiers": ["gold"]}}
    del gold["days_before"]
    accounts = write_jsonl(tmp_path / "accounts.jsonl", [
        {"card": "c1", "birth_date": "1990-11-25"}, {"card": "c2", "birth_date": "2000-02-29"},
        {"card": "c3", "birth_date": "1990-11-25", "blocked": True},
        {"card": "c4", "birth_date": "1990-11-26", "tier_purchases": 500_000},
        {"card": "c5", "birth_date": "1980-11-28"}, {"card": "c6", "birth_date": "1990-11-23"},
    ])
    receipts = [receipt("r1", 100_000, at="2026-11-24T10:15:00+03:00"),
                receipt("r2", 10_000, card="c1", at="2026-11-26T01:00:00+03:00", redeem_points=5_000),
                receipt("r3", 100_000, at="2026-11-26T23:30:00+00:00")]
    document = program(campaigns=[bday, gold])
    moscow = as_json(tmp_path, document, receipts, "--accounts", str(accounts), "--time-zone", "Europe/Moscow")
    assert campaign(moscow, "bday") == {"id": "bday", "name": "Birthday", "receipts": 3, "discount": 0,
                                        "points": 15_000, "held_out": 0}
    assert campaign(moscow, "bday-gold")["points"] == 7_000
    assert moscow["program"]["totals"]["birthday_points"] == 22_000
    assert moscow["program"]["totals"]["points_redeemed"] == 5_000  # c1's birthday points, 50 % of 10,000
    utc = as_json(tmp_path, document, receipts, "--accounts", str(accounts), "--time-zone", "UTC")
    assert (campaign(utc, "bday")["points"], campaign(utc, "bday-gold")["points"]) == (10_000, 7_000)
    assert utc["program"]["totals"]["birthday_points"] == 17_000
    bad = simulate(tmp_path, document, receipts, "--time-zone", "Mars/Olympus", check=False)
    assert bad.returncode == 2 and "unknown time zone 'Mars/Olympus'" in bad.stderr


def _bucket(campaign_id: str, card: str) -> int:
    """The contract's holdout bucket, written out here (not the engine's function)."""
    return int.from_bytes(hashlib.blake2b(f"{campaign_id}\n{card}".encode(), digest_size=8).digest(), "big") % 10_000


def test_control_percent_holds_the_same_members_out_as_the_service(tmp_path: Path) -> None:
    cards = [f"29{n:011d}" for n in range(40)]
    held = [c for c in cards if _bucket("ten-off", c) < 3000][:2]
    kept = [c for c in cards if _bucket("ten-off", c) >= 3000][:2]
    receipts = [receipt("h1", 100_000, card=held[0]), receipt("h2", 100_000, card=held[1]),
                receipt("k1", 100_000, card=kept[0]), receipt("k2", 100_000, card=kept[1]),
                receipt("h3", 100_000, card=held[0], at="2026-11-25T10:15:00+03:00"),
                receipt("none", 100_000)]  # cardless: never held out
    control = {**ten_percent(), "control_percent": 30}
    result = as_json(tmp_path, program(campaigns=[control]), receipts)
    # two treated members and the cardless receipt get 10 % of 100,000; three receipts of held-out members none
    assert campaign(result, "ten-off") == {"id": "ten-off", "name": "10% off everything", "receipts": 3,
                                           "discount": 30_000, "points": 0, "held_out": 3}
