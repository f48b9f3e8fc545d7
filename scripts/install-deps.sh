#!/usr/bin/env bash
# Installs everything fitstream needs to build, test and run its demo, from
# Debian 12's packages. Safe to run again: with everything present it does not
# touch apt at all. Set FITSTREAM_SKIP_APT=1 to skip it entirely.
#
#   bash scripts/install-deps.sh
set -euo pipefail

# One package a line; add new ones here.
PACKAGES=(
  # toolchain
  g++
  make
  cmake
  python3
  # libraries the headers use
  libfdt-dev
  zlib1g-dev
  libdeflate-dev
  libzstd-dev
  liblz4-dev
  liblzma-dev
  libbz2-dev
  liblzo2-dev
  libssl-dev
  libboost-dev
  libboost-iostreams-dev
  # tests and the fitpack example
  libboost-test-dev
  libcli11-dev
  nlohmann-json3-dev
  # U-Boot and device tree tools the tests and the demo drive
  u-boot-tools
  device-tree-compiler
  # key generation for the signing tests (openssl genpkey)
  openssl
  # reference (de)compressors the codec tests check our output against
  gzip
  bzip2
  xz-utils
  lzop
  lz4
  zstd
  # real U-Boot under qemu, and the cross compiler for its test payload
  qemu-system-arm
  u-boot-qemu
  gcc-aarch64-linux-gnu
  binutils-aarch64-linux-gnu
  # the peer fitpack must match: Linux 6.12's scripts/make_fit.py and what it runs
  linux-source-6.12
  python3-libfdt
  pigz
)

if [[ "${FITSTREAM_SKIP_APT:-0}" == "1" ]]; then
  echo "install-deps: FITSTREAM_SKIP_APT=1, not touching apt"
  exit 0
fi

missing=()
for package in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null || true)
  if [[ "$status" != "installed" ]]; then
    missing+=("$package")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#PACKAGES[@]} packages already installed"
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
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${PACKAGES[@]}"
