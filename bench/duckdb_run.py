#!/usr/bin/env python3
"""Run every bench/queries/*.sql on DuckDB over an exported Parquet directory.

Usage: duckdb_run.py --parquet DIR --queries DIR [--repeat N] [--only NAME] --out FILE

Each SQL file sees three views over the Parquet files (events, persons,
residences; `pseudonym` is the person key) and two macros: age_on(birth, day)
(whole years, NULL before birth or without a birth date) and age_band10(age)
('0-9' ... '90+', 'unknown'). Writes JSON {name: {"rows": [[...]], "ms": [...]}}.
"""
import argparse
import json
import os
import sys
import time

import duckdb

SETUP = """
CREATE VIEW events AS SELECT * FROM read_parquet('{dir}/events.parquet');
CREATE VIEW persons AS SELECT * FROM read_parquet('{dir}/persons.parquet');
CREATE VIEW residences AS SELECT * FROM read_parquet('{dir}/residences.parquet');
CREATE MACRO age_on(b, d) AS CASE WHEN b IS NULL OR d < b THEN NULL
  ELSE year(d) - year(b) - CASE WHEN month(d) * 100 + day(d) < month(b) * 100 + day(b) THEN 1 ELSE 0 END END;
CREATE MACRO age_band10(a) AS CASE WHEN a IS NULL THEN 'unknown' WHEN a >= 90 THEN '90+'
  ELSE concat(CAST(a // 10 * 10 AS VARCHAR), '-', CAST(a // 10 * 10 + 9 AS VARCHAR)) END;
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--parquet", required=True)
    ap.add_argument("--queries", required=True)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--only", action="append", default=[])
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    con = duckdb.connect()
    con.execute(SETUP.format(dir=os.path.abspath(a.parquet).replace("'", "''")))
    out = {}
    for f in sorted(os.listdir(a.queries)):
        if not f.endswith(".sql"):
            continue
        name = f[:-4]
        if a.only and name not in a.only:
            continue
        sql = open(os.path.join(a.queries, f), encoding="utf-8").read()
        times = []
        rows = None
        for _ in range(max(1, a.repeat)):
            t = time.perf_counter()
            rows = con.execute(sql).fetchall()
            times.append((time.perf_counter() - t) * 1000.0)
        out[name] = {"rows": [[str(x) for x in r] for r in rows], "ms": times}
        print(f"duckdb {name}: {sorted(times)[len(times) // 2]:.1f} ms", file=sys.stderr)
    with open(a.out, "w", encoding="utf-8") as fh:
        json.dump(out, fh, indent=1)


if __name__ == "__main__":
    main()
