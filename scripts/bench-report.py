#!/usr/bin/env python3
"""Prints criterion's medians per group with the ratio to each group's first
entry, and for thread groups the 2-thread over 1-thread scaling of reads/s.
Usage: bench-report.py [target/criterion]"""
import json
import pathlib
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "target/criterion")
for group in sorted(p for p in root.iterdir() if p.is_dir() and p.name != "report"):
    rows = []
    for bench in sorted(group.iterdir()):
        est = bench / "new" / "estimates.json"
        name = bench / "new" / "benchmark.json"
        if not est.exists():
            continue
        median = json.loads(est.read_text())["median"]["point_estimate"]
        title = json.loads(name.read_text())["function_id"] if name.exists() else bench.name
        rows.append((title, median))
    if not rows:
        continue
    print(f"{group.name}: median ns per call (ratio to {rows[0][0]})")
    for title, median in rows:
        print(f"  {median:10.2f} ns  x{median / rows[0][1]:6.2f}  {title}")
    # Thread groups: "X, 1 thread" beside "X, 2 threads" gives the scaling
    # (reads/s of 2 threads over those of 1; 2.0 is no contention at all).
    by_title = dict(rows)
    for title, median in rows:
        if title.endswith(", 1 thread"):
            two = by_title.get(title[: -len("1 thread")] + "2 threads")
            if two:
                name = title[: -len(", 1 thread")]
                print(f"  scaling  x{2 * median / two:5.2f}  reads/s of 2 threads over 1: {name}")
