//! The client side (what the API uses) and the worker.

use std::future::Future;
use std::time::Duration;

use store::Store;
use store::quality::{HoldRequest, ReceiptRequest, UsageDecision};
use temporalio_client::{
    Client, ClientOptions, ConnectionOptions, WorkflowExecuteUpdateOptions, WorkflowIdConflictPolicy,
    WorkflowIdReusePolicy, WorkflowStartOptions,
};
use temporalio_sdk::{Runtime, Worker, WorkerOptions};

use crate::activities::QualityActivities;
use crate::flows::{
    HoldInput, PlannedOrderRelease, QualityHold, RawMaterialReceipt, ReceiptInput, ReleaseInput, Timing,
};

/// The default task queue of Takt's workflows.
pub const DEFAULT_TASK_QUEUE: &str = "takt-quality";
/// The default namespace.
pub const DEFAULT_NAMESPACE: &str = "default";

/// Where Temporal is and how Takt uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowConfig {
    /// Frontend address, `host:port` or `http://host:port` (`TEMPORAL_ADDRESS`).
    pub address: String,
    /// Namespace (`TEMPORAL_NAMESPACE`, default `default`).
    pub namespace: String,
    /// Task queue (`TAKT_TASK_QUEUE`, default `takt-quality`).
    pub task_queue: String,
    /// Activity timeouts put into new workflows.
    pub timing: Timing,
    /// How long the API waits for a workflow to accept a decision.
    pub update_timeout: Duration,
}

impl WorkflowConfig {
    /// A configuration for `address` with the defaults.
    pub fn new(address: impl Into<String>) -> WorkflowConfig {
        WorkflowConfig {
            address: address.into(),
            namespace: DEFAULT_NAMESPACE.into(),
            task_queue: DEFAULT_TASK_QUEUE.into(),
            timing: Timing::default(),
            update_timeout: Duration::from_secs(20),
        }
    }

    fn url(&self) -> Result<temporalio_client::Url, EngineError> {
        let text = if self.address.contains("://") { self.address.clone() } else { format!("http://{}", self.address) };
        temporalio_client::Url::parse(&text).map_err(|e| EngineError::Config(format!("TEMPORAL_ADDRESS {text}: {e}")))
    }
}

/// Why a workflow operation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The configuration is wrong.
    #[error("{0}")]
    Config(String),
    /// Temporal (or a worker) did not answer.
    #[error("workflow service unavailable: {0}")]
    Unavailable(String),
    /// The workflow refused the request (its update validator).
    #[error("{0}")]
    Rejected(String),
    /// A workflow with this id exists already.
    #[error("workflow {0} was started before")]
    AlreadyStarted(String),
    /// The workflow does not exist.
    #[error("workflow {0} not found")]
    NotFound(String),
}

/// Connects a client.
pub async fn connect(config: &WorkflowConfig, identity: &str) -> Result<Client, EngineError> {
    let conn = ConnectionOptions::new(config.url()?)
        .identity(identity.to_owned())
        .connect_timeout(Duration::from_secs(10))
        .build();
    Client::connect(conn, ClientOptions::new(config.namespace.clone()).build())
        .await
        .map_err(|e| EngineError::Unavailable(format!("connecting to Temporal at {}: {e}", config.address)))
}

/// Starts workflows and delivers decisions: what the API holds.
#[derive(Clone)]
pub struct Engine {
    client: Client,
    config: WorkflowConfig,
}

fn random_suffix() -> String {
    let mut bytes = [0u8; 6];
    getrandom::fill(&mut bytes).expect("the OS has randomness");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Which inspection workflow drives a lot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LotWorkflow {
    /// `RawMaterialReceipt`.
    Receipt,
    /// `QualityHold`.
    Hold,
}

impl Engine {
    /// Connects to Temporal.
    pub async fn connect(config: WorkflowConfig) -> Result<Engine, EngineError> {
        let client = connect(&config, "takt-api").await?;
        Ok(Engine { client, config })
    }

    /// The Temporal client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The configuration.
    pub fn config(&self) -> &WorkflowConfig {
        &self.config
    }

    fn start_options(&self, id: &str) -> WorkflowStartOptions {
        WorkflowStartOptions::new(self.config.task_queue.clone(), id.to_owned())
            .id_reuse_policy(WorkflowIdReusePolicy::RejectDuplicate)
            .id_conflict_policy(WorkflowIdConflictPolicy::Fail)
            .build()
    }

    fn start_error(id: &str, e: temporalio_client::errors::WorkflowStartError) -> EngineError {
        match e {
            temporalio_client::errors::WorkflowStartError::AlreadyStarted { .. } => {
                EngineError::AlreadyStarted(id.to_owned())
            }
            other => EngineError::Unavailable(other.to_string()),
        }
    }

    /// Starts the receipt workflow; returns its id.
    pub async fn start_receipt(&self, actor: &str, request: ReceiptRequest) -> Result<String, EngineError> {
        let id = format!("receipt-{}-{}", request.supply_order, random_suffix());
        let input = ReceiptInput { actor: actor.to_owned(), request, timing: self.config.timing };
        self.client
            .start_workflow(RawMaterialReceipt::run, input, self.start_options(&id))
            .await
            .map_err(|e| Self::start_error(&id, e))?;
        Ok(id)
    }

    /// Starts the hold workflow; returns its id.
    pub async fn start_hold(&self, actor: &str, request: HoldRequest) -> Result<String, EngineError> {
        let id = format!("hold-{}-{}", request.item, random_suffix());
        let input = HoldInput { actor: actor.to_owned(), request, timing: self.config.timing };
        self.client
            .start_workflow(QualityHold::run, input, self.start_options(&id))
            .await
            .map_err(|e| Self::start_error(&id, e))?;
        Ok(id)
    }

    /// Starts the release workflow of a planned order (one per order, ever).
    pub async fn start_release(&self, actor: &str, release: store::shop::ReleaseBody) -> Result<String, EngineError> {
        let id = release_workflow_id(release.planned_order);
        let input = ReleaseInput { actor: actor.to_owned(), release, timing: self.config.timing };
        self.client
            .start_workflow(PlannedOrderRelease::run, input, self.start_options(&id))
            .await
            .map_err(|e| Self::start_error(&id, e))?;
        Ok(id)
    }

    /// A workflow's execution status as Temporal reports it (`running`,
    /// `completed`, `failed`, `terminated`, `timed_out`, ...).
    pub async fn status(&self, workflow_id: &str) -> Result<String, EngineError> {
        use temporalio_client::WorkflowExecutionStatus as S;
        let handle = self.client.get_workflow_handle::<RawMaterialReceipt>(workflow_id);
        let described = tokio::time::timeout(self.config.update_timeout, handle.describe(Default::default()))
            .await
            .map_err(|_| EngineError::Unavailable(format!("describing {workflow_id} timed out")))?;
        let status = match described {
            Ok(d) => d.status(),
            Err(temporalio_client::errors::WorkflowInteractionError::NotFound(_)) => {
                return Err(EngineError::NotFound(workflow_id.to_owned()));
            }
            Err(e) => return Err(EngineError::Unavailable(e.to_string())),
        };
        Ok(match status {
            S::Running => "running",
            S::Completed => "completed",
            S::Failed => "failed",
            S::Canceled => "canceled",
            S::Terminated => "terminated",
            S::ContinuedAsNew => "continued_as_new",
            S::TimedOut => "timed_out",
            S::Paused => "paused",
            _ => "unknown",
        }
        .to_owned())
    }

    /// Delivers a usage decision; returns once the workflow has accepted
    /// it (the step it is at then), or why not.
    pub async fn decide(
        &self,
        kind: LotWorkflow,
        workflow_id: &str,
        decision: UsageDecision,
    ) -> Result<String, EngineError> {
        let once = |decision: UsageDecision| async move {
            let options = WorkflowExecuteUpdateOptions::default();
            match kind {
                LotWorkflow::Receipt => {
                    self.client
                        .get_workflow_handle::<RawMaterialReceipt>(workflow_id)
                        .execute_update(RawMaterialReceipt::decide, decision, options)
                        .await
                }
                LotWorkflow::Hold => {
                    self.client
                        .get_workflow_handle::<QualityHold>(workflow_id)
                        .execute_update(QualityHold::decide, decision, options)
                        .await
                }
            }
        };
        // The lot is in the database, so the workflow will see it posted
        // shortly (after a crash its posting activity may be retried first).
        let call = async {
            loop {
                match once(decision.clone()).await {
                    Err(temporalio_client::errors::WorkflowUpdateError::Failed(f))
                        if f.message == crate::flows::NOT_POSTED_YET =>
                    {
                        tokio::time::sleep(Duration::from_millis(250)).await;
                    }
                    other => return other,
                }
            }
        };
        match tokio::time::timeout(self.config.update_timeout, call).await {
            Err(_) => Err(EngineError::Unavailable(format!(
                "workflow {workflow_id} did not accept the decision within {:?}; is a worker running?",
                self.config.update_timeout
            ))),
            Ok(Ok(step)) => Ok(step),
            Ok(Err(temporalio_client::errors::WorkflowUpdateError::Failed(failure))) => {
                Err(EngineError::Rejected(failure.message.clone()))
            }
            Ok(Err(temporalio_client::errors::WorkflowUpdateError::NotFound(_))) => {
                Err(EngineError::NotFound(workflow_id.to_owned()))
            }
            Ok(Err(e)) => Err(EngineError::Unavailable(e.to_string())),
        }
    }
}

/// The workflow id of a planned order's release.
pub fn release_workflow_id(planned_order: i64) -> String {
    format!("planned-order-release-{planned_order}")
}

/// How long a workflow task waits on a (possibly dead) worker's sticky
/// queue before any worker may take it.
pub const STICKY_TIMEOUT: Duration = Duration::from_secs(3);

/// The worker's options: every workflow and the activities over `store`.
pub fn worker_options(task_queue: &str, store: Store) -> Result<WorkerOptions, EngineError> {
    let reg = |e: temporalio_sdk::WorkflowRegistrationError| EngineError::Config(e.to_string());
    Ok(WorkerOptions::new(task_queue.to_owned())
        .register_workflow::<RawMaterialReceipt>()
        .map_err(reg)?
        .register_workflow::<QualityHold>()
        .map_err(reg)?
        .register_workflow::<PlannedOrderRelease>()
        .map_err(reg)?
        .register_activities(QualityActivities::new(store))
        // A crashed worker's workflows move to another worker after this
        // long (the SDK's default is 10 s).
        .sticky_queue_schedule_to_start_timeout(STICKY_TIMEOUT)
        .build())
}

/// Runs a worker on the current tokio runtime until `stop` completes (or
/// forever), polling `config.task_queue`.
pub async fn run_worker(
    config: &WorkflowConfig,
    store: Store,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<(), EngineError> {
    let runtime = Runtime::from_current_tokio(Default::default())
        .map_err(|e| EngineError::Config(format!("Temporal runtime: {e}")))?;
    let client = connect(config, &format!("takt-worker-{}", std::process::id())).await?;
    let options = worker_options(&config.task_queue, store)?;
    let mut worker =
        Worker::new(&runtime, client, options).map_err(|e| EngineError::Config(format!("Temporal worker: {e}")))?;
    let shutdown = worker.shutdown_handle();
    tokio::spawn(async move {
        stop.await;
        shutdown();
    });
    worker.run().await.map_err(|e| EngineError::Unavailable(format!("worker: {e}")))
}

/// A worker on a thread of its own (the SDK's worker future is not `Send`),
/// with its own runtime and its own connection to the database.
pub struct WorkerThread {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    join: Option<std::thread::JoinHandle<Result<(), EngineError>>>,
}

impl WorkerThread {
    /// Starts a worker for `config` over the database at `database_url`.
    /// On SQLite, pass the server's `shared` store when the worker runs in
    /// the server's process: its write queue then orders the worker's
    /// postings with the API's (an SQLite store is not tied to a runtime).
    pub fn spawn(config: WorkflowConfig, database_url: String, shared: Option<Store>) -> std::io::Result<WorkerThread> {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let join = std::thread::Builder::new().name("takt-worker".into()).spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .map_err(|e| EngineError::Config(format!("worker runtime: {e}")))?;
            runtime.block_on(async move {
                let store = match shared.filter(|s| s.backend() == sea_orm::DbBackend::Sqlite) {
                    Some(store) => store,
                    None => Store::connect(&database_url)
                        .await
                        .map_err(|e| EngineError::Config(format!("worker database: {e}")))?,
                };
                run_worker(&config, store, async move {
                    let _ = stopped.await;
                })
                .await
            })
        })?;
        Ok(WorkerThread { stop: Some(stop), join: Some(join) })
    }

    /// True while the worker thread runs.
    pub fn is_running(&self) -> bool {
        self.join.as_ref().is_some_and(|j| !j.is_finished())
    }

    /// Stops the worker (it finishes its current tasks) and waits for it.
    pub fn stop(mut self) -> Result<(), EngineError> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<(), EngineError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.join.take() {
            Some(j) => j.join().unwrap_or_else(|_| Err(EngineError::Config("the worker thread panicked".into()))),
            None => Ok(()),
        }
    }
}

impl Drop for WorkerThread {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}
