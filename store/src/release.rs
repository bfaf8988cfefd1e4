//! Planned-order release as the durable release workflow runs it: a firmed
//! planned make-order becomes a work order ([`crate::shop::release_work_order`]),
//! a buy order a purchase requisition, at most once. Each release is
//! idempotent: an order that already has its work order, or a buy order
//! already released, reports the earlier release instead of releasing
//! again, and the ERP notification is unique per order.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, TransactionSession, TransactionTrait};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::entity::{planned_order, work_order};
use crate::error::StoreError;
use crate::names::{PlannedStatus, Source};
use crate::planning::{self, PlannedAction};
use crate::qty::Qty;
use crate::quality::record_notification;
use crate::shop::{self, ReleaseBody};

/// What releasing one planned order did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReleaseOutcome {
    /// The planned order.
    pub planned_order: i64,
    /// `make` or `buy`.
    pub kind: String,
    /// `work_order` (make) or `purchase_requisition` (buy).
    pub released_as: String,
    /// The work order (make orders).
    pub work_order: Option<i64>,
    /// True when this call released it; false when it was released before
    /// (a retried activity).
    pub released_now: bool,
    /// The planned order's status after the call.
    pub status: String,
}

fn released_as(kind: &str) -> &'static str {
    if kind == Source::Make.as_str() { "work_order" } else { "purchase_requisition" }
}

async fn find(conn: &impl ConnectionTrait, id: i64) -> Result<planned_order::Model, StoreError> {
    planned_order::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or_else(|| StoreError::not_found("planned order", id.to_string()))
}

/// Checks a release before its workflow starts, writing nothing: the order
/// is firmed, and a make order's work order can be released now (routing,
/// locations, component stock), tried inside a savepoint that is rolled back.
pub async fn check_release<C: ConnectionTrait + TransactionTrait>(
    txn: &C,
    body: &ReleaseBody,
) -> Result<(), StoreError> {
    let order = find(txn, body.planned_order).await?;
    if order.status != PlannedStatus::Firmed.as_str() {
        return Err(StoreError::conflict(
            "not_firmed",
            format!(
                "planned order {} is {}; only firmed orders are released by the release workflow",
                order.id, order.status
            ),
        ));
    }
    if order.kind == Source::Make.as_str() {
        let trial = txn.begin().await?;
        let tried = shop::release_work_order(&trial, "check", body).await;
        trial.rollback().await?;
        tried?;
    }
    Ok(())
}

/// Releases a firmed planned order once: a make order as a work order, a
/// buy order as a purchase requisition (the order becomes `released`), and
/// records it for the ERP. An order released before is reported, not
/// released again.
pub async fn release_planned_order(
    txn: &impl ConnectionTrait,
    actor: &str,
    body: &ReleaseBody,
    workflow_id: &str,
) -> Result<ReleaseOutcome, StoreError> {
    let id = body.planned_order;
    let order = find(txn, id).await?;
    let make = order.kind == Source::Make.as_str();
    let (work_order, released_now) = if make {
        let existing = work_order::Entity::find().filter(work_order::Column::PlannedOrderId.eq(id)).one(txn).await?;
        match existing {
            Some(wo) => (Some(wo.id), false),
            None => (Some(shop::release_work_order(txn, actor, body).await?.id), true),
        }
    } else if [PlannedStatus::Released.as_str(), PlannedStatus::SentToErp.as_str()].contains(&order.status.as_str()) {
        (None, false)
    } else {
        planning::transition(txn, actor, id, PlannedAction::Release).await?;
        (None, true)
    };
    let status = find(txn, id).await?.status;
    let as_what = released_as(&order.kind);
    let payload = serde_json::json!({
        "planned_order": id,
        "order_ref": order.order_ref,
        "item": order.item,
        "kind": order.kind,
        "quantity": Qty::from_micros(order.quantity),
        "release_date": order.release_date,
        "due_date": order.due_date,
        "work_order": work_order,
        "workflow": workflow_id,
    });
    record_notification(txn, &format!("planned_order:{id}:release"), as_what, workflow_id, &payload).await?;
    Ok(ReleaseOutcome {
        planned_order: id,
        kind: order.kind,
        released_as: as_what.to_owned(),
        work_order,
        released_now,
        status,
    })
}
