//! Capacity-aware production and purchase planning (`takt optimize`).
//!
//! Turns an `mrp-scenario/1` scenario with an optional `capacity` section
//! (work centres, routings, costs; see `docs/scenario-capacity.md`) into a
//! cost-optimal plan that respects capacity: a multi-level capacitated
//! lot-sizing MIP ([`mip`]) solved with CBC through good_lp, strengthened
//! with (l,S) inequalities, with relax-and-fix and fix-and-optimise
//! heuristics and a never-empty fallback ([`solve`]). Plans come back as
//! exact decimals and are re-checked ([`scenario`], [`report`]).
//!
//! The crate does no file I/O: the `takt` binary reads and writes around it.
//!
//! ```
//! let text = r#"{"format": "mrp-scenario/1", "name": "demo",
//!   "calendar": {"start": "2027-01-04", "bucket_days": 7, "periods": 3},
//!   "items": [{"id": "A", "source": "make"}],
//!   "demand": [{"id": "SO-1", "item": "A", "date": "2027-01-18", "quantity": 30, "kind": "order"}],
//!   "capacity": {"work_centers": [{"id": "W", "hours": 20}],
//!                "routings": [{"item": "A", "work_center": "W", "run_hours": 1}]}}"#;
//! let (scenario, network, capacity) = optimize::scenario::parse(text).unwrap();
//! let options = optimize::solve::Options::new(5.0, 0.0);
//! let opt = optimize::report::optimize_scenario(&scenario, &network, &capacity, &options).unwrap();
//! // 30 units with 20 hours a bucket: 10 are made a bucket early.
//! let quantities: Vec<String> = opt.orders.iter().map(|o| o.quantity.to_string()).collect();
//! assert_eq!(quantities, ["10", "20"]);
//! assert!(opt.after.violations.is_empty());
//! ```

#![warn(missing_docs)]
// Models index items × buckets throughout; index loops read like the formulas.
#![allow(clippy::needless_range_loop)]

pub mod bench;
pub mod chart;
pub mod lsdm;
pub mod mip;
pub mod problem;
pub mod report;
pub mod scenario;
pub mod solve;
