"""The README's campaign examples are a valid program, covering every campaign type."""

from __future__ import annotations

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
