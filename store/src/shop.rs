//! The shop floor: work orders released from firmed planned make-orders,
//! operation reports from terminals, and the WIP they leave on the floor.
//!
//! Material moves only through the ledger. Releasing a work order transfers
//! its issued components from the stock location into the order's WIP area
//! (backflushed components follow when the first operation reports); good
//! units of the last operation are received into finished-goods stock, and
//! the components they (and scrapped units) used leave the WIP area. The
//! product's progress between operations is the operations' own counts, kept
//! in the same transaction as every movement, so [`reconcile_wip`] can check
//! WIP stock against what open work orders hold.
//!
//! The rules (state machine, quantity checks, material per report,
//! scheduling) are the pure [`wip`] crate's; this module loads and writes.
//! Reports are applied in batches ([`report_operations`]): the batch locks
//! its work orders in id order, applies each report to the orders' state in
//! memory (so each sees the ones before it), then writes everything with a
//! fixed number of statements. Two terminals on one operation serialise on
//! the order's lock and neither loses quantity.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Value,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::{TableRows, by_ids, insert_rows, padded_chunks, write_rows_returning};
use crate::entity::{
    bom, bom_line, item, location, planned_order, position, shop_event, work_centre, work_order,
    work_order_component as component, work_order_operation as operation,
};
use crate::error::{FieldProblem, Problems, StoreError};
use crate::ledger::{self, MovementBody};
use crate::names::WorkOrderStatus;
use crate::names::{LocationKind, MovementKind, OperationEvent, OperationStatus, PlannedStatus, Source, StockStatus};
use crate::qty::{Qty, from_micros};
use wip::mul_micros;

/// How a work order is released.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseBody {
    /// The firmed planned make-order to release.
    pub planned_order: i64,
    /// Where components are issued from (default: the only plant store).
    #[serde(default)]
    pub stock_location: Option<String>,
    /// The WIP area the order's material waits in (default: the only WIP area).
    #[serde(default)]
    pub wip_location: Option<String>,
    /// Where finished goods are received (default: `stock_location`).
    #[serde(default)]
    pub receiving_location: Option<String>,
    /// How far the first operation may report beyond the order quantity,
    /// in percent (default 0).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub over_completion_percent: Option<Qty>,
}

/// A component requirement of a work order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Component {
    /// The component item.
    pub component: String,
    /// Quantity per unit of the product, BOM scrap included.
    #[schema(value_type = String)]
    pub quantity_per: Qty,
    /// Required for the order quantity.
    #[schema(value_type = String)]
    pub required: Qty,
    /// Moved into the WIP area so far.
    #[schema(value_type = String)]
    pub issued: Qty,
    /// Used by finished or scrapped units.
    #[schema(value_type = String)]
    pub consumed: Qty,
    /// Backflushed at the first operation instead of issued at release.
    pub backflush: bool,
}

/// An operation of a work order with its progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WorkOrderOperation {
    /// Position in the routing.
    pub sequence: u32,
    /// Where it runs.
    pub work_centre: String,
    /// What is done.
    pub description: Option<String>,
    /// `pending`, `ready`, `running`, `paused` or `completed`.
    pub status: OperationStatus,
    /// Planned start (backward scheduled from the due date).
    pub planned_start: NaiveDate,
    /// Planned finish.
    pub planned_finish: NaiveDate,
    /// Quantity that has reached this operation.
    #[schema(value_type = String)]
    pub arrived: Qty,
    /// Good quantity reported (moved on to the next operation).
    #[schema(value_type = String)]
    pub good: Qty,
    /// Scrapped here.
    #[schema(value_type = String)]
    pub scrap: Qty,
    /// Sent back for rework here (still in this operation's queue).
    #[schema(value_type = String)]
    pub rework: Qty,
    /// Quantity waiting or in work here: arrived − good − scrap.
    #[schema(value_type = String)]
    pub in_work: Qty,
    /// Labour hours booked.
    #[schema(value_type = String)]
    pub labour_hours: Qty,
    /// Machine hours booked.
    #[schema(value_type = String)]
    pub machine_hours: Qty,
    /// First start.
    pub started_at: Option<DateTime<Utc>>,
    /// Completion.
    pub completed_at: Option<DateTime<Utc>>,
}

/// A work order with its components and operations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WorkOrder {
    /// Work order number.
    pub id: i64,
    /// `WO-<id>`: the reference on its ledger movements.
    pub reference: String,
    /// The planned order it was released from.
    pub planned_order: Option<i64>,
    /// The product.
    pub item: String,
    /// Quantity to make.
    #[schema(value_type = String)]
    pub quantity: Qty,
    /// Planned start (the planned order's release date).
    pub start_date: NaiveDate,
    /// Due date.
    pub due_date: NaiveDate,
    /// Components are issued from here.
    pub stock_location: String,
    /// The order's material waits here.
    pub wip_location: String,
    /// Finished goods arrive here.
    pub receiving_location: String,
    /// Over-completion tolerance of the first operation, percent.
    #[schema(value_type = String)]
    pub over_completion_percent: Qty,
    /// `released`, `in_progress`, `completed` or `closed`.
    pub status: WorkOrderStatus,
    /// Finished goods received.
    #[schema(value_type = String)]
    pub received: Qty,
    /// Scrapped at any operation.
    #[schema(value_type = String)]
    pub scrapped: Qty,
    /// What MRP still expects: quantity − received − scrapped (0 once completed).
    #[schema(value_type = String)]
    pub open_quantity: Qty,
    /// Component requirements.
    pub components: Vec<Component>,
    /// Operations in sequence.
    pub operations: Vec<WorkOrderOperation>,
}

/// `WO-<id>`.
pub fn reference(id: i64) -> String {
    format!("WO-{id}")
}

/// A report from a shop-floor terminal against one operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportBody {
    /// `start`, `pause`, `resume`, `report` (partial completion) or `complete`.
    pub event: OperationEvent,
    /// Good quantity (moves on to the next operation, or into stock after the last).
    #[serde(default)]
    #[schema(value_type = String)]
    pub good: Qty,
    /// Scrapped quantity (needs `reason`).
    #[serde(default)]
    #[schema(value_type = String)]
    pub scrap: Qty,
    /// Quantity sent back for rework at this operation.
    #[serde(default)]
    #[schema(value_type = String)]
    pub rework: Qty,
    /// Labour hours to book.
    #[serde(default)]
    #[schema(value_type = String)]
    pub labour_hours: Qty,
    /// Machine hours to book.
    #[serde(default)]
    #[schema(value_type = String)]
    pub machine_hours: Qty,
    /// Reason code: required for scrap and for a pause (downtime reason).
    #[serde(default)]
    pub reason: Option<String>,
}

/// What a report did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReportOutcome {
    /// The report's number.
    pub report: i64,
    /// The work order.
    pub work_order: i64,
    /// The operation.
    pub sequence: u32,
    /// The event reported.
    pub event: OperationEvent,
    /// The operation after the report.
    pub operation: WorkOrderOperation,
    /// The work order's status after the report.
    pub work_order_status: WorkOrderStatus,
    /// Ledger movements the report posted (backflush, consumption, scrap,
    /// finished-goods receipt).
    pub movements: Vec<i64>,
}

/// One queued report: who, which operation, what.
#[derive(Debug, Clone)]
pub struct OperationReport {
    /// Token name of the terminal or operator.
    pub actor: String,
    /// Work order number.
    pub work_order: i64,
    /// Operation sequence.
    pub sequence: u32,
    /// The report.
    pub body: ReportBody,
}

// ---------------------------------------------------------------- release

fn location_default(
    field: &str,
    given: &Option<String>,
    kind: LocationKind,
    locations: &HashMap<String, LocationKind>,
    problems: &mut Problems,
) -> String {
    if let Some(id) = given {
        match locations.get(id) {
            None => problems.push(field, format!("'{id}' is not a location")),
            Some(k) if (kind == LocationKind::WipArea) != (*k == LocationKind::WipArea) => problems.push(
                field,
                format!(
                    "'{id}' is a {k}; this must be {}",
                    if kind == LocationKind::WipArea { "a wip_area" } else { "a stocking location, not a wip_area" }
                ),
            ),
            Some(_) => {}
        }
        return id.clone();
    }
    let candidates: Vec<&String> = locations.iter().filter(|(_, k)| **k == kind).map(|(id, _)| id).collect();
    match candidates.as_slice() {
        [one] => (*one).clone(),
        [] => {
            problems.push(field, format!("is required: there is no {kind} location to default to"));
            String::new()
        }
        many => {
            let mut ids: Vec<&str> = many.iter().map(|s| s.as_str()).collect();
            ids.sort();
            problems.push(field, format!("is required: several {kind} locations ({})", ids.join(", ")));
            String::new()
        }
    }
}

/// The BOM lines of `parent` in effect on `date`: (component, quantity, scrap) in millionths.
async fn bom_at(
    conn: &impl ConnectionTrait,
    parent: &str,
    date: NaiveDate,
) -> Result<Vec<(String, i64, i64)>, StoreError> {
    let headers = bom::Entity::find()
        .filter(bom::Column::Parent.eq(parent))
        .order_by_desc(bom::Column::Version)
        .all(conn)
        .await?;
    let Some(h) =
        headers.iter().find(|h| h.valid_from.is_none_or(|f| f <= date) && h.valid_to.is_none_or(|t| date < t))
    else {
        return Ok(Vec::new());
    };
    Ok(bom_line::Entity::find()
        .filter(bom_line::Column::BomId.eq(h.id))
        .order_by_asc(bom_line::Column::LineNo)
        .all(conn)
        .await?
        .into_iter()
        .map(|l| (l.component, l.quantity, l.scrap))
        .collect())
}

/// Component quantity per unit of `parent`, phantoms exploded into their
/// own components, BOM scrap included: (component, micros per unit) in
/// BOM order, one entry per component.
async fn components_per_unit(
    conn: &impl ConnectionTrait,
    parent: &str,
    date: NaiveDate,
) -> Result<Vec<(String, i64)>, StoreError> {
    let mut out: Vec<(String, i64)> = Vec::new();
    // (item, micros per unit of the product, depth)
    let mut stack: Vec<(String, i64, usize)> = vec![(parent.to_owned(), 1_000_000, 0)];
    while let Some((it, per, depth)) = stack.pop() {
        let lines = bom_at(conn, &it, date).await?;
        let mut children = Vec::new();
        for (component, quantity, scrap) in lines {
            let per_line = mul_micros(mul_micros(per, quantity), 1_000_000 + scrap);
            let source = item::Entity::find_by_id(component.clone()).one(conn).await?.map(|m| m.source);
            if source.as_deref() == Some(Source::Phantom.as_str()) && depth < 64 {
                children.push((component, per_line, depth + 1));
            } else if let Some(e) = out.iter_mut().find(|(c, _)| *c == component) {
                e.1 += per_line;
            } else {
                out.push((component, per_line));
            }
        }
        stack.extend(children.into_iter().rev());
    }
    Ok(out)
}

/// The schedule input of an operation: its work centre's calendar and hours.
fn schedule_step(op: &crate::master::Operation, wc: Option<&work_centre::Model>) -> wip::ScheduleStep {
    const NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    wip::ScheduleStep {
        working_days: wc
            .map(|w| {
                w.working_days
                    .split(',')
                    .filter_map(|d| NAMES.iter().position(|n| *n == d.trim()))
                    .map(|d| d as u32)
                    .collect()
            })
            .unwrap_or_default(),
        hours_per_day: wc.map_or(8_000_000, |w| w.hours_per_day),
        setup_hours: op.setup_hours.micros("setup_hours").unwrap_or(0),
        run_hours_per_unit: op.run_hours_per_unit.micros("run_hours_per_unit").unwrap_or(0),
    }
}

/// Releases a firmed planned make-order as a work order: the BOM in effect
/// on its release date is copied into component requirements (phantoms
/// exploded), the routing into operations at work centres; components that
/// are not backflushed are issued into the WIP area now (refused, with
/// nothing written, when stock is short). The planned order becomes
/// `released`; it can be released once only.
pub async fn release_work_order(
    txn: &impl ConnectionTrait,
    actor: &str,
    body: &ReleaseBody,
) -> Result<WorkOrder, StoreError> {
    let plo = planned_order::Entity::find_by_id(body.planned_order)
        .one(txn)
        .await?
        .ok_or_else(|| StoreError::not_found("planned order", body.planned_order.to_string()))?;
    if let Some(wo) = work_order::Entity::find().filter(work_order::Column::PlannedOrderId.eq(plo.id)).one(txn).await? {
        return Err(StoreError::conflict(
            "already_released",
            format!("planned order {} was already released as work order {}", plo.id, reference(wo.id)),
        ));
    }
    if plo.status != PlannedStatus::Firmed.as_str() {
        return Err(StoreError::conflict(
            "not_firmed",
            format!(
                "planned order {} is {}; only firmed planned orders are released as work orders",
                plo.id, plo.status
            ),
        ));
    }
    if plo.kind != Source::Make.as_str() {
        return Err(StoreError::conflict(
            "not_a_make_order",
            format!("planned order {} is a {} order; only make orders become work orders", plo.id, plo.kind),
        ));
    }
    let mut problems = Problems::default();
    let locations: HashMap<String, LocationKind> = location::Entity::find()
        .all(txn)
        .await?
        .into_iter()
        .map(|l| (l.id, LocationKind::parse(&l.kind).unwrap_or(LocationKind::PlantStore)))
        .collect();
    let stock =
        location_default("stock_location", &body.stock_location, LocationKind::PlantStore, &locations, &mut problems);
    let wip = location_default("wip_location", &body.wip_location, LocationKind::WipArea, &locations, &mut problems);
    let receiving = match &body.receiving_location {
        Some(_) => location_default(
            "receiving_location",
            &body.receiving_location,
            LocationKind::PlantStore,
            &locations,
            &mut problems,
        ),
        None => stock.clone(),
    };
    let over = body.over_completion_percent.unwrap_or(Qty::ZERO);
    let over_micros = match over.micros("over_completion_percent") {
        Ok(m) if (0..=100_000_000).contains(&m) => m,
        Ok(_) => {
            problems.push("over_completion_percent", "must be between 0 and 100");
            0
        }
        Err(StoreError::Invalid(list)) => {
            problems.0.extend(list);
            0
        }
        Err(e) => return Err(e),
    };
    problems.finish()?;
    let routing = crate::master::routing(txn, &plo.item).await?;
    if routing.is_empty() {
        return Err(StoreError::conflict(
            "no_routing",
            format!(
                "item '{}' has no routing; define its operations (PUT /items/{}/routing) first",
                plo.item, plo.item
            ),
        ));
    }
    let centres: HashMap<String, work_centre::Model> =
        work_centre::Entity::find().all(txn).await?.into_iter().map(|w| (w.id.clone(), w)).collect();
    let per_unit = components_per_unit(txn, &plo.item, plo.release_date).await?;
    let flags: HashMap<String, bool> = item::Entity::find()
        .filter(item::Column::Id.is_in(per_unit.iter().map(|(c, _)| c.clone())))
        .all(txn)
        .await?
        .into_iter()
        .map(|m| (m.id, m.backflush))
        .collect();
    let now = Utc::now();
    let wo = work_order::ActiveModel {
        planned_order_id: Set(Some(plo.id)),
        item: Set(plo.item.clone()),
        quantity: Set(plo.quantity),
        start_date: Set(plo.release_date),
        due_date: Set(plo.due_date),
        stock_location: Set(stock.clone()),
        wip_location: Set(wip.clone()),
        receiving_location: Set(receiving),
        over_completion: Set(over_micros / 100),
        status: Set(WorkOrderStatus::Released.as_str().to_owned()),
        received: Set(0),
        scrapped: Set(0),
        released_by: Set(actor.to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    let mut rows = Vec::new();
    let mut moves = Vec::new();
    let mut picker = Picker::load(txn, per_unit.iter().map(|(c, _)| (c.clone(), stock.clone())).collect()).await?;
    for (i, (c, per)) in per_unit.iter().enumerate() {
        let required = mul_micros(*per, plo.quantity);
        let backflush = flags.get(c).copied().unwrap_or(false);
        let issued = if backflush { 0 } else { required };
        if issued > 0 {
            moves.extend(picker.transfer(c, &stock, &wip, issued, &reference(wo.id), "issue to work order"));
        }
        rows.push(component::ActiveModel {
            work_order_id: Set(wo.id),
            line_no: Set(i as i32 + 1),
            component: Set(c.clone()),
            quantity_per: Set(*per),
            required: Set(required),
            issued: Set(issued),
            consumed: Set(0),
            backflush: Set(backflush),
            ..Default::default()
        });
    }
    if !rows.is_empty() {
        component::Entity::insert_many(rows).exec(txn).await?;
    }
    let steps: Vec<wip::ScheduleStep> =
        routing.iter().map(|op| schedule_step(op, centres.get(&op.work_centre))).collect();
    let dates = wip::schedule(plo.due_date, plo.quantity, &steps);
    let ops: Vec<operation::ActiveModel> = routing
        .iter()
        .zip(dates)
        .enumerate()
        .map(|(i, (op, (start, finish)))| operation::ActiveModel {
            work_order_id: Set(wo.id),
            sequence: Set(op.sequence as i32),
            work_centre: Set(op.work_centre.clone()),
            description: Set(op.description.clone()),
            setup_hours: Set(op.setup_hours.micros("setup_hours").unwrap_or(0)),
            run_hours_per_unit: Set(op.run_hours_per_unit.micros("run_hours_per_unit").unwrap_or(0)),
            planned_start: Set(start),
            planned_finish: Set(finish),
            status: Set(if i == 0 { OperationStatus::Ready } else { OperationStatus::Pending }.as_str().to_owned()),
            arrived: Set(if i == 0 { plo.quantity } else { 0 }),
            good: Set(0),
            scrap: Set(0),
            rework: Set(0),
            labour_hours: Set(0),
            machine_hours: Set(0),
            started_at: Set(None),
            completed_at: Set(None),
            ..Default::default()
        })
        .collect();
    operation::Entity::insert_many(ops).exec(txn).await?;
    post_all(txn, actor, &moves).await?;
    let mut active: planned_order::ActiveModel = plo.into();
    active.status = Set(PlannedStatus::Released.as_str().to_owned());
    active.status_changed_at = Set(now);
    active.status_changed_by = Set(actor.to_owned());
    active.update(txn).await?;
    let view = get_work_order(txn, wo.id).await?;
    record_events(
        txn,
        &[ShopEvent::new(
            "work_order_released",
            serde_json::json!({"work_order": wo.id, "item": view.item, "quantity": view.quantity}),
        )],
    )
    .await?;
    Ok(view)
}

/// Posts movements, failing as a whole on the first refused one.
async fn post_all(txn: &impl ConnectionTrait, actor: &str, moves: &[MovementBody]) -> Result<Vec<i64>, StoreError> {
    let postings: Vec<(&str, &MovementBody)> = moves.iter().map(|m| (actor, m)).collect();
    let mut ids = Vec::new();
    for r in ledger::post_movements(txn, &postings).await? {
        ids.push(r?.id);
    }
    Ok(ids)
}

// ---------------------------------------------------------------- lots

/// Picks lots for stock leaving a location: lots in ascending order while
/// they have stock, the rest from the no-lot position (which the ledger
/// refuses to drive negative unless the item allows it). Remembers what it
/// took and put, so picks within one batch see each other.
struct Picker {
    stock: HashMap<(String, String), BTreeMap<String, i64>>,
}

impl Picker {
    async fn load(conn: &impl ConnectionTrait, pairs: BTreeSet<(String, String)>) -> Result<Picker, StoreError> {
        let mut stock: HashMap<(String, String), BTreeMap<String, i64>> = HashMap::new();
        let items: BTreeSet<&String> = pairs.iter().map(|(i, _)| i).collect();
        let locations: BTreeSet<&String> = pairs.iter().map(|(_, l)| l).collect();
        if !pairs.is_empty() {
            for chunk in padded_chunks(&items.into_iter().cloned().collect::<Vec<_>>()) {
                let rows = position::Entity::find()
                    .filter(position::Column::Item.is_in(chunk.iter().cloned()))
                    .filter(position::Column::Location.is_in(locations.iter().map(|l| (*l).clone())))
                    .filter(position::Column::Status.eq(StockStatus::Available.as_str()))
                    .all(conn)
                    .await?;
                for p in rows {
                    let key = (p.item, p.location);
                    if pairs.contains(&key) {
                        stock.entry(key).or_default().insert(p.lot, p.quantity);
                    }
                }
            }
        }
        Ok(Picker { stock })
    }

    fn take(&mut self, item: &str, location: &str, mut quantity: i64) -> Vec<(String, i64)> {
        let lots = self.stock.entry((item.to_owned(), location.to_owned())).or_default();
        let mut out = Vec::new();
        for (lot, have) in lots.iter_mut().filter(|(l, _)| !l.is_empty()) {
            if quantity == 0 {
                break;
            }
            let q = (*have).min(quantity);
            if q > 0 {
                *have -= q;
                quantity -= q;
                out.push((lot.clone(), q));
            }
        }
        if quantity > 0 {
            *lots.entry(String::new()).or_default() -= quantity;
            out.push((String::new(), quantity));
        }
        out
    }

    fn put(&mut self, item: &str, location: &str, lot: &str, quantity: i64) {
        *self.stock.entry((item.to_owned(), location.to_owned())).or_default().entry(lot.to_owned()).or_default() +=
            quantity;
    }

    /// Transfers from one location's available stock to another's, lot by lot.
    fn transfer(
        &mut self,
        item: &str,
        from: &str,
        to: &str,
        quantity: i64,
        reference: &str,
        why: &str,
    ) -> Vec<MovementBody> {
        self.take(item, from, quantity)
            .into_iter()
            .map(|(lot, q)| {
                self.put(item, to, &lot, q);
                MovementBody {
                    kind: MovementKind::Transfer,
                    item: item.to_owned(),
                    lot,
                    quantity: Qty::from_micros(q),
                    location: from.to_owned(),
                    status: Some(StockStatus::Available),
                    to_location: Some(to.to_owned()),
                    to_status: Some(StockStatus::Available),
                    reason: Some(why.to_owned()),
                    reference: Some(reference.to_owned()),
                }
            })
            .collect()
    }

    /// Takes stock out of a location: `issue` (consumed) or `scrap`.
    fn remove(
        &mut self,
        kind: MovementKind,
        item: &str,
        location: &str,
        quantity: i64,
        reference: &str,
        why: &str,
    ) -> Vec<MovementBody> {
        self.take(item, location, quantity)
            .into_iter()
            .map(|(lot, q)| MovementBody {
                kind,
                item: item.to_owned(),
                lot,
                quantity: Qty::from_micros(q),
                location: location.to_owned(),
                status: Some(StockStatus::Available),
                to_location: None,
                to_status: None,
                reason: Some(why.to_owned()),
                reference: Some(reference.to_owned()),
            })
            .collect()
    }
}

// ---------------------------------------------------------------- events

/// An event for the shop feed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ShopEvent {
    /// Feed position (0 until stored).
    pub id: i64,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// `work_order_released`, `operation_reported`, `work_order_completed`,
    /// `work_order_closed`, `transfer_shipped`, `transfer_received`.
    pub kind: String,
    /// What happened.
    pub data: serde_json::Value,
}

impl ShopEvent {
    /// A new event now.
    pub fn new(kind: &str, data: serde_json::Value) -> ShopEvent {
        ShopEvent { id: 0, at: Utc::now(), kind: kind.to_owned(), data }
    }

    fn from_model(m: shop_event::Model) -> ShopEvent {
        ShopEvent { id: m.id, at: m.at, kind: m.kind, data: serde_json::from_str(&m.payload).unwrap_or_default() }
    }
}

/// Appends events to the feed (in the caller's transaction).
pub async fn record_events(txn: &impl ConnectionTrait, events: &[ShopEvent]) -> Result<(), StoreError> {
    let rows = event_rows(events);
    insert_rows(txn, "shop_events", &EVENT_COLUMNS, &rows, false).await?;
    Ok(())
}

/// The columns of a `shop_events` row.
const EVENT_COLUMNS: [(&str, crate::db::SqlType); 3] =
    [("at", crate::db::SqlType::Timestamp), ("kind", crate::db::SqlType::Text), ("payload", crate::db::SqlType::Text)];

fn event_rows(events: &[ShopEvent]) -> Vec<Vec<Value>> {
    events.iter().map(|e| vec![e.at.into(), e.kind.clone().into(), e.data.to_string().into()]).collect()
}

/// Events after `after`, oldest first, at most `limit`.
pub async fn events_after(conn: &impl ConnectionTrait, after: i64, limit: u64) -> Result<Vec<ShopEvent>, StoreError> {
    Ok(shop_event::Entity::find()
        .filter(shop_event::Column::Id.gt(after))
        .order_by_asc(shop_event::Column::Id)
        .limit(limit)
        .all(conn)
        .await?
        .into_iter()
        .map(ShopEvent::from_model)
        .collect())
}

/// The newest event's id (0 when there is none).
pub async fn last_event_id(conn: &impl ConnectionTrait) -> Result<i64, StoreError> {
    Ok(shop_event::Entity::find().order_by_desc(shop_event::Column::Id).one(conn).await?.map_or(0, |e| e.id))
}

/// Events with these ids (a feed fills gaps left by transactions that
/// committed out of id order).
pub async fn events_with_ids(conn: &impl ConnectionTrait, ids: &[i64]) -> Result<Vec<ShopEvent>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(shop_event::Entity::find()
        .filter(shop_event::Column::Id.is_in(ids.iter().copied()))
        .order_by_asc(shop_event::Column::Id)
        .all(conn)
        .await?
        .into_iter()
        .map(ShopEvent::from_model)
        .collect())
}

// ---------------------------------------------------------------- views

fn operation_view(o: &operation::Model) -> WorkOrderOperation {
    WorkOrderOperation {
        sequence: o.sequence.max(0) as u32,
        work_centre: o.work_centre.clone(),
        description: o.description.clone(),
        status: OperationStatus::parse(&o.status).unwrap_or(OperationStatus::Pending),
        planned_start: o.planned_start,
        planned_finish: o.planned_finish,
        arrived: Qty::from_micros(o.arrived),
        good: Qty::from_micros(o.good),
        scrap: Qty::from_micros(o.scrap),
        rework: Qty::from_micros(o.rework),
        in_work: Qty::from_micros(o.arrived - o.good - o.scrap),
        labour_hours: Qty::from_micros(o.labour_hours),
        machine_hours: Qty::from_micros(o.machine_hours),
        started_at: o.started_at,
        completed_at: o.completed_at,
    }
}

fn open_quantity(wo: &work_order::Model) -> i64 {
    let open =
        matches!(WorkOrderStatus::parse(&wo.status), Some(WorkOrderStatus::Released | WorkOrderStatus::InProgress));
    if open { (wo.quantity - wo.received - wo.scrapped).max(0) } else { 0 }
}

fn work_order_view(wo: &work_order::Model, comps: &[component::Model], ops: &[operation::Model]) -> WorkOrder {
    WorkOrder {
        id: wo.id,
        reference: reference(wo.id),
        planned_order: wo.planned_order_id,
        item: wo.item.clone(),
        quantity: Qty::from_micros(wo.quantity),
        start_date: wo.start_date,
        due_date: wo.due_date,
        stock_location: wo.stock_location.clone(),
        wip_location: wo.wip_location.clone(),
        receiving_location: wo.receiving_location.clone(),
        over_completion_percent: Qty::from_micros(wo.over_completion * 100),
        status: WorkOrderStatus::parse(&wo.status).unwrap_or(WorkOrderStatus::Released),
        received: Qty::from_micros(wo.received),
        scrapped: Qty::from_micros(wo.scrapped),
        open_quantity: Qty::from_micros(open_quantity(wo)),
        components: comps
            .iter()
            .map(|c| Component {
                component: c.component.clone(),
                quantity_per: Qty::from_micros(c.quantity_per),
                required: Qty::from_micros(c.required),
                issued: Qty::from_micros(c.issued),
                consumed: Qty::from_micros(c.consumed),
                backflush: c.backflush,
            })
            .collect(),
        operations: ops.iter().map(operation_view).collect(),
    }
}

/// One work order with its components and operations.
pub async fn get_work_order(conn: &impl ConnectionTrait, id: i64) -> Result<WorkOrder, StoreError> {
    let wo = work_order::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or_else(|| StoreError::not_found("work order", id.to_string()))?;
    let (mut comps, mut ops) = children(conn, &[id]).await?;
    Ok(work_order_view(&wo, &comps.remove(&id).unwrap_or_default(), &ops.remove(&id).unwrap_or_default()))
}

/// Filters for the work-order list.
#[derive(Debug, Clone, Default, Deserialize, ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WorkOrderQuery {
    /// Only this status.
    pub status: Option<WorkOrderStatus>,
    /// Only this product.
    pub item: Option<String>,
    /// At most this many (default 100, at most 1000).
    pub limit: Option<u64>,
    /// Work orders after this number.
    pub after: Option<i64>,
}

/// Work orders in number order, with components and operations.
pub async fn list_work_orders(conn: &impl ConnectionTrait, q: &WorkOrderQuery) -> Result<Vec<WorkOrder>, StoreError> {
    let limit = match q.limit {
        None => 100,
        Some(l) if (1..=1000).contains(&l) => l,
        Some(_) => return Err(StoreError::invalid("limit", "must be between 1 and 1000")),
    };
    let mut find = work_order::Entity::find().order_by_asc(work_order::Column::Id).limit(limit);
    if let Some(s) = q.status {
        find = find.filter(work_order::Column::Status.eq(s.as_str()));
    }
    if let Some(i) = &q.item {
        find = find.filter(work_order::Column::Item.eq(i.clone()));
    }
    if let Some(a) = q.after {
        find = find.filter(work_order::Column::Id.gt(a));
    }
    let orders = find.all(conn).await?;
    let ids: Vec<i64> = orders.iter().map(|w| w.id).collect();
    let (comps, ops) = children(conn, &ids).await?;
    Ok(orders
        .iter()
        .map(|w| {
            work_order_view(
                w,
                comps.get(&w.id).map(Vec::as_slice).unwrap_or_default(),
                ops.get(&w.id).map(Vec::as_slice).unwrap_or_default(),
            )
        })
        .collect())
}

type Children = (HashMap<i64, Vec<component::Model>>, HashMap<i64, Vec<operation::Model>>);

/// Work orders by id, locked in id order on PostgreSQL (no deadlock between
/// concurrent batches), read by column position like [`children`].
async fn lock_work_orders(txn: &impl ConnectionTrait, ids: &[i64]) -> Result<Vec<work_order::Model>, StoreError> {
    const SELECT: &str = "SELECT id, planned_order_id, item, quantity, start_date, due_date, stock_location, \
        wip_location, receiving_location, over_completion, status, received, scrapped, released_by, created_at, \
        updated_at FROM work_orders WHERE id {ids} ORDER BY id";
    let backend = txn.get_database_backend();
    let lock = if backend == DbBackend::Postgres { " FOR UPDATE" } else { "" };
    let mut orders = Vec::with_capacity(ids.len());
    for statement in by_ids(backend, &format!("{SELECT}{lock}"), ids) {
        for row in txn.query_all_raw(statement).await? {
            orders.push(work_order::Model {
                id: row.try_get_by_index(0)?,
                planned_order_id: row.try_get_by_index(1)?,
                item: row.try_get_by_index(2)?,
                quantity: row.try_get_by_index(3)?,
                start_date: row.try_get_by_index(4)?,
                due_date: row.try_get_by_index(5)?,
                stock_location: row.try_get_by_index(6)?,
                wip_location: row.try_get_by_index(7)?,
                receiving_location: row.try_get_by_index(8)?,
                over_completion: row.try_get_by_index(9)?,
                status: row.try_get_by_index(10)?,
                received: row.try_get_by_index(11)?,
                scrapped: row.try_get_by_index(12)?,
                released_by: row.try_get_by_index(13)?,
                created_at: row.try_get_by_index(14)?,
                updated_at: row.try_get_by_index(15)?,
            });
        }
    }
    Ok(orders)
}

/// The components and operations of work orders, in line and sequence
/// order: one statement for both (a round trip less on every report batch),
/// read by column position (sea-orm's by-name model loading was a sixth of
/// the server's CPU under report load). Components come back in the
/// operations' columns: line_no as sequence, component as work_centre, and
/// quantity_per, required, issued, consumed as setup_hours,
/// run_hours_per_unit, arrived, good.
async fn children(conn: &impl ConnectionTrait, ids: &[i64]) -> Result<Children, StoreError> {
    const SELECT: &str = "SELECT 0 AS kind, id, work_order_id, sequence, work_centre, description, setup_hours, \
        run_hours_per_unit, arrived, good, planned_start, planned_finish, status, scrap, rework, labour_hours, \
        machine_hours, started_at, completed_at, NULL AS backflush FROM work_order_operations \
        WHERE work_order_id {ids} UNION ALL \
        SELECT 1, id, work_order_id, line_no, component, NULL, quantity_per, required, issued, consumed, \
        NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, backflush FROM work_order_components \
        WHERE work_order_id {ids} ORDER BY 1, 4";
    let mut comps: HashMap<i64, Vec<component::Model>> = HashMap::new();
    let mut ops: HashMap<i64, Vec<operation::Model>> = HashMap::new();
    for statement in by_ids(conn.get_database_backend(), SELECT, ids) {
        for row in conn.query_all_raw(statement).await? {
            let (id, work_order_id): (i64, i64) = (row.try_get_by_index(1)?, row.try_get_by_index(2)?);
            if row.try_get_by_index::<i32>(0)? == 0 {
                ops.entry(work_order_id).or_default().push(operation::Model {
                    id,
                    work_order_id,
                    sequence: row.try_get_by_index(3)?,
                    work_centre: row.try_get_by_index(4)?,
                    description: row.try_get_by_index(5)?,
                    setup_hours: row.try_get_by_index(6)?,
                    run_hours_per_unit: row.try_get_by_index(7)?,
                    arrived: row.try_get_by_index(8)?,
                    good: row.try_get_by_index(9)?,
                    planned_start: row.try_get_by_index(10)?,
                    planned_finish: row.try_get_by_index(11)?,
                    status: row.try_get_by_index(12)?,
                    scrap: row.try_get_by_index(13)?,
                    rework: row.try_get_by_index(14)?,
                    labour_hours: row.try_get_by_index(15)?,
                    machine_hours: row.try_get_by_index(16)?,
                    started_at: row.try_get_by_index(17)?,
                    completed_at: row.try_get_by_index(18)?,
                });
            } else {
                comps.entry(work_order_id).or_default().push(component::Model {
                    id,
                    work_order_id,
                    line_no: row.try_get_by_index(3)?,
                    component: row.try_get_by_index(4)?,
                    quantity_per: row.try_get_by_index(6)?,
                    required: row.try_get_by_index(7)?,
                    issued: row.try_get_by_index(8)?,
                    consumed: row.try_get_by_index(9)?,
                    backflush: row.try_get_by_index(19)?,
                });
            }
        }
    }
    Ok((comps, ops))
}

// ---------------------------------------------------------------- reports

/// A stored report: what a terminal said, who and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReportRecord {
    /// Report number.
    pub id: i64,
    /// Operation sequence.
    pub sequence: u32,
    /// The event.
    pub event: OperationEvent,
    /// Good quantity.
    #[schema(value_type = String)]
    pub good: Qty,
    /// Scrapped quantity.
    #[schema(value_type = String)]
    pub scrap: Qty,
    /// Rework quantity.
    #[schema(value_type = String)]
    pub rework: Qty,
    /// Labour hours.
    #[schema(value_type = String)]
    pub labour_hours: Qty,
    /// Machine hours.
    #[schema(value_type = String)]
    pub machine_hours: Qty,
    /// Scrap or downtime reason.
    pub reason: Option<String>,
    /// Token name of the terminal or operator.
    pub actor: String,
    /// When it was recorded.
    pub at: DateTime<Utc>,
}

/// A work order's reports in the order they were recorded.
pub async fn list_reports(conn: &impl ConnectionTrait, work_order: i64) -> Result<Vec<ReportRecord>, StoreError> {
    use crate::entity::operation_report;
    work_order::Entity::find_by_id(work_order)
        .one(conn)
        .await?
        .ok_or_else(|| StoreError::not_found("work order", work_order.to_string()))?;
    Ok(operation_report::Entity::find()
        .filter(operation_report::Column::WorkOrderId.eq(work_order))
        .order_by_asc(operation_report::Column::Id)
        .all(conn)
        .await?
        .into_iter()
        .map(|r| ReportRecord {
            id: r.id,
            sequence: r.sequence.max(0) as u32,
            event: OperationEvent::parse(&r.event).unwrap_or(OperationEvent::Report),
            good: Qty::from_micros(r.good),
            scrap: Qty::from_micros(r.scrap),
            rework: Qty::from_micros(r.rework),
            labour_hours: Qty::from_micros(r.labour_hours),
            machine_hours: Qty::from_micros(r.machine_hours),
            reason: r.reason,
            actor: r.actor,
            at: r.at,
        })
        .collect())
}

/// A work order loaded for a batch of reports: its rows, and the state the
/// rules in [`wip`] work on.
struct Loaded {
    wo: work_order::Model,
    comps: Vec<component::Model>,
    ops: Vec<operation::Model>,
    state: wip::OrderState,
    /// The rows as loaded, to write only what changed.
    original: (work_order::Model, Vec<component::Model>, Vec<operation::Model>),
}

impl Loaded {
    fn new(wo: work_order::Model, comps: Vec<component::Model>, ops: Vec<operation::Model>) -> Loaded {
        let state = wip::OrderState {
            reference: reference(wo.id),
            over_completion: wo.over_completion,
            status: WorkOrderStatus::parse(&wo.status).unwrap_or(WorkOrderStatus::Released),
            received: wo.received,
            scrapped: wo.scrapped,
            components: comps
                .iter()
                .map(|c| wip::ComponentState {
                    component: c.component.clone(),
                    quantity_per: c.quantity_per,
                    issued: c.issued,
                    consumed: c.consumed,
                    backflush: c.backflush,
                })
                .collect(),
            operations: ops
                .iter()
                .map(|o| wip::OperationState {
                    sequence: o.sequence.max(0) as u32,
                    status: OperationStatus::parse(&o.status).unwrap_or(OperationStatus::Pending),
                    arrived: o.arrived,
                    good: o.good,
                    scrap: o.scrap,
                    rework: o.rework,
                    labour_hours: o.labour_hours,
                    machine_hours: o.machine_hours,
                })
                .collect(),
        };
        let original = (wo.clone(), comps.clone(), ops.clone());
        Loaded { wo, comps, ops, state, original }
    }

    /// Copies the rules' state back into the rows.
    fn sync(&mut self, applied: &wip::Applied, now: DateTime<Utc>) {
        let s = &self.state;
        if (self.wo.status.as_str(), self.wo.received, self.wo.scrapped) != (s.status.as_str(), s.received, s.scrapped)
        {
            self.wo.status = s.status.as_str().to_owned();
            self.wo.received = s.received;
            self.wo.scrapped = s.scrapped;
            self.wo.updated_at = now;
        }
        for (row, c) in self.comps.iter_mut().zip(&s.components) {
            (row.issued, row.consumed) = (c.issued, c.consumed);
        }
        for (row, o) in self.ops.iter_mut().zip(&s.operations) {
            row.status = o.status.as_str().to_owned();
            (row.arrived, row.good, row.scrap, row.rework) = (o.arrived, o.good, o.scrap, o.rework);
            (row.labour_hours, row.machine_hours) = (o.labour_hours, o.machine_hours);
        }
        let row = &mut self.ops[applied.operation];
        if applied.started && row.started_at.is_none() {
            row.started_at = Some(now);
        }
        if applied.completed {
            row.completed_at = Some(now);
        }
    }
}

/// The columns of an `operation_reports` row as [`accept`] builds it.
const REPORT_COLUMNS: [(&str, crate::db::SqlType); 11] = {
    use crate::db::SqlType::{BigInt, Int, Text, Timestamp};
    [
        ("work_order_id", BigInt),
        ("sequence", Int),
        ("event", Text),
        ("good", BigInt),
        ("scrap", BigInt),
        ("rework", BigInt),
        ("labour_hours", BigInt),
        ("machine_hours", BigInt),
        ("reason", Text),
        ("actor", Text),
        ("at", Timestamp),
    ]
};

/// What one accepted report writes, collected before anything is written.
struct Accepted {
    moves: Vec<MovementBody>,
    /// The `operation_reports` row, in [`REPORT_COLUMNS`] order.
    report: Vec<Value>,
    events: Vec<ShopEvent>,
    operation: WorkOrderOperation,
    work_order_status: WorkOrderStatus,
}

/// The report's quantities in millionths, or the fields that are not exact.
fn report_micros(b: &ReportBody) -> Result<wip::Report, StoreError> {
    let mut problems = Problems::default();
    let mut micros = |q: Qty, field: &str| match q.micros(field) {
        Ok(m) => m,
        Err(StoreError::Invalid(list)) => {
            problems.0.extend(list);
            0
        }
        Err(_) => 0,
    };
    let report = wip::Report {
        event: Some(b.event),
        good: micros(b.good, "good"),
        scrap: micros(b.scrap, "scrap"),
        rework: micros(b.rework, "rework"),
        labour_hours: micros(b.labour_hours, "labour_hours"),
        machine_hours: micros(b.machine_hours, "machine_hours"),
        reason: b.reason.as_deref().map(str::trim).filter(|r| !r.is_empty()).map(str::to_owned),
    };
    problems.finish()?;
    Ok(report)
}

fn refusal(r: wip::Refusal, order: &str) -> StoreError {
    match r {
        wip::Refusal::Invalid(list) => StoreError::Invalid(
            list.into_iter().map(|(field, message)| FieldProblem { field: field.into(), message }).collect(),
        ),
        wip::Refusal::Conflict { code, message } => StoreError::conflict(code, message),
        wip::Refusal::NoSuchOperation(seq) => StoreError::not_found("operation", format!("{order}/{seq}")),
    }
}

/// Applies one report to a loaded order (through [`wip::apply`]) and turns
/// its material into movements; on error the order is as before.
fn accept(
    order: &mut Loaded,
    picker: &mut Picker,
    r: &OperationReport,
    now: DateTime<Utc>,
) -> Result<Accepted, StoreError> {
    let report = report_micros(&r.body)?;
    let applied = wip::apply(&mut order.state, r.sequence, &report).map_err(|e| refusal(e, &reference(order.wo.id)))?;
    order.sync(&applied, now);
    let wo = &order.wo;
    let wo_ref = reference(wo.id);
    let reason = report.reason.clone().unwrap_or_default();
    let mut moves = Vec::new();
    for effect in &applied.effects {
        match effect {
            wip::Effect::Issue { component, quantity, why } => {
                moves.extend(picker.transfer(component, &wo.stock_location, &wo.wip_location, *quantity, &wo_ref, why))
            }
            wip::Effect::Consume { component, quantity } => moves.extend(picker.remove(
                MovementKind::Issue,
                component,
                &wo.wip_location,
                *quantity,
                &wo_ref,
                "consumed by finished goods",
            )),
            wip::Effect::Scrap { component, quantity } => moves.extend(picker.remove(
                MovementKind::Scrap,
                component,
                &wo.wip_location,
                *quantity,
                &wo_ref,
                &format!("scrap at operation {}: {reason}", r.sequence),
            )),
            wip::Effect::Receive { quantity } => moves.push(MovementBody {
                kind: MovementKind::ProductionReceipt,
                item: wo.item.clone(),
                lot: String::new(),
                quantity: Qty::from_micros(*quantity),
                location: wo.receiving_location.clone(),
                status: None,
                to_location: None,
                to_status: None,
                reason: None,
                reference: Some(wo_ref.clone()),
            }),
        }
    }
    let operation = operation_view(&order.ops[applied.operation]);
    let mut events = vec![ShopEvent::new(
        "operation_reported",
        serde_json::json!({"work_order": wo.id, "sequence": r.sequence, "event": r.body.event,
            "work_centre": operation.work_centre, "status": operation.status, "good": r.body.good,
            "scrap": r.body.scrap, "rework": r.body.rework, "reason": report.reason, "actor": r.actor}),
    )];
    if applied.order_completed {
        events.push(ShopEvent::new(
            "work_order_completed",
            serde_json::json!({"work_order": wo.id, "item": wo.item,
                "received": Qty::from_micros(wo.received), "scrapped": Qty::from_micros(wo.scrapped)}),
        ));
    }
    let report = vec![
        wo.id.into(),
        (r.sequence as i32).into(),
        r.body.event.as_str().into(),
        report.good.into(),
        report.scrap.into(),
        report.rework.into(),
        report.labour_hours.into(),
        report.machine_hours.into(),
        report.reason.into(),
        r.actor.clone().into(),
        now.into(),
    ];
    Ok(Accepted { moves, report, events, operation, work_order_status: order.state.status })
}

/// Applies reports in order in one transaction; each gets its own result.
/// A report that is invalid for the state the reports before it left gets
/// its error and changes nothing. The stock changes of the reports'
/// movements come back unapplied: the caller applies them as the
/// transaction's last statement (after its audit records), because the
/// positions of backflushed components and finished goods are shared by
/// every terminal and stay locked from that statement until the commit.
/// When a posting is refused by the ledger (stock short), applying them
/// fails with that error, so the caller can retry the reports one at a time.
pub async fn report_operations(
    txn: &impl ConnectionTrait,
    reports: &[OperationReport],
) -> Result<(Vec<Result<ReportOutcome, StoreError>>, ledger::StockChanges), StoreError> {
    let now = Utc::now();
    let ids: BTreeSet<i64> = reports.iter().map(|r| r.work_order).collect();
    let ids: Vec<i64> = ids.into_iter().collect();
    let rows = lock_work_orders(txn, &ids).await?;
    let found: Vec<i64> = rows.iter().map(|w| w.id).collect();
    let (mut comps, mut ops) = children(txn, &found).await?;
    let mut pairs = BTreeSet::new();
    let mut orders: BTreeMap<i64, Loaded> = BTreeMap::new();
    for wo in rows {
        let (c, o) = (comps.remove(&wo.id).unwrap_or_default(), ops.remove(&wo.id).unwrap_or_default());
        for c in &c {
            pairs.insert((c.component.clone(), wo.stock_location.clone()));
            pairs.insert((c.component.clone(), wo.wip_location.clone()));
        }
        orders.insert(wo.id, Loaded::new(wo, c, o));
    }
    let mut picker = Picker::load(txn, pairs).await?;
    let results: Vec<Result<Accepted, StoreError>> = reports
        .iter()
        .map(|r| match orders.get_mut(&r.work_order) {
            None => Err(StoreError::not_found("work order", r.work_order.to_string())),
            Some(order) => accept(order, &mut picker, r, now),
        })
        .collect();
    // Postings, all or nothing.
    let mut postings: Vec<(&str, &MovementBody)> = Vec::new();
    let mut owner = Vec::new();
    for (i, (r, a)) in reports.iter().zip(&results).enumerate() {
        if let Ok(a) = a {
            for m in &a.moves {
                postings.push((r.actor.as_str(), m));
                owner.push(i);
            }
        }
    }
    let pending = ledger::check_movements(txn, &postings).await?;
    // Write the changed orders.
    // Only rows that changed: most reports touch one or two operations.
    use crate::db::SqlType::{BigInt, Text, Timestamp};
    let wos: Vec<Vec<Value>> = orders
        .values()
        .filter(|s| s.wo != s.original.0)
        .map(|s| {
            let w = &s.wo;
            vec![w.id.into(), w.status.clone().into(), w.received.into(), w.scrapped.into(), w.updated_at.into()]
        })
        .collect();
    let wo_columns = [("status", Text), ("received", BigInt), ("scrapped", BigInt), ("updated_at", Timestamp)];
    let op_rows: Vec<Vec<Value>> = orders
        .values()
        .flat_map(|s| s.ops.iter().zip(&s.original.2).filter(|(o, was)| o != was))
        .map(|(o, _)| {
            vec![
                o.id.into(),
                o.status.clone().into(),
                o.arrived.into(),
                o.good.into(),
                o.scrap.into(),
                o.rework.into(),
                o.labour_hours.into(),
                o.machine_hours.into(),
                o.started_at.into(),
                o.completed_at.into(),
            ]
        })
        .collect();
    let op_columns = [
        ("status", Text),
        ("arrived", BigInt),
        ("good", BigInt),
        ("scrap", BigInt),
        ("rework", BigInt),
        ("labour_hours", BigInt),
        ("machine_hours", BigInt),
        ("started_at", Timestamp),
        ("completed_at", Timestamp),
    ];
    let comp_rows: Vec<Vec<Value>> = orders
        .values()
        .flat_map(|s| s.comps.iter().zip(&s.original.1).filter(|(c, was)| c != was))
        .map(|(c, _)| vec![c.id.into(), c.issued.into(), c.consumed.into()])
        .collect();
    let comp_columns = [("issued", BigInt), ("consumed", BigInt)];
    // Reports and ledger movements (learning their ids, ascending within the
    // batch), their events and the changed rows: one statement on PostgreSQL.
    let report_rows: Vec<Vec<Value>> =
        results.iter().filter_map(|a| a.as_ref().ok().map(|a| a.report.clone())).collect();
    let events: Vec<ShopEvent> =
        results.iter().filter_map(|a| a.as_ref().ok()).flat_map(|a| a.events.iter().cloned()).collect();
    let event_rows = event_rows(&events);
    let ids = write_rows_returning(
        txn,
        &[
            TableRows { table: "work_orders", columns: &wo_columns, rows: &wos },
            TableRows { table: "work_order_operations", columns: &op_columns, rows: &op_rows },
            TableRows { table: "work_order_components", columns: &comp_columns, rows: &comp_rows },
        ],
        &[
            TableRows { table: "operation_reports", columns: &REPORT_COLUMNS, rows: &report_rows },
            pending.table(),
            TableRows { table: "shop_events", columns: &EVENT_COLUMNS, rows: &event_rows },
        ],
        2,
    )
    .await?;
    let mut ids = ids.into_iter();
    let (report_ids, new_movement_ids) = (ids.next().unwrap_or_default(), ids.next().unwrap_or_default());
    let (recorded, stock_changes) = pending.recorded(&postings, new_movement_ids);
    let mut movement_ids: Vec<Vec<i64>> = vec![Vec::new(); reports.len()];
    for (result, i) in recorded.into_iter().zip(owner) {
        movement_ids[i].push(result?.id);
    }
    let mut report_ids = report_ids.into_iter();
    let outcomes = results
        .into_iter()
        .zip(reports)
        .zip(movement_ids)
        .map(|((a, r), movements)| {
            let a = a?;
            Ok(ReportOutcome {
                report: report_ids.next().unwrap_or_default(),
                work_order: r.work_order,
                sequence: r.sequence,
                event: r.body.event,
                operation: a.operation,
                work_order_status: a.work_order_status,
                movements,
            })
        })
        .collect();
    Ok((outcomes, stock_changes))
}

/// Closes a work order: unconsumed material in its WIP area goes back to
/// the stock location, and MRP no longer expects its open quantity. Refused
/// while an operation is running.
pub async fn close_work_order(txn: &impl ConnectionTrait, actor: &str, id: i64) -> Result<WorkOrder, StoreError> {
    let wo =
        lock_work_orders(txn, &[id]).await?.pop().ok_or_else(|| StoreError::not_found("work order", id.to_string()))?;
    if wo.status == WorkOrderStatus::Closed.as_str() {
        return Err(StoreError::conflict(
            "work_order_closed",
            format!("work order {} is already closed", reference(id)),
        ));
    }
    let (mut comps, ops) = children(txn, &[id]).await?;
    let comps = comps.remove(&id).unwrap_or_default();
    if let Some(op) = ops.get(&id).into_iter().flatten().find(|o| o.status == OperationStatus::Running.as_str()) {
        return Err(StoreError::conflict(
            "operation_running",
            format!("operation {} of {} is running; pause or complete it before closing", op.sequence, reference(id)),
        ));
    }
    let pairs = comps.iter().map(|c| (c.component.clone(), wo.wip_location.clone())).collect();
    let mut picker = Picker::load(txn, pairs).await?;
    let mut moves = Vec::new();
    for c in &comps {
        let left = c.issued - c.consumed;
        if left > 0 {
            moves.extend(picker.transfer(
                &c.component,
                &wo.wip_location,
                &wo.stock_location,
                left,
                &reference(id),
                "returned from closed work order",
            ));
            let mut a: component::ActiveModel = c.clone().into();
            a.issued = Set(c.consumed);
            a.update(txn).await?;
        }
    }
    post_all(txn, actor, &moves).await?;
    let mut a: work_order::ActiveModel = wo.clone().into();
    a.status = Set(WorkOrderStatus::Closed.as_str().to_owned());
    a.updated_at = Set(Utc::now());
    a.update(txn).await?;
    record_events(txn, &[ShopEvent::new("work_order_closed", serde_json::json!({"work_order": id, "item": wo.item}))])
        .await?;
    get_work_order(txn, id).await
}

// ---------------------------------------------------------------- WIP

/// An operation in the WIP view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WipOperation {
    /// Work order number.
    pub work_order: i64,
    /// Operation sequence.
    pub sequence: u32,
    /// The product.
    pub item: String,
    /// Operation status.
    pub status: OperationStatus,
    /// Quantity waiting or in work here.
    #[schema(value_type = String)]
    pub in_work: Qty,
    /// Planned finish.
    pub planned_finish: NaiveDate,
}

/// WIP at one work centre.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WorkCentreWip {
    /// The work centre.
    pub work_centre: String,
    /// Quantity waiting (ready or paused operations).
    #[schema(value_type = String)]
    pub queue_quantity: Qty,
    /// Quantity at running operations.
    #[schema(value_type = String)]
    pub running_quantity: Qty,
    /// Material value of all of it (product units × their components' standard cost).
    #[schema(value_type = String)]
    pub wip_value: Qty,
    /// Operations waiting, in planned-finish order.
    pub queue: Vec<WipOperation>,
    /// Operations running now.
    pub running: Vec<WipOperation>,
    /// Unfinished operations whose planned finish is before `as_of`.
    pub late: Vec<WipOperation>,
}

impl WorkCentreWip {
    fn empty(work_centre: String) -> WorkCentreWip {
        WorkCentreWip {
            work_centre,
            queue_quantity: Qty::ZERO,
            running_quantity: Qty::ZERO,
            wip_value: Qty::ZERO,
            queue: Vec::new(),
            running: Vec::new(),
            late: Vec::new(),
        }
    }
}

/// WIP per work centre of open work orders, with late operations as of a date.
pub async fn wip_by_work_centre(
    conn: &impl ConnectionTrait,
    as_of: NaiveDate,
) -> Result<Vec<WorkCentreWip>, StoreError> {
    let open = [WorkOrderStatus::Released.as_str(), WorkOrderStatus::InProgress.as_str()];
    let orders = work_order::Entity::find().filter(work_order::Column::Status.is_in(open)).all(conn).await?;
    let ids: Vec<i64> = orders.iter().map(|w| w.id).collect();
    let (comps, ops) = children(conn, &ids).await?;
    // Standard costs of the components in WIP only (not of every item).
    let components: BTreeSet<String> = comps.values().flatten().map(|c| c.component.clone()).collect();
    let mut costs: HashMap<String, i64> = HashMap::new();
    for chunk in padded_chunks(&components.into_iter().collect::<Vec<_>>()) {
        let found = item::Entity::find().filter(item::Column::Id.is_in(chunk)).all(conn).await?;
        costs.extend(found.into_iter().filter_map(|i| Some((i.id, i.unit_cost?))));
    }
    let mut centres: BTreeMap<String, WorkCentreWip> = work_centre::Entity::find()
        .all(conn)
        .await?
        .into_iter()
        .map(|w| (w.id.clone(), WorkCentreWip::empty(w.id)))
        .collect();
    for wo in &orders {
        let unit_value: i64 = comps
            .get(&wo.id)
            .into_iter()
            .flatten()
            .map(|c| mul_micros(c.quantity_per, costs.get(&c.component).copied().unwrap_or(0)))
            .sum();
        for o in ops.get(&wo.id).into_iter().flatten() {
            let status = OperationStatus::parse(&o.status).unwrap_or(OperationStatus::Pending);
            let in_work = o.arrived - o.good - o.scrap;
            let view = WipOperation {
                work_order: wo.id,
                sequence: o.sequence.max(0) as u32,
                item: wo.item.clone(),
                status,
                in_work: Qty::from_micros(in_work),
                planned_finish: o.planned_finish,
            };
            let c = centres.entry(o.work_centre.clone()).or_insert_with(|| WorkCentreWip::empty(o.work_centre.clone()));
            if status != OperationStatus::Completed && o.planned_finish < as_of {
                c.late.push(view.clone());
            }
            c.wip_value.0 += from_micros(mul_micros(in_work.max(0), unit_value));
            match status {
                OperationStatus::Running => {
                    c.running_quantity.0 += view.in_work.0;
                    c.running.push(view);
                }
                OperationStatus::Ready | OperationStatus::Paused => {
                    c.queue_quantity.0 += view.in_work.0;
                    c.queue.push(view);
                }
                _ => {}
            }
        }
    }
    let mut out: Vec<WorkCentreWip> = centres.into_values().collect();
    for c in &mut out {
        for list in [&mut c.queue, &mut c.running, &mut c.late] {
            list.sort_by_key(|o| (o.planned_finish, o.work_order, o.sequence));
        }
    }
    Ok(out)
}

/// A WIP area position that does not match what open work orders hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WipDiscrepancy {
    /// The component.
    pub item: String,
    /// The WIP area.
    pub location: String,
    /// What work orders say they hold there (issued − consumed).
    #[schema(value_type = String)]
    pub work_orders: Qty,
    /// What the ledger's positions hold there.
    #[schema(value_type = String)]
    pub ledger: Qty,
}

/// Compares every WIP area's stock with the material work orders hold
/// there; empty when they agree.
pub async fn reconcile_wip(conn: &impl ConnectionTrait) -> Result<Vec<WipDiscrepancy>, StoreError> {
    let wip_locations: Vec<String> = location::Entity::find()
        .filter(location::Column::Kind.eq(LocationKind::WipArea.as_str()))
        .all(conn)
        .await?
        .into_iter()
        .map(|l| l.id)
        .collect();
    let mut expected: BTreeMap<(String, String), i64> = BTreeMap::new();
    let orders = work_order::Entity::find().all(conn).await?;
    let wip_of: HashMap<i64, String> = orders.iter().map(|w| (w.id, w.wip_location.clone())).collect();
    for c in component::Entity::find().all(conn).await? {
        if let Some(loc) = wip_of.get(&c.work_order_id) {
            *expected.entry((c.component, loc.clone())).or_default() += c.issued - c.consumed;
        }
    }
    let mut ledger: BTreeMap<(String, String), i64> = BTreeMap::new();
    for p in position::Entity::find().filter(position::Column::Location.is_in(wip_locations)).all(conn).await? {
        *ledger.entry((p.item, p.location)).or_default() += p.quantity;
    }
    let keys: BTreeSet<(String, String)> = expected.keys().chain(ledger.keys()).cloned().collect();
    Ok(keys
        .into_iter()
        .filter_map(|k| {
            let (e, l) = (expected.get(&k).copied().unwrap_or(0), ledger.get(&k).copied().unwrap_or(0));
            (e != l).then(|| WipDiscrepancy {
                item: k.0,
                location: k.1,
                work_orders: Qty::from_micros(e),
                ledger: Qty::from_micros(l),
            })
        })
        .collect())
}

/// For MRP: open work orders as scheduled receipts `WO-<id>` (id, item,
/// due date, open micros), and their components not yet in the WIP area as
/// allocations `WO-<id>:<component>` due on the order's start date.
pub async fn mrp_supply_and_allocations(
    conn: &impl ConnectionTrait,
) -> Result<(Vec<(String, String, NaiveDate, i64)>, Vec<(String, String, NaiveDate, i64)>, BTreeSet<i64>), StoreError> {
    let all = work_order::Entity::find().all(conn).await?;
    let released_plos: BTreeSet<i64> = all.iter().filter_map(|w| w.planned_order_id).collect();
    let open: Vec<&work_order::Model> = all.iter().filter(|w| is_open(w)).collect();
    let ids: Vec<i64> = open.iter().map(|w| w.id).collect();
    let (comps, _) = children(conn, &ids).await?;
    let mut receipts = Vec::new();
    let mut allocations = Vec::new();
    for wo in open {
        let q = open_quantity(wo);
        if q > 0 {
            receipts.push((reference(wo.id), wo.item.clone(), wo.due_date, q));
        }
        for c in comps.get(&wo.id).into_iter().flatten() {
            let left = c.required - c.issued;
            if left > 0 {
                allocations.push((
                    format!("{}:{}", reference(wo.id), c.component),
                    c.component.clone(),
                    wo.start_date,
                    left,
                ));
            }
        }
    }
    Ok((receipts, allocations, released_plos))
}

fn is_open(wo: &work_order::Model) -> bool {
    matches!(WorkOrderStatus::parse(&wo.status), Some(WorkOrderStatus::Released | WorkOrderStatus::InProgress))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lots_are_picked_in_order_and_the_rest_from_no_lot() {
        let mut stock = HashMap::new();
        stock.insert(("BOLT".to_string(), "MAIN".to_string()), BTreeMap::from([("L2".into(), 5), ("L1".into(), 3)]));
        let mut picker = Picker { stock };
        assert_eq!(picker.take("BOLT", "MAIN", 4), vec![("L1".into(), 3), ("L2".into(), 1)]);
        assert_eq!(picker.take("BOLT", "MAIN", 6), vec![("L2".into(), 4), (String::new(), 2)]);
        let moves = picker.transfer("NUT", "MAIN", "WIP", 3, "WO-1", "issue");
        assert_eq!(moves.len(), 1);
        assert_eq!(picker.take("NUT", "WIP", 3), vec![(String::new(), 3)], "what was put is there to take");
    }
}
