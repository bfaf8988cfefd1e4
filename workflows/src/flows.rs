//! The workflow definitions. Workflow code is deterministic: it only calls
//! activities, timers and conditions through the context; everything that
//! touches the database happens in [`crate::activities`].
//!
//! Inspection lots (`RawMaterialReceipt`, `QualityHold`) go:
//! post or hold → wait for the usage decision (escalate once when the
//! inspection time runs out, then keep waiting) → apply the decision →
//! notify the ERP. Decisions arrive as the `decide` update: it returns only
//! once the workflow has accepted the decision, and its validator refuses a
//! second decision or quantities that do not add up.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use store::qty::Qty;
use store::quality::{HoldRequest, InspectionLot, LotStarted, ReceiptRequest, UsageDecision, step};
use store::release::ReleaseOutcome;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{
    ActivityOptions, SyncWorkflowContext, WorkflowContext, WorkflowContextView, WorkflowResult, workflows::select,
};

use crate::activities::{PlaceHold, PostReceipt, QualityActivities, ReleaseOrder};

/// The step a workflow is at before its first activity finished.
pub const STARTING: &str = "starting";
/// The step right after the `decide` update was accepted.
pub const DECISION_ACCEPTED: &str = "decision_accepted";

/// The validator's refusal while the workflow has not yet seen its lot
/// posted (after a worker crash the posting activity may still be retried);
/// the client retries on it.
pub const NOT_POSTED_YET: &str = "the inspection lot is not posted yet; retry";

/// Inspector name on the automatic release of a skip-lot.
pub const SKIP_LOT_INSPECTOR: &str = "skip-lot";

/// Timing knobs carried in the workflow input (so replays see the same).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timing {
    /// Start-to-close timeout of each activity, seconds: how soon a crashed
    /// worker's activity is retried elsewhere.
    pub activity_timeout_secs: u64,
}

impl Default for Timing {
    fn default() -> Self {
        Timing { activity_timeout_secs: 30 }
    }
}

fn activity_options(timing: Timing) -> ActivityOptions {
    ActivityOptions::start_to_close_timeout(Duration::from_secs(timing.activity_timeout_secs.max(1)))
}

/// What an inspection workflow returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InspectionOutcome {
    /// The inspection lot.
    pub lot_id: i64,
    /// Its final status.
    pub status: String,
    /// Released quantity.
    pub released: Qty,
    /// Rejected quantity.
    pub rejected: Qty,
    /// Scrapped quantity.
    pub scrapped: Qty,
    /// Whether the inspection time ran out before the decision.
    pub escalated: bool,
}

/// What the `status` query answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowStatus {
    /// Current step.
    pub step: String,
    /// The inspection lot, once posted.
    pub lot_id: Option<i64>,
    /// Whether a decision was accepted.
    pub decided: bool,
}

type ValidatorResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// The state both inspection workflows share.
#[derive(Debug, Clone, Default)]
pub struct LotState {
    lot: Option<LotStarted>,
    decision: Option<UsageDecision>,
    step: String,
    escalated: bool,
}

impl LotState {
    fn validate(&self, d: &UsageDecision) -> ValidatorResult {
        let Some(lot) = &self.lot else {
            return Err(NOT_POSTED_YET.into());
        };
        if lot.id != d.lot_id {
            return Err(format!("this workflow handles inspection lot {}, not {}", lot.id, d.lot_id).into());
        }
        if let Some(earlier) = &self.decision {
            return Err(format!("a usage decision by {} was already accepted", earlier.inspector).into());
        }
        if d.released.0 + d.rejected.0 + d.scrapped.0 != lot.quantity.0 {
            return Err(format!("the decision does not add up to the lot quantity {}", lot.quantity).into());
        }
        Ok(())
    }

    fn accept(&mut self, d: UsageDecision) -> String {
        self.decision = Some(d);
        self.step = DECISION_ACCEPTED.into();
        self.step.clone()
    }

    fn status(&self) -> WorkflowStatus {
        WorkflowStatus {
            step: self.step.clone(),
            lot_id: self.lot.as_ref().map(|l| l.id),
            decided: self.decision.is_some(),
        }
    }
}

/// Access to the shared state, so one function can drive both workflows.
pub trait HasLotState {
    /// The state.
    fn lot_state(&self) -> &LotState;
    /// The state, to change.
    fn lot_state_mut(&mut self) -> &mut LotState;
}

/// Waits for the decision (escalating once when the inspection time runs
/// out), applies it and notifies the ERP.
async fn decide_and_finish<W: HasLotState + 'static>(
    ctx: &mut WorkflowContext<W>,
    lot: LotStarted,
    timing: Timing,
) -> WorkflowResult<InspectionOutcome> {
    ctx.state_mut(|s| {
        let st = s.lot_state_mut();
        st.lot = Some(lot.clone());
        st.step = step::AWAITING_DECISION.into();
    });
    if lot.skipped {
        ctx.state_mut(|s| {
            s.lot_state_mut().accept(UsageDecision {
                lot_id: lot.id,
                decision: quality::DecisionKind::Release,
                released: lot.quantity,
                rejected: Qty::ZERO,
                scrapped: Qty::ZERO,
                inspector: SKIP_LOT_INSPECTOR.into(),
                note: Some("skip-lot: released without inspection".into()),
            });
        });
    }
    let decided_in_time = select! {
        _ = ctx.wait_condition(|s: &W| s.lot_state().decision.is_some()) => true,
        _ = ctx.timer(Duration::from_secs(lot.inspection_seconds)) => false,
    };
    if !decided_in_time && ctx.state(|s| s.lot_state().decision.is_none()) {
        ctx.execute_activity(QualityActivities::escalate, lot.id, activity_options(timing)).await?;
        ctx.state_mut(|s| {
            let st = s.lot_state_mut();
            st.escalated = true;
            if st.decision.is_none() {
                st.step = step::ESCALATED.into();
            }
        });
        ctx.wait_condition(|s: &W| s.lot_state().decision.is_some()).await?;
    }
    let decision = ctx.state(|s| s.lot_state().decision.clone()).expect("a decision was accepted");
    let decided: InspectionLot =
        ctx.execute_activity(QualityActivities::apply_decision, decision, activity_options(timing)).await?;
    ctx.state_mut(|s| s.lot_state_mut().step = step::DECIDED.into());
    let done: InspectionLot =
        ctx.execute_activity(QualityActivities::notify_outcome, decided.id, activity_options(timing)).await?;
    let escalated = ctx.state_mut(|s| {
        let st = s.lot_state_mut();
        st.step = step::COMPLETED.into();
        st.escalated
    });
    Ok(InspectionOutcome {
        lot_id: done.id,
        status: done.status,
        released: done.released,
        rejected: done.rejected,
        scrapped: done.scrapped,
        escalated,
    })
}

// ---- raw-material receipt ----------------------------------------------------------

/// Input of the receipt workflow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReceiptInput {
    /// Who posted the receipt.
    pub actor: String,
    /// What was received.
    pub request: ReceiptRequest,
    /// Timeouts.
    pub timing: Timing,
}

/// A purchase-order receipt through inspection: posted into `quality_hold`,
/// an inspection lot with its sampling plan, the inspector's usage decision
/// (release, reject, partial), the ERP told.
#[workflow]
pub struct RawMaterialReceipt {
    input: ReceiptInput,
    state: LotState,
}

impl HasLotState for RawMaterialReceipt {
    fn lot_state(&self) -> &LotState {
        &self.state
    }
    fn lot_state_mut(&mut self) -> &mut LotState {
        &mut self.state
    }
}

#[workflow_methods]
impl RawMaterialReceipt {
    /// Takes the input.
    #[init]
    pub fn new(_ctx: &WorkflowContextView, input: ReceiptInput) -> Self {
        RawMaterialReceipt { input, state: LotState { step: STARTING.into(), ..Default::default() } }
    }

    /// Runs the receipt to its end.
    #[run(name = "RawMaterialReceipt")]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<InspectionOutcome> {
        let input = ctx.state(|s| s.input.clone());
        let post = PostReceipt {
            workflow_id: ctx.workflow_id().to_owned(),
            actor: input.actor.clone(),
            request: input.request.clone(),
        };
        let lot = ctx.execute_activity(QualityActivities::post_receipt, post, activity_options(input.timing)).await?;
        decide_and_finish(ctx, lot, input.timing).await
    }

    /// Refuses a decision that is not for this lot, comes second, or does not add up.
    #[update_validator(decide)]
    pub fn validate_decide(&self, _ctx: &WorkflowContextView, d: &UsageDecision) -> ValidatorResult {
        self.state.validate(d)
    }

    /// The inspector's usage decision; returns the step after accepting it.
    #[update]
    pub fn decide(&mut self, _ctx: &mut SyncWorkflowContext<Self>, d: UsageDecision) -> String {
        self.state.accept(d)
    }

    /// The current step.
    #[query]
    pub fn status(&self, _ctx: &WorkflowContextView) -> WorkflowStatus {
        self.state.status()
    }
}

// ---- quality hold on existing stock ---------------------------------------------------

/// Input of the hold workflow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HoldInput {
    /// Who placed the hold.
    pub actor: String,
    /// What to hold.
    pub request: HoldRequest,
    /// Timeouts.
    pub timing: Timing,
}

/// Stock already in the warehouse on hold: moved to `quality_hold` until an
/// inspector releases or scraps it (or splits it).
#[workflow]
pub struct QualityHold {
    input: HoldInput,
    state: LotState,
}

impl HasLotState for QualityHold {
    fn lot_state(&self) -> &LotState {
        &self.state
    }
    fn lot_state_mut(&mut self) -> &mut LotState {
        &mut self.state
    }
}

#[workflow_methods]
impl QualityHold {
    /// Takes the input.
    #[init]
    pub fn new(_ctx: &WorkflowContextView, input: HoldInput) -> Self {
        QualityHold { input, state: LotState { step: STARTING.into(), ..Default::default() } }
    }

    /// Runs the hold to its end.
    #[run(name = "QualityHold")]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<InspectionOutcome> {
        let input = ctx.state(|s| s.input.clone());
        let hold = PlaceHold {
            workflow_id: ctx.workflow_id().to_owned(),
            actor: input.actor.clone(),
            request: input.request.clone(),
        };
        let lot = ctx.execute_activity(QualityActivities::place_hold, hold, activity_options(input.timing)).await?;
        decide_and_finish(ctx, lot, input.timing).await
    }

    /// Refuses a decision that is not for this lot, comes second, or does not add up.
    #[update_validator(decide)]
    pub fn validate_decide(&self, _ctx: &WorkflowContextView, d: &UsageDecision) -> ValidatorResult {
        self.state.validate(d)
    }

    /// The inspector's usage decision; returns the step after accepting it.
    #[update]
    pub fn decide(&mut self, _ctx: &mut SyncWorkflowContext<Self>, d: UsageDecision) -> String {
        self.state.accept(d)
    }

    /// The current step.
    #[query]
    pub fn status(&self, _ctx: &WorkflowContextView) -> WorkflowStatus {
        self.state.status()
    }
}

// ---- planned-order release ------------------------------------------------------------

/// Input of the release workflow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleaseInput {
    /// Who released.
    pub actor: String,
    /// The firmed planned order and, for make orders, the work order's locations.
    pub release: store::shop::ReleaseBody,
    /// Timeouts.
    pub timing: Timing,
}

/// Releases one firmed planned order as a work order or purchase
/// requisition. One workflow id per order, and an activity that reports an
/// earlier release instead of repeating it: an order is never released twice.
#[workflow]
pub struct PlannedOrderRelease {
    input: ReleaseInput,
}

#[workflow_methods]
impl PlannedOrderRelease {
    /// Takes the input.
    #[init]
    pub fn new(_ctx: &WorkflowContextView, input: ReleaseInput) -> Self {
        PlannedOrderRelease { input }
    }

    /// Releases the order.
    #[run(name = "PlannedOrderRelease")]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<ReleaseOutcome> {
        let input = ctx.state(|s| s.input.clone());
        let order = ReleaseOrder {
            workflow_id: ctx.workflow_id().to_owned(),
            actor: input.actor.clone(),
            release: input.release.clone(),
        };
        let outcome = ctx
            .execute_activity(QualityActivities::release_planned_order, order, activity_options(input.timing))
            .await?;
        Ok(outcome)
    }
}
