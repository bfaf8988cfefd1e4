//! Capacity-aware production and purchase planning (`takt optimize`).
pub mod lsdm;
pub mod mip;
pub mod problem;
pub mod solve;
