//! Regenerative MRP: gross-to-net netting, lot sizing, lead-time offsetting,
//! BOM explosion, phantoms, pegging and exception messages.
//!
//! Items are planned once each, in low-level-code order, so every dependent
//! requirement is known before its item is netted. The items of one level
//! do not depend on each other, so large levels are planned on two threads
//! in rounds, each committed in planning sequence (see [`plan_network_with`]):
//! the result is exactly that of planning the items one after another.
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
///
/// 16 bytes: the quantity's 96-bit mantissa (never negative), its scale
/// and the target's key packed into the last word (see [`MAX_RECORDS`]). A
/// 100k-item plant has tens of millions of pegs, and every byte of them is
/// fresh memory to touch; the planner also reads a peg's quantity as an
/// integer mantissa and scale (`lot::Fixed`) without unpacking a `Decimal`.
#[derive(Clone, Copy)]
pub struct Peg {
    /// Low 64 bits of the quantity's mantissa.
    low: u64,
    /// High 32 bits of the mantissa.
    high: u32,
    /// [`PegTarget::key`] in the high [`KEY_BITS`], the quantity's scale in
    /// the low [`SCALE_BITS`]: pegs with distinct targets are ordered by
    /// this word as by their keys.
    packed: u32,
}

/// Bits of a peg key that hold the target's index.
const INDEX_BITS: u32 = 25;

/// Bits of a peg key: the index and, above it, the target's kind.
const KEY_BITS: u32 = INDEX_BITS + 2;

/// Bits of `Peg::packed` below the key: the quantity's scale (at most 28).
const SCALE_BITS: u32 = 32 - KEY_BITS;
const SCALE_MASK: u32 = (1 << SCALE_BITS) - 1;

/// Most items, BOM lines or demands in one scenario ([`validate`] refuses
/// more): a peg addresses its target in 25 bits, beside its quantity's scale.
pub const MAX_RECORDS: usize = (1 << INDEX_BITS) - 1;

impl Peg {
    /// `quantity` (not negative: a peg keeps no sign) pegged to `target`.
    /// Only the planner makes pegs; its quantities are never negative.
    #[inline]
    pub(crate) fn new(target: PegTarget, quantity: Decimal) -> Peg {
        Peg::keyed(target.key(), quantity)
    }

    /// `quantity` pegged to the target with key `key`.
    #[inline(always)]
    fn keyed(key: u32, quantity: Decimal) -> Peg {
        // Requirements, stock and supplies are never negative, and neither
        // is what one takes from another.
        debug_assert!(!quantity.is_sign_negative() || quantity.is_zero(), "a negative peg: {quantity}");
        let parts = quantity.unpack();
        Peg {
            low: (u64::from(parts.mid) << 32) | u64::from(parts.lo),
            high: parts.hi,
            packed: key << SCALE_BITS | parts.scale,
        }
    }

    /// `quantity` pegged to the target with key `key`, from the fast path.
    #[inline(always)]
    fn fixed_keyed(key: u32, quantity: lot::Fixed) -> Peg {
        Peg { low: quantity.mantissa() as u64, high: 0, packed: key << SCALE_BITS | quantity.scale() }
    }

    /// [`PegTarget::key`] of the target.
    #[inline(always)]
    fn key(&self) -> u32 {
        self.packed >> SCALE_BITS
    }

    /// What the quantity serves.
    #[inline]
    pub fn target(&self) -> PegTarget {
        let key = self.key();
        let index = key & MAX_RECORDS as u32;
        match key >> INDEX_BITS {
            0 => PegTarget::Demand(index),
            1 => PegTarget::SafetyStock(index),
            _ => PegTarget::LotSize(index),
        }
    }

    /// How much.
    #[inline]
    pub fn quantity(&self) -> Decimal {
        Decimal::from_parts(self.low as u32, (self.low >> 32) as u32, self.high, false, self.packed & SCALE_MASK)
    }

    /// The quantity decoded, if it is positive and its mantissa fits an `i64`.
    #[inline(always)]
    fn fixed(&self) -> Option<lot::Fixed> {
        if self.high == 0 && self.low.wrapping_sub(1) < i64::MAX as u64 {
            Some(lot::Fixed::new(self.low as i64, self.packed & SCALE_MASK))
        } else {
            None
        }
    }

    /// Adds `other`'s quantity to this one's, as [`lot::add`] does.
    #[inline(always)]
    fn add(&mut self, other: Peg) -> Result<(), Overflow> {
        if let (Some(a), Some(b)) = (self.fixed(), other.fixed())
            && let Some(sum) = a.plus(b)
        {
            *self = Peg::fixed_keyed(self.key(), sum);
            return Ok(());
        }
        *self = Peg::keyed(self.key(), add(self.quantity(), other.quantity())?);
        Ok(())
    }
}

/// Pegs are equal when their targets and quantities are (`1.0` is `1`), as
/// `Decimal`s compare.
impl PartialEq for Peg {
    fn eq(&self, other: &Peg) -> bool {
        self.key() == other.key() && self.quantity() == other.quantity()
    }
}

impl Eq for Peg {}

impl std::fmt::Debug for Peg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peg").field("target", &self.target()).field("quantity", &self.quantity()).finish()
    }
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
    /// `pegs[pegs_chunk][pegs_start..pegs_start + pegs_len]` of the result.
    pegs_chunk: u32,
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

/// The MRP records of every item.
///
/// Only the gross requirements are stored, one value per item and bucket
/// (the planner adds each parent's requirements to them). The other five
/// rows follow by the netting rule from the gross requirements, the item's
/// stock, safety stock and scheduled receipts, and its planned orders, and
/// [`PlanResult::record`] works them out when a record is read: stored,
/// they were five more rows of 16-byte decimals per item and bucket (416 MB
/// at 100k items and 52 buckets), all fresh memory the planner had to touch.
#[derive(Debug, Clone, PartialEq)]
pub struct Records {
    periods: usize,
    gross: Vec<Decimal>,
    /// What netting started from, per item.
    terms: Vec<RecordTerms>,
    /// Scheduled receipts per item: bucket and quantity, in due order.
    receipts: Vec<Vec<(u32, Decimal)>>,
    /// Per item, its planned orders: `planned_orders[start..start + count]`
    /// (an item's orders are made, and filed, one after another).
    orders: Vec<(u32, u32)>,
}

/// An item's terms of netting, kept for working out its record.
#[derive(Debug, Clone, Copy, PartialEq)]
struct RecordTerms {
    on_hand: Decimal,
    safety_stock: Decimal,
    phantom: bool,
}

/// One item's MRP record.
#[derive(Debug, Clone, PartialEq)]
pub struct Record<'a> {
    /// Gross requirements (independent + dependent).
    pub gross: &'a [Decimal],
    /// Scheduled receipts.
    pub scheduled_receipts: Vec<Decimal>,
    /// Projected available balance at the end of each bucket.
    pub projected_available: Vec<Decimal>,
    /// Net requirements (for a phantom: what it passes to its components).
    pub net: Vec<Decimal>,
    /// Planned order receipts (due quantities).
    pub planned_receipts: Vec<Decimal>,
    /// Planned order releases.
    pub planned_releases: Vec<Decimal>,
}

impl Records {
    /// Zeroed gross requirements and every item's terms, laid out on a
    /// helper thread and on the calling thread once it has done `meanwhile`.
    fn new_beside<T>(s: &Scenario, meanwhile: impl FnOnce() -> T) -> (Self, T) {
        let periods = s.calendar.len();
        let items = s.items.len();
        let len = items * periods;
        let mut gross: Vec<Decimal> = Vec::with_capacity(len);
        let (first, second) = gross.spare_capacity_mut()[..len].split_at_mut(len / 2);
        let (terms, value) = std::thread::scope(|scope| {
            let helper = scope.spawn(|| {
                first.fill(std::mem::MaybeUninit::new(Decimal::ZERO));
                s.items
                    .iter()
                    .map(|item| RecordTerms {
                        on_hand: item.on_hand,
                        safety_stock: item.safety_stock,
                        phantom: item.source == Source::Phantom,
                    })
                    .collect()
            });
            let value = meanwhile();
            second.fill(std::mem::MaybeUninit::new(Decimal::ZERO));
            (helper.join().expect("laying out the records panicked"), value)
        });
        // SAFETY: both halves of the first `len` values were written above.
        unsafe { gross.set_len(len) };
        // Receipts and order ranges are set when planning is done.
        (Records { periods, gross, terms, receipts: Vec::new(), orders: Vec::new() }, value)
    }

    /// Every item's gross requirements row, to hand out to the batches that plan them.
    fn gross_rows(&mut self) -> Vec<Option<&mut [Decimal]>> {
        let items = self.terms.len();
        if self.periods == 0 {
            return (0..items).map(|_| Some(<&mut [Decimal]>::default())).collect();
        }
        self.gross.chunks_exact_mut(self.periods).map(Some).collect()
    }
}

impl PlanResult {
    /// The MRP record of item `i` (index into `Scenario::items`), worked out
    /// from its gross requirements, terms, scheduled receipts and planned
    /// orders as the planner netted it (see [`Records`]). Reads
    /// `planned_orders`, which must be as planned.
    pub fn record(&self, i: usize) -> Record<'_> {
        let r = &self.records;
        let periods = r.periods;
        let gross = &r.gross[i * periods..(i + 1) * periods];
        let terms = r.terms[i];
        let zeros = || vec![Decimal::ZERO; periods];
        let (mut scheduled, mut projected, mut net) = (zeros(), zeros(), zeros());
        let (mut receipts, mut releases) = (zeros(), zeros());
        // The planner made these sums and differences without overflow, in
        // this order, so they cannot overflow here.
        if terms.phantom {
            // A phantom passes on what its own stock does not cover.
            let mut stock = terms.on_hand;
            for t in 0..periods {
                let from_stock = gross[t].min(stock);
                stock -= from_stock;
                net[t] = gross[t] - from_stock;
                projected[t] = stock;
            }
        } else {
            for &(bucket, quantity) in &r.receipts[i] {
                scheduled[bucket as usize] += quantity;
            }
            let (start, count) = r.orders[i];
            for order in &self.planned_orders[start as usize..][..count as usize] {
                receipts[order.due_bucket as usize] += order.quantity;
                releases[order.release_bucket as usize] += order.quantity;
            }
            let mut pab = terms.on_hand;
            for t in 0..periods {
                let avail = pab + scheduled[t] - gross[t];
                if avail < terms.safety_stock {
                    net[t] = terms.safety_stock - avail;
                    pab = avail + receipts[t];
                } else {
                    pab = avail;
                }
                projected[t] = pab;
            }
        }
        Record {
            gross,
            scheduled_receipts: scheduled,
            projected_available: projected,
            net,
            planned_receipts: receipts,
            planned_releases: releases,
        }
    }
}

/// The outcome of an MRP run.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanResult {
    /// Planned orders in planning order (low-level code, item, due bucket).
    pub planned_orders: Vec<PlannedOrder>,
    /// The peg arena, in chunks: independent demand, then what each batch of
    /// planning produced (moved here whole, never copied).
    pegs: Vec<Vec<Peg>>,
    /// Every item's gross requirements and what the rest of its MRP record
    /// follows from; read a record with [`PlanResult::record`].
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
    fn key(self) -> u32 {
        match self {
            PegTarget::Demand(d) => d,
            PegTarget::SafetyStock(i) => 1 << INDEX_BITS | i,
            PegTarget::LotSize(i) => 2 << INDEX_BITS | i,
        }
    }
}

impl PlanResult {
    /// The pegging of a planned order; the quantities add up to the order quantity.
    pub fn pegging(&self, order: &PlannedOrder) -> &[Peg] {
        order_pegs(&self.pegs, order)
    }
}

fn order_pegs<'a>(pegs: &'a [Vec<Peg>], order: &PlannedOrder) -> &'a [Peg] {
    if order.pegs_len == 0 {
        return &[];
    }
    local_pegs(&pegs[order.pegs_chunk as usize], order)
}

/// An order's pegs in the arena chunk that holds them.
fn local_pegs<'a>(chunk: &'a [Peg], order: &PlannedOrder) -> &'a [Peg] {
    if order.pegs_len == 0 {
        return &[];
    }
    &chunk[order.pegs_start as usize..(order.pegs_start + order.pegs_len) as usize]
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

/// A requirement on an item in `bucket`, serving the segments
/// `pegs[chunk][start..start + len]` of the result's peg arena, each scaled by
/// the factor of BOM line `line` (an index into `Network::components`, or
/// [`UNIT_FACTOR`]). The segments are a parent order's pegs, a phantom's
/// passed-on pegs, or independent demand (factor 1): referencing them instead
/// of copying keeps explosion proportional to BOM lines, not to pegs. Its
/// quantity is kept in the parent's [`Explosions`] and added to the
/// item's gross requirement when the item's turn comes ([`take_feeds`]), so
/// a requirement is 20 bytes: at 100k items there are millions of them, and
/// every byte is fresh memory to touch.
#[derive(Debug, Clone, Copy)]
struct Requirement {
    bucket: u32,
    chunk: u32,
    start: u32,
    len: u32,
    line: u32,
}

/// `Requirement::line` of independent demand: its segments are taken as they are.
const UNIT_FACTOR: u32 = u32::MAX;

impl Requirement {
    /// What each of the requirement's segments is multiplied by.
    #[inline]
    fn factor<'f>(&self, factors: &'f [Factor]) -> &'f Factor {
        if self.line == UNIT_FACTOR { &Factor::UNIT } else { &factors[self.line as usize] }
    }
}

/// A BOM line's factor (`quantity × (1 + scrap)`), decoded once per run
/// rather than for each of the millions of requirements it scales.
#[derive(Debug, Clone, Copy)]
struct Factor {
    decimal: Decimal,
    /// Its fast-path form, if it has one.
    fixed: Option<lot::Fixed>,
    /// Exactly one: a segment's own quantity is the product.
    unit: bool,
}

impl Factor {
    /// The factor of independent demand.
    const UNIT: Factor = Factor { decimal: Decimal::ONE, fixed: Some(lot::Fixed::ONE), unit: true };

    fn of(decimal: Decimal) -> Factor {
        Factor { decimal, fixed: lot::Fixed::of(decimal), unit: lot::is_unit(decimal) }
    }
}

/// An item's supplies in time order; `head` is the oldest with stock left.
struct SupplyQueue {
    supplies: Vec<Supply>,
    head: usize,
}

/// A supply in an item's first-in-first-out queue.
#[derive(Clone)]
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
///
/// Items of one low-level code only read what items of lower codes produced
/// (their requirements, and the pegs those reference), so each level is
/// planned in rounds, each cut into batches of consecutive items that two
/// threads take in turn when the round is large enough. A batch plans into
/// buffers of its own (orders, pegs, exceptions, explosions); the batches
/// are then committed in planning sequence, which numbers the orders, moves
/// their pegs into the result's arena and passes the requirements on, so
/// the result is exactly that of planning the items one after another.
pub fn plan_network_with(s: &Scenario, net: &Network, options: PlanOptions) -> Result<PlanResult, PlanError> {
    plan_in_rounds(s, net, options, Rounds { work: ROUND_WORK, parallel: PARALLEL_WORK })
}

/// How levels are cut into rounds (tests use tiny rounds to exercise the threads).
#[derive(Debug, Clone, Copy)]
struct Rounds {
    /// Half the work of a round ([`ROUND_WORK`]).
    work: usize,
    /// Least work of a round planned on two threads ([`PARALLEL_WORK`]).
    parallel: usize,
}

fn plan_in_rounds(s: &Scenario, net: &Network, options: PlanOptions, rounds: Rounds) -> Result<PlanResult, PlanError> {
    let n = s.items.len();
    let mut exceptions = Vec::new();
    let mut reqs: Vec<Vec<Requirement>> = (0..n).map(|_| Vec::new()).collect();
    let mut feeds: Vec<Vec<Feed>> = (0..n).map(|_| Vec::new()).collect();
    let mut pegs = Vec::new();
    let mut independent = Vec::new();

    // The gross requirements (a zeroed decimal per item and bucket, tens of
    // megabytes for a large plant) are laid out beside the independent demand.
    let (mut records, demand) =
        Records::new_beside(s, || independent_demand(s, net, &mut reqs, &mut independent, &mut pegs, &mut exceptions));
    demand.map_err(|(i, _)| overflow(s, i))?;
    let receipts = receipts_by_item(s, net, &mut exceptions);
    let mut planned_orders = Vec::new();
    let mut pegs = vec![pegs];
    let mut order_ranges = vec![(0, 0); n];
    let mut rows = records.gross_rows();
    // Independent demand comes first in every gross requirement; parents'
    // requirements are added when the item's turn comes (see `Batch::plan`).
    for (item, bucket, quantity) in independent {
        rows[item as usize].as_mut().expect("no item is planned yet")[bucket as usize] = quantity;
    }
    let factors: Vec<Factor> = net.components.iter().map(|cl| Factor::of(cl.factor)).collect();
    let cx = Context { s, net, receipts: &receipts, factors: &factors, pegging: options.pegging };
    let mut batches: Vec<Batch> = (0..BATCHES).map(|_| Batch::default()).collect();
    let mut filings: Vec<Filing> = (0..BATCHES).map(|_| Filing::default()).collect();
    let mut workspaces = [Workspace::default(), Workspace::default()];
    // The batches' explosions, kept until every component has read them
    // (`pending` feeds each), then emptied for reuse.
    let mut explosions: Vec<Explosions> = Vec::new();
    let mut pending: Vec<usize> = Vec::new();
    let mut spare: Vec<Explosions> = Vec::new();
    let mut read: Vec<u32> = Vec::new();
    let sequence = &net.sequence;
    let mut k = 0;
    while k < sequence.len() {
        // A round: items of one level, up to about twice ROUND_WORK of
        // requirement segments, cut into BATCHES runs of about equal work.
        let level = net.low_level_code[sequence[k] as usize];
        let mut jobs: Vec<Job<'_>> = Vec::new();
        let mut work = 0;
        while k < sequence.len() && net.low_level_code[sequence[k] as usize] == level && work < 2 * rounds.work {
            let i = sequence[k] as usize;
            let rq = std::mem::take(&mut reqs[i]);
            let item_feeds = std::mem::take(&mut feeds[i]);
            let job_work = ITEM_WORK
                + rq.iter().map(|r| r.len as usize).sum::<usize>()
                + item_feeds.iter().map(|f| f.segments).sum::<usize>();
            work += job_work;
            read.extend(item_feeds.iter().map(|f| f.explosions));
            let gross = rows[i].take().expect("every item is planned once");
            jobs.push(Job { item: i, rq, feeds: item_feeds, gross, work: job_work });
            k += 1;
        }
        let shares = split_by_work(jobs, work, BATCHES, |job| job.work);
        let sources = Sources { pegs: &pegs, explosions: &explosions };
        // The last round's orders (with pegging) are filed meanwhile.
        let mut file_all = || {
            for filing in &mut filings {
                filing.file(s, &mut planned_orders, &mut exceptions, &mut order_ranges);
            }
        };
        if work >= rounds.parallel && shares.len() > 1 {
            // Two threads take the batches in turn, each as it finishes
            // one: neither waits long for the other, however the filing
            // thread or the machine slows either down.
            let next = std::sync::Mutex::new(batches.iter_mut().zip(shares));
            let plan_shares = |workspace: &mut Workspace| {
                loop {
                    let Some((batch, jobs)) = next.lock().expect("a planning thread panicked").next() else {
                        break;
                    };
                    batch.plan(workspace, &cx, sources, jobs);
                }
            };
            let [first, second] = &mut workspaces;
            std::thread::scope(|scope| {
                let filer = scope.spawn(file_all);
                let helper = scope.spawn(|| plan_shares(second));
                plan_shares(first);
                helper.join().expect("a planning thread panicked");
                filer.join().expect("filing panicked");
            });
        } else {
            file_all();
            for (batch, jobs) in batches.iter_mut().zip(shares) {
                batch.plan(&mut workspaces[0], &cx, sources, jobs);
            }
        }
        // Explosions every reader has now read are emptied for reuse.
        for b in read.drain(..) {
            let b = b as usize;
            pending[b] -= 1;
            if pending[b] == 0 {
                let mut done = std::mem::take(&mut explosions[b]);
                done.clear();
                spare.push(done);
            }
        }
        // Commit, in planning sequence. Each batch's pegs become an arena
        // chunk and its orders and exceptions are handed over for filing
        // (without pegging filed at once). With pegging, each component is told where
        // its parents' explosions for it are (one feed per parent and BOM
        // line, however many orders: the requirements themselves are read
        // when the component is planned). Without, there are only quantities
        // to add to the components' gross rows: that is done now, on a
        // second thread while the orders are filed, and the lists are reused
        // at once. The first failure in planning sequence is the first
        // failing batch's (an explosion's sum, whose items come before its
        // failed one; then its failed item); later batches are not looked at.
        if !options.pegging {
            let lists: Vec<_> = batches
                .iter_mut()
                .map(|b| (std::mem::take(&mut b.parents), std::mem::take(&mut b.explosions)))
                .collect();
            let mut pass_all = || -> Vec<_> {
                lists.iter().map(|(parents, list)| pass_quantities(net, parents, list, &mut rows)).collect()
            };
            let passed = if work >= rounds.parallel {
                std::thread::scope(|scope| {
                    let helper = scope.spawn(pass_all);
                    for (batch, filing) in batches.iter_mut().zip(&mut filings) {
                        batch.hand_over(&mut pegs, filing);
                        filing.file(s, &mut planned_orders, &mut exceptions, &mut order_ranges);
                    }
                    helper.join().expect("a planning thread panicked")
                })
            } else {
                let passed = pass_all();
                for (batch, filing) in batches.iter_mut().zip(&mut filings) {
                    batch.hand_over(&mut pegs, filing);
                    filing.file(s, &mut planned_orders, &mut exceptions, &mut order_ranges);
                }
                passed
            };
            for ((batch, result), (mut parents, mut list)) in batches.iter_mut().zip(passed).zip(lists) {
                result.map_err(|parent| overflow(s, parent as usize))?;
                batch.take_error(s)?;
                parents.clear();
                list.clear();
                (batch.parents, batch.explosions) = (parents, list);
            }
            continue;
        }
        for (batch, filing) in batches.iter_mut().zip(&mut filings) {
            batch.hand_over(&mut pegs, filing);
            batch.take_error(s)?;
            let chunk = filing.chunk;
            if batch.parents.is_empty() {
                continue;
            }
            let id = explosions.len() as u32;
            let mut readers = 0;
            for parent in batch.parents.drain(..) {
                let components = net.components_of(parent.item as usize);
                for (j, cl) in components.iter().enumerate() {
                    feeds[cl.component as usize].push(Feed {
                        explosions: id,
                        first_group: parent.first_group,
                        first_quantity: parent.first_quantity + j as u32,
                        stride: components.len() as u32,
                        count: parent.groups,
                        line: net.component_start[parent.item as usize] + j as u32,
                        chunk,
                        parent: parent.item,
                        segments: parent.segments,
                    });
                    readers += 1;
                }
            }
            explosions.push(std::mem::replace(&mut batch.explosions, spare.pop().unwrap_or_default()));
            pending.push(readers);
        }
    }
    for filing in &mut filings {
        filing.file(s, &mut planned_orders, &mut exceptions, &mut order_ranges);
    }
    drop(rows);
    records.orders = order_ranges;
    records.receipts = receipts
        .iter()
        .map(|placed| placed.iter().map(|p| (p.bucket as u32, s.receipts[p.index].quantity)).collect())
        .collect();
    exceptions.sort_by_key(|e: &Exception| e.item);
    Ok(PlanResult {
        planned_orders,
        pegs,
        records,
        low_level_code: net.low_level_code.clone(),
        exceptions,
        pegging: options.pegging,
    })
}

/// Requirement segments (plus a little per item) each of the two planning
/// threads plans, about, before its round is committed: large enough that
/// the threads' start and the commit's copying are small beside the
/// planning, small enough that a round's buffers stay a few tens of
/// megabytes.
const ROUND_WORK: usize = 1 << 19;

/// Work counted per item besides its segments: netting, lot sizing and
/// explosion of its orders (a few dozen per item at 52 buckets).
const ITEM_WORK: usize = 256;

/// Batches a round is cut into: the two planning threads take them in turn,
/// so a round ends at most about one batch after its first thread is done.
const BATCHES: usize = 8;

/// Cuts a round's jobs (`work` in all, `work_of` each) into at most
/// `batches` runs of consecutive jobs of about equal work.
fn split_by_work<T>(jobs: Vec<T>, work: usize, batches: usize, work_of: impl Fn(&T) -> usize) -> Vec<Vec<T>> {
    let mut shares: Vec<Vec<T>> = Vec::with_capacity(batches);
    let mut done = 0;
    for job in jobs {
        // A new run starts once the ones before hold their share of the work.
        let due = shares.len() * work / batches;
        if shares.is_empty() || (done >= due && shares.len() < batches) {
            shares.push(Vec::new());
        }
        done += work_of(&job);
        shares.last_mut().expect("a run was started").push(job);
    }
    shares
}

/// Rounds smaller than this are planned on the calling thread alone.
const PARALLEL_WORK: usize = 1 << 16;

/// What every batch reads and nobody changes while a round is planned.
struct Context<'a> {
    s: &'a Scenario,
    net: &'a Network,
    receipts: &'a [Vec<PlacedReceipt>],
    /// Every BOM line's factor, by its index in `Network::components`.
    factors: &'a [Factor],
    pegging: bool,
}

/// One item to plan: its requirements and its gross requirements row.
struct Job<'r> {
    item: usize,
    /// Its independent requirements; its parents' are appended from `feeds`.
    rq: Vec<Requirement>,
    feeds: Vec<Feed>,
    gross: &'r mut [Decimal],
    /// Estimated effort: requirement segments to allocate.
    work: usize,
}

/// An exception waiting for its batch's commit: a past-due release names its
/// order, whose number is only known then.
enum Pending {
    Ready(Exception),
    PastDueRelease {
        /// Index of the order in its batch.
        order: usize,
        /// When it should have been released.
        should: NaiveDate,
        /// Buckets between that and the horizon start.
        late: usize,
    },
}

/// What a batch's planned parents pass on to their components: per order (per
/// bucket for a phantom) a group, the requirement's bucket and segments,
/// and per group one quantity for each BOM line of the parent, in line order
/// (`Σ segment × factor`, or without pegging the quantity × factor). With
/// pegging the segments are in the batch's pegs, which become an arena chunk
/// at the commit; without, a group has none (`GROSS_ONLY`).
#[derive(Default)]
struct Explosions {
    groups: Vec<ExplosionGroup>,
    quantities: Vec<Decimal>,
}

impl Explosions {
    /// Empties the list for reuse, keeping its room.
    fn clear(&mut self) {
        self.groups.clear();
        self.quantities.clear();
    }
}

/// What every component's requirement from one parent order shares.
#[derive(Clone, Copy)]
struct ExplosionGroup {
    bucket: u32,
    start: u32,
    len: u32,
}

/// Where a component's requirements from one parent are: `count` groups of
/// an explosion list from `first_group` on, and their quantities for the
/// component's BOM line (every `stride`-th from `first_quantity`).
///
/// Passing each requirement on at the commit meant millions of pushes to
/// scattered lists and gross cells on one thread while the other waited;
/// a feed per parent and line is a few hundred thousand at 100k items, and
/// the component reads its requirements on its own planning thread.
struct Feed {
    /// Index of the explosion list.
    explosions: u32,
    first_group: u32,
    first_quantity: u32,
    stride: u32,
    count: u32,
    /// The BOM line (its factor scales the segments).
    line: u32,
    /// The arena chunk of the parent's pegs (the requirements' segments).
    chunk: u32,
    parent: u32,
    /// Segments of the requirements (the same for every BOM line).
    segments: usize,
}

/// A planned parent's explosions in its batch's list.
struct ParentExplosions {
    item: u32,
    first_group: u32,
    first_quantity: u32,
    /// Orders (buckets for a phantom) with explosions.
    groups: u32,
    segments: usize,
}

/// What the batches of a round read: the peg arena and the explosions of
/// earlier rounds.
#[derive(Clone, Copy)]
struct Sources<'a> {
    pegs: &'a [Vec<Peg>],
    explosions: &'a [Explosions],
}

/// A run of a round's items, planned into buffers of its own.
#[derive(Default)]
struct Batch {
    /// Planned orders, numbered in the batch (`number` and `pegs_chunk` are
    /// set when they are filed, see [`Filing`]); `pegs_start` indexes `pegs`.
    orders: Vec<PlannedOrder>,
    pegs: Vec<Peg>,
    exceptions: Vec<(u32, Pending)>,
    explosions: Explosions,
    /// The planned items' explosions, in order.
    parents: Vec<ParentExplosions>,
    /// The first item that failed, with why; the batch stops there.
    error: Option<(usize, ItemError)>,
}

/// What a planning thread reuses from item to item, whichever batch it plans.
#[derive(Default)]
struct Workspace {
    /// Room to sort an item's requirements in.
    scratch: Vec<Requirement>,
    /// The order whose pegs are being built.
    filling: Filling,
    /// Room for an item's supply queue.
    supplies: Vec<Supply>,
    /// Room for an item's scheduled receipts per bucket.
    scheduled: Vec<Decimal>,
}

impl Batch {
    /// Plans the jobs in order, stopping at the first that fails.
    fn plan(&mut self, workspace: &mut Workspace, cx: &Context<'_>, sources: Sources<'_>, jobs: Vec<Job<'_>>) {
        for mut job in jobs {
            let i = job.item;
            let (orders, pegs, exceptions) = (self.orders.len(), self.pegs.len(), self.exceptions.len());
            let (groups, quantities) = (self.explosions.groups.len(), self.explosions.quantities.len());
            let planned = take_feeds(&mut job, sources.explosions, cx.pegging).and_then(|()| {
                if cx.s.items[i].source == Source::Phantom {
                    plan_phantom(cx, sources.pegs, job, self, workspace)
                } else {
                    plan_item(cx, sources.pegs, job, self, workspace)
                }
            });
            if let Err(e) = planned {
                // Keep only the items before: the commit reports this one.
                self.orders.truncate(orders);
                self.pegs.truncate(pegs);
                self.exceptions.truncate(exceptions);
                self.explosions.groups.truncate(groups);
                self.explosions.quantities.truncate(quantities);
                self.error = Some((i, e));
                return;
            }
            let made = &self.explosions.groups[groups..];
            if !made.is_empty() {
                self.parents.push(ParentExplosions {
                    item: i as u32,
                    first_group: groups as u32,
                    first_quantity: quantities as u32,
                    groups: made.len() as u32,
                    segments: made.iter().map(|g| g.len as usize).sum(),
                });
            }
        }
    }

    /// Moves the batch's pegs into the arena as a new chunk and hands its
    /// orders and exceptions to `filing` (taking back its emptied lists).
    fn hand_over(&mut self, pegs: &mut Vec<Vec<Peg>>, filing: &mut Filing) {
        filing.chunk = pegs.len() as u32;
        if !self.pegs.is_empty() {
            // The next round is about as large: room for it up front saves
            // regrowing (only the part it fills is ever touched).
            let room = self.pegs.len() + self.pegs.len() / 4;
            pegs.push(std::mem::replace(&mut self.pegs, Vec::with_capacity(room)));
        }
        std::mem::swap(&mut self.orders, &mut filing.orders);
        std::mem::swap(&mut self.exceptions, &mut filing.exceptions);
    }

    /// The batch's failure, if it had one, as the planning error.
    fn take_error(&mut self, s: &Scenario) -> Result<(), PlanError> {
        match self.error.take() {
            None => Ok(()),
            Some((i, ItemError::Overflow)) => Err(overflow(s, i)),
            Some((_, ItemError::ParentOverflow(parent))) => Err(overflow(s, parent as usize)),
            Some((i, ItemError::TooManyOrders { quantity, bucket })) => Err(PlanError::TooManyOrders {
                item: s.items[i].id.clone(),
                quantity,
                max: s.items[i].lot.max.unwrap_or_default(),
                due: s.calendar.bucket_start(bucket),
                limit: MAX_SPLIT_ORDERS,
            }),
        }
    }
}

/// A committed batch's orders and exceptions on their way into the result.
/// With pegging they are filed while the next round is planned (nothing
/// there reads them), on a thread of their own.
#[derive(Default)]
struct Filing {
    orders: Vec<PlannedOrder>,
    exceptions: Vec<(u32, Pending)>,
    /// The arena chunk of the orders' pegs.
    chunk: u32,
}

impl Filing {
    /// Appends the orders and exceptions to the result in planning sequence:
    /// numbers the orders and writes the past-due release messages, which
    /// name them. Leaves its lists empty for reuse.
    fn file(
        &mut self,
        s: &Scenario,
        planned_orders: &mut Vec<PlannedOrder>,
        exceptions: &mut Vec<Exception>,
        order_ranges: &mut [(u32, u32)],
    ) {
        let first_order = planned_orders.len();
        let chunk = self.chunk;
        for (k, mut order) in self.orders.drain(..).enumerate() {
            let index = (first_order + k) as u32;
            order.number = index + 1;
            order.pegs_chunk = chunk;
            let range = &mut order_ranges[order.item as usize];
            if range.1 == 0 {
                range.0 = index;
            }
            range.1 += 1;
            planned_orders.push(order);
        }
        let cal = &s.calendar;
        for (item, pending) in self.exceptions.drain(..) {
            exceptions.push(match pending {
                Pending::Ready(e) => e,
                Pending::PastDueRelease { order, should, late } => {
                    let order = &planned_orders[first_order + order];
                    let number = order.number;
                    Exception {
                        item,
                        kind: ExceptionKind::PastDueRelease,
                        reference: format!("PL-{number}"),
                        date: should,
                        suggested_date: Some(cal.start),
                        message: format!(
                            "planned order PL-{number} ({} of {} due {}) should have been released {}, {} bucket{} before the horizon start; release it now",
                            fmt_qty(order.quantity),
                            s.items[item as usize].id,
                            cal.bucket_start(order.due_bucket as usize),
                            should,
                            late,
                            if late == 1 { "" } else { "s" }
                        ),
                    }
                }
            });
        }
    }
}

/// Without pegging: adds a batch's explosions' quantities to their
/// components' gross requirements, in order. Stops at a sum that leaves the
/// decimal range and returns its parent.
fn pass_quantities(
    net: &Network,
    parents: &[ParentExplosions],
    list: &Explosions,
    rows: &mut [Option<&mut [Decimal]>],
) -> Result<(), u32> {
    for parent in parents {
        let components = net.components_of(parent.item as usize);
        let groups = &list.groups[parent.first_group as usize..][..parent.groups as usize];
        let quantities = list.quantities[parent.first_quantity as usize..].chunks_exact(components.len());
        for (group, quantities) in groups.iter().zip(quantities) {
            for (cl, &quantity) in components.iter().zip(quantities) {
                let row = rows[cl.component as usize].as_mut().expect("components are planned after their parents");
                let cell = &mut row[group.bucket as usize];
                *cell = add(*cell, quantity).map_err(|_| parent.item)?;
            }
        }
    }
    Ok(())
}

/// Adds a job's parents' requirements, in planning sequence, to its gross
/// requirement and, with pegging, to its requirement list (their segments in
/// the feeds' arena chunks).
fn take_feeds(job: &mut Job<'_>, explosions: &[Explosions], pegging: bool) -> Result<(), ItemError> {
    if pegging {
        job.rq.reserve(job.feeds.iter().map(|f| f.count as usize).sum());
    }
    let mut k = 0;
    while k < job.feeds.len() {
        // A parent with several BOM lines to this item (they may repeat):
        // its feeds are consecutive, and each of its orders passes the
        // lines' requirements on in line order, as one after another.
        let first = &job.feeds[k];
        let mut end = k + 1;
        while job.feeds.get(end).is_some_and(|f| f.explosions == first.explosions && f.first_group == first.first_group)
        {
            end += 1;
        }
        let list = &explosions[first.explosions as usize];
        for g in 0..first.count as usize {
            let group = list.groups[first.first_group as usize + g];
            for feed in &job.feeds[k..end] {
                let quantity = list.quantities[feed.first_quantity as usize + g * feed.stride as usize];
                let cell = &mut job.gross[group.bucket as usize];
                *cell = add(*cell, quantity).map_err(|_| ItemError::ParentOverflow(feed.parent))?;
                if pegging && group.start != GROSS_ONLY {
                    job.rq.push(Requirement {
                        bucket: group.bucket,
                        chunk: feed.chunk,
                        start: group.start,
                        len: group.len,
                        line: feed.line,
                    });
                }
            }
        }
        k = end;
    }
    Ok(())
}

/// `Requirement::start` of an explosion without pegging (no segments).
const GROSS_ONLY: u32 = u32::MAX - 1;

fn overflow(s: &Scenario, i: usize) -> PlanError {
    PlanError::Overflow { item: s.items[i].id.clone() }
}

enum ItemError {
    Overflow,
    /// A parent's requirement took the item's gross requirement out of the
    /// decimal range: reported as the parent's, whose explosion it is.
    ParentOverflow(u32),
    TooManyOrders {
        quantity: Decimal,
        bucket: usize,
    },
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
    gross: &mut Vec<(u32, u32, Decimal)>,
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
                        pegs.push(Peg::new(PegTarget::Demand(d), dem.quantity));
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
                    pegs.push(Peg::new(PegTarget::Demand(d), rest));
                }
            }
        }
        let quantity = orders.max(forecast);
        if !quantity.is_zero() {
            let len = (pegs.len() - start) as u32;
            reqs[item as usize].push(Requirement { bucket, chunk: 0, start: start as u32, len, line: UNIT_FACTOR });
            gross.push((item, bucket, quantity));
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

/// Nets, lot-sizes, offsets, pegs and explodes one make or buy item into
/// `batch`; requirement segments are read from `arena`.
fn plan_item(
    cx: &Context<'_>,
    arena: &[Vec<Peg>],
    job: Job<'_>,
    batch: &mut Batch,
    workspace: &mut Workspace,
) -> Result<(), ItemError> {
    let Context { s, net, .. } = *cx;
    let Job { item: i, mut rq, gross, .. } = job;
    let gross = &*gross;
    let receipts = &cx.receipts[i][..];
    let item = &s.items[i];
    let cal = &s.calendar;
    let periods = cal.len();
    let result_pegging = cx.pegging;
    let Batch { orders: planned_orders, pegs, exceptions, explosions, .. } = batch;
    let Workspace { scratch, filling, supplies, scheduled } = workspace;
    filling.prepare(s, pegs);

    sort_by_bucket(&mut rq, periods, scratch);
    scheduled.clear();
    scheduled.resize(periods, Decimal::ZERO);
    for p in receipts {
        scheduled[p.bucket] = add(scheduled[p.bucket], s.receipts[p.index].quantity)?;
    }
    let scheduled = &scheduled[..];
    // Releases before the horizon start all fall in bucket 0; their sum is
    // the one release total that can leave the decimal range.
    let mut past_due_releases = Decimal::ZERO;
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
    let ss_target = PegTarget::SafetyStock(i as u32).key();
    let lot_target = PegTarget::LotSize(i as u32).key();

    // The batch's queue, emptied: an item's orders would otherwise regrow a new one.
    let mut queue = SupplyQueue { supplies: std::mem::take(supplies), head: 0 };
    queue.supplies.clear();
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
            // The net requirement (kept in no row, see `Records`) must be a decimal.
            sub(ss, avail)?;
            let cx = LotContext { bucket: t, avail, safety_stock: ss, gross, scheduled, eoq };
            let quantity = lot::lot_size(&item.lot, &cx)?;
            pab = add(avail, quantity)?;
            // One order, unless `lot.max` splits it (no allocation for the usual case).
            let split;
            let pieces: &[Decimal] = match item.lot.max {
                Some(max) if less(max, quantity) => {
                    split = lot::split_by_max(quantity, Some(max), MAX_SPLIT_ORDERS)
                        .ok_or(ItemError::TooManyOrders { quantity, bucket: t })?;
                    &split
                }
                _ => std::slice::from_ref(&quantity),
            };
            let release = t.saturating_sub(lead_time);
            for &piece in pieces {
                if release == 0 {
                    past_due_releases = add(past_due_releases, piece)?;
                }
                if t < lead_time {
                    let should = cal.start - chrono::Days::new(((lead_time - t) as u64) * u64::from(cal.bucket_days));
                    let order = planned_orders.len();
                    exceptions.push((i as u32, Pending::PastDueRelease { order, should, late: lead_time - t }));
                }
                queue.supplies.push(Supply { order: Some(planned_orders.len()), remaining: piece });
                planned_orders.push(PlannedOrder {
                    number: 0,
                    item: i as u32,
                    kind: item.source,
                    release_bucket: release as u32,
                    due_bucket: t as u32,
                    quantity: piece,
                    pegs_chunk: 0,
                    pegs_start: u32::MAX,
                    pegs_len: 0,
                });
            }
        } else {
            pab = avail;
        }

        while result_pegging && next_req < rq.len() && rq[next_req].bucket as usize == t {
            let r = rq[next_req];
            let segments =
                if r.len == 0 { &[][..] } else { &arena[r.chunk as usize][r.start as usize..][..r.len as usize] };
            allocate_segments(segments, r.factor(cx.factors), &mut queue, planned_orders, pegs, filling)?;
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
            allocate(ss_target, for_ss, &mut queue, planned_orders, pegs, filling)?;
        }
        let excess = sub(rest, for_ss)?;
        if !excess.is_zero() {
            allocate(lot_target, excess, &mut queue, planned_orders, pegs, filling)?;
        }
        if rest.is_zero() {
            queue.head += 1;
        }
    }
    *supplies = queue.supplies;
    filling.finish(pegs);
    if !receipts.is_empty() {
        let mut found = Vec::new();
        receipt_exceptions(s, i, receipts, gross, &mut found)?;
        exceptions.extend(found.into_iter().map(|e| (i as u32, Pending::Ready(e))));
    }

    // Explode: each order's pegs, scaled, become its components' requirements
    // in its release bucket.
    let components = net.components_of(i);
    if components.is_empty() {
        return Ok(());
    }
    for order in &planned_orders[first_order..] {
        // Without pegging only totals matter: the components' gross
        // requirements take the quantities, no requirement is queued.
        let segments = result_pegging.then(|| ScaledSum::of(local_pegs(pegs, order)));
        let (start, len) = if result_pegging { (order.pegs_start, order.pegs_len) } else { (GROSS_ONLY, 0) };
        explosions.groups.push(ExplosionGroup { bucket: order.release_bucket, start, len });
        for cl in components {
            explosions.quantities.push(match &segments {
                Some(segments) => segments.times(cl.factor)?,
                None => mul(order.quantity, cl.factor)?,
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
        ScaledSum { segments, sum: lot::exact_sum(segments.iter().map(Peg::fixed)) }
    }

    #[inline]
    fn times(&self, factor: Decimal) -> Result<Decimal, Overflow> {
        if let Some(q) = self.sum.and_then(|sum| lot::scale_exact_sum(sum, factor)) {
            return Ok(q);
        }
        self.segments.iter().try_fold(Decimal::ZERO, |sum, seg| add(sum, mul(seg.quantity(), factor)?))
    }
}

/// Takes a requirement's segments, each times `factor`, from the supply
/// queue ([`allocate`] for each).
///
/// The hot loop of a pegged run: while the head supply covers segment after
/// segment, its stock stays decoded in registers ([`lot::Fixed`]) and each
/// segment costs a product, a comparison and a peg. A segment the head does
/// not cover, or whose numbers leave the fast path, goes through
/// [`allocate`] with the head's stock written back first, so every quantity
/// and peg is the one `allocate` alone would give.
#[inline(always)]
fn allocate_segments(
    segments: &[Peg],
    factor: &Factor,
    queue: &mut SupplyQueue,
    planned_orders: &mut [PlannedOrder],
    pegs: &mut Vec<Peg>,
    filling: &mut Filling,
) -> Result<(), Overflow> {
    let Factor { decimal: factor, fixed: fixed_factor, unit } = *factor;
    // A factor off the fast path (a unit factor is on it) leaves every
    // segment to the general path.
    let mut k = 0;
    while k < segments.len() {
        if let Some(fixed_factor) = fixed_factor
            && let Some(head) = queue.supplies.get_mut(queue.head)
            && let Some(mut left) = lot::Fixed::of(head.remaining)
        {
            // One loop per case, so that none carries the others' tests.
            let order = head.order.map(|o| &mut planned_orders[o]);
            k = match (order, unit) {
                (Some(order), true) => {
                    take_covered::<true>(segments, k, fixed_factor, &mut left, Some(order), pegs, filling)?
                }
                (Some(order), false) => {
                    take_covered::<false>(segments, k, fixed_factor, &mut left, Some(order), pegs, filling)?
                }
                (None, true) => take_covered::<true>(segments, k, fixed_factor, &mut left, None, pegs, filling)?,
                (None, false) => take_covered::<false>(segments, k, fixed_factor, &mut left, None, pegs, filling)?,
            };
            head.remaining = left.decimal();
            if left.is_zero() {
                queue.head += 1;
            }
            if k == segments.len() {
                break;
            }
            if left.is_zero() {
                continue;
            }
        }
        // The general path: the head is used up by this segment, is not
        // positive, or the numbers leave the fast path.
        let seg = segments[k];
        let quantity = if unit { seg.quantity() } else { mul(seg.quantity(), factor)? };
        allocate(seg.key(), quantity, queue, planned_orders, pegs, filling)?;
        k += 1;
    }
    Ok(())
}

/// The fast path of [`allocate_segments`]: takes segments from `k` on, each
/// times `factor` (exactly one when `UNIT`), from the head supply's stock
/// `left` while it covers them, pegging them to `order` (none for stock and
/// receipts). Returns the first segment not taken: the head is used up, or
/// the segment does not fit it or leaves the fast path.
#[inline(always)]
fn take_covered<const UNIT: bool>(
    segments: &[Peg],
    mut k: usize,
    factor: lot::Fixed,
    left: &mut lot::Fixed,
    mut order: Option<&mut PlannedOrder>,
    pegs: &mut Vec<Peg>,
    filling: &mut Filling,
) -> Result<usize, Overflow> {
    while let Some(&seg) = segments.get(k) {
        let Some(quantity) = seg.fixed() else { break };
        let quantity = if UNIT {
            quantity
        } else {
            match quantity.times(factor) {
                Some(product) => product,
                None => break,
            }
        };
        let Some(rest) = left.take(quantity) else { break };
        if let Some(order) = order.as_deref_mut() {
            add_peg(order, Peg::fixed_keyed(seg.key(), quantity), pegs, filling)?;
        }
        *left = rest;
        k += 1;
        if left.is_zero() {
            break;
        }
    }
    Ok(k)
}

/// Takes `quantity` for the target with key `target` ([`PegTarget::key`])
/// from the head of the supply queue; pegs it to planned orders (see
/// [`add_peg`]).
#[inline(always)]
fn allocate(
    target: u32,
    mut quantity: Decimal,
    queue: &mut SupplyQueue,
    planned_orders: &mut [PlannedOrder],
    pegs: &mut Vec<Peg>,
    filling: &mut Filling,
) -> Result<(), Overflow> {
    while !quantity.is_zero() && queue.head < queue.supplies.len() {
        let supply = &mut queue.supplies[queue.head];
        if let Some(left) = lot::take(supply.remaining, quantity)? {
            // The usual case: the oldest supply covers the rest (the same as
            // taking `min(quantity, remaining)` below, with fewer operations).
            if let Some(o) = supply.order {
                add_peg(&mut planned_orders[o], Peg::keyed(target, quantity), pegs, filling)?;
            }
            supply.remaining = left;
            if left.is_zero() {
                queue.head += 1;
            }
            return Ok(());
        }
        // The oldest supply is used up: take all it has left.
        let take = supply.remaining;
        if let Some(o) = supply.order
            && !take.is_zero()
        {
            add_peg(&mut planned_orders[o], Peg::keyed(target, take), pegs, filling)?;
        }
        supply.remaining = sub(supply.remaining, take)?;
        quantity = sub(quantity, take)?;
        queue.head += 1;
    }
    // Netting makes cumulative supply cover cumulative requirements, so the
    // queue only runs dry where a sum was rounded in its 28th significant
    // digit; that rounding remainder stays unpegged.
    Ok(())
}

/// The order whose pegs are being built: always the newest in its batch's
/// pegs, since the FIFO queue never returns to an order once a later one
/// has taken any requirement. Its pegs hold each target once; they are
/// appended as targets arrive and put in target order when it is done
/// ([`Filling::finish`]).
///
/// A target already pegged is found through `slots` (position in the
/// batch's pegs, by [`Filling::slot`]) instead of a search: an order takes
/// several parents' requirements whose targets interleave, and a binary
/// search per segment (with an insert to keep the order sorted) was most
/// of the pegging's time. Entries are never cleared; one is believed only
/// if it points into the order's pegs at a peg with its target.
#[derive(Default)]
struct Filling {
    /// Position of the order's first peg.
    start: usize,
    /// The largest target key among the order's pegs.
    max_key: u32,
    /// The order's pegs are in target order.
    sorted: bool,
    slots: Vec<u32>,
    /// Where each target kind's slots begin (demands, safety stock, lot size).
    bases: [u32; 4],
}

impl Filling {
    /// Sized for `s` (once per thread's `Workspace`; later calls, one per
    /// item, only reset the order) and started at the end of `pegs`.
    fn prepare(&mut self, s: &Scenario, pegs: &[Peg]) {
        self.size_for(s.demand.len() as u32, s.items.len() as u32);
        self.start = pegs.len();
        self.sorted = true;
    }

    /// Slots for every target of `demands` demands and `items` items.
    fn size_for(&mut self, demands: u32, items: u32) {
        let size = demands as usize + 2 * items as usize;
        if self.slots.len() != size {
            self.slots = vec![u32::MAX; size];
            self.bases = [0, demands, demands + items, demands + items];
        }
    }

    /// The slot of target `key`.
    #[inline(always)]
    fn slot(&self, key: u32) -> usize {
        (self.bases[(key >> INDEX_BITS) as usize] + (key & MAX_RECORDS as u32)) as usize
    }

    /// Puts the order's pegs (`pegs[start..]`) in target order if they are not.
    fn finish(&mut self, pegs: &mut [Peg]) {
        if !self.sorted {
            // Each target once: the packed words order them as their keys do.
            pegs[self.start..].sort_unstable_by_key(|p| p.packed);
            self.sorted = true;
        }
    }
}

/// Adds `peg` to the pegs of `order` (the newest order with pegs in
/// `pegs`, or one without pegs yet): a known target adds its quantity to
/// its peg (so each target's quantities are summed in the order they
/// come), a new one is appended (see [`Filling`]).
#[inline(always)]
fn add_peg(order: &mut PlannedOrder, peg: Peg, pegs: &mut Vec<Peg>, filling: &mut Filling) -> Result<(), Overflow> {
    let key = peg.key();
    let at = pegs.len();
    let slot = filling.slot(key);
    if order.pegs_len == 0 {
        filling.finish(pegs);
        filling.start = at;
        filling.max_key = key;
        order.pegs_start = at as u32;
        order.pegs_len = 1;
        filling.slots[slot] = at as u32;
        pegs.push(peg);
        return Ok(());
    }
    // Targets mostly come in order: a key above all is new.
    if key > filling.max_key {
        filling.max_key = key;
    } else {
        let last = pegs.last_mut().expect("the order has pegs");
        if last.key() == key {
            return last.add(peg);
        }
        let known = filling.slots[slot] as usize;
        if known >= filling.start
            && let Some(found) = pegs.get_mut(known)
            && found.key() == key
        {
            return found.add(peg);
        }
        filling.sorted = false;
    }
    filling.slots[slot] = at as u32;
    pegs.push(peg);
    order.pegs_len += 1;
    Ok(())
}

/// Sorts `pegs[start..]` by target and merges repeated targets in place;
/// returns the new length of that tail.
fn merge_tail(pegs: &mut Vec<Peg>, start: usize) -> Result<usize, Overflow> {
    let tail = &mut pegs[start..];
    // Most tails are already in order without repeats (one parent's pegs, or
    // demands met one after another): one pass to check is cheaper than a sort.
    if tail.windows(2).all(|w| w[0].key() < w[1].key()) {
        return Ok(tail.len());
    }
    if tail.len() <= 32 {
        insertion_sort(tail);
    } else {
        tail.sort_by_key(Peg::key);
    }
    let mut last = 0;
    for k in 1..tail.len() {
        if tail[k].key() == tail[last].key() {
            let peg = tail[k];
            tail[last].add(peg)?;
        } else {
            last += 1;
            tail[last] = tail[k];
        }
    }
    pegs.truncate(start + last + 1);
    Ok(last + 1)
}

/// Sorts requirements by bucket, stably (a counting sort: there are few
/// buckets and, at the bottom of a large plant, thousands of requirements
/// per item); `scratch` is reused from item to item.
fn sort_by_bucket(rq: &mut Vec<Requirement>, periods: usize, scratch: &mut Vec<Requirement>) {
    if rq.windows(2).all(|w| w[0].bucket <= w[1].bucket) {
        return;
    }
    let mut starts = vec![0usize; periods + 1];
    for r in rq.iter() {
        starts[r.bucket as usize + 1] += 1;
    }
    for t in 0..periods {
        starts[t + 1] += starts[t];
    }
    scratch.clear();
    scratch.resize(rq.len(), rq[0]);
    for r in rq.iter() {
        let at = &mut starts[r.bucket as usize];
        scratch[*at] = *r;
        *at += 1;
    }
    std::mem::swap(rq, scratch);
}

/// Sorts a few pegs by target, stably, in place: most tails are short and
/// nearly in order (a few sorted runs), where this beats the general sort
/// and needs no scratch memory.
fn insertion_sort(pegs: &mut [Peg]) {
    for k in 1..pegs.len() {
        let peg = pegs[k];
        let key = peg.key();
        let mut at = k;
        while at > 0 && pegs[at - 1].key() > key {
            pegs[at] = pegs[at - 1];
            at -= 1;
        }
        pegs[at] = peg;
    }
}

/// Nets a phantom against its on-hand stock and passes the rest of each
/// requirement, with its pegs, to the components in the same bucket.
fn plan_phantom(
    cx: &Context<'_>,
    arena: &[Vec<Peg>],
    job: Job<'_>,
    batch: &mut Batch,
    workspace: &mut Workspace,
) -> Result<(), ItemError> {
    let Context { s, net, pegging, .. } = *cx;
    let Job { item: i, mut rq, gross: gross_row, .. } = job;
    let Batch { pegs, exceptions, explosions, .. } = batch;
    let scratch = &mut workspace.scratch;
    let periods = s.calendar.len();
    let mut unsupplied = Decimal::ZERO;
    let mut first_unsupplied = None;
    sort_by_bucket(&mut rq, periods, scratch);
    let mut stock = s.items[i].on_hand;
    let mut next_req = 0;
    let components = net.components_of(i);
    // Parents' requirements were added to the gross row before the item's turn (`take_feeds`).
    for (t, &gross) in gross_row.iter().enumerate() {
        // What this bucket passes on is appended to the arena, then merged.
        let pass_on = pegs.len();
        let mut net_qty = Decimal::ZERO;
        while pegging && next_req < rq.len() && rq[next_req].bucket as usize == t {
            let r = rq[next_req];
            let factor = r.factor(cx.factors).decimal;
            let segments =
                if r.len == 0 { &[][..] } else { &arena[r.chunk as usize][r.start as usize..][..r.len as usize] };
            for &seg in segments {
                let quantity = mul(seg.quantity(), factor)?;
                let from_stock = min(quantity, stock);
                stock = sub(stock, from_stock)?;
                let rest = sub(quantity, from_stock)?;
                if !rest.is_zero() {
                    net_qty = add(net_qty, rest)?;
                    pegs.push(Peg::keyed(seg.key(), rest));
                }
            }
            next_req += 1;
        }
        if !pegging {
            let from_stock = min(gross, stock);
            stock = sub(stock, from_stock)?;
            net_qty = sub(gross, from_stock)?;
        }
        if !pegging && !net_qty.is_zero() && !components.is_empty() {
            explosions.groups.push(ExplosionGroup { bucket: t as u32, start: GROSS_ONLY, len: 0 });
            for cl in components {
                explosions.quantities.push(mul(net_qty, cl.factor)?);
            }
        }
        if pegs.len() > pass_on {
            let start = pass_on;
            let len = merge_tail(pegs, start)? as u32;
            if !components.is_empty() {
                let segments = ScaledSum::of(&pegs[start..]);
                explosions.groups.push(ExplosionGroup { bucket: t as u32, start: start as u32, len });
                for cl in components {
                    explosions.quantities.push(segments.times(cl.factor)?);
                }
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
        exceptions.push((i as u32, Pending::Ready(Exception {
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
        })));
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
