//! Every plan `takt optimize` returns is checked here by an independent
//! feasibility checker that reads the scenario JSON and the result document
//! (it shares no code with the optimiser's model): inventory balance through
//! the bill of materials with scrap, dependent demand never backlogged,
//! lead times, lot minimums and multiples, work-centre capacity plus
//! overtime from the calendar, and the reported loads, backlog and cost.

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde_json::Value;

fn dec(v: &Value) -> Decimal {
    match v {
        Value::String(s) => Decimal::from_str(s).unwrap(),
        Value::Number(n) => {
            let t = n.to_string();
            if t.contains(['e', 'E']) { Decimal::from_scientific(&t).unwrap() } else { Decimal::from_str(&t).unwrap() }
        }
        other => panic!("not a number: {other}"),
    }
}

fn opt_dec(v: &Value, key: &str) -> Option<Decimal> {
    v.get(key).filter(|x| !x.is_null()).map(dec)
}

fn date(v: &Value) -> NaiveDate {
    NaiveDate::parse_from_str(v.as_str().unwrap(), "%Y-%m-%d").unwrap()
}

fn list<'a>(v: &'a Value, key: &str) -> Vec<&'a Value> {
    v.get(key).and_then(Value::as_array).map(|a| a.iter().collect()).unwrap_or_default()
}

/// Checks a result document against its scenario; returns every problem found.
pub fn check(scenario: &Value, result: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let cal = &scenario["calendar"];
    let start = date(&cal["start"]);
    let days = cal["bucket_days"].as_i64().unwrap();
    let periods = cal["periods"].as_i64().unwrap() as usize;
    // Some(bucket) inside the horizon, Some(0) before it, None after it.
    let bucket = |d: NaiveDate| -> Option<usize> {
        let offset = (d - start).num_days();
        if offset < 0 {
            Some(0)
        } else if offset / days >= periods as i64 {
            None
        } else {
            Some((offset / days) as usize)
        }
    };
    let zeros = || vec![Decimal::ZERO; periods];
    let items = list(scenario, "items");
    let index: HashMap<&str, usize> = items.iter().enumerate().map(|(i, it)| (it["id"].as_str().unwrap(), i)).collect();
    let source = |i: usize| items[i]["source"].as_str().unwrap();
    let lead = |i: usize| {
        if source(i) == "phantom" { 0 } else { items[i].get("lead_time").map_or(0, |v| v.as_u64().unwrap() as usize) }
    };

    let mut orders_fc = vec![zeros(); items.len()];
    let mut orders_co = vec![zeros(); items.len()];
    for d in list(scenario, "demand") {
        let i = index[d["item"].as_str().unwrap()];
        if let Some(t) = bucket(date(&d["date"])) {
            if d["kind"] == "forecast" {
                orders_fc[i][t] += dec(&d["quantity"]);
            } else {
                orders_co[i][t] += dec(&d["quantity"]);
            }
        }
    }
    let independent: Vec<Vec<Decimal>> =
        (0..items.len()).map(|i| (0..periods).map(|t| orders_fc[i][t].max(orders_co[i][t])).collect()).collect();
    let mut scheduled = vec![zeros(); items.len()];
    for r in list(scenario, "receipts") {
        let i = index[r["item"].as_str().unwrap()];
        if let Some(t) = bucket(date(&r["date"])) {
            scheduled[i][t] += dec(&r["quantity"]);
        }
    }

    // Orders: lead time, horizon, lot rules.
    let mut released = vec![zeros(); items.len()];
    let mut received = vec![zeros(); items.len()];
    let mut released_orders: Vec<(usize, usize, Decimal)> = Vec::new();
    for o in list(result, "planned_orders") {
        let id = o["id"].as_str().unwrap();
        let Some(&i) = index.get(o["item"].as_str().unwrap()) else {
            problems.push(format!("{id}: unknown item"));
            continue;
        };
        let q = dec(&o["quantity"]);
        let (rel, due) = (date(&o["release_date"]), date(&o["due_date"]));
        if o["kind"] != items[i]["source"] || source(i) == "phantom" {
            problems.push(format!("{id}: kind {} for a {} item", o["kind"], source(i)));
        }
        if rel < start || (rel - start).num_days() % days != 0 {
            problems.push(format!("{id}: release {rel} is not a bucket start in the horizon"));
            continue;
        }
        if (due - rel).num_days() != lead(i) as i64 * days {
            problems.push(format!("{id}: released {rel}, due {due}: lead time is {} buckets", lead(i)));
        }
        let (Some(r), Some(d)) = (bucket(rel), bucket(due)) else {
            problems.push(format!("{id}: due {due} after the horizon"));
            continue;
        };
        if q <= Decimal::ZERO {
            problems.push(format!("{id}: quantity {q}"));
        }
        let lot = &items[i]["lot"];
        if let Some(min) = opt_dec(lot, "min")
            && q < min
        {
            problems.push(format!("{id}: {q} below the minimum order quantity {min}"));
        }
        if let Some(m) = opt_dec(lot, "multiple")
            && !(q % m).is_zero()
        {
            problems.push(format!("{id}: {q} is not a multiple of {m}"));
        }
        released[i][r] += q;
        received[i][d] += q;
        released_orders.push((i, r, q));
    }
    // Phantoms pass their net requirement on in the same bucket: the record shows it.
    for (i, it) in items.iter().enumerate() {
        if source(i) == "phantom" {
            let rec = &result["records"][it["id"].as_str().unwrap()];
            for (t, v) in list(rec, "planned_releases").into_iter().enumerate() {
                released[i][t] += dec(v);
                received[i][t] += dec(v);
            }
        }
    }

    // Inventory balance through the BOM with scrap.
    let mut gross = independent.clone();
    for line in list(scenario, "bom") {
        let p = index[line["parent"].as_str().unwrap()];
        let c = index[line["component"].as_str().unwrap()];
        let factor = dec(&line["quantity"]) * (Decimal::ONE + opt_dec(line, "scrap").unwrap_or_default());
        for t in 0..periods {
            gross[c][t] += released[p][t] * factor;
        }
    }
    let capacity = scenario.get("capacity").cloned().unwrap_or(Value::Null);
    let costs = capacity.get("costs").cloned().unwrap_or(Value::Null);
    let own_costs: HashMap<&str, &Value> =
        list(&capacity, "items").into_iter().map(|c| (c["item"].as_str().unwrap(), c)).collect();
    let per_bucket = Decimal::from(days) / Decimal::from(365);
    let reported_backlog = &result["optimization"]["backlog"];
    let mut cost = Decimal::ZERO;
    for (i, it) in items.iter().enumerate() {
        let id = it["id"].as_str().unwrap();
        let own = own_costs.get(id).copied().unwrap_or(&Value::Null);
        let eoq = (it["lot"]["rule"] == "eoq").then(|| &it["lot"]);
        let holding = opt_dec(own, "holding_cost").unwrap_or_else(|| {
            if let Some(u) = opt_dec(it, "unit_cost") {
                (u * opt_dec(&costs, "holding_rate").unwrap_or(Decimal::new(25, 2)) * per_bucket).round_dp(6)
            } else if let Some(e) = eoq {
                (dec(&e["holding_cost"]) * per_bucket).round_dp(6)
            } else {
                opt_dec(&costs, "holding_cost").unwrap_or(Decimal::new(1, 2))
            }
        });
        let backlog_cost =
            opt_dec(own, "backlog_cost").or(opt_dec(&costs, "backlog_cost")).unwrap_or(Decimal::from(1000));
        let ss_cost =
            opt_dec(own, "safety_stock_cost").or(opt_dec(&costs, "safety_stock_cost")).unwrap_or(Decimal::from(10));
        let setup = opt_dec(own, "setup_cost")
            .or(eoq.map(|e| dec(&e["order_cost"])))
            .or(opt_dec(&costs, "setup_cost"))
            .unwrap_or_default();
        if source(i) != "phantom" {
            cost += setup * Decimal::from(released_orders.iter().filter(|o| o.0 == i).count());
        }
        let safety =
            if source(i) == "phantom" { Decimal::ZERO } else { opt_dec(it, "safety_stock").unwrap_or_default() };
        let mut net = opt_dec(it, "on_hand").unwrap_or_default();
        let mut cum = Decimal::ZERO;
        for t in 0..periods {
            net += scheduled[i][t] + received[i][t] - gross[i][t];
            cum += independent[i][t];
            let late = (-net).max(Decimal::ZERO);
            if late > cum {
                problems.push(format!("{id}: short of {} in bucket {t}: dependent demand is not met", late - cum));
            }
            let reported = reported_backlog.get(id).map_or(Decimal::ZERO, |row| dec(&row[t]));
            if reported != late.min(cum) {
                problems.push(format!("{id}: backlog {} in bucket {t}, reported {reported}", late.min(cum)));
            }
            let stock = net.max(Decimal::ZERO);
            cost += holding * stock + backlog_cost * late.min(cum) + ss_cost * (safety - stock).max(Decimal::ZERO);
        }
    }

    // Capacity per work centre and bucket, with the calendar.
    let reported_wcs = list(&result["optimization"], "work_centers");
    for (w, wc) in list(&capacity, "work_centers").into_iter().enumerate() {
        let wid = wc["id"].as_str().unwrap();
        let mut hours = vec![dec(&wc["hours"]); periods];
        let mut overtime = vec![opt_dec(wc, "overtime_hours").unwrap_or_default(); periods];
        for c in list(wc, "calendar") {
            let t = bucket(date(&c["date"])).unwrap();
            if let Some(h) = opt_dec(c, "hours") {
                hours[t] = h;
            }
            if let Some(o) = opt_dec(c, "overtime_hours") {
                overtime[t] = o;
            }
        }
        let mut load = zeros();
        for r in list(&capacity, "routings").into_iter().filter(|r| r["work_center"] == wid) {
            let i = index[r["item"].as_str().unwrap()];
            for &(_, t, q) in released_orders.iter().filter(|o| o.0 == i) {
                load[t] += opt_dec(r, "setup_hours").unwrap_or_default() + dec(&r["run_hours"]) * q;
            }
        }
        let ot_cost = opt_dec(wc, "overtime_cost").unwrap_or(Decimal::from(100));
        for t in 0..periods {
            if load[t] > hours[t] + overtime[t] {
                problems.push(format!(
                    "{wid}: load {} in bucket {t} above {} + {} overtime",
                    load[t], hours[t], overtime[t]
                ));
            }
            cost += ot_cost * (load[t] - hours[t]).max(Decimal::ZERO).min(overtime[t]);
            let reported = reported_wcs.get(w).map(|r| dec(&r["load_after"][t]));
            if reported != Some(load[t]) {
                problems.push(format!("{wid}: load {} in bucket {t}, reported {reported:?}", load[t]));
            }
        }
    }
    let reported_cost = dec(&result["optimization"]["objective"]);
    if reported_cost != cost.round_dp(2) {
        problems.push(format!("cost {} recomputed, reported {reported_cost}", cost.round_dp(2)));
    }
    problems
}

fn optimise(text: &str, seconds: f64) -> Value {
    let (scenario, network, capacity) = optimize::scenario::parse(text).unwrap();
    let options = optimize::solve::Options::new(seconds, 0.0001);
    let opt = optimize::report::optimize_scenario(&scenario, &network, &capacity, &options).unwrap();
    serde_json::to_value(optimize::report::result_document(&scenario, &network, &capacity, &opt, &options)).unwrap()
}

fn sample() -> (Value, Value) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/bike-shop-capacity.json");
    let text = std::fs::read_to_string(path).unwrap();
    (serde_json::from_str(&text).unwrap(), optimise(&text, 10.0))
}

#[test]
fn the_sample_plant_gets_a_feasible_plan_within_capacity() {
    let (scenario, result) = sample();
    let problems = check(&scenario, &result);
    assert!(problems.is_empty(), "{problems:#?}");
    assert!(!list(&result, "planned_orders").is_empty());
    let opt = &result["optimization"];
    assert!(
        dec(&opt["objective"]) < dec(&opt["mrp_cost"]["total"]) + dec(&opt["mrp_overload_hours"]) * Decimal::from(1000)
    );
    // The MRP plan overloads the work centres; the optimised one does not.
    assert!(dec(&opt["mrp_overload_hours"]) > Decimal::ZERO);
}

#[test]
fn the_checker_finds_broken_plans() {
    let (scenario, result) = sample();
    // An order twice as large overloads its work centre and breaks the reported load and cost.
    let mut bigger = result.clone();
    let orders = bigger["planned_orders"].as_array_mut().unwrap();
    let frame = orders.iter_mut().find(|o| o["item"] == "FRAME").unwrap();
    let q = dec(&frame["quantity"]);
    frame["quantity"] = Value::String((q * Decimal::from(3)).to_string());
    let problems = check(&scenario, &bigger);
    assert!(problems.iter().any(|p| p.starts_with("WELDING: load")), "{problems:#?}");
    // Without its wheel orders the bikes lack wheels: dependent demand is short.
    let mut fewer = result.clone();
    fewer["planned_orders"].as_array_mut().unwrap().retain(|o| o["item"] != "WHEEL");
    let problems = check(&scenario, &fewer);
    assert!(problems.iter().any(|p| p.starts_with("WHEEL: short of")), "{problems:#?}");
    // A wrong due date breaks the lead time.
    let mut late = result;
    late["planned_orders"][0]["due_date"] = Value::String("2027-03-08".into());
    assert!(check(&scenario, &late).iter().any(|p| p.contains("lead time")));
}

/// A small random plant with capacity: two products sharing a sub-assembly
/// and a bought part with a minimum and a multiple, one work centre.
fn random_scenario(seed: u64) -> String {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let mut next = |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    let periods = 5 + next(4);
    let mut demand = Vec::new();
    for t in 0..periods {
        for item in ["P1", "P2"] {
            let q = next(4) * 5;
            if q > 0 {
                let day = 4 + 7 * t;
                demand.push(format!(
                    r#"{{"id": "D-{item}-{t}", "item": "{item}", "date": "2027-01-{:02}", "quantity": {q}, "kind": "{}"}}"#,
                    day.min(31),
                    if next(3) == 0 { "forecast" } else { "order" }
                ));
            }
        }
    }
    let hours = 15 + next(25);
    format!(
        r#"{{"format": "mrp-scenario/1", "name": "random-{seed}",
  "calendar": {{"start": "2027-01-04", "bucket_days": 7, "periods": {periods}}},
  "items": [
    {{"id": "P1", "source": "make", "lead_time": {lt1}, "on_hand": {oh}}},
    {{"id": "P2", "source": "make", "lead_time": 1, "safety_stock": {ss}}},
    {{"id": "KIT", "source": "phantom", "on_hand": 3}},
    {{"id": "SUB", "source": "make", "lead_time": 0, "on_hand": 10}},
    {{"id": "PART", "source": "buy", "lead_time": 1, "on_hand": 40, "unit_cost": 2.5,
      "lot": {{"rule": "lot_for_lot", "min": 20, "multiple": 10}}}}
  ],
  "bom": [
    {{"parent": "P1", "component": "SUB", "quantity": 1}},
    {{"parent": "P2", "component": "KIT", "quantity": 1}},
    {{"parent": "KIT", "component": "SUB", "quantity": 2}},
    {{"parent": "SUB", "component": "PART", "quantity": 1.5, "scrap": 0.1}}
  ],
  "demand": [{demand}],
  "receipts": [{{"id": "PO-1", "item": "PART", "date": "2027-01-11", "quantity": 30}}],
  "capacity": {{
    "work_centers": [{{"id": "W", "hours": {hours}, "overtime_hours": {ot}, "overtime_cost": 30,
                       "calendar": [{{"date": "2027-01-18", "hours": {h2}}}]}}],
    "routings": [{{"item": "P1", "work_center": "W", "run_hours": 0.5, "setup_hours": 2}},
                 {{"item": "P2", "work_center": "W", "run_hours": 0.8, "setup_hours": 1}},
                 {{"item": "SUB", "work_center": "W", "run_hours": 0.25, "setup_hours": 3}}],
    "costs": {{"setup_cost": 15, "backlog_cost": 40}},
    "items": [{{"item": "P1", "setup_cost": 60, "holding_cost": 1}}, {{"item": "SUB", "setup_cost": 30}}]
  }}
}}"#,
        lt1 = next(2),
        oh = next(3) * 5,
        ss = next(2) * 5,
        demand = demand.join(",\n    "),
        ot = next(2) * 5,
        h2 = next(10),
    )
}

#[test]
fn random_plants_get_feasible_plans() {
    for seed in 1..=8 {
        let text = random_scenario(seed);
        let scenario: Value = serde_json::from_str(&text).unwrap();
        let result = optimise(&text, 5.0);
        let problems = check(&scenario, &result);
        assert!(problems.is_empty(), "seed {seed}: {problems:#?}\n{text}");
    }
}

#[test]
fn every_sample_scenario_gets_a_feasible_plan() {
    // Scenarios without a capacity section too: phantoms, fractional
    // quantities, scrap, EOQ costs, safety stock, held stock.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json") && !p.to_string_lossy().ends_with(".expected.json"))
        .collect();
    names.sort();
    assert!(names.len() >= 4);
    for path in names {
        let text = std::fs::read_to_string(&path).unwrap();
        let scenario: Value = serde_json::from_str(&text).unwrap();
        let result = optimise(&text, 4.0);
        let problems = check(&scenario, &result);
        assert!(problems.is_empty(), "{}: {problems:#?}", path.display());
    }
}
