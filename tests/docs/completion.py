#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""docs_completion: what the bash completion offers for real command lines,
run in bash after bash-completion, in a folder of known files.

  completion.py FITPACK COMPLETION.bash

Every case asserts the exact set of candidates. Codec names are the one
list taken from fitpack --help (a build may lack a codec library); the
drift test checks that list against the man page. Exits 77 (skipped) only
when bash-completion is not installed.
"""

import os
import subprocess
import sys
import tempfile

import fitpack_docs as docs

FILES = ["a.dtb", "b.dtbo", "c.its", "d.fit", "e.itb", "k.key", "k.pem", "kernel", "notes.txt"]
ALL = sorted(FILES + ["image.fit", "sub"])
PACK_COMPRESS = ["--compress", "--compress-fdt", "--compress-kernel", "--compress-ramdisk"]


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    fitpack, completion_file = (os.path.abspath(a) for a in sys.argv[1:])
    docs.skip_without_bash_completion()
    pack = docs.help_entries(docs.help_text(fitpack, "pack"))
    codecs = sorted(pack["--compress"][2].rsplit(": ", 1)[-1].replace(",", " ").split())

    with tempfile.TemporaryDirectory(prefix="fitpack-completion-") as cwd:
        for name in FILES:
            with open(os.path.join(cwd, name), "wb") as f:
                f.write(b"x" * 64)
        os.mkdir(os.path.join(cwd, "sub"))
        # A real FIT, for extract's IMAGE.
        subprocess.run([fitpack, "-A", "arm64", "-O", "linux", "-n", "L", "-k", "kernel", "-r", "k.key",
                        "-o", "image.fit"], cwd=cwd, check=True, timeout=60)

        cases = {
            # The first word: verbs (and DTBs).
            "fitpack l": ["list"],
            "fitpack m": ["mkimage"],
            "fitpack s": ["sign", "sub"],
            "fitpack ": sorted(["a.dtb", "extract", "list", "mkimage", "sign", "sub", "verify"]),
            "fitpack -v ": ["a.dtb", "sub"],
            "fitpack --overlays ": ["a.dtb", "b.dtbo", "sub"],
            # Options of the mode.
            "fitpack --comp": PACK_COMPRESS,
            "fitpack -o x.fit --no-": ["--no-dedup", "--no-fsync", "--no-kernel"],
            "fitpack --key": ["--key", "--key-dir", "--key-dtb", "--key-name"],
            "fitpack verify --": ["--help", "--key-dtb", "--max-decoded-size"],
            "fitpack list --": ["--help", "--json"],
            "fitpack extract --": ["--help", "--output", "--raw"],
            "fitpack -f c.its --": ["--allow-compression-mismatch", "--compress-images", "--external",
                                    "--help", "--include", "--jobs", "--memory-budget", "--output", "--pin-file", "--sign-algo", "--verbose"],
            "fitpack mkimage --comp": ["--compress-images"],
            "fitpack sign --com": ["--comment", "--complete"],  # --complete: not in sign --help
            "fitpack sign image.fit --key-dir sub --sign-": ["--sign-algo", "--sign-command", "--sign-command-input",
                                                             "--sign-images", "--sign-timeout"],
            "fitpack sign --pre": ["--prepare"],
            "fitpack sign --complete --": ["--complete", "--help", "--key-dtb", "--output", "--public-key",
                                           "--signatures"],
            "fitpack sign image.fit --complete --k": ["--key-dtb"],
            # Values.
            "fitpack -c ": codecs,
            "fitpack --compress-ramdisk ": codecs,
            "fitpack --compress=g": [c for c in codecs if c.startswith("g")],
            "fitpack -f c.its -C ": codecs,
            "fitpack -f c.its -c ": [],  # -c is a comment here, not a codec
            "fitpack --hash sha256,c": ["sha256,crc16-ccitt", "sha256,crc32"],
            "fitpack --hash n": ["none"],
            "fitpack --sign-algo sha1,e": ["sha1,ecdsa256", "sha1,ecdsa384"],
            "fitpack mkimage -o sha512,r": ["sha512,rsa2048", "sha512,rsa3072", "sha512,rsa4096"],
            "fitpack --padding ": ["pkcs-1.5", "pss"],
            "fitpack --required ": ["conf", "image"],
            "fitpack --address-cells ": ["1", "2", "auto"],
            "fitpack --conf-names b": ["basename"],
            "fitpack --arch ": [],
            "fitpack verify image.fit --max-decoded-size ": [],
            "fitpack sign --add-hashes sha": ["sha1", "sha256", "sha384", "sha512"],
            "fitpack sign --key k.pem --sign-algo sha384,e": ["sha384,ecdsa256", "sha384,ecdsa384"],
            "fitpack sign --required-mode ": ["all", "any"],
            "fitpack sign --sign-command-input ": ["digest", "message"],
            "fitpack sign --key-name ": [],
            # Files.
            "fitpack -k ": ALL,
            "fitpack -o x.fit @k": ["@k.key", "@k.pem", "@kernel"],
            "fitpack --key-dir ": ["sub"],
            "fitpack --key ": ["k.key", "k.pem", "sub"],
            "fitpack --key-dtb ": ["a.dtb", "sub"],
            "fitpack -f ": ["auto", "c.its", "sub"],
            "fitpack mkimage -E -f ": ["auto", "c.its", "sub"],
            "fitpack -f c.its -I ": ["sub"],
            "fitpack list ": ["d.fit", "e.itb", "image.fit", "sub"],
            "fitpack list --json ": ["d.fit", "e.itb", "image.fit", "sub"],
            "fitpack verify --key-dtb a.dtb ": ["d.fit", "e.itb", "image.fit", "sub"],
            "fitpack verify --key-dtb ": ["a.dtb", "sub"],
            "fitpack extract image.fit ": ["kernel", "ramdisk"],
            "fitpack extract -o out image.fit k": ["kernel"],
            "fitpack extract image.fit kernel -o ": ALL,
            "fitpack extract image.fit kernel ": [],
            "fitpack sign ": ["d.fit", "e.itb", "image.fit", "sub"],
            "fitpack sign --image-signatures ": ["d.fit", "e.itb", "image.fit", "sub"],
            "fitpack sign --key-dir sub image.fit ": [],
            "fitpack sign --key-dir ": ["sub"],
            "fitpack sign --key ": ["k.key", "k.pem", "sub"],
            "fitpack sign --key-dtb ": ["a.dtb", "sub"],
            "fitpack sign --public-key ": ["k.pem", "sub"],
            "fitpack sign image.fit -o ": ALL,
            "fitpack sign --prepare image.fit -o x.fit --request ": ALL,
            "fitpack sign --complete ": ["d.fit", "e.itb", "image.fit", "sub"],
            "fitpack sign --complete image.fit --signatures ": ALL,
            "fitpack sign --complete image.fit --key-dtb ": ["a.dtb", "sub"],
            "fitpack sign --complete image.fit --public-key ": ["k.pem", "sub"],
            "fitpack sign --complete --signatures r.txt image.fit ": [],
        }
        offered = docs.Completion(fitpack, completion_file, cwd).complete(list(cases))

    failures = 0
    for line, expected in cases.items():
        if offered[line] != sorted(expected):
            failures += 1
            print(f"FAIL: '{line}<TAB>' offers {offered[line]}, expected {sorted(expected)}")
    if failures:
        return 1
    print(f"OK: {len(cases)} completions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
