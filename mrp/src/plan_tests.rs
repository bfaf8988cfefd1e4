//! Worked examples with hand-computed MRP records, one rule at a time.

use rust_decimal::Decimal;

use crate::plan::*;
use crate::{Scenario, parse_scenario};

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn ds(v: &[&str]) -> Vec<Decimal> {
    v.iter().map(|s| d(s)).collect()
}

fn scenario(json: &str) -> Scenario {
    parse_scenario(json).unwrap_or_else(|e| panic!("{e}"))
}

fn item_index(s: &Scenario, id: &str) -> usize {
    s.items.iter().position(|i| i.id == id).unwrap()
}

/// (id, item, release, due, quantity) of every planned order.
fn orders(s: &Scenario, p: &PlanResult) -> Vec<(String, String, String, String, Decimal)> {
    p.planned_orders
        .iter()
        .map(|o| {
            (
                o.id(),
                s.items[o.item as usize].id.clone(),
                s.calendar.bucket_start(o.release_bucket as usize).to_string(),
                s.calendar.bucket_start(o.due_bucket as usize).to_string(),
                o.quantity,
            )
        })
        .collect()
}

fn pegging(s: &Scenario, p: &PlanResult, order: &str) -> Vec<(String, Decimal)> {
    let o = p.planned_orders.iter().find(|o| o.id() == order).unwrap();
    p.pegging(o)
        .iter()
        .map(|peg| {
            let what = match peg.target() {
                PegTarget::Demand(i) => s.demand[i as usize].id.clone(),
                PegTarget::SafetyStock(i) => format!("ss:{}", s.items[i as usize].id),
                PegTarget::LotSize(i) => format!("lot:{}", s.items[i as usize].id),
            };
            (what, peg.quantity())
        })
        .collect()
}

fn o(id: &str, item: &str, release: &str, due: &str, q: &str) -> (String, String, String, String, Decimal) {
    (id.into(), item.into(), release.into(), due.into(), d(q))
}

fn pegs(v: &[(&str, &str)]) -> Vec<(String, Decimal)> {
    v.iter().map(|(a, q)| (a.to_string(), d(q))).collect()
}

fn exceptions(s: &Scenario, p: &PlanResult) -> Vec<(String, &'static str, String)> {
    p.exceptions.iter().map(|e| (s.items[e.item as usize].id.clone(), e.kind.as_str(), e.reference.clone())).collect()
}

/// The example scenario of the spec, planned by hand:
///
/// BIKE (LFL, on hand 20): gross 40 in wk2 (SO-100), 60 in wk3 (FC-W4) →
/// PL-1 20 due 01-18, PL-2 60 due 01-25, released a bucket earlier.
/// WHEEL (fixed 50, SS 10, LT 2, on hand 35; 12 on hold never netted): gross
/// 40 in wk1, 120 in wk2. wk1: 35-40 = -5 → NR 15 → 50, PAB 45, released wk -1
/// (past due, so in wk0). wk2: 45-120 = -75 → NR 85 → 100, PAB 25.
/// RIM (period order 3, min 40, multiple 10, LT 3): both WHEEL orders release
/// in wk0: (50+100) × 1.02 = 153. wk0: NR 153, the next two buckets add
/// nothing (PO-7's 100 arrives in wk1), so 153 → multiple 10 → 160, PAB 7.
/// FRAME-KIT (phantom, on hand 4): 20 in wk1, 60 in wk2 → passes 16 and 60 to
/// nothing (no components).
const SPEC_EXAMPLE: &str = r#"{
  "format": "mrp-scenario/1",
  "name": "bike-shop",
  "calendar": { "start": "2027-01-04", "bucket_days": 7, "periods": 26 },
  "items": [
    { "id": "BIKE",  "source": "make", "lead_time": 1, "safety_stock": 0,
      "on_hand": 20, "on_hold": 0,
      "lot": { "rule": "lot_for_lot" } },
    { "id": "WHEEL", "source": "make", "lead_time": 2, "safety_stock": 10,
      "on_hand": 35, "on_hold": 12,
      "lot": { "rule": "fixed", "quantity": 50 } },
    { "id": "RIM",   "source": "buy",  "lead_time": 3, "safety_stock": 0,
      "on_hand": 0,
      "lot": { "rule": "period_order", "periods": 3, "min": 40, "multiple": 10 } },
    { "id": "FRAME-KIT", "source": "phantom", "on_hand": 4 }
  ],
  "bom": [
    { "parent": "BIKE",  "component": "WHEEL", "quantity": 2 },
    { "parent": "WHEEL", "component": "RIM",   "quantity": 1, "scrap": 0.02 },
    { "parent": "BIKE",  "component": "FRAME-KIT", "quantity": 1 }
  ],
  "demand": [
    { "id": "SO-100", "item": "BIKE", "date": "2027-01-18", "quantity": 40, "kind": "order" },
    { "id": "FC-W4",  "item": "BIKE", "date": "2027-01-25", "quantity": 60, "kind": "forecast" }
  ],
  "receipts": [
    { "id": "PO-7", "item": "RIM", "date": "2027-01-11", "quantity": 100 }
  ]
}"#;

#[test]
fn spec_example_planned_by_hand() {
    let s = scenario(SPEC_EXAMPLE);
    let p = plan(&s).unwrap();
    assert_eq!(
        orders(&s, &p),
        vec![
            o("PL-1", "BIKE", "2027-01-11", "2027-01-18", "20"),
            o("PL-2", "BIKE", "2027-01-18", "2027-01-25", "60"),
            o("PL-3", "WHEEL", "2027-01-04", "2027-01-11", "50"),
            o("PL-4", "WHEEL", "2027-01-04", "2027-01-18", "100"),
            o("PL-5", "RIM", "2027-01-04", "2027-01-04", "160"),
        ]
    );
    assert_eq!(pegging(&s, &p, "PL-1"), pegs(&[("SO-100", "20")]));
    assert_eq!(pegging(&s, &p, "PL-2"), pegs(&[("FC-W4", "60")]));
    // WHEEL: on hand 35 + 5 of PL-3 cover SO-100's 40; FC-W4's 120 takes the rest.
    assert_eq!(pegging(&s, &p, "PL-3"), pegs(&[("SO-100", "5"), ("FC-W4", "45")]));
    assert_eq!(pegging(&s, &p, "PL-4"), pegs(&[("FC-W4", "75"), ("ss:WHEEL", "10"), ("lot:WHEEL", "15")]));
    // RIM: pegs of both WHEEL orders × 1.02, plus its own excess of 7.
    assert_eq!(
        pegging(&s, &p, "PL-5"),
        pegs(&[("SO-100", "5.1"), ("FC-W4", "122.4"), ("ss:WHEEL", "10.2"), ("lot:WHEEL", "15.3"), ("lot:RIM", "7")])
    );

    let zeros = |n: usize| vec![Decimal::ZERO; n];
    let wheel = p.record(item_index(&s, "WHEEL"));
    let mut g = zeros(26);
    g[1] = d("40");
    g[2] = d("120");
    assert_eq!(wheel.gross, g.as_slice());
    let mut pab = vec![d("25"); 26];
    pab[0] = d("35");
    pab[1] = d("45");
    assert_eq!(wheel.projected_available, pab.as_slice());
    assert_eq!(&wheel.net[..4], ds(&["0", "15", "85", "0"]).as_slice());
    assert_eq!(&wheel.planned_receipts[..4], ds(&["0", "50", "100", "0"]).as_slice());
    assert_eq!(&wheel.planned_releases[..4], ds(&["150", "0", "0", "0"]).as_slice());

    let rim = p.record(item_index(&s, "RIM"));
    assert_eq!(&rim.gross[..3], ds(&["153", "0", "0"]).as_slice());
    assert_eq!(&rim.scheduled_receipts[..3], ds(&["0", "100", "0"]).as_slice());
    assert_eq!(&rim.projected_available[..3], ds(&["7", "107", "107"]).as_slice());

    let kit = p.record(item_index(&s, "FRAME-KIT"));
    assert_eq!(&kit.gross[..3], ds(&["0", "20", "60"]).as_slice());
    assert_eq!(&kit.net[..3], ds(&["0", "16", "60"]).as_slice());
    assert_eq!(&kit.projected_available[..3], ds(&["4", "0", "0"]).as_slice());

    assert_eq!(p.low_level_code, vec![0, 1, 2, 1]);
    assert_eq!(
        exceptions(&s, &p),
        vec![
            ("WHEEL".into(), "past_due_release", "PL-3".into()),
            ("RIM".into(), "past_due_release", "PL-5".into()),
            // RIM is short from wk0 on, so PO-7 (due wk1) is wanted a week earlier.
            ("RIM".into(), "reschedule_in", "PO-7".into()),
            ("FRAME-KIT".into(), "phantom_without_components", "FRAME-KIT".into()),
        ]
    );
    let past_due = &p.exceptions[1];
    assert_eq!(past_due.date.to_string(), "2026-12-14");
    assert_eq!(past_due.suggested_date.unwrap().to_string(), "2027-01-04");
}

/// Textbook single-item record: lot-for-lot with safety stock, a scheduled
/// receipt, and forecast consumed by orders.
///
/// | wk | 0 | 1 | 2 | 3 | 4 | 5 |
/// | gross | 0 | 10 | 15 | 12 | 0 | 20 |   (wk3: order 10, forecast 12 → 12)
/// | sched | | | 10 | | | |
/// | PAB (on hand 20, SS 5) | 20 | 10 | 5 | 5 | 5 | 5 |
/// | net | | | | 12 | | 20 |
/// | planned receipts | | | | 12 | | 20 |
/// | planned releases (LT 2) | | 12 | | 20 | | |
#[test]
fn textbook_lot_for_lot_with_safety_stock() {
    let s = scenario(
        r#"{"format":"mrp-scenario/1","name":"textbook","calendar":{"start":"2027-01-04","bucket_days":7,"periods":6},
        "items":[{"id":"A","source":"make","lead_time":2,"safety_stock":5,"on_hand":20}],
        "demand":[
          {"id":"SO-1","item":"A","date":"2027-01-11","quantity":10,"kind":"order"},
          {"id":"SO-2","item":"A","date":"2027-01-20","quantity":15,"kind":"order"},
          {"id":"SO-3","item":"A","date":"2027-01-25","quantity":10,"kind":"order"},
          {"id":"FC-3","item":"A","date":"2027-01-25","quantity":12,"kind":"forecast"},
          {"id":"SO-5","item":"A","date":"2027-02-08","quantity":20,"kind":"order"}],
        "receipts":[{"id":"WO-1","item":"A","date":"2027-01-18","quantity":10}]}"#,
    );
    let p = plan(&s).unwrap();
    let r = p.record(0);
    assert_eq!(r.gross, ds(&["0", "10", "15", "12", "0", "20"]).as_slice());
    assert_eq!(r.scheduled_receipts, ds(&["0", "0", "10", "0", "0", "0"]).as_slice());
    assert_eq!(r.projected_available, ds(&["20", "10", "5", "5", "5", "5"]).as_slice());
    assert_eq!(r.net, ds(&["0", "0", "0", "12", "0", "20"]).as_slice());
    assert_eq!(r.planned_receipts, ds(&["0", "0", "0", "12", "0", "20"]).as_slice());
    assert_eq!(r.planned_releases, ds(&["0", "12", "0", "20", "0", "0"]).as_slice());
    // FIFO: on hand 20 → SO-1 10, SO-2 10; WO-1 → SO-2 5, SO-3 5; PL-1 → SO-3 5,
    // FC-3's unconsumed 2, SO-5 5; PL-2 → SO-5 15 and the safety stock 5.
    assert_eq!(pegging(&s, &p, "PL-1"), pegs(&[("SO-3", "5"), ("FC-3", "2"), ("SO-5", "5")]));
    assert_eq!(pegging(&s, &p, "PL-2"), pegs(&[("SO-5", "15"), ("ss:A", "5")]));
    assert!(p.exceptions.is_empty(), "{:?}", p.exceptions);
}

fn one_item(lot: &str, on_hand: &str, ss: &str, gross: &[(&str, &str)]) -> (Scenario, PlanResult) {
    let demand: Vec<String> = gross
        .iter()
        .enumerate()
        .map(|(k, (date, q))| format!(r#"{{"id":"D{k}","item":"X","date":"{date}","quantity":{q},"kind":"order"}}"#))
        .collect();
    let s = scenario(&format!(
        r#"{{"format":"mrp-scenario/1","name":"t","calendar":{{"start":"2027-01-04","bucket_days":7,"periods":6}},
        "items":[{{"id":"X","source":"buy","on_hand":{on_hand},"safety_stock":{ss},"lot":{lot}}}],
        "demand":[{}]}}"#,
        demand.join(",")
    ));
    let p = plan(&s).unwrap();
    (s, p)
}

const WEEKS: [&str; 6] = ["2027-01-04", "2027-01-11", "2027-01-18", "2027-01-25", "2027-02-01", "2027-02-08"];

#[test]
fn fixed_lot_covers_several_buckets_and_excess_is_pegged_to_lot_size() {
    let (s, p) = one_item(
        r#"{"rule":"fixed","quantity":25}"#,
        "0",
        "0",
        &[(WEEKS[0], "10"), (WEEKS[1], "10"), (WEEKS[2], "10")],
    );
    let r = p.record(0);
    assert_eq!(r.planned_receipts, ds(&["25", "0", "25", "0", "0", "0"]).as_slice());
    assert_eq!(r.projected_available, ds(&["15", "5", "20", "20", "20", "20"]).as_slice());
    assert_eq!(pegging(&s, &p, "PL-1"), pegs(&[("D0", "10"), ("D1", "10"), ("D2", "5")]));
    assert_eq!(pegging(&s, &p, "PL-2"), pegs(&[("D2", "5"), ("lot:X", "20")]));
}

#[test]
fn period_order_covers_p_buckets() {
    let (_, p) = one_item(
        r#"{"rule":"period_order","periods":2}"#,
        "0",
        "0",
        &[(WEEKS[0], "10"), (WEEKS[1], "20"), (WEEKS[2], "30"), (WEEKS[4], "5")],
    );
    let r = p.record(0);
    // wk0 covers wk0-1 (30); wk2 covers wk2-3 (30); wk4 covers wk4-5 (5).
    assert_eq!(r.planned_receipts, ds(&["30", "0", "30", "0", "5", "0"]).as_slice());
}

#[test]
fn eoq_orders_at_least_the_economic_quantity() {
    // Total gross 420 over 6 weeks: D = 420 × 365 / 42 = 3650; 2·D·10 / 2 = 36,500 → 191.05 → 192.
    // wk0: NR 100 → 192 (PAB 92); wk2: NR 8 → 192 (PAB 184); wk4: NR 36 → 192.
    let (_, p) = one_item(
        r#"{"rule":"eoq","order_cost":10,"holding_cost":2}"#,
        "0",
        "0",
        &[(WEEKS[0], "100"), (WEEKS[2], "100"), (WEEKS[4], "220")],
    );
    let r = p.record(0);
    assert_eq!(r.planned_receipts, ds(&["192", "0", "192", "0", "192", "0"]).as_slice());
}

#[test]
fn min_multiple_and_max_modify_the_lot() {
    // NR 130 → min 40 keeps 130 → multiple 20 → 140 → max 60 splits 60 + 60 + 20.
    let (s, p) = one_item(r#"{"rule":"lot_for_lot","min":40,"multiple":20,"max":60}"#, "0", "0", &[(WEEKS[1], "130")]);
    let q: Vec<Decimal> = p.planned_orders.iter().map(|o| o.quantity).collect();
    assert_eq!(q, ds(&["60", "60", "20"]));
    assert!(p.planned_orders.iter().all(|o| o.due_bucket == 1));
    assert_eq!(p.record(0).planned_receipts[1], d("140"));
    assert_eq!(pegging(&s, &p, "PL-3"), pegs(&[("D0", "10"), ("lot:X", "10")]));
    // A small requirement is raised to the minimum.
    let (_, p) = one_item(r#"{"rule":"lot_for_lot","min":40,"multiple":20}"#, "0", "0", &[(WEEKS[1], "3")]);
    assert_eq!(p.planned_orders[0].quantity, d("40"));
}

#[test]
fn on_hold_stock_is_never_netted() {
    let s = scenario(
        r#"{"format":"mrp-scenario/1","name":"t","calendar":{"start":"2027-01-04","bucket_days":7,"periods":2},
        "items":[{"id":"X","source":"buy","on_hand":3,"on_hold":100}],
        "demand":[{"id":"D","item":"X","date":"2027-01-04","quantity":10,"kind":"order"}]}"#,
    );
    let p = plan(&s).unwrap();
    assert_eq!(p.planned_orders[0].quantity, d("7"));
}

#[test]
fn forecast_is_consumed_by_orders_in_the_same_bucket_only() {
    let s = scenario(
        r#"{"format":"mrp-scenario/1","name":"t","calendar":{"start":"2027-01-04","bucket_days":7,"periods":3},
        "items":[{"id":"X","source":"buy"}],
        "demand":[
          {"id":"F0","item":"X","date":"2027-01-04","quantity":50,"kind":"forecast"},
          {"id":"O0","item":"X","date":"2027-01-06","quantity":30,"kind":"order"},
          {"id":"F1","item":"X","date":"2027-01-11","quantity":20,"kind":"forecast"},
          {"id":"O1","item":"X","date":"2027-01-12","quantity":25,"kind":"order"},
          {"id":"O2","item":"X","date":"2027-01-18","quantity":5,"kind":"order"}]}"#,
    );
    let p = plan(&s).unwrap();
    assert_eq!(p.record(0).gross, ds(&["50", "25", "5"]).as_slice());
    assert_eq!(pegging(&s, &p, "PL-1"), pegs(&[("F0", "20"), ("O0", "30")]));
    assert_eq!(pegging(&s, &p, "PL-2"), pegs(&[("O1", "25")]));
}

#[test]
fn dates_outside_the_horizon() {
    let s = scenario(
        r#"{"format":"mrp-scenario/1","name":"t","calendar":{"start":"2027-01-04","bucket_days":7,"periods":2},
        "items":[{"id":"X","source":"buy","lead_time":1}],
        "demand":[
          {"id":"LATE","item":"X","date":"2026-12-20","quantity":4,"kind":"order"},
          {"id":"EDGE","item":"X","date":"2027-01-17","quantity":1,"kind":"order"},
          {"id":"FAR","item":"X","date":"2027-01-18","quantity":9,"kind":"order"}],
        "receipts":[{"id":"OLD","item":"X","date":"2026-12-01","quantity":2}]}"#,
    );
    let p = plan(&s).unwrap();
    // LATE counts in wk0, EDGE (last day of wk1) in wk1, FAR (horizon end) nowhere.
    assert_eq!(p.record(0).gross, ds(&["4", "1"]).as_slice());
    assert_eq!(p.record(0).scheduled_receipts, ds(&["2", "0"]).as_slice());
    assert_eq!(
        exceptions(&s, &p),
        vec![
            ("X".into(), "past_due_demand", "LATE".into()),
            ("X".into(), "beyond_horizon", "FAR".into()),
            ("X".into(), "past_due_receipt", "OLD".into()),
            ("X".into(), "past_due_release", "PL-1".into()),
        ]
    );
}

#[test]
fn each_parent_order_passes_its_bom_lines_on_in_line_order() {
    // P has two lines to C and two orders released in week 1 (max 10). C
    // takes them order by order, line by line: PL-1 ×1, PL-1 ×2, PL-2 ×1,
    // PL-2 ×2, first from its 25 in stock, then from its orders of 20 and 15.
    let s = scenario(
        r#"{"format":"mrp-scenario/1","name":"t","calendar":{"start":"2027-01-04","bucket_days":7,"periods":2},
        "items":[{"id":"P","source":"make","lot":{"rule":"lot_for_lot","max":10}},
                 {"id":"C","source":"buy","on_hand":25,"lot":{"rule":"lot_for_lot","max":20}}],
        "bom":[{"parent":"P","component":"C","quantity":1},{"parent":"P","component":"C","quantity":2}],
        "demand":[{"id":"SO-1","item":"P","date":"2027-01-04","quantity":12,"kind":"order"},
                  {"id":"SO-2","item":"P","date":"2027-01-04","quantity":8,"kind":"order"}]}"#,
    );
    for p in [
        plan(&s).unwrap(),
        plan_in_rounds(&s, &crate::validate(&s).unwrap(), PlanOptions::default(), Rounds { work: 1, parallel: 0 })
            .unwrap(),
    ] {
        assert_eq!(pegging(&s, &p, "PL-1"), pegs(&[("SO-1", "10")]));
        assert_eq!(pegging(&s, &p, "PL-2"), pegs(&[("SO-1", "2"), ("SO-2", "8")]));
        // Stock 25: SO-1 10, SO-1 15 of 20. PL-3 (20): SO-1 5, SO-1 2, SO-2 8, SO-1 4, SO-2 1. PL-4: SO-2 15.
        assert_eq!(pegging(&s, &p, "PL-3"), pegs(&[("SO-1", "11"), ("SO-2", "9")]));
        assert_eq!(pegging(&s, &p, "PL-4"), pegs(&[("SO-2", "15")]));
    }
}

#[test]
fn phantom_nets_its_stock_and_passes_the_rest_down_in_the_same_bucket() {
    let s = scenario(
        r#"{"format":"mrp-scenario/1","name":"t","calendar":{"start":"2027-01-04","bucket_days":7,"periods":4},
        "items":[{"id":"A","source":"make","lead_time":1},
                 {"id":"K","source":"phantom","on_hand":3},
                 {"id":"P","source":"buy","lead_time":0}],
        "bom":[{"parent":"A","component":"K","quantity":2},{"parent":"K","component":"P","quantity":"1.5","scrap":"0.1"}],
        "demand":[{"id":"SO","item":"A","date":"2027-01-25","quantity":10,"kind":"order"}]}"#,
    );
    let p = plan(&s).unwrap();
    // A: 10 due wk3, released wk2 → K needs 20 in wk2, 3 from stock → 17 × 1.5 × 1.1 = 28.05 of P in wk2.
    let k = p.record(1);
    assert_eq!(k.gross, ds(&["0", "0", "20", "0"]).as_slice());
    assert_eq!(k.net, ds(&["0", "0", "17", "0"]).as_slice());
    assert!(k.planned_receipts.iter().all(|q| q.is_zero()));
    assert_eq!(p.record(2).gross, ds(&["0", "0", "28.05", "0"]).as_slice());
    assert_eq!(orders(&s, &p).len(), 2, "no planned order for the phantom");
    assert_eq!(pegging(&s, &p, "PL-2"), pegs(&[("SO", "28.05")]));
}

#[test]
fn receipt_exceptions_reschedule_in_out_and_cancel() {
    let s = scenario(
        r#"{"format":"mrp-scenario/1","name":"t","calendar":{"start":"2027-01-04","bucket_days":7,"periods":6},
        "items":[{"id":"X","source":"buy","on_hand":5}],
        "demand":[{"id":"D1","item":"X","date":"2027-01-11","quantity":10,"kind":"order"},
                  {"id":"D4","item":"X","date":"2027-02-01","quantity":10,"kind":"order"}],
        "receipts":[{"id":"IN","item":"X","date":"2027-01-25","quantity":5},
                    {"id":"OUT","item":"X","date":"2027-01-25","quantity":10},
                    {"id":"OK","item":"X","date":"2027-02-01","quantity":0},
                    {"id":"NO","item":"X","date":"2027-02-01","quantity":3}]}"#,
    );
    let p = plan(&s).unwrap();
    let e: Vec<_> = p
        .exceptions
        .iter()
        .map(|e| (e.kind.as_str(), e.reference.as_str(), e.suggested_date.map(|d| d.to_string())))
        .collect();
    assert_eq!(
        e,
        vec![
            ("reschedule_in", "IN", Some("2027-01-11".to_owned())),
            ("reschedule_out", "OUT", Some("2027-02-01".to_owned())),
            ("cancel", "NO", None),
        ]
    );
}

#[test]
fn every_order_is_pegged_in_full_and_records_balance() {
    let s = scenario(SPEC_EXAMPLE);
    let p = plan(&s).unwrap();
    for o in &p.planned_orders {
        let sum: Decimal = p.pegging(o).iter().map(|peg| peg.quantity()).sum();
        assert_eq!(sum, o.quantity, "{}", o.id());
    }
}

#[test]
fn overflow_is_an_error_not_a_panic() {
    let s = scenario(
        r#"{"format":"mrp-scenario/1","name":"t","calendar":{"start":"2027-01-04","bucket_days":7,"periods":2},
        "items":[{"id":"A","source":"make"},{"id":"B","source":"make"},{"id":"C","source":"buy"}],
        "bom":[{"parent":"A","component":"B","quantity":"1e20"},{"parent":"B","component":"C","quantity":"1e20"}],
        "demand":[{"id":"D","item":"A","date":"2027-01-04","quantity":5,"kind":"order"}]}"#,
    );
    assert!(matches!(plan(&s), Err(PlanError::Overflow { .. })));
}

#[test]
fn past_due_releases_beyond_the_decimal_range_are_an_error() {
    // Both orders are released in bucket 0; their sum leaves the range (the
    // record, worked out when read, must never meet a sum the planner did not make).
    let text = |second: &str| {
        format!(
            r#"{{"format":"mrp-scenario/1","name":"t","calendar":{{"start":"2027-01-04","bucket_days":7,"periods":3}},
            "items":[{{"id":"A","source":"make","lead_time":2}}],
            "demand":[{{"id":"D1","item":"A","date":"2027-01-04","quantity":"5e28","kind":"order"}},
                      {{"id":"D2","item":"A","date":"2027-01-11","quantity":"{second}","kind":"order"}}]}}"#
        )
    };
    assert!(matches!(plan(&scenario(&text("5e28"))), Err(PlanError::Overflow { .. })));
    let p = plan(&scenario(&text("2e28"))).unwrap();
    let r = p.record(0);
    assert_eq!(r.planned_releases, ds(&["70000000000000000000000000000", "0", "0"]));
    assert_eq!(r.planned_receipts, ds(&["50000000000000000000000000000", "20000000000000000000000000000", "0"]));
    assert_eq!(r.net, r.planned_receipts);
}

#[test]
fn a_tiny_max_is_refused_instead_of_exploding() {
    let (s, _) = one_item(r#"{"rule":"lot_for_lot"}"#, "0", "0", &[(WEEKS[0], "1")]);
    let mut s = s;
    s.demand[0].quantity = d("1000000");
    s.items[0].lot.max = Some(d("1"));
    assert!(matches!(plan(&s), Err(PlanError::TooManyOrders { .. })));
}

/// The same plan, whatever the chunks of the peg arena.
fn assert_same_plan(a: &PlanResult, b: &PlanResult) {
    let view = |p: &PlanResult| {
        p.planned_orders
            .iter()
            .map(|o| (o.number, o.item, o.kind, o.release_bucket, o.due_bucket, o.quantity, p.pegging(o).to_vec()))
            .collect::<Vec<_>>()
    };
    assert_eq!(view(a), view(b));
    assert_eq!(a.records, b.records);
    assert_eq!(a.exceptions, b.exceptions);
    assert_eq!((&a.low_level_code, a.pegging), (&b.low_level_code, b.pegging));
}

#[test]
fn planning_in_rounds_on_threads_gives_the_plan_of_one_item_after_another() {
    // Tiny rounds on two threads against one round per level on this thread:
    // the same orders (numbers, pegs), records and exceptions.
    for (items, seed) in [(600, 3), (1500, 11)] {
        let s = crate::generate::generate(&crate::generate::GenParams { items, levels: 5, periods: 20, seed });
        let net = crate::validate(&s).unwrap();
        for pegging in [true, false] {
            let options = PlanOptions { pegging };
            let one_by_one = plan_in_rounds(&s, &net, options, Rounds { work: usize::MAX / 4, parallel: usize::MAX });
            let threaded = plan_in_rounds(&s, &net, options, Rounds { work: 300, parallel: 0 });
            let (a, b) = (one_by_one.unwrap(), threaded.unwrap());
            assert_same_plan(&a, &b);
            assert!(!a.exceptions.is_empty() && a.planned_orders.len() > 1000);
        }
    }
}

#[test]
fn errors_on_threads_are_those_of_planning_one_item_after_another() {
    let s = scenario(
        r#"{"format":"mrp-scenario/1","name":"t","calendar":{"start":"2027-01-04","bucket_days":7,"periods":2},
        "items":[{"id":"A","source":"make"},{"id":"B","source":"make"},{"id":"C","source":"buy"},
                 {"id":"E","source":"make","lot":{"rule":"lot_for_lot","max":1}}],
        "bom":[{"parent":"A","component":"B","quantity":"1e20"},{"parent":"B","component":"C","quantity":"1e20"}],
        "demand":[{"id":"D","item":"A","date":"2027-01-04","quantity":5,"kind":"order"},
                  {"id":"F","item":"E","date":"2027-01-04","quantity":1000000,"kind":"order"}]}"#,
    );
    let net = crate::validate(&s).unwrap();
    for pegging in [true, false] {
        let options = PlanOptions { pegging };
        let one_by_one = plan_in_rounds(&s, &net, options, Rounds { work: usize::MAX / 4, parallel: usize::MAX });
        let threaded = plan_in_rounds(&s, &net, options, Rounds { work: 1, parallel: 0 });
        assert!(one_by_one.is_err());
        assert_eq!(one_by_one.unwrap_err(), threaded.unwrap_err());
    }
}

/// The decoded fast path of `allocate_segments` pegs exactly what taking
/// each segment through `allocate` pegs (same targets, quantities and
/// scales, same stock left on every supply), over random queues of stock
/// and orders, fractional, zero and beyond-`i64` quantities, and factors.
#[test]
fn allocate_segments_pegs_what_allocate_pegs_segment_by_segment() {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let quantities = [
        d("0"),
        d("1"),
        d("3"),
        d("2.5"),
        d("0.125"),
        d("7.00"),
        d("12"),
        d("40"),
        Decimal::new(i64::MAX, 2),
        Decimal::from_i128_with_scale(1 << 70, 3),
        Decimal::new(1, 27),
    ];
    let factors = [Decimal::ONE, d("2"), d("1.05"), d("0.3333333333"), d("1.0"), Decimal::new(i64::MAX, 0)];
    for case in 0..3000 {
        let mut orders = Vec::new();
        let mut supplies = Vec::new();
        for _ in 0..1 + next(6) {
            let remaining = quantities[next(quantities.len() as u64) as usize] * Decimal::from(1 + next(20));
            let order = if next(3) == 0 {
                None
            } else {
                orders.push(PlannedOrder {
                    number: 0,
                    item: 0,
                    kind: crate::model::Source::Make,
                    release_bucket: 0,
                    due_bucket: 0,
                    quantity: remaining,
                    pegs_chunk: 0,
                    pegs_start: u32::MAX,
                    pegs_len: 0,
                });
                Some(orders.len() - 1)
            };
            supplies.push(Supply { order, remaining });
        }
        let requirements: Vec<(Vec<Peg>, Decimal)> = (0..1 + next(4))
            .map(|_| {
                let mut key = 0;
                let segments = (0..next(8))
                    .map(|_| {
                        key += 1 + next(5) as u32;
                        let quantity = quantities[next(quantities.len() as u64) as usize];
                        let kind = next(10);
                        let target = match kind {
                            0 => PegTarget::SafetyStock(key),
                            1 => PegTarget::LotSize(key),
                            _ => PegTarget::Demand(key),
                        };
                        Peg::new(target, quantity)
                    })
                    .collect();
                (segments, factors[next(factors.len() as u64) as usize])
            })
            .collect();
        let targets = 64;
        let mut fast =
            (SupplyQueue { supplies: supplies.clone(), head: 0 }, orders.clone(), Vec::new(), Filling::default());
        let mut slow = (SupplyQueue { supplies, head: 0 }, orders, Vec::new(), Filling::default());
        for f in [&mut fast.3, &mut slow.3] {
            f.size_for(targets, targets);
            f.sorted = true;
        }
        let fast_result: Result<(), Overflow> = requirements.iter().try_for_each(|(segments, factor)| {
            allocate_segments(segments, &Factor::of(*factor), &mut fast.0, &mut fast.1, &mut fast.2, &mut fast.3)
        });
        let slow_result: Result<(), Overflow> = requirements.iter().try_for_each(|(segments, factor)| {
            segments.iter().try_for_each(|seg| {
                let quantity = if crate::lot::is_unit(*factor) {
                    seg.quantity()
                } else {
                    crate::lot::mul(seg.quantity(), *factor)?
                };
                allocate(seg.key(), quantity, &mut slow.0, &mut slow.1, &mut slow.2, &mut slow.3)
            })
        });
        assert_eq!(fast_result.is_ok(), slow_result.is_ok(), "case {case}");
        if fast_result.is_err() {
            continue;
        }
        fast.3.finish(&mut fast.2);
        slow.3.finish(&mut slow.2);
        let repr = |d: Decimal| (d, d.scale(), d.is_sign_negative());
        assert_eq!(fast.0.head, slow.0.head, "case {case}");
        for (a, b) in fast.0.supplies.iter().zip(&slow.0.supplies) {
            assert_eq!(repr(a.remaining), repr(b.remaining), "case {case}");
        }
        for (a, b) in fast.1.iter().zip(&slow.1) {
            let pegs_a: Vec<_> = local_pegs(&fast.2, a).iter().map(|p| (p.target(), repr(p.quantity()))).collect();
            let pegs_b: Vec<_> = local_pegs(&slow.2, b).iter().map(|p| (p.target(), repr(p.quantity()))).collect();
            assert_eq!(pegs_a, pegs_b, "case {case}");
            assert!(pegs_a.windows(2).all(|w| w[0].0 < w[1].0), "case {case}: pegs in target order, each once");
        }
    }
}

#[test]
fn pegs_keep_their_target_and_quantity_exactly() {
    assert_eq!(size_of::<Peg>(), 16);
    let quantities = [
        d("1"),
        d("0.5"),
        d("2.50"),
        d("123456789.123456789"),
        Decimal::from_parts(u32::MAX, u32::MAX, u32::MAX, false, 0),
        Decimal::from_parts(1, 0, 0, false, 28),
        Decimal::from_parts(0, 0, 7, false, 3),
        Decimal::new(i64::MAX, 4),
    ];
    let last = MAX_RECORDS as u32;
    let targets = [
        PegTarget::Demand(0),
        PegTarget::Demand(last),
        PegTarget::SafetyStock(0),
        PegTarget::SafetyStock(last),
        PegTarget::LotSize(17),
        PegTarget::LotSize(last),
    ];
    for (k, &target) in targets.iter().enumerate() {
        for &q in &quantities {
            let peg = Peg::new(target, q);
            assert_eq!(peg.target(), target);
            // The same value and the same scale: results are written as they were computed.
            assert!(peg.quantity() == q && peg.quantity().scale() == q.scale(), "{q:?}");
            // Keys order pegs as their targets are ordered, whatever the quantity.
            for (j, &other) in targets.iter().enumerate() {
                let other = Peg::new(other, d("3"));
                assert_eq!(peg.key().cmp(&other.key()), k.cmp(&j));
                // So do the packed words of pegs with distinct targets (`Filling::finish` sorts by them).
                if j != k {
                    assert_eq!(peg.packed.cmp(&other.packed), k.cmp(&j));
                }
            }
            // Adding to a peg is `lot::add`, on the fast path or off it.
            for &r in &quantities {
                let mut sum = peg;
                match (sum.add(Peg::new(target, r)), crate::lot::add(q, r)) {
                    (Ok(()), Ok(expected)) => {
                        assert!(sum.quantity() == expected && sum.quantity().scale() == expected.scale());
                        assert_eq!(sum.target(), target);
                    }
                    (Err(_), Err(_)) => {}
                    (a, b) => panic!("{q} + {r}: {a:?} against {b:?}"),
                }
            }
        }
    }
}

#[test]
fn independent_demand_is_scaled_by_a_factor_of_exactly_one() {
    let one = Factor::of(Decimal::ONE);
    let unit = Factor::UNIT;
    assert!(unit.decimal == one.decimal && unit.decimal.scale() == one.decimal.scale());
    assert_eq!((unit.fixed, unit.unit), (one.fixed, one.unit));
    assert!(!Factor::of(d("1.0")).unit && Factor::of(d("1.02")).fixed.is_some());
}

#[test]
fn rounds_are_cut_into_runs_of_about_equal_work_in_order() {
    let split = |jobs: Vec<usize>, batches| {
        let work = jobs.iter().sum();
        split_by_work(jobs, work, batches, |w| *w)
    };
    // Every job once, in order, in at most `batches` runs.
    let jobs: Vec<usize> = (0..100).map(|k| 1 + k % 7).collect();
    let runs = split(jobs.clone(), 8);
    assert_eq!(runs.len(), 8);
    assert_eq!(runs.concat(), jobs);
    // Each run but the last holds about an eighth of the work (at most one job more).
    let eighth = jobs.iter().sum::<usize>() / 8;
    for run in &runs[..7] {
        let w: usize = run.iter().sum();
        assert!(w >= eighth - 7 && w <= eighth + 7, "{w} against {eighth}");
    }
    // A large job ends its run (the next starts once the work so far is
    // due); fewer jobs than batches give fewer runs.
    assert_eq!(split(vec![1, 100, 1, 1], 8), vec![vec![1, 100], vec![1], vec![1]]);
    assert_eq!(split(vec![5], 8), vec![vec![5]]);
    // Never more runs than batches, even when the last jobs weigh nothing.
    assert_eq!(split(vec![1, 1, 0, 0], 2), vec![vec![1], vec![1, 0, 0]]);
    assert!(split(Vec::new(), 8).is_empty());
}
