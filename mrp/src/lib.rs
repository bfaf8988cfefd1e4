//! Takt's planning engine: pure, deterministic material requirements planning.
//!
//! A [`Scenario`] (items, bill of materials, stock, demand, open receipts over a
//! bucketed calendar) goes in; a [`PlanResult`] (planned orders pegged to the
//! demands they serve, the MRP record of every item, exception messages) comes
//! out. The crate does no I/O: callers read and write files, databases or
//! sockets around it. The format and semantics are `mrp-scenario/1`, specified
//! in `shared/spec/mrp-scenario-v1.md` and summarised in the README.
//!
//! ```
//! let text = r#"{"format": "mrp-scenario/1", "name": "demo",
//!   "calendar": {"start": "2027-01-04", "bucket_days": 7, "periods": 4},
//!   "items": [{"id": "A", "source": "make", "lead_time": 1}],
//!   "demand": [{"id": "SO-1", "item": "A", "date": "2027-01-18", "quantity": 5, "kind": "order"}]}"#;
//! let scenario = mrp::parse_scenario(text).unwrap();
//! let plan = mrp::plan(&scenario).unwrap();
//! assert_eq!(plan.planned_orders.len(), 1);
//! assert_eq!(plan.planned_orders[0].quantity.to_string(), "5");
//! ```

pub mod export;
pub mod generate;
pub mod lot;
pub mod model;
pub mod parse;
pub mod plan;
pub mod result;
pub mod table;
pub mod validate;

pub use model::*;
pub use parse::{Problem, ScenarioError, parse_scenario, parse_scenario_with_network};
pub use plan::{
    Exception, ExceptionKind, Peg, PegTarget, PlanError, PlanOptions, PlanResult, PlannedOrder, plan, plan_network,
    plan_network_with,
};
pub use result::ResultDocument;
pub use table::render_table;
pub use validate::{Network, validate};
