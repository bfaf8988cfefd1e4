//! Replays recorded workflow histories (`tests/histories/*.json`, written by
//! the API's quality tests with `TAKT_RECORD_HISTORIES`) against the current
//! workflow code, without a server: a change that breaks determinism (a new
//! activity or timer before an old one, a reordered step) fails here before
//! it can break running workflows. The second test proves the check bites.

use std::time::Duration;

use temporalio_client::WorkflowHistory;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::workflow_replayer::{
    WorkflowReplayError, WorkflowReplayFailure, WorkflowReplayer, WorkflowReplayerOptions,
};
use temporalio_sdk::{ActivityOptions, WorkflowContext, WorkflowContextView, WorkflowResult};
use workflows::activities::{PostReceipt, QualityActivities};
use workflows::flows::{InspectionOutcome, PlannedOrderRelease, QualityHold, RawMaterialReceipt, ReceiptInput};

fn histories() -> Vec<(String, WorkflowHistory)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/histories");
    let mut out: Vec<(String, WorkflowHistory)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            let history = WorkflowHistory::from_json(&bytes).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p.file_stem().unwrap().to_string_lossy().into_owned(), history)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[tokio::test]
async fn recorded_histories_replay_with_the_current_code() {
    let options = WorkflowReplayerOptions::new()
        .register_workflow::<RawMaterialReceipt>()
        .unwrap()
        .register_workflow::<QualityHold>()
        .unwrap()
        .register_workflow::<PlannedOrderRelease>()
        .unwrap()
        .build();
    let replayer = WorkflowReplayer::new(options).unwrap();
    let histories = histories();
    let names: Vec<&str> = histories.iter().map(|(n, _)| n.as_str()).collect();
    for expected in ["receipt_release", "receipt_reject", "receipt_partial", "receipt_escalated", "hold_scrap"] {
        assert!(names.contains(&expected), "fixture {expected} is missing: {names:?}");
    }
    for (name, history) in histories {
        replayer.replay_workflow(history).await.unwrap_or_else(|e| panic!("{name} no longer replays: {e}"));
    }
}

/// The receipt workflow with a change that is not replay-safe: a timer
/// before the first activity.
#[workflow]
pub struct ChangedReceipt {
    input: ReceiptInput,
}

#[workflow_methods]
impl ChangedReceipt {
    #[init]
    pub fn new(_ctx: &WorkflowContextView, input: ReceiptInput) -> Self {
        ChangedReceipt { input }
    }

    #[run(name = "RawMaterialReceipt")]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<InspectionOutcome> {
        let input = ctx.state(|s| s.input.clone());
        ctx.timer(Duration::from_secs(1)).await;
        let post =
            PostReceipt { workflow_id: ctx.workflow_id().to_owned(), actor: input.actor, request: input.request };
        let lot = ctx
            .execute_activity(
                QualityActivities::post_receipt,
                post,
                ActivityOptions::start_to_close_timeout(Duration::from_secs(5)),
            )
            .await?;
        Ok(InspectionOutcome {
            lot_id: lot.id,
            status: "open".into(),
            released: lot.quantity,
            rejected: lot.quantity,
            scrapped: lot.quantity,
            escalated: false,
        })
    }
}

#[tokio::test]
async fn a_change_that_breaks_determinism_fails_the_replay() {
    let options = WorkflowReplayerOptions::new().register_workflow::<ChangedReceipt>().unwrap().build();
    let replayer = WorkflowReplayer::new(options).unwrap();
    let (_, history) =
        histories().into_iter().find(|(n, _)| n == "receipt_release").expect("the receipt_release fixture");
    match replayer.replay_workflow(history).await {
        Err(WorkflowReplayError::Replay(WorkflowReplayFailure::Nondeterminism { message })) => {
            assert!(message.contains("Nondeterminism") || message.contains("TMPRL1100"), "{message}");
        }
        other => panic!("expected a nondeterminism error, got {other:?}"),
    }
}
