"""Reports as tables for people (`bonus-engine report ... --format table`) and as CSV.

A report is one or more tables: the program's KPIs as metric/value rows, its days and its segments' shares;
campaigns one row each; segments the CVM sizes and the RFM cells; stores the totals, one row per store and
one per store and day; customers one row each and the page's cursor. Money stays in minor units, as in the
JSON.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from app.core import text

from .service import CUSTOMER_COLUMNS

Table = tuple[str, list[str], list[list[Any]]]  # (title, header, rows)


def _flat(prefix: str, value: Any) -> list[list[Any]]:
    if isinstance(value, dict):
        return [row for key, inner in value.items() for row in _flat(f"{prefix}.{key}" if prefix else key, inner)]
    return [[prefix, "" if value is None else value]]


def _rows(header: list[str], items: list[dict[str, Any]]) -> list[list[Any]]:
    return [[item[name] for name in header] for item in items]


def program_tables(report: dict[str, Any]) -> list[Table]:
    figures = {key: value for key, value in report.items() if key != "days"}
    figures["kpis"] = {key: value for key, value in report["kpis"].items() if key != "segments"}
    days = ["day", "receipts", "revenue", "points_accrued", "points_redeemed"]
    shares = ["segment", "receipts", "revenue", "receipts_share", "revenue_share"]
    return [("program", ["metric", "value"], _flat("", figures)), ("days", days, _rows(days, report["days"])),
            ("segment_shares", shares, _rows(shares, report["kpis"]["segments"]))]


STORE_FIGURES = ["receipts", "with_card", "identified_share", "revenue", "average_check", "registrations"]


def stores_tables(report: dict[str, Any]) -> list[Table]:
    stores = ["store", *STORE_FIGURES, "members", "purchase_frequency"]
    days = [[store["store"], *_rows(["day", *STORE_FIGURES], [day])[0]] for store in report["stores"]
            for day in store["days"]]
    return [("total", ["metric", "value"], _flat("", report["total"])),
            ("stores", stores, _rows(stores, report["stores"])), ("days", ["store", "day", *STORE_FIGURES], days)]


def customers_tables(report: dict[str, Any]) -> list[Table]:
    page = [["order", report["order"]], ["inactive_days", report["inactive_days"]],
            ["inactive_before", report["inactive_before"]], ["next_cursor", report["next_cursor"]]]
    return [("customers", CUSTOMER_COLUMNS, _rows(CUSTOMER_COLUMNS, report["customers"])),
            ("page", ["metric", "value"], page)]


ABC_COLUMNS = ["key", "value", "share", "cumulative_share", "class"]


def abc_tables(report: dict[str, Any]) -> list[Table]:
    classes = ["class", "keys", "value", "share"]
    return [("classes", classes, _rows(classes, report["classes"])),
            ("abc", ABC_COLUMNS, _rows(ABC_COLUMNS, report["rows"]))]


def campaigns_tables(report: dict[str, Any]) -> list[Table]:
    header = ["id", "receipts", "discount", "points", "coupon_uses", "revenue", "average_check",
              "untouched_receipts", "untouched_revenue", "untouched_average_check", "name"]
    rows = [[c["id"], c["receipts"], c["discount"], c["points"], c["coupon_uses"], c["revenue"], c["average_check"],
             c["untouched"]["receipts"], c["untouched"]["revenue"], c["untouched"]["average_check"], c["name"]]
            for c in report["campaigns"]]
    return [("campaigns", header, rows)]


UPLIFT_GROUP = ["eligible_members", "buyers", "repeat_buyers", "receipts", "revenue", "revenue_per_member"]


def uplift_tables(report: dict[str, Any]) -> list[Table]:
    def interval(ci: list[int] | None) -> list[Any]:
        return list(ci) if ci is not None else [None, None]

    groups = [[name, *_rows(UPLIFT_GROUP, [report[name]])[0], *interval(report[name]["revenue_per_member_ci"])]
              for name in ("treated", "held_out")]
    difference = report["difference"]
    groups.append(["difference", None, None, None, None, None, difference["revenue_per_member"],
                   *interval(difference["revenue_per_member_ci"])])
    ci = interval(report["incremental_revenue_ci"])
    figures = [["campaign", report["campaign"]["id"]], ["control_percent", report["campaign"]["control_percent"]],
               ["cost.discount", report["cost"]["discount"]], ["cost.points", report["cost"]["points"]],
               ["cost.total", report["cost"]["total"]], ["incremental_revenue", report["incremental_revenue"]],
               ["incremental_revenue_ci_low", ci[0]], ["incremental_revenue_ci_high", ci[1]],
               ["return_per_cost", report["return_per_cost"]], ["method", difference["method"]],
               ["conclusion", report["conclusion"]]]
    return [("groups", ["group", *UPLIFT_GROUP, "ci_low", "ci_high"], groups),
            ("uplift", ["metric", "value"], figures)]


def segments_tables(report: dict[str, Any]) -> list[Table]:
    cvm = [[s["segment"], s["members"], s["revenue"]] for s in report["cvm"]]
    cells = [[c["r"], c["f"], c["m"], c["members"], c["revenue"]] for c in report["rfm"]["cells"]]
    deciles = [[d["decile"], d["members"], d["revenue"], d["revenue_share"], d["min_ltv"], d["max_ltv"]]
               for d in report["ltv_deciles"]]
    return [("cvm", ["segment", "members", "revenue"], cvm), ("rfm", ["r", "f", "m", "members", "revenue"], cells),
            ("ltv_deciles", ["decile", "members", "revenue", "revenue_share", "min_ltv", "max_ltv"], deciles)]


def as_text(tables: list[Table]) -> str:
    """Aligned columns, numbers to the right; one blank line between tables."""
    parts = []
    for title, header, rows in tables:
        cells = [["" if v is None else str(v) for v in row] for row in rows]
        text_columns = {i for i in range(len(header)) if not cells or not all(_is_number(row[i]) for row in cells)}
        parts.append(f"# {title}\n" + text.table(header, cells, left=text_columns))
    return "\n\n".join(parts) + "\n"


def _is_number(text: str) -> bool:
    return text.lstrip("-").replace(".", "", 1).isdigit() or text == ""


def as_csv(tables: list[Table]) -> str:
    """Each table with its header, a `table` column first so that several tables share one file."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for title, header, rows in tables:
        writer.writerow(["table", *header])
        writer.writerows([title, *("" if v is None else v for v in row)] for row in rows)
    return buffer.getvalue()
