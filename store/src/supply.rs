//! Demand (customer orders and forecasts) and supply (purchase and
//! production orders with their receipts).

use chrono::{NaiveDate, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::entity::{demand, item, supply_order};
use crate::error::{Problems, StoreError};
use crate::ledger::{self, Movement, MovementBody};
use crate::master::{Page, PageQuery, check_date, check_id};
use crate::names::{DemandKind, MovementKind, StockStatus, SupplyKind, SupplyStatus};
use crate::qty::Qty;

async fn unknown_items<'a>(
    conn: &impl ConnectionTrait,
    ids: impl Iterator<Item = &'a str>,
) -> Result<std::collections::HashSet<String>, StoreError> {
    let wanted: std::collections::BTreeSet<&str> = ids.collect();
    let mut known = std::collections::HashSet::new();
    let wanted: Vec<&str> = wanted.into_iter().collect();
    for chunk in wanted.chunks(500) {
        let found: Vec<String> = item::Entity::find()
            .select_only()
            .column(item::Column::Id)
            .filter(item::Column::Id.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(conn)
            .await?;
        known.extend(found);
    }
    Ok(wanted.into_iter().filter(|w| !known.contains(*w)).map(str::to_owned).collect())
}

fn field(prefix: &str, name: &str) -> String {
    if prefix.is_empty() { name.to_owned() } else { format!("{prefix}.{name}") }
}

fn element(prefix: &str, i: usize, single: bool) -> String {
    if single && prefix.is_empty() { String::new() } else { format!("{prefix}[{i}]") }
}

// ---- demand -----------------------------------------------------------------

/// A customer order line or forecast.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Demand {
    /// Demand id (order line or forecast id); pegging refers to it.
    pub id: String,
    /// The item demanded.
    pub item: String,
    /// Requirement date.
    pub date: NaiveDate,
    /// Quantity (≥ 0).
    #[schema(value_type = String)]
    pub quantity: Qty,
    /// `order` or `forecast`.
    pub kind: DemandKind,
    /// Customer, for orders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
}

impl Demand {
    fn from_model(d: demand::Model) -> Demand {
        Demand {
            id: d.id,
            item: d.item,
            date: d.due_date,
            quantity: Qty::from_micros(d.quantity),
            kind: DemandKind::parse(&d.kind).unwrap_or(DemandKind::Order),
            customer: d.customer,
        }
    }
}

/// Creates or replaces demand lines (one or many, in one transaction).
pub async fn put_demands(txn: &impl ConnectionTrait, rows: &[Demand], prefix: &str) -> Result<(), StoreError> {
    let mut problems = Problems::default();
    let unknown = unknown_items(txn, rows.iter().map(|d| d.item.as_str())).await?;
    let mut seen = std::collections::HashSet::new();
    let mut models = Vec::new();
    for (i, d) in rows.iter().enumerate() {
        let p = element(prefix, i, rows.len() == 1);
        check_id(&field(&p, "id"), &d.id, &mut problems);
        if !seen.insert(d.id.as_str()) {
            problems.push(field(&p, "id"), "duplicate id");
        }
        if unknown.contains(&d.item) {
            problems.push(field(&p, "item"), format!("'{}' is not an item", d.item));
        }
        check_date(&field(&p, "date"), d.date, &mut problems);
        let q = d.quantity.micros(&field(&p, "quantity")).unwrap_or_else(|e| {
            if let StoreError::Invalid(l) = e {
                problems.0.extend(l);
            }
            0
        });
        if q < 0 {
            problems.push(field(&p, "quantity"), "must not be negative");
        }
        let now = Utc::now();
        models.push(demand::ActiveModel {
            id: Set(d.id.clone()),
            item: Set(d.item.clone()),
            due_date: Set(d.date),
            quantity: Set(q),
            kind: Set(d.kind.as_str().to_owned()),
            customer: Set(d.customer.clone()),
            created_at: Set(now),
            updated_at: Set(now),
        });
    }
    problems.finish()?;
    for chunk in models.chunks(200) {
        demand::Entity::insert_many(chunk.to_vec())
            .on_conflict(
                OnConflict::column(demand::Column::Id)
                    .update_columns([
                        demand::Column::Item,
                        demand::Column::DueDate,
                        demand::Column::Quantity,
                        demand::Column::Kind,
                        demand::Column::Customer,
                        demand::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(txn)
            .await?;
    }
    Ok(())
}

/// A page of demand, optionally of one item, in id order.
pub async fn list_demands(
    conn: &impl ConnectionTrait,
    page: &PageQuery,
    item_id: Option<&str>,
) -> Result<Page<Demand>, StoreError> {
    let limit = page.limit()?;
    let mut q = demand::Entity::find().order_by_asc(demand::Column::Id).limit(limit + 1);
    if let Some(after) = &page.after {
        q = q.filter(demand::Column::Id.gt(after.clone()));
    }
    if let Some(i) = item_id {
        q = q.filter(demand::Column::Item.eq(i));
    }
    let rows = q.all(conn).await?.into_iter().map(Demand::from_model).collect();
    Ok(Page::from_rows(rows, limit, |d: &Demand| d.id.clone()))
}

/// Every demand line (for MRP).
pub async fn all_demands(conn: &impl ConnectionTrait) -> Result<Vec<Demand>, StoreError> {
    Ok(demand::Entity::find()
        .order_by_asc(demand::Column::Id)
        .all(conn)
        .await?
        .into_iter()
        .map(Demand::from_model)
        .collect())
}

/// Deletes a demand line (an order shipped or withdrawn).
pub async fn delete_demand(txn: &impl ConnectionTrait, id: &str) -> Result<(), StoreError> {
    let res = demand::Entity::delete_by_id(id.to_owned()).exec(txn).await?;
    if res.rows_affected == 0 {
        return Err(StoreError::not_found("demand", id));
    }
    Ok(())
}

// ---- supply -----------------------------------------------------------------

/// A purchase or production order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SupplyOrder {
    /// Order number.
    pub id: String,
    /// `purchase` (default) or `production`.
    #[serde(default = "purchase")]
    pub kind: SupplyKind,
    /// The item supplied.
    pub item: String,
    /// Supplier, for purchases.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supplier: Option<String>,
    /// Ordered quantity (> 0).
    #[schema(value_type = String)]
    pub quantity: Qty,
    /// Received so far (set by receipts, not by clients).
    #[serde(default)]
    #[schema(value_type = String)]
    pub received: Qty,
    /// Due date.
    pub due_date: NaiveDate,
    /// `open` (default), `closed` or `cancelled`. Only open orders are
    /// scheduled receipts for MRP, for their open quantity.
    #[serde(default = "open")]
    pub status: SupplyStatus,
    /// Receiving location.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

fn purchase() -> SupplyKind {
    SupplyKind::Purchase
}

fn open() -> SupplyStatus {
    SupplyStatus::Open
}

impl SupplyOrder {
    fn from_model(s: supply_order::Model) -> SupplyOrder {
        SupplyOrder {
            id: s.id,
            kind: SupplyKind::parse(&s.kind).unwrap_or(SupplyKind::Purchase),
            item: s.item,
            supplier: s.supplier,
            quantity: Qty::from_micros(s.quantity),
            received: Qty::from_micros(s.received),
            due_date: s.due_date,
            status: SupplyStatus::parse(&s.status).unwrap_or(SupplyStatus::Open),
            location: s.location,
        }
    }

    /// Quantity still expected.
    pub fn open_quantity(&self) -> Qty {
        Qty((self.quantity.0 - self.received.0).max(rust_decimal::Decimal::ZERO))
    }
}

/// Creates or replaces supply orders. What has been received is kept: a
/// client cannot set `received`, and an order cannot drop below it.
pub async fn put_supply_orders(
    txn: &impl ConnectionTrait,
    rows: &[SupplyOrder],
    prefix: &str,
) -> Result<(), StoreError> {
    let mut problems = Problems::default();
    let unknown = unknown_items(txn, rows.iter().map(|d| d.item.as_str())).await?;
    let mut seen = std::collections::HashSet::new();
    let mut models = Vec::new();
    for (i, s) in rows.iter().enumerate() {
        let p = element(prefix, i, rows.len() == 1);
        check_id(&field(&p, "id"), &s.id, &mut problems);
        if !seen.insert(s.id.as_str()) {
            problems.push(field(&p, "id"), "duplicate id");
        }
        if unknown.contains(&s.item) {
            problems.push(field(&p, "item"), format!("'{}' is not an item", s.item));
        }
        check_date(&field(&p, "due_date"), s.due_date, &mut problems);
        let q = s.quantity.micros(&field(&p, "quantity")).unwrap_or_else(|e| {
            if let StoreError::Invalid(l) = e {
                problems.0.extend(l);
            }
            0
        });
        if q <= 0 && s.quantity.micros("q").is_ok() {
            problems.push(field(&p, "quantity"), "must be greater than 0");
        }
        if !s.received.0.is_zero() {
            problems.push(field(&p, "received"), "is set by posting receipts, not by the client");
        }
        let existing = supply_order::Entity::find_by_id(s.id.clone()).one(txn).await?;
        let received = existing.as_ref().map_or(0, |e| e.received);
        if let Some(e) = &existing {
            if e.item != s.item {
                problems
                    .push(field(&p, "item"), format!("order '{}' is for item '{}' and cannot change", s.id, e.item));
            }
            if q < received {
                problems.push(
                    field(&p, "quantity"),
                    format!("must not be less than the {} already received", Qty::from_micros(received)),
                );
            }
        }
        let now = Utc::now();
        models.push(supply_order::ActiveModel {
            id: Set(s.id.clone()),
            kind: Set(s.kind.as_str().to_owned()),
            item: Set(s.item.clone()),
            supplier: Set(s.supplier.clone()),
            quantity: Set(q),
            received: Set(received),
            due_date: Set(s.due_date),
            status: Set(s.status.as_str().to_owned()),
            location: Set(s.location.clone()),
            created_at: Set(existing.as_ref().map_or(now, |e| e.created_at)),
            updated_at: Set(now),
        });
    }
    problems.finish()?;
    for chunk in models.chunks(200) {
        supply_order::Entity::insert_many(chunk.to_vec())
            .on_conflict(
                OnConflict::column(supply_order::Column::Id)
                    .update_columns([
                        supply_order::Column::Kind,
                        supply_order::Column::Supplier,
                        supply_order::Column::Quantity,
                        supply_order::Column::DueDate,
                        supply_order::Column::Status,
                        supply_order::Column::Location,
                        supply_order::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(txn)
            .await?;
    }
    Ok(())
}

/// One supply order.
pub async fn get_supply_order(conn: &impl ConnectionTrait, id: &str) -> Result<SupplyOrder, StoreError> {
    supply_order::Entity::find_by_id(id.to_owned())
        .one(conn)
        .await?
        .map(SupplyOrder::from_model)
        .ok_or_else(|| StoreError::not_found("supply order", id))
}

/// A page of supply orders, optionally of one item or status, in id order.
pub async fn list_supply_orders(
    conn: &impl ConnectionTrait,
    page: &PageQuery,
    item_id: Option<&str>,
    status: Option<SupplyStatus>,
) -> Result<Page<SupplyOrder>, StoreError> {
    let limit = page.limit()?;
    let mut q = supply_order::Entity::find().order_by_asc(supply_order::Column::Id).limit(limit + 1);
    if let Some(after) = &page.after {
        q = q.filter(supply_order::Column::Id.gt(after.clone()));
    }
    if let Some(i) = item_id {
        q = q.filter(supply_order::Column::Item.eq(i));
    }
    if let Some(s) = status {
        q = q.filter(supply_order::Column::Status.eq(s.as_str()));
    }
    let rows = q.all(conn).await?.into_iter().map(SupplyOrder::from_model).collect();
    Ok(Page::from_rows(rows, limit, |s: &SupplyOrder| s.id.clone()))
}

/// Open supply orders (for MRP).
pub async fn open_supply_orders(conn: &impl ConnectionTrait) -> Result<Vec<SupplyOrder>, StoreError> {
    Ok(supply_order::Entity::find()
        .filter(supply_order::Column::Status.eq(SupplyStatus::Open.as_str()))
        .order_by_asc(supply_order::Column::Id)
        .all(conn)
        .await?
        .into_iter()
        .map(SupplyOrder::from_model)
        .collect())
}

/// A receipt against a supply order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiptBody {
    /// Quantity received (> 0, at most the open quantity).
    #[schema(value_type = String)]
    pub quantity: Qty,
    /// Receiving location (default: the order's).
    #[serde(default)]
    pub location: Option<String>,
    /// Lot or batch number.
    #[serde(default)]
    pub lot: String,
}

/// Posts a receipt against an open supply order: a `receipt` (purchase) or
/// `production_receipt` movement, into `quality_hold` when the item requires
/// inspection; the order closes when fully received.
pub async fn receive(
    txn: &impl ConnectionTrait,
    actor: &str,
    order_id: &str,
    body: &ReceiptBody,
) -> Result<Movement, StoreError> {
    let order = supply_order::Entity::find_by_id(order_id.to_owned())
        .one(txn)
        .await?
        .ok_or_else(|| StoreError::not_found("supply order", order_id))?;
    if order.status != SupplyStatus::Open.as_str() {
        return Err(StoreError::conflict(
            "order_not_open",
            format!("supply order '{order_id}' is {}, not open", order.status),
        ));
    }
    let q = body.quantity.micros("quantity")?;
    if q <= 0 {
        return Err(StoreError::invalid("quantity", "must be greater than 0"));
    }
    let open = order.quantity - order.received;
    if q > open {
        return Err(StoreError::conflict(
            "over_receipt",
            format!("quantity: {} exceeds the open quantity {}", body.quantity, Qty::from_micros(open)),
        ));
    }
    let Some(location) = body.location.clone().or(order.location.clone()) else {
        return Err(StoreError::invalid("location", "is required: the order has no receiving location"));
    };
    let kind = if order.kind == SupplyKind::Production.as_str() {
        MovementKind::ProductionReceipt
    } else {
        MovementKind::Receipt
    };
    let movement = ledger::post_movement(
        txn,
        actor,
        &MovementBody {
            kind,
            item: order.item.clone(),
            lot: body.lot.clone(),
            quantity: body.quantity,
            location,
            status: None,
            to_location: None,
            to_status: None,
            reason: None,
            reference: Some(order_id.to_owned()),
        },
    )
    .await?;
    let received = order.received + q;
    let quantity = order.quantity;
    let mut active: supply_order::ActiveModel = order.into();
    active.received = Set(received);
    if received >= quantity {
        active.status = Set(SupplyStatus::Closed.as_str().to_owned());
    }
    active.updated_at = Set(Utc::now());
    active.update(txn).await?;
    debug_assert!(movement.to_status.is_some_and(|s| s == StockStatus::Available || s == StockStatus::QualityHold));
    Ok(movement)
}
