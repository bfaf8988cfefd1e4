//! Invariants of planning over random scenarios, and robustness of the parser
//! and planner against arbitrary input.

// Bucket-indexed loops read like the MRP records they check.
#![allow(clippy::needless_range_loop)]

use chrono::NaiveDate;
use mrp::plan::PegTarget;
use mrp::*;
use proptest::prelude::*;
use rust_decimal::Decimal;

/// A decimal with up to `scale` places in `0..=max_units`.
fn qty(max_units: i64, scale: u32) -> impl Strategy<Value = Decimal> {
    (0..=max_units * 10i64.pow(scale)).prop_map(move |m| Decimal::new(m, scale))
}

fn lot_policy() -> impl Strategy<Value = LotPolicy> {
    let rule = prop_oneof![
        3 => Just(LotRule::LotForLot),
        1 => (1i64..=40).prop_map(|q| LotRule::Fixed { quantity: Decimal::new(q * 5, 1) }),
        1 => (1u32..=4).prop_map(|periods| LotRule::PeriodOrder { periods }),
        1 => ((0i64..=200), (1i64..=50)).prop_map(|(o, h)| LotRule::Eoq {
            order_cost: Decimal::from(o),
            holding_cost: Decimal::new(h, 1),
        }),
    ];
    (
        rule,
        proptest::option::weighted(0.2, qty(30, 0)),
        proptest::option::weighted(0.2, (1i64..=20).prop_map(|m| Decimal::new(m * 5, 1))),
        proptest::option::weighted(0.2, 30i64..=200),
    )
        .prop_map(|(rule, min, multiple, max)| LotPolicy {
            rule,
            min,
            multiple,
            // max ≥ min so the policy is valid.
            max: max.map(|m| Decimal::from(m).max(min.unwrap_or_default())),
        })
}

#[derive(Debug, Clone)]
struct Shape {
    sources: Vec<Source>,
}

/// Random valid scenarios: items in index order form levels (a BOM line always
/// points from a lower to a higher index, so there is no cycle).
fn valid_scenario() -> impl Strategy<Value = Scenario> {
    (2usize..=9, 1u32..=10, prop_oneof![Just(1u32), Just(7)])
        .prop_flat_map(|(n, periods, bucket_days)| {
            let sources = proptest::collection::vec(
                prop_oneof![4 => Just(Source::Make), 3 => Just(Source::Buy), 1 => Just(Source::Phantom)],
                n,
            );
            (Just(n), Just(periods), Just(bucket_days), sources)
        })
        .prop_flat_map(|(n, periods, bucket_days, mut sources)| {
            // The last item is bought so every chain can end somewhere.
            sources[n - 1] = Source::Buy;
            let shape = Shape { sources: sources.clone() };
            let items = proptest::collection::vec((0u32..=3, qty(20, 0), qty(60, 1), qty(10, 0), lot_policy()), n);
            let lines = proptest::collection::vec(
                (
                    0..n,
                    0..n,
                    (1i64..=8).prop_map(|q| Decimal::new(q * 25, 2)),
                    prop_oneof![
                        3 => Just(Decimal::ZERO),
                        1 => Just(Decimal::new(2, 2)),
                        1 => Just(Decimal::new(1, 1))
                    ],
                ),
                0..=3 * n,
            );
            let span = i64::from(periods * bucket_days);
            let demand = proptest::collection::vec((0..n, -10i64..span + 10, qty(50, 1), any::<bool>()), 0..=12);
            let receipts = proptest::collection::vec((0..n, -10i64..span + 10, qty(60, 0)), 0..=5);
            (Just(shape), Just(periods), Just(bucket_days), items, lines, demand, receipts)
        })
        .prop_map(|(shape, periods, bucket_days, items, lines, demand, receipts)| {
            let start = NaiveDate::from_ymd_opt(2027, 1, 4).unwrap();
            let n = shape.sources.len();
            let id = |i: usize| format!("I{i}");
            let mut bom: Vec<BomLine> = Vec::new();
            for (a, b, quantity, scrap) in lines {
                let (p, c) = (a.min(b), a.max(b));
                if p == c || shape.sources[p] == Source::Buy {
                    continue;
                }
                bom.push(BomLine { parent: id(p), component: id(c), quantity, scrap });
            }
            // Phantoms need somewhere to pass requirements: give each a line to the last item.
            for (p, s) in shape.sources.iter().enumerate() {
                if *s == Source::Phantom && !bom.iter().any(|l| l.parent == id(p)) {
                    bom.push(BomLine {
                        parent: id(p),
                        component: id(n - 1),
                        quantity: Decimal::ONE,
                        scrap: Decimal::ZERO,
                    });
                }
            }
            let items = items
                .into_iter()
                .enumerate()
                .map(|(i, (lead_time, safety_stock, on_hand, on_hold, lot))| {
                    let phantom = shape.sources[i] == Source::Phantom;
                    Item {
                        id: id(i),
                        name: None,
                        source: shape.sources[i],
                        lead_time: if phantom { 0 } else { lead_time },
                        safety_stock: if phantom { Decimal::ZERO } else { safety_stock },
                        on_hand,
                        on_hold,
                        lot: if phantom { LotPolicy::default() } else { lot },
                        unit_cost: None,
                        uom: None,
                    }
                })
                .collect::<Vec<_>>();
            let demand = demand
                .into_iter()
                .enumerate()
                .map(|(k, (i, day, quantity, order))| Demand {
                    id: format!("D{k}"),
                    item: id(i),
                    date: start + chrono::TimeDelta::days(day),
                    quantity,
                    kind: if order { DemandKind::Order } else { DemandKind::Forecast },
                })
                .collect();
            let receipts = receipts
                .into_iter()
                .enumerate()
                .filter(|(_, (i, _, _))| shape.sources[*i] != Source::Phantom)
                .map(|(k, (i, day, quantity))| Receipt {
                    id: format!("R{k}"),
                    item: id(i),
                    date: start + chrono::TimeDelta::days(day),
                    quantity,
                })
                .collect();
            Scenario {
                name: "random".into(),
                calendar: Calendar { start, bucket_days, periods },
                items,
                bom,
                demand,
                receipts,
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn planning_invariants_hold(s in valid_scenario()) {
        let p = plan(&s).expect("valid scenarios plan");
        let t_len = s.calendar.len();
        for (i, item) in s.items.iter().enumerate() {
            let r = p.record(i);
            if item.source == Source::Phantom {
                prop_assert!(r.planned_receipts.iter().all(|q| q.is_zero()));
                prop_assert!(r.projected_available.iter().all(|q| *q >= Decimal::ZERO));
                continue;
            }
            let mut prev = item.on_hand;
            for t in 0..t_len {
                // The record balances bucket by bucket.
                prop_assert_eq!(r.projected_available[t], prev + r.scheduled_receipts[t] + r.planned_receipts[t] - r.gross[t]);
                // Planning never leaves projected available below safety stock.
                prop_assert!(r.projected_available[t] >= item.safety_stock, "{} t{}", item.id, t);
                // Receipts are planned exactly where there is a net requirement, never less.
                prop_assert_eq!(r.net[t].is_zero(), r.planned_receipts[t].is_zero());
                prop_assert!(r.planned_receipts[t] >= r.net[t]);
                prev = r.projected_available[t];
            }
            if item.lot.rule == LotRule::LotForLot && item.lot.min.is_none() && item.lot.multiple.is_none() {
                prop_assert_eq!(&r.planned_receipts, &r.net, "lot-for-lot receipts equal net requirements");
            }
            let released: Decimal = r.planned_releases.iter().sum();
            let received: Decimal = r.planned_receipts.iter().sum();
            prop_assert_eq!(released, received);
        }
        for o in &p.planned_orders {
            let item = &s.items[o.item as usize];
            // Every planned order is pegged in full, with positive pieces.
            let pegs = p.pegging(o);
            prop_assert!(!pegs.is_empty());
            prop_assert!(pegs.iter().all(|peg| peg.quantity() > Decimal::ZERO));
            prop_assert_eq!(pegs.iter().map(|peg| peg.quantity()).sum::<Decimal>(), o.quantity);
            prop_assert_eq!(o.release_bucket, o.due_bucket.saturating_sub(item.lead_time));
            if let Some(max) = item.lot.max {
                prop_assert!(o.quantity <= max);
            }
        }
        // Dependent gross requirements are exactly the parents' releases exploded.
        let mut expected: Vec<Vec<Decimal>> = vec![vec![Decimal::ZERO; t_len]; s.items.len()];
        let idx = |id: &str| s.items.iter().position(|it| it.id == id).unwrap();
        for line in &s.bom {
            let (pi, ci) = (idx(&line.parent), idx(&line.component));
            let factor = line.quantity * (Decimal::ONE + line.scrap);
            let parent = p.record(pi);
            for t in 0..t_len {
                let passed = if s.items[pi].source == Source::Phantom { parent.net[t] } else { parent.planned_releases[t] };
                expected[ci][t] += passed * factor;
            }
        }
        let mut orders = vec![vec![Decimal::ZERO; t_len]; s.items.len()];
        let mut forecasts = orders.clone();
        for dem in &s.demand {
            let t = match s.calendar.bucket_of(dem.date) {
                BucketOf::In(t) => t,
                BucketOf::PastDue => 0,
                BucketOf::BeyondHorizon => continue,
            };
            let table = if dem.kind == DemandKind::Order { &mut orders } else { &mut forecasts };
            table[idx(&dem.item)][t] += dem.quantity;
        }
        for (i, exp) in expected.iter().enumerate() {
            let r = p.record(i);
            for t in 0..t_len {
                // Gross = exploded parent releases + max(forecast, orders).
                prop_assert_eq!(r.gross[t], exp[t] + orders[i][t].max(forecasts[i][t]), "item {} t{}", s.items[i].id, t);
            }
        }
        // A demand is never pegged beyond its quantity on its own item.
        let mut pegged = vec![Decimal::ZERO; s.demand.len()];
        for o in &p.planned_orders {
            for peg in p.pegging(o) {
                if let PegTarget::Demand(d) = peg.target()
                    && s.demand[d as usize].item == s.items[o.item as usize].id
                {
                    pegged[d as usize] += peg.quantity();
                }
            }
        }
        for (d, dem) in s.demand.iter().enumerate() {
            prop_assert!(pegged[d] <= dem.quantity, "{} pegged {} of {}", dem.id, pegged[d], dem.quantity);
        }
    }

    #[test]
    fn planning_is_deterministic_and_export_round_trips(s in valid_scenario()) {
        let text = serde_json::to_string(&mrp::export::ScenarioDocument(&s)).unwrap();
        let again = parse_scenario(&text).unwrap();
        prop_assert_eq!(&again, &s);
        let a = plan(&s).unwrap();
        let b = plan(&again).unwrap();
        let ja = serde_json::to_string(&ResultDocument::new(&s, &a)).unwrap();
        let jb = serde_json::to_string(&ResultDocument::new(&again, &b)).unwrap();
        // The hand-written writer writes exactly what serde writes.
        let mut written = Vec::new();
        ResultDocument::new(&s, &a).write_json(&mut written).unwrap();
        prop_assert_eq!(String::from_utf8(written).unwrap(), ja.clone());
        prop_assert_eq!(ja, jb);
    }

    #[test]
    fn pegging_off_plans_the_same_orders_records_and_exceptions(s in valid_scenario()) {
        let net = validate(&s).unwrap();
        let on = plan_network_with(&s, &net, PlanOptions { pegging: true }).unwrap();
        let off = plan_network_with(&s, &net, PlanOptions { pegging: false }).unwrap();
        prop_assert_eq!(&on.records, &off.records);
        prop_assert_eq!(&on.exceptions, &off.exceptions);
        let strip = |p: &PlanResult| p.planned_orders.iter().map(|o| (o.item, o.release_bucket, o.due_bucket, o.quantity)).collect::<Vec<_>>();
        prop_assert_eq!(strip(&on), strip(&off));
        prop_assert!(off.planned_orders.iter().all(|o| off.pegging(o).is_empty()));
    }

    /// Arbitrary (mostly invalid) scenarios: planning answers Ok or Err, never panics.
    #[test]
    fn planner_never_panics(
        n in 0usize..6,
        periods in 0u32..8,
        bucket_days in 0u32..9,
        items in proptest::collection::vec((0u8..3, 0u32..12, any::<i64>(), 0u32..29, any::<i64>(), 0u8..4, any::<i32>(), proptest::option::of(any::<i32>())), 0..6),
        lines in proptest::collection::vec((0usize..7, 0usize..7, any::<i64>(), 0u32..29, any::<i16>()), 0..10),
        demand in proptest::collection::vec((0usize..7, -40i64..80, any::<i64>(), 0u32..10, any::<bool>()), 0..8),
        receipts in proptest::collection::vec((0usize..7, -40i64..80, any::<i64>()), 0..4),
    ) {
        let start = NaiveDate::from_ymd_opt(2027, 1, 4).unwrap();
        let id = |i: usize| if i < n.max(1) { format!("I{i}") } else { format!("X{i}") };
        let s = Scenario {
            name: "fuzz".into(),
            calendar: Calendar { start, bucket_days, periods },
            items: items.iter().enumerate().map(|(i, &(src, lt, ss, scale, oh, rule, lotq, max))| Item {
                id: id(i % 5),
                name: None,
                source: [Source::Make, Source::Buy, Source::Phantom][src as usize],
                lead_time: lt,
                safety_stock: Decimal::new(ss % 1_000_000, scale.min(28)),
                on_hand: Decimal::new(oh, scale.min(28)),
                on_hold: Decimal::ZERO,
                lot: LotPolicy {
                    rule: match rule {
                        0 => LotRule::LotForLot,
                        1 => LotRule::Fixed { quantity: Decimal::new(i64::from(lotq), 2) },
                        2 => LotRule::PeriodOrder { periods: lotq.unsigned_abs() % 5 },
                        _ => LotRule::Eoq { order_cost: Decimal::from(lotq), holding_cost: Decimal::new(i64::from(lotq) % 7, 1) },
                    },
                    min: max.map(|m| Decimal::new(i64::from(m), 3)),
                    multiple: max.map(|m| Decimal::new(i64::from(m) % 50, 1)),
                    max: max.map(|m| Decimal::new(i64::from(m), 1)),
                },
                unit_cost: None,
                uom: None,
            }).collect(),
            bom: lines.iter().map(|&(p, c, q, scale, scrap)| BomLine {
                parent: id(p),
                component: id(c),
                quantity: Decimal::new(q, scale),
                scrap: Decimal::new(i64::from(scrap), 2),
            }).collect(),
            demand: demand.iter().enumerate().map(|(k, &(i, day, q, scale, order))| Demand {
                id: format!("D{}", k % 6),
                item: id(i),
                date: start + chrono::TimeDelta::days(day),
                quantity: Decimal::new(q, scale),
                kind: if order { DemandKind::Order } else { DemandKind::Forecast },
            }).collect(),
            receipts: receipts.iter().enumerate().map(|(k, &(i, day, q))| Receipt {
                id: format!("R{k}"),
                item: id(i),
                date: start + chrono::TimeDelta::days(day),
                quantity: Decimal::new(q, 2),
            }).collect(),
        };
        let _ = plan(&s);
    }

    /// Arbitrary text never panics the parser.
    #[test]
    fn parser_never_panics_on_text(text in ".{0,400}") {
        let _ = parse_scenario(&text);
    }

    /// Valid documents with one value replaced by an arbitrary JSON scalar: the
    /// parser answers (and if it accepts, the planner answers) without panicking.
    #[test]
    fn parser_and_planner_never_panic_on_mutated_documents(
        s in valid_scenario(),
        pick in any::<prop::sample::Index>(),
        replacement in prop_oneof![
            Just("-1".to_owned()), Just("0".to_owned()), Just("1e28".to_owned()), Just("1e-30".to_owned()),
            Just("\"x\"".to_owned()), Just("null".to_owned()), Just("[]".to_owned()), Just("{}".to_owned()),
            Just("99999999999999999999999999999".to_owned()), Just("\"2027-02-30\"".to_owned()), Just("0.5".to_owned()),
            Just("\"I0\"".to_owned()), any::<i64>().prop_map(|v| v.to_string()),
        ],
    ) {
        let text = serde_json::to_string(&mrp::export::ScenarioDocument(&s)).unwrap();
        let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
        let mut leaves = Vec::new();
        collect_leaves(&value, String::new(), &mut leaves);
        let target = &leaves[pick.index(leaves.len())];
        *value.pointer_mut(target).unwrap() = serde_json::from_str(&replacement).unwrap_or(serde_json::Value::Null);
        let mutated = serde_json::to_string(&value).unwrap();
        if let Ok(parsed) = parse_scenario(&mutated) {
            let _ = plan(&parsed);
        }
    }
}

fn collect_leaves(v: &serde_json::Value, path: String, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                collect_leaves(x, format!("{path}/{k}"), out);
            }
        }
        serde_json::Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                collect_leaves(x, format!("{path}/{i}"), out);
            }
        }
        _ => out.push(path),
    }
}
