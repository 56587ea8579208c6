"""The compiled engine (rules/_native.py): used only for exactly the sources it was built from, and giving
exactly what plain Python gives."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import rules
from rules import _native

ROOT = Path(rules.__file__).resolve().parent.parent

# Run in a fresh interpreter: the register mix's receipts under the example program, for a card with points,
# one without, a blocked one and none; prints every outcome and where `evaluate` came from.
OUTCOMES = """
import json, random, sys
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
import rules
from loadtests.scenarios import receipt_body
from rules import NO_ACCOUNT, AccountState, Receipt, compile_program, evaluate, load_program

program = compile_program(load_program(Path("rules/examples/program.yaml").read_text(), "yaml"), 1)
rng = random.Random(11)
at = datetime(2026, 3, 2, 12, tzinfo=UTC)
accounts = [NO_ACCOUNT, AccountState(status="ok", available_points=50_000, tier_purchases=2_000_000),
            AccountState(status="ok"), AccountState(status="blocked", available_points=1_000)]
outcomes = []
for index in range(300):
    body = receipt_body(f"r-{index}", f"29{index:011d}", rng, (at + timedelta(minutes=index)).isoformat())
    body["redeem_points"] = rng.choice((0, 500, 10_000))
    receipt = Receipt.model_validate(body)
    outcome = evaluate(receipt, accounts[index % len(accounts)], program, receipt.issued_at)
    outcomes.append(asdict(outcome))
print(json.dumps({"compiled": rules.COMPILED, "engine": rules._engine.__file__, "outcomes": outcomes}, default=str))
"""


def _run(code: str, cwd: Path, **env: str) -> str:
    """`code`'s output in a fresh interpreter; the engine's form as `env` says, not as this suite runs it."""
    inherited = {name: value for name, value in os.environ.items() if name != "BONUS_ENGINE_COMPILED"}
    completed = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=120,
                               env={**inherited, "PYTHONPATH": str(cwd), **env}, check=False)
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def test_compiled_and_plain_python_give_the_same_outcomes() -> None:
    compiled = json.loads(_run(OUTCOMES, ROOT))
    plain = json.loads(_run(OUTCOMES, ROOT, BONUS_ENGINE_COMPILED="0"))
    assert not plain["compiled"] and plain["engine"].endswith("_engine.py")
    assert compiled["compiled"] == (_native.build_dir() / "rules").is_dir()
    if compiled["compiled"]:
        assert compiled["engine"].endswith(".so"), compiled["engine"]
    assert len(plain["outcomes"]) == 300 and any(o["redeemable_max"] for o in plain["outcomes"])
    assert compiled["outcomes"] == plain["outcomes"]


def test_the_suite_runs_the_compiled_engine_where_a_c_compiler_is() -> None:
    """`make suite` builds it first (the Makefile's `native`); where it cannot, the engine runs as Python."""
    wanted = os.environ.get("BONUS_ENGINE_COMPILED", "1") != "0" and shutil.which("cc") is not None
    assert wanted == rules.COMPILED, (_native.build_dir(), os.environ.get("BONUS_ENGINE_COMPILED"))


def test_a_build_is_used_only_for_the_sources_it_was_built_from(tmp_path: Path) -> None:
    """A build directory named for other sources (here: one comment changed) is never attached."""
    shutil.copytree(ROOT / "rules", tmp_path / "rules", ignore=shutil.ignore_patterns(".compiled", "__pycache__"))
    ask = "import rules, rules._native as n; print(rules.COMPILED, n.digest())"
    compiled, digest = _run(ask, tmp_path).split()
    assert compiled == "False"  # no build in the copy
    (tmp_path / "rules" / ".compiled" / digest / "rules").mkdir(parents=True)
    assert _run(ask, tmp_path).split() == ["True", digest]
    assert _run(ask, tmp_path, BONUS_ENGINE_COMPILED="0").split() == ["False", digest]
    engine = tmp_path / "rules" / "_engine.py"
    engine.write_text(engine.read_text() + "# edited\n")
    compiled, edited = _run(ask, tmp_path).split()
    assert compiled == "False" and edited != digest
