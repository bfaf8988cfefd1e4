//! Capacity-aware production and purchase planning (`takt optimize`).
pub mod mip;
pub mod problem;
