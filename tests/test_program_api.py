"""The program document over HTTP and the CLI: YAML and JSON, versions, pick-up by other instances."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from tests.conftest import EXAMPLE, Servers
from tests.programs import program
from tests.support import Service, card, line, receipt, start_service


def test_put_and_get_in_yaml_and_json(make_module_service: Callable[..., Service]) -> None:
    svc = make_module_service()
    client = svc.client()
    first = client.get("/v1/program")
    assert first.status_code == 200
    version = int(first.headers["Program-Version"])
    document = first.json()
    document["points"]["max_redeem_percent"] = "7.5"
    put = client.put("/v1/program", content=json.dumps(document), headers={"Content-Type": "application/json"})
    assert put.status_code == 200, put.text
    assert put.json()["version"] == version + 1
    as_yaml = client.get("/v1/program", headers={"Accept": "application/yaml"})
    assert as_yaml.headers["content-type"].startswith("application/yaml")
    assert yaml.safe_load(as_yaml.text)["points"]["max_redeem_percent"] == "7.5"
    # GET gives back the document unchanged in meaning: putting it again changes nothing but the version
    again = client.put("/v1/program", content=as_yaml.text, headers={"Content-Type": "application/yaml"})
    assert again.status_code == 200
    assert client.get("/v1/program").json() == client.get("/v1/program").json() == {
        **document, "points": {**document["points"], "max_redeem_percent": "7.5"}}


def test_invalid_program_is_refused_whole(make_module_service: Callable[..., Service]) -> None:
    svc = make_module_service()
    client = svc.client()
    version = client.get("/v1/program").headers["Program-Version"]
    bad = program(campaigns=[{"id": "x", "name": "x", "type": "receipt_discount", "priority": 1,
                              "thresholds": [{"min_amount": 500.5, "percent": 5}]}])
    answer = client.put("/v1/program", content=bad, headers={"Content-Type": "application/yaml"})
    assert answer.status_code == 422
    assert answer.json()["code"] == "invalid_program"
    assert any(e["path"] == "campaigns[0].thresholds[0].min_amount" for e in answer.json()["errors"])
    broken = client.put("/v1/program", content="tiers: [", headers={"Content-Type": "application/yaml"})
    assert broken.status_code == 422 and broken.json()["code"] == "invalid_program"
    odd = client.put("/v1/program", content="x", headers={"Content-Type": "text/csv"})
    assert odd.status_code == 415
    assert client.get("/v1/program").headers["Program-Version"] == version


def test_cli_check_load_export(make_module_service: Callable[..., Service], tmp_path: Path) -> None:
    svc = make_module_service()
    assert svc.cli("program", "check", str(EXAMPLE)).returncode == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text(program().replace("accrual_percent: 3", "accrual_percent: 3.333"))
    checked = svc.cli("program", "check", str(bad))
    assert checked.returncode == 1 and "tiers.levels[0].accrual_percent" in checked.stderr
    as_json = tmp_path / "p.json"
    as_json.write_text(json.dumps(yaml.safe_load(program(max_redeem_percent=20))))
    loaded = svc.cli("program", "load", str(as_json))
    assert loaded.returncode == 0, loaded.stderr
    exported = svc.cli("program", "export", "--format", "json")
    assert json.loads(exported.stdout)["points"]["max_redeem_percent"] == 20


def test_a_program_change_is_live_on_another_instance_within_2_s(
    servers: Servers, make_module_service: Callable[..., Service]
) -> None:
    first = make_module_service(program(pending_days=0))
    second = start_service(first.database_url, servers.redis_url, "pickup:", "", {})
    try:
        number = card()
        before = second.client().post("/v1/receipts/calculate", json=receipt([line("1", 100000)], number))
        assert before.json()["totals"]["points_accrued"] == 3000  # base tier 3 %
        changed = program(pending_days=0, levels=[{"id": "base", "min_purchases": 0, "accrual_percent": 9}])
        put = first.client().put("/v1/program", content=changed, headers={"Content-Type": "application/yaml"})
        assert put.status_code == 200
        deadline = time.monotonic() + 2.0
        while True:
            after = second.client().post("/v1/receipts/calculate", json=receipt([line("1", 100000)], number))
            if after.json()["totals"]["points_accrued"] == 9000:
                break
            assert time.monotonic() < deadline, "the other instance did not pick the program up within 2 s"
            time.sleep(0.05)
        assert after.json()["program_version"] == put.json()["version"]
    finally:
        second.stop()
