#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""docs_drift: fitpack's --help, its man page and its bash completion list
the same options, mode by mode, and the same values for the options that
take one of a list.

  drift.py FITPACK PAGE.scd COMPLETION.bash

For each mode (packing, list, verify, extract, sign, sign --complete,
-f IMAGE.its, mkimage) the options the real binary's --help lists must
equal the options on the option lines of the man page's "; options: MODE"
region, and the options the completion offers after a '-' (run in bash
after bash-completion; for sign also --complete, which sign --help does not
list). Then the values: codecs (--compress), hashes (--hash), signature
algorithms (--sign-algo), and every CLI11 choice list ({a,b}) of every mode
must be what the man page entry names and what the completion offers. Exits
77 (skipped) only when bash-completion is not installed.
"""

import itertools
import re
import sys
import tempfile

import fitpack_docs as docs

COMPLETION_LINES = {
    "pack": "fitpack -",
    "list": "fitpack list -",
    "verify": "fitpack verify -",
    "extract": "fitpack extract -",
    "sign": "fitpack sign -",
    "sign_complete": "fitpack sign --complete -",
    "its": "fitpack -f image.its -",
    "mkimage": "fitpack mkimage -",
}

# What the completion offers beyond --help, by mode: `fitpack sign --help`
# does not list --complete (which switches to sign_complete's options).
COMPLETION_EXTRA = {"sign": {"--complete"}}

# A command line of each mode, up to an option's value.
VALUE_PREFIX = {mode: line[:-1] for mode, line in COMPLETION_LINES.items()}


def compare(what, expected_name, expected, actual_name, actual, problems):
    expected, actual = set(expected), set(actual)
    if expected != actual:
        missing = ", ".join(sorted(expected - actual)) or "-"
        extra = ", ".join(sorted(actual - expected)) or "-"
        problems.append(f"{what}: {actual_name} differs from {expected_name}: "
                        f"missing {missing}; not in {expected_name}: {extra}")


def main():
    if len(sys.argv) != 4:
        print(__doc__)
        return 2
    fitpack, page, completion_file = sys.argv[1:]
    docs.skip_without_bash_completion()
    problems = []

    helps = {mode: docs.help_entries(docs.help_text(fitpack, mode)) for mode in docs.HELP_COMMANDS}
    regions = docs.page_regions(page)
    with tempfile.TemporaryDirectory(prefix="fitpack-docs-") as cwd:
        completion = docs.Completion(fitpack, completion_file, cwd)
        offered = completion.complete(list(COMPLETION_LINES.values()))

        # Options, mode by mode.
        compare("fitpack mkimage --help", "fitpack -f --help", helps["its"], "it", helps["mkimage"], problems)
        for mode, line in COMPLETION_LINES.items():
            help_mode = "its" if mode == "mkimage" else mode
            help_name = "fitpack " + " ".join(docs.HELP_COMMANDS[help_mode])
            options = set(helps[help_mode])
            if not options:
                problems.append(f"{help_name} lists no options")
            if mode != "mkimage":
                if mode not in regions:
                    problems.append(f"{page}: no '; options: {mode}' region")
                else:
                    compare(f"options of {mode}", help_name, options,
                            "the man page", docs.page_options(regions[mode]), problems)
            extra = COMPLETION_EXTRA.get(mode, set())
            compare(f"options of {mode}", help_name + "".join(f" and {e}" for e in sorted(extra)),
                    options | extra, f"the completion of '{line}'", offered[line], problems)
        for mode in regions:
            if mode not in docs.HELP_COMMANDS:
                problems.append(f"{page}: '; options: {mode}' names no mode")

        # On the man page, an option line shows a value exactly when --help
        # gives the option a placeholder.
        for mode, region in regions.items():
            for line in region:
                if not line.startswith("*-") or mode not in helps:
                    continue
                names = re.findall(r"\*(--?[A-Za-z0-9][-A-Za-z0-9]*)\*", line)
                rest = re.sub(r"\*--?[A-Za-z0-9][-A-Za-z0-9]*\*", "", line)
                page_value = bool(re.search(r"_[^_\s]|\*[^*\s-]", rest))
                for name in names:
                    if name in helps[mode] and bool(helps[mode][name][1]) != page_value:
                        problems.append(f"{mode} {name}: --help says it {'takes' if helps[mode][name][1] else 'takes no'}"
                                        f" value, the man page's line says otherwise: {line}")

        # Value lists: --help is the source.
        pack = helps["pack"]
        codecs = pack["--compress"][2].rsplit(": ", 1)[-1].replace(",", " ").split()
        hashes = re.search(r"\(([^)]*)\)", pack["--hash"][2]).group(1).replace(",", " ").split() + ["none"]
        algo = re.search(r"([a-z0-9|]+) , ([a-z0-9|]+)", pack["--sign-algo"][2])
        checksums, cryptos = algo.group(1).split("|"), algo.group(2).split("|")
        algos = [f"{c},{k}" for c, k in itertools.product(checksums, cryptos)]
        if "gzip" not in codecs or "sha256" not in hashes or "sha256,rsa2048" not in algos:
            problems.append(f"the value lists read from --help look wrong: {codecs} {hashes} {algos}")

        page_pack = regions.get("pack", [])
        compare("codecs", "--help's -c/--compress", codecs, "the man page's --compress entry",
                docs.bold_words(docs.page_entry(page_pack, "--compress")), problems)
        compare("hashes", "--help's --hash", hashes, "the man page's --hash entry",
                docs.bold_words(docs.page_entry(page_pack, "--hash")), problems)
        compare("signature algorithms", "--help's --sign-algo", checksums + cryptos,
                "the man page's --sign-algo entry",
                docs.bold_words(docs.page_entry(page_pack, "--sign-algo")), problems)

        value_lines = {f"fitpack {o} ": codecs
                       for o in ("-c", "--compress", "--compress-kernel", "--compress-fdt", "--compress-ramdisk")}
        value_lines["fitpack -f image.its -C "] = codecs
        value_lines["fitpack mkimage -C "] = codecs
        value_lines["fitpack --hash "] = hashes
        value_lines["fitpack --sign-algo "] = algos
        value_lines["fitpack -f image.its --sign-algo "] = algos
        value_lines["fitpack mkimage -o "] = algos
        value_lines["fitpack sign --sign-algo "] = algos
        value_lines["fitpack sign --add-hashes "] = [h for h in hashes if h != "none"]
        for mode, entries in helps.items():
            if mode not in regions:
                continue
            for name, (_, placeholder, _) in entries.items():
                choices = re.search(r":\{([^}]*)\}", placeholder)
                if choices:
                    values = choices.group(1).split(",")
                    value_lines[f"{VALUE_PREFIX[mode]}{name} "] = values
                    entry = docs.page_entry(regions[mode], name).split("\n")[0]
                    compare(f"values of {mode} {name}", "--help", values, "the man page's option line",
                            docs.bold_words(entry), problems)
        if not any(":{" in p for _, p, _ in pack.values()):
            problems.append("fitpack --help shows no {a,b} choices: has CLI11's layout changed?")
        offered = completion.complete(list(value_lines))
        for line, values in value_lines.items():
            compare("values", "--help", values, f"the completion of '{line}'", offered[line], problems)

    for p in problems:
        print("FAIL: " + p)
    if problems:
        return 1
    print(f"OK: options of {', '.join(COMPLETION_LINES)}; {len(codecs)} codecs, {len(hashes)} hashes, "
          f"{len(algos)} signature algorithms, {len(value_lines)} value completions agree")
    return 0


if __name__ == "__main__":
    sys.exit(main())
