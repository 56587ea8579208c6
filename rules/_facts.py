"""What the engine is told about the coupons and certificates on a receipt (read under locks)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

__all__ = ["NO_FACTS", "CertificateFact", "CouponFact", "ReceiptFacts"]

CertificateStatus = Literal["issued", "active", "used", "expired", "void"]


@dataclass(frozen=True, slots=True)
class CouponFact:
    """A code on the receipt. `campaign_id` None: no such code. Shared codes count their uses."""

    campaign_id: str | None
    used: bool = False  # a unique (batch) code that has been used
    uses: int = 0  # a shared code's uses recorded so far (released uses not counted)
    account_uses: int = 0  # of those, by this receipt's account


@dataclass(frozen=True, slots=True)
class CertificateFact:
    status: CertificateStatus
    balance: int
    expires_at: datetime | None
    single_use: bool = False


@dataclass(frozen=True, slots=True)
class ReceiptFacts:
    coupons: Mapping[str, CouponFact] = field(default_factory=dict)
    certificates: Mapping[str, CertificateFact] = field(default_factory=dict)


NO_FACTS = ReceiptFacts()
