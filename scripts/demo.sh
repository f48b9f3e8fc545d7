#!/usr/bin/env bash
# The demo: build fitpack, pack a kernel-like payload and the example device
# trees into a FIT image, and let U-Boot's own dumpimage describe it.
#
#   bash scripts/demo.sh
#
# Everything it writes goes to build/: build/release (the CMake build) and
# build/demo (payload, .dtb files, image.fit).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/install-deps.sh build

generator=()
if command -v ninja >/dev/null 2>&1; then
  generator=(-G Ninja)
fi

echo "==> building fitpack (Release) in build/release"
cmake -S . -B build/release "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DFITSTREAM_BUILD_EXAMPLES=ON -DFITSTREAM_BUILD_TESTS=OFF >/dev/null
cmake --build build/release --target fitpack --parallel "$(nproc)"
fitpack=build/release/examples/fitpack

demo=build/demo
mkdir -p "$demo/dtb"

echo "==> compiling examples/data/*.dts with dtc into $demo/dtb"
dtbs=()
for dts in examples/data/*.dts; do
  dtb="$demo/dtb/$(basename "${dts%.dts}").dtb"
  dtc -q -@ -I dts -O dtb -o "$dtb" "$dts"
  echo "    $dtb  ($(fdtget -t s "$dtb" / model))"
  dtbs+=("$dtb")
done
for dtso in examples/data/*.dtso; do
  [[ -e "$dtso" ]] || continue
  dtbo="$demo/dtb/$(basename "${dtso%.dtso}").dtbo"
  dtc -q -@ -I dts -O dtb -o "$dtbo" "$dtso"
  echo "    $dtbo  (overlay, not packed)"
done

echo "==> making a 3 MiB kernel-like payload"
python3 scripts/make-payload.py -o "$demo/Image" --size 3M

echo "==> $fitpack -o $demo/image.fit --arch arm64 --os linux --name \"Demo Linux\" --compress gzip -k $demo/Image ${dtbs[*]}"
rm -f "$demo/image.fit"
"$fitpack" -o "$demo/image.fit" --arch arm64 --os linux --name "Demo Linux" \
  --compress gzip -k "$demo/Image" "${dtbs[@]}"
ls -l "$demo/image.fit"

echo "==> dumpimage -l $demo/image.fit"
dumpimage -l "$demo/image.fit"
