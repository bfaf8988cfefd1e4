//! Planned-order release as the durable release workflow runs it: a firmed
//! planned order becomes a work order (make) or a purchase requisition
//! (buy), at most once. The order's status guard is the idempotency key: an
//! order that is already released reports the earlier release instead of
//! releasing again, and the requisition or work-order notification for the
//! ERP is unique per order.

use sea_orm::{ConnectionTrait, EntityTrait};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::entity::planned_order;
use crate::error::StoreError;
use crate::names::PlannedStatus;
use crate::planning::{self, PlannedAction};
use crate::qty::Qty;
use crate::quality::record_notification;

/// What releasing one planned order did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReleaseOutcome {
    /// The planned order.
    pub planned_order: i64,
    /// `make` or `buy`.
    pub kind: String,
    /// `work_order` (make) or `purchase_requisition` (buy).
    pub released_as: String,
    /// True when this call released it; false when it was released before
    /// (a retried activity or a second request).
    pub released_now: bool,
    /// Status after the call.
    pub status: String,
}

fn released_as(kind: &str) -> &'static str {
    if kind == "make" { "work_order" } else { "purchase_requisition" }
}

/// Checks that a planned order exists and is firmed (nothing is written).
pub async fn check_release(conn: &impl ConnectionTrait, id: i64) -> Result<(), StoreError> {
    let order = planned_order::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or_else(|| StoreError::not_found("planned order", id.to_string()))?;
    if order.status != PlannedStatus::Firmed.as_str() {
        return Err(StoreError::conflict(
            "not_firmed",
            format!("planned order {id} is {}; only firmed orders are released by the release workflow", order.status),
        ));
    }
    Ok(())
}

/// Releases a firmed planned order once: moves it to `released` and records
/// the work order or purchase requisition for the ERP. An order already
/// released (or sent to the ERP) is reported, not released again.
pub async fn release_planned_order(
    txn: &impl ConnectionTrait,
    actor: &str,
    id: i64,
    workflow_id: &str,
) -> Result<ReleaseOutcome, StoreError> {
    let order = planned_order::Entity::find_by_id(id)
        .one(txn)
        .await?
        .ok_or_else(|| StoreError::not_found("planned order", id.to_string()))?;
    let already =
        [PlannedStatus::Released.as_str(), PlannedStatus::SentToErp.as_str()].contains(&order.status.as_str());
    let status = if already {
        order.status.clone()
    } else {
        planning::transition(txn, actor, id, PlannedAction::Release).await?.status.as_str().to_owned()
    };
    let payload = serde_json::json!({
        "planned_order": id,
        "order_ref": order.order_ref,
        "item": order.item,
        "kind": order.kind,
        "quantity": Qty::from_micros(order.quantity),
        "release_date": order.release_date,
        "due_date": order.due_date,
        "workflow": workflow_id,
    });
    let as_what = released_as(&order.kind);
    record_notification(txn, &format!("planned_order:{id}:release"), as_what, workflow_id, &payload).await?;
    Ok(ReleaseOutcome {
        planned_order: id,
        kind: order.kind,
        released_as: as_what.to_owned(),
        released_now: !already,
        status,
    })
}
