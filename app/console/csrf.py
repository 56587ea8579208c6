"""CSRF tokens for the console's forms: an HMAC of the key id and an hour's window under a server secret.

A form carries the token of the key that loaded it; a POST is taken only with the token of the key that
sends it, for this window or the one before (a form left open up to two hours still posts). Nothing is
stored: any worker that has the same secret checks a token. Without `BONUS_ENGINE_CONSOLE_SECRET` each process
draws its own secret at start; `serve --workers N` draws one for its N workers (app/cli.py); servers behind one
address (several pods) need the setting, the same on each."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

WINDOW_S = 3600
FIELD = "csrf_token"
_PROCESS_SECRET = secrets.token_bytes(32)


def secret_of(configured: str | None) -> bytes:
    return configured.encode() if configured else _PROCESS_SECRET


def _token(secret: bytes, key_id: str, window: int) -> str:
    return hmac.new(secret, f"console-csrf:{key_id}:{window}".encode(), hashlib.sha256).hexdigest()


def token(secret: bytes, key_id: str, now_s: float | None = None) -> str:
    return _token(secret, key_id, int((time.time() if now_s is None else now_s) // WINDOW_S))


def valid(secret: bytes, key_id: str, given: str | None, now_s: float | None = None) -> bool:
    if not given:
        return False
    window = int((time.time() if now_s is None else now_s) // WINDOW_S)
    return any(hmac.compare_digest(_token(secret, key_id, w), given) for w in (window, window - 1))
