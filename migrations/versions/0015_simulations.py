"""Simulation on stored receipts (issue 18, part 2): each receipt's request body, and the simulation jobs.

`receipts.body` is the receipt as confirm validated it (normalized codes and categories, defaults left out),
written by the same statement that writes the receipt: `bonus-engine receipts export` and the simulations
replay it through the engine again. `json`, not `jsonb`: it is only ever read back whole, and PostgreSQL
then keeps the text as it came (no parse into jsonb on the confirm path). NULL for receipts confirmed before
this migration: the request was not kept, and a simulation counts them as not replayable.

`simulations` is a small table of jobs (a reference table on Citus): one row per `POST /v1/simulations`, its
draft and baseline documents resolved when it was accepted, its status, progress and result. A serving
instance claims a queued row with one UPDATE … WHERE status = 'queued', so two instances never run one job.

Revision ID: 0015
"""

from alembic import op

from migrations.versions import statements

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

SCHEMA = """
ALTER TABLE receipts ADD COLUMN body json;
CREATE TABLE simulations (
    id               bigserial PRIMARY KEY,
    status           text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'failed')),
    period_from      date NOT NULL,
    period_to        date NOT NULL,
    program          jsonb NOT NULL,          -- the draft, whole (a list of campaigns already merged)
    baseline         jsonb NOT NULL,          -- the program it is compared with, whole
    baseline_version integer NOT NULL,
    author           text,
    receipts_done    bigint NOT NULL DEFAULT 0,
    receipts_total   bigint,                  -- known once the job has counted the period
    result           jsonb,
    error            text,
    runner           text,                    -- host:pid of the process running it
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    heartbeat_at     timestamptz,
    finished_at      timestamptz
);
CREATE INDEX simulations_queued ON simulations (id) WHERE status = 'queued';
CREATE INDEX simulations_running ON simulations (heartbeat_at) WHERE status = 'running';
"""


def upgrade() -> None:
    for statement in statements(SCHEMA):
        op.execute(statement)
    op.execute("""
        DO $$
        BEGIN
            ALTER TABLE receipts ALTER COLUMN body SET COMPRESSION lz4;
        EXCEPTION WHEN feature_not_supported THEN
            RAISE NOTICE 'this PostgreSQL has no lz4: receipt bodies are compressed with pglz';
        END $$
    """)


def downgrade() -> None:
    op.execute("DROP TABLE simulations")
    op.execute("ALTER TABLE receipts DROP COLUMN body")
