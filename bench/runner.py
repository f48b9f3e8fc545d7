#!/usr/bin/env python3
"""Measure fitpack against make_fit.py and the codec limit; print the tables.

bench/run builds what is needed and calls this; run it directly to choose
every path yourself:

    python3 bench/runner.py --fitpack build/release/examples/fitpack \\
        --codec-limit build/release/bench/codec_limit [--newest-make-fit PATH] [--quick] [--scale] [--all]
    python3 bench/runner.py --fitpack PATH --dtbs-only [--scale-dtbs 10,1000,100000]

--all runs every series in one run: the comparison, signing, payload size
and DTB count (10 to 1,000,000 tiny DTBs; its plot is drawn by plot_dtbs.py
next to an earlier run's, --before).

Every configuration runs once, under /usr/bin/time -v (peak RSS: of the
process or of its largest child, as wait4() reports it), after the inputs
have been read once so that all tools find them in the page cache. Outputs
are deleted after each run; only their sizes are kept.
"""

import argparse
import csv
import datetime
import math
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import plot_dtbs  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

CODECS = ["none", "gzip", "zstd", "lzma", "lz4"]
LAYOUTS = ["embedded", "external"]
DEBIAN_PYTHON = "/usr/bin/python3"
LINUX_TARBALL = "/usr/src/linux-source-6.12.tar.xz"
EPOCH = "1700000000"

# The targets, on the realistic workload: peer time / fitpack time at
# least this much, for each codec ("6.12", "newest").
SPEED_TARGETS = {
    "gzip": {"6.12": 8.0, "newest": 3.0},
    "zstd": {"6.12": 10.0, "newest": 10.0},
    "lz4": {"6.12": 10.0, "newest": 10.0},
    "none": {"6.12": 5.0, "newest": 5.0},
}
SIZE_TARGET = {"gzip": 1.02}  # fitpack output / make_fit.py output, at most
LIMIT_TARGET = 1.25           # fitpack time / codec limit time, at most
RSS_TARGET_MIB = 64
SIGNING_TARGET = 1.10         # signed gzip run / unsigned gzip run, at most (RSA-2048)
SIGNING_KEYS = [("RSA-2048", ["genrsa", "-out", "{out}", "2048"]), ("RSA-4096", ["genrsa", "-out", "{out}", "4096"]),
                ("ECDSA P-256", ["ecparam", "-genkey", "-name", "prime256v1", "-noout", "-out", "{out}"])]
SIGNING_REPEATS = 3           # unsigned and signed runs alternate; the best of each is kept

OK, MISS = "✓", "✗"


def log(msg):
    print(msg, flush=True)


def parse_size(text):
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    t = text.strip().upper().removesuffix("IB").removesuffix("B")
    scale = 1
    if t and t[-1] in units:
        scale, t = units[t[-1]], t[:-1]
    return int(float(t) * scale)


def human_bytes(n):
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            v = n / size
            return f"{v:.1f} {unit}" if v < 100 and v != int(v) else f"{int(round(v))} {unit}"
    return f"{n} B"


# ---------------------------------------------------------------------------
# Running one configuration
# ---------------------------------------------------------------------------

class Result:
    def __init__(self, tool, codec, layout, wall=None, rss_kib=None, out_bytes=None, error=None, series="",
                 x=None):
        self.tool, self.codec, self.layout = tool, codec, layout
        self.wall, self.rss_kib, self.out_bytes, self.error = wall, rss_kib, out_bytes, error
        self.series, self.x = series, x

    @property
    def ok(self):
        return self.error is None and self.wall is not None

    @property
    def rss_mib(self):
        return None if self.rss_kib is None else self.rss_kib / 1024


def measure(tool, codec, layout, argv, output, env=None, cwd=None, series="", x=None, count_output=None,
            timeout=None):
    """Runs argv under /usr/bin/time -v; returns a Result. `output` is
    removed afterwards (its size is kept). `count_output` parses the
    output size from stdout instead (for codec_limit). After `timeout`
    seconds the run (its whole process group: make_fit.py starts gzip and
    mkimage) is killed and the Result says so."""
    timefile = output + ".time"
    for p in (output, timefile):
        if os.path.exists(p):
            os.remove(p)
    full = ["/usr/bin/time", "-v", "-o", timefile] + argv
    t0 = time.monotonic()
    with subprocess.Popen(full, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          start_new_session=True) as popen:
        try:
            stdout, stderr = popen.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(popen.pid, signal.SIGKILL)
            popen.communicate()
            for p in (output, timefile):
                if os.path.exists(p):
                    os.remove(p)
            log(f"  {tool} {codec} {layout}: killed after {timeout:.0f} s")
            return Result(tool, codec, layout, error=f"killed after {timeout:.0f} s", series=series, x=x)
    proc = subprocess.CompletedProcess(full, popen.returncode, stdout, stderr)
    wall = time.monotonic() - t0
    rss = None
    if os.path.exists(timefile):
        with open(timefile) as f:
            m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", f.read())
            rss = int(m.group(1)) if m else None
        os.remove(timefile)
    if proc.returncode != 0:
        err = (proc.stderr.strip().splitlines() or ["exit %d" % proc.returncode])[-1]
        log(f"  {tool} {codec} {layout}: FAILED: {err}")
        if os.path.exists(output):
            os.remove(output)
        return Result(tool, codec, layout, error=err, series=series, x=x)
    if count_output:
        size = count_output(proc.stdout)
        if os.path.exists(output):
            os.remove(output)
    else:
        with open(output, "rb") as f:
            magic = f.read(4)
        if magic != b"\xd0\x0d\xfe\xed":
            os.remove(output)
            return Result(tool, codec, layout, error="output is not a FIT (no FDT magic)", series=series, x=x)
        size = os.path.getsize(output)
        os.remove(output)
    r = Result(tool, codec, layout, wall, rss, size, series=series, x=x)
    r.stdout = proc.stdout
    log(f"  {tool:<16} {codec:<5} {layout:<9} {wall:8.2f} s  {r.rss_mib:7.1f} MiB  {size:>12} bytes")
    return r


def warm(paths):
    """Reads every input once, so no tool pays for the first read."""
    for p in paths:
        with open(p, "rb") as f:
            while f.read(1 << 20):
                pass


# ---------------------------------------------------------------------------
# Peers
# ---------------------------------------------------------------------------

def extract_make_fit_612(work):
    """Linux 6.12's scripts/make_fit.py from Debian's linux-source-6.12, as
    tests/test_make_fit_compat.cpp takes it."""
    dest = os.path.join(work, "peers")
    path = os.path.join(dest, "linux-source-6.12", "scripts", "make_fit.py")
    if os.path.exists(path):
        return path
    if not os.path.exists(LINUX_TARBALL):
        sys.exit(f"bench: {LINUX_TARBALL} is missing: install linux-source-6.12 (scripts/install-deps.sh)")
    os.makedirs(dest, exist_ok=True)
    subprocess.run(["tar", "-xJf", LINUX_TARBALL, "-C", dest, "--wildcards", "*/scripts/make_fit.py"], check=True)
    return path


def check_peer(path):
    r = subprocess.run([DEBIAN_PYTHON, path, "--help"], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"bench: {DEBIAN_PYTHON} {path} --help failed (python3-libfdt installed?): {r.stderr.strip()}")
    return r.stdout


def fitpack_has_jobs(fitpack):
    r = subprocess.run([fitpack, "--help"], capture_output=True, text=True)
    return re.search(r"(^|\s)-j[, ]", r.stdout) is not None


def fitpack_jobs(args):
    """--fitpack-arg, plus -j JOBS when fitpack has -j and none was given."""
    extra = list(args.fitpack_arg)
    if fitpack_has_jobs(args.fitpack) and not any(a.startswith("-j") or a == "--jobs" for a in extra):
        extra += ["-j", str(args.jobs)]
    return extra


# ---------------------------------------------------------------------------
# The comparison on the realistic workload
# ---------------------------------------------------------------------------

def fmt_s(r):
    if r is None:
        return "—"
    if not r.ok:
        return "failed"
    return f"{r.wall:.2f}" if r.wall < 10 else f"{r.wall:.1f}"


def ratio(a, b):
    if a is None or b is None or not a.ok or not b.ok or b.wall <= 0:
        return None
    return a.wall / b.wall


def size_ratio(a, b):
    if a is None or b is None or not a.ok or not b.ok or not b.out_bytes:
        return None
    return a.out_bytes / b.out_bytes


def compare(args, work, results_dir, timings):
    gen = os.path.join(HERE, "gen")
    t0 = time.monotonic()
    subprocess.run([sys.executable, gen, "--out", os.path.join(work, "workload")], check=True)
    timings.append(("workload (bench/gen)", time.monotonic() - t0))
    workload = os.path.join(work, "workload")
    with open(os.path.join(workload, "dtbs.list")) as f:
        dtbs = [line.strip() for line in f if line.strip()]
    kernel = os.path.join(workload, "Image")
    inputs = [kernel] + dtbs
    total_in = sum(os.path.getsize(p) for p in inputs)

    mf612 = args.make_fit_612 or extract_make_fit_612(work)
    peers = [("make_fit.py 6.12", mf612)]
    check_peer(mf612)
    if args.newest_make_fit:
        check_peer(args.newest_make_fit)
        peers.append(("make_fit.py newest", args.newest_make_fit))

    fitpack_extra = list(args.fitpack_arg)
    if fitpack_has_jobs(args.fitpack) and not any(a.startswith("-j") or a == "--jobs" for a in fitpack_extra):
        fitpack_extra += ["-j", str(args.jobs)]
    limit_list = os.path.join(work, "limit-inputs.list")
    with open(limit_list, "w") as f:
        f.writelines(p + "\n" for p in inputs)

    out_dir = os.path.join(work, "out")
    os.makedirs(out_dir, exist_ok=True)
    env = dict(os.environ, SOURCE_DATE_EPOCH=EPOCH)
    warm(inputs)

    results = {}
    log(f"bench: {len(dtbs)} DTBs + Image, {total_in / 1e6:.1f} MB in; fitpack {args.fitpack} {' '.join(fitpack_extra)}")
    for codec in args.codecs:
        t_codec = time.monotonic()
        for layout in args.layouts:
            ext = ["-E"] if layout == "external" else []
            common = ["-A", "arm64", "-O", "linux", "-n", "Linux-bench", "-c", codec] + ext
            out = os.path.join(out_dir, f"{codec}-{layout}.fit")
            results[("fitpack", codec, layout)] = measure(
                "fitpack", codec, layout,
                [args.fitpack] + fitpack_extra + common + ["-o", out, "-k", kernel] + dtbs, out, env=env)
            for name, script in peers:
                slow = name.endswith("6.12") and codec in ("none", "lzma")
                if args.quick and slow:
                    continue
                results[(name, codec, layout)] = measure(
                    name, codec, layout,
                    [DEBIAN_PYTHON, script] + common + ["-o", out, "-k", kernel] + dtbs, out, env=env)
        # One codec limit per codec: it does no layout work.
        out = os.path.join(out_dir, f"{codec}.limit")
        results[("codec limit", codec, "")] = measure(
            "codec limit", codec, "",
            [args.codec_limit, "-c", codec, "-j", str(args.jobs), "--files-from", limit_list, "-o", out],
            out, count_output=lambda s: int(re.search(r"output_bytes=(\d+)", s).group(1)))
        timings.append((f"comparison, {codec}", time.monotonic() - t_codec))

    return results, peers, total_in, len(dtbs), fitpack_extra, os.path.getsize(kernel)


def mark(ok):
    return OK if ok else MISS


def tables(args, results, peers, total_in, ndtbs, machine, fitpack_extra, image_bytes):
    """The markdown report: speed with targets, then memory and size."""
    peer_names = [p[0] for p in peers]
    short = {"make_fit.py 6.12": "6.12", "make_fit.py newest": "newest"}
    lines = []
    lines.append(f"Workload: {ndtbs} DTBs + a {human_bytes(image_bytes)} arm64 Image, {total_in / 1e6:.1f} MB in "
                 f"(bench/gen, seed 1; the Image is AArch64 code from Debian packages, see MANIFEST). "
                 f"fitpack: `{' '.join(['fitpack'] + fitpack_extra)}`. "
                 f"Times in seconds, one run each; ×N = peer time / fitpack time; "
                 f"limit = the same bytes through the same codec (default options, as fitpack) on {args.jobs} threads, "
                 f"written to one file, with no FIT work (bench/codec_limit).")
    lines.append("")
    head = ["codec", "layout", "fitpack s"]
    for n in peer_names:
        head += [f"{n} s", f"×{short[n]}"]
    head += ["limit s", "fitpack/limit", "targets"]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "|".join(["---"] * len(head)) + "|")
    met = missed = 0
    for codec in args.codecs:
        limit = results.get(("codec limit", codec, ""))
        for layout in args.layouts:
            fp = results.get(("fitpack", codec, layout))
            row = [codec, "-E" if layout == "external" else "embedded", fmt_s(fp)]
            marks = []
            for n in peer_names:
                peer = results.get((n, codec, layout))
                x = ratio(peer, fp)
                row += [fmt_s(peer), "—" if x is None else f"{x:.1f}×"]
                want = SPEED_TARGETS.get(codec, {}).get(short[n])
                if want and x is not None:
                    ok = x >= want
                    met += ok
                    missed += not ok
                    marks.append(f"≥{want:g}× {short[n]} {mark(ok)}")
            lr = ratio(fp, limit)
            # "seg": the codec has `segments`, so the limit split each large
            # file across the threads.
            seg = " seg" if limit is not None and "segmented=yes" in getattr(limit, "stdout", "") else ""
            row += [fmt_s(limit) + seg, "—" if lr is None else f"{lr:.2f}"]
            if lr is not None:
                ok = lr <= LIMIT_TARGET
                met += ok
                missed += not ok
                marks.append(f"≤{LIMIT_TARGET}× limit {mark(ok)}")
            if codec in SIZE_TARGET:
                for n in peer_names:
                    sr = size_ratio(fp, results.get((n, codec, layout)))
                    if sr is not None:
                        ok = sr <= SIZE_TARGET[codec]
                        met += ok
                        missed += not ok
                        marks.append(f"size ≤{SIZE_TARGET[codec]}× {short[n]} {mark(ok)}")
            if fp is not None and fp.ok:
                ok = fp.rss_mib <= RSS_TARGET_MIB
                met += ok
                missed += not ok
                marks.append(f"RSS ≤{RSS_TARGET_MIB} MiB {mark(ok)}")
            row.append("; ".join(marks))
            lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    lines.append(f"Targets: {met} met, {missed} missed. make_fit.py -E runs `mkimage -E -F` on its own output "
                 f"(both versions), and that pass is part of its time. \"seg\": the codec has segments, so the "
                 f"limit cut large files into them; otherwise each file is one task (zstd's encoder gets "
                 f"{args.jobs} worker threads).")
    lines.append("")
    head = ["codec", "layout", "fitpack MiB"]
    head += [f"{n} MiB" for n in peer_names] + ["limit MiB", "fitpack out"]
    head += [f"{n} out" for n in peer_names] + [f"size/{short[n]}" for n in peer_names]
    lines.append("Peak RSS (MiB) and output size (bytes):")
    lines.append("")
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "|".join(["---"] * len(head)) + "|")
    for codec in args.codecs:
        limit = results.get(("codec limit", codec, ""))
        for layout in args.layouts:
            fp = results.get(("fitpack", codec, layout))
            rss = lambda r: "—" if r is None or not r.ok else f"{r.rss_mib:.0f}"  # noqa: E731
            out = lambda r: "—" if r is None or not r.ok else f"{r.out_bytes:,}"  # noqa: E731
            row = [codec, "-E" if layout == "external" else "embedded", rss(fp)]
            row += [rss(results.get((n, codec, layout))) for n in peer_names] + [rss(limit), out(fp)]
            row += [out(results.get((n, codec, layout))) for n in peer_names]
            for n in peer_names:
                sr = size_ratio(fp, results.get((n, codec, layout)))
                row.append("—" if sr is None else f"{sr:.3f}")
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# Signing series: what signing every configuration costs
# ---------------------------------------------------------------------------

def signing(args, work, timings):
    """For each codec (-E), the unsigned run against the same run signed with
    each key in SIGNING_KEYS (one signature per configuration). The runs
    alternate, SIGNING_REPEATS times, and each keeps its best: on a shared
    machine the ratio of two best times is what can be compared."""
    t0 = time.monotonic()
    subprocess.run([sys.executable, os.path.join(HERE, "gen"), "--out", os.path.join(work, "workload")], check=True)
    workload = os.path.join(work, "workload")
    with open(os.path.join(workload, "dtbs.list")) as f:
        dtbs = [line.strip() for line in f if line.strip()]
    kernel = os.path.join(workload, "Image")
    keys_dir = os.path.join(work, "signing-keys")
    os.makedirs(keys_dir, exist_ok=True)
    keys = []
    for name, gen in SIGNING_KEYS:
        path = os.path.join(keys_dir, re.sub(r"[^A-Za-z0-9]+", "-", name).lower() + ".pem")
        if not os.path.exists(path):
            subprocess.run(["openssl"] + [a.replace("{out}", path) for a in gen], check=True, capture_output=True)
        keys.append((name, path))
    extra = list(args.fitpack_arg)
    if fitpack_has_jobs(args.fitpack) and not any(a.startswith("-j") or a == "--jobs" for a in extra):
        extra += ["-j", str(args.jobs)]
    out_dir = os.path.join(work, "out")
    os.makedirs(out_dir, exist_ok=True)
    env = dict(os.environ, SOURCE_DATE_EPOCH=EPOCH)
    warm([kernel] + dtbs)
    log(f"bench: signing, {len(dtbs)} configurations, {SIGNING_REPEATS} alternating runs each")
    results = {}
    for codec in args.codecs:
        common = ["-A", "arm64", "-O", "linux", "-n", "Linux-bench", "-c", codec, "-E"]
        out = os.path.join(out_dir, f"sign-{codec}.fit")
        variants = [("unsigned", [])] + [(name, ["--key", path, "--key-name", "bench"]) for name, path in keys]
        best = {}
        for _ in range(SIGNING_REPEATS):
            for name, key_args in variants:
                r = measure("fitpack", codec, name, [args.fitpack] + extra + common + key_args +
                            ["-o", out, "-k", kernel] + dtbs, out, env=env, series="signing", x=name)
                if r.ok and (name not in best or r.wall < best[name].wall):
                    best[name] = r
                elif not r.ok:
                    best[name] = r
        for name, r in best.items():
            results[(codec, name)] = r
    timings.append(("signing series", time.monotonic() - t0))
    return results, [name for name, _ in keys], len(dtbs), extra


def signing_table(args, results, key_names, nconfs, extra):
    lines = [f"Signing {nconfs} configurations (one signature each, `--key KEY`; "
             f"`{' '.join(['fitpack'] + extra)} -c CODEC -E`; best of {SIGNING_REPEATS} alternating runs; "
             f"×N = signed time / unsigned time; target: RSA-2048 adds at most "
             f"{(SIGNING_TARGET - 1) * 100:.0f}% to gzip):", ""]
    head = ["codec", "unsigned s"] + [x for k in key_names for x in (f"{k} s", f"×{k}")] + ["target"]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "|".join(["---"] * len(head)) + "|")
    for codec in args.codecs:
        base = results.get((codec, "unsigned"))
        row = [codec, fmt_s(base)]
        target = ""
        for k in key_names:
            r = results.get((codec, k))
            x = ratio(r, base)  # peer / fitpack: here signed / unsigned
            row += [fmt_s(r), "—" if x is None else f"{x:.2f}×"]
            if codec == "gzip" and k == "RSA-2048" and x is not None:
                target = f"≤{SIGNING_TARGET:.2f}× {mark(x <= SIGNING_TARGET)}"
        row.append(target)
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# Scale series
# ---------------------------------------------------------------------------

def scale(args, work, results_dir, timings):
    """The payload series: one DTB and a kernel-like payload of each size."""
    gen = os.path.join(HERE, "gen")
    wl = os.path.join(work, "workload")
    subprocess.run([sys.executable, gen, "--out", wl], check=True)  # the Image the payloads repeat
    out_dir = os.path.join(work, "out")
    os.makedirs(out_dir, exist_ok=True)
    env = dict(os.environ, SOURCE_DATE_EPOCH=EPOCH)
    base = [args.fitpack] + fitpack_jobs(args) + ["-A", "arm64", "-O", "linux", "-n", "Linux-bench"]
    results = []

    if args.scale_payloads:
        one_dtb = os.path.join(wl, "dtbs", "arm")
        dtb = os.path.join(one_dtb, sorted(os.listdir(one_dtb))[0])
        log(f"bench: scale series, payload size ({','.join(args.scale_layouts)}, with one DTB): "
            f"{[human_bytes(s) for s in args.scale_payloads]}")
        for size in args.scale_payloads:
            t0 = time.monotonic()
            free = shutil.disk_usage(work).free
            if free < 2 * size + (1 << 30):
                log(f"  skipping {human_bytes(size)}: {human_bytes(free)} free, need {human_bytes(2 * size + (1 << 30))}")
                continue
            subprocess.run([sys.executable, gen, "--out", wl, "--scale-payload", str(size)], check=True,
                           stdout=subprocess.DEVNULL)
            payload = os.path.join(wl, "scale", f"payload-{size}")
            timings.append((f"scale inputs: payload {human_bytes(size)}", time.monotonic() - t0))
            t0 = time.monotonic()
            if size <= 4 << 30:
                warm([payload])
            for codec in args.scale_codecs:
                for layout in args.scale_layouts:
                    # libfdt's int offsets cap an embedded FIT at 2 GiB - 1.
                    if layout == "embedded" and size >= (2 << 30) - (1 << 20):
                        continue
                    out = os.path.join(out_dir, f"scale-payload-{codec}.fit")
                    ext = ["-E"] if layout == "external" else []
                    results.append(measure("fitpack", codec, layout,
                                           base + ["-c", codec] + ext + ["-o", out, "-k", payload, dtb],
                                           out, env=env, series="payload", x=size))
            if size >= 1 << 30 and not args.keep_scale_inputs:
                os.remove(payload)
            timings.append((f"scale series: payload {human_bytes(size)}", time.monotonic() - t0))
    return results


def scale_table(results):
    lines = ["| series | input | codec | layout | wall s | peak RSS MiB | output |", "|---|---|---|---|---|---|---|"]
    for r in results:
        x = f"{r.x:,} DTBs" if r.series == "dtbs" else human_bytes(r.x)
        if r.ok:
            lay = "-E" if r.layout == "external" else r.layout
            lines.append(f"| {r.series} | {x} | {r.codec} | {lay} | {r.wall:.2f} | {r.rss_mib:.1f} {mark(r.rss_mib <= RSS_TARGET_MIB)} "
                         f"| {human_bytes(r.out_bytes)} |")
        else:
            lines.append(f"| {r.series} | {x} | {r.codec} | {r.layout} | failed: {r.error} | | |")
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# DTB-count series: 10 to 1,000,000 tiny DTBs
# ---------------------------------------------------------------------------

DTB_COUNTS = "10,100,1000,10000,100000,300000,1000000"
DTB_BEFORE = "before 2026-11-27 (3.6 KiB DTBs)=" + os.path.join(ROOT, "docs", "bench", "dtbs-before.csv")
PEER_LIMIT_S = 60     # a peer runs a count only while its predicted time stays under this
PEER_KILL = 1.5       # and is killed after this many times that
PEER_GROWTH = 1.5     # the least growth (time ~ n^this) its prediction assumes
DTB_BLOCK = 4096      # disk per tiny DTB: one file-system block


def dtb_series(args, work, timings):
    """fitpack (and make_fit.py, up to its cutoff) over 10 to 1,000,000 tiny
    distinct DTBs and a 1 MiB kernel, for each codec and layout. Returns the
    results, the peers' cutoffs and what the table header needs."""
    wl = os.path.join(work, "workload")
    tiny = os.path.join(wl, "tiny")
    counts = sorted(set(args.scale_dtbs))
    nmax = counts[-1]
    stamp = os.path.join(tiny, "STAMP")
    have = 0
    if os.path.exists(stamp):
        with open(stamp) as f:
            have = int(f.read().split()[0])
    # The DTBs still to write, and the largest output (none, embedded: the
    # DTBs, their FIT nodes and the kernel), twice for a peer's copy.
    need = max(0, nmax - have) * DTB_BLOCK + 2 * nmax * 1024 + (1 << 30)
    os.makedirs(work, exist_ok=True)
    free = shutil.disk_usage(work).free
    if free < need:
        sys.exit(f"bench: the DTB series needs {human_bytes(need)} of disk under {work}, "
                 f"{human_bytes(free)} are free: fewer --scale-dtbs, or another --work")
    t0 = time.monotonic()
    subprocess.run([sys.executable, os.path.join(HERE, "gen"), "--out", wl, "--scale-payload", "1M"], check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run([sys.executable, os.path.join(HERE, "gen-dtbs"), "--out", tiny, "--count", str(nmax)], check=True)
    kernel = os.path.join(wl, "scale", f"payload-{1 << 20}")
    with open(os.path.join(tiny, "dtbs.list")) as f:
        paths = f.read().splitlines()[:nmax]
    dtb_bytes = os.path.getsize(os.path.join(tiny, paths[0]))
    # The paths are relative: every tool runs in `tiny` and reads its list
    # from a file (fitpack --files-from, make_fit.py's argparse @FILE), as
    # 1,000,000 paths do not fit on a command line (ARG_MAX).
    lists = {}
    for n in counts:
        lists[n] = os.path.join(work, f"dtbs-{n}.list")
        with open(lists[n], "w") as f:
            f.writelines(p + "\n" for p in paths[:n])
    # Read every DTB once, so no run pays for the first read.
    warm([kernel])
    for p in paths:
        fd = os.open(os.path.join(tiny, p), os.O_RDONLY)
        os.read(fd, 1 << 16)
        os.close(fd)
    timings.append(("DTB series inputs", time.monotonic() - t0))
    disk = nmax * DTB_BLOCK  # the counts' share of what is on disk (more may be, from larger runs)

    peers = []
    if not args.no_dtb_peers:
        mf612 = args.make_fit_612 or extract_make_fit_612(work)
        check_peer(mf612)
        peers.append(("make_fit.py 6.12", mf612))
        if args.newest_make_fit:
            check_peer(args.newest_make_fit)
            peers.append(("make_fit.py newest", args.newest_make_fit))

    out_dir = os.path.join(work, "out")
    os.makedirs(out_dir, exist_ok=True)
    env = dict(os.environ, SOURCE_DATE_EPOCH=EPOCH)
    extra = fitpack_jobs(args)
    common = ["-A", "arm64", "-O", "linux", "-n", "Linux-bench", "-k", kernel]
    log(f"bench: DTB-count series, {dtb_bytes}-byte DTBs ({human_bytes(disk)} of disk in {tiny}), "
        f"{','.join(args.dtb_codecs)} x {','.join(args.dtb_layouts)}: {counts}")
    results = []
    last = {}      # (peer, codec, layout) -> [(count, wall)] of its runs
    cutoff = {}    # (peer, codec, layout) -> why it stopped
    for n in counts:
        t0 = time.monotonic()
        for codec in args.dtb_codecs:
            for layout in args.dtb_layouts:
                ext = ["-E"] if layout == "external" else []
                out = os.path.join(out_dir, f"dtbs-{codec}-{layout}.fit")
                results.append(measure("fitpack", codec, layout,
                                       [args.fitpack] + extra + common + ["-c", codec] + ext +
                                       ["-o", out, "--files-from", lists[n]],
                                       out, env=env, cwd=tiny, series="dtbs", x=n))
                for name, script in peers:
                    key = (name, codec, layout)
                    if key in cutoff:
                        continue
                    if key in last:
                        prev_n, prev_wall = last[key][-1]
                        predicted = predict(last[key], n)
                        if predicted > args.peer_limit:
                            cutoff[key] = (prev_n, f"{n:,}: {predicted:.0f} s predicted")
                            log(f"  {name} {codec} {layout}: stops at {prev_n:,} DTBs "
                                f"({n:,} would take about {predicted:.0f} s)")
                            continue
                    r = measure(name, codec, layout,
                                [DEBIAN_PYTHON, script] + common + ["-c", codec] + ext +
                                ["-o", out, "@" + lists[n]],
                                out, env=env, cwd=tiny, series="dtbs", x=n, timeout=PEER_KILL * args.peer_limit)
                    results.append(r)
                    if r.ok:
                        last.setdefault(key, []).append((n, r.wall))
                    else:
                        cutoff[key] = (last[key][-1][0] if key in last else 0, f"{n:,}: {r.error}")
        timings.append((f"DTB series: {n:,}", time.monotonic() - t0))
    for key, runs in last.items():
        cutoff.setdefault(key, (runs[-1][0], None))
    info = {"dtb_bytes": dtb_bytes, "disk": disk, "extra": extra, "peers": [name for name, _ in peers],
            "path": paths[-1], "counts": counts}
    return results, cutoff, info


def predict(runs, n):
    """A peer's time at n DTBs from its runs [(count, wall)], smallest count
    first: start-up (the first run's time) plus a part that grows as n^k,
    k from the last two runs and at least PEER_GROWTH. Small runs are mostly
    start-up and understate the growth: make_fit.py 6.12 grows its FIT buffer
    64 KiB at a time (fsw.INC_SIZE), so its time turns quadratic (none,
    embedded: 2.5 s at 10,000 DTBs, 127 s at 100,000)."""
    start = runs[0][1]
    n1, t1 = runs[-1]
    k = PEER_GROWTH
    if len(runs) >= 3:
        n0, t0 = runs[-2]
        if t0 > start and t1 > t0:
            k = max(k, math.log((t1 - start) / (t0 - start)) / math.log(n1 / n0))
    return start + max(0.0, t1 - start) * (n / n1) ** k


def per_dtb(rows, r, attr):
    """The increase of attr (wall or rss_kib) from the smallest count's run
    of the same tool, codec and layout, per DTB added; None for that run."""
    same = [o for o in rows if o.ok and (o.tool, o.codec, o.layout) == (r.tool, r.codec, r.layout)]
    if not same or not r.ok:
        return None
    first = min(same, key=lambda o: o.x)
    if r.x <= first.x:
        return None
    return (getattr(r, attr) - getattr(first, attr)) / (r.x - first.x)


def dtb_goal(r):
    for n, mib in plot_dtbs.GOALS:
        if r.x == n:
            return f"≤{mib} MiB {mark(r.rss_mib <= mib)}"
    return ""


def dtb_table(args, results, cutoff, info):
    peers = info["peers"]
    lines = [f"DTB-count series: N tiny distinct DTBs ({info['dtb_bytes']} bytes each, bench/gen-dtbs; "
             f"{human_bytes(info['disk'])} of disk for {max(info['counts']):,}) and a 1 MiB kernel; "
             f"paths like `{info['path']}`, relative to the run's directory, read from a list "
             f"(fitpack `--files-from LIST`, make_fit.py `@LIST`); "
             f"`{' '.join(['fitpack'] + info['extra'])} -c CODEC [-E]`. One run each. "
             f"µs/DTB and B/DTB: the increase in time and peak RSS from the {min(info['counts']):,}-DTB run, "
             f"per DTB added (flat when the growth is linear; shown from 1,000 DTBs added). Goal (issue 15): peak RSS "
             + " and ".join(f"≤ {mib} MiB at {n:,} DTBs" for n, mib in plot_dtbs.GOALS)
             + "; time linear.", ""]
    head = ["DTBs", "codec", "layout", "fitpack s", "µs/DTB", "peak RSS MiB", "B/DTB", "goal", "output"]
    for name in peers:
        short = name.replace("make_fit.py ", "")
        head += [f"{name} s", f"{short} MiB", f"×{short}"]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "|".join(["---"] * len(head)) + "|")
    by = {(r.tool, r.codec, r.layout, r.x): r for r in results}
    for codec in args.dtb_codecs:
        for layout in args.dtb_layouts:
            for n in info["counts"]:
                r = by.get(("fitpack", codec, layout, n))
                if r is None:
                    continue
                row = [f"{n:,}", codec, "-E" if layout == "external" else layout]
                if r.ok:
                    # Over fewer than 1,000 DTBs added, the increase is noise.
                    few = n - min(info["counts"]) < 1000
                    us = None if few else per_dtb(results, r, "wall")
                    b = None if few else per_dtb(results, r, "rss_kib")
                    row += [fmt_s(r), "—" if us is None else f"{us * 1e6:.1f}", f"{r.rss_mib:.1f}",
                            "—" if b is None else f"{b * 1024:.0f}", dtb_goal(r), human_bytes(r.out_bytes)]
                else:
                    row += [f"failed: {r.error}", "", "", "", "", ""]
                for name in peers:
                    p = by.get((name, codec, layout, n))
                    stop = cutoff.get((name, codec, layout))
                    if p is None and stop and n > stop[0]:
                        row += ["cut off", "—", "—"]
                    elif p is None:
                        row += ["—", "—", "—"]
                    elif not p.ok:
                        row += [p.error, "—", "—"]
                    else:
                        x = ratio(p, r)
                        row += [fmt_s(p), f"{p.rss_mib:.0f}", "—" if x is None else f"{x:.1f}×"]
                lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    # Linearity: µs/DTB at the largest count against the 10,000-DTB one.
    lin = []
    for codec in args.dtb_codecs:
        for layout in args.dtb_layouts:
            rs = sorted((r for r in results if r.ok and (r.tool, r.codec, r.layout) == ("fitpack", codec, layout)
                         and r.x >= 10000), key=lambda r: r.x)
            if len(rs) >= 2:
                a, z = per_dtb(results, rs[0], "wall"), per_dtb(results, rs[-1], "wall")
                if a and z:
                    lin.append(f"{codec} {'-E' if layout == 'external' else layout} {z / a:.2f} "
                               f"({rs[-1].x:,} / {rs[0].x:,})")
    if lin:
        lines.append("Linearity: µs/DTB at the largest count / at the first from 10,000 on: " + ", ".join(lin)
                     + " (1 is linear).")
    if peers:
        stops = []
        for name in peers:
            for codec in args.dtb_codecs:
                for layout in args.dtb_layouts:
                    n, why = cutoff.get((name, codec, layout), (0, None))
                    lay = "-E" if layout == "external" else layout
                    stops.append(f"{name} {codec} {lay}: to {n:,}" + (f" (then {why})" if why else ""))
        lines.append(f"Peers run a count only while their predicted time (start-up, the smallest count's time, plus "
                     f"a part growing as n^k, k from the previous two counts and at least {PEER_GROWTH:g}) is at most {args.peer_limit:.0f} s, and are killed "
                     f"after {PEER_KILL * args.peer_limit:.0f} s. "
                     f"Cutoffs: " + "; ".join(stops) + ". ×N: peer time / fitpack time.")
    return "\n".join(lines)


def plot_dtb_series(args, results, results_dir, machine, info):
    rows = [dict(tool=r.tool, codec=r.codec, layout=r.layout, x=r.x, wall_s=r.wall, rss_mib=r.rss_mib)
            for r in results if r.ok]
    before = []
    for spec in args.before:
        label, path = plot_dtbs.parse_before(spec)
        if not os.path.exists(path):
            log(f"bench: {path} is missing: no '{label}' series in the plot")
            continue
        before.append((label, [b for b in plot_dtbs.read_csv(path) if b["codec"] in args.dtb_codecs]))
    png = os.path.join(results_dir, "scale-dtbs.png")
    return plot_dtbs.plot(rows, png, f"DTB-count series ({machine})",
                          f"DTBs ({info['dtb_bytes']} bytes each), plus a 1 MiB kernel", before)


def plot(results, results_dir, machine):
    """The payload series' PNG: time (log-log) and peak RSS against the input
    (the DTB-count series has its own, plot_dtbs.py)."""
    if shutil.which("gnuplot") is None:
        log("bench: gnuplot not found, no plots (apt-get install gnuplot-nox)")
        return []
    pngs = []
    for series, xlabel in (("payload", "payload bytes (kernel-like), plus one DTB"),):
        rows = [r for r in results if r.series == series and r.ok]
        if not rows:
            continue
        order = lambda c: CODECS.index(c) if c in CODECS else 99  # noqa: E731
        lines_ = sorted(set((r.codec, r.layout) for r in rows), key=lambda cl: (order(cl[0]), cl[1]))
        layouts = set(layout for _, layout in lines_)
        dats = []
        for c, layout in lines_:
            dat = os.path.join(results_dir, f"scale-{series}-{c}-{layout}.dat")
            with open(dat, "w") as f:
                f.write("# x wall_s rss_mib\n")
                for r in sorted((r for r in rows if (r.codec, r.layout) == (c, layout)), key=lambda r: r.x):
                    f.write(f"{r.x} {r.wall:.4f} {r.rss_mib:.2f}\n")
            dats.append((c if len(layouts) == 1 else f"{c} {'-E' if layout == 'external' else layout}", dat))
        png = os.path.join(results_dir, f"scale-{series}.png")
        time_plots = ", ".join(f"'{d}' using 1:2 with linespoints title '{c}'" for c, d in dats)
        rss_plots = ", ".join(f"'{d}' using 1:3 with linespoints title '{c}'" for c, d in dats)
        script = f"""
set terminal pngcairo size 1200,450 font ',10' noenhanced
set output '{png}'
set multiplot layout 1,2 title 'fitpack scale series: {series} ({machine})'
set logscale xy
set grid
set key top left
set xlabel '{xlabel}'
set ylabel 'wall time (s)'
set title 'time (log-log; linear scaling is a slope-1 line)'
plot {time_plots}
unset logscale y
set logscale x
set yrange [0:*]
set ylabel 'peak RSS (MiB)'
set title 'peak RSS (target: at most {RSS_TARGET_MIB} MiB)'
plot {rss_plots}, {RSS_TARGET_MIB} with lines dashtype 2 lc rgb 'red' title '{RSS_TARGET_MIB} MiB'
unset multiplot
"""
        gp = os.path.join(results_dir, f"scale-{series}.gp")
        with open(gp, "w") as f:
            f.write(script)
        r = subprocess.run(["gnuplot", gp], capture_output=True, text=True)
        if r.returncode != 0:
            log(f"bench: gnuplot failed: {r.stderr.strip()}")
        else:
            pngs.append(png)
    return pngs


# ---------------------------------------------------------------------------

def machine_line(jobs):
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"model name\s*:\s*(.*)", f.read())
            cpu = m.group(1).strip() if m else cpu
    except OSError:
        pass
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    # Other work on the machine skews every number: say how busy it was.
    load = os.getloadavg()[0]
    return (f"{os.cpu_count()} × {cpu}, {jobs} threads used, Linux {platform.release()}, {date}, "
            f"load average {load:.1f} at the start")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--fitpack", required=True, help="the fitpack to measure")
    p.add_argument("--codec-limit", help="bench/codec_limit, built from the same tree (for the comparison)")
    p.add_argument("--fitpack-arg", action="append", default=[], metavar="ARG",
                   help="extra argument for fitpack (repeatable); -j NPROC is added when fitpack has -j")
    p.add_argument("--make-fit-612", help="Linux 6.12's make_fit.py (default: from /usr/src/linux-source-6.12.tar.xz)")
    p.add_argument("--newest-make-fit", help="the newest upstream make_fit.py (kept out of the repository)")
    p.add_argument("--quick", action="store_true", help="skip make_fit.py 6.12's slowest runs (none, lzma)")
    p.add_argument("--all", action="store_true", help="everything: comparison, signing, both scale series")
    p.add_argument("--scale", action="store_true", help="also run the scale series (payload size, DTB count)")
    p.add_argument("--scale-only", action="store_true", help="run only the scale series")
    p.add_argument("--dtbs-only", action="store_true", help="run only the DTB-count series")
    p.add_argument("--signing", action="store_true", help="also run the signing series (signed against unsigned)")
    p.add_argument("--signing-only", action="store_true", help="run only the signing series")
    p.add_argument("--codecs", default=",".join(CODECS), help="comma-separated (default: %(default)s)")
    p.add_argument("--layouts", default=",".join(LAYOUTS), help="comma-separated (default: %(default)s)")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="threads for fitpack -j and the limit")
    p.add_argument("--scale-dtbs", default=DTB_COUNTS, help="DTB counts (comma-separated; '' for none; "
                   "default %(default)s)")
    p.add_argument("--dtb-codecs", default="none,gzip", help="codecs of the DTB-count series (default %(default)s)")
    p.add_argument("--dtb-layouts", default=",".join(LAYOUTS), help="its layouts (default %(default)s)")
    p.add_argument("--no-dtb-peers", action="store_true", help="no make_fit.py in the DTB-count series")
    p.add_argument("--peer-limit", type=float, default=PEER_LIMIT_S, metavar="SECONDS",
                   help="a peer runs a DTB count only while its time predicted from the previous count is at "
                   "most this (default %(default)s); it is killed after 1.5 times this")
    p.add_argument("--before", action="append", metavar="[LABEL=]CSV",
                   help="an earlier run's DTB-count rows, drawn dotted in its plot (repeatable; default: "
                   "the 2026-11-27 figures, docs/bench/dtbs-before.csv; '' for none)")
    p.add_argument("--scale-payloads", default="1M,10M,100M,1G,3.5G", help="payload sizes ('' for none)")
    p.add_argument("--scale-codecs", default="none,zstd,gzip", help="codecs of the payload series")
    p.add_argument("--scale-layouts", default="external",
                   help="layouts of the payload series (embedded is skipped from 2 GiB on)")
    p.add_argument("--keep-scale-inputs", action="store_true", help="keep the 1 GiB and larger payloads")
    p.add_argument("--work", default=os.path.join(ROOT, "build", "bench"), help="work directory")
    p.add_argument("--results", help="results directory (default: WORK/results)")
    args = p.parse_args(argv)
    args.codecs = [c for c in args.codecs.split(",") if c]
    args.layouts = [x for x in args.layouts.split(",") if x]
    args.scale_codecs = [c for c in args.scale_codecs.split(",") if c]
    args.scale_layouts = [x for x in args.scale_layouts.split(",") if x]
    args.scale_dtbs = [int(x) for x in args.scale_dtbs.split(",") if x]
    args.dtb_codecs = [c for c in args.dtb_codecs.split(",") if c]
    args.dtb_layouts = [x for x in args.dtb_layouts.split(",") if x]
    args.before = [b for b in (args.before if args.before is not None else [DTB_BEFORE]) if b]
    if args.all:
        args.signing = args.scale = True
    # What runs: the comparison unless an -only option says otherwise.
    run_compare = not (args.scale_only or args.signing_only or args.dtbs_only)
    run_signing = (args.signing or args.signing_only) and not (args.scale_only or args.dtbs_only)
    run_payloads = (args.scale or args.scale_only) and not (args.signing_only or args.dtbs_only)
    run_dtbs = (args.scale or args.scale_only or args.dtbs_only) and not args.signing_only and args.scale_dtbs
    if run_compare and not args.codec_limit:
        sys.exit("bench: the comparison needs --codec-limit (or run only a series: --scale-only, --dtbs-only, ...)")
    args.scale_payloads = [parse_size(x) for x in args.scale_payloads.split(",") if x]
    for tool in (args.fitpack, args.codec_limit if run_compare else args.fitpack):
        if not os.access(tool, os.X_OK):
            sys.exit(f"bench: {tool} is not an executable")
    if not os.access("/usr/bin/time", os.X_OK):
        sys.exit("bench: /usr/bin/time is missing: apt-get install time")
    args.fitpack = os.path.abspath(args.fitpack)
    args.codec_limit = args.codec_limit and os.path.abspath(args.codec_limit)

    work = os.path.abspath(args.work)
    results_dir = os.path.abspath(args.results or os.path.join(work, "results"))
    os.makedirs(results_dir, exist_ok=True)
    machine = machine_line(args.jobs)
    timings = []
    started = time.monotonic()
    report = [f"# fitpack benchmark\n\n{machine}\n"]
    rows = []

    if run_compare:
        results, peers, total_in, ndtbs, extra, image_bytes = compare(args, work, results_dir, timings)
        report.append(tables(args, results, peers, total_in, ndtbs, machine, extra, image_bytes))
        rows += results.values()
    if run_signing:
        gresults, key_names, nconfs, extra = signing(args, work, timings)
        report.append("\n" + signing_table(args, gresults, key_names, nconfs, extra))
        rows += gresults.values()
    if run_dtbs:
        dresults, cutoff, info = dtb_series(args, work, timings)
        report.append("\n## DTB-count series\n")
        report.append(dtb_table(args, dresults, cutoff, info))
        png = plot_dtb_series(args, dresults, results_dir, machine, info)
        if png:
            report.append(f"\n![{os.path.basename(png)}]({os.path.relpath(png, results_dir)})")
        rows += dresults
    if run_payloads and args.scale_payloads:
        sresults = scale(args, work, results_dir, timings)
        report.append("\nPayload-size series (fitpack alone; peak RSS target: at most 64 MiB):\n")
        report.append(scale_table(sresults))
        pngs = plot(sresults, results_dir, machine)
        report.extend(f"\n![{os.path.basename(p)}]({os.path.relpath(p, results_dir)})" for p in pngs)
        rows += sresults

    timings.append(("total", time.monotonic() - started))
    report.append("\nBench timing: " + ", ".join(f"{name} {secs:.0f} s" for name, secs in timings))
    text = "\n".join(report) + "\n"
    print("\n" + text)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    for name in ("results.md", f"results-{stamp}.md"):
        with open(os.path.join(results_dir, name), "w") as f:
            f.write(text)
    for name in ("results.csv", f"results-{stamp}.csv"):
        with open(os.path.join(results_dir, name), "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["series", "x", "tool", "codec", "layout", "wall_s", "peak_rss_kib", "output_bytes", "error"])
            for r in rows:
                w.writerow([r.series or "compare", r.x or "", r.tool, r.codec, r.layout,
                            f"{r.wall:.4f}" if r.wall is not None else "", r.rss_kib or "", r.out_bytes or "",
                            r.error or ""])
    log(f"bench: results in {results_dir}/results.md and results.csv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
