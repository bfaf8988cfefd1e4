#!/usr/bin/env python3
"""Hand-computed cases for the reference planner (checks the oracle itself).

Usage: python3 test_reference.py   (exit 0 when every case holds)

Each expected value below was worked out by hand from the spec, independently
of both implementations.
"""

import sys
import os
import unittest
from decimal import Decimal

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mrp_reference  # noqa: E402


def plan(scenario):
    return mrp_reference.plan(scenario)


def D(x):
    return Decimal(str(x))


def row(result, item, field):
    return result["records"][item][field]


def cal(periods, bucket_days=1, start="2027-01-04"):
    return {"start": start, "bucket_days": bucket_days, "periods": periods}


class SpecExample(unittest.TestCase):
    """The scenario of mrp-scenario-v1.md (its phantom has no components)."""

    def setUp(self):
        self.r = plan({
            "format": "mrp-scenario/1", "name": "bike-shop",
            "calendar": cal(26, 7),
            "items": [
                {"id": "BIKE", "source": "make", "lead_time": D(1), "on_hand": D(20),
                 "lot": {"rule": "lot_for_lot"}},
                {"id": "WHEEL", "source": "make", "lead_time": D(2), "safety_stock": D(10),
                 "on_hand": D(35), "on_hold": D(12), "lot": {"rule": "fixed", "quantity": D(50)}},
                {"id": "RIM", "source": "buy", "lead_time": D(3), "on_hand": D(0),
                 "lot": {"rule": "period_order", "periods": D(3), "min": D(40), "multiple": D(10)}},
                {"id": "FRAME-KIT", "source": "phantom", "on_hand": D(4)},
            ],
            "bom": [
                {"parent": "BIKE", "component": "WHEEL", "quantity": D(2)},
                {"parent": "WHEEL", "component": "RIM", "quantity": D(1), "scrap": D("0.02")},
                {"parent": "BIKE", "component": "FRAME-KIT", "quantity": D(1)},
            ],
            "demand": [
                {"id": "SO-100", "item": "BIKE", "date": "2027-01-18", "quantity": D(40), "kind": "order"},
                {"id": "FC-W4", "item": "BIKE", "date": "2027-01-25", "quantity": D(60), "kind": "forecast"},
            ],
            "receipts": [{"id": "PO-7", "item": "RIM", "date": "2027-01-11", "quantity": D(100)}],
        })

    def test_bike(self):
        self.assertEqual(row(self.r, "BIKE", "net")[:4], ["0", "0", "20", "60"])
        self.assertEqual(row(self.r, "BIKE", "planned_releases")[:4], ["0", "20", "60", "0"])
        first = self.r["planned_orders"][0]
        self.assertEqual((first["id"], first["release_date"], first["due_date"], first["quantity"]),
                         ("PL-1", "2027-01-11", "2027-01-18", "20"))
        self.assertEqual(first["pegging"], [{"demand": "SO-100", "quantity": "20"}])

    def test_wheel_fixed_lot_safety_stock_hold_ignored(self):
        # 35 on hand (12 on hold never netted), ss 10: 35-40 -> 15 short -> 50;
        # 45-120 -> 85 short -> 100; 25 left = 10 safety stock + 15 lot size.
        self.assertEqual(row(self.r, "WHEEL", "gross")[:3], ["0", "40", "120"])
        self.assertEqual(row(self.r, "WHEEL", "projected_available")[:3], ["35", "45", "25"])
        self.assertEqual(row(self.r, "WHEEL", "planned_releases")[:2], ["150", "0"])
        pl4 = self.r["planned_orders"][3]
        self.assertEqual(pl4["pegging"], [
            {"demand": "FC-W4", "quantity": "75"},
            {"reason": "safety_stock", "item": "WHEEL", "quantity": "10"},
            {"reason": "lot_size", "item": "WHEEL", "quantity": "15"}])

    def test_rim_period_order_scrap_past_due(self):
        # 150 released in bucket 0 x 1.02 = 153; PO-7 100 in bucket 1; P=3 -> 153
        # -> min 40 -> multiple 10 -> 160.  Lead time 3 from bucket 0: past due.
        self.assertEqual(row(self.r, "RIM", "gross")[0], "153")
        self.assertEqual(row(self.r, "RIM", "planned_receipts")[0], "160")
        kinds = [(e["item"], e["kind"], e["reference"], e["date"], e.get("suggested_date"))
                 for e in self.r["exceptions"]]
        self.assertEqual(kinds, [
            ("WHEEL", "past_due_release", "PL-3", "2026-12-28", "2027-01-04"),
            ("RIM", "past_due_release", "PL-5", "2026-12-14", "2027-01-04"),
            ("RIM", "reschedule_in", "PO-7", "2027-01-11", "2027-01-04"),
            # FRAME-KIT has no BOM lines: 16 + 60 uncovered from bucket 1 on.
            ("FRAME-KIT", "phantom_without_components", "FRAME-KIT", "2027-01-11", None)])

    def test_phantom(self):
        self.assertEqual(row(self.r, "FRAME-KIT", "net")[:3], ["0", "16", "60"])
        self.assertEqual(row(self.r, "FRAME-KIT", "projected_available")[:2], ["4", "0"])
        self.assertEqual(self.r["records"]["FRAME-KIT"]["low_level_code"], 1)


class Textbook(unittest.TestCase):
    def setUp(self):
        self.r = plan({
            "format": "mrp-scenario/1", "name": "t1", "calendar": cal(6),
            "items": [
                {"id": "A", "source": "make", "lead_time": D(1), "on_hand": D(10)},
                {"id": "K", "source": "phantom", "on_hand": D(3)},
                {"id": "C", "source": "buy", "lead_time": D(2), "safety_stock": D(5), "on_hand": D(4),
                 "lot": {"rule": "period_order", "periods": D(2)}},
                {"id": "E", "source": "buy", "lot": {"rule": "eoq", "order_cost": D(50),
                                                     "holding_cost": D(2), "max": D(30)}},
            ],
            "bom": [
                {"parent": "A", "component": "K", "quantity": D(1)},
                {"parent": "K", "component": "C", "quantity": D(2)},
                {"parent": "A", "component": "E", "quantity": D("0.5")},
            ],
            "demand": [
                {"id": "D0", "item": "A", "date": "2027-01-04", "quantity": D(5), "kind": "order"},
                {"id": "D1", "item": "A", "date": "2027-01-05", "quantity": D(10), "kind": "order"},
                {"id": "D2", "item": "A", "date": "2027-01-06", "quantity": D(15), "kind": "forecast"},
                {"id": "D2o", "item": "A", "date": "2027-01-06", "quantity": D(4), "kind": "order"},
                {"id": "D4", "item": "A", "date": "2027-01-08", "quantity": D(20), "kind": "order"},
                {"id": "LATE", "item": "A", "date": "2027-01-10", "quantity": D(99), "kind": "order"},
                {"id": "EARLY", "item": "C", "date": "2027-01-01", "quantity": D(0), "kind": "order"},
            ],
            "receipts": [],
        })

    def test_lot_for_lot_and_forecast_consumption(self):
        # Bucket 2: forecast 15 consumed by order 4 -> 15 = 11 rest + 4.
        self.assertEqual(row(self.r, "A", "gross"), ["5", "10", "15", "0", "20", "0"])
        self.assertEqual(row(self.r, "A", "planned_releases"), ["5", "15", "0", "20", "0", "0"])
        self.assertEqual(self.r["planned_orders"][1]["pegging"],
                         [{"demand": "D2", "quantity": "11"}, {"demand": "D2o", "quantity": "4"}])

    def test_phantom_passes_through(self):
        self.assertEqual(row(self.r, "K", "net"), ["2", "15", "0", "20", "0", "0"])

    def test_period_order_with_safety_stock(self):
        # C gross 4,30,0,40: t0 0<5 -> cover t0..t1 -> 35; t3 5-40 -> 40.
        self.assertEqual(row(self.r, "C", "gross"), ["4", "30", "0", "40", "0", "0"])
        self.assertEqual(row(self.r, "C", "planned_receipts"), ["35", "0", "0", "40", "0", "0"])
        self.assertEqual(row(self.r, "C", "planned_releases"), ["35", "40", "0", "0", "0", "0"])
        c_orders = [o for o in self.r["planned_orders"] if o["item"] == "C"]
        self.assertEqual(c_orders[1]["pegging"], [
            {"demand": "D4", "quantity": "35"},
            {"reason": "safety_stock", "item": "C", "quantity": "5"}])

    def test_eoq_and_max_split(self):
        # Total gross 20 over 6 days: D = 20*365/6; EOQ = ceil(sqrt(2*D*50/2)) = 247;
        # max 30 -> eight orders of 30 and one of 7, all due in bucket 0.
        e_orders = [o["quantity"] for o in self.r["planned_orders"] if o["item"] == "E"]
        self.assertEqual(e_orders, ["30"] * 8 + ["7"])
        self.assertEqual(row(self.r, "E", "planned_receipts")[0], "247")

    def test_horizon_exceptions(self):
        kinds = [(e["item"], e["kind"], e["reference"], e["date"], e.get("suggested_date"))
                 for e in self.r["exceptions"]]
        self.assertIn(("A", "beyond_horizon", "LATE", "2027-01-10", None), kinds)
        self.assertIn(("C", "past_due_demand", "EARLY", "2027-01-01", "2027-01-04"), kinds)


class Formatting(unittest.TestCase):
    def test_fmt(self):
        f = mrp_reference.fmt
        self.assertEqual(f(Decimal("2E+1")), "20")
        self.assertEqual(f(Decimal("12.50")), "12.5")
        self.assertEqual(f(Decimal("-0")), "0")
        self.assertEqual(f(Decimal("0.000")), "0")
        self.assertEqual(f(Decimal("1E-7")), "0.0000001")

    def test_ceil_sqrt(self):
        from fractions import Fraction
        self.assertEqual(mrp_reference.ceil_sqrt(Fraction(16)), 4)
        self.assertEqual(mrp_reference.ceil_sqrt(Fraction(17)), 5)
        self.assertEqual(mrp_reference.ceil_sqrt(Fraction(1, 4)), 1)
        self.assertEqual(mrp_reference.ceil_sqrt(Fraction(0)), 0)


if __name__ == "__main__":
    unittest.main()
