#!/usr/bin/env bash
# The test command (README.md): installs what the tests need on a fresh Debian
# machine, then runs the whole suite. Extra arguments go to `cargo test`.
#
# The browser tests (tests/browser.rs) drive Debian's Chromium through chromedriver
# and fail, never skip, without them; the Chinese pages need a CJK font for their
# screenshots. The format-script test runs the auditor's Python verifier.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(python3 chromium chromium-driver fonts-wqy-microhei)
missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "scripts/test.sh: the tests need ${missing[*]} (Debian package names); install them, then run: cargo test --workspace --locked" >&2
    exit 1
  fi
  sudo=()
  if [ "$(id -u)" != 0 ]; then
    sudo=(sudo)
  fi
  echo "scripts/test.sh: installing ${missing[*]}"
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}"
fi

exec cargo test --workspace --locked "$@"
