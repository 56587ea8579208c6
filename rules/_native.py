"""The engine's hot modules compiled to C by mypyc, used when a build of exactly these sources is present.

    python -m rules.compile            # build it (needs mypy, a C compiler and Python's headers)

The compiled modules are the same source, checked by the same tests: mypyc keeps Python's semantics and
makes an evaluation about 1.8 times faster (loadtests/RESULTS.md, "The engine compiled"). A build goes to
`rules/.compiled/<digest>/`, where the digest covers every source of this package and the interpreter: an
edited module, another Python or a build that failed leaves no build of that digest, and the engine runs
as plain Python. Nothing can run stale code. `BONUS_ENGINE_COMPILED=0` runs plain Python whatever is
built. The modules that build pydantic models (`_program`, `_receipt`, `_types`, `_json_schema`) stay
Python: mypyc does not compile pydantic's metaclass.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import MutableSequence
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
MODULES = (  # compiled; `rules.COMPILED` says whether this build is in use
    "_account", "_birthday", "_certificates", "_compiled", "_conditions", "_coupons", "_discounts", "_document",
    "_engine", "_facts", "_holdout", "_lots", "_money", "_outcome", "_refund",
    "mechanics/_spread", "mechanics/_units", "mechanics/coupon", "mechanics/n_for_m",
    "mechanics/quantity_discount", "mechanics/receipt_discount",
)


def _sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def digest() -> str:
    """What a build is of: every source of the package (the compiled modules rely on the others' types) and
    the interpreter it was compiled for."""
    hashed = hashlib.sha256(sys.implementation.cache_tag.encode())
    for path in _sources():
        hashed.update(path.relative_to(PACKAGE).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return hashed.hexdigest()[:20]


def build_dir() -> Path:
    return PACKAGE / ".compiled" / digest()


def _found() -> Path | None:
    if os.environ.get("BONUS_ENGINE_COMPILED", "1") == "0":
        return None
    built = build_dir()
    return built if (built / "rules").is_dir() else None


BUILT = _found()


def attach(package_path: MutableSequence[str], subpackage: str = "") -> bool:
    """Put the build's modules ahead of the sources on a package's `__path__` (and its shared library on
    sys.path); True when there is a build for these sources."""
    if BUILT is None:
        return False
    if str(BUILT) not in sys.path:
        sys.path.append(str(BUILT))  # the library every compiled module imports by its (unique) name
    package_path.insert(0, str(BUILT / "rules" / subpackage))
    return True
