"""Program history over HTTP (issue 18 part 1): every publish's author and note, the versions newest first and
paged, one version's document, the diff of two, and rollback: a new version equal to an old one, live on
every worker, refused with paths (and nothing published) when the old document no longer holds."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.conftest import Servers
from tests.programs import program
from tests.support import Service, assert_problem, start_service

WINTER = {"id": "winter", "name": "Winter", "type": "receipt_discount", "priority": 10,
          "items": {"categories": ["shoes"]}, "thresholds": [{"min_amount": 500000, "percent": 5}]}
CARE = {"id": "care", "name": "Care x2", "type": "accrual", "priority": 20, "multiplier": 2}


def _yaml(**kwargs: Any) -> dict[str, str]:
    return {"content": program(**kwargs), "headers": {"Content-Type": "application/yaml"}}  # type: ignore[dict-item]


def _put(client: httpx.Client, note: str | None = None, **kwargs: Any) -> int:
    answer = client.put("/v1/program", params={"note": note} if note is not None else {}, **_yaml(**kwargs))
    assert answer.status_code == 200, answer.text
    assert answer.headers["Program-Version"] == str(answer.json()["version"])
    return int(answer.json()["version"])


def _history(client: httpx.Client, **params: Any) -> dict[str, Any]:
    answer = client.get("/v1/program/versions", params=params)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _key_id(svc: Service, role: str) -> tuple[str, str]:
    """A new key of `role` and its id (the newest key of that role)."""
    key = svc.key(role)
    listed = [json.loads(line) for line in svc.cli("keys", "list", "--format", "json", check=True).stdout.splitlines()]
    return key, str(max(k["id"] for k in listed if k["role"] == role))


@pytest.fixture(scope="module")
def svc(make_module_service: Callable[..., Service]) -> Service:
    return make_module_service(program())


@pytest.fixture(scope="module")
def marketer(svc: Service) -> tuple[httpx.Client, str]:
    key, key_id = _key_id(svc, "marketer")
    return svc.client(key), key_id


def test_every_publish_keeps_its_author_and_note(svc: Service, marketer: tuple[httpx.Client, str]) -> None:
    admin = svc.client()
    client, key_id = marketer
    first = _put(admin, "winter sale", campaigns=[WINTER])
    # JSON body, the note in the query as for YAML
    document = yaml.safe_load(program(campaigns=[WINTER, CARE]))
    second = client.put("/v1/program", params={"note": "double points on care"}, json=document)
    assert second.status_code == 200, second.text
    third = client.delete("/v1/campaigns/care", params={"note": "care is over"})
    assert third.status_code == 204
    fourth = client.put("/v1/campaigns/care", json=CARE)  # no note
    assert fourth.status_code == 201
    versions = _history(svc.client())["versions"]
    mine = {entry["version"]: entry for entry in versions}
    assert (mine[first]["author"], mine[first]["note"], mine[first]["campaigns"]) == ("bootstrap", "winter sale", 1)
    assert (mine[first + 1]["author"], mine[first + 1]["note"], mine[first + 1]["campaigns"]) == (
        key_id, "double points on care", 2)
    assert (mine[first + 2]["author"], mine[first + 2]["note"], mine[first + 2]["campaigns"]) == (
        key_id, "care is over", 1)
    assert (mine[first + 3]["author"], mine[first + 3]["note"], mine[first + 3]["campaigns"]) == (key_id, None, 2)
    # newest first; the newest is the active one, and only it
    assert [entry["version"] for entry in versions] == sorted(mine, reverse=True)
    assert [entry["active"] for entry in versions] == [True] + [False] * (len(versions) - 1)
    active = int(svc.client().get("/v1/program").headers["Program-Version"])
    assert _history(client)["active_version"] == first + 3 == active
    assert all(entry["created_at"].endswith("+00:00") for entry in versions)


def test_a_version_the_cli_loads_has_no_author_and_its_own_note(svc: Service, tmp_path: Path) -> None:
    path = tmp_path / "program.yaml"
    path.write_text(program(campaigns=[CARE]))
    assert svc.cli("program", "load", str(path)).returncode == 0
    newest = _history(svc.client(), limit=1)["versions"][0]
    assert (newest["author"], newest["note"], newest["campaigns"]) == (None, None, 1)
    assert svc.cli("program", "load", str(path), "--note", "from the repository").returncode == 0
    newest = _history(svc.client(), limit=1)["versions"][0]
    assert (newest["author"], newest["note"]) == (None, "from the repository")


def test_the_history_pages_without_gaps_or_repeats(svc: Service) -> None:
    admin = svc.client()
    for index in range(3):
        _put(admin, f"page {index}", max_redeem_percent=10 + index)
    everything = [entry["version"] for entry in _history(admin, limit=500)["versions"]]
    seen: list[int] = []
    cursor = None
    while True:
        page = _history(admin, limit=2, **({"cursor": cursor} if cursor else {}))
        assert len(page["versions"]) <= 2
        seen += [entry["version"] for entry in page["versions"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == everything and len(seen) >= 4
    for bad in ("nope", "djA", "dj05OTk5OTk5OTk5"):  # not base64 of v<n>; v0; beyond the integer range
        assert_problem(admin.get("/v1/program/versions", params={"cursor": bad}), 422, "invalid_cursor")
    assert_problem(admin.get("/v1/program/versions", params={"limit": 0}), 422, "validation_error")


def test_one_version_as_json_and_yaml(svc: Service) -> None:
    admin = svc.client()
    version = _put(admin, campaigns=[WINTER, CARE], max_redeem_percent="7.5")
    _put(admin, campaigns=[CARE])
    answer = admin.get(f"/v1/program/versions/{version}")
    assert answer.status_code == 200 and answer.headers["Program-Version"] == str(version)
    document = answer.json()
    assert [c["id"] for c in document["campaigns"]] == ["winter", "care"]
    assert document["points"]["max_redeem_percent"] == "7.5"
    as_yaml = admin.get(f"/v1/program/versions/{version}", headers={"Accept": "application/yaml"})
    assert as_yaml.headers["content-type"].startswith("application/yaml")
    assert json.loads(json.dumps(yaml.safe_load(as_yaml.text), default=str)) == json.loads(json.dumps(document))
    # what GET /v1/program gives for the active one, the versions route gives too
    active = admin.get("/v1/program")
    assert admin.get(f"/v1/program/versions/{active.headers['Program-Version']}").json() == active.json()
    problem = assert_problem(admin.get("/v1/program/versions/999999"), 404, "program_version_not_found")
    assert "999999" in problem["detail"]
    assert_problem(admin.get("/v1/program/versions/0"), 422, "validation_error")


def test_the_diff_of_two_versions(svc: Service) -> None:
    admin = svc.client()
    before = _put(admin, campaigns=[WINTER, CARE])
    changed = {**WINTER, "thresholds": [{"min_amount": 500000, "percent": 7}]}
    welcome = {"id": "welcome", "name": "Welcome", "type": "bonus", "priority": 1, "trigger": "registration",
               "points": 20000}
    after = _put(admin, campaigns=[welcome, changed], pending_days=3)
    answer = admin.get(f"/v1/program/versions/{after}/diff", params={"against": before})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "version": after, "against": before, "added": ["welcome"], "removed": ["care"],
        "changed": [{"id": "winter", "changes": [{"path": "thresholds[0].percent", "before": 5, "after": 7}]}],
        "settings": [{"path": "points.pending_days", "before": 0, "after": 3}],
    }
    same = admin.get(f"/v1/program/versions/{after}/diff", params={"against": after}).json()
    assert (same["added"], same["removed"], same["changed"], same["settings"]) == ([], [], [], [])
    assert_problem(admin.get(f"/v1/program/versions/{after}/diff", params={"against": 999999}), 404,
                   "program_version_not_found")
    assert_problem(admin.get("/v1/program/versions/999999/diff", params={"against": after}), 404,
                   "program_version_not_found")
    assert_problem(admin.get(f"/v1/program/versions/{after}/diff"), 422, "validation_error")  # against is required


def test_rollback_publishes_the_old_document_as_a_new_version(svc: Service,
                                                              marketer: tuple[httpx.Client, str]) -> None:
    admin = svc.client()
    client, key_id = marketer
    good = _put(admin, "the good one", campaigns=[WINTER])
    bad = _put(admin, "a mistake", campaigns=[CARE], max_redeem_percent=99)
    answer = client.post("/v1/program/rollback", json={"version": good, "note": "undo the mistake"})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"version": bad + 1, "campaigns": 1}
    assert answer.headers["Program-Version"] == str(bad + 1)
    active = admin.get("/v1/program")
    assert active.headers["Program-Version"] == str(bad + 1)
    assert active.json() == admin.get(f"/v1/program/versions/{good}").json()
    # history is kept: the mistake is still there, and the rollback is its own entry
    entries = {entry["version"]: entry for entry in _history(admin, limit=500)["versions"]}
    assert entries[bad]["note"] == "a mistake"
    assert (entries[bad + 1]["author"], entries[bad + 1]["note"], entries[bad + 1]["active"]) == (
        key_id, "undo the mistake", True)
    # without a note, the note says what was restored
    again = admin.post("/v1/program/rollback", json={"version": bad})
    assert again.status_code == 200, again.text
    assert _history(admin, limit=1)["versions"][0]["note"] == f"rollback to version {bad}"


def test_bad_rollbacks_and_notes_change_nothing(svc: Service) -> None:
    admin = svc.client()
    versions_before = _history(admin, limit=500)["versions"]
    for body, code in (({"version": 999999}, "program_version_not_found"), ({"version": 0}, "validation_error"),
                       ({"version": "1"}, "validation_error"), ({"version": 1.0}, "validation_error"),
                       ({"version": 1, "extra": 1}, "validation_error"), ({"note": "no version"}, "validation_error"),
                       ({"version": 1, "note": "x" * 501}, "validation_error"),
                       ({"version": 1, "note": "a\u0000b"}, "validation_error")):
        assert_problem(admin.post("/v1/program/rollback", json=body), 404 if code.endswith("not_found") else 422, code)
    assert_problem(admin.post("/v1/program/rollback", content=b"{", headers={"Content-Type": "application/json"}),
                   422, "invalid_json")
    for note in ("x" * 501, "a\u0000b"):
        problem = assert_problem(admin.put("/v1/program", params={"note": note}, **_yaml()), 422, "validation_error")
        assert [e["path"] for e in problem.get("errors", [])] in (["note"], ["query.note"]), problem
    assert _history(admin, limit=500)["versions"] == versions_before


def test_a_rollback_to_a_document_that_no_longer_holds_is_refused_with_paths(svc: Service) -> None:
    """The old version names a custom segment that has since been deleted: 422 with the path, nothing published."""
    admin = svc.client()
    segment = admin.put("/v1/segments/big-spenders",
                        json={"name": "Big spenders", "filter": {"all": [{"ltv": {"gte": 100}}]}})
    assert segment.status_code == 201, segment.text
    targeted = {**WINTER, "when": {"segments": ["big-spenders"]}}
    old = _put(admin, campaigns=[CARE, targeted])
    _put(admin, campaigns=[CARE])
    assert admin.delete("/v1/segments/big-spenders").status_code == 204
    before = _history(admin, limit=500)
    problem = assert_problem(admin.post("/v1/program/rollback", json={"version": old}), 422, "invalid_program")
    assert [e["path"] for e in problem["errors"]] == ["campaigns[1].when.segments[0]"]
    assert "big-spenders" in problem["errors"][0]["message"]
    assert _history(admin, limit=500) == before


def test_a_rollback_is_live_on_another_instance_within_2_s(servers: Servers, svc: Service) -> None:
    admin = svc.client()
    old = _put(admin, campaigns=[WINTER])
    _put(admin, campaigns=[CARE])
    second = start_service(svc.database_url, servers.redis_url, "versions-second:", "", {})
    try:
        version = admin.post("/v1/program/rollback", json={"version": old}).json()["version"]
        deadline = time.monotonic() + 2.0
        while True:
            seen = second.client().get("/v1/program")
            if seen.headers["Program-Version"] == str(version):
                break
            assert time.monotonic() < deadline, "the other instance did not pick the rollback up within 2 s"
            time.sleep(0.05)
        assert [c["id"] for c in seen.json()["campaigns"]] == ["winter"]
    finally:
        second.stop()
