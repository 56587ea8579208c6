"""Every relative link in every tracked Markdown file leads somewhere: the file (or folder) is in the
repository, and a `#fragment` names a heading of the target as GitHub slugs it. Docs move and headings get
renamed; a clone must still be readable by following its links.

Links to other sites (`https:`, `mailto:` …) are not fetched. Links inside code blocks and code spans are
not links, so they are skipped, as GitHub renders them."""

from __future__ import annotations

import re
import subprocess
from functools import cache
from pathlib import Path, PurePosixPath
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[2]

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
# [text](target) and ![alt](target), the target optionally in <…> and followed by a "title"
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*(<[^>]*>|[^\s)]*)(?:\s+\"[^\"]*\")?\s*\)")
# [label]: target
REFERENCE = re.compile(r"^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)")
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$")
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


@cache
def tracked() -> frozenset[str]:
    """The repository's files, as a clone has them (untracked files would not be there)."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as error:
        pytest.skip(f"not a git checkout: {error}")
    return frozenset(name for name in listed.decode().split("\0") if name)


def folders(files: frozenset[str]) -> frozenset[str]:
    return frozenset(str(parent) for name in files for parent in PurePosixPath(name).parents if str(parent) != ".")


def prose_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) outside fenced code blocks."""
    lines: list[tuple[int, str]] = []
    fence: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        opened = FENCE.match(line)
        if fence is not None:
            if opened and opened.group(1)[0] == fence[0] and len(opened.group(1)) >= len(fence):
                fence = None
            continue
        if opened:
            fence = opened.group(1)
            continue
        lines.append((number, line))
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: its rendered text, lower-cased, without punctuation other than `-` and
    `_`, spaces turned into hyphens (no collapsing: `a / b` is `a--b`)."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading reads as its text
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML
    text = text.replace("`", "").replace("*", "")
    text = re.sub(r"(?<!\w)_+|_+(?!\w)", "", text)  # _emphasis_, not snake_case
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every heading's anchor; a repeated heading gets -1, -2 … as on GitHub."""
    seen: dict[str, int] = {}
    found: set[str] = set()
    for _, line in prose_lines(text):
        match = HEADING.match(line)
        if not match:
            continue
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(text: str) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for number, line in prose_lines(text):
        line = CODE_SPAN.sub(lambda span: " " * len(span.group(0)), line)
        targets = [match.group(1) for match in INLINE_LINK.finditer(line)]
        reference = REFERENCE.match(line)
        if reference:
            targets.append(reference.group(1))
        found += [(number, target.strip("<>")) for target in targets]
    return found


def broken(source: str, target: str, files: frozenset[str]) -> str | None:
    """Why a link from the tracked file `source` does not resolve, or None when it does."""
    if not target or SCHEME.match(target) or target.startswith("//"):
        return None
    path, _, fragment = target.partition("#")
    path = unquote(path.split("?", 1)[0])
    if path:
        base = PurePosixPath() if path.startswith("/") else PurePosixPath(source).parent
        parts: list[str] = []
        for part in (base / path.lstrip("/")).parts:
            if part == "..":
                if not parts:
                    return f"{target}: leaves the repository"
                parts.pop()
            elif part != ".":
                parts.append(part)
        resolved = "/".join(parts)
        if resolved not in files and resolved not in folders(files):
            return f"{target}: {resolved or '.'} is not in the repository"
    else:
        resolved = source
    if fragment:
        if not resolved.endswith(".md") or resolved not in files:
            return f"{target}: an anchor into {resolved}, which is not a Markdown file"
        if unquote(fragment).lower() not in anchors((ROOT / resolved).read_text(encoding="utf-8")):
            return f"{target}: {resolved} has no heading with the anchor #{fragment}"
    return None


def test_every_relative_link_in_markdown_resolves() -> None:
    files = tracked()
    documents = sorted(name for name in files if name.endswith(".md"))
    assert "README.md" in documents
    problems = [f"{document}:{number}: {reason}"
                for document in documents
                for number, target in links((ROOT / document).read_text(encoding="utf-8"))
                if (reason := broken(document, target, files))]
    assert not problems, "broken links:\n" + "\n".join(problems)


def test_the_readme_leads_to_the_contract_and_the_design() -> None:
    """The front door's own promise: from the README a newcomer finds the contract, the design and the rest."""
    targets = {target.partition("#")[0] for _, target in links((ROOT / "README.md").read_text(encoding="utf-8"))}
    assert {"docs/contract.md", "docs/design.md", "docs/operations.md", "docs/security.md",
            "docs/reliability.md", "loadtests/RESULTS.md"} <= targets


@pytest.mark.parametrize(("heading", "anchor"), [
    ("4. Citus, distributed by `account_id`", "4-citus-distributed-by-account_id"),
    ("Reports at 1M accounts / 10M receipts (2026-11-27)", "reports-at-1m-accounts--10m-receipts-2026-11-27"),
    ("The suite's time", "the-suites-time"),
    ("A confirm: group commit", "a-confirm-group-commit"),
    ("**Bold** and [a link](x.md)", "bold-and-a-link"),
    ("Größe _emphasis_ snake_case", "größe-emphasis-snake_case"),
])
def test_slugs_follow_github(heading: str, anchor: str) -> None:
    assert slug(heading) == anchor


def test_what_counts_as_a_link() -> None:
    text = "\n".join([
        "# Title", "## Title", "### The `x_y` part", "see [a](a.md#title-1), ![img](pic.png \"t\") and [b](<b c.md>)",
        "`[not](inline.md)` and", "```", "[not](fenced.md)", "```", "[ref]: ref.md#x", "[web](https://x.y/z)",
    ])
    assert links(text) == [(4, "a.md#title-1"), (4, "pic.png"), (4, "b c.md"), (9, "ref.md#x"), (10, "https://x.y/z")]
    assert anchors(text) == {"title", "title-1", "the-x_y-part"}
    files = frozenset({"docs/a.md", "README.md", "deploy/x/y.yaml"})
    assert broken("docs/a.md", "../README.md", files) is None
    assert broken("docs/a.md", "../deploy/x", files) is None
    assert broken("docs/a.md", "../missing.md", files) == "../missing.md: missing.md is not in the repository"
    assert broken("README.md", "../shared/CONTRACT.md", files) == "../shared/CONTRACT.md: leaves the repository"
    assert broken("README.md", "https://example.com/nowhere", files) is None
