//! MRP on live data: a scenario built from the database, planned with the
//! `mrp` crate and stored as a run with its inputs snapshot, result and
//! planned orders; what-if runs with overrides; run comparison; and the
//! planned-order lifecycle.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use chrono::{Datelike, NaiveDate, Utc};
use rust_decimal::Decimal;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::entity::{item, mrp_run, planned_order, setting};
use crate::error::{Problems, StoreError};
use crate::master::{self, Item, Lot, Page};
use crate::names::{DemandKind, LotRule, PlannedStatus, RunKind, Source};
use crate::qty::{Qty, from_micros};
use crate::{ledger, supply};

/// The setting that holds the default planning calendar.
pub const CALENDAR_SETTING: &str = "planning_calendar";

/// The planning horizon of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CalendarBody {
    /// First day of bucket 0.
    pub start: NaiveDate,
    /// Days per bucket (7 = weekly).
    pub bucket_days: u32,
    /// Number of buckets.
    pub periods: u32,
}

impl CalendarBody {
    fn check(&self, prefix: &str, problems: &mut Problems) {
        if !(1..=mrp::parse::MAX_BUCKET_DAYS).contains(&self.bucket_days) {
            problems
                .push(format!("{prefix}bucket_days"), format!("must be between 1 and {}", mrp::parse::MAX_BUCKET_DAYS));
        }
        if !(1..=mrp::parse::MAX_PERIODS).contains(&self.periods) {
            problems.push(format!("{prefix}periods"), format!("must be between 1 and {}", mrp::parse::MAX_PERIODS));
        }
        let days = u64::from(self.bucket_days) * u64::from(self.periods);
        let end = self.start.checked_add_days(chrono::Days::new(days));
        if !(2..=9999).contains(&self.start.year()) || end.is_none_or(|e| e.year() > 9999) {
            problems.push(format!("{prefix}start"), "the horizon must lie within the years 2 to 9999");
        }
    }

    /// Checks the calendar, naming fields under `prefix` (e.g. `calendar.`).
    pub fn validate(&self, prefix: &str) -> Result<(), StoreError> {
        let mut problems = Problems::default();
        self.check(prefix, &mut problems);
        problems.finish()
    }

    fn to_mrp(self) -> mrp::Calendar {
        mrp::Calendar { start: self.start, bucket_days: self.bucket_days, periods: self.periods }
    }
}

/// The calendar a run uses when none is given: the stored default (set by
/// scenario import or `PUT /settings/calendar`), else 52 weekly buckets from
/// this week's Monday.
pub async fn default_calendar(conn: &impl ConnectionTrait) -> Result<CalendarBody, StoreError> {
    if let Some(s) = setting::Entity::find_by_id(CALENDAR_SETTING.to_owned()).one(conn).await?
        && let Ok(c) = serde_json::from_str::<CalendarBody>(&s.value)
    {
        return Ok(c);
    }
    let today = Utc::now().date_naive();
    let monday = today - chrono::Days::new(u64::from(today.weekday().num_days_from_monday()));
    Ok(CalendarBody { start: monday, bucket_days: 7, periods: 52 })
}

/// Stores the default planning calendar.
pub async fn set_default_calendar(txn: &impl ConnectionTrait, c: &CalendarBody) -> Result<(), StoreError> {
    let mut problems = Problems::default();
    c.check("", &mut problems);
    problems.finish()?;
    setting::Entity::insert(setting::ActiveModel {
        key: Set(CALENDAR_SETTING.to_owned()),
        value: Set(serde_json::to_string(c).expect("calendar serialises")),
    })
    .on_conflict(
        sea_orm::sea_query::OnConflict::column(setting::Column::Key).update_column(setting::Column::Value).to_owned(),
    )
    .exec_without_returning(txn)
    .await?;
    Ok(())
}

/// What-if changes applied to a copy of live data; live data never changes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Overrides {
    /// Demand lines to add, or to replace when the id exists.
    #[serde(default)]
    pub demand: Vec<supply::Demand>,
    /// Demand ids to leave out.
    #[serde(default)]
    pub remove_demand: Vec<String>,
    /// Lead times (buckets) by item id.
    #[serde(default)]
    pub lead_times: BTreeMap<String, u32>,
    /// Lot-sizing policies by item id (the scenario format's `lot` object).
    #[serde(default)]
    pub lot: BTreeMap<String, Lot>,
}

/// A request for an MRP run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    /// Horizon; default: the stored planning calendar.
    #[serde(default)]
    pub calendar: Option<CalendarBody>,
    /// Peg planned orders to demands (default true).
    #[serde(default)]
    pub pegging: Option<bool>,
    /// Present for a what-if run.
    #[serde(default)]
    pub overrides: Option<Overrides>,
    /// Scenario name in the snapshot (default `live`).
    #[serde(default)]
    pub name: Option<String>,
}

fn lot_policy(lot: &Lot) -> mrp::LotPolicy {
    let d = |q: Option<Qty>| q.map(|q| q.0);
    mrp::LotPolicy {
        rule: match lot.rule {
            LotRule::LotForLot => mrp::LotRule::LotForLot,
            LotRule::Fixed => mrp::LotRule::Fixed { quantity: lot.quantity.map_or(Decimal::ONE, |q| q.0) },
            LotRule::PeriodOrder => mrp::LotRule::PeriodOrder { periods: lot.periods.unwrap_or(1) },
            LotRule::Eoq => mrp::LotRule::Eoq {
                order_cost: lot.order_cost.map_or(Decimal::ZERO, |q| q.0),
                holding_cost: lot.holding_cost.map_or(Decimal::ONE, |q| q.0),
            },
        },
        min: d(lot.min),
        multiple: d(lot.multiple),
        max: d(lot.max),
    }
}

/// The scenario MRP plans: every item with its available stock as `on_hand`
/// and `quality_hold` stock as `on_hold` (blocked stock is not counted), the
/// BOM versions effective on the calendar's start, all demand, open supply
/// orders for their open quantity, and firmed, released and sent planned
/// orders as scheduled receipts (`PLO-<id>`), open work orders (`WO-<id>`)
/// and stock in transit (`transfer:<id>`) as scheduled receipts too, and work-order
/// components not yet issued as allocations (`WO-<id>:<component>`, due on
/// the order's start). Stock in WIP areas belongs to work orders and is
/// not on hand. Available stock below zero
/// (items that allow it) becomes on-hand 0 plus a past-due demand
/// `negative-stock:<item>` for the shortfall, so MRP replenishes it.
pub async fn live_scenario(
    conn: &impl ConnectionTrait,
    name: &str,
    calendar: CalendarBody,
) -> Result<mrp::Scenario, StoreError> {
    let stock = ledger::stock_by_item(conn).await?;
    let mut items = Vec::new();
    let mut demand = Vec::new();
    for m in item::Entity::find().order_by_asc(item::Column::Id).all(conn).await? {
        let view = Item::from_model(&m);
        let (available, on_hold) = stock.get(&m.id).copied().unwrap_or((0, 0));
        if available < 0 {
            demand.push(mrp::Demand {
                id: format!("negative-stock:{}", m.id),
                item: m.id.clone(),
                date: calendar.start.checked_sub_days(chrono::Days::new(1)).unwrap_or(calendar.start),
                quantity: from_micros(-available),
                kind: mrp::DemandKind::Order,
            });
        }
        items.push(mrp::Item {
            id: m.id,
            name: m.name,
            source: match view.source {
                Source::Make => mrp::Source::Make,
                Source::Buy => mrp::Source::Buy,
                Source::Phantom => mrp::Source::Phantom,
            },
            lead_time: view.lead_time,
            safety_stock: view.safety_stock.0,
            on_hand: from_micros(available.max(0)),
            on_hold: from_micros(on_hold.max(0)),
            lot: lot_policy(&view.lot),
            unit_cost: view.unit_cost.map(|q| q.0),
            uom: m.uom,
        });
    }
    let bom = master::effective_bom(conn, calendar.start)
        .await?
        .into_iter()
        .map(|(parent, l)| mrp::BomLine {
            parent,
            component: l.component,
            quantity: from_micros(l.quantity),
            scrap: from_micros(l.scrap),
        })
        .collect();
    for d in supply::all_demands(conn).await? {
        demand.push(mrp::Demand {
            id: d.id,
            item: d.item,
            date: d.date,
            quantity: d.quantity.0,
            kind: match d.kind {
                DemandKind::Order => mrp::DemandKind::Order,
                DemandKind::Forecast => mrp::DemandKind::Forecast,
            },
        });
    }
    let mut receipts = Vec::new();
    for s in supply::open_supply_orders(conn).await? {
        let open = s.open_quantity().0;
        if open > Decimal::ZERO {
            receipts.push(mrp::Receipt { id: s.id, item: s.item, date: s.due_date, quantity: open });
        }
    }
    let (work_orders, allocations, released_as_work_orders) = crate::shop::mrp_supply_and_allocations(conn).await?;
    let in_transit = crate::distribution::in_transit_receipts(conn).await?;
    for (id, item, date, micros) in work_orders.into_iter().chain(in_transit) {
        receipts.push(mrp::Receipt { id, item, date, quantity: from_micros(micros) });
    }
    for (id, item, date, micros) in allocations {
        demand.push(mrp::Demand { id, item, date, quantity: from_micros(micros), kind: mrp::DemandKind::Order });
    }
    let committed = [PlannedStatus::Firmed, PlannedStatus::Released, PlannedStatus::SentToErp];
    for p in planned_order::Entity::find()
        .filter(planned_order::Column::Status.is_in(committed.iter().map(|s| s.as_str())))
        .order_by_asc(planned_order::Column::Id)
        .all(conn)
        .await?
    {
        // A released make-order is its work order from now on.
        if released_as_work_orders.contains(&p.id) {
            continue;
        }
        receipts.push(mrp::Receipt {
            id: format!("PLO-{}", p.id),
            item: p.item,
            date: p.due_date,
            quantity: from_micros(p.quantity),
        });
    }
    Ok(mrp::Scenario { name: name.to_owned(), calendar: calendar.to_mrp(), items, bom, demand, receipts })
}

fn apply_overrides(s: &mut mrp::Scenario, o: &Overrides) -> Result<(), StoreError> {
    let mut problems = Problems::default();
    let index: HashMap<String, usize> = s.items.iter().enumerate().map(|(i, it)| (it.id.clone(), i)).collect();
    for (id, lt) in &o.lead_times {
        match index.get(id) {
            None => problems.push(format!("overrides.lead_times.{id}"), format!("'{id}' is not an item")),
            Some(_) if *lt > mrp::parse::MAX_LEAD_TIME => problems
                .push(format!("overrides.lead_times.{id}"), format!("must be at most {}", mrp::parse::MAX_LEAD_TIME)),
            Some(&i) => s.items[i].lead_time = *lt,
        }
    }
    for (id, lot) in &o.lot {
        match index.get(id) {
            None => problems.push(format!("overrides.lot.{id}"), format!("'{id}' is not an item")),
            Some(&i) => {
                // The same checks as an item update, reported under the override.
                let probe = Item {
                    id: id.clone(),
                    name: None,
                    source: Source::Make,
                    lead_time: 0,
                    safety_stock: Qty::ZERO,
                    lot: lot.clone(),
                    unit_cost: None,
                    uom: None,
                    allow_negative: false,
                    requires_inspection: false,
                    backflush: false,
                };
                let before = problems.0.len();
                master::check_item(&probe, &format!("overrides.lot.{id}"), &mut problems);
                if problems.0.len() == before {
                    s.items[i].lot = lot_policy(lot);
                }
            }
        }
    }
    let removed: std::collections::HashSet<&str> = o.remove_demand.iter().map(String::as_str).collect();
    for (i, id) in o.remove_demand.iter().enumerate() {
        if !s.demand.iter().any(|d| &d.id == id) {
            problems.push(format!("overrides.remove_demand[{i}]"), format!("'{id}' is not a demand"));
        }
    }
    s.demand.retain(|d| !removed.contains(d.id.as_str()));
    for (i, d) in o.demand.iter().enumerate() {
        let f = |n: &str| format!("overrides.demand[{i}].{n}");
        if !index.contains_key(&d.item) {
            problems.push(f("item"), format!("'{}' is not an item", d.item));
        }
        if d.quantity.0.is_sign_negative() {
            problems.push(f("quantity"), "must not be negative");
        }
        master::check_id(&f("id"), &d.id, &mut problems);
        master::check_date(&f("date"), d.date, &mut problems);
        let new = mrp::Demand {
            id: d.id.clone(),
            item: d.item.clone(),
            date: d.date,
            quantity: d.quantity.0,
            kind: match d.kind {
                DemandKind::Order => mrp::DemandKind::Order,
                DemandKind::Forecast => mrp::DemandKind::Forecast,
            },
        };
        match s.demand.iter_mut().find(|x| x.id == d.id) {
            Some(x) => *x = new,
            None => s.demand.push(new),
        }
    }
    problems.finish()
}

/// A stored run, without its (possibly large) documents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RunSummary {
    /// Run id.
    pub id: i64,
    /// `live` or `what_if`.
    pub kind: RunKind,
    /// Who ran it.
    pub actor: String,
    /// When.
    pub created_at: chrono::DateTime<Utc>,
    /// The request as given, with the calendar filled in.
    #[schema(value_type = Object)]
    pub parameters: serde_json::Value,
    /// Number of planned orders.
    pub planned_orders: i32,
    /// Number of exception messages.
    pub exceptions: i32,
    /// Planning time in milliseconds (build and plan, without storing).
    pub plan_ms: f64,
}

impl RunSummary {
    fn from_model(m: &mrp_run::Model) -> RunSummary {
        RunSummary {
            id: m.id,
            kind: RunKind::parse(&m.kind).unwrap_or(RunKind::Live),
            actor: m.actor.clone(),
            created_at: m.created_at,
            parameters: serde_json::from_str(&m.parameters).unwrap_or(serde_json::Value::Null),
            planned_orders: m.planned_order_count,
            exceptions: m.exception_count,
            plan_ms: m.plan_micros as f64 / 1000.0,
        }
    }
}

/// Builds the scenario (with overrides for a what-if run), plans it and
/// stores the run with its planned orders as `proposed`.
pub async fn run_mrp(txn: &impl ConnectionTrait, actor: &str, request: &RunRequest) -> Result<RunSummary, StoreError> {
    let started = Instant::now();
    let mut problems = Problems::default();
    let calendar = match request.calendar {
        Some(c) => c,
        None => default_calendar(txn).await?,
    };
    calendar.check("calendar.", &mut problems);
    problems.finish()?;
    let name = request.name.clone().unwrap_or_else(|| "live".to_owned());
    let mut scenario = live_scenario(txn, &name, calendar).await?;
    let kind = if let Some(o) = &request.overrides {
        apply_overrides(&mut scenario, o)?;
        RunKind::WhatIf
    } else {
        RunKind::Live
    };
    let network = mrp::validate(&scenario)
        .map_err(|e| StoreError::conflict("unplannable", format!("the data cannot be planned: {e}")))?;
    let options = mrp::PlanOptions { pegging: request.pegging.unwrap_or(true) };
    let plan = mrp::plan_network_with(&scenario, &network, options)
        .map_err(|e| StoreError::conflict("unplannable", format!("planning failed: {e}")))?;
    let plan_micros = started.elapsed().as_micros() as i64;
    let result = serde_json::to_string(&mrp::ResultDocument::new(&scenario, &plan)).expect("result serialises");
    let snapshot = serde_json::to_string(&mrp::export::ScenarioDocument(&scenario)).expect("scenario serialises");
    let mut parameters = serde_json::to_value(request).expect("request serialises");
    parameters["calendar"] = serde_json::to_value(calendar).expect("calendar serialises");
    let now = Utc::now();
    let run = mrp_run::Entity::insert(mrp_run::ActiveModel {
        kind: Set(kind.as_str().to_owned()),
        actor: Set(actor.to_owned()),
        created_at: Set(now),
        parameters: Set(parameters.to_string()),
        scenario: Set(snapshot),
        result: Set(result),
        planned_order_count: Set(plan.planned_orders.len() as i32),
        exception_count: Set(plan.exceptions.len() as i32),
        plan_micros: Set(plan_micros),
        ..Default::default()
    })
    .exec_with_returning(txn)
    .await?;
    let rows: Vec<planned_order::ActiveModel> = plan
        .planned_orders
        .iter()
        .map(|o| {
            let it = &scenario.items[o.item as usize];
            Ok(planned_order::ActiveModel {
                run_id: Set(run.id),
                order_ref: Set(o.id()),
                item: Set(it.id.clone()),
                kind: Set(o.kind.as_str().to_owned()),
                quantity: Set(crate::qty::to_micros(o.quantity, "quantity").map_err(|_| {
                    StoreError::conflict(
                        "unplannable",
                        format!("planned order {} for '{}' has more than 6 decimal places", o.id(), it.id),
                    )
                })?),
                release_date: Set(scenario.calendar.bucket_start(o.release_bucket as usize)),
                due_date: Set(scenario.calendar.bucket_start(o.due_bucket as usize)),
                status: Set(PlannedStatus::Proposed.as_str().to_owned()),
                status_changed_at: Set(now),
                status_changed_by: Set(actor.to_owned()),
                ..Default::default()
            })
        })
        .collect::<Result<_, StoreError>>()?;
    for chunk in rows.chunks(500) {
        planned_order::Entity::insert_many(chunk.to_vec()).exec_without_returning(txn).await?;
    }
    Ok(RunSummary::from_model(&run))
}

/// One run's summary.
pub async fn get_run(conn: &impl ConnectionTrait, id: i64) -> Result<RunSummary, StoreError> {
    Ok(RunSummary::from_model(&find_run(conn, id).await?))
}

async fn find_run(conn: &impl ConnectionTrait, id: i64) -> Result<mrp_run::Model, StoreError> {
    mrp_run::Entity::find_by_id(id).one(conn).await?.ok_or_else(|| StoreError::not_found("MRP run", id.to_string()))
}

/// A run's stored documents: `scenario` (inputs snapshot) or `result`.
pub async fn run_document(conn: &impl ConnectionTrait, id: i64, which: &str) -> Result<String, StoreError> {
    let column = match which {
        "scenario" => mrp_run::Column::Scenario,
        _ => mrp_run::Column::Result,
    };
    let doc: Option<String> =
        mrp_run::Entity::find_by_id(id).select_only().column(column).into_tuple().one(conn).await?;
    doc.ok_or_else(|| StoreError::not_found("MRP run", id.to_string()))
}

/// The newest runs first.
pub async fn list_runs(conn: &impl ConnectionTrait, limit: u64) -> Result<Vec<RunSummary>, StoreError> {
    let rows = mrp_run::Entity::find()
        .select_only()
        .columns([
            mrp_run::Column::Id,
            mrp_run::Column::Kind,
            mrp_run::Column::Actor,
            mrp_run::Column::CreatedAt,
            mrp_run::Column::Parameters,
            mrp_run::Column::PlannedOrderCount,
            mrp_run::Column::ExceptionCount,
            mrp_run::Column::PlanMicros,
        ])
        .order_by_desc(mrp_run::Column::Id)
        .limit(limit.clamp(1, 1000))
        .into_tuple::<(i64, String, String, chrono::DateTime<Utc>, String, i32, i32, i64)>()
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, kind, actor, created_at, parameters, po, ex, micros)| {
            RunSummary::from_model(&mrp_run::Model {
                id,
                kind,
                actor,
                created_at,
                parameters,
                scenario: String::new(),
                result: String::new(),
                planned_order_count: po,
                exception_count: ex,
                plan_micros: micros,
            })
        })
        .collect())
}

/// A planned order with its lifecycle status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PlannedOrder {
    /// Planned order id (unique across runs).
    pub id: i64,
    /// The run that proposed it.
    pub run_id: i64,
    /// Its id in the run's result document (`PL-n`).
    pub order_ref: String,
    /// The item.
    pub item: String,
    /// `make` or `buy`.
    pub kind: String,
    /// Quantity.
    #[schema(value_type = String)]
    pub quantity: Qty,
    /// Release date (start of the release bucket).
    pub release_date: NaiveDate,
    /// Due date (start of the due bucket).
    pub due_date: NaiveDate,
    /// Lifecycle status.
    pub status: PlannedStatus,
    /// Last status change.
    pub status_changed_at: chrono::DateTime<Utc>,
    /// Who changed it.
    pub status_changed_by: String,
}

impl PlannedOrder {
    fn from_model(m: planned_order::Model) -> PlannedOrder {
        PlannedOrder {
            id: m.id,
            run_id: m.run_id,
            order_ref: m.order_ref,
            item: m.item,
            kind: m.kind,
            quantity: Qty::from_micros(m.quantity),
            release_date: m.release_date,
            due_date: m.due_date,
            status: PlannedStatus::parse(&m.status).unwrap_or(PlannedStatus::Proposed),
            status_changed_at: m.status_changed_at,
            status_changed_by: m.status_changed_by,
        }
    }
}

/// Filters for planned orders.
#[derive(Debug, Clone, Default, Deserialize, ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PlannedOrderQuery {
    /// Only this run's.
    pub run: Option<i64>,
    /// Only this status.
    pub status: Option<PlannedStatus>,
    /// Only this item.
    pub item: Option<String>,
    /// Id cursor from the previous page's `next`.
    pub after: Option<String>,
    /// Rows per page, 1 to 1000 (default 100).
    pub limit: Option<u64>,
}

/// A page of planned orders in id order.
pub async fn list_planned_orders(
    conn: &impl ConnectionTrait,
    q: &PlannedOrderQuery,
) -> Result<Page<PlannedOrder>, StoreError> {
    let limit = master::PageQuery { after: None, limit: q.limit }.limit()?;
    let mut find = planned_order::Entity::find().order_by_asc(planned_order::Column::Id).limit(limit + 1);
    if let Some(after) = &q.after {
        let after: i64 = after.parse().map_err(|_| StoreError::invalid("after", "must be a cursor from `next`"))?;
        find = find.filter(planned_order::Column::Id.gt(after));
    }
    if let Some(run) = q.run {
        find = find.filter(planned_order::Column::RunId.eq(run));
    }
    if let Some(s) = q.status {
        find = find.filter(planned_order::Column::Status.eq(s.as_str()));
    }
    if let Some(i) = &q.item {
        find = find.filter(planned_order::Column::Item.eq(i.clone()));
    }
    let rows: Vec<PlannedOrder> = find.all(conn).await?.into_iter().map(PlannedOrder::from_model).collect();
    Ok(Page::from_rows(rows, limit, |p: &PlannedOrder| p.id.to_string()))
}

/// Planned-order lifecycle actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PlannedAction {
    /// proposed → firmed.
    Firm,
    /// proposed or firmed → released.
    Release,
    /// proposed, firmed or released → cancelled.
    Cancel,
    /// released → sent_to_erp.
    SentToErp,
}

/// Applies a lifecycle action. Only live runs' orders move, and a proposed
/// order only from the newest live run (older proposals are superseded).
pub async fn transition(
    txn: &impl ConnectionTrait,
    actor: &str,
    id: i64,
    action: PlannedAction,
) -> Result<PlannedOrder, StoreError> {
    let order = planned_order::Entity::find_by_id(id)
        .one(txn)
        .await?
        .ok_or_else(|| StoreError::not_found("planned order", id.to_string()))?;
    let status = PlannedStatus::parse(&order.status).unwrap_or(PlannedStatus::Proposed);
    let (from, to): (&[PlannedStatus], PlannedStatus) = match action {
        PlannedAction::Firm => (&[PlannedStatus::Proposed], PlannedStatus::Firmed),
        PlannedAction::Release => (&[PlannedStatus::Proposed, PlannedStatus::Firmed], PlannedStatus::Released),
        PlannedAction::Cancel => {
            (&[PlannedStatus::Proposed, PlannedStatus::Firmed, PlannedStatus::Released], PlannedStatus::Cancelled)
        }
        PlannedAction::SentToErp => (&[PlannedStatus::Released], PlannedStatus::SentToErp),
    };
    if !from.contains(&status) {
        return Err(StoreError::conflict(
            "invalid_transition",
            format!(
                "planned order {id} is {status}; it can become {to} only from {}",
                from.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" or ")
            ),
        ));
    }
    let run = find_run(txn, order.run_id).await?;
    if run.kind != RunKind::Live.as_str() {
        return Err(StoreError::conflict(
            "what_if_run",
            format!("planned order {id} belongs to what-if run {}; what-if plans cannot be executed", run.id),
        ));
    }
    if status == PlannedStatus::Proposed && to != PlannedStatus::Cancelled {
        let newest: Option<i64> = mrp_run::Entity::find()
            .select_only()
            .column(mrp_run::Column::Id)
            .filter(mrp_run::Column::Kind.eq(RunKind::Live.as_str()))
            .order_by_desc(mrp_run::Column::Id)
            .into_tuple()
            .one(txn)
            .await?;
        if newest != Some(run.id) {
            return Err(StoreError::conflict(
                "superseded",
                format!(
                    "planned order {id} was proposed by run {}, which live run {} has superseded",
                    run.id,
                    newest.unwrap_or_default()
                ),
            ));
        }
    }
    // The status guard in WHERE makes concurrent transitions of one order
    // serialise: the loser updates nothing and gets the conflict.
    let now = Utc::now();
    let res = planned_order::Entity::update_many()
        .col_expr(planned_order::Column::Status, sea_orm::sea_query::Expr::value(to.as_str()))
        .col_expr(planned_order::Column::StatusChangedAt, sea_orm::sea_query::Expr::value(now))
        .col_expr(planned_order::Column::StatusChangedBy, sea_orm::sea_query::Expr::value(actor))
        .filter(planned_order::Column::Id.eq(id))
        .filter(planned_order::Column::Status.eq(status.as_str()))
        .exec(txn)
        .await?;
    if res.rows_affected != 1 {
        return Err(StoreError::conflict("invalid_transition", format!("planned order {id} changed meanwhile")));
    }
    let updated = planned_order::Entity::find_by_id(id).one(txn).await?.expect("row exists");
    Ok(PlannedOrder::from_model(updated))
}

/// A planned order that both runs have, with different quantity or dates.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ChangedOrder {
    /// The item.
    pub item: String,
    /// `make` or `buy`.
    pub kind: String,
    /// Due date (the matching key with item and kind).
    pub due_date: NaiveDate,
    /// Quantity in the base run.
    #[schema(value_type = String)]
    pub quantity_before: Qty,
    /// Quantity in the other run.
    #[schema(value_type = String)]
    pub quantity_after: Qty,
    /// Release date in the base run.
    pub release_before: NaiveDate,
    /// Release date in the other run.
    pub release_after: NaiveDate,
}

/// The differences between two runs.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct RunComparison {
    /// The base run.
    pub base: i64,
    /// The run compared with it.
    pub other: i64,
    /// Orders only in `other`.
    pub added: Vec<PlannedOrder>,
    /// Orders only in `base`.
    pub removed: Vec<PlannedOrder>,
    /// Orders in both with another quantity or release date.
    pub changed: Vec<ChangedOrder>,
    /// Exception messages only in `other`.
    #[schema(value_type = Vec<Object>)]
    pub exceptions_added: Vec<serde_json::Value>,
    /// Exception messages only in `base`.
    #[schema(value_type = Vec<Object>)]
    pub exceptions_removed: Vec<serde_json::Value>,
}

/// Compares two runs. Planned orders match by item, kind and due date (in
/// order where several share them); exceptions by item, kind and dates.
pub async fn compare_runs(conn: &impl ConnectionTrait, base: i64, other: i64) -> Result<RunComparison, StoreError> {
    find_run(conn, base).await?;
    find_run(conn, other).await?;
    let orders = |run: i64| async move {
        let q = PlannedOrderQuery { run: Some(run), ..Default::default() };
        let mut all = Vec::new();
        let mut q = PlannedOrderQuery { limit: Some(1000), ..q };
        loop {
            let page = list_planned_orders(conn, &q).await?;
            all.extend(page.rows);
            match page.next {
                Some(n) => q.after = Some(n),
                None => break,
            }
        }
        Ok::<_, StoreError>(all)
    };
    let mut before: BTreeMap<(String, String, NaiveDate), Vec<PlannedOrder>> = BTreeMap::new();
    for o in orders(base).await? {
        before.entry((o.item.clone(), o.kind.clone(), o.due_date)).or_default().push(o);
    }
    let mut after: BTreeMap<(String, String, NaiveDate), Vec<PlannedOrder>> = BTreeMap::new();
    for o in orders(other).await? {
        after.entry((o.item.clone(), o.kind.clone(), o.due_date)).or_default().push(o);
    }
    let (mut added, mut removed, mut changed) = (Vec::new(), Vec::new(), Vec::new());
    for (key, olds) in &before {
        let news = after.remove(key).unwrap_or_default();
        for i in 0..olds.len().max(news.len()) {
            match (olds.get(i), news.get(i)) {
                (Some(a), Some(b)) if a.quantity != b.quantity || a.release_date != b.release_date => {
                    changed.push(ChangedOrder {
                        item: key.0.clone(),
                        kind: key.1.clone(),
                        due_date: key.2,
                        quantity_before: a.quantity,
                        quantity_after: b.quantity,
                        release_before: a.release_date,
                        release_after: b.release_date,
                    })
                }
                (Some(a), None) => removed.push(a.clone()),
                (None, Some(b)) => added.push(b.clone()),
                _ => {}
            }
        }
    }
    added.extend(after.into_values().flatten());
    let exceptions = |doc: String| -> Vec<serde_json::Value> {
        let v: serde_json::Value = serde_json::from_str(&doc).unwrap_or_default();
        v["exceptions"].as_array().cloned().unwrap_or_default()
    };
    let key = |e: &serde_json::Value| {
        // Planned-order references (PL-n) are numbered per run; compare
        // those exceptions by item, kind and dates only.
        let reference = e["reference"].as_str().unwrap_or("");
        let reference = if reference.starts_with("PL-") { "" } else { reference };
        format!("{}|{}|{}|{}|{}", e["item"], e["kind"], reference, e["date"], e["suggested_date"])
    };
    let ea = exceptions(run_document(conn, base, "result").await?);
    let eb = exceptions(run_document(conn, other, "result").await?);
    let ka: std::collections::HashSet<String> = ea.iter().map(key).collect();
    let kb: std::collections::HashSet<String> = eb.iter().map(key).collect();
    Ok(RunComparison {
        base,
        other,
        added,
        removed,
        changed,
        exceptions_added: eb.iter().filter(|e| !ka.contains(&key(e))).cloned().collect(),
        exceptions_removed: ea.iter().filter(|e| !kb.contains(&key(e))).cloned().collect(),
    })
}

/// The live scenario with a `capacity` section (see
/// `docs/scenario-capacity.md`) built from the database, for `takt
/// optimize`: every work centre with its hours per bucket (hours per day
/// times the working days in the bucket; buckets that differ from the first
/// become calendar entries), one routing line per operation of a make item,
/// and `costs` as given (the optimiser's defaults otherwise).
pub async fn live_capacity_scenario(
    conn: &impl ConnectionTrait,
    calendar: CalendarBody,
    costs: Option<serde_json::Value>,
) -> Result<String, StoreError> {
    use crate::entity::{routing_operation, work_centre};
    calendar.validate("calendar.")?;
    let scenario = live_scenario(conn, "live", calendar).await?;
    let mut doc = serde_json::to_value(mrp::export::ScenarioDocument(&scenario)).expect("scenario serialises");
    let cal = scenario.calendar;
    let mut centres = Vec::new();
    for wc in work_centre::Entity::find().order_by_asc(work_centre::Column::Id).all(conn).await? {
        let days: Vec<&str> = wc.working_days.split(',').collect();
        let hours_in = |t: usize| {
            let start = cal.bucket_start(t);
            let working = (0..cal.bucket_days)
                .filter(|d| {
                    let day = start + chrono::Days::new(u64::from(*d));
                    let name = day.weekday().to_string().to_lowercase();
                    days.contains(&name.as_str())
                })
                .count();
            from_micros(wc.hours_per_day) * Decimal::from(working)
        };
        let base = hours_in(0);
        let exceptions: Vec<serde_json::Value> = (1..cal.len())
            .filter_map(|t| {
                let h = hours_in(t);
                (h != base)
                    .then(|| serde_json::json!({ "date": cal.bucket_start(t).to_string(), "hours": h.to_string() }))
            })
            .collect();
        let mut centre = serde_json::json!({ "id": wc.id, "hours": base.to_string() });
        if let Some(name) = wc.name {
            centre["name"] = name.into();
        }
        if !exceptions.is_empty() {
            centre["calendar"] = exceptions.into();
        }
        centres.push(centre);
    }
    let make: std::collections::HashSet<&str> =
        scenario.items.iter().filter(|i| i.source == mrp::Source::Make).map(|i| i.id.as_str()).collect();
    let routings: Vec<serde_json::Value> = routing_operation::Entity::find()
        .order_by_asc(routing_operation::Column::Item)
        .order_by_asc(routing_operation::Column::Sequence)
        .all(conn)
        .await?
        .into_iter()
        .filter(|op| make.contains(op.item.as_str()))
        .map(|op| {
            serde_json::json!({
                "item": op.item,
                "work_center": op.work_centre,
                "run_hours": from_micros(op.run_hours_per_unit).to_string(),
                "setup_hours": from_micros(op.setup_hours).to_string(),
            })
        })
        .collect();
    let mut capacity = serde_json::json!({ "work_centers": centres, "routings": routings });
    if let Some(costs) = costs {
        capacity["costs"] = costs;
    }
    doc["capacity"] = capacity;
    Ok(doc.to_string())
}
