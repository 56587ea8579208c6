"""The pure rule engine: no I/O, no clock, no framework. `evaluate` is the entry point.

Importing it reads only its own sources, once, to find a compiled build of them (_native.py)."""

# the submodules are imported after the build, if any, is on the package's path
# ruff: noqa: E402
from ._native import attach

# the hot modules compiled by mypyc when built for exactly these sources (_native.py), else plain Python
COMPILED = attach(__path__)

from ._account import NO_ACCOUNT, AccountState, CardStatus, next_tier, segment_of, tier_for
from ._birthday import BirthdayKey, birthday_holds, birthday_in, birthday_year, birthdays_around
from ._compiled import CompiledProgram, compile_program
from ._conditions import not_active_reason
from ._document import dump_program, load_program, read_document
from ._engine import evaluate
from ._facts import NO_FACTS, CertificateFact, CouponFact, ReceiptFacts
from ._json_schema import WHITE_SPACE, exactly_one, given
from ._lots import Lot, Move, balances, return_points, settle_debt, take, take_for_reversal
from ._money import floor_points, percent_half_up, quantity_floor, spread
from ._outcome import BonusGrant, CampaignEffect, CertificateCharge, CouponVerdict, LineOutcome, Outcome
from ._program import (
    CUSTOM_SEGMENT_PATTERN,
    CVM_SEGMENTS,
    Bonus,
    Campaign,
    Coupon,
    Program,
    ProgramError,
    Segments,
    TierLevel,
    parse_program,
)
from ._receipt import Card, CertificatePayment, Line, Receipt, Rfc3339, normalize_code
from ._refund import REVERSIBLE, refund_share
from ._types import Identifier, Money, Quantity, decimal_text

__all__ = [
    "COMPILED",
    "CUSTOM_SEGMENT_PATTERN",
    "CVM_SEGMENTS",
    "NO_ACCOUNT",
    "NO_FACTS",
    "CertificateCharge",
    "CertificateFact",
    "CouponFact",
    "CouponVerdict",
    "ReceiptFacts",
    "REVERSIBLE",
    "WHITE_SPACE",
    "AccountState",
    "BirthdayKey",
    "Bonus",
    "BonusGrant",
    "Campaign",
    "Card",
    "CampaignEffect",
    "CardStatus",
    "CertificatePayment",
    "CompiledProgram",
    "Coupon",
    "Identifier",
    "Line",
    "LineOutcome",
    "Lot",
    "Money",
    "Move",
    "Outcome",
    "Program",
    "TierLevel",
    "ProgramError",
    "Quantity",
    "Receipt",
    "Rfc3339",
    "Segments",
    "balances",
    "birthday_holds",
    "birthday_in",
    "birthday_year",
    "birthdays_around",
    "compile_program",
    "decimal_text",
    "dump_program",
    "exactly_one",
    "evaluate",
    "floor_points",
    "given",
    "load_program",
    "next_tier",
    "normalize_code",
    "not_active_reason",
    "parse_program",
    "percent_half_up",
    "quantity_floor",
    "read_document",
    "refund_share",
    "return_points",
    "segment_of",
    "settle_debt",
    "spread",
    "take",
    "take_for_reversal",
    "tier_for",
]
