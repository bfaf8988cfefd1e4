//! Takt's control-plane services over a sea-orm database (SQLite or
//! PostgreSQL): master data, the inventory ledger and its positions, demand
//! and supply, MRP runs on live data with planned-order lifecycle, scenario
//! import and export, API tokens, audit and idempotency records.
//!
//! Every write goes through [`Store::write`], one transaction per request;
//! a service returns a typed [`StoreError`] and then nothing is written. The
//! HTTP layer (`api`) and the workflows call these functions, never SQL of
//! their own.

pub mod access;
pub mod db;
pub mod distribution;
pub mod entity;
pub mod error;
pub mod ledger;
pub mod master;
pub mod names;
pub mod planning;
pub mod qty;
pub mod quality;
pub mod release;
pub mod scenario_io;
pub mod shop;
pub mod supply;

pub use db::{DEFAULT_DATABASE_URL, Store};
pub use error::{FieldProblem, Problems, StoreError};
pub use qty::Qty;
