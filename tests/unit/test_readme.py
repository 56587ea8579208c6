"""The README and the guides keep their word: the set-up is two make targets that exist, the first requests
call routes the contract lists with a key of the right role and get the answer shown, the campaign examples
of docs/programs.md are a valid program covering every campaign type, and its simulation example prints what
it shows. None of this needs a database: the answer comes from the pure engine, the simulation runs in
process."""

from __future__ import annotations

import contextlib
import json
import re
import shlex
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from rules import AccountState, Receipt, compile_program, evaluate, load_program, parse_program
from rules._program import CAMPAIGN_TYPES

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
PROGRAMS = ROOT / "docs" / "programs.md"
EXAMPLE_PROGRAM = ROOT / "rules" / "examples" / "program.yaml"
# a row of the contract's "Every route" table: | METHOD | `path` | role | …
ROUTE_ROW = re.compile(r"^\|\s*([A-Z]+)\s*\|\s*`([^`]+)`\s*\|\s*(\w+)\s*\|", re.MULTILINE)


def section(path: Path, heading: str) -> str:
    """The text under `## heading` up to the next `## `."""
    text = path.read_text(encoding="utf-8")
    assert f"\n## {heading}\n" in text, f"{path.name} has no section '## {heading}'"
    return text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]


def blocks(text: str, language: str) -> list[str]:
    """The fenced code blocks of a language ("" for blocks without one), in order."""
    found: list[str] = []
    opened: str | None = None  # the language of the block we are in
    lines: list[str] = []
    for line in text.splitlines():
        if opened is None and line.startswith("```"):
            opened, lines = line[3:].strip(), []
        elif opened is not None and line.strip() == "```":
            if opened == language:
                found.append("".join(f"{kept}\n" for kept in lines))
            opened = None
        elif opened is not None:
            lines.append(line)
    return found


def _make_targets() -> set[str]:
    """The targets the Makefile defines: `name:` at the start of a line (not `:=` assignments)."""
    text = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([A-Za-z][\w-]*)\s*:(?!=)", text, flags=re.MULTILINE))


def test_readme_start_here_is_make_dev_and_make_test() -> None:
    """The set-up a newcomer reads is exactly two commands, and the Makefile has both, phony."""
    block = blocks(section(README, "Start here"), "bash")[0]
    commands = [line.split("#", 1)[0].strip() for line in block.strip().splitlines()]
    assert commands == ["make dev", "make test"]
    targets = _make_targets()
    assert {"dev", "test"} <= targets
    phony = re.search(r"^\.PHONY:(.*)$", (ROOT / "Makefile").read_text(), flags=re.MULTILINE)
    assert phony is not None and {"dev", "test"} <= set(phony.group(1).split())


def test_ci_runs_make_targets_that_exist() -> None:
    """`.ci/run` goes through the Makefile, so CI checks what `make test` does; each target it names exists."""
    script = "\n".join(line.split("#", 1)[0] for line in (ROOT / ".ci" / "run").read_text().splitlines())
    called = re.findall(r"\bmake\b(?:\s+--?[\w-]+)*\s+([a-z][\w-]*)", script)
    assert {"check", "suite"} <= set(called)
    assert set(called) <= _make_targets()


def test_development_doc_names_only_make_targets_that_exist() -> None:
    """Every `make X` in docs/development.md is a target of the Makefile."""
    named = set(re.findall(r"`make ([a-z][\w-]*)", (ROOT / "docs" / "development.md").read_text(encoding="utf-8")))
    assert {"dev", "test", "check", "suite"} <= named
    assert named <= _make_targets(), named - _make_targets()


# --- the first requests ----------------------------------------------------------------------------------


def first_requests() -> str:
    return blocks(section(README, "A register integrator's first requests"), "bash")[0]


def curl_calls(script: str) -> list[tuple[str, str, str]]:
    """(method, path, key variable) of every curl in a shell block (continuation lines joined)."""
    calls = []
    for line in script.replace("\\\n", " ").splitlines():
        if not line.startswith("curl "):
            continue
        words = shlex.split(line, comments=True)
        method = words[words.index("-X") + 1] if "-X" in words else "GET"
        urls = [word for word in words if word.startswith("$API/")]
        keys = re.findall(r"Authorization: Bearer \$(\w+)", line)
        assert len(urls) == 1 and len(keys) == 1, line
        calls.append((method, urls[0].removeprefix("$API").split("?", 1)[0], keys[0]))
    return calls


def test_readme_first_requests_call_routes_of_the_contract_with_the_right_key() -> None:
    routes = {(method, path): role for method, path, role in
              ROUTE_ROW.findall((ROOT / "docs" / "contract.md").read_text(encoding="utf-8"))}
    calls = curl_calls(first_requests())
    assert len(calls) >= 8
    for method, path, key in calls:
        matches = [role for (m, template), role in routes.items()
                   if m == method and re.fullmatch(re.sub(r"\{\w+\}", "[^/]+", template), path)]
        assert matches, f"{method} {path} is not a route in docs/contract.md"
        # the README's back office holds the admin key, which may call the marketer's routes too
        assert key == ("ADMIN" if matches[0] in ("admin", "marketer") else "KEY"), (method, path, key, matches[0])


def test_readme_first_confirm_answers_what_the_readme_shows() -> None:
    """The receipt of the first requests, through the pure engine with the example program `make dev` loads,
    for a card just registered (its 200.00 welcome points available, no purchases yet), on a day the winter
    campaign runs: the numbers of the abridged answer in the README."""
    script = first_requests()
    body = script.split("cat > receipt.json <<EOF\n", 1)[1].split("\nEOF\n", 1)[0]
    issued_at = "2026-12-01T10:00:00+00:00"
    body = re.sub(r"\$\(date [^)]*\)", issued_at, body)
    receipt = Receipt.model_validate_json(body)
    program = compile_program(load_program(EXAMPLE_PROGRAM.read_text(encoding="utf-8"), "yaml"), version=1)
    outcome = evaluate(receipt, AccountState(status="ok", available_points=20000), program,
                       datetime.fromisoformat(issued_at))

    shown = json.loads(blocks(section(README, "A register integrator's first requests"), "json")[0])
    assert shown["card_status"] == outcome.card_status
    assert shown["account"]["tier_applied"] == outcome.tier_applied
    assert shown["points"]["redeemable_max"] == outcome.redeemable_max
    for name, value in shown["totals"].items():
        assert outcome.total(name) == value, name
    for line, result in zip(shown["lines"], outcome.lines, strict=True):
        assert line == {"line_id": result.line_id, "discount": result.discount,
                        "final_amount": result.final_amount, "points_redeemed": result.points_redeemed,
                        "gift_certificates": result.gift_certificates, "points_accrued": result.points_accrued,
                        "campaigns": result.campaigns}
    assert shown["account"]["available"] == 20000 - outcome.total("points_redeemed")
    assert shown["account"]["pending"] == outcome.total("points_accrued")


# --- docs/programs.md ------------------------------------------------------------------------------------


def test_programs_doc_campaign_examples_are_valid() -> None:
    block = blocks(section(PROGRAMS, "Campaign types"), "yaml")[0]
    document = yaml.safe_load(EXAMPLE_PROGRAM.read_text())
    document["campaigns"] = yaml.safe_load(block)
    program = parse_program(document)
    assert {campaign.type for campaign in program.campaigns} == set(CAMPAIGN_TYPES)


def test_programs_doc_simulation_prints_what_it_shows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The three commands of "Pricing a draft", run in process with /tmp/ as a temporary folder; every line
    the doc shows is in the output, in the same order (`…` stands for lines left out)."""
    text = section(PROGRAMS, "Pricing a draft: simulation")
    (script,), (shown,) = blocks(text, "bash"), blocks(text, "")  # the commands, and what they print
    here = f"{tmp_path}/"
    make, copy, *draft_and_rest = script.replace("/tmp/", here).splitlines()

    from app import cli
    from loadtests import make_receipts

    words = shlex.split(make)
    assert words[:3] == ["python", "-m", "loadtests.make_receipts"] and words[-2] == ">", make
    with open(words[-1], "w", encoding="utf-8") as out, contextlib.redirect_stdout(out):
        assert make_receipts.main(words[3:-2]) == 0

    assert copy == f"cp rules/examples/program.yaml {here}draft.yaml && cat >> {here}draft.yaml <<'YAML'", copy
    end = draft_and_rest.index("YAML")
    draft = EXAMPLE_PROGRAM.read_text(encoding="utf-8") + "".join(f"{line}\n" for line in draft_and_rest[:end])
    Path(f"{here}draft.yaml").write_text(draft, encoding="utf-8")

    (simulate,) = draft_and_rest[end + 1:]
    words = shlex.split(simulate)
    assert words[:2] == ["bonus-engine", "simulate"], simulate
    capsys.readouterr()
    with contextlib.chdir(ROOT):
        assert cli.main(words[1:]) == 0
    printed = iter(line.rstrip() for line in capsys.readouterr().out.splitlines())
    for line in shown.replace("/tmp/", here).splitlines():
        if line.strip() == "…":
            continue
        assert any(line.rstrip() == out for out in printed), f"not printed (or not in this order): {line!r}"

