#!/usr/bin/env python3
"""chart.py RESULTS.json OUT.png - bar chart of the ratios to glibc.

Reads the "chart" part of bench/results/results.json written by run.py.
Needs matplotlib (Debian: python3-matplotlib).
"""

import json
import math
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FixedLocator, NullLocator  # noqa: E402

COLORS = {"glibc": "#9e9e9e", "pmalloc": "#d62728", "jemalloc": "#1f77b4",
          "mimalloc": "#2ca02c", "tcmalloc": "#ff7f0e"}


def geomean(xs):
    xs = [x for x in xs if x and x > 0]
    return math.exp(sum(map(math.log, xs)) / len(xs)) if xs else None


def bars(ax, groups, names, values, title, ylabel):
    shown = [n for n in names if n != "glibc"]  # glibc is the 1.0 line
    width = 0.8 / max(1, len(shown))
    allv = [v for g in groups for v in values[g].values() if v]
    lo = min(allv + [1.0]) / 1.3
    hi = max(allv + [1.0]) * 1.3
    for i, n in enumerate(shown):
        xs, ys = [], []
        for j, g in enumerate(groups):
            v = values[g].get(n)
            if v:
                xs.append(j - 0.4 + width * (i + 0.5))
                ys.append(v)
        # Bars grow from the glibc line: up when above 1, down when below.
        ax.bar(xs, [y - 1 for y in ys], width, bottom=1, label=n,
               color=COLORS.get(n), edgecolor="black", linewidth=0.4)
        for x, y in zip(xs, ys):
            ax.text(x, y * (1.03 if y >= 1 else 0.97), "%.2f" % y,
                    ha="center", va="bottom" if y >= 1 else "top",
                    fontsize=7, rotation=90)
    ax.axhline(1.0, color="black", linewidth=0.8, label="_glibc")
    ax.set_yscale("log")
    ax.set_ylim(lo / 1.15, hi * 1.25)
    ticks = [t for t in (0.1, 0.2, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4, 5, 10,
                         20) if lo <= t <= hi * 1.25]
    ax.yaxis.set_major_locator(FixedLocator(ticks))
    ax.yaxis.set_minor_locator(NullLocator())
    ax.set_yticklabels(["%g" % t for t in ticks])
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels(groups, rotation=30, ha="right")
    ax.set_title(title, fontsize=10)
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", linestyle=":", linewidth=0.5)


def main():
    with open(sys.argv[1]) as f:
        d = json.load(f)["chart"]
    names = d["allocators"]
    speed = dict(d["speed"])
    prev = [w for w in d.get("previous", []) if w in speed]
    if speed:
        ws = list(speed)
        speed["geomean (all)"] = {
            n: geomean([speed[w].get(n) for w in ws]) for n in names}
        if prev and len(prev) < len(ws):
            speed["geomean (prev.)"] = {
                n: geomean([speed[w].get(n) for w in prev]) for n in names}
    mem = d["memory"]

    fig, axes = plt.subplots(
        1, 2, figsize=(14, 5.2),
        gridspec_kw={"width_ratios": [max(1, len(speed)),
                                      max(3.0, len(mem) + 1.5)]})
    if speed:
        bars(axes[0], list(speed), names, speed,
             "Speed vs glibc (glibc time / allocator time; higher is faster)",
             "ratio (log scale)")
    if mem:
        bars(axes[1], list(mem), names, mem,
             "Peak RSS, start-up time\nvs glibc (lower is better)",
             "ratio (log scale)")
    else:
        axes[1].set_axis_off()
    handles, labels = axes[0].get_legend_handles_labels()
    if labels:
        fig.legend(handles, labels, loc="upper center", ncol=len(labels),
                   frameon=False, title="ratio to glibc (= 1, the black line)")
    fig.text(0.5, 0.005, d.get("note", ""), ha="center", fontsize=7,
             style="italic")
    fig.tight_layout(rect=(0, 0.03, 1, 0.93))
    fig.savefig(sys.argv[2], dpi=110)
    return 0


if __name__ == "__main__":
    sys.exit(main())
