#!/usr/bin/env bash
# Peak memory of fitpack on one large payload: the streaming writer must stay
# bounded (at most 64 MiB peak RSS) whatever the payload size.
#
#   bash bench/rss.sh [SIZE_MIB]      # default 2048 (2 GiB)
#
# The payload half of bench/run's scale series at one size: a kernel-like
# payload of SIZE_MIB MiB (bench/gen: the workload's Image repeated) and one
# DTB, packed embedded (below 2 GiB) and -E with none, zstd and gzip, under
# /usr/bin/time -v. Prints the table; results in build/bench/results/.
# Needs about 2 x SIZE_MIB of free disk in build/bench.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
size_mib=${1:-2048}
exec bash bench/run --scale-only --scale-dtbs "" --scale-payloads "${size_mib}M" \
  --scale-codecs "$(echo "${FITSTREAM_BENCH_CODECS:-none zstd gzip}" | tr " " ",")" --scale-layouts embedded,external "${@:2}"
