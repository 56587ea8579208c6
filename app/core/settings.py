"""All configuration, read once from the environment. Nothing else reads os.environ."""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BONUS_ENGINE_", extra="ignore")

    database_url: str = Field(
        default="postgresql://postgres@127.0.0.1:5432/bonus_engine",
        validation_alias=AliasChoices("DATABASE_URL", "BONUS_ENGINE_DATABASE_URL"),
    )
    redis_url: str | None = Field(
        default="redis://127.0.0.1:6379/0", validation_alias=AliasChoices("REDIS_URL", "BONUS_ENGINE_REDIS_URL")
    )
    redis_prefix: str = ""  # keeps test runs and tenants apart on one Redis
    redis_cluster: bool = False  # REDIS_URL names one node of a Redis Cluster, which the client learns from it
    redis_timeout_ms: int = 50
    redis_retry_after_ms: int = 1000  # after a Redis failure, skip Redis this long
    bootstrap_admin_key: str | None = None
    db_pool_min: int = 2
    db_pool_max: int = 10
    db_acquire_timeout_ms: int = 2000
    db_statement_timeout_ms: int = 10_000
    # asyncpg's per-connection prepared statement cache; 0 turns it off (PgBouncer in transaction mode)
    db_statement_cache_size: int = 100
    # group commit (app/receipts/batch.py): receipts per transaction, transactions in flight per worker,
    # and confirms waiting per worker before it answers 503 `overloaded`; batch 1 confirms one at a time
    confirm_batch_max: int = Field(default=64, ge=1, le=1000)
    # one: the confirms that arrive while it is in flight form the next batch; a second slot made batches
    # smaller, each confirm dearer for the worker and for PostgreSQL, and the peak lower (loadtests/RESULTS.md)
    confirm_batches_in_flight: int = Field(default=1, ge=1, le=64)
    confirm_queue_max: int = Field(default=2000, ge=1)
    program_poll_ms: int = 1000
    max_body_bytes: int = 1024 * 1024
    snapshot_max_ttl_s: int = 3600
    failed_lookup_limit: int = 20  # per key and minute
    log_level: str = "WARNING"
    expire_interval_s: int = 300  # the expiry sweep in `serve`; 0 turns it off
    # the console's CSRF tokens (app/console/csrf.py); unset, each `serve` draws one: set it for several servers
    console_secret: str | None = None
    report_time_zone: str = "UTC"  # the chain's calendar days in reports (an IANA zone)
    report_interval_s: float = 10  # the report roll-up in `serve`; 0 turns it off
    # custom segments are refreshed when their last refresh is older than this (checked at each roll-up
    # interval; app/segments/refresh.py states the age membership can have). A refresh is incremental, its
    # cost that of the changes since the last one: it can follow the roll-up closely
    segment_refresh_s: float = Field(default=10, gt=0)
    # simulation jobs (app/simulations/worker.py): each `serve` worker looks for a queued job this often and
    # runs one at a time in its own low-priority process; 0 turns it off (the instance runs none)
    simulation_poll_s: float = Field(default=1, ge=0)
    # a running job whose process has written no progress for this long is failed (its process died)
    simulation_stale_s: float = Field(default=60, gt=0)
    # processes a simulation of at least PARALLEL_FROM_RECEIPTS receipts is split into (by account); 0: one per CPU
    simulation_processes: int = Field(default=0, ge=0, le=16)

    @field_validator("report_time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}; use an IANA name such as Europe/Moscow") from None
        return value


@lru_cache
def get_settings() -> Settings:
    return Settings()
