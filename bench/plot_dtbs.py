#!/usr/bin/env python3
"""Plot the DTB-count series: time and peak RSS against the number of DTBs.

    python3 bench/plot_dtbs.py build/bench/results/results.csv \\
        [--before docs/bench/dtbs-before.csv] [-o scale-dtbs.png]

bench/runner.py calls plot() after the series; run this to plot a results.csv
again (rows of series "dtbs"), for instance with another --before. Both panels
have a log x axis; time is log-log (linear growth is a slope-1 line) and so
is peak RSS, whose goal (issue 15) is drawn as a step: at most 64 MiB up to
100,000 DTBs, at most 128 MiB at 1,000,000. fitpack is drawn solid, the
make_fit.py peers dashed (or dash-dotted) in the same colour, the "before" series dotted.
Needs gnuplot (gnuplot-nox).
"""

import argparse
import csv
import os
import shutil
import subprocess
import sys

# (DTB count, peak RSS at most, MiB)
GOALS = [(100_000, 64), (1_000_000, 128)]
CODEC_ORDER = ["none", "gzip", "zstd", "lzma", "lz4"]
# One colour per codec and layout, shared by fitpack, its peers and the
# "before" series.
COLOURS = {("none", "embedded"): "#1f77b4", ("none", "external"): "#17becf",
           ("gzip", "embedded"): "#d62728", ("gzip", "external"): "#ff7f0e",
           ("zstd", "embedded"): "#2ca02c", ("zstd", "external"): "#98df8a"}


def read_csv(path, series="dtbs"):
    """Rows of one series from a results.csv (lines starting '#' skipped),
    as dicts with x, wall_s and rss_mib numbers; failed runs left out."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(line for line in f if not line.startswith("#")))
    out = []
    for r in rows:
        if r["series"] != series or r.get("error") or not r["wall_s"] or not r["peak_rss_kib"]:
            continue
        out.append(dict(r, x=int(r["x"]), wall_s=float(r["wall_s"]), rss_mib=int(r["peak_rss_kib"]) / 1024))
    return out


def lay(layout):
    return "-E" if layout == "external" else layout


def plot(rows, png, title, xlabel, before=()):
    """rows: dicts with tool, codec, layout, x, wall_s, rss_mib. before:
    (label, rows) pairs. Writes png and the .gp and .dat files beside it;
    returns png, or None without gnuplot or when gnuplot fails."""
    if shutil.which("gnuplot") is None:
        print("bench: gnuplot not found, no plot (apt-get install gnuplot-nox)", file=sys.stderr)
        return None
    base = os.path.splitext(png)[0]
    order = lambda c: CODEC_ORDER.index(c) if c in CODEC_ORDER else 99  # noqa: E731
    lines = []  # (title, dat, style)

    def add(name, tag, rs, style):
        dat = f"{base}-{tag}.dat"
        with open(dat, "w") as f:
            f.write("# dtbs wall_s rss_mib\n")
            for r in sorted(rs, key=lambda r: r["x"]):
                f.write(f"{r['x']} {r['wall_s']:.4f} {r['rss_mib']:.2f}\n")
        lines.append((name, dat, style))

    tools = sorted(set(r["tool"] for r in rows), key=lambda t: (t != "fitpack", t))
    for ti, tool in enumerate(tools):
        keys = sorted(set((r["codec"], r["layout"]) for r in rows if r["tool"] == tool),
                      key=lambda k: (order(k[0]), k[1]))
        for codec, layout in keys:
            rs = [r for r in rows if (r["tool"], r["codec"], r["layout"]) == (tool, codec, layout)]
            colour = COLOURS.get((codec, layout), "#7f7f7f")
            if tool == "fitpack":
                style = f"linespoints lw 2 pt 7 ps 0.8 lc rgb '{colour}'"
            else:
                style = f"linespoints lw 1.5 dt {(2, 4, 5)[(ti - 1) % 3]} pt {(4, 8, 12)[(ti - 1) % 3]} ps 0.9 lc rgb '{colour}'"
            tag = f"{tool}-{codec}-{layout}".replace(" ", "_").replace(".", "")
            add(f"{tool} {codec} {lay(layout)}", tag, rs, style)
    for bi, (label, brows) in enumerate(before):
        keys = sorted(set((r["codec"], r["layout"]) for r in brows), key=lambda k: (order(k[0]), k[1]))
        for codec, layout in keys:
            rs = [r for r in brows if (r["codec"], r["layout"]) == (codec, layout)]
            colour = COLOURS.get((codec, layout), "#7f7f7f")
            add(f"{label}: {codec} {lay(layout)}", f"before{bi}-{codec}-{layout}", rs,
                f"linespoints lw 1 dt 3 pt {(6, 10, 14)[bi % 3]} ps 0.7 lc rgb '{colour}'")
    if not lines:
        return None

    xmax = max([r["x"] for r in rows] + [r["x"] for _, b in before for r in b] + [GOALS[-1][0]])
    goal = f"{base}-goal.dat"
    with open(goal, "w") as f:
        # A step: the lower goal up to its count, then the next goal.
        f.write("# dtbs rss_mib_at_most\n")
        prev = 1
        for n, mib in GOALS:
            f.write(f"{prev} {mib}\n{n} {mib}\n")
            prev = n
    # Room above the lines for the key.
    ymax = 8 * max([r["rss_mib"] for r in rows] + [r["rss_mib"] for _, b in before for r in b] + [GOALS[-1][1]])
    goal_points = ", ".join(f"{n:,} DTBs: {mib} MiB" for n, mib in GOALS)

    def plots(col):
        return ", ".join(f"'{dat}' using 1:{col} with {style} title '{name}'" for name, dat, style in lines)

    script = f"""
set terminal pngcairo size 1500,620 font ',10' noenhanced
set output '{png}'
set multiplot layout 1,2 title '{title}'
set logscale xy
set grid
set format x '%.0s%c'
set xrange [5:{xmax * 2}]
set xlabel '{xlabel}'
set ylabel 'wall time (s)'
set title 'time (log-log; linear growth is a slope-1 line; key on the right)'
unset key
plot {plots(2)}
set key top left font ',8' spacing 0.9 opaque box
set yrange [*:{ymax}]
set ylabel 'peak RSS (MiB)'
set title 'peak RSS (goal: {goal_points})'
plot {plots(3)}, '{goal}' using 1:2 with lines lw 2 dt 2 lc rgb 'black' title 'goal', \\
     '{goal}' every 2::1 using 1:2 with points pt 9 ps 1.5 lc rgb 'black' notitle
unset multiplot
"""
    gp = base + ".gp"
    with open(gp, "w") as f:
        f.write(script)
    r = subprocess.run(["gnuplot", gp], capture_output=True, text=True)
    if r.returncode != 0:
        print(f"bench: gnuplot failed: {r.stderr.strip()}", file=sys.stderr)
        return None
    return png


def parse_before(spec):
    """LABEL=PATH, or PATH (labelled "before")."""
    label, sep, path = spec.partition("=")
    return (label, path) if sep else ("before", spec)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("csv", help="a results.csv with rows of series 'dtbs'")
    p.add_argument("--before", action="append", default=[], metavar="[LABEL=]CSV",
                   help="a earlier run's rows, drawn dotted (repeatable)")
    p.add_argument("-o", "--output", help="the PNG (default: scale-dtbs.png beside the CSV)")
    p.add_argument("--title", default="DTB-count series")
    p.add_argument("--xlabel", default="DTBs, plus a 1 MiB kernel")
    args = p.parse_args(argv)
    png = os.path.abspath(args.output or os.path.join(os.path.dirname(os.path.abspath(args.csv)), "scale-dtbs.png"))
    before = [(label, read_csv(path)) for label, path in map(parse_before, args.before)]
    out = plot(read_csv(args.csv), png, args.title, args.xlabel, before)
    if out is None:
        return 1
    print(f"bench: wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
