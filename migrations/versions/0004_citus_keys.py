"""Keys for Citus by account_id (deploy/SCALING.md section 4): every primary and unique key holds its table's
distribution column, and no foreign key crosses from one colocation group to another.

- ledger, lots, lot_moves: PRIMARY KEY (account_id, id); lot_moves points at (account_id, id).
- coupon_uses, certificate_moves: PRIMARY KEY (code, id).
- cards (new, by card) holds the uniqueness of a card, which accounts (by id) cannot.
- receipt_claims (new, by receipt_id) is the service-wide idempotency guard and says which owner holds a
  receipt; receipts and refunds are keyed by owner_id (the account, or a negative hash of the receipt id
  for a receipt without one), colocated with the account.
- The foreign keys receipts.account_id → accounts and coupon_uses → receipts, accounts cross groups and go;
  `bonus-engine audit` checks those links instead. refunds → receipts becomes (owner_id, receipt_id).

ALTER only, so that other migrations may sit between 0002 and this one. Rewrites receipts (owner_id).

Revision ID: 0004
"""

from alembic import op

from migrations.versions import statements

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# A receipt without an account is owned by -1 - (the first 8 bytes of sha256(receipt_id) as a 63-bit
# number): negative, so it never meets an account id. app.receipts.repository.cardless_owner is the same.
CARDLESS_OWNER = (
    "-1 - (('x' || encode(substring(sha256(convert_to(receipt_id, 'UTF8')) FROM 1 FOR 8), 'hex'))::bit(64)::bigint"
    " & 9223372036854775807)"
)

LEDGER_KEYS = """
ALTER TABLE lot_moves DROP CONSTRAINT lot_moves_entry_id_fkey, DROP CONSTRAINT lot_moves_lot_id_fkey,
                      DROP CONSTRAINT lot_moves_pkey, ADD PRIMARY KEY (account_id, id);
ALTER TABLE ledger DROP CONSTRAINT ledger_pkey, ADD PRIMARY KEY (account_id, id);
ALTER TABLE lots DROP CONSTRAINT lots_pkey, ADD PRIMARY KEY (account_id, id);
-- MATCH SIMPLE as before: a debt move (lot_id NULL) or a settlement (entry_id NULL) is not checked
ALTER TABLE lot_moves
    ADD CONSTRAINT lot_moves_entry_fkey FOREIGN KEY (account_id, entry_id) REFERENCES ledger (account_id, id),
    ADD CONSTRAINT lot_moves_lot_fkey FOREIGN KEY (account_id, lot_id) REFERENCES lots (account_id, id);
-- the new primary keys serve what these served (an account's entries newest first, its moves)
DROP INDEX ledger_account_id;
DROP INDEX lot_moves_account;
DROP INDEX lot_moves_entry;
CREATE INDEX lot_moves_entry ON lot_moves (account_id, entry_id);
"""

CODE_KEYS = """
ALTER TABLE coupon_uses DROP CONSTRAINT coupon_uses_account_id_fkey, DROP CONSTRAINT coupon_uses_receipt_id_fkey,
                        DROP CONSTRAINT coupon_uses_pkey, ADD PRIMARY KEY (code, id);
ALTER TABLE certificate_moves DROP CONSTRAINT certificate_moves_pkey, ADD PRIMARY KEY (code, id);
DROP INDEX certificate_moves_code;
"""

CARDS = """
CREATE TABLE cards (
    card        text PRIMARY KEY,
    account_id  bigint NOT NULL
);
INSERT INTO cards (card, account_id) SELECT card, id FROM accounts;
ALTER TABLE accounts DROP CONSTRAINT accounts_card_key;
"""

RECEIPTS = f"""
ALTER TABLE refunds DROP CONSTRAINT refunds_receipt_id_fkey;
ALTER TABLE receipts DROP CONSTRAINT receipts_account_id_fkey, ADD COLUMN owner_id bigint;
UPDATE receipts SET owner_id = coalesce(account_id, {CARDLESS_OWNER});
ALTER TABLE receipts ALTER COLUMN owner_id SET NOT NULL, DROP CONSTRAINT receipts_pkey,
                     ADD PRIMARY KEY (owner_id, receipt_id);
DROP INDEX receipts_account_issued;
CREATE INDEX receipts_owner_issued ON receipts (owner_id, issued_at) WHERE account_id IS NOT NULL;
ALTER TABLE refunds ADD COLUMN owner_id bigint;
UPDATE refunds f SET owner_id = r.owner_id FROM receipts r WHERE r.receipt_id = f.receipt_id;
ALTER TABLE refunds ALTER COLUMN owner_id SET NOT NULL, DROP CONSTRAINT refunds_pkey,
                    ADD PRIMARY KEY (owner_id, receipt_id, refund_id),
                    ADD CONSTRAINT refunds_receipt_fkey FOREIGN KEY (owner_id, receipt_id)
                        REFERENCES receipts (owner_id, receipt_id);
-- owner_id is NULL only inside the confirm that made the claim: it is set when the receipt is written
CREATE TABLE receipt_claims (
    receipt_id   text PRIMARY KEY,
    fingerprint  bytea NOT NULL,
    issued_at    timestamptz NOT NULL,
    owner_id     bigint,
    created_at   timestamptz NOT NULL DEFAULT now()
);
INSERT INTO receipt_claims (receipt_id, fingerprint, issued_at, owner_id, created_at)
SELECT receipt_id, fingerprint, issued_at, owner_id, created_at FROM receipts;
-- a full refund releases the receipt's coupon uses by code, so the receipt's links name them
UPDATE receipts r SET links = r.links || jsonb_build_object('coupons', u.codes)
FROM (SELECT receipt_id, jsonb_agg(code ORDER BY code) AS codes FROM coupon_uses GROUP BY receipt_id) u
WHERE u.receipt_id = r.receipt_id;
"""

UNDO_RECEIPTS = """
UPDATE receipts SET links = links - 'coupons' WHERE links -> 'coupons' IS NOT NULL;
DROP TABLE receipt_claims;
ALTER TABLE refunds DROP CONSTRAINT refunds_receipt_fkey, DROP CONSTRAINT refunds_pkey,
                    ADD PRIMARY KEY (receipt_id, refund_id), DROP COLUMN owner_id;
DROP INDEX receipts_owner_issued;
ALTER TABLE receipts DROP CONSTRAINT receipts_pkey, ADD PRIMARY KEY (receipt_id), DROP COLUMN owner_id,
                     ADD CONSTRAINT receipts_account_id_fkey FOREIGN KEY (account_id) REFERENCES accounts (id);
CREATE INDEX receipts_account_issued ON receipts (account_id, issued_at) WHERE account_id IS NOT NULL;
ALTER TABLE refunds ADD CONSTRAINT refunds_receipt_id_fkey FOREIGN KEY (receipt_id) REFERENCES receipts (receipt_id);
"""

UNDO_CARDS = """
ALTER TABLE accounts ADD CONSTRAINT accounts_card_key UNIQUE (card);
DROP TABLE cards;
"""

UNDO_CODE_KEYS = """
CREATE INDEX certificate_moves_code ON certificate_moves (code);
ALTER TABLE certificate_moves DROP CONSTRAINT certificate_moves_pkey, ADD PRIMARY KEY (id);
ALTER TABLE coupon_uses DROP CONSTRAINT coupon_uses_pkey, ADD PRIMARY KEY (id),
    ADD CONSTRAINT coupon_uses_account_id_fkey FOREIGN KEY (account_id) REFERENCES accounts (id),
    ADD CONSTRAINT coupon_uses_receipt_id_fkey FOREIGN KEY (receipt_id) REFERENCES receipts (receipt_id);
"""

UNDO_LEDGER_KEYS = """
DROP INDEX lot_moves_entry;
CREATE INDEX lot_moves_entry ON lot_moves (entry_id);
CREATE INDEX lot_moves_account ON lot_moves (account_id);
CREATE INDEX ledger_account_id ON ledger (account_id, id DESC);
ALTER TABLE lot_moves DROP CONSTRAINT lot_moves_entry_fkey, DROP CONSTRAINT lot_moves_lot_fkey,
                      DROP CONSTRAINT lot_moves_pkey, ADD PRIMARY KEY (id);
ALTER TABLE lots DROP CONSTRAINT lots_pkey, ADD PRIMARY KEY (id);
ALTER TABLE ledger DROP CONSTRAINT ledger_pkey, ADD PRIMARY KEY (id);
ALTER TABLE lot_moves ADD CONSTRAINT lot_moves_entry_id_fkey FOREIGN KEY (entry_id) REFERENCES ledger (id),
                      ADD CONSTRAINT lot_moves_lot_id_fkey FOREIGN KEY (lot_id) REFERENCES lots (id);
"""


def upgrade() -> None:
    for statement in statements(LEDGER_KEYS + CODE_KEYS + CARDS + RECEIPTS):
        op.execute(statement)


def downgrade() -> None:
    for statement in statements(UNDO_RECEIPTS + UNDO_CARDS + UNDO_CODE_KEYS + UNDO_LEDGER_KEYS):
        op.execute(statement)
