# SPDX-License-Identifier: MIT
"""What the docs tests share: fitpack's options as its --help lists them,
as the man page source documents them, and as the bash completion offers
them (run in bash, as bash-completion runs it).

Each reads its own way, on purpose: the help parser here is not the
completion's (which is bash), so a change to --help that one of them
misreads shows up as a difference.
"""

import os
import re
import shlex
import shutil
import subprocess
import sys

SKIP = 77  # ctest SKIP_RETURN_CODE
BASH_COMPLETION = "/usr/share/bash-completion/bash_completion"

# The modes and how to ask each for its help. mkimage is checked against
# -f's options: `fitpack mkimage` takes the same ones. sign_complete is
# `fitpack sign --complete`, the second step of two-step signing, whose
# options are its own.
HELP_COMMANDS = {
    "pack": ["--help"],
    "list": ["list", "--help"],
    "verify": ["verify", "--help"],
    "extract": ["extract", "--help"],
    "sign": ["sign", "--help"],
    "sign_complete": ["sign", "--complete", "--help"],
    "its": ["-f", "--help"],
    "mkimage": ["mkimage", "--help"],
}

OPTION = re.compile(r"(?<![\w-])(--?[A-Za-z0-9][-A-Za-z0-9]*)")


def fail(message):
    print("FAIL: " + message)
    sys.exit(1)


def skip_without_bash_completion():
    """Exits 77 (ctest's skip) saying why, when bash-completion is missing."""
    if not os.path.exists(BASH_COMPLETION) or shutil.which("bash") is None:
        print(f"SKIP: bash-completion is not installed ({BASH_COMPLETION}); "
              "apt-get install bash-completion")
        sys.exit(SKIP)


def help_text(fitpack, mode):
    run = subprocess.run([fitpack] + HELP_COMMANDS[mode], capture_output=True, text=True,
                         env=dict(os.environ, LC_ALL="C"), timeout=60)
    if run.returncode != 0:
        fail(f"{fitpack} {' '.join(HELP_COMMANDS[mode])} exited {run.returncode}: {run.stderr}")
    return run.stdout


def help_entries(text):
    """{option: (names of the same option, placeholder or '', description)}
    from a --help text: lines that start with blanks and a dash. The names
    and placeholder end where two spaces start the description; CLI11's
    "REQUIRED", "Excludes: ..." and "Needs: ..." are left out."""
    entries = {}
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if not re.match(r"^\s+-", line):
            continue
        head, _, description = line.strip().partition("  ")
        description = description.strip()
        if not description and i + 1 < len(lines) and re.match(r"^\s{8,}\S", lines[i + 1]):
            description = lines[i + 1].strip()  # CLI11 puts a long option's text below it
        while True:  # "TEXT REQUIRED Needs: --x": both go
            shorter = re.sub(r"\s+(REQUIRED|Excludes:.*|Needs:.*)$", "", head)
            if shorter == head:
                break
            head = shorter
        names = OPTION.findall(head)
        placeholder = OPTION.sub("", head).strip(" ,")
        for name in names:
            entries[name] = (names, placeholder, description)
    return entries


def help_options(fitpack, mode):
    return set(help_entries(help_text(fitpack, mode)))


def page_regions(page_source):
    """{mode: [lines]} of the man page source: each '; options: MODE' line
    starts a region, which ends at the next one or the next '# ' section."""
    regions = {}
    current = None
    with open(page_source, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            marker = re.match(r"^; options: (\w+)$", line)
            if marker:
                current = marker.group(1)
                if current in regions:
                    fail(f"{page_source}: two '; options: {current}' regions")
                regions[current] = []
            elif line.startswith("# "):
                current = None
            elif current:
                regions[current].append(line)
    return regions


def page_options(region):
    """The options of a man page region: on its option lines (those that
    start '*-'), every *-x* and *--xyz* in bold."""
    options = set()
    for line in region:
        if line.startswith("*-"):
            options.update(re.findall(r"\*(--?[A-Za-z0-9][-A-Za-z0-9]*)\*", line))
    return options


def page_entry(region, option):
    """The option line and description of `option` in a region, as text."""
    for i, line in enumerate(region):
        if line.startswith("*-") and f"*{option}*" in line:
            text = [line]
            for follow in region[i + 1:]:
                if not follow.startswith("\t"):
                    break
                text.append(follow)
            return "\n".join(text)
    fail(f"the man page documents no {option}")


def bold_words(text):
    """Bold words of a man page entry that are neither options nor the
    names of sections (CODECS)."""
    return {w for w in re.findall(r"\*([^*\s]+)\*", text) if not w.startswith("-") and not w.isupper()}


def comp_words(line):
    """COMP_WORDS as bash makes them from a command line: words split at
    blanks, and '=' and ':' (in COMP_WORDBREAKS) words of their own. A line
    ending in a blank completes an empty word."""
    words = []
    for word in line.split(" "):
        parts = [p for p in re.split(r"([=:]+)", word) if p != ""]
        words.extend(parts if parts else [""])
    return words


class Completion:
    """Runs the completion function in one bash for many command lines."""

    def __init__(self, fitpack, completion_file, cwd):
        self.fitpack = os.path.abspath(fitpack)
        self.completion_file = os.path.abspath(completion_file)
        self.cwd = cwd

    def complete(self, lines):
        """{line: sorted candidates} for command lines that start with
        'fitpack ' (the program's path replaces it)."""
        script = [
            f"source {shlex.quote(BASH_COMPLETION)}",
            f"source {shlex.quote(self.completion_file)}",
            "run() {",
            '  COMP_LINE=$1; COMP_POINT=${#COMP_LINE}; shift',
            '  COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=()',
            '  _fitpack "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"',
            '  printf "%s\\n" "${COMPREPLY[@]}"; echo "@@end"',
            "}",
        ]
        for line in lines:
            if not line.startswith("fitpack "):
                raise ValueError(line)
            full = self.fitpack + line[len("fitpack"):]
            words = [self.fitpack] + comp_words(line[len("fitpack "):])
            script.append("run " + " ".join(shlex.quote(w) for w in [full] + words))
        run = subprocess.run(["bash", "--norc", "--noprofile", "-c", "\n".join(script)],
                             capture_output=True, text=True, cwd=self.cwd, timeout=120,
                             env=dict(os.environ, LC_ALL="C"))
        if run.returncode != 0 or run.stderr:
            fail(f"bash exited {run.returncode} running the completion:\n{run.stderr}")
        outputs = run.stdout.split("@@end\n")
        if len(outputs) != len(lines) + 1:
            fail(f"the completion printed {len(outputs) - 1} results for {len(lines)} lines:\n{run.stdout}")
        return {line: sorted(c for c in out.split("\n") if c) for line, out in zip(lines, outputs)}
