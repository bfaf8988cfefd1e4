//! Takt's durable workflows on Temporal (Rust SDK): raw-material receipt
//! with inspection, quality hold on existing stock, and planned-order
//! release.
//!
//! - [`flows`]: the workflow definitions (deterministic code only).
//! - [`activities`]: one `store` transaction each, idempotent, so a retried
//!   activity never posts a movement twice.
//! - [`engine`]: the client the API uses (start, decide by update) and the
//!   worker (`takt worker`, or in-process with `takt serve --worker`).
//! - [`devserver`]: a throw-away `temporal server start-dev` for tests and
//!   local runs.

pub mod activities;
pub mod devserver;
pub mod engine;
pub mod flows;

pub use engine::{
    DEFAULT_NAMESPACE, DEFAULT_TASK_QUEUE, Engine, EngineError, LotWorkflow, WorkerThread, WorkflowConfig, run_worker,
};
