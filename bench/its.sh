#!/usr/bin/env bash
# An image tree source built the way Yocto's kernel FIT class builds one —
# `mkimage -f image.its` then `mkimage -F -k keys -K u-boot.dtb -r` to sign
# it — against `fitpack mkimage` doing both in one pass, in one run.
#
#   bash bench/its.sh [RAMDISK_MIB ...]     # default: 1024
#
# mkimage runs for sizes up to MKIMAGE_MAX_MIB (default 1024: past it,
# mkimage -F's retries take many minutes and it holds the payload several
# times over); larger sizes show fitpack alone, to show its memory flat.
#
# The source: the bench workload's kernel Image (bench/gen), its first 50
# DTBs, one ramdisk of RAMDISK_MIB MiB (the Image repeated), sha256 hashes on
# every image and one signed configuration (sha256,rsa2048) per DTB. Each
# size is built with -E (a signed FIT with embedded data past 256 MiB is one
# U-Boot refuses to check, CONFIG_FIT_SIGNATURE_MAX_SIZE, and fitpack with
# it), each tool under /usr/bin/time; the
# table gives wall time and peak RSS. With several sizes it shows how each
# tool's memory follows the payload (mkimage and dtc hold it whole; fitpack
# streams it). Needs about 4 x the largest size of free disk in build/bench.
# Results: build/bench/results/its.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
sizes=("${@:-1024}")
root=$PWD
work=$root/build/bench/its
workload=$root/build/bench/workload
fitpack=${FITPACK:-$root/build/examples/fitpack}
mkdir -p "$work" "$root/build/bench/results"
[[ -x $fitpack ]] || { echo "bench/its.sh: build fitpack first ($fitpack)" >&2; exit 1; }
[[ -f $workload/Image ]] || python3 bench/gen --out "$workload"

cd "$work"
# One RSA key as mkimage -k wants it (keys/dev.key, and keys/dev.crt for
# mkimage -K), and a control DTB.
if [[ ! -f keys/dev.crt ]]; then
  mkdir -p keys
  openssl genrsa -out keys/dev.key 2048 2>/dev/null
  openssl req -batch -new -x509 -key keys/dev.key -out keys/dev.crt 2>/dev/null
fi
printf '/dts-v1/;\n/ { model = "bench"; compatible = "bench,board"; };\n' | dtc -I dts -O dtb -o ctrl.dtb - 2>/dev/null

head -n 50 "$workload/dtbs.list" > dtbs50.list
export SOURCE_DATE_EPOCH=1700000000
out=$root/build/bench/results/its.md
{
  echo "| ramdisk | layout | mkimage -f + mkimage -F | peak RSS | fitpack mkimage (one pass, -j $(nproc)) | peak RSS | time × |"
  echo "|---|---|---|---|---|---|---|"
} > "$out"

measure() {  # measure LABEL CMD... -> "seconds max_rss_kib" of the command
  /usr/bin/time -f "%e %M" -o time.txt "$@" > /dev/null
  cat time.txt
}

for mib in "${sizes[@]}"; do
  # The ramdisk: the Image repeated (kernel-like bytes), made once per size.
  if [[ ! -f ramdisk-$mib.bin ]]; then
    python3 - "$workload/Image" "ramdisk-$mib.bin" "$mib" <<'EOF'
import sys
src = open(sys.argv[1], 'rb').read()
want = int(sys.argv[3]) << 20
with open(sys.argv[2], 'wb') as f:
    left = want
    while left:
        n = min(left, len(src))
        f.write(src[:n])
        left -= n
EOF
  fi
  # The source: kernel, 50 DTBs, the ramdisk, a signed configuration per DTB.
  {
    echo '/dts-v1/;'
    echo '/ {'
    echo '  description = "bench: kernel, 50 DTBs, ramdisk";'
    echo '  #address-cells = <1>;'
    echo '  images {'
    echo "    kernel-1 { description = \"Linux\"; data = /incbin/(\"$workload/Image\"); type = \"kernel\"; arch = \"arm64\"; os = \"linux\"; compression = \"none\"; load = <0x80000>; entry = <0x80000>; hash-1 { algo = \"sha256\"; }; };"
    echo "    ramdisk-1 { description = \"initramfs\"; data = /incbin/(\"$work/ramdisk-$mib.bin\"); type = \"ramdisk\"; arch = \"arm64\"; os = \"linux\"; compression = \"none\"; hash-1 { algo = \"sha256\"; }; };"
    n=0
    while read -r dtb; do
      n=$((n + 1))
      echo "    fdt-$n { description = \"$(basename "$dtb")\"; data = /incbin/(\"$dtb\"); type = \"flat_dt\"; arch = \"arm64\"; compression = \"none\"; hash-1 { algo = \"sha256\"; }; };"
    done < dtbs50.list
    echo '  };'
    echo '  configurations {'
    echo '    default = "conf-1";'
    for i in $(seq 1 "$n"); do
      echo "    conf-$i { description = \"board $i\"; kernel = \"kernel-1\"; ramdisk = \"ramdisk-1\"; fdt = \"fdt-$i\";"
      echo "      signature-1 { algo = \"sha256,rsa2048\"; key-name-hint = \"dev\"; sign-images = \"kernel\", \"fdt\", \"ramdisk\"; }; };"
    done
    echo '  };'
    echo '};'
  } > image-$mib.its

  for layout in external; do
    flag=(-E)
    rm -f mk.fit fp.fit
    cp ctrl.dtb ctrl-mk.dtb; cp ctrl.dtb ctrl-fp.dtb
    read -r t3 r3 < <(measure "$fitpack" mkimage "${flag[@]}" -k keys -K ctrl-fp.dtb -r -f image-$mib.its fp.fit)
    if (( mib <= ${MKIMAGE_MAX_MIB:-1024} )); then
      read -r t1 r1 < <(measure mkimage "${flag[@]}" -f image-$mib.its mk.fit)
      read -r t2 r2 < <(measure mkimage "${flag[@]}" -F -k keys -K ctrl-mk.dtb -r mk.fit)
      mk_time="$(python3 -c "print(f'{$t1 + $t2:.2f}')") s"
      mk_rss="$(( (r1 > r2 ? r1 : r2) / 1024 )) MiB"
      ratio=$(python3 -c "print(f'{($t1 + $t2) / max($t3, 0.01):.0f}×')")
    else
      mk_time="—"; mk_rss="—"; ratio="—"
    fi
    # Same tree from both (timestamps and signer aside), or the row means nothing.
    if ! "$fitpack" verify --max-decoded-size $(( (mib + 64) << 20 )) --key-dtb ctrl-fp.dtb fp.fit > /dev/null 2>&1; then
      echo "bench/its.sh: fitpack's FIT does not verify" >&2; exit 1
    fi
    printf '| %s MiB | %s | %s | %s | %s s | %s MiB | %s |\n' "$mib" "$layout" "$mk_time" "$mk_rss" \
      "$t3" "$(( r3 / 1024 ))" "$ratio" | tee -a "$out"
    rm -f mk.fit fp.fit
  done
done
echo "bench/its.sh: $out"
