"""Reports as tables for people (`bonus-engine report ... --format table`) and as CSV.

A report is one or more tables: the program's KPIs as metric/value rows and its days; campaigns one row
each; segments the CVM sizes and the RFM cells. Money stays in minor units, as in the JSON.
"""

from __future__ import annotations

import csv
import io
from typing import Any

Table = tuple[str, list[str], list[list[Any]]]  # (title, header, rows)


def _flat(prefix: str, value: Any) -> list[list[Any]]:
    if isinstance(value, dict):
        return [row for key, inner in value.items() for row in _flat(f"{prefix}.{key}" if prefix else key, inner)]
    return [[prefix, "" if value is None else value]]


def program_tables(report: dict[str, Any]) -> list[Table]:
    kpis = {key: value for key, value in report.items() if key != "days"}
    days = [[d["day"], d["receipts"], d["revenue"], d["points_accrued"], d["points_redeemed"]] for d in report["days"]]
    return [("program", ["metric", "value"], _flat("", kpis)),
            ("days", ["day", "receipts", "revenue", "points_accrued", "points_redeemed"], days)]


def campaigns_tables(report: dict[str, Any]) -> list[Table]:
    header = ["id", "receipts", "discount", "points", "coupon_uses", "revenue", "average_check",
              "untouched_receipts", "untouched_revenue", "untouched_average_check", "name"]
    rows = [[c["id"], c["receipts"], c["discount"], c["points"], c["coupon_uses"], c["revenue"], c["average_check"],
             c["untouched"]["receipts"], c["untouched"]["revenue"], c["untouched"]["average_check"], c["name"]]
            for c in report["campaigns"]]
    return [("campaigns", header, rows)]


def segments_tables(report: dict[str, Any]) -> list[Table]:
    cvm = [[s["segment"], s["members"], s["revenue"]] for s in report["cvm"]]
    cells = [[c["r"], c["f"], c["m"], c["members"], c["revenue"]] for c in report["rfm"]["cells"]]
    return [("cvm", ["segment", "members", "revenue"], cvm), ("rfm", ["r", "f", "m", "members", "revenue"], cells)]


def as_text(tables: list[Table]) -> str:
    """Aligned columns, numbers to the right; one blank line between tables."""
    parts = []
    for title, header, rows in tables:
        cells = [header] + [["" if v is None else str(v) for v in row] for row in rows]
        widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
        numeric = [all(_is_number(row[i]) for row in cells[1:]) and len(cells) > 1 for i in range(len(header))]
        lines = [f"# {title}"]
        for row in cells:
            lines.append("  ".join(v.rjust(w) if n else v.ljust(w) for v, w, n in zip(row, widths, numeric,
                                                                                        strict=True)).rstrip())
        parts.append("\n".join(lines))
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
