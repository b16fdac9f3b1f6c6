#!/usr/bin/env bash
# Install the Debian packages the test suite needs when they are missing: Chromium and fonts
# for the browser tests, nginx for the caching-proxy test, procps for the fault drills.
# `make test` and `.ci/run` both call this, so a newcomer and CI take one path.
# apt-get as root, sudo otherwise; with neither, stop at once with the exact command to run.
set -euo pipefail
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -d /usr/share/fonts/truetype/dejavu ] || need+=(fonts-dejavu-core)
[ -d /usr/share/fonts/truetype/liberation ] || need+=(fonts-liberation)
[ -x /usr/sbin/nginx ] || need+=(nginx-light)
command -v pgrep >/dev/null 2>&1 || need+=(procps)
[ ${#need[@]} -eq 0 ] && exit 0
cmd="apt-get update -q && apt-get install -y -q --no-install-recommends ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
if [ "$(id -u)" -eq 0 ]; then
  sh -c "$cmd"
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo DEBIAN_FRONTEND=noninteractive sh -c "$cmd"
else
  echo "The tests need these Debian packages: ${need[*]}" >&2
  echo "Install them, then run make test again:" >&2
  echo "    sudo sh -c '$cmd'" >&2
  exit 1
fi
