"""Gift certificates as payment: after discounts and points, in request order, each on what is left.

A certificate is a payment, not a discount: it may take a line to 0, and it does not lower the accrual
base. Certificate-sale lines cannot be paid with certificates.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from ._facts import CertificateFact, ReceiptFacts
from ._money import spread
from ._outcome import CertificateCharge, LineOutcome
from ._receipt import CertificatePayment

__all__ = ["pay_with_certificates"]


def _reason(fact: CertificateFact | None, at: datetime) -> str | None:
    if fact is None:
        return "unknown"
    if fact.status == "void":
        return "void"
    if fact.status == "expired" or (fact.expires_at is not None and fact.expires_at <= at):
        return "expired"
    if fact.status == "issued":
        return "not_active"
    if fact.status == "used" or fact.balance <= 0:
        return "used"
    return None


def pay_with_certificates(
    payments: Sequence[CertificatePayment], facts: ReceiptFacts, results: list[LineOutcome], at: datetime
) -> list[CertificateCharge]:
    charges: list[CertificateCharge] = []
    for payment in payments:
        fact = facts.certificates.get(payment.code)
        reason = _reason(fact, at)
        if reason is not None or fact is None:
            charges.append(CertificateCharge(payment.code, "rejected", reason))
            continue
        left = [0 if r.sells_certificate else r.to_pay for r in results]
        wanted = fact.balance if payment.amount is None else min(payment.amount, fact.balance)
        charged = min(wanted, sum(left))
        if charged:
            for result, part in zip(results, spread(charged, left, left), strict=True):
                if part:
                    result.gift_certificates += part
                    result.certificate_parts[payment.code] = result.certificate_parts.get(payment.code, 0) + part
        balance = fact.balance - charged
        burned = balance if fact.single_use and charged else 0
        charges.append(CertificateCharge(payment.code, "applied", None, charged, balance - burned, burned))
    return charges
