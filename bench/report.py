#!/usr/bin/env python3
"""Compare halsohub's exact results with DuckDB's and print latencies.

Usage: report.py HALSOHUB.json DUCKDB.json
Exits 1 (loudly) when any query's numbers differ.
"""
import json
import statistics
import sys


def engine_rows(out):
    """An exact halsohub result as rows comparable with the SQL's rows."""
    t = out["type"]
    if t == "count":
        rows = [[out["count"]]]
    elif t == "funnel":
        rows = [[i, s["count"]] for i, s in enumerate(out["steps"])]
    elif t == "proportion":
        rows = [[out["numerator"], out["denominator"]]]
    elif t == "strata":
        rows = [c["key"] + [c["count"]] for c in out["cells"]]
    elif t == "time_series":
        rows = [[p["period"]] + ([p["key"]] if "key" in p else []) + [p["count"]]
                for p in out["points"] if p["count"] > 0]
    else:
        raise SystemExit(f"unknown output type {t}")
    return sorted([str(x) for x in r] for r in rows)


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def main():
    hh = json.load(open(sys.argv[1]))
    dk = json.load(open(sys.argv[2]))
    bad = []
    ratios = []
    print(f"{'query':34} {'halsohub p50':>12} {'p95':>9} {'duckdb p50':>11} {'p95':>9} {'ratio':>7}  rows")
    for name, q in sorted(hh["queries"].items()):
        d = dk.get(name)
        if d is None:
            bad.append(f"{name}: no SQL result")
            continue
        mine = engine_rows(q["result"]["output"])
        theirs = sorted(d["rows"])
        if mine != theirs:
            bad.append(f"{name}: halsohub {mine[:8]} != duckdb {theirs[:8]}")
        h50, h95 = statistics.median(q["ms"]), pct(q["ms"], 0.95)
        d50, d95 = statistics.median(d["ms"]), pct(d["ms"], 0.95)
        ratio = d50 / h50 if h50 > 0 else float("inf")
        ratios.append(ratio)
        print(f"{name:34} {h50:10.2f}ms {h95:7.2f}ms {d50:9.2f}ms {d95:7.2f}ms {ratio:6.1f}x  {len(mine)}")
    print(f"median ratio DuckDB/halsohub: {statistics.median(ratios):.1f}x; "
          f"slowest halsohub p50: {max(statistics.median(q['ms']) for q in hh['queries'].values()):.2f} ms")
    if bad:
        print("\nMISMATCH: exact counts differ between halsohub and DuckDB:", file=sys.stderr)
        for b in bad:
            print("  " + b, file=sys.stderr)
        sys.exit(1)
    print(f"all {len(hh['queries'])} queries: exact counts identical")


if __name__ == "__main__":
    main()
