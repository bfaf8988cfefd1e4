#!/usr/bin/env python3
"""Deterministic generator of small random, valid `mrp-scenario/1` scenarios.

Usage: python3 random_scenario.py SEED  -> prints one scenario as JSON.

The scenarios are meant to reach every corner of the planning semantics:
multi-level BOMs with shared components and repeated lines, phantoms (with and
without stock, a few without components), all lot rules with min/multiple/max
modifiers, fractional quantities and scrap, safety stock, stock on hold,
forecasts next to customer orders, past-due and beyond-horizon demand and
receipts, zero quantities and lead times that force past-due releases.  Item
names are random and the item list is sometimes shuffled, so input order is
neither alphabetical nor a topological order.  Items are generated in levels and
BOM lines always point to a deeper level, so the BOM is acyclic.
"""

import datetime
import json
import math
import random
import sys
from decimal import Decimal

FRACTIONS = ["0", "0.25", "0.5", "0.75", "1.5", "2.5", "0.1"]
ITEM_NAMES = ["BIKE", "WHEEL", "RIM", "SPOKE", "HUB", "FRAME", "KIT-A", "TUBE", "TIRE",
              "BOLT", "NUT", "SEAT", "CHAIN", "PEDAL", "GEAR", "AXLE", "FORK", "B2", "a1", "Z-9"]


class Num:
    """A quantity that is written either as a JSON number or as a string."""

    def __init__(self, text):
        self.text = text


def encode(obj):
    """json.dumps with Num written verbatim (numbers keep their exact text)."""
    marks = {}

    def walk(o):
        if isinstance(o, Num):
            key = f"@@NUM{len(marks)}@@"
            marks[key] = o.text
            return key
        if isinstance(o, dict):
            return {k: walk(v) for k, v in o.items()}
        if isinstance(o, list):
            return [walk(v) for v in o]
        return o

    text = json.dumps(walk(obj), indent=1)
    for key, value in marks.items():
        text = text.replace(f'"{key}"', value)
    return text


class Gen:
    def __init__(self, seed):
        self.seed = seed
        self.rng = random.Random(seed)

    # Quantities are produced as Decimal strings and written as JSON numbers
    # or strings at random, so both encodings get exercised.
    def q(self, value):
        text = format(Decimal(value).normalize(), "f")
        if self.rng.random() < 0.35:
            return text
        return Num(text)

    def amount(self, lo, hi, frac_p=0.3):
        base = Decimal(self.rng.randint(lo, hi))
        if self.rng.random() < frac_p:
            base += Decimal(self.rng.choice(FRACTIONS))
        return base

    def generate(self):
        rng = self.rng
        periods = rng.randint(4, 12)
        bucket_days = rng.choice([1, 7])
        start = datetime.date(2027, 1, 1) + datetime.timedelta(days=rng.randint(0, 360))
        horizon_days = periods * bucket_days

        # ---- items in levels (level 0 = end items) ----
        n = rng.randint(3, 12)
        depth = min(rng.choice([1, 2, 2, 3, 3, 4, 4]), n - 1)   # deepest level
        levels = [0] + [rng.randint(1, depth) for _ in range(n - 1)]
        levels[-1] = depth                             # make the depth real
        levels.sort()
        # Names drawn at random, so that input order differs from sorted order
        # (records and tie-breaks must follow input order, not names).
        ids = rng.sample(ITEM_NAMES, n)

        # Decide which items get components: anything above the deepest level.
        has_children = [lv < depth and rng.random() < 0.85 for lv in levels]
        sources = []
        for i, lv in enumerate(levels):
            if has_children[i]:
                sources.append("phantom" if (lv > 0 and rng.random() < 0.25) or
                               (lv == 0 and rng.random() < 0.05) else "make")
            elif rng.random() < 0.04:
                sources.append("phantom")      # a phantom without components
            else:
                sources.append(rng.choice(["buy", "buy", "make"]))

        # ---- BOM lines, always to a deeper level ----
        bom = []
        for i in range(n):
            if not has_children[i]:
                continue
            deeper = [j for j in range(n) if levels[j] > levels[i]]
            for c in rng.sample(deeper, k=min(len(deeper), rng.randint(1, 3))):
                reps = 2 if rng.random() < 0.1 else 1   # repeated parent/component line
                for _ in range(reps):
                    line = {"parent": ids[i], "component": ids[c],
                            "quantity": self.q(rng.choice(["1", "1", "2", "3", "0.5", "0.25", "1.5"]))}
                    scrap = rng.choice(["0", "0", "0.02", "0.1", None])
                    if scrap is not None:
                        line["scrap"] = self.q(scrap)
                    bom.append(line)
        # Most orphans below level 0 get a parent one level up, so that deep
        # chains are common rather than rare.
        used = {line["component"] for line in bom}
        for c in range(n):
            if levels[c] == 0 or ids[c] in used or rng.random() < 0.2:
                continue
            ups = [i for i in range(n) if has_children[i] and levels[i] == levels[c] - 1]
            if ups:
                bom.append({"parent": ids[rng.choice(ups)], "component": ids[c],
                            "quantity": self.q(rng.choice(["1", "2", "0.5"]))})
        rng.shuffle(bom)

        # ---- demand ----
        def date_in_window():
            # Mostly inside the horizon, sometimes before start or past the end.
            r = rng.random()
            if r < 0.1:
                return start - datetime.timedelta(days=rng.randint(1, 2 * bucket_days + 3))
            if r < 0.18:
                return start + datetime.timedelta(days=horizon_days + rng.randint(0, bucket_days * 2))
            return start + datetime.timedelta(days=rng.randint(0, horizon_days - 1))

        demand = []
        indep_total = [Decimal(0)] * n
        for i in range(n):
            if levels[i] == 0:
                count = rng.randint(1, 6)
            else:
                count = rng.choice([0, 0, 0, 1, 2])        # service parts demand
            for _ in range(count):
                d = date_in_window()
                kinds = ["order", "forecast"]
                k = rng.choice(kinds)
                qty = Decimal(0) if rng.random() < 0.07 else self.amount(1, 60)
                demand.append((i, d, k, qty))
                indep_total[i] += qty
                if rng.random() < 0.3:
                    # Same bucket, the other kind: forecast consumption.
                    other = "forecast" if k == "order" else "order"
                    d2 = d + datetime.timedelta(days=rng.randint(0, bucket_days - 1))
                    qty2 = self.amount(1, 60)
                    demand.append((i, d2, other, qty2))
                    indep_total[i] += qty2
        rng.shuffle(demand)
        demand_json = []
        demand_numbers = rng.sample(range(1, 1000), len(demand))
        for k, (i, d, kind, qty) in enumerate(demand):
            prefix = "SO" if kind == "order" else "FC"
            demand_json.append({"id": f"{prefix}-{demand_numbers[k]}", "item": ids[i], "date": d.isoformat(),
                                "quantity": self.q(qty), "kind": kind})

        # ---- items ----
        # Crude upper bound of each item's total planned quantity, so that a
        # `max` can be chosen that splits into a modest number of orders.
        parents_of = [[] for _ in range(n)]
        for line in bom:
            parents_of[ids.index(line["component"])].append(line)
        bound = [Decimal(0)] * n
        items = []
        for i in range(n):  # levels sorted, so parents come first
            gross = indep_total[i]
            for line in parents_of[i]:
                p = ids.index(line["parent"])
                f = Decimal(_text(line["quantity"])) * (1 + Decimal(_text(line.get("scrap", Num("0")))))
                gross += bound[p] * f
            item = {"id": ids[i], "source": sources[i]}
            if rng.random() < 0.2:
                item["name"] = f"Item {i}"
            if rng.random() < 0.1:
                item["uom"] = rng.choice(["pcs", "kg"])
            if rng.random() < 0.1:
                item["unit_cost"] = self.q(self.amount(1, 30))
            if sources[i] == "phantom":
                if rng.random() < 0.5:
                    item["on_hand"] = self.q(self.amount(0, 20))
                bound[i] = gross
                items.append(item)
                continue
            ss = Decimal(0)
            if rng.random() < 0.7:
                item["lead_time"] = rng.randint(0, 4)
            if rng.random() < 0.35:
                ss = self.amount(0, 15)
                item["safety_stock"] = self.q(ss)
            if rng.random() < 0.8:
                item["on_hand"] = self.q(self.amount(0, 40))
            if rng.random() < 0.3:
                item["on_hold"] = self.q(self.amount(0, 10))
            lot, inflation = self.lot(gross, periods, bucket_days)
            if lot is not None:
                item["lot"] = lot
            bound[i] = gross + ss + inflation * periods
            if lot is not None and rng.random() < 0.4:
                lo = Decimal(_text(lot["min"])) if "min" in lot else Decimal(0)
                mx = max(lo, bound[i] / 15, Decimal(1))
                mx = Decimal(math.ceil(mx)) + self.rng.choice([Decimal(0), Decimal("0.5")])
                lot["max"] = self.q(mx)
            items.append(item)

        # ---- scheduled receipts (not for phantoms) ----
        receipts = []
        stocked = [i for i in range(n) if sources[i] != "phantom"]
        for _ in range(rng.randint(0, 5) if stocked else 0):
            i = rng.choice(stocked)
            qty = Decimal(0) if rng.random() < 0.1 else self.amount(1, 80)
            receipts.append({"id": f"PO-{len(receipts) + 1}", "item": ids[i],
                             "date": date_in_window().isoformat(), "quantity": self.q(qty)})

        # Input order need not follow the BOM: components may come first.
        if rng.random() < 0.5:
            rng.shuffle(items)

        return {
            "format": "mrp-scenario/1",
            "name": f"random-{self.seed}",
            "calendar": {"start": start.isoformat(), "bucket_days": bucket_days, "periods": periods},
            "items": items,
            "bom": bom,
            "demand": demand_json,
            "receipts": receipts,
        }

    def lot(self, gross, periods, bucket_days):
        """A random lot policy and how much one order may overshoot its need."""
        rng = self.rng
        rule = rng.choice(["lot_for_lot", "fixed", "period_order", "eoq", None])
        if rule is None:
            return None, Decimal(0)
        lot = {"rule": rule}
        inflation = Decimal(0)
        if rule == "fixed":
            fq = self.amount(1, 40, 0.3)
            lot["quantity"] = self.q(fq)
            inflation = fq
        elif rule == "period_order":
            lot["periods"] = rng.randint(1, 4)
        elif rule == "eoq":
            oc = self.amount(0, 200, 0.2)
            hc = self.amount(1, 20, 0.3)
            if hc == 0:
                hc = Decimal(1)
            lot["order_cost"] = self.q(oc)
            lot["holding_cost"] = self.q(hc)
            eoq = math.sqrt(2 * float(gross) * 365 * float(oc) / (periods * bucket_days * float(hc)))
            inflation = Decimal(math.ceil(eoq) + 1)
        if rng.random() < 0.3:
            mn = self.amount(0, 30)
            lot["min"] = self.q(mn)
            inflation = max(inflation, mn)
        if rng.random() < 0.3:
            mult = self.amount(1, 12)
            lot["multiple"] = self.q(mult)
            inflation += mult
        return lot, inflation


def _text(v):
    return v.text if isinstance(v, Num) else str(v)


def scenario(seed):
    """The scenario for a seed, as JSON text."""
    return encode(Gen(seed).generate())


def main(argv):
    if len(argv) != 2:
        print("usage: random_scenario.py SEED", file=sys.stderr)
        return 2
    print(scenario(int(argv[1])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
