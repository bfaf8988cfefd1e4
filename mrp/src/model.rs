//! The validated scenario model (`mrp-scenario/1`).
//!
//! Values of these types have passed [`crate::parse`]'s checks: ids are unique,
//! every reference resolves, quantities are in range and the bill of materials
//! is acyclic. The planner relies on that and does not check again.

use chrono::NaiveDate;
use rust_decimal::Decimal;

/// The format tag every scenario file carries.
pub const SCENARIO_FORMAT: &str = "mrp-scenario/1";

/// A complete planning problem: master data, stock, demand and open supply.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// The scenario's name, echoed in the result.
    pub name: String,
    /// The planning horizon and its buckets.
    pub calendar: Calendar,
    /// Item master with planning parameters, in input order.
    pub items: Vec<Item>,
    /// Single-level bill of materials lines.
    pub bom: Vec<BomLine>,
    /// Independent demand: customer orders and forecasts.
    pub demand: Vec<Demand>,
    /// Scheduled receipts: open purchase and production orders.
    pub receipts: Vec<Receipt>,
}

/// The planning horizon: `periods` buckets of `bucket_days` days from `start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Calendar {
    /// First day of bucket 0.
    pub start: NaiveDate,
    /// Length of every bucket in days (7 for weekly buckets).
    pub bucket_days: u32,
    /// Number of buckets in the horizon.
    pub periods: u32,
}

/// Where a date falls relative to the horizon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BucketOf {
    /// Before the horizon start: counted in bucket 0 (past due).
    PastDue,
    /// Inside the horizon, in this bucket.
    In(usize),
    /// On or after the horizon end: left out of the plan.
    BeyondHorizon,
}

impl Calendar {
    /// The bucket a date falls in.
    pub fn bucket_of(&self, date: NaiveDate) -> BucketOf {
        let days = (date - self.start).num_days();
        if days < 0 {
            return BucketOf::PastDue;
        }
        let bucket = days / i64::from(self.bucket_days);
        if bucket >= i64::from(self.periods) { BucketOf::BeyondHorizon } else { BucketOf::In(bucket as usize) }
    }

    /// The first day of bucket `t` (also valid for `t == periods`, the horizon end).
    pub fn bucket_start(&self, t: usize) -> NaiveDate {
        self.start + chrono::Days::new(t as u64 * u64::from(self.bucket_days))
    }

    /// The first day after the horizon.
    pub fn horizon_end(&self) -> NaiveDate {
        self.bucket_start(self.periods as usize)
    }

    /// Number of buckets as a `usize`, for indexing record arrays.
    pub fn len(&self) -> usize {
        self.periods as usize
    }

    /// True when the horizon has no buckets (never for a validated scenario).
    pub fn is_empty(&self) -> bool {
        self.periods == 0
    }
}

/// How an item is supplied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// Produced in-house: planned production orders.
    Make,
    /// Purchased: planned purchase orders; has no components.
    Buy,
    /// A kit that is never stocked as an order: its net requirement passes
    /// straight to its components in the same bucket.
    Phantom,
}

impl Source {
    /// The name used in scenario and result files.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Make => "make",
            Source::Buy => "buy",
            Source::Phantom => "phantom",
        }
    }
}

/// An item with its planning parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// Unique item id (part number).
    pub id: String,
    /// Optional description.
    pub name: Option<String>,
    /// Make, buy or phantom.
    pub source: Source,
    /// Lead time in buckets.
    pub lead_time: u32,
    /// Stock level that netting keeps projected available at or above.
    pub safety_stock: Decimal,
    /// Unrestricted stock, available to netting.
    pub on_hand: Decimal,
    /// Stock on quality hold: never netted.
    pub on_hold: Decimal,
    /// Lot-sizing policy.
    pub lot: LotPolicy,
    /// Standard cost per unit (informational for planning).
    pub unit_cost: Option<Decimal>,
    /// Unit of measure (informational).
    pub uom: Option<String>,
}

/// A lot-sizing rule with its order-quantity modifiers.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LotPolicy {
    /// The rule that gives the first quantity.
    pub rule: LotRule,
    /// Minimum order quantity.
    pub min: Option<Decimal>,
    /// Order quantities are rounded up to a multiple of this.
    pub multiple: Option<Decimal>,
    /// Larger quantities are split into several orders of at most this.
    pub max: Option<Decimal>,
}

/// The lot-sizing rules of `mrp-scenario/1`.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum LotRule {
    /// Order exactly the net requirement.
    #[default]
    LotForLot,
    /// Order the net requirement rounded up to a multiple of `quantity`.
    Fixed {
        /// The fixed lot (> 0).
        quantity: Decimal,
    },
    /// Cover the requirements of `periods` buckets with one order.
    PeriodOrder {
        /// Buckets covered by one order (≥ 1).
        periods: u32,
    },
    /// Economic order quantity from the horizon's average demand.
    Eoq {
        /// Cost of placing one order (≥ 0).
        order_cost: Decimal,
        /// Cost of holding one unit for a year (> 0).
        holding_cost: Decimal,
    },
}

impl LotRule {
    /// The name used in scenario files.
    pub fn as_str(&self) -> &'static str {
        match self {
            LotRule::LotForLot => "lot_for_lot",
            LotRule::Fixed { .. } => "fixed",
            LotRule::PeriodOrder { .. } => "period_order",
            LotRule::Eoq { .. } => "eoq",
        }
    }
}

/// One line of a single-level bill of materials.
#[derive(Debug, Clone, PartialEq)]
pub struct BomLine {
    /// The assembly.
    pub parent: String,
    /// The part it consumes.
    pub component: String,
    /// Quantity of the component per unit of the parent (> 0).
    pub quantity: Decimal,
    /// Component scrap as a fraction (0.02 = 2 % extra).
    pub scrap: Decimal,
}

/// Whether a demand is a firm customer order or a forecast.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DemandKind {
    /// A customer order: consumes forecast in its bucket.
    Order,
    /// A forecast: counts only where it exceeds the bucket's orders.
    Forecast,
}

impl DemandKind {
    /// The name used in scenario files.
    pub fn as_str(self) -> &'static str {
        match self {
            DemandKind::Order => "order",
            DemandKind::Forecast => "forecast",
        }
    }
}

/// Independent demand for an item on a date.
#[derive(Debug, Clone, PartialEq)]
pub struct Demand {
    /// Unique demand id; pegging refers to it.
    pub id: String,
    /// The demanded item.
    pub item: String,
    /// Requirement date.
    pub date: NaiveDate,
    /// Demanded quantity (≥ 0).
    pub quantity: Decimal,
    /// Order or forecast.
    pub kind: DemandKind,
}

/// An open order (scheduled receipt) due on a date.
#[derive(Debug, Clone, PartialEq)]
pub struct Receipt {
    /// Unique receipt id (purchase or production order number).
    pub id: String,
    /// The item received.
    pub item: String,
    /// Due date.
    pub date: NaiveDate,
    /// Open quantity (≥ 0).
    pub quantity: Decimal,
}
