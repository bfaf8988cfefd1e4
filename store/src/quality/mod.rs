//! Quality control: per-item inspection settings, inspection lots from
//! purchase receipts and from holds on existing stock, characteristic
//! results, usage decisions, escalation alerts, returns to the supplier and
//! the notifications recorded for the ERP.
//!
//! The durable workflows (crate `workflows`) drive a lot through its steps by
//! calling these services from activities. Every step that a workflow
//! repeats after a crash is idempotent: a lot is found by its workflow id,
//! a decision is applied only to an open lot (in the same transaction that
//! closes it), alerts and notifications are unique per lot and kind, so a
//! retried activity finds its earlier result instead of posting again.
//! The sampling tables and decision arithmetic live in the pure `quality`
//! crate.

pub mod entity;

use chrono::Utc;
use quality::{DecisionKind, DecisionRequest, InspectionPolicy, LotOrigin, QualityError, SamplingPlan};
use rust_decimal::Decimal;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use self::entity::{
    erp_notification, inspection_lot, inspection_result, quality_alert, quality_setting, supplier_return,
};
use crate::entity::{item, location, position, supply_order};
use crate::error::{Problems, StoreError};
use crate::ledger::{self, MovementBody};
use crate::master::check_id;
use crate::names::{MovementKind, StockStatus, SupplyStatus};
use crate::qty::Qty;
use crate::supply::{self, ReceiptBody};

/// Inspection time when an item has no settings: one day.
pub const DEFAULT_INSPECTION_SECONDS: u64 = 86_400;

/// Workflow steps of an inspection lot, as the API shows them.
pub mod step {
    /// Stock is in `quality_hold`; the workflow waits for the usage decision.
    pub const AWAITING_DECISION: &str = "awaiting_decision";
    /// The inspection time ran out: an alert was raised; still waiting.
    pub const ESCALATED: &str = "escalated";
    /// The decision was posted to the ledger.
    pub const DECIDED: &str = "decided";
    /// The ERP was told the outcome; the workflow is done.
    pub const COMPLETED: &str = "completed";
}

fn quality_error(e: QualityError) -> StoreError {
    match e {
        QualityError::Invalid { field, message } => StoreError::invalid(field, message),
        other @ QualityError::UnknownAql(_) => StoreError::invalid("aql", other.to_string()),
    }
}

/// Takes the database's write lock as the first statement of a transaction
/// that will wait on a workflow before it writes (the API's start and
/// decision routes). On SQLite a transaction that read first could not
/// write once a worker committed in between (`SQLITE_BUSY_SNAPSHOT`); holding
/// the lock instead makes the worker's next posting wait for this commit.
/// On PostgreSQL it is a no-op.
pub async fn begin_write(txn: &impl ConnectionTrait) -> Result<(), StoreError> {
    if txn.get_database_backend() == sea_orm::DbBackend::Sqlite {
        txn.execute_unprepared("UPDATE quality_settings SET lots_received = lots_received WHERE item = ''").await?;
    }
    Ok(())
}

// ---- settings -------------------------------------------------------------------

/// How an item's lots are inspected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QualitySettings {
    /// The item.
    pub item: String,
    /// `sampling` (ISO 2859-1 level II, single, normal; the default),
    /// `full` (100%) or `skip_lot`.
    #[serde(default = "sampling")]
    pub policy: String,
    /// AQL in percent nonconforming for `sampling` and `skip_lot` (default 1.0).
    #[serde(default)]
    pub aql: Option<String>,
    /// `skip_lot`: inspect one lot in this many (≥ 2).
    #[serde(default)]
    pub skip_every: Option<u32>,
    /// Inspection time in seconds: without a decision by then the
    /// workflow raises an alert (default one day).
    #[serde(default = "default_seconds")]
    pub inspection_seconds: u64,
}

fn sampling() -> String {
    "sampling".into()
}

fn default_seconds() -> u64 {
    DEFAULT_INSPECTION_SECONDS
}

impl QualitySettings {
    /// The defaults for an item without settings.
    pub fn default_for(item: &str) -> QualitySettings {
        QualitySettings {
            item: item.to_owned(),
            policy: sampling(),
            aql: None,
            skip_every: None,
            inspection_seconds: DEFAULT_INSPECTION_SECONDS,
        }
    }

    /// The policy these settings describe, checked.
    pub fn policy(&self) -> Result<InspectionPolicy, StoreError> {
        let aql = self.aql.clone().unwrap_or_else(|| "1.0".into());
        let policy = match self.policy.as_str() {
            "sampling" => InspectionPolicy::Sampling { aql },
            "full" => InspectionPolicy::Full,
            "skip_lot" => InspectionPolicy::SkipLot {
                every: self.skip_every.ok_or_else(|| StoreError::invalid("skip_every", "is required for skip_lot"))?,
                aql,
            },
            other => {
                return Err(StoreError::invalid("policy", format!("'{other}' is not one of sampling, full, skip_lot")));
            }
        };
        policy.validate().map_err(quality_error)?;
        Ok(policy)
    }
}

/// An item's settings (the defaults when none were set).
pub async fn get_settings(conn: &impl ConnectionTrait, item_id: &str) -> Result<QualitySettings, StoreError> {
    if item::Entity::find_by_id(item_id.to_owned()).one(conn).await?.is_none() {
        return Err(StoreError::not_found("item", item_id));
    }
    Ok(match quality_setting::Entity::find_by_id(item_id.to_owned()).one(conn).await? {
        Some(row) => serde_json::from_str(&row.policy).unwrap_or_else(|_| QualitySettings::default_for(item_id)),
        None => QualitySettings::default_for(item_id),
    })
}

/// Sets an item's settings.
pub async fn put_settings(txn: &impl ConnectionTrait, settings: &QualitySettings) -> Result<(), StoreError> {
    settings.policy()?;
    if settings.inspection_seconds == 0 || settings.inspection_seconds > 366 * 86_400 {
        return Err(StoreError::invalid("inspection_seconds", "must be 1 to 31622400 (a year)"));
    }
    if item::Entity::find_by_id(settings.item.clone()).one(txn).await?.is_none() {
        return Err(StoreError::not_found("item", &settings.item));
    }
    let existing = quality_setting::Entity::find_by_id(settings.item.clone()).one(txn).await?;
    let json = serde_json::to_string(settings).expect("settings serialise");
    let secs = settings.inspection_seconds as i64;
    match existing {
        Some(row) => {
            let mut active: quality_setting::ActiveModel = row.into();
            active.policy = Set(json);
            active.inspection_seconds = Set(secs);
            active.updated_at = Set(Utc::now());
            active.update(txn).await?;
        }
        None => {
            quality_setting::ActiveModel {
                item: Set(settings.item.clone()),
                policy: Set(json),
                inspection_seconds: Set(secs),
                lots_received: Set(0),
                updated_at: Set(Utc::now()),
            }
            .insert(txn)
            .await?;
        }
    }
    Ok(())
}

/// The next lot's sequence number for skip-lot counting; counts it.
async fn next_lot(txn: &impl ConnectionTrait, item_id: &str) -> Result<(QualitySettings, u64), StoreError> {
    let settings = get_settings(txn, item_id).await?;
    let sequence = match quality_setting::Entity::find_by_id(item_id.to_owned()).one(txn).await? {
        Some(row) => {
            let n = row.lots_received + 1;
            let mut active: quality_setting::ActiveModel = row.into();
            active.lots_received = Set(n);
            active.update(txn).await?;
            n
        }
        None => {
            quality_setting::ActiveModel {
                item: Set(item_id.to_owned()),
                policy: Set(serde_json::to_string(&settings).expect("settings serialise")),
                inspection_seconds: Set(settings.inspection_seconds as i64),
                lots_received: Set(1),
                updated_at: Set(Utc::now()),
            }
            .insert(txn)
            .await?;
            1
        }
    };
    Ok((settings, sequence as u64))
}

// ---- inspection lots --------------------------------------------------------------

/// One ledger lot covered by an inspection lot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LotLine {
    /// Ledger lot ("" for none).
    pub lot: String,
    /// Quantity of it in `quality_hold`.
    #[schema(value_type = String)]
    pub quantity: Qty,
}

/// A characteristic result as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct InspectionResult {
    /// Result id.
    pub id: i64,
    /// The characteristic.
    pub characteristic: String,
    /// Lower spec limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lower_limit: Option<String>,
    /// Upper spec limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upper_limit: Option<String>,
    /// Measured value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measured: Option<String>,
    /// Pass/fail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub passed: Option<bool>,
    /// Nonconforming units found in the sample.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonconforming: Option<i64>,
    /// Whether the result is within spec.
    pub conforming: bool,
    /// Who recorded it.
    pub inspector: String,
    /// When.
    pub recorded_at: chrono::DateTime<Utc>,
}

impl InspectionResult {
    fn from_model(r: inspection_result::Model) -> InspectionResult {
        InspectionResult {
            id: r.id,
            characteristic: r.characteristic,
            lower_limit: r.lower_limit,
            upper_limit: r.upper_limit,
            measured: r.measured,
            passed: r.passed,
            nonconforming: r.nonconforming,
            conforming: r.conforming,
            inspector: r.inspector,
            recorded_at: r.recorded_at,
        }
    }
}

/// An inspection lot with its workflow step, sampling plan, results and
/// usage decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct InspectionLot {
    /// Inspection lot id.
    pub id: i64,
    /// The Temporal workflow that drives it (see Temporal's UI).
    pub workflow_id: String,
    /// `receipt` or `hold`.
    pub origin: String,
    /// The item.
    pub item: String,
    /// Where the stock is.
    pub location: String,
    /// The receipt's lot, or the lot put on hold ("" for all lots).
    pub lot: String,
    /// The ledger lots in `quality_hold`.
    pub lines: Vec<LotLine>,
    /// Total quantity.
    #[schema(value_type = String)]
    pub quantity: Qty,
    /// The purchase order of a receipt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supply_order: Option<String>,
    /// Its supplier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supplier: Option<String>,
    /// Why a hold was placed (complaint, finding).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Who started it.
    pub requested_by: String,
    /// What to inspect: method, code letter, AQL, sample size, Ac/Re.
    #[schema(value_type = Object)]
    pub sampling_plan: serde_json::Value,
    /// Inspection time before escalation, seconds.
    pub inspection_seconds: i64,
    /// `open`, `released`, `rejected`, `scrapped` or `partial`.
    pub status: String,
    /// Workflow step: `awaiting_decision`, `escalated`, `decided`, `completed`.
    pub step: String,
    /// Released to `available`.
    #[schema(value_type = String)]
    pub released: Qty,
    /// Rejected to `blocked` (returned to the supplier).
    #[schema(value_type = String)]
    pub rejected: Qty,
    /// Scrapped.
    #[schema(value_type = String)]
    pub scrapped: Qty,
    /// The inspector who decided.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    /// When.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<chrono::DateTime<Utc>>,
    /// The inspector's note.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision_note: Option<String>,
    /// Created.
    pub created_at: chrono::DateTime<Utc>,
    /// Characteristic results so far.
    pub results: Vec<InspectionResult>,
    /// `accept` or `reject` by the sampling plan, from the nonconforming
    /// units recorded (absent before any result).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<String>,
}

impl InspectionLot {
    fn from_model(m: inspection_lot::Model, results: Vec<InspectionResult>) -> InspectionLot {
        let plan: Option<SamplingPlan> = serde_json::from_str(&m.sampling_plan).ok();
        let verdict = (!results.is_empty()).then(|| {
            let nonconforming: u64 =
                results.iter().map(|r| r.nonconforming.map_or(u64::from(!r.conforming), |n| n.max(0) as u64)).sum();
            plan.as_ref().map_or("reject", |p| quality::sample_verdict(p, nonconforming)).to_owned()
        });
        InspectionLot {
            id: m.id,
            workflow_id: m.workflow_id,
            origin: m.origin,
            item: m.item,
            location: m.location,
            lot: m.lot,
            lines: serde_json::from_str(&m.lines).unwrap_or_default(),
            quantity: Qty::from_micros(m.quantity),
            supply_order: m.supply_order,
            supplier: m.supplier,
            reason: m.reason,
            requested_by: m.requested_by,
            sampling_plan: serde_json::from_str(&m.sampling_plan).unwrap_or(serde_json::Value::Null),
            inspection_seconds: m.inspection_seconds,
            status: m.status,
            step: m.step,
            released: Qty::from_micros(m.released),
            rejected: Qty::from_micros(m.rejected),
            scrapped: Qty::from_micros(m.scrapped),
            decided_by: m.decided_by,
            decided_at: m.decided_at,
            decision_note: m.decision_note,
            created_at: m.created_at,
            results,
            verdict,
        }
    }

    /// Where the lot came from.
    pub fn lot_origin(&self) -> LotOrigin {
        if self.origin == "hold" { LotOrigin::Hold } else { LotOrigin::Receipt }
    }
}

/// What a workflow needs to know about the lot it created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LotStarted {
    /// Inspection lot id.
    pub id: i64,
    /// Quantity in `quality_hold`.
    pub quantity: Qty,
    /// Skip-lot: release without waiting for an inspector.
    pub skipped: bool,
    /// Seconds to wait before escalating.
    pub inspection_seconds: u64,
}

impl LotStarted {
    fn from_model(m: &inspection_lot::Model) -> LotStarted {
        let skipped = serde_json::from_str::<SamplingPlan>(&m.sampling_plan).is_ok_and(|p| p.skipped());
        LotStarted {
            id: m.id,
            quantity: Qty::from_micros(m.quantity),
            skipped,
            inspection_seconds: m.inspection_seconds.max(1) as u64,
        }
    }
}

async fn lot_by_workflow(
    conn: &impl ConnectionTrait,
    workflow_id: &str,
) -> Result<Option<inspection_lot::Model>, StoreError> {
    Ok(inspection_lot::Entity::find().filter(inspection_lot::Column::WorkflowId.eq(workflow_id)).one(conn).await?)
}

/// The inspection lot a workflow created, if it got that far.
pub async fn find_by_workflow(
    conn: &impl ConnectionTrait,
    workflow_id: &str,
) -> Result<Option<InspectionLot>, StoreError> {
    match lot_by_workflow(conn, workflow_id).await? {
        Some(m) => Ok(Some(InspectionLot::from_model(m, Vec::new()))),
        None => Ok(None),
    }
}

// ---- receipts --------------------------------------------------------------------

/// A purchase-order receipt that goes through inspection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiptRequest {
    /// The purchase order received against.
    pub supply_order: String,
    /// Quantity received (> 0, at most the open quantity).
    #[schema(value_type = String)]
    pub quantity: Qty,
    /// Receiving location (default: the order's).
    #[serde(default)]
    pub location: Option<String>,
    /// Supplier lot or batch number.
    #[serde(default)]
    pub lot: String,
}

/// Checks a receipt before its workflow starts (nothing is written): the
/// order is open, its item requires inspection, the quantity fits and the
/// location exists. Returns the receiving location.
pub async fn check_receipt(conn: &impl ConnectionTrait, req: &ReceiptRequest) -> Result<String, StoreError> {
    let order = supply_order::Entity::find_by_id(req.supply_order.clone())
        .one(conn)
        .await?
        .ok_or_else(|| StoreError::not_found("supply order", &req.supply_order))?;
    if order.status != SupplyStatus::Open.as_str() {
        return Err(StoreError::conflict(
            "order_not_open",
            format!("supply order '{}' is {}, not open", order.id, order.status),
        ));
    }
    let item = item::Entity::find_by_id(order.item.clone())
        .one(conn)
        .await?
        .ok_or_else(|| StoreError::not_found("item", &order.item))?;
    if !item.requires_inspection {
        return Err(StoreError::conflict(
            "no_inspection",
            format!(
                "item '{}' does not require inspection; post the receipt with POST /supply-orders/{}/receipts",
                item.id, order.id
            ),
        ));
    }
    let mut problems = Problems::default();
    if !req.lot.is_empty() {
        check_id("lot", &req.lot, &mut problems);
    }
    let q = req.quantity.micros("quantity")?;
    if q <= 0 {
        problems.push("quantity", "must be greater than 0");
    }
    let location = req.location.clone().or(order.location.clone());
    match &location {
        None => problems.push("location", "is required: the order has no receiving location"),
        Some(l) if location::Entity::find_by_id(l.clone()).one(conn).await?.is_none() => {
            problems.push("location", format!("'{l}' is not a location"));
        }
        _ => {}
    }
    problems.finish()?;
    if q > order.quantity - order.received {
        return Err(StoreError::conflict(
            "over_receipt",
            format!(
                "quantity: {} exceeds the open quantity {}",
                req.quantity,
                Qty::from_micros(order.quantity - order.received)
            ),
        ));
    }
    Ok(location.unwrap_or_default())
}

/// Posts a receipt into `quality_hold` and opens its inspection lot with a
/// sampling plan, once per workflow: a repeated call returns the lot the
/// first one created.
pub async fn post_receipt(
    txn: &impl ConnectionTrait,
    actor: &str,
    workflow_id: &str,
    req: &ReceiptRequest,
) -> Result<LotStarted, StoreError> {
    if let Some(existing) = lot_by_workflow(txn, workflow_id).await? {
        return Ok(LotStarted::from_model(&existing));
    }
    let location = check_receipt(txn, req).await?;
    let order = supply::get_supply_order(txn, &req.supply_order).await?;
    let movement = supply::receive(
        txn,
        actor,
        &req.supply_order,
        &ReceiptBody { quantity: req.quantity, location: Some(location.clone()), lot: req.lot.clone() },
    )
    .await?;
    let (settings, sequence) = next_lot(txn, &order.item).await?;
    let plan = quality::plan_for_lot(&settings.policy()?, req.quantity.0, sequence).map_err(quality_error)?;
    let lines = vec![LotLine { lot: req.lot.clone(), quantity: req.quantity }];
    let now = Utc::now();
    let row = inspection_lot::ActiveModel {
        workflow_id: Set(workflow_id.to_owned()),
        origin: Set("receipt".into()),
        item: Set(order.item.clone()),
        location: Set(location),
        lot: Set(req.lot.clone()),
        lines: Set(serde_json::to_string(&lines).expect("lines serialise")),
        quantity: Set(req.quantity.micros("quantity")?),
        supply_order: Set(Some(order.id.clone())),
        supplier: Set(order.supplier.clone()),
        receipt_movement: Set(Some(movement.id)),
        reason: Set(None),
        requested_by: Set(actor.to_owned()),
        sampling_plan: Set(serde_json::to_string(&plan).expect("plan serialises")),
        inspection_seconds: Set(settings.inspection_seconds as i64),
        status: Set("open".into()),
        step: Set(step::AWAITING_DECISION.into()),
        released: Set(0),
        rejected: Set(0),
        scrapped: Set(0),
        decided_by: Set(None),
        decided_at: Set(None),
        decision_note: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    Ok(LotStarted::from_model(&row))
}

// ---- holds on existing stock --------------------------------------------------------

/// A hold on stock already in the warehouse: one lot, or every lot of an
/// item at a location.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoldRequest {
    /// The item.
    pub item: String,
    /// Where the stock is.
    pub location: String,
    /// Only this lot (default: every lot of the item at the location).
    #[serde(default)]
    pub lot: Option<String>,
    /// Why: a complaint number, an inspector's finding.
    pub reason: String,
}

async fn holdable(conn: &impl ConnectionTrait, req: &HoldRequest) -> Result<Vec<position::Model>, StoreError> {
    let mut find = position::Entity::find()
        .filter(position::Column::Item.eq(req.item.clone()))
        .filter(position::Column::Location.eq(req.location.clone()))
        .filter(position::Column::Status.eq(StockStatus::Available.as_str()))
        .filter(position::Column::Quantity.gt(0))
        .order_by_asc(position::Column::Lot);
    if let Some(lot) = &req.lot {
        find = find.filter(position::Column::Lot.eq(lot.clone()));
    }
    Ok(find.all(conn).await?)
}

/// Checks a hold before its workflow starts (nothing is written).
pub async fn check_hold(conn: &impl ConnectionTrait, req: &HoldRequest) -> Result<(), StoreError> {
    let mut problems = Problems::default();
    if item::Entity::find_by_id(req.item.clone()).one(conn).await?.is_none() {
        problems.push("item", format!("'{}' is not an item", req.item));
    }
    if location::Entity::find_by_id(req.location.clone()).one(conn).await?.is_none() {
        problems.push("location", format!("'{}' is not a location", req.location));
    }
    if req.reason.trim().is_empty() || req.reason.chars().count() > 500 {
        problems.push("reason", "must be 1 to 500 characters");
    }
    problems.finish()?;
    if holdable(conn, req).await?.is_empty() {
        return Err(StoreError::conflict(
            "nothing_to_hold",
            format!(
                "no available stock of '{}' at '{}'{}",
                req.item,
                req.location,
                req.lot.as_ref().map(|l| format!(" in lot '{l}'")).unwrap_or_default()
            ),
        ));
    }
    Ok(())
}

/// Moves the stock a hold covers from `available` to `quality_hold` and
/// opens an inspection lot for it, once per workflow.
pub async fn place_hold(
    txn: &impl ConnectionTrait,
    actor: &str,
    workflow_id: &str,
    req: &HoldRequest,
) -> Result<LotStarted, StoreError> {
    if let Some(existing) = lot_by_workflow(txn, workflow_id).await? {
        return Ok(LotStarted::from_model(&existing));
    }
    check_hold(txn, req).await?;
    let positions = holdable(txn, req).await?;
    let mut lines = Vec::new();
    let mut total = 0i64;
    for p in &positions {
        ledger::post_movement(
            txn,
            actor,
            &MovementBody {
                kind: MovementKind::Transfer,
                item: req.item.clone(),
                lot: p.lot.clone(),
                quantity: Qty::from_micros(p.quantity),
                location: req.location.clone(),
                status: Some(StockStatus::Available),
                to_location: None,
                to_status: Some(StockStatus::QualityHold),
                reason: Some(req.reason.clone()),
                reference: Some(format!("{workflow_id}:hold")),
            },
        )
        .await?;
        lines.push(LotLine { lot: p.lot.clone(), quantity: Qty::from_micros(p.quantity) });
        total += p.quantity;
    }
    let settings = get_settings(txn, &req.item).await?;
    let plan = SamplingPlan {
        method: "full".into(),
        code_letter: None,
        aql: None,
        sample_size: quality::lot_units(Qty::from_micros(total).0),
        accept: 0,
        reject: 1,
    };
    let now = Utc::now();
    let row = inspection_lot::ActiveModel {
        workflow_id: Set(workflow_id.to_owned()),
        origin: Set("hold".into()),
        item: Set(req.item.clone()),
        location: Set(req.location.clone()),
        lot: Set(req.lot.clone().unwrap_or_default()),
        lines: Set(serde_json::to_string(&lines).expect("lines serialise")),
        quantity: Set(total),
        supply_order: Set(None),
        supplier: Set(None),
        receipt_movement: Set(None),
        reason: Set(Some(req.reason.clone())),
        requested_by: Set(actor.to_owned()),
        sampling_plan: Set(serde_json::to_string(&plan).expect("plan serialises")),
        inspection_seconds: Set(settings.inspection_seconds as i64),
        status: Set("open".into()),
        step: Set(step::AWAITING_DECISION.into()),
        released: Set(0),
        rejected: Set(0),
        scrapped: Set(0),
        decided_by: Set(None),
        decided_at: Set(None),
        decision_note: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    Ok(LotStarted::from_model(&row))
}

// ---- results, decisions, escalation, notification -------------------------------------

async fn find_lot(conn: &impl ConnectionTrait, id: i64) -> Result<inspection_lot::Model, StoreError> {
    inspection_lot::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or_else(|| StoreError::not_found("inspection lot", id.to_string()))
}

fn closed(m: &inspection_lot::Model) -> StoreError {
    StoreError::conflict(
        "lot_closed",
        format!("inspection lot {} is {} (decided by {}); no further decision", m.id, m.status, {
            m.decided_by.clone().unwrap_or_else(|| "?".into())
        }),
    )
}

/// One lot with its results.
pub async fn get_lot(conn: &impl ConnectionTrait, id: i64) -> Result<InspectionLot, StoreError> {
    let m = find_lot(conn, id).await?;
    let results = inspection_result::Entity::find()
        .filter(inspection_result::Column::InspectionLotId.eq(id))
        .order_by_asc(inspection_result::Column::Id)
        .all(conn)
        .await?
        .into_iter()
        .map(InspectionResult::from_model)
        .collect();
    Ok(InspectionLot::from_model(m, results))
}

/// Filters for listing lots.
#[derive(Debug, Clone, Default, Deserialize, ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LotQuery {
    /// `receipt` or `hold`.
    pub origin: Option<String>,
    /// `open` (the inspectors' work list), `released`, `rejected`, `scrapped`, `partial`.
    pub status: Option<String>,
    /// Only this item.
    pub item: Option<String>,
}

/// Lots matching the filters, newest last (at most 1000).
pub async fn list_lots(conn: &impl ConnectionTrait, q: &LotQuery) -> Result<Vec<InspectionLot>, StoreError> {
    let mut find = inspection_lot::Entity::find().order_by_asc(inspection_lot::Column::Id).limit(1000);
    if let Some(o) = &q.origin {
        find = find.filter(inspection_lot::Column::Origin.eq(o.clone()));
    }
    if let Some(s) = &q.status {
        find = find.filter(inspection_lot::Column::Status.eq(s.clone()));
    }
    if let Some(i) = &q.item {
        find = find.filter(inspection_lot::Column::Item.eq(i.clone()));
    }
    Ok(find.all(conn).await?.into_iter().map(|m| InspectionLot::from_model(m, Vec::new())).collect())
}

/// Records characteristic results on an open lot.
pub async fn record_results(
    txn: &impl ConnectionTrait,
    inspector: &str,
    lot_id: i64,
    results: &[quality::CharacteristicResult],
) -> Result<Vec<InspectionResult>, StoreError> {
    let lot = find_lot(txn, lot_id).await?;
    if lot.status != "open" {
        return Err(closed(&lot));
    }
    if results.is_empty() {
        return Err(StoreError::invalid("", "give at least one result"));
    }
    let mut problems = Problems::default();
    let mut conforming = Vec::new();
    for (i, r) in results.iter().enumerate() {
        match quality::evaluate(r) {
            Ok(c) => conforming.push(c),
            Err(QualityError::Invalid { field, message }) => problems.push(format!("[{i}].{field}"), message),
            Err(e) => problems.push(format!("[{i}]"), e.to_string()),
        }
    }
    problems.finish()?;
    let now = Utc::now();
    let mut out = Vec::new();
    for (r, c) in results.iter().zip(conforming) {
        let row = inspection_result::ActiveModel {
            inspection_lot_id: Set(lot_id),
            characteristic: Set(r.characteristic.trim().to_owned()),
            lower_limit: Set(r.lower_limit.map(|d| d.normalize().to_string())),
            upper_limit: Set(r.upper_limit.map(|d| d.normalize().to_string())),
            measured: Set(r.measured.map(|d| d.normalize().to_string())),
            passed: Set(r.passed),
            nonconforming: Set(r.nonconforming.map(|n| n.min(i64::MAX as u64) as i64)),
            conforming: Set(c),
            inspector: Set(inspector.to_owned()),
            recorded_at: Set(now),
            ..Default::default()
        }
        .insert(txn)
        .await?;
        out.push(InspectionResult::from_model(row));
    }
    Ok(out)
}

/// A usage decision as an inspector sends it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    /// `release`, `reject` (receipts), `scrap` (holds) or `partial`.
    #[schema(value_type = String)]
    pub decision: DecisionKind,
    /// Partial: the quantity released to `available`.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub released: Option<Qty>,
    /// Partial (receipts): the quantity rejected to `blocked` and returned.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub rejected: Option<Qty>,
    /// Partial (holds): the quantity scrapped.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub scrapped: Option<Qty>,
    /// The inspector's note.
    #[serde(default)]
    pub note: Option<String>,
}

/// A checked usage decision, as a workflow receives and applies it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageDecision {
    /// The inspection lot.
    pub lot_id: i64,
    /// What was decided.
    pub decision: DecisionKind,
    /// To `available`.
    pub released: Qty,
    /// To `blocked`, returned to the supplier.
    pub rejected: Qty,
    /// Scrapped.
    pub scrapped: Qty,
    /// Who decided.
    pub inspector: String,
    /// Why.
    pub note: Option<String>,
}

/// Checks a decision on a lot (nothing is written): the lot exists and is
/// open, and the quantities add up to it.
pub async fn check_decision(
    conn: &impl ConnectionTrait,
    inspector: &str,
    lot_id: i64,
    body: &DecisionBody,
) -> Result<(InspectionLot, UsageDecision), StoreError> {
    let lot = InspectionLot::from_model(find_lot(conn, lot_id).await?, Vec::new());
    if lot.status != "open" {
        return Err(StoreError::conflict(
            "lot_closed",
            format!(
                "inspection lot {lot_id} is {} (decided by {}); no further decision",
                lot.status,
                lot.decided_by.clone().unwrap_or_else(|| "?".into())
            ),
        ));
    }
    for (field, q) in [("released", body.released), ("rejected", body.rejected), ("scrapped", body.scrapped)] {
        if let Some(q) = q {
            q.micros(field)?;
        }
    }
    if body.note.as_ref().is_some_and(|n| n.chars().count() > 500) {
        return Err(StoreError::invalid("note", "must be at most 500 characters"));
    }
    let request = DecisionRequest {
        decision: body.decision,
        released: body.released.map(|q| q.0),
        rejected: body.rejected.map(|q| q.0),
        scrapped: body.scrapped.map(|q| q.0),
    };
    let split = quality::validate_decision(lot.lot_origin(), lot.quantity.0, &request).map_err(quality_error)?;
    let decision = UsageDecision {
        lot_id,
        decision: body.decision,
        released: Qty(split.released),
        rejected: Qty(split.rejected),
        scrapped: Qty(split.scrapped),
        inspector: inspector.to_owned(),
        note: body.note.clone(),
    };
    Ok((lot, decision))
}

/// Splits `total` over the lines in order: what each line gives.
fn take(lines: &mut [(String, i64)], mut total: i64) -> Vec<(String, i64)> {
    let mut out = Vec::new();
    for (lot, left) in lines.iter_mut() {
        if total == 0 {
            break;
        }
        let q = (*left).min(total);
        if q > 0 {
            out.push((lot.clone(), q));
            *left -= q;
            total -= q;
        }
    }
    out
}

/// Posts a usage decision to the ledger and closes the lot, in `txn`:
/// released stock moves from `quality_hold` to `available`, rejected stock to
/// `blocked` with a return-to-supplier record, scrapped stock out. A lot
/// that is already closed is returned unchanged, so a retried activity
/// never posts twice.
pub async fn apply_decision(txn: &impl ConnectionTrait, decision: &UsageDecision) -> Result<InspectionLot, StoreError> {
    let lot = find_lot(txn, decision.lot_id).await?;
    if lot.status != "open" {
        return get_lot(txn, lot.id).await;
    }
    let total = decision.released.0 + decision.rejected.0 + decision.scrapped.0;
    if total != Qty::from_micros(lot.quantity).0 {
        return Err(StoreError::invalid("released", format!("the decision covers {total}, the lot {}", lot.quantity)));
    }
    let lines: Vec<LotLine> = serde_json::from_str(&lot.lines).unwrap_or_default();
    let mut left: Vec<(String, i64)> =
        lines.iter().map(|l| (l.lot.clone(), l.quantity.micros("").unwrap_or(0))).collect();
    let parts = [
        ("release", decision.released, MovementKind::Transfer, Some(StockStatus::Available)),
        ("reject", decision.rejected, MovementKind::Transfer, Some(StockStatus::Blocked)),
        ("scrap", decision.scrapped, MovementKind::Scrap, None),
    ];
    for (name, qty, kind, to_status) in parts {
        for (ledger_lot, q) in take(&mut left, qty.micros(name)?) {
            ledger::post_movement(
                txn,
                &decision.inspector,
                &MovementBody {
                    kind,
                    item: lot.item.clone(),
                    lot: ledger_lot,
                    quantity: Qty::from_micros(q),
                    location: lot.location.clone(),
                    status: Some(StockStatus::QualityHold),
                    to_location: None,
                    to_status,
                    reason: Some(format!("usage decision: {name}")),
                    reference: Some(format!("{}:{name}", lot.workflow_id)),
                },
            )
            .await?;
        }
    }
    let now = Utc::now();
    if decision.rejected.0 > Decimal::ZERO {
        supplier_return::ActiveModel {
            inspection_lot_id: Set(lot.id),
            supply_order: Set(lot.supply_order.clone()),
            supplier: Set(lot.supplier.clone()),
            item: Set(lot.item.clone()),
            lot: Set(lot.lot.clone()),
            location: Set(lot.location.clone()),
            quantity: Set(decision.rejected.micros("rejected")?),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(txn)
        .await?;
    }
    let status = match decision.decision {
        DecisionKind::Release => "released",
        DecisionKind::Reject => "rejected",
        DecisionKind::Scrap => "scrapped",
        DecisionKind::Partial => "partial",
    };
    let id = lot.id;
    let mut active: inspection_lot::ActiveModel = lot.into();
    active.status = Set(status.into());
    active.step = Set(step::DECIDED.into());
    active.released = Set(decision.released.micros("released")?);
    active.rejected = Set(decision.rejected.micros("rejected")?);
    active.scrapped = Set(decision.scrapped.micros("scrapped")?);
    active.decided_by = Set(Some(decision.inspector.clone()));
    active.decided_at = Set(Some(now));
    active.decision_note = Set(decision.note.clone());
    active.updated_at = Set(now);
    active.update(txn).await?;
    get_lot(txn, id).await
}

/// Raises the escalation alert of a lot whose inspection time ran out
/// (once per lot) and marks its step.
pub async fn escalate(txn: &impl ConnectionTrait, lot_id: i64) -> Result<(), StoreError> {
    let lot = find_lot(txn, lot_id).await?;
    let exists = quality_alert::Entity::find()
        .filter(quality_alert::Column::InspectionLotId.eq(lot_id))
        .filter(quality_alert::Column::Kind.eq("escalation"))
        .one(txn)
        .await?
        .is_some();
    if !exists {
        quality_alert::ActiveModel {
            inspection_lot_id: Set(lot_id),
            kind: Set("escalation".into()),
            message: Set(format!(
                "inspection lot {lot_id} ({} {} of '{}' at '{}') has no usage decision after {} s",
                lot.origin,
                Qty::from_micros(lot.quantity),
                lot.item,
                lot.location,
                lot.inspection_seconds
            )),
            created_at: Set(Utc::now()),
            ..Default::default()
        }
        .insert(txn)
        .await?;
    }
    if lot.status == "open" && lot.step == step::AWAITING_DECISION {
        let mut active: inspection_lot::ActiveModel = lot.into();
        active.step = Set(step::ESCALATED.into());
        active.updated_at = Set(Utc::now());
        active.update(txn).await?;
    }
    Ok(())
}

/// Records a notification for the ERP under a unique key; a second call
/// with the same key records nothing. True when it was recorded now.
pub async fn record_notification(
    txn: &impl ConnectionTrait,
    key: &str,
    kind: &str,
    reference: &str,
    payload: &serde_json::Value,
) -> Result<bool, StoreError> {
    let exists = erp_notification::Entity::find().filter(erp_notification::Column::Key.eq(key)).one(txn).await?;
    if exists.is_some() {
        return Ok(false);
    }
    erp_notification::ActiveModel {
        key: Set(key.to_owned()),
        kind: Set(kind.to_owned()),
        reference: Set(reference.to_owned()),
        payload: Set(payload.to_string()),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    Ok(true)
}

/// Tells the ERP a lot's outcome (a recorded notification, once per lot)
/// and completes the lot's workflow step.
pub async fn notify_outcome(txn: &impl ConnectionTrait, lot_id: i64) -> Result<InspectionLot, StoreError> {
    let lot = get_lot(txn, lot_id).await?;
    let payload = serde_json::json!({
        "inspection_lot": lot.id,
        "origin": lot.origin,
        "item": lot.item,
        "location": lot.location,
        "lot": lot.lot,
        "supply_order": lot.supply_order,
        "status": lot.status,
        "released": lot.released,
        "rejected": lot.rejected,
        "scrapped": lot.scrapped,
        "decided_by": lot.decided_by,
    });
    record_notification(
        txn,
        &format!("inspection_lot:{lot_id}:outcome"),
        "inspection_outcome",
        &lot.workflow_id,
        &payload,
    )
    .await?;
    if lot.step != step::COMPLETED {
        inspection_lot::Entity::update_many()
            .col_expr(inspection_lot::Column::Step, sea_orm::sea_query::Expr::value(step::COMPLETED))
            .col_expr(inspection_lot::Column::UpdatedAt, sea_orm::sea_query::Expr::value(Utc::now()))
            .filter(inspection_lot::Column::Id.eq(lot_id))
            .exec(txn)
            .await?;
    }
    get_lot(txn, lot_id).await
}

// ---- read models --------------------------------------------------------------------

/// An escalation or other alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Alert {
    /// Alert id.
    pub id: i64,
    /// The inspection lot.
    pub inspection_lot: i64,
    /// `escalation`.
    pub kind: String,
    /// What happened.
    pub message: String,
    /// When.
    pub created_at: chrono::DateTime<Utc>,
}

/// Every alert, oldest first (at most 1000).
pub async fn list_alerts(conn: &impl ConnectionTrait) -> Result<Vec<Alert>, StoreError> {
    Ok(quality_alert::Entity::find()
        .order_by_asc(quality_alert::Column::Id)
        .limit(1000)
        .all(conn)
        .await?
        .into_iter()
        .map(|a| Alert {
            id: a.id,
            inspection_lot: a.inspection_lot_id,
            kind: a.kind,
            message: a.message,
            created_at: a.created_at,
        })
        .collect())
}

/// A notification recorded for the ERP.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Notification {
    /// Notification id.
    pub id: i64,
    /// Unique key (what it is about).
    pub key: String,
    /// `inspection_outcome`, `purchase_requisition`, `work_order_release`.
    pub kind: String,
    /// The workflow or document it belongs to.
    pub reference: String,
    /// The message.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    /// When.
    pub created_at: chrono::DateTime<Utc>,
}

/// Every notification, oldest first (at most 1000).
pub async fn list_notifications(conn: &impl ConnectionTrait) -> Result<Vec<Notification>, StoreError> {
    Ok(erp_notification::Entity::find()
        .order_by_asc(erp_notification::Column::Id)
        .limit(1000)
        .all(conn)
        .await?
        .into_iter()
        .map(|n| Notification {
            id: n.id,
            key: n.key,
            kind: n.kind,
            reference: n.reference,
            payload: serde_json::from_str(&n.payload).unwrap_or(serde_json::Value::Null),
            created_at: n.created_at,
        })
        .collect())
}

/// A rejected receipt going back to its supplier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SupplierReturn {
    /// Return id.
    pub id: i64,
    /// The inspection lot.
    pub inspection_lot: i64,
    /// The purchase order.
    pub supply_order: Option<String>,
    /// The supplier.
    pub supplier: Option<String>,
    /// The item.
    pub item: String,
    /// The lot.
    pub lot: String,
    /// Where the blocked stock is.
    pub location: String,
    /// Quantity returned.
    #[schema(value_type = String)]
    pub quantity: Qty,
    /// When.
    pub created_at: chrono::DateTime<Utc>,
}

/// Every return to a supplier, oldest first (at most 1000).
pub async fn list_supplier_returns(conn: &impl ConnectionTrait) -> Result<Vec<SupplierReturn>, StoreError> {
    Ok(supplier_return::Entity::find()
        .order_by_asc(supplier_return::Column::Id)
        .limit(1000)
        .all(conn)
        .await?
        .into_iter()
        .map(|r| SupplierReturn {
            id: r.id,
            inspection_lot: r.inspection_lot_id,
            supply_order: r.supply_order,
            supplier: r.supplier,
            item: r.item,
            lot: r.lot,
            location: r.location,
            quantity: Qty::from_micros(r.quantity),
            created_at: r.created_at,
        })
        .collect())
}
