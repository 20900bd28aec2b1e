#!/usr/bin/env bash
# Everything a fresh Debian 12 machine lacks to run flowlb; idempotent, quick when nothing is missing.
#   - Debian packages: haproxy (local target), wrk (benchmarks), nginx-light + libnginx-mod-stream (nginx as a
#     second LB make, STOMP through its stream module) and nginx-light + rabbitmq-server (nodes and a
#     STOMP broker flowlb did not build, for the external-target proof and the benchmarks; their machine-wide
#     services are not started), docker.io + mmdebstrap (containers target)
#   - a Docker engine started in the background when none answers
#   - the Debian base image, made locally (no registry is reachable)
#   - .venv with flowlb and its dependencies, at the versions pinned in requirements/constraints.txt
# Set FLOWLB_NO_DOCKER=1 to skip the Docker parts (local target only).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "setup: $*"; }
die() { echo "setup: $*" >&2; exit 1; }

packages=(haproxy wrk python3-venv rabbitmq-server nginx-light libnginx-mod-stream)
[ "${FLOWLB_NO_DOCKER:-}" = 1 ] || packages+=(docker.io mmdebstrap)
missing=()
for package in "${packages[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || die "missing Debian packages ${missing[*]}: run as root or apt-get install them"
  say "installing ${missing[*]}"
  apt-get update -qq
  # keep package scripts from starting machine-wide services (rabbitmq-server): flowlb starts its own
  policy=/usr/sbin/policy-rc.d
  made_policy=
  if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && made_policy=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  [ -z "$made_policy" ] || rm -f "$policy"
fi

if [ "${FLOWLB_NO_DOCKER:-}" != 1 ]; then
  if ! docker info >/dev/null 2>&1; then
    command -v dockerd >/dev/null || die "no dockerd after installing docker.io"
    say "starting dockerd in the background (log: /var/log/flowlb-dockerd.log)"
    nohup dockerd >/var/log/flowlb-dockerd.log 2>&1 &
    for _ in $(seq 1 120); do
      docker info >/dev/null 2>&1 && break
      sleep 0.5
    done
    docker info >/dev/null 2>&1 || die "dockerd did not answer within 60 s: $(tail -n 1 /var/log/flowlb-dockerd.log)"
  fi
  bash docker/make-base-image.sh
fi

stamp=.venv/.flowlb-installed
# a changed pyproject.toml or a refreshed lock (requirements/README.md) reinstalls
want=$(cat pyproject.toml requirements/constraints.txt | sha256sum | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  say "installing flowlb into .venv"
  python3 -m venv .venv
  .venv/bin/pip install -q --upgrade pip >/dev/null
  .venv/bin/pip install -q -c requirements/constraints.txt -e '.[dev]' 2>&1 | grep -v "^WARNING: Location" || true
  .venv/bin/python -c "import flowlb.cli, stomp, locust, testcontainers" || die "the Python install failed"
  echo "$want" > "$stamp"
fi
say "ready"
