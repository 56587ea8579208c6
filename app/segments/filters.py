"""A segment's filter as SQL: one boolean expression per segment over one row per account, so that a refresh
evaluates every segment in a single pass over the accounts (docs/contract.md, Custom segments).

The row is `accounts a` with the roll-up's lifetime figures `report_accounts r` (the same figures as the
customer card's, as of the last roll-up) and the profile `p`. A condition that needs other rows (bought,
store, tier) becomes, over every account, a derived table of the accounts it holds for, left-joined by
account id: the planner hashes it once, however many accounts there are. Over a few accounts (`only`: the
incremental refresh's candidates) it becomes a look-up of that account's rows through its indexes instead.
Every value is a bound parameter; only names this module writes itself reach the text.

While compiling, the Compiler notes which conditions depend on the passing of time (`Edges`): the refresh
finds from them the accounts whose membership can change with the clock alone (app/segments/changes.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import BaseModel

from rules import Program

from . import schemas as s
from .schemas import MAX_CONDITIONS, MAX_DEPTH

# a receipt that stands (as in tier purchases, the card and the reports); owner_id = account_id picks an
# account's own receipts through the partial index, as app/customers/repository.py does
_STANDING = "status IN ('confirmed', 'partially_refunded')"
_GOODS = "NOT coalesce((l ->> 'sells_certificate')::boolean, false)"


def check_limits(node: BaseModel) -> list[dict[str, str]]:
    """Nesting deeper than MAX_DEPTH, or more than MAX_CONDITIONS conditions in all: 422 with the path."""
    errors: list[dict[str, str]] = []
    count = 0

    def walk(node: BaseModel, path: str, depth: int) -> None:
        nonlocal count
        children = getattr(node, "all", None) or getattr(node, "any", None)
        if not isinstance(node, s.SegAll | s.SegAny):
            count += 1
            if count == MAX_CONDITIONS + 1:
                errors.append({"path": path, "message": f"a filter holds at most {MAX_CONDITIONS} conditions"})
            return
        key = "all" if isinstance(node, s.SegAll) else "any"
        if depth > MAX_DEPTH:
            errors.append({"path": path, "message": f"all/any nest at most {MAX_DEPTH} deep"})
            return
        for index, child in enumerate(children or ()):
            walk(child, f"{path}.{key}[{index}]", depth + 1)

    walk(node, "filter", 1)
    return errors


@dataclass
class Edges:
    """The time-based conditions of the filters compiled: what a passing clock can change."""

    # each bound of a days_since_last range as t in "the last purchase's day <= today - t": gt b and lte b
    # are b + 1 (its negation), gte b and lt b are b
    days_since_last: set[int] = field(default_factory=set)
    cvm: bool = False
    rfm: bool = False
    tier: bool = False
    bought_within: set[int] = field(default_factory=set)  # within_days
    store_within: set[tuple[int, tuple[str, ...]]] = field(default_factory=set)  # (within_days, the stores)
    registered_within: set[int] = field(default_factory=set)


@dataclass
class Compiler:
    """Builds the refresh's SELECT: `membership(filters)` returns (statement, parameters). `only`: a SELECT
    of the account ids to evaluate (every account when None)."""

    now: datetime
    today: date
    time_zone: str
    program: Program
    only: str | None = None
    params: list[Any] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)  # derived tables, each `(SELECT account_id ...) jN`
    rfm: bool = False
    tier: bool = False
    edges: Edges = field(default_factory=Edges)

    def value(self, value: Any, cast: str = "") -> str:
        self.params.append(value)
        return f"${len(self.params)}{cast}"

    def membership(self, filters: Sequence[tuple[str, BaseModel]]) -> tuple[str, list[Any]]:
        """(SELECT account id, the ids of the segments it is in or NULL) over every account."""
        columns = [f"CASE WHEN {self.node(node)} THEN {self.value(segment_id, '::text')} END"
                   for segment_id, node in filters]
        joins = "".join(f" LEFT JOIN {table} ON j{n}.account_id = a.id" for n, table in enumerate(self.tables))
        if self.rfm:
            joins += " LEFT JOIN report_rfm b ON b.id = 1"
        if self.tier and self.only is None:
            joins += f" LEFT JOIN ({self._tier_purchases()} GROUP BY owner_id) t ON t.account_id = a.id"
        elif self.tier:
            joins += f" LEFT JOIN LATERAL ({self._tier_purchases()} AND owner_id = a.id GROUP BY owner_id) t ON true"
        where = "" if self.only is None else f" WHERE a.id IN ({self.only})"
        listed = ", ".join(columns) if columns else "NULL::text"
        return (f"SELECT a.id, nullif(array_remove(ARRAY[{listed}]::text[], NULL), '{{}}') AS segments"
                " FROM accounts a LEFT JOIN report_accounts r ON r.account_id = a.id"
                f" LEFT JOIN profiles p ON p.account_id = a.id{joins}{where}"), self.params

    # --- conditions ---------------------------------------------------------------------------------

    def node(self, node: BaseModel) -> str:
        if isinstance(node, s.SegAll | s.SegAny):
            parts = [self.node(child) for child in (node.all if isinstance(node, s.SegAll) else node.any)]
            return "(" + (" AND " if isinstance(node, s.SegAll) else " OR ").join(parts) + ")"
        name = next(iter(type(node).model_fields))
        condition: Callable[[Any], str] = getattr(self, f"_{name}")
        return condition(getattr(node, name))

    def _range(self, expression: str, bounds: Any) -> str:
        tests = [f"{expression} {op} {self.value(getattr(bounds, name))}"
                 for name, op in (("gte", ">="), ("gt", ">"), ("lte", "<="), ("lt", "<"))
                 if getattr(bounds, name) is not None]
        return "(" + " AND ".join(tests) + ")"

    def _ltv(self, bounds: Any) -> str:
        return self._range("coalesce(r.revenue, 0)", bounds)

    def _receipts(self, bounds: Any) -> str:
        return self._range("coalesce(r.receipts, 0)", bounds)

    def _average_check(self, bounds: Any) -> str:
        # as the card rounds it (app/reports/service.average): half up, in integers; none without a receipt
        return self._range("CASE WHEN r.receipts > 0 THEN floor((2 * r.revenue + r.receipts)::numeric"
                           " / (2 * r.receipts)) END", bounds)

    def _days_since_last(self, bounds: Any) -> str:
        # greatest() ignores a NULL: the CASE keeps a customer without a purchase out of every range
        self.edges.days_since_last.update(bound + (name in ("gt", "lte")) for name in ("gte", "gt", "lte", "lt")
                                          if (bound := getattr(bounds, name)) is not None)
        return self._range(f"CASE WHEN r.receipts > 0 THEN greatest(0, {self.value(self.today, '::date')}"
                           f" - (r.last_purchase_at AT TIME ZONE {self.value(self.time_zone, '::text')})::date) END",
                           bounds)

    def _rfm(self, rfm: s.SegRfmScores) -> str:
        # scored as the card scores (app/customers/card.score): one plus the boundaries below the value
        self.rfm = self.edges.rfm = True
        scores = {"r": "r.last_purchase_at", "f": "r.receipts", "m": "r.revenue"}
        arrays = {"r": "b.recency", "f": "b.frequency", "m": "b.monetary"}
        tests = [self._range(f"(1 + (SELECT count(*) FROM unnest({arrays[key]}) AS bound"
                             f" WHERE {scores[key]} > bound))", getattr(rfm, key))
                 for key in ("r", "f", "m") if getattr(rfm, key) is not None]
        return "(r.receipts > 0 AND " + " AND ".join(tests) + ")"

    def _segment(self, cvm: s.SegCvmIn) -> str:
        # rules.segment_of in SQL, as of the refresh
        self.edges.cvm = True
        settings = self.program.segments
        now = self.value(self.now, "::timestamptz")
        expression = (
            f"CASE WHEN r.receipts IS NULL THEN 'none'"
            f" WHEN {now} - r.last_purchase_at >= {self.value(timedelta(days=settings.churn_days))} THEN 'churn'"
            f" WHEN {now} - r.last_purchase_at >= {self.value(timedelta(days=settings.pre_churn_days))}"
            " THEN 'pre_churn'"
            f" WHEN {now} - r.first_purchase_at < {self.value(timedelta(days=settings.newcomer_days))}"
            " THEN 'newcomer' ELSE 'loyal' END")
        return f"({expression} = ANY({self.value(list(cvm.in_), '::text[]')}))"

    def _tier(self, tier: s.SegTierIn) -> str:
        # rules.tier_for in SQL: the highest level whose min_purchases the window's purchases reach
        self.tier = self.edges.tier = True
        levels = self.program.tiers.levels
        cases = " ".join(f"WHEN coalesce(t.purchases, 0) >= {self.value(int(level.min_purchases))}"
                         f" THEN {self.value(level.id, '::text')}" for level in reversed(levels[1:]))
        expression = f"CASE {cases} ELSE {self.value(levels[0].id, '::text')} END" if cases else \
            self.value(levels[0].id, "::text")
        return f"({expression} = ANY({self.value(list(tier.in_), '::text[]')}))"

    def _tier_purchases(self) -> str:
        window_days = self.program.tiers.window_days
        since = (f" AND issued_at >= {self.value(self.now - timedelta(days=window_days), '::timestamptz')}"
                 if window_days else "")
        return ("SELECT owner_id AS account_id, sum(purchase_amount - refunded_purchase) AS purchases FROM receipts"
                f" WHERE owner_id = account_id AND {_STANDING}"
                f" AND issued_at <= {self.value(self.now, '::timestamptz')}{since}")

    def _joined(self, select: str, key: str) -> str:
        """A condition held by the accounts `select` lists (its one column, account_id, is `key` of its
        table): over every account a derived table, over a few a look-up of the account's own rows."""
        if self.only is not None:
            return f"EXISTS ({select} AND {key} = a.id)"
        number = len(self.tables)
        self.tables.append(f"({select} GROUP BY 1) j{number}")
        return f"(j{number}.account_id IS NOT NULL)"

    def _bought(self, bought: s.SegBoughtTest) -> str:
        if bought.skus is not None:
            line = f"l ->> 'sku' = ANY({self.value(list(bought.skus), '::text[]')})"
        else:
            # a category or any below it, as a campaign's `items.categories` scopes lines
            paths = [path.strip("/") for path in bought.categories or ()]
            # one operator (^@: starts with), not a subquery over the paths: Citus refuses a subquery inside one
            # whose FROM is only a function (the lines' jsonb_array_elements below)
            line = (f"(l ->> 'category' = ANY({self.value(paths, '::text[]')})"
                    f" OR l ->> 'category' ^@ ANY({self.value([path + '/' for path in paths], '::text[]')}))")
        since = (f" AND issued_at >= {self.value(self.now - timedelta(days=bought.within_days), '::timestamptz')}"
                 if bought.within_days else "")
        if bought.within_days:
            self.edges.bought_within.add(bought.within_days)
        return self._joined(
            f"SELECT owner_id AS account_id FROM receipts WHERE owner_id = account_id AND {_STANDING}{since}"
            f" AND EXISTS (SELECT FROM jsonb_array_elements(lines) AS l WHERE {_GOODS} AND {line})", "owner_id")

    def _store(self, store: s.SegStoreIn) -> str:
        since = (f" AND day >= {self.value(self.today - timedelta(days=store.within_days), '::date')}"
                 if store.within_days else "")
        if store.within_days:
            self.edges.store_within.add((store.within_days, tuple(sorted(store.in_))))
        return self._joined(f"SELECT account_id FROM report_members"
                            f" WHERE store_id = ANY({self.value(list(store.in_), '::text[]')}){since}", "account_id")

    def _gender(self, gender: s.SegGenderIn) -> str:
        return f"(p.gender = ANY({self.value(list(gender.in_), '::text[]')}))"

    def _birth_month(self, months: s.SegMonthIn) -> str:
        return f"(extract(month FROM a.birth_date)::int = ANY({self.value(list(months.in_), '::int[]')}))"

    def _registered_within_days(self, days: int) -> str:
        self.edges.registered_within.add(days)
        return (f"(a.created_at >= {self.value(self.now - timedelta(days=days), '::timestamptz')})")

    def _attributes(self, tests: dict[str, Any]) -> str:
        parts = []
        for key, test in tests.items():
            value = f"(p.attributes -> {self.value(key, '::text')})"
            if isinstance(test, s.SegAttributeIn):
                parts.append(f"({value} = ANY({self.value(list(test.in_), '::jsonb[]')}))")
            elif isinstance(test, s.SegAttributeRange):
                number = f"CASE WHEN jsonb_typeof({value}) = 'number' THEN ({value} #>> '{{}}')::numeric END"
                parts.append(self._range(number, test))
            else:  # a scalar: equal, with its JSON type (true is not 1)
                parts.append(f"({value} = {self.value(test, '::jsonb')})")
        return "(" + " AND ".join(parts) + ")"
