//! Finished-goods distribution: transfer orders move stock from the plant
//! to distribution centres. Shipping moves it into `in_transit` at the
//! destination; receiving moves it from there into `available`. MRP, which
//! plans items across all locations, sees stock in transit as a scheduled
//! receipt `transfer:<id>` on the order's due date.

use chrono::{NaiveDate, Utc};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::entity::{item, location, transfer_order};
use crate::error::{Problems, StoreError};
use crate::ledger::{self, Movement, MovementBody};
use crate::master::{check_date, check_id};
use crate::names::{LocationKind, MovementKind, StockStatus, TransferStatus};
use crate::qty::Qty;
use crate::shop::{ShopEvent, record_events};

/// A transfer order as created and shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferOrder {
    /// Transfer order number.
    pub id: String,
    /// The item moved.
    pub item: String,
    /// The lot moved ("" for stock without lots).
    #[serde(default)]
    pub lot: String,
    /// Quantity to move (> 0).
    #[schema(value_type = String)]
    pub quantity: Qty,
    /// Shipping location (its `available` stock).
    pub from_location: String,
    /// Receiving location.
    pub to_location: String,
    /// Expected arrival.
    pub due_date: NaiveDate,
    /// Shipped so far (read only).
    #[serde(default)]
    #[schema(value_type = String)]
    pub shipped: Qty,
    /// Received so far (read only).
    #[serde(default)]
    #[schema(value_type = String)]
    pub received: Qty,
    /// `open`, `in_transit`, `received` or `cancelled` (read only).
    #[serde(default = "open")]
    pub status: TransferStatus,
}

fn open() -> TransferStatus {
    TransferStatus::Open
}

impl TransferOrder {
    fn from_model(m: transfer_order::Model) -> TransferOrder {
        TransferOrder {
            id: m.id,
            item: m.item,
            lot: m.lot,
            quantity: Qty::from_micros(m.quantity),
            from_location: m.from_location,
            to_location: m.to_location,
            due_date: m.due_date,
            shipped: Qty::from_micros(m.shipped),
            received: Qty::from_micros(m.received),
            status: TransferStatus::parse(&m.status).unwrap_or(TransferStatus::Open),
        }
    }
}

/// A shipment or receipt against a transfer order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferStep {
    /// Quantity (default: all that is left to ship or receive).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub quantity: Option<Qty>,
}

/// Creates a transfer order (refused when the id exists).
pub async fn create_transfer_order(txn: &impl ConnectionTrait, t: &TransferOrder) -> Result<TransferOrder, StoreError> {
    let mut problems = Problems::default();
    check_id("id", &t.id, &mut problems);
    check_date("due_date", t.due_date, &mut problems);
    if t.lot.chars().count() > crate::master::MAX_ID_LEN {
        problems.push("lot", format!("must be at most {} characters", crate::master::MAX_ID_LEN));
    }
    let quantity = match t.quantity.micros("quantity") {
        Ok(q) if q > 0 => q,
        Ok(_) => {
            problems.push("quantity", "must be greater than 0");
            0
        }
        Err(StoreError::Invalid(list)) => {
            problems.0.extend(list);
            0
        }
        Err(e) => return Err(e),
    };
    if item::Entity::find_by_id(t.item.clone()).one(txn).await?.is_none() {
        problems.push("item", format!("'{}' is not an item", t.item));
    }
    for (field, id) in [("from_location", &t.from_location), ("to_location", &t.to_location)] {
        match location::Entity::find_by_id(id.clone()).one(txn).await? {
            None => problems.push(field, format!("'{id}' is not a location")),
            Some(l) if l.kind == LocationKind::WipArea.as_str() => problems
                .push(field, format!("'{id}' is a wip_area; transfer orders move stock between stocking locations")),
            Some(_) => {}
        }
    }
    if t.from_location == t.to_location {
        problems.push("to_location", "must differ from from_location");
    }
    if t.shipped != Qty::ZERO || t.received != Qty::ZERO || t.status != TransferStatus::Open {
        problems.push("status", "shipped, received and status are set by shipping and receiving, not on creation");
    }
    problems.finish()?;
    if transfer_order::Entity::find_by_id(t.id.clone()).one(txn).await?.is_some() {
        return Err(StoreError::conflict("exists", format!("transfer order '{}' already exists", t.id)));
    }
    let now = Utc::now();
    let m = transfer_order::ActiveModel {
        id: Set(t.id.clone()),
        item: Set(t.item.clone()),
        lot: Set(t.lot.clone()),
        quantity: Set(quantity),
        from_location: Set(t.from_location.clone()),
        to_location: Set(t.to_location.clone()),
        due_date: Set(t.due_date),
        shipped: Set(0),
        received: Set(0),
        status: Set(TransferStatus::Open.as_str().to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(txn)
    .await?;
    Ok(TransferOrder::from_model(m))
}

/// One transfer order.
pub async fn get_transfer_order(conn: &impl ConnectionTrait, id: &str) -> Result<TransferOrder, StoreError> {
    transfer_order::Entity::find_by_id(id.to_owned())
        .one(conn)
        .await?
        .map(TransferOrder::from_model)
        .ok_or_else(|| StoreError::not_found("transfer order", id))
}

/// Transfer orders, optionally of one status, by id.
pub async fn list_transfer_orders(
    conn: &impl ConnectionTrait,
    status: Option<TransferStatus>,
) -> Result<Vec<TransferOrder>, StoreError> {
    let mut find = transfer_order::Entity::find().order_by_asc(transfer_order::Column::Id);
    if let Some(s) = status {
        find = find.filter(transfer_order::Column::Status.eq(s.as_str()));
    }
    Ok(find.all(conn).await?.into_iter().map(TransferOrder::from_model).collect())
}

fn step_quantity(step: &TransferStep, left: i64, what: &str, id: &str) -> Result<i64, StoreError> {
    let q = match step.quantity {
        None => left,
        Some(q) => q.micros("quantity")?,
    };
    if q <= 0 {
        return Err(if left == 0 {
            StoreError::conflict("nothing_left", format!("transfer order '{id}' has nothing left to {what}"))
        } else {
            StoreError::invalid("quantity", "must be greater than 0")
        });
    }
    if q > left {
        return Err(StoreError::conflict(
            "over_transfer",
            format!(
                "quantity: {} exceeds the {} left to {what} on transfer order '{id}'",
                Qty::from_micros(q),
                Qty::from_micros(left)
            ),
        ));
    }
    Ok(q)
}

/// Ships (part of) a transfer order: `available` stock at the shipping
/// location moves to `in_transit` at the receiving location.
pub async fn ship(
    txn: &impl ConnectionTrait,
    actor: &str,
    id: &str,
    step: &TransferStep,
) -> Result<(TransferOrder, Movement), StoreError> {
    move_stock(txn, actor, id, step, true).await
}

/// Receives (part of) what was shipped: `in_transit` becomes `available`.
pub async fn receive(
    txn: &impl ConnectionTrait,
    actor: &str,
    id: &str,
    step: &TransferStep,
) -> Result<(TransferOrder, Movement), StoreError> {
    move_stock(txn, actor, id, step, false).await
}

async fn move_stock(
    txn: &impl ConnectionTrait,
    actor: &str,
    id: &str,
    step: &TransferStep,
    shipping: bool,
) -> Result<(TransferOrder, Movement), StoreError> {
    let t = transfer_order::Entity::find_by_id(id.to_owned())
        .one(txn)
        .await?
        .ok_or_else(|| StoreError::not_found("transfer order", id))?;
    let status = TransferStatus::parse(&t.status).unwrap_or(TransferStatus::Open);
    if matches!(status, TransferStatus::Cancelled | TransferStatus::Received) {
        return Err(StoreError::conflict("transfer_closed", format!("transfer order '{id}' is {status}")));
    }
    let (what, left) = if shipping { ("ship", t.quantity - t.shipped) } else { ("receive", t.shipped - t.received) };
    let q = step_quantity(step, left, what, id)?;
    let body = MovementBody {
        kind: MovementKind::Transfer,
        item: t.item.clone(),
        lot: t.lot.clone(),
        quantity: Qty::from_micros(q),
        location: if shipping { t.from_location.clone() } else { t.to_location.clone() },
        status: Some(if shipping { StockStatus::Available } else { StockStatus::InTransit }),
        to_location: Some(t.to_location.clone()),
        to_status: Some(if shipping { StockStatus::InTransit } else { StockStatus::Available }),
        reason: Some(if shipping { "shipped" } else { "received" }.to_owned()),
        reference: Some(format!("transfer:{id}")),
    };
    let movement = ledger::post_movement(txn, actor, &body).await?;
    let (shipped, received) = if shipping { (t.shipped + q, t.received) } else { (t.shipped, t.received + q) };
    let new_status = if received == t.quantity {
        TransferStatus::Received
    } else if shipped > received {
        TransferStatus::InTransit
    } else {
        TransferStatus::Open
    };
    let mut a: transfer_order::ActiveModel = t.clone().into();
    a.shipped = Set(shipped);
    a.received = Set(received);
    a.status = Set(new_status.as_str().to_owned());
    a.updated_at = Set(Utc::now());
    let m = a.update(txn).await?;
    let kind = if shipping { "transfer_shipped" } else { "transfer_received" };
    record_events(
        txn,
        &[ShopEvent::new(
            kind,
            serde_json::json!({"transfer_order": id, "item": t.item, "quantity": Qty::from_micros(q),
                "from_location": t.from_location, "to_location": t.to_location}),
        )],
    )
    .await?;
    Ok((TransferOrder::from_model(m), movement))
}

/// Cancels a transfer order that has shipped nothing.
pub async fn cancel(txn: &impl ConnectionTrait, id: &str) -> Result<TransferOrder, StoreError> {
    let t = transfer_order::Entity::find_by_id(id.to_owned())
        .one(txn)
        .await?
        .ok_or_else(|| StoreError::not_found("transfer order", id))?;
    if t.shipped > 0 || t.status != TransferStatus::Open.as_str() {
        return Err(StoreError::conflict(
            "already_shipped",
            format!("transfer order '{id}' is {}; only an open order with nothing shipped can be cancelled", t.status),
        ));
    }
    let mut a: transfer_order::ActiveModel = t.into();
    a.status = Set(TransferStatus::Cancelled.as_str().to_owned());
    a.updated_at = Set(Utc::now());
    Ok(TransferOrder::from_model(a.update(txn).await?))
}

/// For MRP: stock in transit as scheduled receipts `transfer:<id>` (id, item, due date, micros).
pub async fn in_transit_receipts(
    conn: &impl ConnectionTrait,
) -> Result<Vec<(String, String, NaiveDate, i64)>, StoreError> {
    Ok(transfer_order::Entity::find()
        .filter(transfer_order::Column::Status.eq(TransferStatus::InTransit.as_str()))
        .order_by_asc(transfer_order::Column::Id)
        .all(conn)
        .await?
        .into_iter()
        .filter(|t| t.shipped > t.received)
        .map(|t| (format!("transfer:{}", t.id), t.item, t.due_date, t.shipped - t.received))
        .collect())
}
