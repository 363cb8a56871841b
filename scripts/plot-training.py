#!/usr/bin/python3
"""Draws a training curve from asr-train's OUT/train_log.jsonl: training
loss and dev CER against training wall time, to a PNG.

    /usr/bin/python3 scripts/plot-training.py OUT/train_log.jsonl curve.png [--title T] [--machine "2-core ..."]
"""
import argparse
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("log")
    ap.add_argument("png")
    ap.add_argument("--title", default="LN-LSTM CTC training")
    ap.add_argument("--machine", help="what the run was measured on, appended to the title (the log does not say)")
    args = ap.parse_args()
    steps, dev = [], []
    with open(args.log) as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                e = json.loads(line)
            except json.JSONDecodeError as err:
                sys.exit(f"plot-training: {args.log}:{n}: not a JSON line ({err.msg})")
            if e["kind"] == "step":
                steps.append((e["elapsed_seconds"] / 60, e["loss"]))
            elif e["kind"] == "validation":
                dev.append((e["elapsed_seconds"] / 60, 100 * e["dev_cer"]))
    fig, ax1 = plt.subplots(figsize=(8, 4.5), dpi=110)
    if steps:
        ax1.plot(*zip(*steps), color="tab:blue", linewidth=1, label="train loss (CTC / char)")
    ax1.set_xlabel("training wall time (minutes)")
    ax1.set_ylabel("train loss (log scale)", color="tab:blue")
    ax1.set_yscale("log")
    # Plain numbers at 1-2-5 steps on the loss axis (matplotlib's default
    # shows one 10^0 tick on a loss that spans less than a decade).
    ax1.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax1.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax1.yaxis.set_minor_formatter(NullFormatter())
    ax2 = ax1.twinx()
    if dev:
        ax2.plot(*zip(*dev), color="tab:red", marker="o", markersize=3, label="dev CER (%)")
        best = min(dev, key=lambda p: p[1])
        ax2.plot(*best, marker="*", markersize=13, color="tab:red", markeredgecolor="black", zorder=5)
        ax2.annotate(f"best {best[1]:.2f}%", best, textcoords="offset points", xytext=(0, 16), ha="center",
                     color="tab:red", arrowprops=dict(arrowstyle="-", color="tab:red", lw=0.8))
        if dev[-1] is not best:  # the final weights, which train.export_model "last" exports
            ax2.annotate(f"final {dev[-1][1]:.2f}%", dev[-1], textcoords="offset points", xytext=(0, -18),
                         ha="right", color="tab:red")
    # One CER scale for every figure (log, 1% to 100%): curves compare by eye.
    ax2.set_yscale("log")
    ax2.set_ylim(1, 130)
    ticks = (1, 2, 3, 5, 10, 20, 50, 100)
    ax2.set_yticks(ticks)
    ax2.set_yticklabels([str(t) for t in ticks])
    ax2.minorticks_off()
    ax2.set_ylabel("dev CER (%, log scale)", color="tab:red")
    ax1.set_title(f"{args.title}, {args.machine}" if args.machine else args.title)
    ax1.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(args.png)
    print(f"wrote {args.png}")


if __name__ == "__main__":
    main()
