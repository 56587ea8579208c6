"""Campaigns one at a time over HTTP: list pages, get, create, replace, delete, each change a new program
version; bad input changes nothing; concurrent changes of different campaigns are all kept."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import yaml

from tests.conftest import EXAMPLE, Servers
from tests.programs import program
from tests.support import ADMIN_KEY, Service, assert_problem, card, line, receipt, start_service

YAML = {"Content-Type": "application/yaml"}


def accrual(campaign_id: str, priority: int, **fields: Any) -> dict[str, Any]:
    """An accrual campaign limited to a category no test receipt has, unless `fields` say otherwise."""
    return {"id": campaign_id, "name": f"campaign {campaign_id}", "type": "accrual", "priority": priority,
            "items": {"categories": [f"only-{campaign_id}"]}, "multiplier": 2, **fields}


def stored(campaign: dict[str, Any]) -> dict[str, Any]:
    """A campaign as the program document gives it back: with its defaults written out."""
    return {"stacking": "stack", **campaign}


def version_of(answer: httpx.Response) -> int:
    return int(answer.headers["Program-Version"])


def document(client: httpx.Client) -> tuple[int, dict[str, Any]]:
    """The active program document and its version."""
    answer = client.get("/v1/program")
    assert answer.status_code == 200, answer.text
    return version_of(answer), dict(answer.json())


def campaign_ids(client: httpx.Client) -> list[str]:
    return [c["id"] for c in document(client)[1]["campaigns"]]


def every_page(client: httpx.Client, limit: int) -> list[list[str]]:
    """The ids on each page of GET /v1/campaigns, following next_cursor to the end."""
    pages: list[list[str]] = []
    params: dict[str, Any] = {"limit": limit}
    while True:
        answer = client.get("/v1/campaigns", params=params)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert set(body) == {"campaigns", "next_cursor"}
        pages.append([c["id"] for c in body["campaigns"]])
        if body["next_cursor"] is None:
            return pages
        params = {"limit": limit, "cursor": body["next_cursor"]}


def test_list_pages_in_priority_order_ties_by_id(make_module_service: Callable[..., Service]) -> None:
    svc = make_module_service(program(campaigns=[accrual("b", 20), accrual("z", 10), accrual("a", 10),
                                          accrual("m", -5), accrual("c", 30)]))
    client = svc.client()
    assert every_page(client, 2) == [["m", "a"], ["z", "b"], ["c"]]
    assert every_page(client, 5) == [["m", "a", "z", "b", "c"]]  # a full last page has next_cursor null
    assert every_page(client, 50) == [["m", "a", "z", "b", "c"]]
    first = client.get("/v1/campaigns", params={"limit": 2})
    assert version_of(first) == document(client)[0]
    assert first.json()["campaigns"][0] == stored(accrual("m", -5))  # as in the program document
    # the cursor is a position in (priority, id) order: a campaign added before it does not shift page 2
    assert client.put("/v1/campaigns/aa", json=accrual("aa", 0)).status_code == 201
    second = client.get("/v1/campaigns", params={"limit": 2, "cursor": first.json()["next_cursor"]})
    assert [c["id"] for c in second.json()["campaigns"]] == ["z", "b"]

    assert_problem(client.get("/v1/campaigns", params={"cursor": "not-a-cursor"}), 422, "invalid_cursor")
    assert_problem(client.get("/v1/campaigns", params={"limit": 0}), 422, "validation_error")
    assert_problem(client.get("/v1/campaigns", params={"limit": 501}), 422, "validation_error")


def test_get_one_campaign_as_in_the_program_document(make_module_service: Callable[..., Service]) -> None:
    svc = make_module_service()
    client = svc.client()
    version, program_document = document(client)
    winter = next(c for c in program_document["campaigns"] if c["id"] == "winter-check")
    answer = client.get("/v1/campaigns/winter-check")
    assert answer.status_code == 200, answer.text
    assert answer.json() == winter
    assert version_of(answer) == version
    as_yaml = client.get("/v1/campaigns/winter-check", headers={"Accept": "application/yaml"})
    assert as_yaml.headers["content-type"].startswith("application/yaml")
    assert yaml.safe_load(as_yaml.text) == winter

    assert_problem(client.get("/v1/campaigns/no-such-campaign"), 404, "campaign_not_found")
    assert_problem(client.get("/v1/campaigns/Not_An_Id"), 422, "validation_error")


def test_create_replace_delete_each_make_a_new_version(make_module_service: Callable[..., Service]) -> None:
    svc = make_module_service()
    client = svc.client()
    version, before = document(client)

    body = {"name": "x", "type": "accrual", "priority": 5, "multiplier": 2}  # no id: the path's
    created = client.put("/v1/campaigns/x", json=body)
    assert created.status_code == 201, created.text
    assert created.json() == stored({"id": "x", **body})
    assert version_of(created) == version + 1
    assert created.headers["Location"] == "/v1/campaigns/x"
    after_create, now = document(client)
    assert after_create == version + 1
    assert now["campaigns"] == [*before["campaigns"], created.json()]

    replaced = client.put("/v1/campaigns/x", content="id: x\nname: y\ntype: accrual\npriority: 7\n"
                                                     "percent: 7.5\nmode: add\n", headers=YAML)
    assert replaced.status_code == 200, replaced.text
    assert replaced.json() == stored({"id": "x", "name": "y", "type": "accrual", "priority": 7, "percent": "7.5",
                                      "mode": "add"})
    assert version_of(replaced) == version + 2
    after_replace, now = document(client)
    assert after_replace == version + 2
    assert now["campaigns"] == [*before["campaigns"], replaced.json()]  # replaced in place
    assert client.get("/v1/campaigns/x").json() == replaced.json()

    # an example campaign is replaced where it stands
    winter = {**client.get("/v1/campaigns/winter-check").json(), "priority": 11}
    assert client.put("/v1/campaigns/winter-check", json=winter).status_code == 200
    assert document(client)[1]["campaigns"][1] == winter

    deleted = client.delete("/v1/campaigns/x")
    assert deleted.status_code == 204, deleted.text
    assert deleted.content == b""
    assert version_of(deleted) == version + 4
    assert_problem(client.get("/v1/campaigns/x"), 404, "campaign_not_found")
    assert "x" not in campaign_ids(client)

    assert_problem(client.delete("/v1/campaigns/x"), 404, "campaign_not_found")
    assert document(client)[0] == version + 4  # a refused delete makes no version


def test_invalid_campaign_is_refused_with_its_own_paths_and_changes_nothing(
    make_module_service: Callable[..., Service],
) -> None:
    svc = make_module_service()
    client = svc.client()
    before = document(client)

    def refused(campaign_id: str, answer: httpx.Response, path: str) -> None:
        problem = assert_problem(answer, 422, "invalid_campaign")
        assert path in [e["path"] for e in problem["errors"]], problem
        assert_problem(client.get(f"/v1/campaigns/{campaign_id}"), 404, "campaign_not_found")

    discount = {"name": "d", "type": "receipt_discount", "priority": 3,
                "thresholds": [{"min_amount": 500000, "percent": 5}, {"min_amount": 1000000, "percent": 500}]}
    refused("d", client.put("/v1/campaigns/d", json=discount), "thresholds[1].percent")
    refused("d", client.put("/v1/campaigns/d", json={"name": "d", "priority": 3}), "type")
    refused("d", client.put("/v1/campaigns/d", json={**discount, "type": "lottery"}), "type")
    refused("d", client.put("/v1/campaigns/d", json={**accrual("d", 1), "when": {"tiers": ["platinum"]}}),
            "when.tiers")
    refused("d", client.put("/v1/campaigns/d", json={**accrual("d", 1), "typo": 1}), "typo")
    refused("d", client.put("/v1/campaigns/d", json={**accrual("d", 1), "mode": "add"}), "(body)")
    refused("d", client.put("/v1/campaigns/d", content="name: [", headers=YAML), "(body)")
    refused("d", client.put("/v1/campaigns/d", content="- a list", headers=YAML), "(body)")
    refused("d", client.put("/v1/campaigns/d", content=b"{", headers={"Content-Type": "application/json"}), "(body)")
    refused("d", client.put("/v1/campaigns/d", content=b""), "(body)")
    # replacing a campaign in the middle of the document: the path is still the campaign's own
    winter = client.get("/v1/campaigns/winter-check").json()
    bad_winter = {**winter, "thresholds": [{"min_amount": 1.5, "percent": 5}]}
    problem = assert_problem(client.put("/v1/campaigns/winter-check", json=bad_winter), 422, "invalid_campaign")
    assert [e["path"] for e in problem["errors"]] == ["thresholds[0].min_amount"]
    assert_problem(client.put("/v1/campaigns/d", content="x", headers={"Content-Type": "text/csv"}),
                   415, "unsupported_media_type")
    assert_problem(client.put("/v1/campaigns/Bad_Id", json=accrual("d", 1)), 422, "validation_error")

    assert document(client) == before  # no new version, the same document


def test_body_id_must_equal_the_path_id(make_module_service: Callable[..., Service]) -> None:
    svc = make_module_service()
    client = svc.client()
    before = document(client)
    problem = assert_problem(client.put("/v1/campaigns/a", json=accrual("b", 1)), 422, "campaign_id_mismatch")
    assert problem["errors"][0]["path"] == "id"
    winter = client.get("/v1/campaigns/winter-check").json()
    assert_problem(client.put("/v1/campaigns/welcome", json=winter), 422, "campaign_id_mismatch")
    assert document(client) == before
    assert client.put("/v1/campaigns/a", json=accrual("a", 1)).status_code == 201  # the same id is fine


def test_pos_keys_are_forbidden(make_module_service: Callable[..., Service]) -> None:
    svc = make_module_service()
    pos = svc.client(svc.key("pos"))
    nobody = svc.client(None)
    before = document(svc.client())
    calls: list[Callable[[httpx.Client], httpx.Response]] = [
        lambda c: c.get("/v1/campaigns"),
        lambda c: c.get("/v1/campaigns/welcome"),
        lambda c: c.put("/v1/campaigns/new", json=accrual("new", 1)),
        lambda c: c.put("/v1/campaigns/welcome", json={"type": "nonsense"}),
        lambda c: c.delete("/v1/campaigns/welcome"),
    ]
    for call in calls:
        assert_problem(call(pos), 403, "forbidden")
        assert_problem(call(nobody), 401, "unauthorized")
    assert document(svc.client()) == before


def test_concurrent_puts_of_different_campaigns_are_all_kept(servers: Servers) -> None:
    """Two worker processes, twelve new campaigns PUT at once: every one is in the final program."""
    svc = start_service(servers.new_database(), servers.redis_url, f"t{servers.run_id}camp:",
                        EXAMPLE.read_text(), {}, workers=2)
    try:
        time.sleep(0.6)  # the worker that did not take the PUT finds the program by polling (200 ms)
        client = svc.client()
        version, before = document(client)
        ids = [f"race-{n}" for n in range(12)]
        barrier = threading.Barrier(len(ids))

        def put(campaign_id: str) -> httpx.Response:
            with httpx.Client(base_url=svc.url, headers={"Authorization": f"Bearer {ADMIN_KEY}"},
                              timeout=30) as own:
                own.get("/healthz")  # open the connection before the race starts
                barrier.wait(timeout=30)
                return own.put(f"/v1/campaigns/{campaign_id}", json=accrual(campaign_id, 1))

        with ThreadPoolExecutor(max_workers=len(ids)) as pool:
            answers = list(pool.map(put, ids))
        assert [a.status_code for a in answers] == [201] * len(ids), [a.text for a in answers]
        assert sorted(version_of(a) for a in answers) == list(range(version + 1, version + 1 + len(ids)))
        deadline = time.monotonic() + 2.0  # the other worker finds the last version by polling
        while document(client)[0] != version + len(ids):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        kept = campaign_ids(client)
        assert kept[:len(before["campaigns"])] == [c["id"] for c in before["campaigns"]]
        assert sorted(kept[len(before["campaigns"]):]) == sorted(ids)
    finally:
        svc.stop()


def test_a_created_accrual_campaign_changes_the_points(make_module_service: Callable[..., Service]) -> None:
    svc = make_module_service()
    client = svc.client()
    number = card()  # not registered: auto_enroll shows the points a confirm would accrue

    def points() -> tuple[int, int]:
        answer = client.post("/v1/receipts/calculate", json=receipt([line("1", 100000)], number))
        assert answer.status_code == 200, answer.text
        return answer.json()["totals"]["points_accrued"], answer.json()["program_version"]

    assert points()[0] == 3000  # base tier 3 %
    double = {"id": "x", "name": "x", "type": "accrual", "priority": 5, "multiplier": 2}
    created = client.put("/v1/campaigns/x", content=json.dumps(double), headers={"Content-Type": "application/json"})
    assert created.status_code == 201, created.text
    assert points() == (6000, version_of(created))  # this worker uses the new version at once
    deleted = client.delete("/v1/campaigns/x")
    assert deleted.status_code == 204
    assert points() == (3000, version_of(deleted))
