//! The result document (`mrp-result/1`): planned orders with pegging, MRP
//! records and exceptions, serialised straight from the plan without copies.
//!
//! Quantities are JSON strings of exact decimals without trailing zeros
//! (`"20"`, `"12.5"`), so no reader turns them into binary floats by accident.

use rust_decimal::Decimal;
use serde::ser::{Serialize, SerializeMap, SerializeSeq, SerializeStruct, Serializer};

use crate::model::Scenario;
use crate::plan::{PegTarget, PlanResult};

/// The format tag of result documents.
pub const RESULT_FORMAT: &str = "mrp-result/1";

/// A plan ready to serialise, optionally narrowed to some items.
pub struct ResultDocument<'a> {
    scenario: &'a Scenario,
    plan: &'a PlanResult,
    /// `Some(mask)`: only items whose mask entry is true.
    items: Option<&'a [bool]>,
}

impl<'a> ResultDocument<'a> {
    /// The whole plan.
    pub fn new(scenario: &'a Scenario, plan: &'a PlanResult) -> Self {
        ResultDocument { scenario, plan, items: None }
    }

    /// Only the items whose entry in `mask` (indexed like `Scenario::items`) is true.
    pub fn only(mut self, mask: &'a [bool]) -> Self {
        self.items = Some(mask);
        self
    }

    fn shows(&self, item: usize) -> bool {
        self.items.is_none_or(|m| m[item])
    }
}

/// Serialises a decimal as an exact string without trailing zeros.
pub struct Qty(pub Decimal);

impl Serialize for Qty {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0.is_zero() {
            return s.serialize_str("0");
        }
        let q = self.0.normalize();
        // Most quantities are whole: format those without the fmt machinery,
        // which dominates writing a large plan.
        if q.scale() == 0
            && let Ok(whole) = i64::try_from(q.mantissa())
        {
            let mut buf = [0u8; 20];
            return s.serialize_str(format_whole(whole, &mut buf));
        }
        s.collect_str(&q)
    }
}

/// Writes a whole number into `buf` (from the end) and returns its text.
fn format_whole(value: i64, buf: &mut [u8; 20]) -> &str {
    let mut at = buf.len();
    let mut rest = value.unsigned_abs();
    loop {
        at -= 1;
        buf[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if value < 0 {
        at -= 1;
        buf[at] = b'-';
    }
    std::str::from_utf8(&buf[at..]).expect("ASCII digits")
}

struct Quantities<'a>(&'a [Decimal]);

impl Serialize for Quantities<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for q in self.0 {
            seq.serialize_element(&Qty(*q))?;
        }
        seq.end()
    }
}

impl Serialize for ResultDocument<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let cal = &self.scenario.calendar;
        let mut doc = s.serialize_struct("Result", 8)?;
        doc.serialize_field("format", RESULT_FORMAT)?;
        doc.serialize_field("scenario", &self.scenario.name)?;
        if !self.plan.pegging {
            doc.serialize_field("pegging", "none")?;
        }
        doc.serialize_field("calendar", &CalendarDoc(cal))?;
        doc.serialize_field("buckets", &Buckets(cal))?;
        doc.serialize_field("planned_orders", &Orders(self))?;
        doc.serialize_field("records", &RecordsDoc(self))?;
        doc.serialize_field("exceptions", &Exceptions(self))?;
        doc.end()
    }
}

struct CalendarDoc<'a>(&'a crate::model::Calendar);

impl Serialize for CalendarDoc<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut c = s.serialize_struct("Calendar", 3)?;
        c.serialize_field("start", &self.0.start.to_string())?;
        c.serialize_field("bucket_days", &self.0.bucket_days)?;
        c.serialize_field("periods", &self.0.periods)?;
        c.end()
    }
}

struct Buckets<'a>(&'a crate::model::Calendar);

impl Serialize for Buckets<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for t in 0..self.0.len() {
            seq.serialize_element(&self.0.bucket_start(t).to_string())?;
        }
        seq.end()
    }
}

struct Orders<'d, 'a>(&'d ResultDocument<'a>);

impl Serialize for Orders<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let d = self.0;
        let cal = &d.scenario.calendar;
        let dates: Vec<String> = (0..cal.len()).map(|t| cal.bucket_start(t).to_string()).collect();
        let mut seq = s.serialize_seq(None)?;
        for order in d.plan.planned_orders.iter().filter(|o| d.shows(o.item as usize)) {
            seq.serialize_element(&OrderDoc {
                id: OrderId(order.number),
                item: &d.scenario.items[order.item as usize].id,
                kind: order.kind.as_str(),
                release_date: &dates[order.release_bucket as usize],
                due_date: &dates[order.due_bucket as usize],
                quantity: Qty(order.quantity),
                pegging: d.plan.pegging.then(|| Pegging(d, d.plan.pegging(order))),
            })?;
        }
        seq.end()
    }
}

/// `PL-n`, written without an intermediate `String`.
struct OrderId(u32);

impl Serialize for OrderId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; 20];
        let digits = format_whole(i64::from(self.0), &mut buf);
        let mut id = [0u8; 23];
        id[..3].copy_from_slice(b"PL-");
        id[3..3 + digits.len()].copy_from_slice(digits.as_bytes());
        s.serialize_str(std::str::from_utf8(&id[..3 + digits.len()]).expect("ASCII"))
    }
}

#[derive(serde::Serialize)]
struct OrderDoc<'d, 'a> {
    id: OrderId,
    item: &'a str,
    kind: &'static str,
    release_date: &'d str,
    due_date: &'d str,
    quantity: Qty,
    #[serde(skip_serializing_if = "Option::is_none")]
    pegging: Option<Pegging<'d, 'a>>,
}

struct Pegging<'d, 'a>(&'d ResultDocument<'a>, &'d [crate::plan::Peg]);

impl Serialize for Pegging<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let sc = self.0.scenario;
        let mut seq = s.serialize_seq(Some(self.1.len()))?;
        for peg in self.1 {
            match peg.target {
                PegTarget::Demand(d) => seq
                    .serialize_element(&DemandPeg { demand: &sc.demand[d as usize].id, quantity: Qty(peg.quantity) })?,
                PegTarget::SafetyStock(i) => seq.serialize_element(&ReasonPeg {
                    reason: "safety_stock",
                    item: &sc.items[i as usize].id,
                    quantity: Qty(peg.quantity),
                })?,
                PegTarget::LotSize(i) => seq.serialize_element(&ReasonPeg {
                    reason: "lot_size",
                    item: &sc.items[i as usize].id,
                    quantity: Qty(peg.quantity),
                })?,
            }
        }
        seq.end()
    }
}

#[derive(serde::Serialize)]
struct DemandPeg<'a> {
    demand: &'a str,
    quantity: Qty,
}

#[derive(serde::Serialize)]
struct ReasonPeg<'a> {
    reason: &'static str,
    item: &'a str,
    quantity: Qty,
}

struct RecordsDoc<'d, 'a>(&'d ResultDocument<'a>);

impl Serialize for RecordsDoc<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let d = self.0;
        let mut map = s.serialize_map(None)?;
        for (i, item) in d.scenario.items.iter().enumerate() {
            if !d.shows(i) {
                continue;
            }
            let r = d.plan.records.item(i);
            map.serialize_entry(
                &item.id,
                &RecordDoc {
                    source: item.source.as_str(),
                    low_level_code: d.plan.low_level_code[i],
                    gross: Quantities(r.gross),
                    scheduled_receipts: Quantities(r.scheduled_receipts),
                    projected_available: Quantities(r.projected_available),
                    net: Quantities(r.net),
                    planned_receipts: Quantities(r.planned_receipts),
                    planned_releases: Quantities(r.planned_releases),
                },
            )?;
        }
        map.end()
    }
}

#[derive(serde::Serialize)]
struct RecordDoc<'a> {
    source: &'static str,
    low_level_code: u32,
    gross: Quantities<'a>,
    scheduled_receipts: Quantities<'a>,
    projected_available: Quantities<'a>,
    net: Quantities<'a>,
    planned_receipts: Quantities<'a>,
    planned_releases: Quantities<'a>,
}

struct Exceptions<'d, 'a>(&'d ResultDocument<'a>);

impl Serialize for Exceptions<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let d = self.0;
        let mut seq = s.serialize_seq(None)?;
        for e in d.plan.exceptions.iter().filter(|e| d.shows(e.item as usize)) {
            seq.serialize_element(&ExceptionDoc {
                item: &d.scenario.items[e.item as usize].id,
                kind: e.kind.as_str(),
                reference: &e.reference,
                date: e.date.to_string(),
                suggested_date: e.suggested_date.map(|d| d.to_string()),
                message: &e.message,
            })?;
        }
        seq.end()
    }
}

#[derive(serde::Serialize)]
struct ExceptionDoc<'a> {
    item: &'a str,
    kind: &'static str,
    reference: &'a str,
    date: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    suggested_date: Option<String>,
    message: &'a str,
}
