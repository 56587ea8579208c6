"""Bearer keys with roles `pos`, `marketer` and `admin`; a pos key may be bound to one store.

Who may do what (docs/security.md): `pos` the till's work (receipts, accounts, certificates look-up);
`marketer` the program (campaigns, versions, templates), segments and reports, nothing of the till's work nor
of balances, keys or certificates; `admin` everything. Each route depends on one of `pos`, `marketer` or
`admin` below, and `role_of` names which for the schema and the tests. Who a key belongs to is found by the
worker's key ring, `app.state.keys` (`app.keys.ring.KeyRing`): keys are a feature, and core imports none."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request

from .errors import AppError

TILL_ROLES = ("pos", "admin")
MARKETING_ROLES = ("marketer", "admin")


@dataclass(frozen=True, slots=True)
class Principal:
    key_id: str
    role: str
    store_id: str | None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def serves_tills(self) -> bool:
        """pos and admin keys: receipts, accounts and balances. A marketer key does not."""
        return self.role in TILL_ROLES

    @property
    def edits_program(self) -> bool:
        """marketer and admin keys: campaigns, program versions, templates, segments and reports."""
        return self.role in MARKETING_ROLES

    def check_store(self, store_id: str) -> None:
        if not self.is_admin and self.store_id is not None and self.store_id != store_id:
            raise AppError(403, "forbidden", f"this key is bound to another store, not {store_id!r}")


def bearer_key(authorization: str) -> str | None:
    """The key of an `Authorization: Bearer <key>` header (the scheme in any case), or None."""
    scheme, _, key = authorization.partition(" ")
    return (key.strip() or None) if scheme.lower() == "bearer" else None


async def _any_key(request: Request) -> Principal:
    principal: Principal = await request.app.state.keys.principal(request)
    return principal


async def pos(request: Request) -> Principal:
    """The till's routes: pos keys and admin keys alike (not marketer keys)."""
    principal = await _any_key(request)
    if not principal.serves_tills:
        raise AppError(403, "forbidden", "this route needs a pos or admin key")
    return principal


async def marketer(request: Request) -> Principal:
    """The marketer's routes (campaigns, program, templates, segments, reports): marketer and admin keys."""
    principal = await _any_key(request)
    if not principal.edits_program:
        raise AppError(403, "forbidden", "this route needs a marketer or admin key")
    return principal


async def admin(request: Request) -> Principal:
    principal = await _any_key(request)
    if not principal.is_admin:
        raise AppError(403, "forbidden", "this route needs an admin key")
    return principal


def role_of(calls: set[Callable[..., object]]) -> str | None:
    """The role a route needs, from the calls of its dependencies: `admin`, `marketer` (or admin), `pos` (or
    admin), or None for an open route."""
    if admin in calls:
        return "admin"
    if marketer in calls:
        return "marketer"
    return "pos" if pos in calls else None
