#!/usr/bin/python3
"""Draws a training curve from asr-train's OUT/train_log.jsonl: training
loss and dev CER against training wall time, to a PNG.

    /usr/bin/python3 scripts/plot-training.py OUT/train_log.jsonl curve.png [--title T]
"""
import argparse
import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("log")
    ap.add_argument("png")
    ap.add_argument("--title", default="LN-LSTM CTC training")
    args = ap.parse_args()
    steps, dev = [], []
    with open(args.log) as f:
        for line in f:
            e = json.loads(line)
            if e["kind"] == "step":
                steps.append((e["elapsed_seconds"] / 60, e["loss"]))
            elif e["kind"] == "validation":
                dev.append((e["elapsed_seconds"] / 60, 100 * e["dev_cer"]))
    fig, ax1 = plt.subplots(figsize=(8, 4.5), dpi=110)
    if steps:
        ax1.plot(*zip(*steps), color="tab:blue", linewidth=1, label="train loss (CTC / char)")
    ax1.set_xlabel("training wall time (minutes)")
    ax1.set_ylabel("train loss", color="tab:blue")
    ax1.set_yscale("log")
    ax2 = ax1.twinx()
    if dev:
        ax2.plot(*zip(*dev), color="tab:red", marker="o", markersize=3, label="dev CER (%)")
        best = min(dev, key=lambda p: p[1])
        ax2.annotate(f"best {best[1]:.2f}%", best, textcoords="offset points", xytext=(-10, 12), color="tab:red")
    ax2.set_ylabel("dev CER (%)", color="tab:red")
    ax2.set_ylim(0, max([p[1] for p in dev] + [10]) * 1.05)
    ax1.set_title(args.title)
    ax1.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(args.png)
    print(f"wrote {args.png}")


if __name__ == "__main__":
    main()
