#!/bin/bash
# SPDX-License-Identifier: MIT
# The Debian package round trip (ctest: debian_roundtrip, labels package and
# debian):
#   1. debian/changelog's version is include/fitstream/version.hpp's, and
#      every Build-Depends package is in scripts/packages/build.txt or test.txt;
#   2. the source tree (the files git knows, as they are in the working tree,
#      plus untracked files that are not ignored; never build trees) is copied
#      to a temporary directory and built with `dpkg-buildpackage -us -uc -b`;
#   3. lintian --info on the .changes: any E: or W: fails;
#   4. `apt-get install ./fitpack_*.deb ./libfitstream-dev_*.deb`, then
#      /usr/bin/fitpack --version, the man page and the bash completion, and
#      debian/tests/* (the autopkgtests: pack and verify FITs with
#      /usr/bin/fitpack; tests/package's consumers built with CMake's
#      find_package and with pkg-config against /usr);
#   5. the packages, and whatever apt installed with them, are purged again,
#      by a trap, also on failure or Ctrl-C.
# Installing needs root or passwordless sudo; without, steps 1-3 run and the
# test is skipped (exit 77). It is skipped too when fitpack or
# libfitstream-dev is already installed: this test would replace and then
# remove someone's installation. ROUNDTRIP_KEEP=1 keeps the temporary
# directory (build log, .debs).
#
#   bash tests/debian/roundtrip.sh
set -euo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
packages=(fitpack libfitstream-dev)

say() { echo "roundtrip [${SECONDS}s]: $*"; }
fail() { echo "roundtrip: FAIL: $*" >&2; exit 1; }
skip() { echo "roundtrip: SKIP: $*"; exit 77; }

# --- 1. static checks --------------------------------------------------------
header="$src/include/fitstream/version.hpp"
version=""
for part in MAJOR MINOR PATCH; do
    number=$(sed -n "s/^#define FITSTREAM_VERSION_${part} \([0-9]\+\)$/\1/p" "$header")
    [[ -n "$number" ]] || fail "no FITSTREAM_VERSION_${part} in $header"
    version+=${version:+.}$number
done
changelog_version=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
# A native package's version is the upstream version; a -N revision is allowed.
[[ "${changelog_version%-*}" == "$version" ]] ||
    fail "debian/changelog says $changelog_version, include/fitstream/version.hpp says $version"
say "version $version (debian/changelog: $changelog_version)"

listed=()
for list in "$src"/scripts/packages/build.txt "$src"/scripts/packages/test.txt; do
    [[ -f "$list" ]] || fail "$list is missing (the package lists Build-Depends must be part of)"
    mapfile -t -O "${#listed[@]}" listed < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' "$list")
done
# Build-Depends (-Arch, -Indep), comments and continuation lines included;
# versions, architectures, profiles and :any removed; every alternative
# counts. debhelper-compat is a virtual package debhelper provides.
build_depends=$(awk '/^#/ { next }
                     /^Build-Depends(-Arch|-Indep)?:/ { field = 1; sub(/^[^:]*:/, ""); print; next }
                     field && /^[ \t]/ { print; next }
                     { field = 0 }' "$src/debian/control" |
    tr '\n' ' ' | sed -e 's/([^)]*)//g' -e 's/\[[^]]*\]//g' -e 's/<[^>]*>//g' |
    tr ',|' '\n' | sed -e 's/:any//' -e 's/[[:space:]]//g' -e '/^$/d')
[[ -n "$build_depends" ]] || fail "no Build-Depends in debian/control"
missing=()
while read -r package; do
    [[ "$package" == debhelper-compat ]] && package=debhelper
    printf '%s\n' "${listed[@]}" | grep -qxF "$package" || missing+=("$package")
done <<< "$build_depends"
((${#missing[@]} == 0)) ||
    fail "Build-Depends not in scripts/packages/build.txt or test.txt: ${missing[*]}"
say "Build-Depends: ${build_depends//$'\n'/ } -- all in scripts/packages/{build,test}.txt"

# --- prerequisites -------------------------------------------------------------
for tool in git dpkg-buildpackage lintian apt-get; do
    command -v "$tool" >/dev/null || skip "$tool is not installed (scripts/install-deps.sh test installs it)"
done
git_error=$(git -C "$src" rev-parse --is-inside-work-tree 2>&1 >/dev/null) ||
    skip "the test copies the files git knows, but git cannot list them in $src: ${git_error:-not a work tree}"
for package in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null || true)
    if [[ -n "$status" && "$status" != not-installed ]]; then
        skip "$package is already on this system ($status, $(dpkg-query -W -f='${Version}' "$package")):" \
             "this test would replace it and then remove it; remove it first (apt-get purge ${packages[*]})"
    fi
done
sudo=()
can_install=yes
if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
        sudo=(sudo -n)
    else
        can_install="no: not root, and no passwordless sudo"
    fi
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/fitstream-deb.XXXXXX")
installed_before=""
install_started=no

remove_packages() {
    [[ "$install_started" == yes ]] || return 0
    install_started=no
    # Purge what this test added: our packages and whatever apt pulled in
    # for them. Nothing that was there before is touched.
    local added
    added=$(comm -13 <(echo "$installed_before") <(installed_packages))
    if [[ -n "$added" ]]; then
        say "purging ${added//$'\n'/ }"
        # shellcheck disable=SC2086 # one package a word
        DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get purge -y -q -o DPkg::Lock::Timeout=300 $added >/dev/null
    fi
    local package status
    for package in "${packages[@]}"; do
        status=$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null || true)
        if [[ -n "$status" && "$status" != not-installed ]]; then
            echo "roundtrip: FAIL: $package is still $status after the purge" >&2
            return 1
        fi
    done
}
cleanup() {
    local rc=$?
    trap - EXIT
    remove_packages || rc=1
    if [[ "${ROUNDTRIP_KEEP:-0}" == 1 ]]; then
        echo "roundtrip: kept $tmp"
    else
        rm -rf "$tmp"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
installed_packages() {
    dpkg-query -W -f='${db:Status-Status} ${binary:Package}\n' | awk '$1 != "not-installed" { print $2 }' | sort
}

# --- 2. build the packages in a copy -----------------------------------------
tree="$tmp/fitstream-$version"
mkdir "$tree"
# What git knows (working-tree contents, uncommitted changes included) and
# new files not ignored; never build trees or debhelper's own output.
build_output='^(build|build-[^/]*|obj-[^/]*|cmake-build-[^/]*|out)/|^debian/(\.debhelper/|tmp/|fitpack/|libfitstream-dev/|files$|[^/]*\.substvars$|[^/]*\.debhelper\.log$|debhelper-build-stamp$)'
(cd "$src" && git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' file; do
        [[ -e "$file" || -L "$file" ]] && ! [[ "$file" =~ $build_output ]] && printf '%s\0' "$file"
    done | tar --null -T - -cf -) | tar -C "$tree" -xf -
say "copied $(find "$tree" -type f | wc -l) files to $tree"

arch=$(dpkg --print-architecture)
say "dpkg-buildpackage -us -uc -b (log: $tmp/build.log)"
if ! (cd "$tree" && DEB_BUILD_OPTIONS="parallel=$(nproc) ${DEB_BUILD_OPTIONS:-}" \
        dpkg-buildpackage -us -uc -b) >"$tmp/build.log" 2>&1; then
    tail -n 60 "$tmp/build.log"
    fail "dpkg-buildpackage failed (set ROUNDTRIP_KEEP=1 to keep $tmp/build.log)"
fi
grep -E '^(pack-verify|dpkg-deb): ' "$tmp/build.log" || true
changes="$tmp/fitstream_${changelog_version}_${arch}.changes"
debs=("$tmp/fitpack_${changelog_version}_${arch}.deb" "$tmp/libfitstream-dev_${changelog_version}_all.deb")
for file in "$changes" "${debs[@]}"; do
    [[ -f "$file" ]] || fail "dpkg-buildpackage made no $(basename "$file"): $(ls "$tmp")"
done
for deb in "${debs[@]}"; do
    say "$(basename "$deb"): $(dpkg-deb -f "$deb" Depends)"
done

# --- 3. lintian ----------------------------------------------------------------
say "lintian --info $(basename "$changes")"
if ! lintian --info --display-info --fail-on error,warning "$changes" >"$tmp/lintian.log" 2>&1; then
    cat "$tmp/lintian.log"
    fail "lintian reported errors or warnings"
fi
cat "$tmp/lintian.log"
say "lintian: no errors, no warnings (I: tags above are information only)"

# --- 4. install, use, check ------------------------------------------------------
[[ "$can_install" == yes ]] || skip "packages built and lintian clean, but cannot install them: ${can_install#no: }"
installed_before=$(installed_packages)
install_started=yes
say "apt-get install ${debs[*]##*/}"
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q -o DPkg::Lock::Timeout=300 "${debs[@]}" \
    >"$tmp/apt.log" 2>&1 || { cat "$tmp/apt.log"; fail "apt-get install failed"; }

[[ "$(command -v fitpack)" == /usr/bin/fitpack ]] || fail "fitpack on PATH is '$(command -v fitpack)', not /usr/bin/fitpack"
first_line=$(/usr/bin/fitpack --version | head -n 1)
[[ "$first_line" == "fitpack $version" ]] || fail "/usr/bin/fitpack --version says '$first_line', expected 'fitpack $version'"
say "/usr/bin/fitpack --version: $first_line"

man_page=/usr/share/man/man1/fitpack.1.gz
completion=/usr/share/bash-completion/completions/fitpack
gzip -cd "$man_page" | grep -q '^\.TH "*fitpack"* "*1' || fail "$man_page is not a fitpack(1) man page"
dpkg -S "$man_page" | grep -q '^fitpack:' || fail "$man_page does not belong to the fitpack package"
bash -c "source '$completion' && complete -p fitpack" >/dev/null || fail "$completion defines no completion for fitpack"
dpkg -S "$completion" | grep -q '^fitpack:' || fail "$completion does not belong to the fitpack package"
say "man page $man_page and completion $completion installed"

tests=$(sed -n 's/^Tests:[[:space:]]*//p' "$tree/debian/tests/control" | tr ', ' '\n' | sed '/^$/d')
for test in $tests; do
    say "debian/tests/$test (autopkgtest, against the installed packages)"
    (cd "$tree" && PATH=/usr/bin:$PATH "debian/tests/$test") >"$tmp/test-$test.log" 2>&1 ||
        { cat "$tmp/test-$test.log"; fail "debian/tests/$test failed"; }
    tail -n 1 "$tmp/test-$test.log"
done

# --- 5. remove -------------------------------------------------------------------
remove_packages
[[ ! -e /usr/bin/fitpack && ! -e /usr/include/fitstream ]] || fail "files left behind after the purge"
say "passed; packages removed"
