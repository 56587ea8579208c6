"""The rule engine is pure: importing it pulls in no web framework, database or cache client."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import rules

FORBIDDEN = ("app", "fastapi", "sqlalchemy", "asyncpg", "redis", "starlette", "uvicorn", "alembic", "httpx")
ROOT = Path(rules.__file__).resolve().parent.parent


def test_importing_rules_loads_no_service_modules() -> None:
    code = "import json, sys\nimport rules\nprint(json.dumps(sorted({name.split('.')[0] for name in sys.modules})))\n"
    completed = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "", "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    loaded = set(json.loads(completed.stdout))
    assert "rules" in loaded
    assert not loaded & set(FORBIDDEN), sorted(loaded & set(FORBIDDEN))


def test_all_names_exist() -> None:
    assert len(rules.__all__) == len(set(rules.__all__))
    missing = [name for name in rules.__all__ if not hasattr(rules, name)]
    assert missing == []


def test_submodule_all_names_exist() -> None:
    import importlib
    import pkgutil

    for info in pkgutil.walk_packages(rules.__path__, "rules."):
        module = importlib.import_module(info.name)
        for name in getattr(module, "__all__", []):
            assert hasattr(module, name), f"{info.name}.__all__ names missing {name}"
