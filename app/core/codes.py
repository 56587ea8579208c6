"""Codes people type: cryptographic randomness over an alphabet without look-alikes (no 0/O, 1/I)."""

from __future__ import annotations

import secrets

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # 32 symbols: 5 bits each
RANDOM_SYMBOLS = 13  # 65 bits: guessing one of a million live codes takes ~2^45 tries


def new_code(prefix: str = "") -> str:
    return prefix + "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_SYMBOLS))
