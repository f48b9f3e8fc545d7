#!/usr/bin/env bash
# Peak memory of fitpack over many tiny DTBs: what the tree and the FIT
# structure cost per devicetree (the payload streaming is bounded; see
# rss.sh). Each DTB is distinct (own model and compatible), so
# deduplication stores every one.
#
#   bash bench/rss-dtbs.sh [COUNT...]      # default 10 1000 10000 30000 100000
#
# Builds fitpack (Release) in build/release, writes the DTBs under
# build/bench-dtbs (about 4 KiB of disk each), and runs
# `fitpack -E -c CODEC -j2` with a 1 MB kernel under /usr/bin/time. Prints
# count, codec, output bytes, wall time, peak RSS and the RSS per DTB above
# the smallest count's.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

counts=("$@")
[[ ${#counts[@]} -gt 0 ]] || counts=(10 1000 10000 30000 100000)
codecs=${FITSTREAM_BENCH_CODECS:-"none gzip"}

bash scripts/install-deps.sh test
command -v /usr/bin/time >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }

cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DFITSTREAM_BUILD_TESTS=OFF >/dev/null
cmake --build build/release --target fitpack --parallel "$(nproc)" >/dev/null
fitpack=build/release/examples/fitpack

work=build/bench-dtbs
mkdir -p "$work"
cat >"$work/base.dts" <<'EOF'
/dts-v1/;
/ {
    model = "Board Model 000000000";
    compatible = "vendor,board-000000000", "vendor,soc";
    #address-cells = <1>;
    #size-cells = <1>;
    memory@80000000 { device_type = "memory"; reg = <0x80000000 0x10000000>; };
    chosen { bootargs = "console=ttyS0"; };
};
EOF
dtc -q -I dts -O dtb -o "$work/base.dtb" "$work/base.dts"
[[ -f "$work/kernel" ]] || python3 scripts/make-payload.py -o "$work/kernel" --size 1M

export SOURCE_DATE_EPOCH=1700000000
printf '%8s %-5s %12s %8s %14s %12s\n' dtbs codec output_bytes wall_s peak_rss_MiB bytes_per_dtb
for codec in $codecs; do
  base_count='' base_rss=''
  for n in "${counts[@]}"; do
    dir="$work/d$n"
    if [[ ! -f "$dir.list" ]]; then
      python3 - "$work/base.dtb" "$dir" "$n" <<'EOF'
import os, sys
base_path, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
base = open(base_path, 'rb').read()
model, compat = b"Board Model 000000000", b"vendor,board-000000000"
os.makedirs(out, exist_ok=True)
with open(out + '.list.tmp', 'w') as listing:
    for i in range(n):
        tag = b"%09d" % i
        path = "%s/board-%06d.dtb" % (out, i)
        with open(path, 'wb') as f:
            f.write(base.replace(model, b"Board Model " + tag).replace(compat, b"vendor,board-" + tag))
        listing.write(path + "\n")
os.rename(out + '.list.tmp', out + '.list')
EOF
    fi
    out="$work/out.fit"
    /usr/bin/time -f '%M %e' -o "$work/time.txt" "$fitpack" -E -c "$codec" -j2 -o "$out" -A arm64 -O linux \
      -n bench -k "$work/kernel" --files-from "$dir.list"
    read -r rss_kib wall <"$work/time.txt"
    per=-
    if [[ -z $base_count ]]; then
      base_count=$n base_rss=$rss_kib
    elif ((n > base_count)); then
      per=$(((rss_kib - base_rss) * 1024 / (n - base_count)))
    fi
    printf '%8d %-5s %12d %8.2f %14.1f %12s\n' "$n" "$codec" "$(stat -c %s "$out")" "$wall" \
      "$(awk -v k="$rss_kib" 'BEGIN { print k / 1024 }')" "$per"
    rm -f "$out"
  done
done
