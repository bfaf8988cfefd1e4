//! `takt worker` and the Temporal settings `takt serve` shares with it.

use anyhow::Context;
use workflows::WorkflowConfig;

use crate::Refused;
use crate::control::{self, DbArgs};

/// Where Temporal is (see the README's quality workflows section).
#[derive(clap::Args, Clone)]
pub struct TemporalArgs {
    /// Temporal frontend, `host:port`. Without it `takt serve --worker`
    /// uses a local dev server (an already running one on 127.0.0.1:7233,
    /// else it starts `temporal server start-dev`), and plain `takt serve`
    /// answers 503 on the workflow routes.
    #[arg(long = "temporal-address", env = "TEMPORAL_ADDRESS")]
    address: Option<String>,
    /// Temporal namespace.
    #[arg(long = "temporal-namespace", env = "TEMPORAL_NAMESPACE", default_value = workflows::DEFAULT_NAMESPACE)]
    namespace: String,
    /// Task queue of Takt's workflows and activities.
    #[arg(long, env = "TAKT_TASK_QUEUE", default_value = workflows::DEFAULT_TASK_QUEUE)]
    task_queue: String,
    /// Activity start-to-close timeout in seconds for new workflows: how
    /// soon an activity of a crashed worker is retried.
    #[arg(long, env = "TAKT_ACTIVITY_TIMEOUT_SECS", default_value_t = 30)]
    activity_timeout: u64,
}

impl TemporalArgs {
    /// The workflow configuration, when an address is set.
    pub fn config(&self) -> Option<WorkflowConfig> {
        let address = self.address.clone().filter(|a| !a.trim().is_empty())?;
        Some(self.config_at(address))
    }

    /// The workflow configuration with Temporal at `address`.
    pub fn config_at(&self, address: String) -> WorkflowConfig {
        let mut config = WorkflowConfig::new(address);
        config.namespace = self.namespace.clone();
        config.task_queue = self.task_queue.clone();
        config.timing.activity_timeout_secs = self.activity_timeout.max(1);
        config
    }

    /// The configuration, or why a worker cannot run.
    pub fn required(&self) -> Result<WorkflowConfig, Refused> {
        self.config().ok_or_else(|| {
            Refused(
                "TEMPORAL_ADDRESS (or --temporal-address) is required; for a local dev server run \
                 `temporal server start-dev` and set TEMPORAL_ADDRESS=127.0.0.1:7233"
                    .into(),
            )
        })
    }
}

/// `takt worker`.
#[derive(clap::Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    db: DbArgs,
    #[command(flatten)]
    temporal: TemporalArgs,
}

/// Runs a worker until Ctrl-C or SIGTERM.
pub fn worker(args: WorkerArgs) -> anyhow::Result<()> {
    let config = args.temporal.required()?;
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?.block_on(
        async move {
            tracing_subscriber::fmt()
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_from_env("TAKT_LOG").unwrap_or_else(|_| "info".into()),
                )
                .with_writer(std::io::stderr)
                .init();
            let store = control::open(&args.db).await?;
            eprintln!(
                "takt worker: pid {}, task queue {} on {} (namespace {})",
                std::process::id(),
                config.task_queue,
                config.address,
                config.namespace
            );
            workflows::run_worker(&config, store, api::shutdown_signal()).await.context("the worker")?;
            Ok(())
        },
    )
}
