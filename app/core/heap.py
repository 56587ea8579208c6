"""The garbage collector tuned for a request server: a large heap built once at start, then short-lived
garbage per request.

Measured on one worker under confirms (loadtests/RESULTS.md, "The changes, each measured": garbage
collection): with CPython's defaults a young collection ran every few receipts and a full one, walking
every object the start had built (modules, FastAPI's routes and schemas, pydantic validators, the
compiled program), paused the worker for up to 60 ms several times a minute: about 4% of its CPU, and
straight into the p99.
"""

from __future__ import annotations

import gc

# net new container objects between young collections (CPython's default: 700); a receipt allocates
# hundreds (its models, lines, outcome and result), so the default ran one every few requests
YOUNG_THRESHOLD = 7000
OLDER_THRESHOLDS = (20, 20)


def settle() -> None:
    """Collect what the start left behind, then move everything still alive out of the collector's sight:
    later collections walk only what requests allocate. Call once per process, when the app is ready."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *OLDER_THRESHOLDS)
