#!/usr/bin/env bash
# Creates the Debian base image the flowlb images build FROM, when no registry can be reached.
#
# Usage: docker/make-base-image.sh [IMAGE]   (default: debian:bookworm-slim; debian:SUITE-slim for
#        bookworm, trixie or sid: the HAProxy 2.6, 3.0 and 3.2 that Debian ships)
# Does nothing when the image already exists. Needs root, mmdebstrap and a running Docker engine;
# Debian's package mirror is the only network it uses.
set -euo pipefail
image="${1:-${FLOWLB_BASE_IMAGE:-debian:bookworm-slim}}"
mirror="${FLOWLB_DEBIAN_MIRROR:-http://deb.debian.org/debian}"

if docker image inspect "$image" >/dev/null 2>&1; then
  echo "base image $image already present"
  exit 0
fi
if ! command -v mmdebstrap >/dev/null 2>&1; then
  echo "make-base-image: mmdebstrap is missing: apt-get install -y mmdebstrap" >&2
  exit 2
fi
suite="${image#*:}"
suite="${suite%-slim}"
case "$suite" in bookworm|trixie|sid) ;; *) suite=bookworm ;; esac
options=()
# sid's Release file on the mirror is expired (docs/findings.md): accept it for a test image
[ "$suite" != sid ] || options+=(--aptopt='Acquire::Check-Valid-Until "false"')
echo "building base image $image from $mirror (minbase $suite)"
mmdebstrap --quiet --variant=minbase "${options[@]}" "$suite" - "$mirror" | docker import - "$image"
docker image inspect "$image" --format 'base image {{.RepoTags}} {{.Size}} bytes'
