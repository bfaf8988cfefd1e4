//! Moving a planner's scenario file (`mrp-scenario/1`) into and out of the
//! database, so a file and the live system are the same model.

use rust_decimal::Decimal;
use sea_orm::ConnectionTrait;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::StoreError;
use crate::ledger::{self, MovementBody, PositionQuery};
use crate::master::{self, BomBody, BomLineBody, Item, Location, Lot};
use crate::names::{DemandKind, LocationKind, LotRule, MovementKind, Source, StockStatus, SupplyKind, SupplyStatus};
use crate::planning::{self, CalendarBody};
use crate::qty::Qty;
use crate::supply::{self, Demand, SupplyOrder};

/// What an import wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct ImportSummary {
    /// Items created or updated.
    pub items: usize,
    /// Items that did not exist before.
    pub items_created: usize,
    /// Parents that got a new BOM version (their lines differed).
    pub bom_versions: usize,
    /// Demand lines created or updated.
    pub demand: usize,
    /// Supply orders created or updated.
    pub supply_orders: usize,
    /// Stock adjustments posted to reach the file's on-hand and on-hold.
    pub adjustments: usize,
}

fn lot_body(p: &mrp::LotPolicy) -> Lot {
    let q = |d: Option<Decimal>| d.map(Qty);
    let mut lot =
        Lot { rule: LotRule::LotForLot, min: q(p.min), multiple: q(p.multiple), max: q(p.max), ..Lot::default() };
    match &p.rule {
        mrp::LotRule::LotForLot => {}
        mrp::LotRule::Fixed { quantity } => {
            lot.rule = LotRule::Fixed;
            lot.quantity = Some(Qty(*quantity));
        }
        mrp::LotRule::PeriodOrder { periods } => {
            lot.rule = LotRule::PeriodOrder;
            lot.periods = Some(*periods);
        }
        mrp::LotRule::Eoq { order_cost, holding_cost } => {
            lot.rule = LotRule::Eoq;
            lot.order_cost = Some(Qty(*order_cost));
            lot.holding_cost = Some(Qty(*holding_cost));
        }
    }
    lot
}

/// Imports a validated scenario: items (created or replaced), a new BOM
/// version for every parent whose lines differ from the effective ones,
/// demand, receipts as open supply orders, and adjustments at `location`
/// (created as a plant store if missing) so that available and on-hold
/// stock there equal the file's `on_hand` and `on_hold`. The file's
/// calendar becomes the default planning calendar.
pub async fn import_scenario(
    txn: &impl ConnectionTrait,
    actor: &str,
    s: &mrp::Scenario,
    location: &str,
) -> Result<ImportSummary, StoreError> {
    let mut summary = ImportSummary::default();
    if !master::list_locations(txn).await?.iter().any(|l| l.id == location) {
        master::put_location(
            txn,
            &Location { id: location.to_owned(), name: Some("Plant store".into()), kind: LocationKind::PlantStore },
        )
        .await?;
    }
    let items: Vec<Item> = s
        .items
        .iter()
        .map(|i| Item {
            id: i.id.clone(),
            name: i.name.clone(),
            source: match i.source {
                mrp::Source::Make => Source::Make,
                mrp::Source::Buy => Source::Buy,
                mrp::Source::Phantom => Source::Phantom,
            },
            lead_time: i.lead_time,
            safety_stock: Qty(i.safety_stock),
            lot: lot_body(&i.lot),
            unit_cost: i.unit_cost.map(Qty),
            uom: i.uom.clone(),
            allow_negative: false,
            requires_inspection: false,
            backflush: false,
        })
        .collect();
    summary.items_created = master::put_items(txn, &items, "items").await?;
    summary.items = items.len();

    let effective = master::effective_bom(txn, s.calendar.start).await?;
    let mut current: std::collections::BTreeMap<&str, Vec<(String, i64, i64)>> = Default::default();
    for (parent, l) in &effective {
        current.entry(parent.as_str()).or_default().push((l.component.clone(), l.quantity, l.scrap));
    }
    let mut wanted: std::collections::BTreeMap<&str, Vec<(usize, &mrp::BomLine)>> = Default::default();
    for (i, b) in s.bom.iter().enumerate() {
        wanted.entry(b.parent.as_str()).or_default().push((i, b));
    }
    let mut changed: Vec<(&str, BomBody)> = Vec::new();
    for (parent, lines) in &wanted {
        let mut micros = Vec::new();
        for (i, b) in lines {
            micros.push((
                b.component.clone(),
                crate::qty::to_micros(b.quantity, &format!("bom[{i}].quantity"))?,
                crate::qty::to_micros(b.scrap, &format!("bom[{i}].scrap"))?,
            ));
        }
        if current.get(parent) == Some(&micros) {
            continue;
        }
        let body = BomBody {
            valid_from: None,
            valid_to: None,
            lines: lines
                .iter()
                .map(|(_, b)| BomLineBody {
                    component: b.component.clone(),
                    quantity: Qty(b.quantity),
                    scrap: Qty(b.scrap),
                })
                .collect(),
        };
        changed.push((parent, body));
    }
    let versions: Vec<(&str, &BomBody)> = changed.iter().map(|(p, b)| (*p, b)).collect();
    summary.bom_versions = master::add_bom_versions(txn, &versions, "bom.").await?.len();

    let demand: Vec<Demand> = s
        .demand
        .iter()
        .map(|d| Demand {
            id: d.id.clone(),
            item: d.item.clone(),
            date: d.date,
            quantity: Qty(d.quantity),
            kind: match d.kind {
                mrp::DemandKind::Order => DemandKind::Order,
                mrp::DemandKind::Forecast => DemandKind::Forecast,
            },
            customer: None,
        })
        .collect();
    supply::put_demands(txn, &demand, "demand").await?;
    summary.demand = demand.len();

    let source: std::collections::HashMap<&str, mrp::Source> =
        s.items.iter().map(|i| (i.id.as_str(), i.source)).collect();
    let orders: Vec<SupplyOrder> = s
        .receipts
        .iter()
        .map(|r| SupplyOrder {
            id: r.id.clone(),
            kind: if source.get(r.item.as_str()) == Some(&mrp::Source::Buy) {
                SupplyKind::Purchase
            } else {
                SupplyKind::Production
            },
            item: r.item.clone(),
            supplier: None,
            quantity: Qty(r.quantity),
            received: Qty::ZERO,
            due_date: r.date,
            status: SupplyStatus::Open,
            location: Some(location.to_owned()),
        })
        .collect();
    supply::put_supply_orders(txn, &orders, "receipts").await?;
    summary.supply_orders = orders.len();

    // Stock at the location without a lot, then one batch of adjustments
    // that brings it to the file's figures.
    let mut have: std::collections::HashMap<(String, StockStatus), i64> = Default::default();
    let mut after = None;
    loop {
        let q = PositionQuery {
            location: Some(location.to_owned()),
            lot: Some(String::new()),
            include_zero: Some(true),
            after: after.clone(),
            limit: Some(1000),
            ..Default::default()
        };
        let page = ledger::positions(txn, &q).await?;
        for p in &page.rows {
            have.insert((p.item.clone(), p.status), crate::qty::to_micros(p.quantity.0, "quantity").unwrap_or(0));
        }
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    let mut adjustments = Vec::new();
    for (i, it) in s.items.iter().enumerate() {
        for (status, target, field) in
            [(StockStatus::Available, it.on_hand, "on_hand"), (StockStatus::QualityHold, it.on_hold, "on_hold")]
        {
            let target = crate::qty::to_micros(target, &format!("items[{i}].{field}"))?;
            let now = have.get(&(it.id.clone(), status)).copied().unwrap_or(0);
            if now != target {
                adjustments.push(MovementBody {
                    kind: MovementKind::Adjustment,
                    item: it.id.clone(),
                    lot: String::new(),
                    quantity: Qty::from_micros(target - now),
                    location: location.to_owned(),
                    status: Some(status),
                    to_location: None,
                    to_status: None,
                    reason: Some("scenario import".into()),
                    reference: Some(s.name.clone()),
                });
            }
        }
    }
    let postings: Vec<(&str, &MovementBody)> = adjustments.iter().map(|b| (actor, b)).collect();
    for result in ledger::post_movements(txn, &postings).await? {
        result?;
    }
    summary.adjustments = adjustments.len();
    planning::set_default_calendar(
        txn,
        &CalendarBody { start: s.calendar.start, bucket_days: s.calendar.bucket_days, periods: s.calendar.periods },
    )
    .await?;
    Ok(summary)
}

/// The live data as a scenario file over `calendar` (default: the stored
/// planning calendar): exactly what `POST /mrp/runs` would plan.
pub async fn export_scenario(
    conn: &impl ConnectionTrait,
    name: &str,
    calendar: Option<CalendarBody>,
) -> Result<String, StoreError> {
    let calendar = match calendar {
        Some(c) => c,
        None => planning::default_calendar(conn).await?,
    };
    calendar.validate("")?;
    let s = planning::live_scenario(conn, name, calendar).await?;
    Ok(serde_json::to_string_pretty(&mrp::export::ScenarioDocument(&s)).expect("scenario serialises"))
}
