#!/usr/bin/python3
"""Draws streaming latency percentiles against concurrent stream count from
scripts/bench-streams.sh's results.jsonl (bench-stream lines plus "mode"
and "machine"), batched and unbatched, with the 250 ms p99 goal; the title
names the machine the lines say they were measured on (or --machine).

    /usr/bin/python3 scripts/plot-latency.py results.jsonl latency.png [--machine "2-core ..."]
"""
import argparse
import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("results")
    ap.add_argument("png")
    ap.add_argument("--machine", help="what the runs were measured on (default: their \"machine\" field)")
    args = ap.parse_args()
    runs = [json.loads(line) for line in open(args.results) if line.strip()]
    machine = args.machine or ", ".join(sorted({r["machine"] for r in runs if r.get("machine")}))
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    styles = {"batched": "-", "unbatched": "--"}
    colors = {"p50_ms": "tab:green", "p95_ms": "tab:orange", "p99_ms": "tab:red"}
    for mode in ("batched", "unbatched"):
        rows = sorted((r for r in runs if r["mode"] == mode), key=lambda r: r["streams"])
        if not rows:
            continue
        for key, color in colors.items():
            ax.plot([r["streams"] for r in rows], [r[key] for r in rows], styles[mode], color=color, marker="o",
                    markersize=3, label=f"{key[:3]} {mode}")
        for r in rows:
            if r["errors"]:
                ax.annotate(f"{r['errors']} err", (r["streams"], r["p99_ms"]), fontsize=7, color="black")
    ax.axhline(250, color="gray", linewidth=0.8, linestyle=":")
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))  # 1, 10, 100 ms, not 10^k
    ax.text(0.22, 250, "p99 goal 250 ms", transform=ax.get_yaxis_transform(), ha="left", va="bottom",
            color="gray", fontsize=8)
    ax.set_xlabel("concurrent real-time streams (100 ms chunks)")
    ax.set_ylabel("chunk latency (ms), send -> covering response")
    ax.set_title(f"asr-server streaming latency, {machine or 'machine not recorded'}")
    ax.legend(fontsize=8, ncol=2)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(args.png)


if __name__ == "__main__":
    main()
