#!/usr/bin/env bash
# Peak memory of fitpack over many tiny DTBs: what the tree and the FIT
# structure cost per devicetree (the payload streaming is bounded; see
# rss.sh). Each DTB is distinct (own model and compatible), so
# deduplication stores every one. A quick look without the bench's other
# series; `bash bench/run --dtbs-only` runs the same DTBs with make_fit.py,
# the table and the plot.
#
#   bash bench/rss-dtbs.sh [COUNT...]      # default 10 1000 10000 100000
#   FITPACK=/tmp/x/fitpack bash bench/rss-dtbs.sh 10 100000 1000000
#
# Builds fitpack (Release) in build/release unless FITPACK names one, writes
# the DTBs with bench/gen-dtbs under build/bench/workload/tiny (365 bytes
# each, 4 KiB of disk: about 4 GiB for 1,000,000; kept for the next run),
# and runs `fitpack [-E] -c CODEC -j2 --files-from LIST` with a 1 MB kernel
# under /usr/bin/time, in that directory (paths like dtbs/0012/0012345.dtb).
# FITSTREAM_BENCH_CODECS (default "none gzip") and FITSTREAM_BENCH_LAYOUTS
# (default "embedded external") choose the runs. Prints count, codec, layout,
# output bytes, wall time, peak RSS and the RSS per DTB above the smallest
# count's.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

counts=("$@")
[[ ${#counts[@]} -gt 0 ]] || counts=(10 1000 10000 100000)
codecs=${FITSTREAM_BENCH_CODECS:-"none gzip"}
layouts=${FITSTREAM_BENCH_LAYOUTS:-"embedded external"}

bash scripts/install-deps.sh test
command -v /usr/bin/time >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }

fitpack=${FITPACK:-}
if [[ -z $fitpack ]]; then
  cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DFITSTREAM_BUILD_TESTS=OFF >/dev/null
  cmake --build build/release --target fitpack --parallel "$(nproc)" >/dev/null
  fitpack=build/release/examples/fitpack
fi
fitpack=$(realpath "$fitpack")

work=$(realpath -m build/bench/workload/tiny)
max=$(printf '%s\n' "${counts[@]}" | sort -n | tail -1)
python3 bench/gen-dtbs --out "$work" --count "$max"
[[ -f "$work/kernel" ]] || python3 scripts/make-payload.py -o "$work/kernel" --size 1M
for n in "${counts[@]}"; do
  head -n "$n" "$work/dtbs.list" >"$work/list-$n"
done

export SOURCE_DATE_EPOCH=1700000000
printf '%8s %-5s %-8s %12s %8s %14s %12s\n' dtbs codec layout output_bytes wall_s peak_rss_MiB bytes_per_dtb
for codec in $codecs; do
  for layout in $layouts; do
    ext=()
    [[ $layout == external ]] && ext=(-E)
    base_count='' base_rss=''
    for n in "${counts[@]}"; do
      out="$work/out.fit"
      (cd "$work" && /usr/bin/time -f '%M %e' -o time.txt "$fitpack" "${ext[@]}" -c "$codec" -j2 -o "$out" \
        -A arm64 -O linux -n bench -k kernel --files-from "list-$n")
      read -r rss_kib wall <"$work/time.txt"
      per=-
      if [[ -z $base_count ]]; then
        base_count=$n base_rss=$rss_kib
      elif ((n > base_count)); then
        per=$(((rss_kib - base_rss) * 1024 / (n - base_count)))
      fi
      printf '%8d %-5s %-8s %12d %8.2f %14.1f %12s\n' "$n" "$codec" "$layout" "$(stat -c %s "$out")" "$wall" \
        "$(awk -v k="$rss_kib" 'BEGIN { print k / 1024 }')" "$per"
      rm -f "$out"
    done
  done
done
