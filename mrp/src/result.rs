//! The result document (`mrp-result/1`): planned orders with pegging, MRP
//! records and exceptions, serialised straight from the plan without copies.
//!
//! Quantities are JSON strings of exact decimals without trailing zeros
//! (`"20"`, `"12.5"`), so no reader turns them into binary floats by accident.
//!
//! [`ResultDocument`] implements `Serialize` (for callers that want a
//! `serde_json::Value` or a `String`) and has a hand-written writer,
//! [`ResultDocument::write_json`], for large plans: it writes the same bytes
//! about ten times faster, on two threads.

use std::io::{self, Write};
use std::sync::mpsc;

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
            match peg.target() {
                PegTarget::Demand(d) => seq.serialize_element(&DemandPeg {
                    demand: &sc.demand[d as usize].id,
                    quantity: Qty(peg.quantity()),
                })?,
                PegTarget::SafetyStock(i) => seq.serialize_element(&ReasonPeg {
                    reason: "safety_stock",
                    item: &sc.items[i as usize].id,
                    quantity: Qty(peg.quantity()),
                })?,
                PegTarget::LotSize(i) => seq.serialize_element(&ReasonPeg {
                    reason: "lot_size",
                    item: &sc.items[i as usize].id,
                    quantity: Qty(peg.quantity()),
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
            let r = d.plan.record(i);
            map.serialize_entry(
                &item.id,
                &RecordDoc {
                    source: item.source.as_str(),
                    low_level_code: d.plan.low_level_code[i],
                    gross: Quantities(r.gross),
                    scheduled_receipts: Quantities(&r.scheduled_receipts),
                    projected_available: Quantities(&r.projected_available),
                    net: Quantities(&r.net),
                    planned_receipts: Quantities(&r.planned_receipts),
                    planned_releases: Quantities(&r.planned_releases),
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

/// Elements formatted per chunk when the document is written on two threads:
/// a chunk of planned orders with pegging is a few megabytes of text.
const ORDERS_PER_CHUNK: usize = 8192;
/// Items per chunk of the records section (about 1.5 kB of text per item at 52 buckets).
const ITEMS_PER_CHUNK: usize = 2048;
/// Threads formatting chunks while the caller's thread writes them out.
const FORMAT_THREADS: usize = 2;

impl ResultDocument<'_> {
    /// Writes the document as compact JSON: byte for byte what
    /// `serde_json::to_writer(out, &document)` writes, several times faster.
    ///
    /// A full-pegging plan of a large plant is gigabytes of text, so the big
    /// sections (planned orders, records) are formatted by hand into buffers,
    /// chunk by chunk on two threads, and written to `out` in order; the
    /// small ones (calendar, buckets, exceptions) still go through serde.
    /// Nothing is written after the closing brace (no newline).
    pub fn write_json<W: Write + ?Sized>(&self, out: &mut W) -> io::Result<()> {
        let sc = self.scenario;
        let mut head = Vec::with_capacity(4096);
        head.extend_from_slice(b"{\"format\":");
        serde_json::to_writer(&mut head, RESULT_FORMAT)?;
        head.extend_from_slice(b",\"scenario\":");
        serde_json::to_writer(&mut head, &sc.name)?;
        if !self.plan.pegging {
            head.extend_from_slice(b",\"pegging\":\"none\"");
        }
        head.extend_from_slice(b",\"calendar\":");
        serde_json::to_writer(&mut head, &CalendarDoc(&sc.calendar))?;
        head.extend_from_slice(b",\"buckets\":");
        serde_json::to_writer(&mut head, &Buckets(&sc.calendar))?;
        head.extend_from_slice(b",\"planned_orders\":[");
        out.write_all(&head)?;

        let text = Texts::new(self);
        let orders = &self.plan.planned_orders;
        write_chunked(out, orders.len(), ORDERS_PER_CHUNK, |range, buf| {
            for order in &orders[range] {
                if self.shows(order.item as usize) {
                    text.order(self.plan, order, buf);
                }
            }
        })?;
        out.write_all(b"],\"records\":{")?;
        write_chunked(out, sc.items.len(), ITEMS_PER_CHUNK, |range, buf| {
            for i in range {
                if self.shows(i) {
                    text.record(self.plan, i, buf);
                }
            }
        })?;

        let mut tail = Vec::with_capacity(4096);
        tail.extend_from_slice(b"},\"exceptions\":");
        serde_json::to_writer(&mut tail, &Exceptions(self))?;
        tail.push(b'}');
        out.write_all(&tail)
    }
}

/// JSON texts used over and over, escaped once: item ids, the start of every
/// demand peg, bucket dates.
struct Texts<'a> {
    doc: &'a ResultDocument<'a>,
    /// Quoted, escaped item ids, back to back; item `i` ends at `item_ends[i]`.
    items: Vec<u8>,
    item_ends: Vec<usize>,
    /// `{"demand":"<id>","quantity":"` per demand, back to back (only with pegging).
    demand_pegs: Vec<u8>,
    demand_ends: Vec<usize>,
    /// `"YYYY-MM-DD"` per bucket.
    dates: Vec<String>,
}

impl<'a> Texts<'a> {
    fn new(doc: &'a ResultDocument<'a>) -> Self {
        let sc = doc.scenario;
        let mut items = Vec::new();
        let mut item_ends = Vec::with_capacity(sc.items.len());
        for item in &sc.items {
            serde_json::to_writer(&mut items, &item.id).expect("a string serialises");
            item_ends.push(items.len());
        }
        let mut demand_pegs = Vec::new();
        let mut demand_ends = Vec::new();
        if doc.plan.pegging {
            demand_ends.reserve(sc.demand.len());
            for dem in &sc.demand {
                demand_pegs.extend_from_slice(b"{\"demand\":");
                serde_json::to_writer(&mut demand_pegs, &dem.id).expect("a string serialises");
                demand_pegs.extend_from_slice(b",\"quantity\":\"");
                demand_ends.push(demand_pegs.len());
            }
        }
        let cal = &sc.calendar;
        let dates = (0..cal.len()).map(|t| format!("\"{}\"", cal.bucket_start(t))).collect();
        Texts { doc, items, item_ends, demand_pegs, demand_ends, dates }
    }

    fn item(&self, i: u32) -> &[u8] {
        let i = i as usize;
        let start = if i == 0 { 0 } else { self.item_ends[i - 1] };
        &self.items[start..self.item_ends[i]]
    }

    fn demand_peg(&self, d: u32) -> &[u8] {
        let d = d as usize;
        let start = if d == 0 { 0 } else { self.demand_ends[d - 1] };
        &self.demand_pegs[start..self.demand_ends[d]]
    }

    /// `,{"id":…}`: one planned order, with a leading comma.
    fn order(&self, plan: &PlanResult, order: &crate::plan::PlannedOrder, buf: &mut Vec<u8>) {
        buf.extend_from_slice(b",{\"id\":\"PL-");
        write_u64(buf, u64::from(order.number));
        buf.extend_from_slice(b"\",\"item\":");
        buf.extend_from_slice(self.item(order.item));
        buf.extend_from_slice(b",\"kind\":\"");
        buf.extend_from_slice(order.kind.as_str().as_bytes());
        buf.extend_from_slice(b"\",\"release_date\":");
        buf.extend_from_slice(self.dates[order.release_bucket as usize].as_bytes());
        buf.extend_from_slice(b",\"due_date\":");
        buf.extend_from_slice(self.dates[order.due_bucket as usize].as_bytes());
        buf.extend_from_slice(b",\"quantity\":\"");
        write_decimal(buf, order.quantity);
        buf.push(b'"');
        if plan.pegging {
            buf.extend_from_slice(b",\"pegging\":[");
            for (k, peg) in plan.pegging(order).iter().enumerate() {
                if k > 0 {
                    buf.push(b',');
                }
                match peg.target() {
                    PegTarget::Demand(d) => buf.extend_from_slice(self.demand_peg(d)),
                    PegTarget::SafetyStock(i) => {
                        buf.extend_from_slice(b"{\"reason\":\"safety_stock\",\"item\":");
                        buf.extend_from_slice(self.item(i));
                        buf.extend_from_slice(b",\"quantity\":\"");
                    }
                    PegTarget::LotSize(i) => {
                        buf.extend_from_slice(b"{\"reason\":\"lot_size\",\"item\":");
                        buf.extend_from_slice(self.item(i));
                        buf.extend_from_slice(b",\"quantity\":\"");
                    }
                }
                write_decimal(buf, peg.quantity());
                buf.extend_from_slice(b"\"}");
            }
            buf.push(b']');
        }
        buf.push(b'}');
    }

    /// `,"<item>":{…}`: one item's record, with a leading comma.
    fn record(&self, plan: &PlanResult, i: usize, buf: &mut Vec<u8>) {
        let item = &self.doc.scenario.items[i];
        buf.push(b',');
        buf.extend_from_slice(self.item(i as u32));
        buf.extend_from_slice(b":{\"source\":\"");
        buf.extend_from_slice(item.source.as_str().as_bytes());
        buf.extend_from_slice(b"\",\"low_level_code\":");
        write_u64(buf, u64::from(plan.low_level_code[i]));
        let r = plan.record(i);
        let rows: [(&[u8], &[Decimal]); 6] = [
            (b",\"gross\":[", r.gross),
            (b",\"scheduled_receipts\":[", &r.scheduled_receipts),
            (b",\"projected_available\":[", &r.projected_available),
            (b",\"net\":[", &r.net),
            (b",\"planned_receipts\":[", &r.planned_receipts),
            (b",\"planned_releases\":[", &r.planned_releases),
        ];
        for (key, values) in rows {
            buf.extend_from_slice(key);
            // Each value with a comma after it; the last comma becomes the `]`.
            // Most cells are zero: those are one fixed copy.
            for q in values {
                if q.is_zero() {
                    buf.extend_from_slice(b"\"0\",");
                } else {
                    buf.push(b'"');
                    write_decimal(buf, *q);
                    buf.extend_from_slice(b"\",");
                }
            }
            match buf.last_mut() {
                Some(last) if !values.is_empty() => *last = b']',
                _ => buf.push(b']'),
            }
        }
        buf.push(b'}');
    }
}

/// Writes the elements `0..count` of a JSON array or object: `format` writes
/// the shown elements of a range, each with a leading comma, into a buffer.
/// Large sections are formatted in chunks on [`FORMAT_THREADS`] threads while
/// this thread writes the finished chunks to `out` in order; the very first
/// comma is dropped.
fn write_chunked<W, F>(out: &mut W, count: usize, chunk: usize, format: F) -> io::Result<()>
where
    W: Write + ?Sized,
    F: Fn(std::ops::Range<usize>, &mut Vec<u8>) + Sync,
{
    let mut first = true;
    let mut emit = |out: &mut W, buf: &[u8]| -> io::Result<()> {
        let text = if first && !buf.is_empty() {
            first = false;
            &buf[1..]
        } else {
            buf
        };
        out.write_all(text)
    };
    if count <= chunk {
        let mut buf = Vec::new();
        format(0..count, &mut buf);
        return emit(out, &buf);
    }
    let chunks = count.div_ceil(chunk);
    let range = |c: usize| c * chunk..((c + 1) * chunk).min(count);
    std::thread::scope(|scope| {
        let mut workers = Vec::with_capacity(FORMAT_THREADS);
        for w in 0..FORMAT_THREADS {
            // Two chunks in flight per thread keep both cores busy while the
            // writer waits; spent buffers go back to be filled again.
            let (full_tx, full_rx) = mpsc::sync_channel::<Vec<u8>>(2);
            let (spent_tx, spent_rx) = mpsc::channel::<Vec<u8>>();
            let format = &format;
            scope.spawn(move || {
                for c in (w..chunks).step_by(FORMAT_THREADS) {
                    let mut buf = spent_rx.try_recv().unwrap_or_default();
                    buf.clear();
                    format(range(c), &mut buf);
                    if full_tx.send(buf).is_err() {
                        return; // the writer failed and stopped listening
                    }
                }
            });
            workers.push((full_rx, spent_tx));
        }
        for c in 0..chunks {
            let (full_rx, spent_tx) = &workers[c % FORMAT_THREADS];
            let buf = full_rx.recv().expect("a formatting thread panicked");
            emit(out, &buf)?;
            let _ = spent_tx.send(buf);
        }
        Ok(())
    })
}

/// Appends a decimal as an exact number without trailing zeros: the text of
/// `q.normalize().to_string()` (`"0"` for any zero), without its allocations.
pub(crate) fn write_decimal(buf: &mut Vec<u8>, q: Decimal) {
    if q.is_zero() {
        buf.push(b'0');
        return;
    }
    if q.is_sign_negative() {
        buf.push(b'-');
    }
    let mantissa = q.mantissa().unsigned_abs();
    let mut scale = q.scale() as usize;
    let mut digits = [0u8; 40];
    let mut at = digits.len();
    // Nearly every quantity fits 64 bits, whose divisions are far cheaper.
    if let Ok(mut m) = u64::try_from(mantissa) {
        while scale > 0 && m.is_multiple_of(10) {
            m /= 10;
            scale -= 1;
        }
        if scale == 0 {
            write_u64(buf, m);
            return;
        }
        at -= format_u64(m, (&mut digits[at - 20..]).try_into().expect("20 bytes"));
    } else {
        let mut m = mantissa;
        while scale > 0 && m.is_multiple_of(10) {
            m /= 10;
            scale -= 1;
        }
        loop {
            at -= 1;
            digits[at] = b'0' + (m % 10) as u8;
            m /= 10;
            if m == 0 {
                break;
            }
        }
    }
    let digits = &digits[at..];
    if scale == 0 {
        buf.extend_from_slice(digits);
    } else if digits.len() > scale {
        let (whole, fraction) = digits.split_at(digits.len() - scale);
        buf.extend_from_slice(whole);
        buf.push(b'.');
        buf.extend_from_slice(fraction);
    } else {
        buf.extend_from_slice(b"0.");
        buf.resize(buf.len() + scale - digits.len(), b'0');
        buf.extend_from_slice(digits);
    }
}

/// `"00"`, `"01"`, … `"99"`: two digits per division.
const DIGIT_PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Writes `value` in decimal at the end of `out`; returns the number of digits.
fn format_u64(mut value: u64, out: &mut [u8; 20]) -> usize {
    let mut at = out.len();
    while value >= 100 {
        let pair = (value % 100) as usize * 2;
        value /= 100;
        at -= 2;
        out[at..at + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
    }
    if value >= 10 {
        let pair = value as usize * 2;
        at -= 2;
        out[at..at + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
    } else {
        at -= 1;
        out[at] = b'0' + value as u8;
    }
    out.len() - at
}

/// Appends a whole number in decimal.
fn write_u64(buf: &mut Vec<u8>, value: u64) {
    // Small numbers (most quantities) without the general loop and copy.
    if value < 10 {
        buf.push(b'0' + value as u8);
        return;
    }
    if value < 100 {
        let pair = value as usize * 2;
        buf.extend_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
        return;
    }
    let mut digits = [0u8; 20];
    let len = format_u64(value, &mut digits);
    buf.extend_from_slice(&digits[20 - len..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::{GenParams, generate};
    use crate::plan::{PlanOptions, plan_network_with};
    use crate::validate::validate;

    fn both_ways(scenario: &Scenario, plan: &PlanResult, mask: Option<&[bool]>) {
        let doc = ResultDocument::new(scenario, plan);
        let doc = match mask {
            Some(m) => doc.only(m),
            None => doc,
        };
        let expected = serde_json::to_vec(&doc).unwrap();
        let mut written = Vec::new();
        doc.write_json(&mut written).unwrap();
        assert!(expected == written, "write_json differs from serde for {:?}", scenario.name);
    }

    #[test]
    fn write_json_writes_what_serde_writes() {
        // Large enough to be formatted in chunks on threads, with phantoms,
        // scrap and fractional quantities.
        let mut scenario = generate(&GenParams { items: 2000, levels: 5, periods: 30, seed: 5 });
        // Ids that need escaping.
        scenario.name = "plant \"Nord\"\n\\ é".into();
        let old = scenario.items[0].id.clone();
        let new = "A\u{1}\"\\\t\u{7f}ü".to_owned();
        scenario.items[0].id = new.clone();
        let rename = |id: &mut String| {
            if *id == old {
                *id = new.clone();
            }
        };
        scenario.demand.iter_mut().for_each(|d| rename(&mut d.item));
        scenario.receipts.iter_mut().for_each(|r| rename(&mut r.item));
        for line in &mut scenario.bom {
            rename(&mut line.parent);
            rename(&mut line.component);
        }
        scenario.demand[0].id = "SO\r\n\u{1f}\"x\"".into();
        let network = validate(&scenario).unwrap();
        for pegging in [true, false] {
            let plan = plan_network_with(&scenario, &network, PlanOptions { pegging }).unwrap();
            assert!(plan.planned_orders.len() > 2 * ORDERS_PER_CHUNK);
            both_ways(&scenario, &plan, None);
            let mask: Vec<bool> = (0..scenario.items.len()).map(|i| i % 7 == 3).collect();
            both_ways(&scenario, &plan, Some(&mask));
            let none = vec![false; scenario.items.len()];
            both_ways(&scenario, &plan, Some(&none));
        }
    }

    #[test]
    fn write_json_writes_the_sample_scenarios_as_serde_does() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios");
        for name in ["bike-shop", "control-board", "process-plant", "bike-shop-capacity"] {
            let text = std::fs::read_to_string(format!("{dir}/{name}.json")).unwrap();
            let scenario = crate::parse_scenario(&text).unwrap();
            let plan = crate::plan(&scenario).unwrap();
            both_ways(&scenario, &plan, None);
        }
    }

    #[test]
    fn decimals_are_written_as_normalised_text() {
        let mut values = vec![
            Decimal::ZERO,
            Decimal::NEGATIVE_ONE - Decimal::NEGATIVE_ONE,
            Decimal::new(0, 5),
            Decimal::MAX,
            Decimal::MIN,
            Decimal::new(1, 28),
            Decimal::new(-1, 28),
            Decimal::from_i128_with_scale(10_000_000_000_000_000_000_000_000, 28),
            Decimal::from_i128_with_scale(-12_345_678_901_234_567_890_123_000, 3),
        ];
        for m in [u64::MAX as i128, u64::MAX as i128 + 1, 10_000_000_000_000_000_000, -(u64::MAX as i128)] {
            for scale in [0, 1, 5, 19, 20, 28] {
                values.push(Decimal::from_i128_with_scale(m, scale));
            }
        }
        for m in [1i64, 5, 9, 10, 11, 99, 100, 101, 120, 1005, 999_999, 1 << 40, i64::MAX, -7, -100, -3050] {
            for scale in 0..=28 {
                values.push(Decimal::new(m, scale));
            }
        }
        for q in values {
            let mut buf = Vec::new();
            write_decimal(&mut buf, q);
            let expected = if q.is_zero() { "0".to_owned() } else { q.normalize().to_string() };
            assert_eq!(String::from_utf8(buf).unwrap(), expected, "{q:?}");
        }
    }
}
