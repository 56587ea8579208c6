"""The README's campaign examples are a valid program, covering every campaign type; its set-up commands exist."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from rules import parse_program
from rules._program import CAMPAIGN_TYPES

ROOT = Path(__file__).resolve().parents[2]


def test_readme_campaign_examples_are_valid() -> None:
    readme = (ROOT / "README.md").read_text()
    block = readme.split("## Campaign types", 1)[1].split("```yaml", 1)[1].split("```", 1)[0]
    document = yaml.safe_load((ROOT / "rules" / "examples" / "program.yaml").read_text())
    document["campaigns"] = yaml.safe_load(block)
    program = parse_program(document)
    assert {campaign.type for campaign in program.campaigns} == set(CAMPAIGN_TYPES)


def _make_targets() -> set[str]:
    """The targets the Makefile defines: `name:` at the start of a line (not `:=` assignments)."""
    text = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([A-Za-z][\w-]*)\s*:(?!=)", text, flags=re.MULTILINE))


def test_readme_start_here_is_make_dev_and_make_test() -> None:
    """The set-up a newcomer reads is exactly two commands, and the Makefile has both, phony."""
    section = (ROOT / "README.md").read_text().split("## Start here", 1)[1].split("\n## ", 1)[0]
    block = section.split("```bash", 1)[1].split("```", 1)[0]
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
