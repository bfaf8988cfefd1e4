//! Activities: each is one `store` transaction through the same service
//! layer as the API, and idempotent, so Temporal may retry it after a crash
//! or timeout without posting anything twice (see `store::quality`).

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use store::quality::{self, HoldRequest, InspectionLot, LotStarted, ReceiptRequest, UsageDecision};
use store::release::{self, ReleaseOutcome};
use store::{Store, StoreError};
use temporalio_macros::activities;
use temporalio_sdk::ApplicationFailure;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

/// Test hook: `TAKT_TEST_APPLY_PAUSE=<ms>` makes the worker sleep that long
/// right after a usage decision's transaction committed and before the
/// activity reports back, so a test can kill the worker in between.
pub const APPLY_PAUSE_ENV: &str = "TAKT_TEST_APPLY_PAUSE";

/// The activities, with the database they work on.
pub struct QualityActivities {
    store: Store,
    apply_pause: Option<Duration>,
}

impl QualityActivities {
    /// Activities over `store` (reads [`APPLY_PAUSE_ENV`]).
    pub fn new(store: Store) -> QualityActivities {
        let apply_pause = std::env::var(APPLY_PAUSE_ENV).ok().and_then(|v| v.parse().ok()).map(Duration::from_millis);
        QualityActivities { store, apply_pause }
    }
}

impl QualityActivities {
    /// The lot an earlier attempt of this workflow's first activity posted,
    /// read without taking the write queue (which an API request waiting on
    /// this very workflow may hold).
    async fn posted(&self, workflow_id: &str) -> Result<Option<LotStarted>, ActivityError> {
        Ok(quality::find_by_workflow(self.store.conn(), workflow_id).await.map_err(failure)?.map(|lot| LotStarted {
            id: lot.id,
            quantity: lot.quantity,
            skipped: lot.sampling_plan["method"] == "skip",
            inspection_seconds: lot.inspection_seconds.max(1) as u64,
        }))
    }
}

/// Business refusals fail the activity for good (the workflow sees the
/// error); database trouble is retried.
fn failure(e: StoreError) -> ActivityError {
    match e {
        StoreError::Database(_) => ActivityError::application(ApplicationFailure::new(e)),
        other => ActivityError::application(ApplicationFailure::non_retryable(other)),
    }
}

/// Input of [`QualityActivities::post_receipt`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PostReceipt {
    /// The workflow (the idempotency key).
    pub workflow_id: String,
    /// Who posted the receipt.
    pub actor: String,
    /// What was received.
    pub request: ReceiptRequest,
}

/// Input of [`QualityActivities::place_hold`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlaceHold {
    /// The workflow (the idempotency key).
    pub workflow_id: String,
    /// Who placed the hold.
    pub actor: String,
    /// What to hold.
    pub request: HoldRequest,
}

/// Input of [`QualityActivities::release_planned_order`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleaseOrder {
    /// The workflow.
    pub workflow_id: String,
    /// Who asked for the release.
    pub actor: String,
    /// The planned order and how to release it.
    pub release: store::shop::ReleaseBody,
}

#[activities]
impl QualityActivities {
    /// Posts a receipt into `quality_hold` and opens its inspection lot.
    #[activity]
    pub async fn post_receipt(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: PostReceipt,
    ) -> Result<LotStarted, ActivityError> {
        if let Some(done) = self.posted(&input.workflow_id).await? {
            return Ok(done);
        }
        self.store
            .write(move |txn| {
                Box::pin(
                    async move { quality::post_receipt(txn, &input.actor, &input.workflow_id, &input.request).await },
                )
            })
            .await
            .map_err(failure)
    }

    /// Moves existing stock to `quality_hold` and opens its inspection lot.
    #[activity]
    pub async fn place_hold(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: PlaceHold,
    ) -> Result<LotStarted, ActivityError> {
        if let Some(done) = self.posted(&input.workflow_id).await? {
            return Ok(done);
        }
        self.store
            .write(move |txn| {
                Box::pin(
                    async move { quality::place_hold(txn, &input.actor, &input.workflow_id, &input.request).await },
                )
            })
            .await
            .map_err(failure)
    }

    /// Raises the escalation alert of a lot without a decision in time.
    #[activity]
    pub async fn escalate(self: Arc<Self>, _ctx: ActivityContext, lot_id: i64) -> Result<(), ActivityError> {
        self.store
            .write(move |txn| Box::pin(async move { quality::escalate(txn, lot_id).await }))
            .await
            .map_err(failure)
    }

    /// Posts the usage decision to the ledger and closes the lot.
    #[activity]
    pub async fn apply_decision(
        self: Arc<Self>,
        _ctx: ActivityContext,
        decision: UsageDecision,
    ) -> Result<InspectionLot, ActivityError> {
        // A retry after the decision committed: report it without the write queue.
        let earlier = quality::get_lot(self.store.conn(), decision.lot_id).await.map_err(failure)?;
        if earlier.status != "open" {
            return Ok(earlier);
        }
        let lot = self
            .store
            .write(move |txn| Box::pin(async move { quality::apply_decision(txn, &decision).await }))
            .await
            .map_err(failure)?;
        if let Some(pause) = self.apply_pause {
            tracing::warn!(lot = lot.id, ?pause, "test pause after the decision committed");
            tokio::time::sleep(pause).await;
        }
        Ok(lot)
    }

    /// Tells the ERP the outcome and completes the lot's step.
    #[activity]
    pub async fn notify_outcome(
        self: Arc<Self>,
        _ctx: ActivityContext,
        lot_id: i64,
    ) -> Result<InspectionLot, ActivityError> {
        self.store
            .write(move |txn| Box::pin(async move { quality::notify_outcome(txn, lot_id).await }))
            .await
            .map_err(failure)
    }

    /// Releases a firmed planned order once.
    #[activity]
    pub async fn release_planned_order(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: ReleaseOrder,
    ) -> Result<ReleaseOutcome, ActivityError> {
        self.store
            .write(move |txn| {
                Box::pin(async move {
                    release::release_planned_order(txn, &input.actor, &input.release, &input.workflow_id).await
                })
            })
            .await
            .map_err(failure)
    }
}
