"""A run's result as `bonus-engine simulate` prints it: a table for people, JSON, or CSV in long format. Money and
points stay in minor units, with a column in major units beside them (app.core.text)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from app.core import text

from .model import TOTAL_KEYS
from .result import METRICS, campaign_rows

TOTAL_LABELS = {
    "receipts": "receipts",
    "amount": "amount",
    "discount": "discount",
    "points_accrued": "points accrued",
    "points_redeemed": "points redeemed",
    "registration_points": "registration bonus points",
    "birthday_points": "birthday bonus points",
}
MONEY_TOTALS = {"amount", "discount", "points_accrued", "points_redeemed", "registration_points", "birthday_points"}


def render_table(result: dict[str, Any]) -> str:
    currency = result["currency"]
    seen = result["input"]
    lines = [
        f"program {result['program_file']} on {result['receipts_file']}: {seen['receipts']:,} receipts"
        + (f", baseline {result['baseline_file']}" if result.get("baseline_file") else "")
        + (f" ({seen['invalid']} invalid, {seen['duplicates']} repeated lines skipped)"
           if seen["invalid"] or seen["duplicates"] else ""),
        "",
    ]
    rows = campaign_rows(result)
    program_totals = result["program"]["totals"]
    if not result.get("baseline"):
        body = [[r["id"], str(r["receipts"]), str(r["discount"]), text.amount(r["discount"]), str(r["points"]),
                 text.amount(r["points"]), r["name"]] for r in rows]
        header = ["campaign", "receipts", "discount", f"discount {currency}", "points", "points (major)", "name"]
        lines += [text.table(header, body, left=(0, 6)), ""]
        totals = [[TOTAL_LABELS[k], str(program_totals[k]), text.amount(program_totals[k]) if k in MONEY_TOTALS else ""]
                  for k in TOTAL_KEYS]
        lines.append(text.table(["totals", "minor units", "major units"], totals, left=(0,)))
    else:
        baseline_totals = result["baseline"]["totals"]
        body = []
        for r in rows:
            for position, (metric, money) in enumerate(METRICS):
                diff = r[metric] - r[f"baseline_{metric}"]
                body.append([r["id"] if position == 0 else "", metric, str(r[metric]), str(r[f"baseline_{metric}"]),
                             text.signed(diff), text.signed_amount(diff) if money else "",
                             r["name"] if position == 0 else ""])
        header = ["campaign", "metric", "program", "baseline", "difference", "difference (major)", "name"]
        lines += [text.table(header, body, left=(0, 1, 6)), ""]
        totals = []
        for k in TOTAL_KEYS:
            diff = program_totals[k] - baseline_totals[k]
            totals.append([TOTAL_LABELS[k], str(program_totals[k]), str(baseline_totals[k]), text.signed(diff),
                           text.signed_amount(diff) if k in MONEY_TOTALS else ""])
        lines.append(text.table(["totals", "program", "baseline", "difference", "difference (major)"], totals,
                            left=(0,)))
    cards = result["program"]["card_status"]
    lines += ["", "card status: " + ", ".join(f"{status} {count:,}" for status, count in cards.items())]
    coupons = result["program"]["coupons"]
    if coupons:
        lines.append("coupons: " + "; ".join(
            f"{code} applied {entry['applied']}"
            + "".join(f", {reason} {count}" for reason, count in sorted(entry["rejected"].items()))
            for code, entry in coupons.items()))
    return "\n".join(lines) + "\n"


def render_csv(result: dict[str, Any]) -> str:
    """Long format: one row per figure (section, id, name, metric, value, value_major[, baseline…])."""
    baseline = bool(result.get("baseline"))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    header = ["section", "id", "name", "metric", "value", "value_major"]
    if baseline:
        header += ["baseline", "baseline_major", "difference", "difference_major"]
    writer.writerow(header)

    def row(section: str, ident: str, name: str, metric: str, value: int, base: int | None, money: bool) -> None:
        cells: list[Any] = [section, ident, name, metric, value, text.amount(value, grouped=False) if money else ""]
        if baseline:
            assert base is not None
            cells += [base, text.amount(base, grouped=False) if money else "", value - base,
                      text.amount(value - base, grouped=False) if money else ""]
        writer.writerow(cells)

    for r in campaign_rows(result):
        for metric, money in METRICS:
            row("campaign", r["id"], r["name"], metric, r[metric], r.get(f"baseline_{metric}"), money)
    base_totals = result["baseline"]["totals"] if baseline else {}
    for key in TOTAL_KEYS:
        row("total", "", "", key, result["program"]["totals"][key], base_totals.get(key), key in MONEY_TOTALS)
    return buffer.getvalue()


def render_json(result: dict[str, Any]) -> str:
    return json.dumps(result, ensure_ascii=False, indent=2) + "\n"


RENDERERS = {"table": render_table, "json": render_json, "csv": render_csv}
