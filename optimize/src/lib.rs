//! Capacity-aware production and purchase planning (`takt optimize`).
pub mod bench;
pub mod chart;
pub mod lsdm;
pub mod mip;
pub mod problem;
pub mod report;
pub mod scenario;
pub mod solve;
