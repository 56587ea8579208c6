"""One error type for the whole service, rendered as RFC 9457 problem+json by one handler."""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    """A domain error: features raise it, `app.core.problems` turns it into the response."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ):
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.title = title or code.replace("_", " ").capitalize()
        self.headers = headers or {}
        self.extra = extra


def not_found(code: str, detail: str) -> AppError:
    return AppError(404, code, detail)


def conflict(code: str, detail: str) -> AppError:
    return AppError(409, code, detail)


def unprocessable(code: str, detail: str, errors: list[dict[str, str]] | None = None) -> AppError:
    if errors is None:
        return AppError(422, code, detail)
    return AppError(422, code, detail, errors=errors)


def unavailable(code: str, detail: str, retry_after_s: int = 1) -> AppError:
    return AppError(503, code, detail, headers={"Retry-After": str(retry_after_s)})


# Every `code` the API answers with, for the OpenAPI schema and docs/contract.md.
ERROR_CODES: dict[str, str] = {
    "validation_error": "the request does not match the schema; `errors` lists field paths",
    "invalid_json": "the body is not valid JSON",
    "body_too_large": "the body is over the limit (1 MiB)",
    "unsupported_media_type": "the Content-Type is not accepted here",
    "unauthorized": "no key, or an unknown or revoked key",
    "forbidden": "the key's role or store does not allow this",
    "not_found": "no such route",
    "method_not_allowed": "the route does not take this method",
    "receipt_not_found": "no confirmed receipt with this id",
    "account_not_found": "no account with this card",
    "account_exists": "the card is registered with other details",
    "account_blocked": "the card is blocked",
    "idempotency_conflict": "the same id was used with another body",
    "refund_exceeds_receipt": "the refund returns more than is left on the receipt",
    "line_not_found": "the refund names a line that is not on the receipt",
    "receipt_too_old": "the receipt is older than the program's max_receipt_age_days",
    "receipt_in_future": "the receipt is more than 5 minutes in the future",
    "invalid_program": "the program document is invalid; `errors` lists paths",
    "program_not_loaded": "no program has been loaded yet",
    "invalid_cursor": "the page cursor is not one this service gave",
    "campaign_not_found": "no campaign with this id in the program",
    "invalid_campaign": "the campaign is invalid; `errors` lists paths relative to the campaign",
    "campaign_id_mismatch": "the body's id is not the id in the path",
    "program_version_not_found": "no program version with this number",
    "template_not_found": "no campaign template with this id",
    "invalid_template_params": "a template's parameters are invalid; `errors` lists their paths",
    "too_many_failed_lookups": "this key looked up too many unknown codes this minute; retry after Retry-After",
    "coupon_not_found": "no coupon with this code",
    "gift_certificate_not_found": "no gift certificate with this code",
    "gift_certificate_not_sellable": "the certificate sold on a line is not in status issued",
    "gift_certificate_used": "the certificate sold on the refunded line has been spent",
    "campaign_not_coupon": "coupon batches need a coupon campaign without a shared code",
    "invalid_period": "a report's from, to or store is not a valid date, period or store id",
    "segment_not_found": "no such CVM segment: newcomer, loyal, pre_churn, churn or none",
    "invalid_segment": "the custom segment document is invalid; `errors` lists paths",
    "segment_id_mismatch": "the body's id is not the custom segment id in the path",
    "custom_segment_not_found": "no custom segment with this id",
    "segment_in_use": "campaigns name this custom segment; `errors` lists their paths",
    "too_many_segments": "the service holds at most 200 custom segments",
    "simulation_not_found": "no simulation with this id",
    "too_many_simulations": "as many simulations as the service queues are waiting; retry when one has started",
    "reports_rebuilding": "the report summaries are being built (first start, new time zone); retry later",
    "database_unavailable": "PostgreSQL is unreachable or the pool is exhausted; retry after Retry-After",
    "overloaded": "too many confirms are waiting in this worker (confirm_queue_max); retry after Retry-After",
    "internal_error": "a bug: reported in the logs with the request id",
}
