#!/usr/bin/env python3
"""Independent reference implementation of MRP planning (test oracle).

Usage: python3 mrp_reference.py SCENARIO.json  -> prints an `mrp-result/1`
document as JSON on stdout.

Written only from shared/spec/mrp-scenario-v1.md and docs/planning-semantics.md,
without looking at the Rust engine, so that the differential test
(differential.py) exposes bugs on either side.  The scenario is assumed to be
valid; no input checks are made beyond what planning needs.

All quantities are `decimal.Decimal` with a wide context, so that every
sum and product in a plan is exact (the documents forbid binary floats).

Readings taken where the documents leave room (each one agrees with takt as
of this writing; differential.py would flag a change on either side):
- A bucket's independent requirement draws supply for its customer orders
  first (date, then input order), then for the forecasts' unconsumed rests;
  forecasts are consumed by orders in date, then input order.
- Pegs are listed (and passed down in that order) as: demands by input
  order, then every safety-stock target, then every lot-size target, each
  by item input order.
- A phantom's pass-through of one bucket is treated like one order: the
  uncovered pegs of all its requirements are merged, listed as above, and
  exploded once per BOM line.
- A parent order explodes per BOM line in input order; each line is its own
  dependent requirement.  Component requirements are queued in the order
  they arise while planning (so a phantom's come when the phantom is planned).
- Zero-quantity demand and receipts still get their date exceptions
  (past_due_*, beyond_horizon); `cancel` is dated at its due bucket's start.
- Receipt advice (reschedule/cancel) is listed in need-bucket order, i.e.
  receipts by due bucket, date, input order.
A phantom without BOM lines is planned (the spec's example has one) and gets
`phantom_without_components` when its stock does not cover its requirements,
as docs/planning-semantics.md now says.
"""

import datetime
import decimal
import json
import math
import sys
from collections import deque
from decimal import Decimal
from fractions import Fraction

decimal.getcontext().prec = 60
ZERO = Decimal(0)


# --------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------

def dec(value, default=ZERO):
    """A scenario quantity (JSON number or string) as an exact Decimal."""
    if value is None:
        return default
    if isinstance(value, Decimal):
        return value
    if isinstance(value, (int, str)):
        return Decimal(value)
    raise TypeError(f"not a decimal quantity: {value!r}")


def whole(value, default=0):
    return default if value is None else int(dec(value))


def fmt(q):
    """Exact decimal as a plain string: no exponent, no trailing zeros, no -0."""
    if q == 0:
        return "0"
    s = format(q.normalize(), "f")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s


def ceil_div(a, b):
    """Least whole n with n*b >= a, for positive Decimals."""
    n = (a / b).to_integral_value(rounding=decimal.ROUND_CEILING)
    # Guard against the (theoretical) rounding of a/b in the context.
    while n * b < a:
        n += 1
    while n > 0 and (n - 1) * b >= a:
        n -= 1
    return n


def round_up_to_multiple(q, m):
    return ceil_div(q, m) * m


def ceil_sqrt(x):
    """Least whole c >= 0 with c*c >= x, for a non-negative Fraction x."""
    if x <= 0:
        return 0
    c = math.isqrt(x.numerator // x.denominator)
    while c * c < x:
        c += 1
    while c > 0 and (c - 1) * (c - 1) >= x:
        c -= 1
    return c


def iso(d):
    return d.isoformat()


# --------------------------------------------------------------------------
# Pegging targets.  A target is a hashable tuple:
#   ("demand", demand_index)       -> {"demand": id}
#   ("safety_stock", item_index)   -> {"reason": "safety_stock", "item": id}
#   ("lot_size", item_index)       -> {"reason": "lot_size", "item": id}
# A requirement is an ordered list of (target, quantity) pegs; it is consumed
# peg by peg from the head of the item's FIFO supply queue.
# --------------------------------------------------------------------------

def target_sort_key(target):
    # Demands first (input order), then all safety-stock targets, then all
    # lot-size targets, each by item input order.
    kind, idx = target
    return ({"demand": 0, "safety_stock": 1, "lot_size": 2}[kind], idx)


def merge_pegs(pegs):
    """Merge (target, qty) pairs per target; list in the documented order."""
    total = {}
    for tgt, q in pegs:
        total[tgt] = total.get(tgt, ZERO) + q
    return [(t, total[t]) for t in sorted(total, key=target_sort_key) if total[t] != 0]


class Planner:
    def __init__(self, scenario):
        self.sc = scenario
        cal = scenario["calendar"]
        self.start = datetime.date.fromisoformat(cal["start"])
        self.bucket_days = whole(cal["bucket_days"])
        self.periods = whole(cal["periods"])

        self.items = scenario.get("items", [])
        self.item_index = {it["id"]: i for i, it in enumerate(self.items)}
        self.bom = scenario.get("bom", [])
        self.demands = scenario.get("demand", [])
        self.receipts = scenario.get("receipts", [])

        n = len(self.items)
        # Requirements per item per bucket, appended in the order they arise.
        self.reqs = [[[] for _ in range(self.periods)] for _ in range(n)]
        self.exceptions = [[] for _ in range(n)]
        self.records = [None] * n
        self.orders = []           # planned orders in PL order
        self.next_pl = 1

    # ---------------------------------------------------------------- dates
    def bucket_start(self, t):
        return self.start + datetime.timedelta(days=t * self.bucket_days)

    def bucket_of(self, d):
        """Bucket index of a date, 0 for past dates, None beyond the horizon."""
        if d < self.start:
            return 0
        t = (d - self.start).days // self.bucket_days
        return t if t < self.periods else None

    # ---------------------------------------------------------------- structure
    def low_level_codes(self):
        n = len(self.items)
        children = [[] for _ in range(n)]
        for line in self.bom:
            children[self.item_index[line["parent"]]].append(self.item_index[line["component"]])
        llc = [0] * n
        # Longest path from any root; the BOM is acyclic, so relaxing in a
        # topological order gives each item max(parent llc) + 1.
        indeg = [0] * n
        for p in range(n):
            for c in children[p]:
                indeg[c] += 1
        queue = deque(i for i in range(n) if indeg[i] == 0)
        while queue:
            p = queue.popleft()
            for c in children[p]:
                llc[c] = max(llc[c], llc[p] + 1)
                indeg[c] -= 1
                if indeg[c] == 0:
                    queue.append(c)
        return llc

    def lines_of(self, item_idx):
        pid = self.items[item_idx]["id"]
        return [l for l in self.bom if l["parent"] == pid]

    def explode(self, item_idx, bucket, pegs):
        """Add a dependent requirement (scaled pegs) to each component."""
        for line in self.lines_of(item_idx):
            factor = dec(line["quantity"]) * (1 + dec(line.get("scrap")))
            comp = self.item_index[line["component"]]
            scaled = [(t, q * factor) for t, q in pegs]
            scaled = [(t, q) for t, q in scaled if q != 0]
            if scaled:
                self.reqs[comp][bucket].append(scaled)

    # ---------------------------------------------------------------- inputs
    def place_independent_demand(self):
        """Bucket demands, raise date exceptions, build per-bucket requirements."""
        per_bucket = {}  # (item, bucket) -> list of (date, index, demand)
        for di, d in enumerate(self.demands):
            ii = self.item_index[d["item"]]
            date = datetime.date.fromisoformat(d["date"])
            t = self.bucket_of(date)
            if t is None:
                self.exceptions[ii].append(self.exc(ii, "beyond_horizon", d["id"], date, None,
                                                    f"demand {d['id']} is beyond the horizon"))
                continue
            if date < self.start:
                self.exceptions[ii].append(self.exc(ii, "past_due_demand", d["id"], date, self.start,
                                                    f"demand {d['id']} is past due"))
            per_bucket.setdefault((ii, t), []).append((date, di, d))

        for (ii, t), entries in per_bucket.items():
            entries.sort(key=lambda e: (e[0], e[1]))
            orders = [(di, dec(d["quantity"])) for _, di, d in entries if d.get("kind", "order") != "forecast"]
            total_orders = sum((q for _, q in orders), ZERO)
            # Forecasts are consumed in date order (then input order) by the
            # bucket's orders; each keeps its unconsumed rest.
            to_consume = total_orders
            rest = {}
            for _, di, d in entries:
                if d.get("kind", "order") == "forecast":
                    q = dec(d["quantity"])
                    used = min(q, to_consume)
                    to_consume -= used
                    rest[di] = q - used
            # The bucket's requirement draws supply for the orders first (in
            # date order, then input order), then for the forecasts' rests.
            pegs = [(("demand", di), q) for di, q in orders if q != 0]
            pegs += [(("demand", di), rest[di]) for _, di, _ in entries
                     if di in rest and rest[di] != 0]
            if pegs:
                # Runs before any planning: independent demand heads the bucket.
                self.reqs[ii][t].insert(0, pegs)

    def place_receipts(self):
        """Receipts per item as (bucket, date, index, qty); raise date exceptions."""
        by_item = [[] for _ in self.items]
        for ri, r in enumerate(self.receipts):
            ii = self.item_index[r["item"]]
            date = datetime.date.fromisoformat(r["date"])
            t = self.bucket_of(date)
            if t is None:
                self.exceptions[ii].append(self.exc(ii, "beyond_horizon", r["id"], date, None,
                                                    f"receipt {r['id']} is beyond the horizon"))
                continue
            if date < self.start:
                self.exceptions[ii].append(self.exc(ii, "past_due_receipt", r["id"], date, self.start,
                                                    f"receipt {r['id']} is past due"))
            by_item[ii].append((t, date, ri, dec(r["quantity"])))
        for lst in by_item:
            lst.sort(key=lambda e: (e[0], e[1], e[2]))
        return by_item

    def exc(self, ii, kind, ref, date, suggested, message):
        e = {"item": self.items[ii]["id"], "kind": kind, "reference": ref,
             "date": iso(date)}
        if suggested is not None:
            e["suggested_date"] = iso(suggested)
        e["message"] = message
        return e

    # ---------------------------------------------------------------- lot sizing
    def lot_size(self, item, nr, t, avail, sr, gr, ss):
        lot = item.get("lot") or {"rule": "lot_for_lot"}
        rule = lot.get("rule", "lot_for_lot")
        if rule == "lot_for_lot":
            q = nr
        elif rule == "fixed":
            q = round_up_to_multiple(nr, dec(lot["quantity"]))
        elif rule == "period_order":
            p = whole(lot["periods"])
            q = nr
            running = avail
            for j in range(t + 1, min(t + p - 1, self.periods - 1) + 1):
                running += sr[j] - gr[j]
                q = max(q, ss - running)
        elif rule == "eoq":
            total_gross = sum(gr, ZERO)
            x = (Fraction(2) * Fraction(total_gross) * 365 * Fraction(dec(lot["order_cost"]))
                 / (Fraction(self.periods * self.bucket_days) * Fraction(dec(lot["holding_cost"]))))
            q = max(nr, Decimal(ceil_sqrt(x)))
        else:
            raise ValueError(f"unknown lot rule {rule}")
        if lot.get("min") is not None:
            q = max(q, dec(lot["min"]))
        if lot.get("multiple") is not None:
            q = round_up_to_multiple(q, dec(lot["multiple"]))
        parts = [q]
        if lot.get("max") is not None:
            mx = dec(lot["max"])
            if q > mx:
                n = ceil_div(q, mx)
                parts = [mx] * (int(n) - 1) + [q - mx * (n - 1)]
        return q, parts

    # ---------------------------------------------------------------- planning
    def plan_item(self, ii, receipts):
        item = self.items[ii]
        P = self.periods
        gr = [sum((sum((q for _, q in req), ZERO) for req in self.reqs[ii][t]), ZERO) for t in range(P)]
        on_hand = dec(item.get("on_hand"))
        if item["source"] == "phantom":
            self.plan_phantom(ii, gr, on_hand)
            return

        ss = dec(item.get("safety_stock"))
        lead = whole(item.get("lead_time"))
        sr = [ZERO] * P
        for t, _, _, q in receipts:
            sr[t] += q

        pab = [ZERO] * P
        net = [ZERO] * P
        prec = [ZERO] * P
        prel = [ZERO] * P
        orders_by_bucket = [[] for _ in range(P)]
        prev = on_hand
        for t in range(P):
            avail = prev + sr[t] - gr[t]
            if avail < ss:
                net[t] = ss - avail
                q, parts = self.lot_size(item, net[t], t, avail, sr, gr, ss)
                pab[t] = avail + q
                prec[t] = q
                for part in parts:
                    order = self.new_order(ii, t, lead, part)
                    orders_by_bucket[t].append(order)
                    prel[order["_release"]] += part
            else:
                pab[t] = avail
            prev = pab[t]

        self.peg_fifo(ii, on_hand, ss, receipts, orders_by_bucket)
        for t in range(P):
            for order in orders_by_bucket[t]:
                self.explode(ii, order["_release"], order["_pegs"])

        self.reschedule_messages(ii, on_hand, ss, gr, receipts)
        self.records[ii] = {
            "source": item["source"], "gross": gr, "scheduled_receipts": sr,
            "projected_available": pab, "net": net,
            "planned_receipts": prec, "planned_releases": prel,
        }

    def new_order(self, ii, t, lead, qty):
        item = self.items[ii]
        pl = f"PL-{self.next_pl}"
        self.next_pl += 1
        r = t - lead
        release = max(r, 0)
        order = {"id": pl, "item": item["id"], "kind": item["source"],
                 "release_date": iso(self.bucket_start(release)),
                 "due_date": iso(self.bucket_start(t)), "quantity": qty,
                 "_release": release, "_pegs": []}
        self.orders.append(order)
        if r < 0:
            should = self.start - datetime.timedelta(days=(lead - t) * self.bucket_days)
            self.exceptions[ii].append(self.exc(ii, "past_due_release", pl, should, self.start,
                                                f"{pl} should have been released on {iso(should)}"))
        return order

    def peg_fifo(self, ii, on_hand, ss, receipts, orders_by_bucket):
        """FIFO pegging: requirements take supplies from the head of the queue."""
        queue = deque()  # entries: [order dict or None, remaining qty]
        if on_hand > 0:
            queue.append([None, on_hand])
        recs_by_bucket = [[] for _ in range(self.periods)]
        for t, _, _, q in receipts:
            recs_by_bucket[t].append(q)
        pegs = {}  # order id -> list of (target, qty)

        def take(target, qty):
            while qty > 0:
                head = queue[0]  # netting guarantees enough supply
                used = min(head[1], qty)
                if head[0] is not None:
                    pegs.setdefault(head[0]["id"], []).append((target, used))
                head[1] -= used
                qty -= used
                if head[1] == 0:
                    queue.popleft()

        for t in range(self.periods):
            for q in recs_by_bucket[t]:
                if q > 0:
                    queue.append([None, q])
            for order in orders_by_bucket[t]:
                queue.append([order, order["quantity"]])
            for req in self.reqs[ii][t]:
                for target, q in req:
                    take(target, q)
        left = sum((e[1] for e in queue), ZERO)
        to_ss = min(ss, left)
        if to_ss > 0:
            take(("safety_stock", ii), to_ss)
        if queue:
            take(("lot_size", ii), sum((e[1] for e in queue), ZERO))
        for t in range(self.periods):
            for order in orders_by_bucket[t]:
                order["_pegs"] = merge_pegs(pegs.get(order["id"], []))

    def reschedule_messages(self, ii, on_hand, ss, gr, receipts):
        cum_gross = []
        running = ZERO
        for g in gr:
            running += g
            cum_gross.append(running)
        before = ZERO
        for t_due, _, ri, q in receipts:
            if q == 0:
                continue
            rid = self.receipts[ri]["id"]
            need = None
            for t in range(self.periods):
                if on_hand + before < ss + cum_gross[t]:
                    need = t
                    break
            due_date = self.bucket_start(t_due)
            if need is None:
                self.exceptions[ii].append(self.exc(ii, "cancel", rid, due_date, None,
                                                    f"receipt {rid} is not needed"))
            elif need < t_due:
                self.exceptions[ii].append(self.exc(ii, "reschedule_in", rid, due_date,
                                                    self.bucket_start(need),
                                                    f"receipt {rid} is needed earlier"))
            elif need > t_due:
                self.exceptions[ii].append(self.exc(ii, "reschedule_out", rid, due_date,
                                                    self.bucket_start(need),
                                                    f"receipt {rid} is needed later"))
            before += q

    def plan_phantom(self, ii, gr, on_hand):
        """Net against on_hand only, FIFO; pass uncovered pegs straight down."""
        P = self.periods
        stock = on_hand
        pab = [ZERO] * P
        net = [ZERO] * P
        for t in range(P):
            uncovered = []
            for req in self.reqs[ii][t]:
                for target, q in req:
                    used = min(stock, q)
                    stock -= used
                    if q - used > 0:
                        uncovered.append((target, q - used))
            # The bucket's pass-through behaves like one order: its pegs are
            # merged and listed in the usual order before explosion.
            if uncovered:
                net[t] = sum((q for _, q in uncovered), ZERO)
                self.explode(ii, t, merge_pegs(uncovered))
            pab[t] = stock
        # Without BOM lines the uncovered rest goes nowhere: one advice per
        # phantom, dated at the first bucket concerned.
        first = next((t for t in range(P) if net[t] > 0), None)
        if first is not None and not self.lines_of(ii):
            pid = self.items[ii]["id"]
            self.exceptions[ii].append(self.exc(
                ii, "phantom_without_components", pid, self.bucket_start(first), None,
                f"phantom {pid} has no components; {fmt(sum(net, ZERO))} is not supplied"))
        self.records[ii] = {
            "source": "phantom", "gross": gr, "scheduled_receipts": [ZERO] * P,
            "projected_available": pab, "net": net,
            "planned_receipts": [ZERO] * P, "planned_releases": [ZERO] * P,
        }

    # ---------------------------------------------------------------- driver
    def run(self):
        self.place_independent_demand()
        receipts = self.place_receipts()
        llc = self.low_level_codes()
        for ii in sorted(range(len(self.items)), key=lambda i: (llc[i], i)):
            self.plan_item(ii, receipts[ii])
        return self.result(llc)

    def peg_json(self, target, q):
        kind, idx = target
        if kind == "demand":
            return {"demand": self.demands[idx]["id"], "quantity": fmt(q)}
        return {"reason": kind, "item": self.items[idx]["id"], "quantity": fmt(q)}

    def result(self, llc):
        cal = self.sc["calendar"]
        records = {}
        for ii, item in enumerate(self.items):
            rec = self.records[ii]
            out = {"source": rec["source"], "low_level_code": llc[ii]}
            for key in ("gross", "scheduled_receipts", "projected_available", "net",
                        "planned_receipts", "planned_releases"):
                out[key] = [fmt(q) for q in rec[key]]
            records[item["id"]] = out
        orders = []
        for o in self.orders:
            orders.append({
                "id": o["id"], "item": o["item"], "kind": o["kind"],
                "release_date": o["release_date"], "due_date": o["due_date"],
                "quantity": fmt(o["quantity"]),
                "pegging": [self.peg_json(t, q) for t, q in o["_pegs"]],
            })
        return {
            "format": "mrp-result/1",
            "scenario": self.sc.get("name"),
            "calendar": {"start": cal["start"], "bucket_days": self.bucket_days,
                         "periods": self.periods},
            "buckets": [iso(self.bucket_start(t)) for t in range(self.periods)],
            "planned_orders": orders,
            "records": records,
            "exceptions": [e for per_item in self.exceptions for e in per_item],
        }


def plan(scenario):
    return Planner(scenario).run()


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f, parse_float=Decimal, parse_int=Decimal)


def main(argv):
    if len(argv) != 2:
        print("usage: mrp_reference.py SCENARIO.json", file=sys.stderr)
        return 2
    print(json.dumps(plan(load(argv[1])), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
