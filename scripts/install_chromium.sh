#!/usr/bin/env bash
# Install Debian's chromium for the viewer's browser tests (tests/viewer): they render the run
# view and the `steward ui` pages in headless chromium and skip, saying so, when it is missing.
# Needs apt-get and root (or sudo). Run it again any time: it does nothing when chromium is there.
# STEWARD_CHROMIUM names another browser binary for the tests; then nothing is installed.
set -euo pipefail

if [ -n "${STEWARD_CHROMIUM:-}" ]; then
  if [ -x "$STEWARD_CHROMIUM" ]; then
    echo "install_chromium: using STEWARD_CHROMIUM=$STEWARD_CHROMIUM"
    exit 0
  fi
  echo "install_chromium: STEWARD_CHROMIUM=$STEWARD_CHROMIUM is not an executable" >&2
  exit 1
fi

for name in chromium chromium-browser; do
  if command -v "$name" >/dev/null 2>&1; then
    echo "install_chromium: $("$name" --version 2>/dev/null || echo "$name") is installed"
    exit 0
  fi
done

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install_chromium: apt-get is not available; install chromium by hand, or set" \
    "STEWARD_CHROMIUM=/path/to/chromium" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "install_chromium: installing chromium needs root (or sudo)" >&2
    exit 1
  fi
  SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
command -v chromium >/dev/null 2>&1 || { echo "install_chromium: chromium is missing after apt-get install" >&2; exit 1; }
echo "install_chromium: $(chromium --version 2>/dev/null) installed"
