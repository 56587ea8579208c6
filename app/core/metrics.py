"""Prometheus metrics (`bonus_*`) and the ASGI middleware that times every request by route.

No card, receipt or terminal ids as labels: routes are templates (`/v1/accounts/{card}`).
With several workers, set PROMETHEUS_MULTIPROC_DIR (`bonus-engine serve` does) and /metrics
aggregates all of them.
"""

from __future__ import annotations

import os
import time
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

REQUESTS = Counter("bonus_http_requests_total", "HTTP requests", ["route", "method", "status"])
LATENCY = Histogram(
    "bonus_http_request_duration_seconds", "HTTP request latency", ["route", "method"], buckets=LATENCY_BUCKETS
)
ERRORS = Counter("bonus_http_errors_total", "problem+json answers by code", ["code"])
RECEIPTS = Counter("bonus_receipts_total", "receipt operations applied", ["operation"])
REPLAYS = Counter("bonus_idempotent_replays_total", "repeated writes answered from the stored result", ["operation"])
POINTS = Counter("bonus_points_total", "points in minor units written to the ledger", ["kind"])
DISCOUNTS = Counter("bonus_discount_minor_total", "discounts given on confirmed receipts, minor units")
COUPONS = Counter("bonus_coupon_verdicts_total", "coupon verdicts on confirmed receipts", ["status", "reason"])
CERTIFICATES = Counter("bonus_certificate_payments_minor_total", "paid with gift certificates, minor units")
CONFIRM_BATCH_SIZE = Histogram("bonus_confirm_batch_size", "confirms written by one group-commit transaction",
                               buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256))
CONFIRM_BATCH_FALLBACKS = Counter("bonus_confirm_batch_fallbacks_total",
                                  "group-commit batches that failed and were confirmed one receipt at a time")
CONFIRM_QUEUE_REFUSED = Counter("bonus_confirm_queue_refused_total",
                             "confirms refused with 503 before a batch took them: the worker's queue was full, "
                             "or they waited the acquire timeout", ["reason"])
CACHE = Counter("bonus_cache_requests_total", "account snapshot cache look-ups", ["result"])
POOL_IN_USE = Gauge("bonus_db_pool_in_use", "database connections in use", multiprocess_mode="livesum")
POOL_SIZE = Gauge("bonus_db_pool_max", "database pool size", multiprocess_mode="livesum")
PROGRAM_VERSION = Gauge("bonus_program_version", "active program version", multiprocess_mode="max")
ENGINE_COMPILED = Gauge("bonus_engine_compiled", "1 when the rule engine runs compiled by mypyc (rules/_native.py), "
                        "0 when it runs as plain Python", multiprocess_mode="min")
BIRTHDAY_GRANTS = Counter("bonus_birthday_grants_total", "birthday bonuses granted by the sweep (counts only: "
                          "no campaign, account or date as a label)")
EXPIRED = Counter("bonus_expiry_sweeps_total", "lots expired by the sweep")
REPORT_ROLLUPS = Counter("bonus_report_rollups_total",
                         "report roll-ups: done, skipped (another ran, or too much for a request) or failed",
                         ["result"])
RFM_REFRESHES = Counter("bonus_rfm_boundary_refreshes_total",
                        "RFM quintile boundaries computed for the customer card, by who paid for it: the background "
                        "roll-up, or a card request that found none younger than an hour", ["by"])
PROFILE_CHANGES = Counter("bonus_profile_changes_total", "customer profiles set or erased (counts only, never "
                          "a field)", ["operation"])
REPORT_ROLLUP_SECONDS = Histogram("bonus_report_rollup_duration_seconds", "time to fold new rows into the summaries",
                                  buckets=LATENCY_BUCKETS + (10.0, 30.0, 60.0, 300.0))
SEGMENT_REFRESHES = Counter("bonus_segment_refreshes_total", "refreshes of every custom segment's membership")
SEGMENT_REFRESH_SECONDS = Histogram("bonus_segment_refresh_duration_seconds",
                                    "time to evaluate every custom segment and write who is in each",
                                    buckets=LATENCY_BUCKETS + (10.0, 30.0, 60.0, 300.0))


def render() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST


def _route_of(scope: Scope) -> str:
    """The matched route's template; the router leaves it in the scope after handling the request."""
    route = scope.get("route")
    return str(getattr(route, "path", "unmatched"))


class MetricsMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware): RED metrics per route template."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status: dict[str, Any] = {"code": 500}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = _route_of(scope)
            method = scope["method"]
            REQUESTS.labels(route, method, str(status["code"])).inc()
            LATENCY.labels(route, method).observe(time.perf_counter() - started)
