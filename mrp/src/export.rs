//! Writing a [`Scenario`] back as `mrp-scenario/1` JSON.
//!
//! Quantities are written as JSON numbers with their exact decimal digits
//! (never through a binary float), so `parse → export → parse` is lossless.
//! Optional fields at their defaults are left out.

use rust_decimal::Decimal;
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::value::RawValue;

use crate::model::*;

/// Serialises a scenario; wrap it with `serde_json::to_writer`.
pub struct ScenarioDocument<'a>(pub &'a Scenario);

struct Num(Decimal);

impl Serialize for Num {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // A decimal's canonical text is valid JSON number syntax.
        let raw = RawValue::from_string(self.0.normalize().to_string()).map_err(serde::ser::Error::custom)?;
        raw.serialize(s)
    }
}

struct Map<'a>(Vec<(&'static str, Field<'a>)>);

enum Field<'a> {
    Str(&'a str),
    Num(Decimal),
    Whole(u32),
    Map(Map<'a>),
}

impl Serialize for Field<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Field::Str(v) => s.serialize_str(v),
            Field::Num(v) => Num(*v).serialize(s),
            Field::Whole(v) => s.serialize_u32(*v),
            Field::Map(m) => m.serialize(s),
        }
    }
}

impl Serialize for Map<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

fn lot_map(lot: &LotPolicy) -> Map<'_> {
    let mut f = vec![("rule", Field::Str(lot.rule.as_str()))];
    match &lot.rule {
        LotRule::LotForLot => {}
        LotRule::Fixed { quantity } => f.push(("quantity", Field::Num(*quantity))),
        LotRule::PeriodOrder { periods } => f.push(("periods", Field::Whole(*periods))),
        LotRule::Eoq { order_cost, holding_cost } => {
            f.push(("order_cost", Field::Num(*order_cost)));
            f.push(("holding_cost", Field::Num(*holding_cost)));
        }
    }
    for (k, v) in [("min", lot.min), ("multiple", lot.multiple), ("max", lot.max)] {
        if let Some(v) = v {
            f.push((k, Field::Num(v)));
        }
    }
    Map(f)
}

fn item_map(item: &Item) -> Map<'_> {
    let mut f = vec![("id", Field::Str(&item.id))];
    if let Some(name) = &item.name {
        f.push(("name", Field::Str(name)));
    }
    f.push(("source", Field::Str(item.source.as_str())));
    if item.lead_time != 0 {
        f.push(("lead_time", Field::Whole(item.lead_time)));
    }
    for (k, v) in [("safety_stock", item.safety_stock), ("on_hand", item.on_hand), ("on_hold", item.on_hold)] {
        if !v.is_zero() {
            f.push((k, Field::Num(v)));
        }
    }
    if item.lot != LotPolicy::default() {
        f.push(("lot", Field::Map(lot_map(&item.lot))));
    }
    if let Some(c) = item.unit_cost {
        f.push(("unit_cost", Field::Num(c)));
    }
    if let Some(u) = &item.uom {
        f.push(("uom", Field::Str(u)));
    }
    Map(f)
}

struct Seq<'a, T, F: Fn(&'a T) -> Map<'a>>(&'a [T], F);

impl<'a, T, F: Fn(&'a T) -> Map<'a>> Serialize for Seq<'a, T, F> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for x in self.0 {
            seq.serialize_element(&(self.1)(x))?;
        }
        seq.end()
    }
}

impl Serialize for ScenarioDocument<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let sc = self.0;
        let start = sc.calendar.start.to_string();
        let mut m = s.serialize_map(Some(8))?;
        m.serialize_entry("format", SCENARIO_FORMAT)?;
        m.serialize_entry("name", &sc.name)?;
        m.serialize_entry(
            "calendar",
            &Map(vec![
                ("start", Field::Str(&start)),
                ("bucket_days", Field::Whole(sc.calendar.bucket_days)),
                ("periods", Field::Whole(sc.calendar.periods)),
            ]),
        )?;
        m.serialize_entry("items", &Seq(&sc.items, item_map))?;
        m.serialize_entry(
            "bom",
            &Seq(&sc.bom, |b: &BomLine| {
                let mut f = vec![
                    ("parent", Field::Str(&b.parent)),
                    ("component", Field::Str(&b.component)),
                    ("quantity", Field::Num(b.quantity)),
                ];
                if !b.scrap.is_zero() {
                    f.push(("scrap", Field::Num(b.scrap)));
                }
                Map(f)
            }),
        )?;
        let demand: Vec<(String, &Demand)> = sc.demand.iter().map(|d| (d.date.to_string(), d)).collect();
        m.serialize_entry(
            "demand",
            &Seq(&demand, |(date, d): &(String, &Demand)| {
                Map(vec![
                    ("id", Field::Str(&d.id)),
                    ("item", Field::Str(&d.item)),
                    ("date", Field::Str(date)),
                    ("quantity", Field::Num(d.quantity)),
                    ("kind", Field::Str(d.kind.as_str())),
                ])
            }),
        )?;
        let receipts: Vec<(String, &Receipt)> = sc.receipts.iter().map(|r| (r.date.to_string(), r)).collect();
        m.serialize_entry(
            "receipts",
            &Seq(&receipts, |(date, r): &(String, &Receipt)| {
                Map(vec![
                    ("id", Field::Str(&r.id)),
                    ("item", Field::Str(&r.item)),
                    ("date", Field::Str(date)),
                    ("quantity", Field::Num(r.quantity)),
                ])
            }),
        )?;
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_then_parse_is_lossless() {
        let text = r#"{"format":"mrp-scenario/1","name":"round trip",
          "calendar":{"start":"2027-01-04","bucket_days":7,"periods":6},
          "items":[
            {"id":"A","name":"Assembly","source":"make","lead_time":1,"safety_stock":"2.5","on_hand":10,
             "lot":{"rule":"fixed","quantity":12,"min":24,"multiple":6,"max":48},"unit_cost":"12.345","uom":"ea"},
            {"id":"K","source":"phantom","on_hand":1},
            {"id":"B","source":"buy","lead_time":2,"on_hold":3,"lot":{"rule":"eoq","order_cost":50,"holding_cost":"0.75"}},
            {"id":"C","source":"buy","lot":{"rule":"period_order","periods":3}}],
          "bom":[{"parent":"A","component":"K","quantity":1},{"parent":"K","component":"B","quantity":"0.12345678901234567890123","scrap":0.02},
                 {"parent":"A","component":"C","quantity":2}],
          "demand":[{"id":"SO-1","item":"A","date":"2027-01-18","quantity":5,"kind":"order"},
                    {"id":"FC-1","item":"A","date":"2027-01-18","quantity":8,"kind":"forecast"}],
          "receipts":[{"id":"PO-1","item":"B","date":"2027-01-11","quantity":"100.50"}]}"#;
        let scenario = crate::parse_scenario(text).unwrap();
        let written = serde_json::to_string(&ScenarioDocument(&scenario)).unwrap();
        let again = crate::parse_scenario(&written).unwrap();
        assert_eq!(scenario, again);
        assert!(written.contains("0.12345678901234567890123"), "{written}");
    }
}
