"""Which refusals of schema-valid requests are right: the rules the OpenAPI schema cannot state.

The schema says what JSON Schema can (patterns, formats, `not`, `oneOf`, `uniqueItems`, `prefixItems`;
see rules/_json_schema.py), so schemathesis' `positive_data_acceptance` ("schema-valid request rejected")
stays on. A schema-valid request may still be refused for a rule JSON Schema has no words for: one field
compared with another, uniqueness by a normalized key, a whole number written `2107.0` (an `integer` to JSON
Schema, a float to us), time (a receipt older than the program allows), or the service's data (a cursor it
never gave, a line not on the receipt). `beyond_json_schema` names the rule a refusal is for, and each rule
checks the request itself where it can, so a refusal the schema should have prevented is still a failure.

Also a schemathesis hooks module: `SCHEMATHESIS_HOOKS=tests.schemathesis_rules st run ... --exclude-checks
positive_data_acceptance` runs the check below in its place (docs/development.md, "Schemathesis by hand").
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import schemathesis
from pydantic import ValidationError
from schemathesis.specs.openapi.checks import positive_data_acceptance

from app.templates import TEMPLATES
from rules import normalize_code

MAX_BODY_BYTES = 1_048_576  # BONUS_ENGINE_MAX_BODY_BYTES' default
MAX_PERIOD_DAYS = 3660  # app.reports.service.MAX_PERIOD_DAYS
MAX_SIMULATION_DAYS = 366  # app.simulations.schemas.MAX_PERIOD_DAYS
_FUTURE_TOLERANCE = timedelta(minutes=5)  # app.receipts.service.FUTURE_TOLERANCE
_SKEW = timedelta(minutes=1)  # between the test's clock and the moment the service looked at its own

# Messages of the program's and the campaign's rules across fields or campaigns (rules/_program.py).
_DOCUMENT_RULES = re.compile("|".join([
    r"min_purchases must grow", r"tier ids must be unique", r"need 0 < pre_churn_days < churn_days",
    r"'to' must be after 'from'", r"thresholds must be sorted by growing",
    r"pay must be less than buy", r"campaign id .* is used twice", r"unknown tiers: ",
    r"coupon code .* is used by another campaign",
    # the service's data: a campaign may name only a custom segment that exists
    r"no custom segment '", r"all/any nest at most \d+ deep", r"a filter holds at most \d+ conditions",
]))
_NUL = "must not contain the NUL character (U+0000)"


def _body(case: Any) -> Any:
    return case.body if isinstance(case.body, dict | list) else None


def _at(data: Any, path: str) -> Any:
    """The value at an error path such as `lines[0].quantity` (None when it is not there)."""
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", path):
        try:
            data = data[int(index)] if index else data[name]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _time(text: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        return None


def _repeats(values: list[Any]) -> bool:
    return len(set(values)) != len(values)


def _whole_float(case: Any, error: dict[str, str]) -> bool:
    """`2107.0` where an integer is due: JSON Schema's `integer` takes it, the service's strict ints do not
    (the schema says `format: int64`, which generated clients hold in an integer type)."""
    value = _at(_body(case), error["path"])
    if value is None:  # a union's member named after the value's path (`attributes.m.constrained-int`)
        value = _at(_body(case), error["path"].rpartition(".")[0])
    return isinstance(value, float) and value.is_integer() and error["message"].startswith("Input should be a valid")


def _receipt_rule(case: Any, message: str) -> bool:
    """The receipt's checks across lines and payments (rules/_receipt.py), recomputed from the body."""
    body = _body(case) or {}
    lines = body.get("lines") or []
    rule = message.removeprefix("Value error, ")
    try:
        paid = [normalize_code(p["code"]) for p in body.get("gift_certificates") or []]
        sold = [normalize_code(line["gift_certificate"]) for line in lines if line.get("gift_certificate")]
        checks = {
            "line_id values must be unique within the receipt": lambda: _repeats([line["line_id"] for line in lines]),
            "the same coupon code is given twice": lambda: _repeats([normalize_code(c) for c in body["coupons"]]),
            "a coupon code must not be blank": lambda: any(not normalize_code(c) for c in body["coupons"]),
            "the same gift certificate is given twice": lambda: _repeats(paid),
            "the same gift certificate is sold on two lines": lambda: _repeats(sold),
            "a gift certificate cannot pay for its own sale": lambda: bool(set(paid) & set(sold)),
        }
        return rule in checks and checks[rule]()
    except (KeyError, TypeError, AttributeError):  # not the shape the rule reads: not this rule
        return False


def _receipt_time(case: Any, code: str) -> bool:
    """Time: too old for any program (whose max_receipt_age_days is at least 1), or ahead of the service."""
    issued_at = _time((_body(case) or {}).get("issued_at"))
    if issued_at is None:
        return False
    now = datetime.now(UTC)
    if code == "receipt_in_future":
        return issued_at > now + _FUTURE_TOLERANCE - _SKEW
    return issued_at < now - timedelta(days=1) + _SKEW


def _period(case: Any, detail: str) -> bool:
    """`from` after `to`, or a period longer than MAX_PERIOD_DAYS: two parameters compared."""
    query = case.query or {}
    try:
        end = date.fromisoformat(query["to"]) if query.get("to") else datetime.now(UTC).date()
        start = date.fromisoformat(query["from"]) if query.get("from") else end - timedelta(days=29)
    except ValueError:
        return False
    if "is after to" in detail:
        return start > end
    return "spans at most" in detail and (end - start).days >= MAX_PERIOD_DAYS


def _simulation_period(case: Any, detail: str) -> bool:
    """A simulation's `from` after its `to`, or a period over app.simulations.schemas.MAX_PERIOD_DAYS."""
    body = _body(case) or {}
    try:
        start, end = date.fromisoformat(body["from"]), date.fromisoformat(body["to"])
    except (KeyError, TypeError, ValueError):
        return False
    if detail == "from is after to":
        return start > end
    return "covers at most" in detail and (end - start).days + 1 > MAX_SIMULATION_DAYS


def _birth_date(case: Any, error: dict[str, str]) -> bool:
    """A birth date before 1900 or after today (app/accounts/schemas.py): a date against the calendar's
    today, which JSON Schema's `format: date` cannot compare."""
    if not error["message"].endswith("must be between 1900-01-01 and today"):
        return False
    try:
        value = date.fromisoformat(_at(_body(case), error["path"]))
    except (TypeError, ValueError):
        return False
    today = datetime.now(UTC).date()
    return value < date(1900, 1, 1) or value > today - timedelta(days=1)  # a day's slack for the two clocks


def _attributes_merged(case: Any, error: dict[str, str]) -> bool:
    """More than 32 attributes once merged with the stored ones: the service's data. A body alone within
    the schema's `maxProperties` may still be refused."""
    return error["path"] == "profile.attributes" and error["message"].startswith("a profile holds at most")


def _birth_date_twice(case: Any, error: dict[str, str]) -> bool:
    """A registration giving both `birth_date` and `profile.birth_date` (app/accounts/schemas.py): two fields
    compared, which the schema does not state."""
    body = _body(case) or {}
    profile = body.get("profile")
    return (error["message"].endswith("give the birth date once: birth_date or profile.birth_date")
            and body.get("birth_date") is not None and isinstance(profile, dict)
            and profile.get("birth_date") is not None)


def _errors_beyond(case: Any, problem: dict[str, Any]) -> bool:
    """Every error of the problem is for a rule beyond JSON Schema."""
    errors = problem.get("errors") or []
    return bool(errors) and all(e["message"] == _NUL or _whole_float(case, e) or _receipt_rule(case, e["message"])
                                or _birth_date(case, e) or _attributes_merged(case, e) or _birth_date_twice(case, e)
                                or _DOCUMENT_RULES.search(e["message"]) for e in errors)


def _validation(case: Any, problem: dict[str, Any]) -> bool:
    if problem.get("detail") == "expires_at is in the past":  # time: before now when the service read it
        expires_at = _time((_body(case) or {}).get("expires_at"))
        return expires_at is not None and expires_at <= datetime.now(UTC) + _SKEW
    if problem.get("detail") == "a line is named twice":  # a refund naming one line twice
        return _repeats([line.get("line_id") for line in (_body(case) or {}).get("lines") or []])
    return _errors_beyond(case, problem)


def beyond_json_schema(case: Any, status: int, problem: dict[str, Any]) -> bool:
    """Whether refusing this schema-valid request is right for a rule the schema cannot state."""
    code = problem.get("code")
    if status == 413:  # the body limit: a count of bytes, not a shape
        return len(json.dumps(case.body, default=str).encode()) > MAX_BODY_BYTES
    if status == 409 and code == "too_many_simulations":  # the service's data: the jobs already waiting
        return True
    if status != 422:
        return False
    if code == "validation_error":
        return _validation(case, problem)
    if code in ("invalid_program", "invalid_campaign", "invalid_segment"):
        return _errors_beyond(case, problem)
    if code == "campaign_id_mismatch":  # the body's id against the path's
        return (_body(case) or {}).get("id") not in (None, (case.path_parameters or {}).get("campaign_id"))
    if code == "invalid_template_params":  # the body takes one template's parameters: the path's
        return _not_the_paths_template(case) or _errors_beyond(case, problem)
    if code == "segment_id_mismatch":
        return (_body(case) or {}).get("id") not in (None, (case.path_parameters or {}).get("segment_id"))
    if code in ("receipt_too_old", "receipt_in_future"):
        return _receipt_time(case, code)
    if code == "invalid_period":
        detail = str(problem.get("detail", ""))
        return _simulation_period(case, detail) if case.path == "/v1/simulations" else _period(case, detail)
    if code == "invalid_cursor":  # opaque: only the cursors the service gave are valid
        return (case.query or {}).get("cursor") is not None
    # the service's data: a refund's line that is not on the receipt, a batch for a campaign that is not a
    # coupon campaign without a shared code in the active program
    return code in ("line_not_found", "campaign_not_coupon")


def _not_the_paths_template(case: Any) -> bool:
    """The body is one of the templates' parameters (the schema's anyOf), but not the path's template's."""
    template = TEMPLATES.get((case.path_parameters or {}).get("template_id", ""))
    if template is None:
        return False
    try:
        template.params.model_validate(_body(case))
    except ValidationError:
        return True
    return False


def _problem(response: Any) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def accepts_or_refuses_rightly(case: Any, response: Any) -> bool:
    """True when `positive_data_acceptance` should not judge this answer (see the module's docstring): a
    schema-valid request refused for a rule beyond JSON Schema. Negative cases are that check's no business."""
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return False
    return beyond_json_schema(case, response.status_code, _problem(response))


@schemathesis.check
def positive_data_acceptance_beyond_json_schema(ctx: Any, response: Any, case: Any) -> bool | None:
    """`positive_data_acceptance`, except for refusals for a rule the schema cannot state."""
    if accepts_or_refuses_rightly(case, response):
        return None
    return positive_data_acceptance(ctx, response, case)
