#!/usr/bin/env bash
# Peak memory of fitpack.
#
#   bash bench/rss.sh [SIZE_MIB]      # default 2048 (2 GiB)
#
# The payload half of bench/run's scale series at one size: a kernel-like
# payload of SIZE_MIB MiB (bench/gen: the workload's Image repeated) and one
# DTB, packed embedded (below 2 GiB) and -E with none, zstd and gzip, under
# /usr/bin/time -v. Prints the table; results in build/bench/results/.
# Needs about 2 x SIZE_MIB of free disk in build/bench.
#
#   bash bench/rss.sh --budgets [FITPACK] [WORKLOAD_DIR]
#
# --memory-budget against peak RSS: the bench workload (the 40 MiB Image and
# its 1500 DTBs; default build/bench/workload, made by bench/gen) packed with
# -c lzma at --memory-budget 16M, 64M and 256M, and with every other codec
# at the default budget, -j 2, under /usr/bin/time -v. Prints wall seconds,
# peak RSS and the output's sha256 (the same for every budget). FITPACK
# defaults to build/release/examples/fitpack; FITSTREAM_BENCH_JOBS (2) and
# FITSTREAM_BENCH_RUNS (1: the best of N) tune it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ ${1:-} != --budgets ]]; then
  size_mib=${1:-2048}
  exec bash bench/run --scale-only --scale-dtbs "" --scale-payloads "${size_mib}M" \
    --scale-codecs "$(echo "${FITSTREAM_BENCH_CODECS:-none zstd gzip}" | tr " " ",")" --scale-layouts embedded,external "${@:2}"
fi

fitpack=${2:-build/release/examples/fitpack}
workload=${3:-build/bench/workload}
jobs=${FITSTREAM_BENCH_JOBS:-2}
runs=${FITSTREAM_BENCH_RUNS:-1}
[[ -x $fitpack ]] || { echo "rss.sh: no fitpack at $fitpack" >&2; exit 1; }
[[ -f $workload/Image && -f $workload/dtbs.list ]] || { echo "rss.sh: no workload in $workload (bash bench/gen)" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
mapfile -t dtbs < "$workload/dtbs.list"

# One run: "seconds peak_MiB sha256-prefix" (the best time and RSS of $runs).
measure() {
  local codec=$1 budget=$2 best_s="" best_kb="" s kb
  local -a extra=()
  [[ $budget != default ]] && extra=(--memory-budget "$budget")
  for ((r = 0; r < runs; r++)); do
    /usr/bin/time -v -o "$out/time" "$fitpack" -j "$jobs" "${extra[@]}" -A arm64 -O linux -n Linux-bench \
      -c "$codec" -o "$out/fit" -k "$workload/Image" "${dtbs[@]}" >/dev/null
    s=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, t, ":"); v = 0; for (i = 1; i <= n; i++) v = v * 60 + t[i]; print v }' "$out/time")
    kb=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$out/time")
    if [[ -z $best_s ]] || awk "BEGIN { exit !($s < $best_s) }"; then best_s=$s; fi
    if [[ -z $best_kb ]] || ((kb < best_kb)); then best_kb=$kb; fi
  done
  printf '%s %.1f %s\n' "$best_s" "$(awk "BEGIN { print $best_kb / 1024 }")" "$(sha256sum "$out/fit" | cut -c1-16)"
}

echo "fitpack $($fitpack --version 2>/dev/null | head -1), -j $jobs, $(nproc) cores, best of $runs, $(date -u '+%F %H:%M UTC'), load $(cut -d' ' -f1 /proc/loadavg)"
echo "workload: $(basename "$workload")/Image ($(($(stat -c %s "$workload/Image") >> 20)) MiB) + ${#dtbs[@]} DTBs"
echo
echo "| codec | --memory-budget | wall s | peak RSS MiB | output sha256 |"
echo "|---|---|---|---|---|"
for budget in 16M 64M 256M; do
  read -r s mib sum < <(measure lzma "$budget")
  echo "| lzma | $budget | $s | $mib | $sum |"
done
for codec in ${FITSTREAM_BENCH_CODECS:-none gzip zstd lz4}; do
  read -r s mib sum < <(measure "$codec" default)
  echo "| $codec | default (16M) | $s | $mib | $sum |"
done
