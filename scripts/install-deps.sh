#!/usr/bin/env bash
# Installs what fitstream needs from Debian 12's packages, in one of two sets:
#
#   bash scripts/install-deps.sh build   # build fitpack and run the demo (scripts/demo.sh)
#   bash scripts/install-deps.sh test    # that, and everything the test suite drives
#                                        # (QEMU, a cross compiler, the Linux source, ...)
#
# The lists are scripts/packages/build.txt and scripts/packages/test.txt, one
# package a line. Safe to run again: with everything present it does not touch
# apt at all. Set FITSTREAM_SKIP_APT=1 to skip it entirely.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

set_name=${1:-}
case $set_name in
  build) lists=("$here/packages/build.txt") ;;
  test)  lists=("$here/packages/build.txt" "$here/packages/test.txt") ;;
  *) echo "usage: install-deps.sh build|test" >&2; exit 2 ;;
esac

if [[ "${FITSTREAM_SKIP_APT:-0}" == "1" ]]; then
  echo "install-deps: FITSTREAM_SKIP_APT=1, not touching apt"
  exit 0
fi

packages=()
for list in "${lists[@]}"; do
  while IFS= read -r line; do
    line=${line%%#*}
    line=${line//[[:space:]]/}
    [[ -n "$line" ]] && packages+=("$line")
  done <"$list"
done

missing=()
for package in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null || true)
  if [[ "$status" != "installed" ]]; then
    missing+=("$package")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#packages[@]} packages of the '$set_name' set already installed"
  exit 0
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo=(sudo)
  else
    echo "install-deps: missing ${missing[*]}, and not root (no sudo either)" >&2
    exit 1
  fi
fi

echo "install-deps: installing ${missing[*]}"
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${packages[@]}"
