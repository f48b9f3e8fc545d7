#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""docs_manpage: the fitpack.1 scdoc made is a man page that renders.

  manpage.py FITPACK.1 VERSION

Its .TH line names fitpack(1) and fitstream VERSION; it has the sections a
reader looks for; man-db's `man --warnings` (groff -ww) renders it with no
warning; and man-db's lexgrog reads its NAME line (what whatis and apropos
index, and lintian checks). Without man-db, groff -man -ww; without groff
either, the checks of the text alone, and then the test is skipped (77),
saying so, since the page was not rendered.
"""

import os
import re
import shutil
import subprocess
import sys

SECTIONS = ["NAME", "SYNOPSIS", "DESCRIPTION", "PACKING OPTIONS", "RESPONSE FILES", "READING A FIT",
            "IMAGE TREE SOURCES", "EXIT STATUS", "ENVIRONMENT", "FILES", "EXAMPLES", "SEE ALSO"]


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    page, version = sys.argv[1:]
    problems = []
    with open(page, encoding="utf-8") as f:
        text = f.read()
    th = re.search(r'^\.TH "fitpack" "1" "[^"]*" "fitstream ([^"]*)"', text, re.M)
    if not th:
        problems.append(f'{page}: no .TH "fitpack" "1" "<date>" "fitstream <version>" line')
    elif th.group(1) != version:
        problems.append(f"{page}: .TH says fitstream {th.group(1)}, the project is {version}")
    if "@FITSTREAM_VERSION@" in text:
        problems.append(f"{page}: the version was not put in")
    for section in SECTIONS:
        if not re.search(rf'^\.SH "?{re.escape(section)}"?$', text, re.M):
            problems.append(f"{page}: no {section} section")

    env = dict(os.environ, LC_ALL="C.UTF-8", MANWIDTH="80")
    if shutil.which("man"):
        renderer = ["man", "--warnings", "-E", "UTF-8", "-l", page]
    elif shutil.which("groff"):
        renderer = ["groff", "-man", "-ww", "-z", "-K", "utf8", page]
    else:
        renderer = None
    if renderer:
        run = subprocess.run(renderer, capture_output=True, text=True, env=env, timeout=60)
        if run.returncode != 0 or run.stderr.strip():
            problems.append(f"{' '.join(renderer)} exited {run.returncode}:\n{run.stderr}")
        elif renderer[0] == "man" and "fitpack - write U-Boot Flat Image Tree" not in run.stdout:
            problems.append(f"{' '.join(renderer)} rendered no NAME line:\n{run.stdout[:2000]}")
    lexgrog = shutil.which("lexgrog")
    if lexgrog:
        run = subprocess.run([lexgrog, page], capture_output=True, text=True, env=env, timeout=60)
        if run.returncode != 0 or '"fitpack - write U-Boot Flat Image Tree' not in run.stdout:
            problems.append(f"lexgrog cannot read the NAME line (exit {run.returncode}): {run.stdout}{run.stderr}")

    for p in problems:
        print("FAIL: " + p)
    if problems:
        return 1
    if not renderer:
        print("SKIP: neither man-db nor groff is installed (scripts/install-deps.sh test installs man-db): "
              "the page was not rendered")
        return 77
    print(f"OK: {page} (fitstream {version}) renders{' with ' + renderer[0] if renderer else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
