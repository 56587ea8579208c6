#!/usr/bin/env bash
# The image, built and run on this machine (docs/image.md): `make image-test`, and `.ci/run` after the suites.
#
#  1. Debian's docker.io (dockerd 20.10, whose /usr/bin/docker has BuildKit without buildx) and debootstrap,
#     installed when missing; a private dockerd (overlay2, else vfs; no iptables, no bridge) with its own
#     socket and data under a temporary directory, stopped and removed on exit, whatever happens.
#  2. The base image: `debootstrap --variant=minbase` bookworm with Python 3.11 and pip, put in /usr/local
#     as in the official python:3.11-slim (so the Dockerfile can uninstall it), the machine's
#     CA bundle and PIP_CERT (this network inspects TLS). Its tarball is cached in $BONUS_IMAGE_CACHE
#     (/var/cache/bonus-engine-image, else ~/.cache/bonus-engine-image), keyed by a hash of what makes it.
#  3. `docker build --build-arg PYTHON_IMAGE=<that base>`; then what is in the image: no pip, setuptools,
#     wheel, compiler, sources, tests or embedded servers; user 10001.
#  4. deploy/image_serve_test.py: migrate a fresh database on this machine's PostgreSQL, serve (/readyz
#     ready, the health check healthy), a receipt confirmed through the container, `docker stop` during a
#     stream of confirms (checked with the storm's sequential replay), the image size.
#
# Environment: DATABASE_URL (an admin URL, default postgresql://postgres@127.0.0.1:5432/postgres; the test
# makes and drops its own database), REDIS_URL (default redis://127.0.0.1:6379/0), BONUS_IMAGE_CACHE,
# DEBIAN_MIRROR (default http://deb.debian.org/debian), PYTHON (default .venv/bin/python).
# Needs root (dockerd, debootstrap) and port 8000 free: the container runs on the host's network.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
STARTED=$SECONDS
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
export PATH=$PATH:/usr/sbin:/sbin  # dockerd, debootstrap, chroot
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
export DATABASE_URL=${DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/postgres}
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}

say() { printf '== image: %s (%ds)\n' "$*" $((SECONDS - STARTED)); }
fail() { echo "image test FAILED: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || fail "needs root (dockerd and debootstrap)"
[ -x "$PYTHON" ] || fail "no $PYTHON: run \`make venv\` first"

# --- 1. docker.io, debootstrap, a private dockerd ----------------------------------------------------------
missing=()
{ command -v dockerd >/dev/null && [ -x /usr/bin/docker ]; } || missing+=(docker.io)
command -v debootstrap >/dev/null || missing+=(debootstrap)
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if (exec 3<>/dev/tcp/127.0.0.1/8000) 2>/dev/null; then
  fail "port 8000 is taken: the container serves on the host's network, port 8000 (its health check's port)"
fi

WORK=$(mktemp -d /tmp/bonus-image.XXXXXX)
export DOCKER_HOST=unix://$WORK/docker.sock
DOCKERD_PID=
cleanup() {
  local status=$?
  set +e
  if [ -n "$DOCKERD_PID" ]; then
    containers=$(/usr/bin/docker ps -aq 2>/dev/null)
    [ -z "$containers" ] || /usr/bin/docker rm -f $containers >/dev/null 2>&1
    kill -TERM "$DOCKERD_PID" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$DOCKERD_PID" 2>/dev/null
    wait "$DOCKERD_PID" 2>/dev/null
    # a dockerd killed leaves its containerd and shims: they run with paths under $WORK in their command lines
    for pid in $(pgrep -f -- "$WORK/"); do kill -KILL "$pid"; done
  fi
  # netns and overlay leftovers are mounts: unmount what is under the work directory before removing it
  grep -o " $WORK/[^ ]*" /proc/mounts | sort -r | while read -r mount; do umount -l "$mount"; done
  rm -rf "$WORK"
  if [ $status -eq 0 ]; then
    echo "image test passed in $((SECONDS - STARTED)) s (dockerd stopped, $WORK removed)"
  else
    echo "image test FAILED after $((SECONDS - STARTED)) s (dockerd stopped, $WORK removed)" >&2
  fi
  exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo '{}' >"$WORK/daemon.json"  # nothing from /etc/docker/daemon.json
# overlay2 where the file system under $WORK can carry it (a container starts in a tenth of a second); vfs
# otherwise (/tmp itself on overlayfs, as in a container): a full copy of the image for every container
mkdir -p "$WORK/probe/lower" "$WORK/probe/upper" "$WORK/probe/work" "$WORK/probe/merged"
STORAGE=vfs
if mount -t overlay overlay -o "lowerdir=$WORK/probe/lower,upperdir=$WORK/probe/upper,workdir=$WORK/probe/work" \
    "$WORK/probe/merged" 2>/dev/null; then
  umount "$WORK/probe/merged"
  STORAGE=overlay2
fi
rm -rf "$WORK/probe"
dockerd --config-file "$WORK/daemon.json" --storage-driver "$STORAGE" --iptables=false --ip-masq=false \
  --bridge=none --data-root "$WORK/data" --exec-root "$WORK/exec" --pidfile "$WORK/dockerd.pid" \
  --host "$DOCKER_HOST" >"$WORK/dockerd.log" 2>&1 </dev/null &
DOCKERD_PID=$!
docker() { /usr/bin/docker "$@"; }  # Debian's client (BuildKit built in), not /usr/local/bin/docker
for _ in $(seq 150); do docker version >/dev/null 2>&1 && break; sleep 0.2; done
docker version >/dev/null 2>&1 || { tail -20 "$WORK/dockerd.log" >&2; fail "dockerd did not start"; }
say "private dockerd $(docker version -f '{{.Server.Version}}') ($STORAGE) on $DOCKER_HOST"

# --- 2. the base image ---------------------------------------------------------------------------------------
PACKAGES=python3,python-is-python3,python3-pip-whl,passwd
make_base() {  # $1: the root file system to make
  debootstrap --variant=minbase --include="$PACKAGES" bookworm "$1" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
    || { tail -20 "$WORK/debootstrap.log" >&2; fail "debootstrap"; }
  # pip from Debian's own wheel into /usr/local, where the official image has it and pip can uninstall it
  # (Debian's python3-pip, in /usr/lib/python3/dist-packages, refuses to); the build makes its wheel with a
  # setuptools of its own (pyproject.toml's build-system), so the base needs none
  rm -f "$1"/usr/lib/python3.11/EXTERNALLY-MANAGED
  chroot "$1" sh -c 'cd /usr/share/python-wheels && set -- pip-*.whl \
    && python3 "$1/pip" install -q --no-index --root-user-action=ignore "$1"'
  chroot "$1" dpkg --purge python3-pip-whl >/dev/null
  chroot "$1" apt-get clean
  rm -rf "$1"/var/lib/apt/lists/* "$1"/usr/share/doc/* "$1"/usr/share/man/* "$1"/usr/share/locale/*
  cp "$CA_BUNDLE" "$1"/etc/ssl/certs/ca-certificates.crt
}
# the key: the recipe, the mirror, the CA bundle, and the month (a base never refreshed misses Debian's fixes)
KEY=$( { declare -f make_base; echo "$PACKAGES $MIRROR $(date +%Y-%m)"; cat "$CA_BUNDLE"; } | sha256sum | cut -c1-16)
CACHE=${BONUS_IMAGE_CACHE:-}
if [ -z "$CACHE" ]; then
  CACHE=/var/cache/bonus-engine-image
  mkdir -p "$CACHE" 2>/dev/null && [ -w "$CACHE" ] || CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/bonus-engine-image
fi
mkdir -p "$CACHE"
TARBALL=$CACHE/python-base-$KEY.tar
if [ -s "$TARBALL" ]; then
  say "base image from the cache: $TARBALL"
else
  say "making the base image (debootstrap bookworm minbase, $PACKAGES)"
  make_base "$WORK/rootfs"
  tar -C "$WORK/rootfs" --numeric-owner -cf "$TARBALL.partial" .
  rm -rf "$WORK/rootfs"
  find "$CACHE" -maxdepth 1 -name 'python-base-*.tar' ! -name "python-base-$KEY.tar" -delete  # older keys
  mv "$TARBALL.partial" "$TARBALL"
fi
BASE=bonus-engine-python-base:$KEY
docker import --change "ENV LANG=C.UTF-8 PIP_CERT=/etc/ssl/certs/ca-certificates.crt" --change 'CMD ["python3"]' \
  "$TARBALL" "$BASE" >/dev/null
check='import pip, sys; assert sys.version_info[:2] == (3, 11); print(sys.version)'
python=$(docker run --rm "$BASE" python -c "$check") || fail "the base image has no Python 3.11 with pip"
say "base image $BASE (Python ${python%% *}, pip in /usr/local)"

# --- 3. the build, and what is in the image ------------------------------------------------------------------
IMAGE=bonus-engine:image-test
DOCKER_BUILDKIT=1 docker build --network host --progress plain --build-arg PYTHON_IMAGE="$BASE" -t "$IMAGE" . \
  >"$WORK/build.log" 2>&1 || { tail -40 "$WORK/build.log" >&2; fail "docker build"; }
grep -q "docker/dockerfile" "$WORK/build.log" && fail "the build fetched a Dockerfile frontend image"
say "built $IMAGE"

user=$(docker image inspect -f '{{.Config.User}}' "$IMAGE")
[ "$user" = 10001:10001 ] || fail "the image runs as '$user', not 10001:10001"
[ "$(docker run --rm --entrypoint id "$IMAGE" -u)" = 10001 ] || fail "the container does not run as uid 10001"
docker run --rm -i --entrypoint python "$IMAGE" - <deploy/image_contents.py || fail "what is in the image"
# and the check is not blind: the base image, with its pip and as root, fails it
if docker run --rm -i "$BASE" python - <deploy/image_contents.py 2>/dev/null; then
  fail "deploy/image_contents.py passes the base image, pip and all"
fi
say "in the image: no pip, setuptools, wheel, compiler, sources, tests or embedded servers; uid 10001"

# --- 4. the image run: migrate, serve, confirm, stop under load ------------------------------------------------
PYTHONPATH=$ROOT "$PYTHON" deploy/image_serve_test.py --image "$IMAGE" || fail "the image run"

size=$(docker image inspect -f '{{.Size}}' "$IMAGE")
base_size=$(docker image inspect -f '{{.Size}}' "$BASE")
say "image size $((size / 1000000)) MB: the base $((base_size / 1000000)) MB (here debootstrap's bookworm with" \
  "python3), the service's own layers $(((size - base_size) / 1000000)) MB; the largest packages in /opt/venv (MB):"
docker run --rm --entrypoint sh "$IMAGE" -c 'cd /opt/venv/lib/python3.11/site-packages && du -sm -- * | sort -rn \
  | head -8' | awk '{ printf "  %s %s\n", $1, $2 }'
say "every check passed; stopping dockerd"
