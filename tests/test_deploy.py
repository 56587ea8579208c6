"""The deployment files, checked without a container engine: the Dockerfile's structure, the compose
stack (services, ports, healthchecks, start order, every mounted file present), the Kubernetes
manifests, and that every metric the Grafana dashboard and the alert rules use is exported by a real
service (or by `bonus-engine audit --metrics-file`). With promtool on the PATH (.ci/run installs it)
the rules, the config and the rules' unit tests run through it too.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from app.core.settings import Settings
from tests.support import _LABEL, _SAMPLE, Service, card, line, metric, receipt, unique

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
PROMETHEUS = DEPLOY / "prometheus" / "prometheus.yml"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "bonus-engine.json"
KUBERNETES = DEPLOY / "kubernetes"

# written by `bonus-engine audit --metrics-file`, not by the service's /metrics
AUDIT_METRICS = {"bonus_audit_problems", "bonus_audit_last_run_timestamp_seconds"}
# series Prometheus makes itself for every target
PROMETHEUS_SERIES = {"up"}
TARGET_LABELS = {"instance", "job"}


# --- Dockerfile --------------------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in (ROOT / "Dockerfile").read_text().splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        logical.append(pending + stripped)
        pending = ""
    assert not pending, "the Dockerfile ends inside a continuation"
    return [(text.split(None, 1)[0].upper(), text.split(None, 1)[1] if " " in text else "") for text in logical]


def stages() -> list[dict[str, Any]]:
    """Each build stage: its base image (ARG defaults resolved), name and instructions."""
    args: dict[str, str] = {}
    found: list[dict[str, Any]] = []
    for instruction, arguments in dockerfile_instructions():
        if instruction == "ARG" and not found and "=" in arguments:
            name, _, value = arguments.partition("=")
            args[name.strip()] = value.strip()
        elif instruction == "FROM":
            parts = [p for p in arguments.split() if not p.startswith("--")]
            base = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args.get(m.group(1) or m.group(2), ""), parts[0])
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else None
            found.append({"base": base, "name": name, "instructions": []})
        else:
            assert found, f"{instruction} before the first FROM"
            found[-1]["instructions"].append((instruction, arguments))
    return found


def test_dockerfile_is_multi_stage_slim_and_non_root() -> None:
    built = stages()
    assert len(built) >= 2, "a build stage and a runtime stage"
    final = built[-1]
    assert "slim" in final["base"] and final["base"].startswith("python:3.11"), final["base"]
    names = {stage["name"] for stage in built[:-1]}
    instructions = final["instructions"]

    copies = [arguments for instruction, arguments in instructions if instruction == "COPY"]
    sources = [re.search(r"--from=(\S+)", c) for c in copies]
    assert any(source and source.group(1) in names for source in sources), copies
    for copied in copies:  # the runtime stage takes the built venv only: no sources, tests or build context
        assert "--from=" in copied, copied
        assert not re.search(r"\b(tests|loadtests)\b", copied), copied
    for instruction, arguments in instructions:
        if instruction == "RUN":
            assert not re.search(r"\b(gcc|g\+\+|build-essential|make|libpq-dev|python3-dev)\b", arguments), arguments
            assert "apt-get install" not in arguments, arguments

    users = [arguments for instruction, arguments in instructions if instruction == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0"), users

    entrypoints = [arguments for instruction, arguments in instructions if instruction == "ENTRYPOINT"]
    assert entrypoints, "an ENTRYPOINT"
    entrypoint = json.loads(entrypoints[-1])  # exec form: a JSON array, so the server is PID 1 and gets SIGTERM
    assert entrypoint[:2] == ["bonus-engine", "serve"], entrypoint
    assert entrypoint[entrypoint.index("--host") + 1] == "0.0.0.0", entrypoint
    port = entrypoint[entrypoint.index("--port") + 1]
    assert any(i == "EXPOSE" and port in a.split() for i, a in instructions), "EXPOSE the served port"

    healthchecks = [arguments for instruction, arguments in instructions if instruction == "HEALTHCHECK"]
    assert healthchecks, "a HEALTHCHECK"
    command = json.loads(healthchecks[-1].split("CMD", 1)[1].strip())
    assert command[0] == "python", command  # the slim image has no curl or wget
    assert f"127.0.0.1:{port}/healthz" in " ".join(command), command

    # what the build stage copies exists, and the build context holds nothing else of note
    for stage in built[:-1]:
        for instruction, arguments in stage["instructions"]:
            if instruction == "COPY" and "--from=" not in arguments:
                for source in arguments.split()[:-1]:
                    assert (ROOT / source).exists(), source
    ignore = [row.strip() for row in (ROOT / ".dockerignore").read_text().splitlines()
              if row.strip() and not row.strip().startswith("#")]
    assert ignore[0] == "*", "allow-list: everything is ignored unless named"
    allowed = {row[1:].rstrip("/") for row in ignore if row.startswith("!")}
    assert allowed <= {"pyproject.toml", "app", "rules", "migrations", "alembic.ini"}, allowed
    assert {"pyproject.toml", "app", "rules", "migrations"} <= allowed, allowed


# --- docker compose ----------------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    return dict(yaml.safe_load(COMPOSE.read_text()))


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def _check_settings_names(env: dict[str, str], where: str) -> None:
    """Settings ignore unknown variables, so a typo in a deployment would pass silently: catch it here."""
    for name in env:
        if name.startswith("BONUS_ENGINE_"):
            assert name[len("BONUS_ENGINE_"):].lower() in Settings.model_fields, f"{where}: unknown setting {name}"


def test_compose_services_ports_healthchecks_and_start_order() -> None:
    stack = compose()
    services = stack["services"]
    assert {"postgres", "redis", "migrate", "app", "prometheus", "grafana"} <= set(services), set(services)

    def published(name: str) -> set[str]:
        return {str(p).rsplit(":", 1)[-1] for p in services[name].get("ports", [])}

    assert "8000" in published("app") and "9090" in published("prometheus") and "3000" in published("grafana")
    one_shot = {name for name, s in services.items() if s.get("restart") == "no"}
    assert "migrate" in one_shot
    for name, service in services.items():
        if name not in one_shot:
            assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
        for needed, how in (service.get("depends_on") or {}).items():
            assert needed in services, f"{name} depends on unknown {needed}"
            assert how["condition"] in ("service_started", "service_healthy", "service_completed_successfully")
            if how["condition"] == "service_healthy":
                assert services[needed].get("healthcheck"), f"{name} waits for {needed}'s health, which has no check"
            if how["condition"] == "service_completed_successfully":
                assert needed in one_shot, f"{needed} is not a one-shot service"

    migrate, app = services["migrate"], services["app"]
    assert migrate["entrypoint"] == ["bonus-engine", "migrate"]
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert app["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert app["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert app["depends_on"]["redis"]["condition"] == "service_healthy"
    assert "/readyz" in " ".join(app["healthcheck"]["test"])
    assert services["grafana"]["depends_on"]["prometheus"]["condition"] == "service_healthy"
    assert app.get("image") == migrate.get("image") and app["build"]["context"] == ".."

    env = _env(app)
    assert "@postgres:5432/" in env["DATABASE_URL"] and env["REDIS_URL"].startswith("redis://redis:6379")
    for name, service in services.items():
        _check_settings_names(_env(service), f"compose {name}")


def test_every_file_compose_mounts_or_builds_exists() -> None:
    stack = compose()
    mounted: dict[str, str] = {}  # container path -> repo path
    for name, service in stack["services"].items():
        build = service.get("build")
        if build:
            context = (DEPLOY / build["context"]).resolve()
            assert context.is_dir(), f"{name}: build context {context}"
            assert (context / build.get("dockerfile", "Dockerfile")).is_file(), f"{name}: Dockerfile"
        for volume in service.get("volumes", []):
            source = volume["source"] if isinstance(volume, dict) else str(volume).split(":")[0]
            if source.startswith((".", "/")):
                path = (DEPLOY / source).resolve()
                assert path.exists(), f"{name} mounts {source}, which is not in the repository"
                assert ROOT in path.parents, f"{name} mounts {source} from outside the repository"
                mounted[str(volume).split(":")[1]] = str(path)
            else:
                assert source in (stack.get("volumes") or {}), f"{name}: undeclared volume {source}"
    # Prometheus is given its rules; Grafana its data source, its dashboard provider and the dashboard
    assert mounted["/etc/prometheus/prometheus.yml"] == str(PROMETHEUS)
    assert mounted["/etc/prometheus/alerts.yml"] == str(ALERTS)
    assert str(DASHBOARD) in mounted.values()

    config = yaml.safe_load(PROMETHEUS.read_text())
    for rule_file in config["rule_files"]:
        assert (PROMETHEUS.parent / rule_file).is_file(), rule_file
    targets = {t for job in config["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]}
    assert "app:8000" in targets, targets

    datasources = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text())
    assert datasources["datasources"][0]["url"] == "http://prometheus:9090"
    providers = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/bonus-engine.yml").read_text())
    provider_path = providers["providers"][0]["options"]["path"]
    dashboard_in_container = next(c for c, repo in mounted.items() if repo == str(DASHBOARD))
    assert Path(dashboard_in_container).parent == Path(provider_path)


# --- Kubernetes --------------------------------------------------------------------------------------


def manifests() -> list[dict[str, Any]]:
    found = []
    for path in sorted(KUBERNETES.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                found.append({**document, "__file__": path.name})
    return found


def test_kubernetes_manifests_have_the_essentials() -> None:
    documents = manifests()
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for document in documents:
        assert document.get("kind"), document["__file__"]
        by_kind.setdefault(document["kind"], []).append(document)
    assert {"Kustomization", "Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget",
            "ConfigMap", "Secret", "Job"} <= set(by_kind), set(by_kind)

    kustomization = by_kind["Kustomization"][0]
    for resource in kustomization["resources"]:
        assert (KUBERNETES / resource).is_file(), resource
    assert not any("secret" in r for r in kustomization["resources"]), "real secrets are never applied from git"

    deployment = by_kind["Deployment"][0]
    spec = deployment["spec"]
    assert spec["replicas"] >= 2
    pod = spec["template"]["spec"]
    labels = spec["template"]["metadata"]["labels"]
    assert spec["selector"]["matchLabels"].items() <= labels.items()
    assert pod["securityContext"]["runAsNonRoot"] is True
    container = pod["containers"][0]
    port = container["ports"][0]
    assert port["containerPort"] == 8000
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["port"] in (port["containerPort"], port.get("name"))
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    assert "memory" in container["resources"]["limits"]
    assert container["lifecycle"]["preStop"], "a preStop pause before SIGTERM"
    assert pod["terminationGracePeriodSeconds"] > 5
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert any(m["mountPath"] == "/tmp" for m in container["volumeMounts"]), "a writable /tmp"

    service = by_kind["Service"][0]
    assert service["spec"]["selector"].items() <= labels.items()
    assert service["spec"]["ports"][0]["targetPort"] in (port["containerPort"], port.get("name"))
    hpa = by_kind["HorizontalPodAutoscaler"][0]["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                     "name": deployment["metadata"]["name"]}
    assert 2 <= hpa["minReplicas"] <= hpa["maxReplicas"]
    pdb = by_kind["PodDisruptionBudget"][0]["spec"]
    assert pdb["selector"]["matchLabels"].items() <= labels.items()
    assert pdb["minAvailable"] < hpa["minReplicas"], "a drain must be able to move a pod"

    job = by_kind["Job"][0]["spec"]["template"]["spec"]
    assert job["containers"][0]["command"] == ["bonus-engine", "migrate"]
    assert job["restartPolicy"] in ("OnFailure", "Never")

    config_maps = {d["metadata"]["name"]: d for d in by_kind["ConfigMap"]}
    secrets = {d["metadata"]["name"]: d for d in by_kind["Secret"]}
    for document in documents:
        template = document.get("spec", {}).get("template") or \
            document.get("spec", {}).get("jobTemplate", {}).get("spec", {}).get("template")
        if not template:
            continue
        for each in template["spec"]["containers"]:
            for source in each.get("envFrom", []):
                if "configMapRef" in source:
                    assert source["configMapRef"]["name"] in config_maps
                if "secretRef" in source:
                    assert source["secretRef"]["name"] in secrets
    for config_map in config_maps.values():
        _check_settings_names(config_map["data"], f"ConfigMap {config_map['metadata']['name']}")
    for secret in secrets.values():
        assert "DATABASE_URL" in secret["stringData"]
        _check_settings_names(secret["stringData"], f"Secret {secret['metadata']['name']}")


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kustomize_builds() -> None:
    built = subprocess.run(["kubectl", "kustomize", str(KUBERNETES)], capture_output=True, text=True, timeout=60)
    assert built.returncode == 0, built.stderr
    kinds = {d["kind"] for d in yaml.safe_load_all(built.stdout) if d}
    assert {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "Job"} <= kinds


# --- metrics of the dashboard and the alerts ---------------------------------------------------------

_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
             "offset", "inf", "nan", "Inf", "NaN"}


def grafana_to_promql(expr: str) -> str:
    """Grafana's variables replaced by what they stand for, so the text is plain PromQL."""
    return (expr.replace("$__rate_interval", "5m").replace("$__interval", "1m")
            .replace('"$instance"', '".*"').replace("${instance}", ".*"))


def promql_metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads (functions, keywords, labels and durations left out)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for found in re.finditer(r"(?<![\w.$])[A-Za-z_:][A-Za-z0-9_:]*", text):
        if found.group() in _KEYWORDS or text[found.end():].lstrip().startswith("("):
            continue
        names.add(found.group())
    return names


def promql_selectors(expr: str) -> list[tuple[str, list[tuple[str, str, str]]]]:
    """(metric, [(label, operator, value)]) for every `metric{...}` selector."""
    found = []
    for selector in re.finditer(r"([A-Za-z_:][A-Za-z0-9_:]*)\s*\{([^}]*)\}", expr):
        matchers = re.findall(r'(\w+)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"', selector.group(2))
        found.append((selector.group(1), matchers))
    return found


def dashboard_expressions() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = []

    def walk(panels: list[dict[str, Any]]) -> None:
        for panel in panels:
            exprs.extend(grafana_to_promql(t["expr"]) for t in panel.get("targets", []) if t.get("expr"))
            walk(panel.get("panels", []))

    walk(dashboard["panels"])
    for variable in dashboard.get("templating", {}).get("list", []):
        query = variable.get("query")
        query = query.get("query") if isinstance(query, dict) else query
        values = re.fullmatch(r"label_values\(\s*([^,]+),\s*\w+\s*\)", str(query or ""))
        if values:
            exprs.append(values.group(1))
    return exprs


def alert_rules() -> list[dict[str, Any]]:
    return [rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]]


def test_promql_name_extraction() -> None:
    """The extraction the metrics test relies on, on the kinds of expression the files use."""
    assert promql_metric_names(
        'histogram_quantile(0.99, sum by (le) (rate(bonus_x_bucket{route="/v1/receipts"}[5m]))) > 0.05'
        ' and sum(rate(bonus_x_count[5m])) > 0.5') == {"bonus_x_bucket", "bonus_x_count"}
    assert promql_metric_names('time() - max(bonus_t) > 26 * 3600 or absent(bonus_t)') == {"bonus_t"}
    assert promql_metric_names('changes(up{job="a"}[15m]) >= 4 unless on (instance) bonus_y offset 5m') == \
        {"up", "bonus_y"}


def exported(text: str) -> dict[str, dict[str, set[str]]]:
    """metric sample name -> label name -> values seen, from a Prometheus text exposition."""
    found: dict[str, dict[str, set[str]]] = {}
    for row in text.splitlines():
        sample = _SAMPLE.match(row)
        if sample is None:
            continue
        labels = found.setdefault(sample.group(1), {})
        for name, value in _LABEL.findall(sample.group(2) or ""):
            labels.setdefault(name, set()).add(value)
    return found


def exercise(service: Service) -> None:
    """Requests that make every labelled series exist: a confirm with a coupon, its replay, a refund and its
    replay, account reads (cache misses and hits), a problem answer, a report, readiness."""
    client = service.client()
    number = card()
    body = receipt([line("1", 600000, "2", sku="BOOT-123", category="shoes/winter"), line("2", 50000, category="care")],
                   number, coupons=["WINTER10"])
    assert client.post("/v1/receipts", json=body).status_code == 201
    assert client.post("/v1/receipts", json=body).headers.get("idempotent-replayed") == "true"
    refund = {"refund_id": unique("ret-"), "lines": [{"line_id": "1", "quantity": "1"}]}
    assert client.post(f"/v1/receipts/{body['receipt_id']}/refunds", json=refund).status_code == 201
    assert client.post(f"/v1/receipts/{body['receipt_id']}/refunds", json=refund).status_code == 200
    for _ in range(2):
        assert client.get(f"/v1/accounts/{number}").status_code == 200
    assert client.get(f"/v1/accounts/{card()}").status_code == 404
    assert client.get("/v1/reports/program").status_code == 200  # a report rolls up the newest rows first
    assert httpx.get(f"{service.url}/readyz").status_code == 200


def test_errors_by_code_are_counted(service: Service) -> None:
    before = httpx.get(f"{service.url}/metrics").text
    answer = service.client().get(f"/v1/accounts/{card()}")
    assert answer.status_code == 404 and answer.json()["code"] == "account_not_found"
    after = httpx.get(f"{service.url}/metrics").text
    assert metric(after, "bonus_http_errors_total", code="account_not_found") == \
        metric(before, "bonus_http_errors_total", code="account_not_found") + 1


def test_audit_writes_its_metrics_file(service: Service, tmp_path: Path) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    path = tmp_path / "bonus_audit.prom"
    started = time.time()
    run = service.cli("audit", "--metrics-file", str(path))
    assert run.returncode == 0, run.stdout + run.stderr
    families = {f.name: f for f in text_string_to_metric_families(path.read_text())}
    assert families["bonus_audit_problems"].type == "gauge"
    assert families["bonus_audit_problems"].samples[0].value == 0
    stamp = families["bonus_audit_last_run_timestamp_seconds"].samples[0].value
    assert started - 1 <= stamp <= time.time() + 1
    assert [p.name for p in tmp_path.iterdir()] == ["bonus_audit.prom"], "no temporary file left behind"


def test_every_metric_of_the_dashboard_and_the_alerts_is_exported(service: Service, tmp_path: Path) -> None:
    exercise(service)
    series = exported(httpx.get(f"{service.url}/metrics").text)
    audit_file = tmp_path / "audit.prom"
    assert service.cli("audit", "--metrics-file", str(audit_file)).returncode == 0
    audit_series = exported(audit_file.read_text())
    assert set(audit_series) == AUDIT_METRICS

    dashboard = dashboard_expressions()
    rules = alert_rules()
    sources = {"dashboard": dashboard, "alerts": [rule["expr"] for rule in rules]}
    used: set[str] = set()
    for where, exprs in sources.items():
        for expr in exprs:
            names = promql_metric_names(expr)
            assert names, f"{where}: no metric in {expr!r}"
            used |= names
            for name in names:
                assert name in series or name in AUDIT_METRICS or name in PROMETHEUS_SERIES, \
                    f"{where} uses {name}, which nothing exports: {expr!r}"
            for name, matchers in promql_selectors(expr):
                if name in PROMETHEUS_SERIES:
                    continue
                labels = (series.get(name) or audit_series.get(name) or {})
                for label, operator, value in matchers:
                    assert label in labels or label in TARGET_LABELS, f"{where}: {name} has no label {label}"
                    # label values the service must have produced by now (not codes or statuses of failures)
                    if operator == "=" and label in ("route", "method", "operation", "kind", "result"):
                        assert value in labels[label], f"{where}: {name}{{{label}={value!r}}} is never exported"
    # the dashboard covers what the issue asks for
    for wanted in ("bonus_http_requests_total", "bonus_http_request_duration_seconds_bucket", "bonus_receipts_total",
                   "bonus_points_total", "bonus_discount_minor_total", "bonus_cache_requests_total",
                   "bonus_db_pool_in_use", "bonus_db_pool_max", "bonus_idempotent_replays_total",
                   "bonus_http_errors_total"):
        assert any(wanted in promql_metric_names(e) for e in dashboard), f"the dashboard does not show {wanted}"
    assert any("histogram_quantile" in e and 'route="/v1/receipts"' in e for e in dashboard), "confirm percentiles"
    assert any("sum by (code)" in e and "bonus_http_errors_total" in e for e in dashboard), "errors by code"


def test_alert_rules_cover_the_failures_ops_asked_for() -> None:
    rules = {rule["alert"]: rule for rule in alert_rules()}
    for name in ("BonusHighErrorRatio", "BonusConfirmLatencyHigh", "BonusDbPoolSaturated", "BonusRedisDegraded",
                 "BonusReadinessFlapping", "BonusAuditFailed", "BonusAuditNotRunning"):
        assert name in rules, name
    for name, rule in rules.items():
        assert rule["labels"]["severity"] in ("page", "ticket"), name
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], name
    latency = rules["BonusConfirmLatencyHigh"]["expr"]
    assert "histogram_quantile(0.99" in latency and "> 0.05" in latency and 'route="/v1/receipts"' in latency
    assert 'route="/readyz"' in rules["BonusReadinessFlapping"]["expr"]


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed (.ci/run installs it)")
def test_promtool_checks_rules_config_alert_tests_and_dashboard_queries(tmp_path: Path) -> None:
    def promtool(*args: str, cwd: Path = ROOT) -> None:
        run = subprocess.run(["promtool", *args], capture_output=True, text=True, cwd=cwd, timeout=120)
        assert run.returncode == 0, run.stdout + run.stderr

    promtool("check", "rules", str(ALERTS))
    promtool("check", "config", str(PROMETHEUS))
    promtool("test", "rules", "alerts_test.yml", cwd=ALERTS.parent)
    # every dashboard query parses as PromQL: as recording rules, promtool checks them all at once
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:query_{i}", "expr": expr} for i, expr in enumerate(dashboard_expressions())]}]}
    path = tmp_path / "dashboard_queries.yml"
    path.write_text(yaml.safe_dump(rules))
    promtool("check", "rules", str(path))
