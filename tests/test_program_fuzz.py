"""Hypothesis fuzzing of the program document: random mutations of rules/examples/program.yaml.

A mutation is one of: a value of the wrong type, a float where money goes, an unknown field, a deleted
field, an out-of-range number, a value wrapped in a list or a mapping, a list element dropped or
duplicated, or a harmless change (a new name or priority) so that valid documents are generated too.

- Pure (500 examples, BONUS_ENGINE_PROGRAM_FUZZ_PURE): `parse_program` either accepts the document, and
  then its normalized document is a fixed point, or raises ProgramError whose every error has a path and a
  message; never any other exception. For single mutations the errors point at the mutated place (the
  path itself, a field under it or a parent of it), and money written as a float is always refused at its
  own path.
- Over HTTP (`PUT /v1/program` on a real service, JSON or YAML, 120 examples,
  BONUS_ENGINE_PROGRAM_FUZZ_HTTP): the service agrees with the pure parser. An invalid document is 422
  `invalid_program` with the same error paths, and `GET /v1/program` is exactly what it was (same
  version, same document): never half-applied. A valid one is 200, and `GET /v1/program` gives its
  normalized document under the new version.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules import ProgramError, parse_program, read_document
from tests.support import Service, assert_problem

EXAMPLE_TEXT = (Path(__file__).resolve().parents[1] / "rules" / "examples" / "program.yaml").read_text()
EXAMPLE: dict[str, Any] = yaml.safe_load(EXAMPLE_TEXT)
MONEY_KEYS = {"min_purchases", "min_amount", "amount", "points"}
PURE_EXAMPLES = int(os.environ.get("BONUS_ENGINE_PROGRAM_FUZZ_PURE", "500"))
HTTP_EXAMPLES = int(os.environ.get("BONUS_ENGINE_PROGRAM_FUZZ_HTTP", "120"))

Path_ = tuple[str | int, ...]


def render(path: Path_) -> str:
    """The error-path notation of the API: ('campaigns', 1, 'thresholds', 0) → campaigns[1].thresholds[0]."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "(document)"


def places(node: Any, path: Path_ = ()) -> list[tuple[Path_, Any]]:
    """Every (path, value) in the document, the document itself first."""
    found = [(path, node)]
    if isinstance(node, dict):
        for key, value in node.items():
            found += places(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += places(value, (*path, index))
    return found


def get(document: Any, path: Path_) -> Any:
    for part in path:
        document = document[part]
    return document


def put(document: Any, path: Path_, value: Any) -> None:
    get(document, path[:-1])[path[-1]] = value


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**20), 10**20), st.floats(allow_nan=False, allow_infinity=False),
    st.text(st.characters(blacklist_characters="\x00"), max_size=20),
    st.sampled_from(["", "7.5", "1e3", "NaN", "-1", "2026-13-45", "shoes", "pos", "stack", "RUB"]),
)
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                      max_leaves=6)
KINDS = ("wrong_type", "float_money", "unknown_field", "delete", "out_of_range", "nest", "list_element", "harmless")


def _type_of(value: Any) -> str:
    number = isinstance(value, int | float | Decimal) and not isinstance(value, bool)
    return "number" if number else type(value).__name__


@st.composite
def mutation(draw: st.DrawFn, document: dict[str, Any]) -> tuple[str, Path_]:
    """Apply one mutation to `document` in place; returns its kind and where it happened."""
    kind = draw(st.sampled_from((*KINDS, "harmless", "harmless")))  # a valid document now and then
    everywhere = places(document)
    if kind == "float_money":
        money = [(p, v) for p, v in everywhere if p and p[-1] in MONEY_KEYS and isinstance(v, int)
                 and not isinstance(v, bool)]
        if money:
            path, value = draw(st.sampled_from(money))
            put(document, path, draw(st.sampled_from([float(value), value + 0.5, value - 0.25])))
            return kind, path
        kind = "wrong_type"
    if kind == "unknown_field":
        mappings = [p for p, v in everywhere if isinstance(v, dict)]
        path = draw(st.sampled_from(mappings))
        key = draw(st.sampled_from(["colour", "Priority", "percent_", "extra", "id2", "thresholds_"]))
        get(document, path)[key] = draw(values)
        return kind, (*path, key)
    if kind == "delete":
        keyed = [p for p, _ in everywhere if p and isinstance(p[-1], str)]
        path = draw(st.sampled_from(keyed))
        del get(document, path[:-1])[path[-1]]
        return kind, path
    if kind == "list_element":
        lists = [p for p, v in everywhere if isinstance(v, list) and v]
        path = draw(st.sampled_from(lists))
        items = get(document, path)
        index = draw(st.integers(0, len(items) - 1))
        if draw(st.booleans()):
            del items[index]
        else:
            items.insert(index, copy.deepcopy(items[index]))
        return kind, path
    if kind == "harmless":
        campaigns = document.get("campaigns")
        campaign = draw(st.integers(0, len(campaigns) - 1)) if isinstance(campaigns, list) and campaigns else 0
        path: Path_ = ("campaigns", campaign, draw(st.sampled_from(["name", "priority"])))
        new = (draw(st.text(min_size=1, max_size=30).filter(lambda t: "\x00" not in t)) if path[-1] == "name"
               else draw(st.integers(-1000, 1000)))
        with contextlib.suppress(KeyError, IndexError, TypeError):  # campaigns already mutated away
            put(document, path, new)
        return kind, path
    leaves = [(p, v) for p, v in everywhere if p]
    path, value = draw(st.sampled_from(leaves))
    if kind == "out_of_range":
        if _type_of(value) == "number":
            put(document, path, draw(st.sampled_from([-1, -(10**6), 101, 10**13 + 1, 10**19, 36_501, 0])))
            return kind, path
        kind = "wrong_type"
    if kind == "nest":
        put(document, path, draw(st.sampled_from([[value], {"value": value}, [[value]]])))
        return kind, path
    replacement = draw(values.filter(lambda v: _type_of(v) != _type_of(value)))
    put(document, path, replacement)
    return "wrong_type", path


@st.composite
def mutated(draw: st.DrawFn, max_mutations: int = 3) -> tuple[dict[str, Any], list[tuple[str, Path_]]]:
    document = copy.deepcopy(EXAMPLE)
    done = [draw(mutation(document)) for _ in range(draw(st.integers(1, max_mutations)))]
    return document, done


def related(error_path: str, path: str) -> bool:
    """The error is at the mutated place, under it, or at one of its parents."""
    return (error_path == path or error_path.startswith((path + ".", path + "["))
            or (error_path != "(document)" and path.startswith((error_path + ".", error_path + "["))))


def as_text(document: Any, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(document, ensure_ascii=False)
    # escaped, not raw unicode: PyYAML writes NEL (U+0085) raw in single quotes with allow_unicode and
    # reads it back as a line break, which would test PyYAML's emitter rather than the parser
    return yaml.safe_dump(document, allow_unicode=False, sort_keys=False)


def outcome(text: str, fmt: str) -> dict[str, Any] | list[dict[str, str]]:
    """The pure parser's verdict on the text the service gets: the normalized document, or the errors."""
    try:
        return parse_program(read_document(text, fmt)).document()
    except ProgramError as error:
        return error.errors


def check_errors(errors: list[dict[str, str]]) -> None:
    assert errors
    for error in errors:
        assert isinstance(error["path"], str) and error["path"], error
        assert isinstance(error["message"], str) and error["message"], error


# --- pure -----------------------------------------------------------------------------------------------


@given(case=mutated(), fmt=st.sampled_from(["json", "yaml"]))
@settings(max_examples=PURE_EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
def test_parse_program_refuses_with_paths_or_accepts_a_fixed_point(case: tuple[dict[str, Any], list[Any]],
                                                                    fmt: str) -> None:
    document, done = case
    result = outcome(as_text(document, fmt), fmt)
    if isinstance(result, list):
        check_errors(result)
        if len(done) == 1:
            kind, path = done[0]
            # dropping or retyping tiers also breaks the campaigns that name them (`when.tiers`)
            references = path[:1] == ("tiers",)
            if kind != "list_element":
                assert any(related(e["path"], render(path)) or (references and e["path"].endswith(".when.tiers"))
                           for e in result), (kind, render(path), result)
            if kind == "float_money":
                assert render(path) in [e["path"] for e in result], result
    else:
        assert not any(kind == "float_money" for kind, _ in done), f"money as a float was accepted: {done}"
        # the normalized document reads back as itself
        assert outcome(as_text(result, fmt), fmt) == result


def test_the_example_itself_is_valid() -> None:
    assert isinstance(outcome(EXAMPLE_TEXT, "yaml"), dict)


# --- over HTTP ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fuzz_service(make_module_service: Callable[..., Service]) -> Service:
    """Its own service: valid documents replace its program."""
    return make_module_service()


def test_put_program_agrees_with_the_parser_and_is_never_half_applied(fuzz_service: Service) -> None:
    client = fuzz_service.client()
    seen = {"valid": 0, "invalid": 0}

    @given(case=mutated(), fmt=st.sampled_from(["json", "yaml"]))
    @settings(max_examples=HTTP_EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    def run(case: tuple[dict[str, Any], list[Any]], fmt: str) -> None:
        document, _ = case
        before = client.get("/v1/program")
        assert before.status_code == 200, before.text
        text = as_text(document, fmt)
        expected = outcome(text, fmt)
        answer = client.put("/v1/program", content=text.encode(), headers={"Content-Type": f"application/{fmt}"})
        after = client.get("/v1/program")
        if isinstance(expected, list):
            seen["invalid"] += 1
            problem = assert_problem(answer, 422, "invalid_program")
            check_errors(problem["errors"])
            assert [e["path"] for e in problem["errors"]] == [e["path"] for e in expected]
            assert after.headers["program-version"] == before.headers["program-version"]
            assert after.json() == before.json()
        else:
            seen["valid"] += 1
            assert answer.status_code == 200, answer.text
            version = answer.json()["version"]
            assert version == int(before.headers["program-version"]) + 1
            assert answer.json()["campaigns"] == len(expected.get("campaigns", []))
            assert after.headers["program-version"] == str(version)
            assert after.json() == expected

    run()
    assert seen["invalid"] > HTTP_EXAMPLES // 2 and seen["valid"] > 0, seen
