"""Money as text and aligned text tables: the one way `bonus-engine simulate`, `bonus-engine report --format
table`, `bonus-engine keys list` and the report pages show them.

Money and points are integers in minor units, shown as major units with two decimals by integer arithmetic
(`divmod`), so a float passed by mistake fails (`:02d`) instead of being rounded. The one float is
`estimate`: a statistical estimate of money (a confidence interval's end), not an amount anyone holds.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

DASH = "—"  # a figure that does not exist: no data, a ratio over nothing


def amount(minor: int | None, *, grouped: bool = True) -> str:
    """Minor units as major units: 123456789 → "1,234,567.89" ("1234567.89" not grouped, as in CSV),
    -5 → "-0.05"; None → a dash."""
    if minor is None:
        return DASH
    sign = "-" if minor < 0 else ""
    whole, cents = divmod(abs(minor), 100)
    return f"{sign}{whole:,}.{cents:02d}" if grouped else f"{sign}{whole}.{cents:02d}"


def signed_amount(minor: int) -> str:
    """A difference in money: "+7,990.00", "-0.05", "0.00"."""
    return f"+{amount(minor)}" if minor > 0 else amount(minor)


def whole_amount(minor: int) -> str:
    """Minor units as whole major units (rounded towards zero), for axis ticks: 4000000 → "40,000"."""
    whole = abs(minor) // 100
    return f"{'-' if minor < 0 and whole else ''}{whole:,}"


def estimate(minor: float) -> str:
    """An estimate of money in minor units (not an amount: a float is fine): 12345.6 → "123.46"."""
    return f"{minor / 100:,.2f}"


def count(value: int | None) -> str:
    """A count grouped by thousands: 12345 → "12,345"; None → a dash."""
    return DASH if value is None else f"{value:,}"


def signed(value: int) -> str:
    """A difference in minor units or a count: "+5", "-5", "0"."""
    return f"+{value}" if value > 0 else str(value)


def table(header: Sequence[str], rows: Sequence[Sequence[object]], *, left: Collection[int]) -> str:
    """Aligned columns two spaces apart, the header first: the columns numbered in `left` flush left (text),
    the others flush right (numbers); no trailing spaces, no final newline."""
    cells = [[str(cell) for cell in row] for row in [header, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(widths[i]) if i in left else cell.rjust(widths[i]) for i, cell in enumerate(row)).rstrip()
        for row in cells
    )
