#!/usr/bin/env bash
# Peak memory of fitpack on a large payload: the streaming writer must stay
# bounded (< 64 MiB peak RSS) whatever the payload size.
#
#   bash bench/rss.sh [SIZE_MIB]      # default 2048 (2 GiB)
#
# Builds fitpack (Release) in build/release, makes a kernel-like payload of
# SIZE_MIB MiB in build/bench (64 MiB of scripts/make-payload.py output,
# repeated), and runs `fitpack -E` on it with each codec under
# /usr/bin/time -v. Prints a table: codec, layout, input, output, wall time,
# peak RSS. Needs about 2 x SIZE_MIB of free disk in build/bench.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

size_mib=${1:-2048}
codecs=${FITSTREAM_BENCH_CODECS:-"none zstd gzip"}

bash scripts/install-deps.sh
# GNU time reports peak RSS; it is not part of the build dependencies.
command -v /usr/bin/time >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }

cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DFITSTREAM_BUILD_TESTS=OFF >/dev/null
cmake --build build/release --target fitpack --parallel "$(nproc)" >/dev/null
fitpack=build/release/examples/fitpack

work=build/bench
mkdir -p "$work"
dtc -q -I dts -O dtb -o "$work/board.dtb" examples/data/vendor-board-a.dts
payload="$work/payload-${size_mib}M"
if [[ ! -f "$payload" ]]; then
  python3 scripts/make-payload.py -o "$work/block" --size 64M
  : >"$payload"
  for ((i = 0; i < (size_mib + 63) / 64; i++)); do cat "$work/block" >>"$payload"; done
  truncate -s "${size_mib}M" "$payload"
fi

printf '%-6s %-9s %12s %12s %9s %14s\n' codec layout input_bytes output_bytes wall_s peak_rss_MiB
for codec in $codecs; do
  for layout in embedded external; do
    # Embedded FITs are limited to 2 GiB - 1 by libfdt's int offsets.
    if [[ $layout == embedded && $codec == none && $size_mib -ge 2048 ]]; then continue; fi
    flags=()
    [[ $layout == external ]] && flags=(-E)
    out="$work/out.fit"
    rm -f "$out"
    /usr/bin/time -v -o "$work/time.txt" "$fitpack" "${flags[@]}" -o "$out" --arch arm64 --os linux \
      --name bench --compress "$codec" -k "$payload" "$work/board.dtb"
    rss_kib=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time.txt")
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$work/time.txt")
    wall_s=$(echo "$wall" | awk -F: '{ if (NF == 3) print $1*3600 + $2*60 + $3; else print $1*60 + $2 }')
    printf '%-6s %-9s %12d %12d %9.1f %14.1f\n' "$codec" "$layout" "$(stat -c %s "$payload")" \
      "$(stat -c %s "$out")" "$wall_s" "$(awk -v k="$rss_kib" 'BEGIN { print k / 1024 }')"
    rm -f "$out"
  done
done
