#!/usr/bin/env bash
# Creates the Debian base image the flowlb images build FROM, when no registry can be reached.
#
# Usage: docker/make-base-image.sh [IMAGE]   (default: debian:bookworm-slim)
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
echo "building base image $image from $mirror (minbase bookworm)"
mmdebstrap --quiet --variant=minbase bookworm - "$mirror" | docker import - "$image"
docker image inspect "$image" --format 'base image {{.RepoTags}} {{.Size}} bytes'
