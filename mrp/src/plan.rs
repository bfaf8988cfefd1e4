//! Regenerative MRP: gross-to-net netting, lot sizing, lead-time offsetting,
//! BOM explosion, phantoms, pegging and exception messages.
//!
//! Items are planned once each, in low-level-code order, so every dependent
//! requirement is known before its item is netted.
//!
//! Pegging is first-in-first-out: every requirement carries the independent
//! demands (or safety-stock and lot-size reasons) it serves as *segments*; an
//! item's supplies (on hand, scheduled receipts, planned orders, in time order)
//! are consumed by its requirements in bucket order, and a planned order
//! inherits the segments it covers. Exploding an order scales its pegs by the
//! BOM factor, so pegging needs multiplication and subtraction only, never
//! division, and an order's pegs add up to its quantity exactly.

use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::lot::{self, LotContext, Overflow, add, less, min, mul, sub};
use crate::model::*;
use crate::parse::ScenarioError;
use crate::validate::{Network, validate};

/// Most planned orders one shortage may be split into by `lot.max`.
pub const MAX_SPLIT_ORDERS: usize = 10_000;

/// Why planning failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// The scenario was refused; nothing was planned.
    #[error(transparent)]
    Invalid(#[from] ScenarioError),
    /// A quantity left the decimal range (about ±7.9 × 10²⁸).
    #[error("item {item:?}: a quantity left the decimal range (about 7.9e28) while planning")]
    Overflow {
        /// The item being planned.
        item: String,
    },
    /// `lot.max` would split one shortage into too many orders.
    #[error("item {item:?}: lot.max {max} would split the {quantity} due {due} into more than {limit} planned orders")]
    TooManyOrders {
        /// The item being planned.
        item: String,
        /// The lot-sized quantity.
        quantity: Decimal,
        /// The item's `lot.max`.
        max: Decimal,
        /// Due date of the orders.
        due: NaiveDate,
        /// [`MAX_SPLIT_ORDERS`].
        limit: usize,
    },
}

/// What a slice of a planned order serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PegTarget {
    /// An independent demand (index into `Scenario::demand`).
    Demand(u32),
    /// The safety stock of an item (index into `Scenario::items`).
    SafetyStock(u32),
    /// Quantity above requirements from an item's lot sizing.
    LotSize(u32),
}

/// A quantity pegged to a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peg {
    /// What the quantity serves.
    pub target: PegTarget,
    /// How much.
    pub quantity: Decimal,
}

/// A planned purchase or production order.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedOrder {
    /// Sequence number; the order's id is `PL-{number}`.
    pub number: u32,
    /// Index of the item in `Scenario::items`.
    pub item: u32,
    /// `Make` or `Buy`.
    pub kind: Source,
    /// Bucket in which the order is released (0 for a past-due release).
    pub release_bucket: u32,
    /// Bucket in which the order is due.
    pub due_bucket: u32,
    /// Order quantity.
    pub quantity: Decimal,
    /// `pegs[pegs_start..pegs_start + pegs_len]` of the result.
    pegs_start: u32,
    pegs_len: u32,
}

impl PlannedOrder {
    /// The order's id, `PL-n`.
    pub fn id(&self) -> String {
        format!("PL-{}", self.number)
    }
}

/// Kinds of exception message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ExceptionKind {
    /// A demand or receipt on or after the horizon end was left out.
    BeyondHorizon,
    /// A demand dated before the horizon start was planned in bucket 0.
    PastDueDemand,
    /// A receipt dated before the horizon start was counted in bucket 0.
    PastDueReceipt,
    /// A planned order should have been released before the horizon start.
    PastDueRelease,
    /// A scheduled receipt is needed earlier than it is due.
    RescheduleIn,
    /// A scheduled receipt is due earlier than it is needed.
    RescheduleOut,
    /// A scheduled receipt is not needed within the horizon.
    Cancel,
    /// A phantom without components has requirements its stock does not
    /// cover: nothing supplies them.
    PhantomWithoutComponents,
}

impl ExceptionKind {
    /// The name used in result files.
    pub fn as_str(self) -> &'static str {
        match self {
            ExceptionKind::BeyondHorizon => "beyond_horizon",
            ExceptionKind::PastDueDemand => "past_due_demand",
            ExceptionKind::PastDueReceipt => "past_due_receipt",
            ExceptionKind::PastDueRelease => "past_due_release",
            ExceptionKind::RescheduleIn => "reschedule_in",
            ExceptionKind::RescheduleOut => "reschedule_out",
            ExceptionKind::Cancel => "cancel",
            ExceptionKind::PhantomWithoutComponents => "phantom_without_components",
        }
    }
}

/// An exception message for the planner.
#[derive(Debug, Clone, PartialEq)]
pub struct Exception {
    /// Index of the item in `Scenario::items`.
    pub item: u32,
    /// What happened.
    pub kind: ExceptionKind,
    /// The demand, receipt or planned order concerned.
    pub reference: String,
    /// The date as it stands (due date, release date or demand date).
    pub date: NaiveDate,
    /// The date suggested instead, where there is one.
    pub suggested_date: Option<NaiveDate>,
    /// A sentence for the planner.
    pub message: String,
}

/// The MRP records of every item: one value per item and bucket, stored flat.
#[derive(Debug, Clone, PartialEq)]
pub struct Records {
    periods: usize,
    gross: Vec<Decimal>,
    scheduled_receipts: Vec<Decimal>,
    projected_available: Vec<Decimal>,
    net: Vec<Decimal>,
    planned_receipts: Vec<Decimal>,
    planned_releases: Vec<Decimal>,
}

/// One item's MRP record.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    /// Gross requirements (independent + dependent).
    pub gross: &'a [Decimal],
    /// Scheduled receipts.
    pub scheduled_receipts: &'a [Decimal],
    /// Projected available balance at the end of each bucket.
    pub projected_available: &'a [Decimal],
    /// Net requirements.
    pub net: &'a [Decimal],
    /// Planned order receipts (due quantities).
    pub planned_receipts: &'a [Decimal],
    /// Planned order releases.
    pub planned_releases: &'a [Decimal],
}

impl Records {
    fn new(items: usize, periods: usize) -> Self {
        let zeros = || vec![Decimal::ZERO; items * periods];
        Records {
            periods,
            gross: zeros(),
            scheduled_receipts: zeros(),
            projected_available: zeros(),
            net: zeros(),
            planned_receipts: zeros(),
            planned_releases: zeros(),
        }
    }

    /// The record of item `i` (index into `Scenario::items`).
    pub fn item(&self, i: usize) -> Record<'_> {
        let r = i * self.periods..(i + 1) * self.periods;
        Record {
            gross: &self.gross[r.clone()],
            scheduled_receipts: &self.scheduled_receipts[r.clone()],
            projected_available: &self.projected_available[r.clone()],
            net: &self.net[r.clone()],
            planned_receipts: &self.planned_receipts[r.clone()],
            planned_releases: &self.planned_releases[r],
        }
    }
}

/// The outcome of an MRP run.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanResult {
    /// Planned orders in planning order (low-level code, item, due bucket).
    pub planned_orders: Vec<PlannedOrder>,
    pegs: Vec<Peg>,
    /// Every item's MRP record.
    pub records: Records,
    /// Low-level code of every item.
    pub low_level_code: Vec<u32>,
    /// Exception messages, by item in input order.
    pub exceptions: Vec<Exception>,
    /// Whether orders were pegged ([`PlanOptions::pegging`]).
    pub pegging: bool,
}

impl PegTarget {
    /// A number ordered like the targets themselves (demands, then safety
    /// stocks, then lot sizes, each by index), cheaper to compare in sorts.
    #[inline]
    fn key(self) -> u64 {
        match self {
            PegTarget::Demand(d) => u64::from(d),
            PegTarget::SafetyStock(i) => 1 << 32 | u64::from(i),
            PegTarget::LotSize(i) => 2 << 32 | u64::from(i),
        }
    }
}

impl PlanResult {
    /// The pegging of a planned order; the quantities add up to the order quantity.
    pub fn pegging(&self, order: &PlannedOrder) -> &[Peg] {
        order_pegs(&self.pegs, order)
    }
}

fn order_pegs<'a>(pegs: &'a [Peg], order: &PlannedOrder) -> &'a [Peg] {
    if order.pegs_len == 0 {
        return &[];
    }
    &pegs[order.pegs_start as usize..(order.pegs_start + order.pegs_len) as usize]
}

/// Plans a scenario (validating it first).
pub fn plan(scenario: &Scenario) -> Result<PlanResult, PlanError> {
    let network = validate(scenario)?;
    plan_network(scenario, &network)
}

/// Choices that change what a run computes, not what it plans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanOptions {
    /// Peg every planned order to the demands it serves through every level
    /// (the default). Off, the orders, records and exceptions are the same
    /// but orders carry no pegging; at 100k items that saves most of the run.
    pub pegging: bool,
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions { pegging: true }
    }
}

/// A requirement on an item: `quantity` in `bucket`, serving the segments
/// `pegs[start..start + len]` of the result's peg arena, each scaled by
/// `factor`. The segments are a parent order's pegs, a phantom's passed-on
/// pegs, or independent demand (factor 1): referencing them instead of
/// copying keeps explosion proportional to BOM lines, not to pegs.
#[derive(Debug, Clone, Copy)]
struct Requirement {
    bucket: u32,
    start: u32,
    len: u32,
    factor: Decimal,
    quantity: Decimal,
}

/// An item's supplies in time order; `head` is the oldest with stock left.
struct SupplyQueue {
    supplies: Vec<Supply>,
    head: usize,
}

/// A supply in an item's first-in-first-out queue.
struct Supply {
    /// Index into the result's planned orders, or `None` for stock and receipts.
    order: Option<usize>,
    remaining: Decimal,
}

/// Plans a scenario whose network `validate` has built.
pub fn plan_network(s: &Scenario, net: &Network) -> Result<PlanResult, PlanError> {
    plan_network_with(s, net, PlanOptions::default())
}

/// Plans a scenario whose network `validate` has built, with options.
pub fn plan_network_with(s: &Scenario, net: &Network, options: PlanOptions) -> Result<PlanResult, PlanError> {
    let periods = s.calendar.len();
    let n = s.items.len();
    let mut exceptions = Vec::new();
    let mut reqs: Vec<Vec<Requirement>> = (0..n).map(|_| Vec::new()).collect();
    let mut pegs = Vec::new();

    independent_demand(s, net, &mut reqs, &mut pegs, &mut exceptions).map_err(|(i, _)| overflow(s, i))?;
    let receipts = receipts_by_item(s, net, &mut exceptions);

    let mut result = PlanResult {
        planned_orders: Vec::new(),
        pegs,
        records: Records::new(n, periods),
        low_level_code: net.low_level_code.clone(),
        exceptions: Vec::new(),
        pegging: options.pegging,
    };
    for &i in &net.sequence {
        let i = i as usize;
        let item_reqs = std::mem::take(&mut reqs[i]);
        let planned = if s.items[i].source == Source::Phantom {
            plan_phantom(s, net, i, item_reqs, &mut result, &mut reqs, &mut exceptions)
        } else {
            plan_item(s, net, i, item_reqs, &receipts[i], &mut result, &mut reqs, &mut exceptions)
        };
        planned.map_err(|e| match e {
            ItemError::Overflow => overflow(s, i),
            ItemError::TooManyOrders { quantity, bucket } => PlanError::TooManyOrders {
                item: s.items[i].id.clone(),
                quantity,
                max: s.items[i].lot.max.unwrap_or_default(),
                due: s.calendar.bucket_start(bucket),
                limit: MAX_SPLIT_ORDERS,
            },
        })?;
    }
    exceptions.sort_by_key(|e: &Exception| e.item);
    result.exceptions = exceptions;
    Ok(result)
}

fn overflow(s: &Scenario, i: usize) -> PlanError {
    PlanError::Overflow { item: s.items[i].id.clone() }
}

enum ItemError {
    Overflow,
    TooManyOrders { quantity: Decimal, bucket: usize },
}

impl From<Overflow> for ItemError {
    fn from(_: Overflow) -> Self {
        ItemError::Overflow
    }
}

/// Builds each item's independent requirement per bucket: `max(forecast, orders)`,
/// pegged to the orders first and to the forecast left after consumption.
fn independent_demand(
    s: &Scenario,
    net: &Network,
    reqs: &mut [Vec<Requirement>],
    pegs: &mut Vec<Peg>,
    exceptions: &mut Vec<Exception>,
) -> Result<(), (usize, Overflow)> {
    let cal = &s.calendar;
    let mut placed: Vec<(u32, u32, NaiveDate, u32)> = Vec::with_capacity(s.demand.len());
    for (d, dem) in s.demand.iter().enumerate() {
        let item = net.item_index[&dem.item];
        let bucket = match cal.bucket_of(dem.date) {
            BucketOf::In(t) => t,
            BucketOf::PastDue => {
                exceptions.push(Exception {
                    item,
                    kind: ExceptionKind::PastDueDemand,
                    reference: dem.id.clone(),
                    date: dem.date,
                    suggested_date: Some(cal.start),
                    message: format!(
                        "{} {} ({} of {}) was due {}, before the horizon start; planned in the first bucket ({})",
                        dem.kind.as_str(),
                        dem.id,
                        fmt_qty(dem.quantity),
                        dem.item,
                        dem.date,
                        cal.start
                    ),
                });
                0
            }
            BucketOf::BeyondHorizon => {
                exceptions.push(Exception {
                    item,
                    kind: ExceptionKind::BeyondHorizon,
                    reference: dem.id.clone(),
                    date: dem.date,
                    suggested_date: None,
                    message: format!(
                        "{} {} ({} of {} on {}) is on or after the horizon end {} and is not planned",
                        dem.kind.as_str(),
                        dem.id,
                        fmt_qty(dem.quantity),
                        dem.item,
                        dem.date,
                        cal.horizon_end()
                    ),
                });
                continue;
            }
        };
        placed.push((item, bucket as u32, dem.date, d as u32));
    }
    placed.sort_unstable();
    let mut k = 0;
    while k < placed.len() {
        let (item, bucket, _, _) = placed[k];
        let mut end = k;
        while end < placed.len() && placed[end].0 == item && placed[end].1 == bucket {
            end += 1;
        }
        let group = &placed[k..end];
        let start = pegs.len();
        let err = |e| (item as usize, e);
        let mut orders = Decimal::ZERO;
        let mut forecast = Decimal::ZERO;
        for &(_, _, _, d) in group {
            let dem = &s.demand[d as usize];
            match dem.kind {
                DemandKind::Order => {
                    orders = add(orders, dem.quantity).map_err(err)?;
                    if !dem.quantity.is_zero() {
                        pegs.push(Peg { target: PegTarget::Demand(d), quantity: dem.quantity });
                    }
                }
                DemandKind::Forecast => forecast = add(forecast, dem.quantity).map_err(err)?,
            }
        }
        if forecast > orders {
            // Orders consume the bucket's forecasts in date order; what is left is pegged to them.
            let mut to_consume = orders;
            for &(_, _, _, d) in group {
                let dem = &s.demand[d as usize];
                if dem.kind != DemandKind::Forecast {
                    continue;
                }
                let consumed = dem.quantity.min(to_consume);
                to_consume -= consumed;
                let rest = dem.quantity - consumed;
                if !rest.is_zero() {
                    pegs.push(Peg { target: PegTarget::Demand(d), quantity: rest });
                }
            }
        }
        let quantity = orders.max(forecast);
        if !quantity.is_zero() {
            let len = (pegs.len() - start) as u32;
            reqs[item as usize].push(Requirement { bucket, start: start as u32, len, factor: Decimal::ONE, quantity });
        }
        k = end;
    }
    Ok(())
}

/// A scheduled receipt placed in its bucket.
struct PlacedReceipt {
    bucket: usize,
    index: usize,
}

/// Places every receipt in its bucket, per item, in due order.
fn receipts_by_item(s: &Scenario, net: &Network, exceptions: &mut Vec<Exception>) -> Vec<Vec<PlacedReceipt>> {
    let cal = &s.calendar;
    let mut by_item: Vec<Vec<PlacedReceipt>> = (0..s.items.len()).map(|_| Vec::new()).collect();
    for (r, rec) in s.receipts.iter().enumerate() {
        let item = net.item_index[&rec.item];
        let bucket = match cal.bucket_of(rec.date) {
            BucketOf::In(t) => t,
            BucketOf::PastDue => {
                exceptions.push(Exception {
                    item,
                    kind: ExceptionKind::PastDueReceipt,
                    reference: rec.id.clone(),
                    date: rec.date,
                    suggested_date: Some(cal.start),
                    message: format!(
                        "receipt {} ({} of {}) was due {}, before the horizon start; counted as arriving in the first bucket ({})",
                        rec.id, fmt_qty(rec.quantity), rec.item, rec.date, cal.start
                    ),
                });
                0
            }
            BucketOf::BeyondHorizon => {
                exceptions.push(Exception {
                    item,
                    kind: ExceptionKind::BeyondHorizon,
                    reference: rec.id.clone(),
                    date: rec.date,
                    suggested_date: None,
                    message: format!(
                        "receipt {} ({} of {} on {}) is on or after the horizon end {} and is not planned",
                        rec.id,
                        fmt_qty(rec.quantity),
                        rec.item,
                        rec.date,
                        cal.horizon_end()
                    ),
                });
                continue;
            }
        };
        by_item[item as usize].push(PlacedReceipt { bucket, index: r });
    }
    for list in &mut by_item {
        list.sort_by_key(|p| (p.bucket, s.receipts[p.index].date, p.index));
    }
    by_item
}

/// Nets, lot-sizes, offsets, pegs and explodes one make or buy item.
#[allow(clippy::too_many_arguments)]
fn plan_item(
    s: &Scenario,
    net: &Network,
    i: usize,
    mut rq: Vec<Requirement>,
    receipts: &[PlacedReceipt],
    result: &mut PlanResult,
    reqs: &mut [Vec<Requirement>],
    exceptions: &mut Vec<Exception>,
) -> Result<(), ItemError> {
    let item = &s.items[i];
    let cal = &s.calendar;
    let periods = cal.len();
    let range = i * periods..(i + 1) * periods;
    let PlanResult { planned_orders, pegs, records, pegging: result_pegging, .. } = result;
    let result_pegging = *result_pegging;
    let gross = &mut records.gross[range.clone()];
    let scheduled = &mut records.scheduled_receipts[range.clone()];
    let projected = &mut records.projected_available[range.clone()];
    let net_req = &mut records.net[range.clone()];
    let planned_receipts = &mut records.planned_receipts[range.clone()];
    let planned_releases = &mut records.planned_releases[range];

    rq.sort_by_key(|r| r.bucket);
    for r in &rq {
        gross[r.bucket as usize] = add(gross[r.bucket as usize], r.quantity)?;
    }
    for p in receipts {
        scheduled[p.bucket] = add(scheduled[p.bucket], s.receipts[p.index].quantity)?;
    }
    let eoq = match &item.lot.rule {
        LotRule::Eoq { order_cost, holding_cost } => {
            let mut total = Decimal::ZERO;
            for g in gross.iter() {
                total = add(total, *g)?;
            }
            lot::economic_order_quantity(total, *order_cost, *holding_cost, cal)?
        }
        _ => Decimal::ZERO,
    };

    let ss = item.safety_stock;
    let lead_time = item.lead_time as usize;
    let first_order = planned_orders.len();
    let ss_target = PegTarget::SafetyStock(i as u32);
    let lot_target = PegTarget::LotSize(i as u32);

    let mut queue = SupplyQueue { supplies: Vec::with_capacity(1 + receipts.len()), head: 0 };
    queue.supplies.push(Supply { order: None, remaining: item.on_hand });
    let mut next_receipt = 0;
    let mut next_req = 0;
    let mut pab = item.on_hand;
    for t in 0..periods {
        while next_receipt < receipts.len() && receipts[next_receipt].bucket == t {
            queue.supplies.push(Supply { order: None, remaining: s.receipts[receipts[next_receipt].index].quantity });
            next_receipt += 1;
        }
        let avail = sub(add(pab, scheduled[t])?, gross[t])?;
        if less(avail, ss) {
            net_req[t] = sub(ss, avail)?;
            let cx = LotContext { bucket: t, avail, safety_stock: ss, gross, scheduled, eoq };
            let quantity = lot::lot_size(&item.lot, &cx)?;
            planned_receipts[t] = quantity;
            pab = add(avail, quantity)?;
            let pieces = lot::split_by_max(quantity, item.lot.max, MAX_SPLIT_ORDERS)
                .ok_or(ItemError::TooManyOrders { quantity, bucket: t })?;
            let release = t.saturating_sub(lead_time);
            for piece in pieces {
                planned_releases[release] = add(planned_releases[release], piece)?;
                let number = planned_orders.len() as u32 + 1;
                if t < lead_time {
                    let should = cal.start - chrono::Days::new(((lead_time - t) as u64) * u64::from(cal.bucket_days));
                    exceptions.push(Exception {
                        item: i as u32,
                        kind: ExceptionKind::PastDueRelease,
                        reference: format!("PL-{number}"),
                        date: should,
                        suggested_date: Some(cal.start),
                        message: format!(
                            "planned order PL-{number} ({} of {} due {}) should have been released {}, {} bucket{} before the horizon start; release it now",
                            fmt_qty(piece),
                            item.id,
                            cal.bucket_start(t),
                            should,
                            lead_time - t,
                            if lead_time - t == 1 { "" } else { "s" }
                        ),
                    });
                }
                queue.supplies.push(Supply { order: Some(planned_orders.len()), remaining: piece });
                planned_orders.push(PlannedOrder {
                    number,
                    item: i as u32,
                    kind: item.source,
                    release_bucket: release as u32,
                    due_bucket: t as u32,
                    quantity: piece,
                    pegs_start: u32::MAX,
                    pegs_len: 0,
                });
            }
        } else {
            pab = avail;
        }
        projected[t] = pab;

        while result_pegging && next_req < rq.len() && rq[next_req].bucket as usize == t {
            let r = rq[next_req];
            for k in r.start..r.start + r.len {
                let seg = pegs[k as usize];
                allocate(seg.target, mul(seg.quantity, r.factor)?, &mut queue, planned_orders, pegs)?;
            }
            next_req += 1;
        }
    }
    // What is left in stock at the horizon end holds the safety stock first,
    // then is excess from lot sizing.
    let mut ss_left = ss;
    while result_pegging && queue.head < queue.supplies.len() {
        let rest = queue.supplies[queue.head].remaining;
        let for_ss = min(rest, ss_left);
        ss_left = sub(ss_left, for_ss)?;
        if !for_ss.is_zero() {
            allocate(ss_target, for_ss, &mut queue, planned_orders, pegs)?;
        }
        let excess = sub(rest, for_ss)?;
        if !excess.is_zero() {
            allocate(lot_target, excess, &mut queue, planned_orders, pegs)?;
        }
        if rest.is_zero() {
            queue.head += 1;
        }
    }
    receipt_exceptions(s, i, receipts, gross, exceptions)?;

    // Explode: each order's pegs, scaled, become its components' requirements
    // in its release bucket.
    let components = net.components_of(i);
    if !result_pegging {
        // Without pegging only totals matter: add straight into the
        // components' gross requirements, no requirement records.
        for order in &planned_orders[first_order..] {
            for cl in components {
                let at = cl.component as usize * periods + order.release_bucket as usize;
                records.gross[at] = add(records.gross[at], mul(order.quantity, cl.factor)?)?;
            }
        }
        return Ok(());
    }
    for order in &planned_orders[first_order..] {
        let segments = ScaledSum::of(order_pegs(pegs, order));
        for cl in components {
            reqs[cl.component as usize].push(Requirement {
                bucket: order.release_bucket,
                start: order.pegs_start,
                len: order.pegs_len,
                factor: cl.factor,
                quantity: segments.times(cl.factor)?,
            });
        }
    }
    Ok(())
}

/// `Σ quantity × factor` over segments, for each BOM line of an order: a
/// requirement's quantity is exactly what its segments will allocate, even
/// where a product is rounded at the 28th digit (so `quantity × factor` could
/// differ from the sum).
struct ScaledSum<'a> {
    segments: &'a [Peg],
    /// The segments' exact sum, where multiplying it by the factor gives the
    /// same as the term-by-term sum (see [`lot::exact_sum`]): one product per
    /// BOM line instead of one per segment and line.
    sum: Option<(i128, u32)>,
}

impl<'a> ScaledSum<'a> {
    fn of(segments: &'a [Peg]) -> Self {
        ScaledSum { segments, sum: lot::exact_sum(segments.iter().map(|p| p.quantity)) }
    }

    fn times(&self, factor: Decimal) -> Result<Decimal, Overflow> {
        if let Some(q) = self.sum.and_then(|sum| lot::scale_exact_sum(sum, factor)) {
            return Ok(q);
        }
        self.segments.iter().try_fold(Decimal::ZERO, |sum, seg| add(sum, mul(seg.quantity, factor)?))
    }
}

/// Takes `quantity` for `target` from the head of the supply queue; pegs it to
/// planned orders, and closes each order's pegging as it is used up.
fn allocate(
    target: PegTarget,
    mut quantity: Decimal,
    queue: &mut SupplyQueue,
    planned_orders: &mut [PlannedOrder],
    pegs: &mut Vec<Peg>,
) -> Result<(), Overflow> {
    while !quantity.is_zero() && queue.head < queue.supplies.len() {
        let supply = &mut queue.supplies[queue.head];
        let take = min(quantity, supply.remaining);
        if let Some(o) = supply.order
            && !take.is_zero()
        {
            {
                let order = &mut planned_orders[o];
                if order.pegs_start == u32::MAX {
                    order.pegs_start = pegs.len() as u32;
                }
                match pegs.last_mut() {
                    Some(last) if order.pegs_len > 0 && last.target == target => {
                        last.quantity = add(last.quantity, take)?;
                    }
                    _ => {
                        pegs.push(Peg { target, quantity: take });
                        order.pegs_len += 1;
                    }
                }
            }
        }
        supply.remaining = sub(supply.remaining, take)?;
        quantity = sub(quantity, take)?;
        if supply.remaining.is_zero() {
            if let Some(o) = supply.order {
                merge_pegs(planned_orders, pegs, o)?;
            }
            queue.head += 1;
        }
    }
    // Netting makes cumulative supply cover cumulative requirements, so the
    // queue only runs dry where a sum was rounded in its 28th significant
    // digit; that rounding remainder stays unpegged.
    Ok(())
}

/// Sorts an order's pegs (the newest in the arena) and merges repeated targets.
fn merge_pegs(planned_orders: &mut [PlannedOrder], pegs: &mut Vec<Peg>, o: usize) -> Result<(), Overflow> {
    let order = &mut planned_orders[o];
    if order.pegs_len < 2 {
        return Ok(());
    }
    order.pegs_len = merge_tail(pegs, order.pegs_start as usize)? as u32;
    Ok(())
}

/// Sorts `pegs[start..]` by target and merges repeated targets in place;
/// returns the new length of that tail.
fn merge_tail(pegs: &mut Vec<Peg>, start: usize) -> Result<usize, Overflow> {
    let tail = &mut pegs[start..];
    // Most tails are already in order without repeats (one parent's pegs, or
    // demands met one after another): one pass to check is cheaper than a sort.
    if tail.windows(2).all(|w| w[0].target.key() < w[1].target.key()) {
        return Ok(tail.len());
    }
    tail.sort_by_key(|p| p.target.key());
    let mut last = 0;
    for k in 1..tail.len() {
        if tail[k].target == tail[last].target {
            tail[last].quantity = add(tail[last].quantity, tail[k].quantity)?;
        } else {
            last += 1;
            tail[last] = tail[k];
        }
    }
    pegs.truncate(start + last + 1);
    Ok(last + 1)
}

/// Nets a phantom against its on-hand stock and passes the rest of each
/// requirement, with its pegs, to the components in the same bucket.
fn plan_phantom(
    s: &Scenario,
    net: &Network,
    i: usize,
    mut rq: Vec<Requirement>,
    result: &mut PlanResult,
    reqs: &mut [Vec<Requirement>],
    exceptions: &mut Vec<Exception>,
) -> Result<(), ItemError> {
    let periods = s.calendar.len();
    let mut unsupplied = Decimal::ZERO;
    let mut first_unsupplied = None;
    let range = i * periods..(i + 1) * periods;
    let PlanResult { records, pegs, pegging, .. } = result;
    let pegging = *pegging;
    rq.sort_by_key(|r| r.bucket);
    let mut stock = s.items[i].on_hand;
    let mut next_req = 0;
    let components = net.components_of(i);
    for t in 0..periods {
        // What this bucket passes on is appended to the arena, then merged.
        let pass_on = pegs.len();
        // Without pegging, parents added their requirements here directly.
        let mut gross = records.gross[range.start + t];
        let mut net_qty = Decimal::ZERO;
        while next_req < rq.len() && rq[next_req].bucket as usize == t {
            let r = rq[next_req];
            gross = add(gross, r.quantity)?;
            if !pegging {
                next_req += 1;
                continue;
            }
            for k in r.start..r.start + r.len {
                let seg = pegs[k as usize];
                let quantity = mul(seg.quantity, r.factor)?;
                let from_stock = min(quantity, stock);
                stock = sub(stock, from_stock)?;
                let rest = sub(quantity, from_stock)?;
                if !rest.is_zero() {
                    net_qty = add(net_qty, rest)?;
                    pegs.push(Peg { target: seg.target, quantity: rest });
                }
            }
            next_req += 1;
        }
        if !pegging {
            let from_stock = min(gross, stock);
            stock = sub(stock, from_stock)?;
            net_qty = sub(gross, from_stock)?;
        }
        let at = range.start + t;
        records.gross[at] = gross;
        records.net[at] = net_qty;
        records.projected_available[at] = stock;
        if !pegging && !net_qty.is_zero() {
            for cl in components {
                let at = cl.component as usize * periods + t;
                records.gross[at] = add(records.gross[at], mul(net_qty, cl.factor)?)?;
            }
        }
        if pegs.len() > pass_on {
            let start = pass_on;
            let len = merge_tail(pegs, start)? as u32;
            let segments = ScaledSum::of(&pegs[start..]);
            for cl in components {
                reqs[cl.component as usize].push(Requirement {
                    bucket: t as u32,
                    start: start as u32,
                    len,
                    factor: cl.factor,
                    quantity: segments.times(cl.factor)?,
                });
            }
        }
        if components.is_empty() && !net_qty.is_zero() {
            unsupplied = add(unsupplied, net_qty)?;
            first_unsupplied.get_or_insert(t);
        }
    }
    if let Some(t) = first_unsupplied {
        let item = &s.items[i];
        let date = s.calendar.bucket_start(t);
        exceptions.push(Exception {
            item: i as u32,
            kind: ExceptionKind::PhantomWithoutComponents,
            reference: item.id.clone(),
            date,
            suggested_date: None,
            message: format!(
                "phantom {} has no components: {} of its requirements from {} on are not covered by its stock and nothing supplies them",
                item.id,
                fmt_qty(unsupplied),
                date
            ),
        });
    }
    Ok(())
}

/// Reschedule-in, reschedule-out and cancel messages for an item's scheduled
/// receipts. A receipt is needed in the first bucket where the stock from
/// on hand and the receipts before it (assumed moved to their own need dates)
/// no longer covers cumulative gross requirements plus safety stock.
fn receipt_exceptions(
    s: &Scenario,
    i: usize,
    receipts: &[PlacedReceipt],
    gross: &[Decimal],
    exceptions: &mut Vec<Exception>,
) -> Result<(), Overflow> {
    if receipts.is_empty() {
        return Ok(());
    }
    let item = &s.items[i];
    let cal = &s.calendar;
    let mut cumulative = Vec::with_capacity(gross.len());
    let mut running = item.safety_stock;
    for g in gross {
        running = add(running, *g)?;
        cumulative.push(running);
    }
    let mut covered = item.on_hand;
    let mut t = 0;
    for p in receipts {
        let rec = &s.receipts[p.index];
        if rec.quantity.is_zero() {
            continue;
        }
        while t < cumulative.len() && covered >= cumulative[t] {
            t += 1;
        }
        let due = cal.bucket_start(p.bucket);
        let what = format!("receipt {} ({} of {} due {})", rec.id, fmt_qty(rec.quantity), item.id, due);
        let (kind, suggested, message) = if t == cumulative.len() {
            (ExceptionKind::Cancel, None, format!("{what} is not needed within the horizon: cancel it"))
        } else if t < p.bucket {
            let need = cal.bucket_start(t);
            (ExceptionKind::RescheduleIn, Some(need), format!("{what} is needed on {need}: reschedule it in"))
        } else if t > p.bucket {
            let need = cal.bucket_start(t);
            (ExceptionKind::RescheduleOut, Some(need), format!("{what} is not needed before {need}: reschedule it out"))
        } else {
            covered = add(covered, rec.quantity)?;
            continue;
        };
        exceptions.push(Exception {
            item: i as u32,
            kind,
            reference: rec.id.clone(),
            date: due,
            suggested_date: suggested,
            message,
        });
        covered = add(covered, rec.quantity)?;
    }
    Ok(())
}

/// A quantity as a planner reads it: no trailing zeros.
pub fn fmt_qty(q: Decimal) -> String {
    q.normalize().to_string()
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
