#!/usr/bin/env bash
# Builds fitstream and runs its whole test suite, as CI does (.ci/run calls
# this script):
#   1. install the Debian packages (scripts/install-deps.sh);
#   2. check that single_include/ is up to date (tools/amalgamate.py --check);
#   3. build/ci         RelWithDebInfo, -Werror             -> ctest
#   4. build/ci-single  the same against single_include/    -> ctest
#   5. build/ci-asan    Debug, ASan + UBSan                 -> ctest
#
#   bash scripts/test.sh                          # everything
#   FITSTREAM_TEST_BUILDS="ci" bash scripts/test.sh   # only some builds
#   FITSTREAM_JOBS=8 bash scripts/test.sh         # build parallelism
#   FITSTREAM_SKIP_APT=1 bash scripts/test.sh     # no apt
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

builds=${FITSTREAM_TEST_BUILDS:-"ci ci-single ci-asan"}
jobs=${FITSTREAM_JOBS:-$(nproc)}
ctest_jobs=${FITSTREAM_CTEST_JOBS:-2}

bash scripts/install-deps.sh test

echo "==> python3 tools/amalgamate.py --check"
python3 tools/amalgamate.py --check

generator=()
if command -v ninja >/dev/null 2>&1; then
  generator=(-G Ninja)
fi

run_build() {
  local name=$1
  shift
  local dir=build/$name
  echo "==> $dir: configure ($*)"
  cmake -S . -B "$dir" "${generator[@]}" -DFITSTREAM_BUILD_TESTS=ON -DFITSTREAM_WERROR=ON "$@"
  echo "==> $dir: build"
  cmake --build "$dir" --parallel "$jobs"
  echo "==> $dir: ctest"
  ctest --test-dir "$dir" --output-on-failure -j"$ctest_jobs"
}

for build in $builds; do
  case $build in
    ci)        run_build ci -DCMAKE_BUILD_TYPE=RelWithDebInfo ;;
    ci-single) run_build ci-single -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFITSTREAM_SINGLE_HEADER=ON ;;
    ci-asan)   run_build ci-asan -DCMAKE_BUILD_TYPE=Debug -DFITSTREAM_SANITIZE=ON ;;
    *) echo "test.sh: unknown build '$build' (known: ci ci-single ci-asan)" >&2; exit 2 ;;
  esac
done
