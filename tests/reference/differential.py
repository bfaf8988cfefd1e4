#!/usr/bin/env python3
"""Differential test: the takt binary against the Python reference planner.

Usage:
  python3 differential.py --takt target/debug/takt --count 200 [--start-seed 1]
  python3 differential.py --reference-only --count 200

For each seed a random scenario (random_scenario.py) is written to a temporary
file and planned by `takt plan FILE --format json` and by mrp_reference.py.
Planned orders (all fields, pegging included), records, exceptions (without
message text) and the document header are compared.  By default takt is also
run with `--pegging none`, whose document must be the same minus the pegs
(`--pegging full|none|both` picks the modes).  The first mismatch
prints the seed, the scenario and a short diff, and exits 1.  The last line
is always `differential: N passed, M failed`.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import traceback
from decimal import Decimal

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import mrp_reference  # noqa: E402
import random_scenario  # noqa: E402

RECORD_ARRAYS = ("gross", "scheduled_receipts", "projected_available", "net",
                 "planned_receipts", "planned_releases")
EXCEPTION_FIELDS = ("item", "kind", "reference", "date", "suggested_date")
ORDER_FIELDS = ("id", "item", "kind", "release_date", "due_date", "quantity")


def run_reference(scenario_text):
    scenario = json.loads(scenario_text, parse_float=Decimal, parse_int=Decimal)
    # Round-trip through JSON text so both sides are compared in the same form.
    return json.loads(json.dumps(mrp_reference.plan(scenario)))


def run_takt(takt, path, pegging="full"):
    cmd = [takt, "plan", path, "--format", "json"]
    if pegging != "full":
        cmd += ["--pegging", pegging]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        return None, f"takt exited with {proc.returncode}\nstderr:\n{proc.stderr.strip()}"
    try:
        return json.loads(proc.stdout), None
    except json.JSONDecodeError as e:
        return None, f"takt printed invalid JSON: {e}\nstdout starts:\n{proc.stdout[:500]}"


def same_quantity(a, b):
    """Exact string equality; the note says when only the spelling differs."""
    if a == b:
        return True, ""
    try:
        if Decimal(a) == Decimal(b):
            return False, " (numerically equal: formatting differs)"
    except Exception:
        pass
    return False, ""


def compare(ref, got, limit=25):
    """List of human-readable differences between two result documents."""
    diffs = []

    def add(msg):
        if len(diffs) < limit:
            diffs.append(msg)

    for key in ("format", "scenario", "calendar", "buckets"):
        if ref.get(key) != got.get(key):
            add(f"{key}: reference={ref.get(key)!r} takt={got.get(key)!r}")

    # ---- planned orders ----
    ro, go = ref.get("planned_orders", []), got.get("planned_orders", [])
    if len(ro) != len(go):
        add(f"planned_orders: reference has {len(ro)}, takt has {len(go)}")
    for i, (a, b) in enumerate(zip(ro, go)):
        label = f"planned_orders[{i}] ({a.get('id')} {a.get('item')})"
        for f in ORDER_FIELDS:
            if a.get(f) != b.get(f):
                add(f"{label}.{f}: reference={a.get(f)!r} takt={b.get(f)!r}")
        if a.get("pegging") != b.get("pegging"):
            add(f"{label}.pegging:\n    reference={json.dumps(a.get('pegging'))}\n"
                f"    takt     ={json.dumps(b.get('pegging'))}")
    for i in range(min(len(ro), len(go)), max(len(ro), len(go))):
        extra = ro[i] if i < len(ro) else go[i]
        side = "reference" if i < len(ro) else "takt"
        add(f"planned_orders[{i}] only in {side}: {json.dumps(extra)}")

    # ---- records ----
    rr, gr = ref.get("records", {}), got.get("records", {})
    if list(rr) != list(gr):
        add(f"records keys: reference={list(rr)} takt={list(gr)}")
    buckets = ref.get("buckets", [])
    for item, a in rr.items():
        b = gr.get(item)
        if b is None:
            continue
        for f in ("source", "low_level_code"):
            if a.get(f) != b.get(f):
                add(f"records.{item}.{f}: reference={a.get(f)!r} takt={b.get(f)!r}")
        for f in RECORD_ARRAYS:
            av, bv = a.get(f, []), b.get(f)
            if not isinstance(bv, list) or len(av) != len(bv):
                add(f"records.{item}.{f}: reference={av} takt={bv}")
                continue
            for t, (x, y) in enumerate(zip(av, bv)):
                ok, note = same_quantity(x, y)
                if not ok:
                    day = buckets[t] if t < len(buckets) else "?"
                    add(f"records.{item}.{f}[{t}] ({day}): reference={x!r} takt={y!r}{note}")

    # ---- exceptions (message text ignored) ----
    def key(e):
        return tuple(e.get(f) for f in EXCEPTION_FIELDS)

    re_, ge = [key(e) for e in ref.get("exceptions", [])], [key(e) for e in got.get("exceptions", [])]
    if re_ != ge:
        missing = [e for e in re_ if e not in ge]
        extra = [e for e in ge if e not in re_]
        if missing or extra:
            for e in missing:
                add(f"exception only in reference: {dict(zip(EXCEPTION_FIELDS, e))}")
            for e in extra:
                add(f"exception only in takt: {dict(zip(EXCEPTION_FIELDS, e))}")
        else:
            add("exceptions: same set, different order:\n    reference=" +
                "\n              ".join(map(str, re_)) + "\n    takt     =" +
                "\n              ".join(map(str, ge)))
    return diffs


def invariants(doc):
    """Properties every plan must have, whatever the planner (self-check)."""
    problems = []
    sums = {}
    for o in doc.get("planned_orders", []):
        total = sum((Decimal(p["quantity"]) for p in o.get("pegging", [])), Decimal(0))
        if total != Decimal(o["quantity"]):
            problems.append(f"{o['id']}: pegs add up to {total}, quantity is {o['quantity']}")
        if any(Decimal(p["quantity"]) <= 0 for p in o.get("pegging", [])):
            problems.append(f"{o['id']}: a peg is not positive")
        key = (o["item"], o["due_date"])
        sums[key] = sums.get(key, Decimal(0)) + Decimal(o["quantity"])
    buckets = doc.get("buckets", [])
    for item, rec in doc.get("records", {}).items():
        prq = [Decimal(x) for x in rec["planned_receipts"]]
        for t, day in enumerate(buckets):
            if prq[t] != sums.get((item, day), Decimal(0)):
                problems.append(f"records.{item}.planned_receipts[{t}] != sum of its orders")
        if rec["source"] == "phantom":
            continue
        gr = [Decimal(x) for x in rec["gross"]]
        sr = [Decimal(x) for x in rec["scheduled_receipts"]]
        pab = [Decimal(x) for x in rec["projected_available"]]
        for t in range(1, len(buckets)):
            if pab[t] != pab[t - 1] + sr[t] + prq[t] - gr[t]:
                problems.append(f"records.{item}: projected_available[{t}] does not balance")
    return problems


def without_pegging(ref):
    """The reference document as `--pegging none` must print it."""
    doc = {}
    for key, value in ref.items():
        doc[key] = value
        if key == "scenario":
            doc["pegging"] = "none"
    doc["planned_orders"] = [{k: v for k, v in o.items() if k != "pegging"}
                             for o in ref["planned_orders"]]
    return doc


def compare_no_pegging(ref, got):
    """`--pegging none`: same document, minus pegs, plus the marker field."""
    want = without_pegging(ref)
    diffs = []
    if list(got)[:3] != list(want)[:3]:
        diffs.append(f"--pegging none: leading keys {list(got)[:3]}, expected {list(want)[:3]}")
    if got.get("pegging") != "none":
        diffs.append(f"--pegging none: \"pegging\" is {got.get('pegging')!r}, expected \"none\"")
    if any("pegging" in o for o in got.get("planned_orders", [])):
        diffs.append("--pegging none: a planned order still has a pegging field")
    return diffs + ["--pegging none: " + d for d in compare(want, got)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--takt", help="path to the takt binary")
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument("--start-seed", type=int, default=1)
    ap.add_argument("--reference-only", action="store_true",
                    help="only run the reference (self-check, no takt needed)")
    ap.add_argument("--pegging", choices=("full", "none", "both"), default="both",
                    help="which takt pegging modes to check (default: both)")
    ap.add_argument("--keep-going", action="store_true",
                    help="do not stop at the first mismatch; list failing seeds")
    args = ap.parse_args()
    if not args.reference_only and not args.takt:
        ap.error("--takt is required unless --reference-only is given")
    if not args.reference_only and not (os.path.isfile(args.takt) and os.access(args.takt, os.X_OK)):
        ap.error(f"--takt {args.takt}: no such executable (cargo build -p takt?)")

    passed = failed = 0
    failing = []
    with tempfile.TemporaryDirectory(prefix="takt-diff-") as tmp:
        for seed in range(args.start_seed, args.start_seed + args.count):
            text = random_scenario.scenario(seed)
            path = os.path.join(tmp, f"seed-{seed}.json")
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            try:
                ref = run_reference(text)
            except Exception:
                failed += 1
                failing.append(seed)
                print(f"seed {seed}: the reference crashed\n{traceback.format_exc()}")
                print(text)
                if not args.keep_going:
                    break
                continue
            problems = invariants(ref)
            if problems:
                failed += 1
                failing.append(seed)
                print(f"seed {seed}: the reference breaks an invariant:\n  " + "\n  ".join(problems[:10]))
                if not args.keep_going:
                    print(text)
                    break
                continue
            if args.reference_only:
                passed += 1
                continue
            diffs = []
            if args.pegging in ("full", "both"):
                got, err = run_takt(args.takt, path)
                diffs = [err] if err else compare(ref, got)
            if not diffs and args.pegging in ("none", "both"):
                got, err = run_takt(args.takt, path, "none")
                diffs = [f"--pegging none: {err}"] if err else compare_no_pegging(ref, got)
            if not diffs:
                passed += 1
                continue
            failed += 1
            failing.append(seed)
            if args.keep_going:
                print(f"seed {seed}: {diffs[0].splitlines()[0]}")
                continue
            print(f"MISMATCH at seed {seed}")
            print("scenario:")
            print(text)
            print("differences:")
            for d in diffs:
                print("  " + d)
            break
    if args.keep_going and failing:
        print("failing seeds: " + " ".join(map(str, failing)))
    print(f"differential: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
