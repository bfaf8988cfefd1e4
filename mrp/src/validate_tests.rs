//! Every refusal the spec lists, with the place it names.

use crate::parse_scenario;

/// A small valid scenario with `patch` applied to its JSON value.
fn refuse(patch: impl FnOnce(&mut serde_json::Value)) -> Vec<String> {
    let mut v: serde_json::Value = serde_json::from_str(
        r#"{"format":"mrp-scenario/1","name":"v","calendar":{"start":"2027-01-04","bucket_days":7,"periods":4},
        "items":[{"id":"BIKE","source":"make","lead_time":1},{"id":"WHEEL","source":"make"},{"id":"RIM","source":"buy"}],
        "bom":[{"parent":"BIKE","component":"WHEEL","quantity":2},{"parent":"WHEEL","component":"RIM","quantity":1}],
        "demand":[{"id":"SO-1","item":"BIKE","date":"2027-01-11","quantity":5,"kind":"order"}],
        "receipts":[{"id":"PO-1","item":"RIM","date":"2027-01-11","quantity":5}]}"#,
    )
    .unwrap();
    assert!(parse_scenario(&v.to_string()).is_ok(), "the base scenario is valid");
    patch(&mut v);
    match parse_scenario(&v.to_string()) {
        Ok(_) => panic!("accepted: {v}"),
        Err(e) => e.problems().into_iter().map(|p| p.to_string()).collect(),
    }
}

/// Sets (or adds) the value at a JSON pointer.
fn set(v: &mut serde_json::Value, pointer: &str, value: serde_json::Value) {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    match v.pointer_mut(parent).unwrap_or_else(|| panic!("{parent}")) {
        serde_json::Value::Object(m) => {
            m.insert(key.to_owned(), value);
        }
        other => other[key.parse::<usize>().unwrap()] = value,
    }
}

use serde_json::json;

#[test]
fn unknown_items_are_named() {
    assert_eq!(refuse(|v| set(v, "/bom/1/component", json!("RIMM"))), ["bom[1]: component \"RIMM\" is not an item"]);
    assert_eq!(refuse(|v| set(v, "/bom/0/parent", json!("BIKEE"))), ["bom[0]: parent \"BIKEE\" is not an item"]);
    assert_eq!(refuse(|v| set(v, "/demand/0/item", json!("NOPE"))), ["demand[0]: item \"NOPE\" is not an item"]);
    assert_eq!(refuse(|v| set(v, "/receipts/0/item", json!("NOPE"))), ["receipts[0]: item \"NOPE\" is not an item"]);
}

#[test]
fn duplicate_ids() {
    assert_eq!(
        refuse(|v| set(v, "/items/2/id", json!("WHEEL"))),
        [
            "items[2].id: duplicate item id \"WHEEL\" (first at items[1])",
            "bom[1]: component \"RIM\" is not an item",
            "receipts[0]: item \"RIM\" is not an item"
        ]
    );
    let e = refuse(|v| {
        let d = v["demand"][0].clone();
        v["demand"].as_array_mut().unwrap().push(d);
    });
    assert_eq!(e, ["demand[1].id: duplicate demand id \"SO-1\" (first at demand[0])"]);
    let e = refuse(|v| {
        let r = v["receipts"][0].clone();
        v["receipts"].as_array_mut().unwrap().push(r);
    });
    assert_eq!(e, ["receipts[1].id: duplicate receipt id \"PO-1\" (first at receipts[0])"]);
}

#[test]
fn negative_quantities_lead_times_and_safety_stock() {
    assert_eq!(
        refuse(|v| set(v, "/demand/0/quantity", json!(-5))),
        ["demand[0].quantity: must not be negative, got -5"]
    );
    assert_eq!(
        refuse(|v| set(v, "/receipts/0/quantity", json!("-0.5"))),
        ["receipts[0].quantity: must not be negative, got -0.5"]
    );
    assert_eq!(
        refuse(|v| set(v, "/items/0/lead_time", json!(-1))),
        ["items[0].lead_time: must not be negative, got -1"]
    );
    assert_eq!(
        refuse(|v| set(v, "/items/0/lead_time", json!(1.5))),
        ["items[0].lead_time: must be a whole number of buckets, got 1.5"]
    );
    assert_eq!(
        refuse(|v| set(v, "/items/1/safety_stock", json!(-3))),
        ["items[1].safety_stock: must not be negative, got -3"]
    );
    assert_eq!(refuse(|v| set(v, "/items/1/on_hand", json!(-3))), ["items[1].on_hand: must not be negative, got -3"]);
    assert_eq!(refuse(|v| set(v, "/bom/0/quantity", json!(-2))), ["bom[0].quantity: must not be negative, got -2"]);
    assert_eq!(refuse(|v| set(v, "/bom/0/scrap", json!(-0.1))), ["bom[0].scrap: must not be negative, got -0.1"]);
}

#[test]
fn bom_line_with_quantity_zero() {
    assert_eq!(refuse(|v| set(v, "/bom/0/quantity", json!(0))), ["bom[0].quantity: must not be 0"]);
}

#[test]
fn buy_item_with_components() {
    let e = refuse(|v| v["bom"].as_array_mut().unwrap().push(json!({"parent":"RIM","component":"WHEEL","quantity":1})));
    assert_eq!(e[0], "bom[2]: parent \"RIM\" is a buy item and cannot have components");
}

#[test]
fn lot_rules() {
    assert_eq!(
        refuse(|v| set(v, "/items/1/lot", json!({"rule":"weekly"}))),
        [
            "items[1].lot.rule: unknown lot rule \"weekly\" (expected \"lot_for_lot\", \"fixed\", \"period_order\" or \"eoq\")"
        ]
    );
    assert_eq!(
        refuse(|v| set(v, "/items/1/lot", json!({"rule":"fixed"}))),
        ["items[1].lot.quantity: required by lot rule \"fixed\""]
    );
    assert_eq!(
        refuse(|v| set(v, "/items/1/lot", json!({"rule":"period_order"}))),
        ["items[1].lot.periods: required by lot rule \"period_order\""]
    );
    assert_eq!(
        refuse(|v| set(v, "/items/1/lot", json!({"rule":"eoq","order_cost":5}))),
        ["items[1].lot.holding_cost: required by lot rule \"eoq\""]
    );
    assert_eq!(
        refuse(|v| set(v, "/items/1/lot", json!({"rule":"fixed","quantity":10,"periods":2}))),
        ["items[1].lot.periods: is not a field of lot rule \"fixed\""]
    );
    assert_eq!(
        refuse(|v| set(v, "/items/1/lot", json!({"rule":"fixed","quantity":0}))),
        ["items[1].lot.quantity: must be greater than 0, got 0"]
    );
    assert_eq!(
        refuse(|v| set(v, "/items/1/lot", json!({"rule":"lot_for_lot","min":50,"max":10}))),
        ["items[1].lot.min: 50 is above lot.max 10"]
    );
}

#[test]
fn a_cycle_is_reported_with_its_items_in_order() {
    let e = refuse(|v| v["bom"].as_array_mut().unwrap().push(json!({"parent":"RIM","component":"BIKE","quantity":1})));
    // RIM is also a buy item with a component: both are reported.
    assert!(
        e.contains(
            &"bom: cycle in the bill of materials: BIKE -> WHEEL -> RIM -> BIKE (lines bom[0], bom[1], bom[2])"
                .to_owned()
        ),
        "{e:?}"
    );
    let e =
        refuse(|v| v["bom"].as_array_mut().unwrap().push(json!({"parent":"WHEEL","component":"WHEEL","quantity":1})));
    assert_eq!(e, ["bom: cycle in the bill of materials: WHEEL -> WHEEL (lines bom[2])"]);
}

#[test]
fn every_problem_is_reported_at_once() {
    // Values that do not convert are reported together first…
    let e = refuse(|v| {
        set(v, "/demand/0/date", json!("soon"));
        set(v, "/calendar/periods", json!(0));
    });
    assert_eq!(
        e,
        [
            "calendar.periods: must be between 1 and 10000, got 0",
            "demand[0].date: expected a date YYYY-MM-DD, got \"soon\""
        ]
    );
    // …then everything that spans records.
    let e = refuse(|v| {
        set(v, "/bom/1/component", json!("RIMM"));
        set(v, "/demand/0/quantity", json!(-1));
        set(v, "/items/0/safety_stock", json!(-2));
    });
    assert_eq!(e.len(), 3, "{e:?}");
}

#[test]
fn structural_errors_name_the_field() {
    assert_eq!(
        refuse(|v| set(v, "/items/0/source", json!("made"))),
        ["items[0].source: unknown source \"made\" (expected \"make\", \"buy\" or \"phantom\")"]
    );
    assert_eq!(
        refuse(|v| set(v, "/format", json!("mrp-scenario/2"))),
        ["format: expected \"mrp-scenario/1\", got \"mrp-scenario/2\""]
    );
    assert_eq!(
        refuse(|v| set(v, "/demand/0/date", json!("2027-02-30"))),
        ["demand[0].date: expected a date YYYY-MM-DD, got \"2027-02-30\""]
    );
    assert_eq!(
        refuse(|v| set(v, "/demand/0/kind", json!("firm"))),
        ["demand[0].kind: unknown demand kind \"firm\" (expected \"order\" or \"forecast\")"]
    );
    let e = refuse(|v| set(v, "/items/0/safety_stok", json!(3)));
    assert!(e[0].starts_with("items[0].safety_stok: unknown field `safety_stok`, expected one of `id`"), "{e:?}");
    let e = refuse(|v| set(v, "/demand/0/quantity", json!("lots")));
    assert_eq!(e, ["demand[0].quantity: expected a number, got \"lots\""]);
}

#[test]
fn phantom_rules() {
    let e = refuse(|v| {
        v["items"].as_array_mut().unwrap().push(json!({"id":"KIT","source":"phantom","lead_time":2,"safety_stock":1}));
        v["bom"].as_array_mut().unwrap().push(json!({"parent":"KIT","component":"RIM","quantity":1}));
        v["receipts"].as_array_mut().unwrap().push(json!({"id":"PO-9","item":"KIT","date":"2027-01-11","quantity":1}));
    });
    assert_eq!(
        e,
        [
            "items[3].lead_time: a phantom has no lead time (its kit is built in the parent's bucket)",
            "items[3].safety_stock: a phantom carries no safety stock",
            "receipts[1]: item \"KIT\" is a phantom; phantoms are never ordered, so they have no receipts",
        ]
    );
}

#[test]
fn lists_longer_than_a_peg_can_address_are_refused() {
    // The real limit (2^25 − 1 entries) is too large for a test; the rule
    // is the same at any limit.
    use super::too_many_records;
    let problems = too_many_records([("items", 3), ("bom", 4), ("demand", 5)], 4);
    let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
    assert_eq!(text, vec!["demand: at most 4 entries, got 5".to_owned()]);
    assert!(too_many_records([("items", 0), ("bom", 0), ("demand", 0)], 0).is_empty());
    assert_eq!(crate::plan::MAX_RECORDS, (1 << 25) - 1);
    // `validate` applies the limit (here at two): the sample has 10 items,
    // and the whole scenario is refused.
    let s = crate::parse_scenario(include_str!("../../scenarios/bike-shop.json")).unwrap();
    assert!(super::validate_within(&s, 1 << 20).is_ok());
    let err = super::validate_within(&s, 2).unwrap_err().to_string();
    assert!(err.contains("items: at most 2 entries, got 10"), "{err}");
}
