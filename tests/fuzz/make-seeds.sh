#!/usr/bin/env bash
# Makes the seed corpora for the fuzz targets (bench/fuzz runs it; the seeds
# are build products, never committed):
#
#   OUT/fit/       FITs written by fitpack: every codec (none gzip bzip2 lzma
#                  lzo lz4 zstd) x layout (embedded, -E, -E -B 0x1000,
#                  -p 0x1000), a 4 KiB kernel and two DTBs compiled from
#                  tests/data/boards/; plus, per codec, one with a ramdisk,
#                  a load address and every hash algorithm; and two made by
#                  U-Boot's mkimage -f auto (with and without -E) when it
#                  is installed.
#                  Seeds fuzz_reader and fuzz_list.
#   OUT/keys/      control DTBs with the public keys fitpack adds (--key-dtb,
#                  as mkimage -K): RSA-2048 required for configurations,
#                  RSA-3072 for images, ECDSA P-256; one with all three.
#                  Seeds fuzz_key_dtb.
#   OUT/decoders/  small files compressed by the reference tools (gzip,
#                  bzip2, xz --format=lzma, lzop, lz4, zstd; a few variants
#                  each), prefixed with the codec byte fuzz_decoders reads
#                  (0 none, 1 gzip, 2 bzip2, 3 lzma, 4 lzo, 5 lz4, 6 zstd).
#
#   bash tests/fuzz/make-seeds.sh FITPACK OUT
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 FITPACK OUT" >&2
  exit 2
fi
fitpack=$(realpath "$1")
out=$2
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

rm -rf "$out"
mkdir -p "$out/fit" "$out/decoders" "$out/work"
work=$out/work

# Inputs: a small kernel-like payload, a ramdisk, two board DTBs.
python3 "$root/scripts/make-payload.py" -o "$work/Image" --size 4K --seed 1 >/dev/null
python3 "$root/scripts/make-payload.py" -o "$work/ramdisk" --size 4K --seed 2 >/dev/null
truncate -s 1K "$work/ramdisk"
dtc -q -I dts -O dtb -o "$work/a.dtb" "$root/tests/data/boards/acme-rk3399-sbc.dts"
dtc -q -I dts -O dtb -o "$work/b.dtb" "$root/tests/data/boards/initech-a64-tablet.dts"

codecs=(none gzip bzip2 lzma lzo lz4 zstd)
export SOURCE_DATE_EPOCH=1700000000
pack() {
  local name=$1
  shift
  "$fitpack" -o "$out/fit/$name.fit" --arch arm64 --os linux --name "Fuzz seed" "$@"
}
for codec in "${codecs[@]}"; do
  base=(-c "$codec" -k "$work/Image" "$work/a.dtb" "$work/b.dtb")
  pack "$codec-embedded" "${base[@]}"
  pack "$codec-external" -E "${base[@]}"
  pack "$codec-aligned" -E -B 0x1000 "${base[@]}"
  pack "$codec-position" -p 0x1000 "${base[@]}"
  pack "$codec-everything" -E -r "$work/ramdisk" --load 0x40400000 --entry 0x40400000 \
       --hash crc32,md5,sha1,sha256,sha384,sha512 "${base[@]}"
done
if command -v mkimage >/dev/null 2>&1; then
  # mkimage -f auto stores the files as given (-C only labels them).
  mkimage -f auto -A arm64 -O linux -T kernel -C none -a 0x40400000 -e 0x40400000 \
          -n "mkimage seed" -d "$work/Image" -b "$work/a.dtb" -b "$work/b.dtb" "$out/fit/mkimage-auto.fit" >/dev/null 2>&1 ||
    rm -f "$out/fit/mkimage-auto.fit"
  mkimage -f auto -E -A arm64 -O linux -T kernel -C none -a 0x40400000 -e 0x40400000 \
          -n "mkimage seed" -d "$work/Image" -b "$work/a.dtb" "$out/fit/mkimage-auto-external.fit" >/dev/null 2>&1 ||
    rm -f "$out/fit/mkimage-auto-external.fit"
fi

# Decoder inputs: the payloads above, an empty file, text, and a run of
# zeros (the shape of a decompression bomb).
inputs=("$work/Image" "$work/a.dtb" "$work/empty" "$work/text" "$work/zeros")
: >"$work/empty"
head -c 3000 "$root/README.md" >"$work/text"
head -c 262144 /dev/zero >"$work/zeros"

seed() {  # seed CODEC_BYTE NAME COMMAND... (the command writes to stdout)
  local byte=$1 name=$2
  shift 2
  local file=$out/decoders/$name
  printf "\\x$(printf %02x "$byte")" >"$file"
  if ! "$@" >>"$file" 2>/dev/null; then
    rm -f "$file"
  fi
}
for input in "${inputs[@]}"; do
  n=$(basename "$input")
  seed 0 "none-$n" cat "$input"
  seed 1 "gzip-$n" gzip -c -n -9 "$input"
  seed 1 "gzip-named-$n" gzip -c -1 "$input"
  seed 2 "bzip2-$n" bzip2 -c -9 "$input"
  seed 2 "bzip2-1-$n" bzip2 -c -1 "$input"
  seed 3 "lzma-$n" xz --format=lzma -c "$input"
  seed 3 "lzma-0-$n" xz --format=lzma -0 -c "$input"
  seed 3 "lzma-smalldict-$n" xz --format=lzma --lzma1=preset=6,dict=4KiB -c "$input"
  seed 4 "lzo-$n" lzop -c "$input"
  seed 4 "lzo-9-$n" lzop -9 -c "$input"
  seed 4 "lzo-crc32-$n" lzop --crc32 -c "$input"
  seed 5 "lz4-$n" lz4 -q -c "$input"
  seed 5 "lz4-linked-$n" lz4 -q -c -BD -BX --content-size "$input"
  seed 5 "lz4-hc-$n" lz4 -q -c -9 -B4 "$input"
  seed 5 "lz4-legacy-$n" lz4 -q -c -l "$input"
  seed 6 "zstd-$n" zstd -q -c "$input"
  seed 6 "zstd-19-nocheck-$n" zstd -q -c -19 --no-check "$input"
done
# The codec's encoder inside the FITs above, as fitpack writes it, is
# covered by fuzz_reader; two frames back to back end after the first.
seed 6 "zstd-two-frames" sh -c "zstd -q -c '$work/Image'; zstd -q -c '$work/a.dtb'"
seed 1 "gzip-two-members" sh -c "gzip -c -n '$work/Image'; gzip -c -n '$work/a.dtb'"

# Key DTBs for fuzz_key_dtb, written by fitpack as mkimage -K writes them.
mkdir -p "$out/keys"
openssl genpkey -quiet -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$work/rsa2048.key"
openssl genpkey -quiet -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out "$work/rsa3072.key"
openssl genpkey -quiet -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out "$work/ec256.key"
cp "$work/b.dtb" "$out/keys/all.dtb"
for k in rsa2048:conf rsa3072:image ec256:conf; do
  name=${k%%:*}
  cp "$work/b.dtb" "$out/keys/$name.dtb"
  required=${k#*:}
  extra=()
  [[ $required == image ]] && extra=(--image-signatures)
  for dtb in "$out/keys/$name.dtb" "$out/keys/all.dtb"; do
    "$fitpack" -o "$work/signed.fit" -A arm64 -O linux -n seed -k "$work/Image" --key "$work/$name.key" \
               --key-dtb "$dtb" --required "$required" "${extra[@]}" "$work/a.dtb" >/dev/null
  done
done

rm -rf "$work"
echo "make-seeds: $(find "$out/fit" -type f | wc -l) FITs in $out/fit," \
     "$(find "$out/decoders" -type f | wc -l) streams in $out/decoders," \
     "$(find "$out/keys" -type f | wc -l) key DTBs in $out/keys"
