//! The LSDM benchmark: optimise an instance and compare with the
//! uncapacitated lot-for-lot MRP plan; a Markdown table of the results.

use std::fmt::Write;

use crate::lsdm::Instance;
use crate::solve::{Options, Outcome, optimise};

/// One benchmark result.
#[derive(Debug, Clone)]
pub struct BenchRow {
    /// Instance name.
    pub name: String,
    /// Items, periods, resources.
    pub size: (usize, usize, usize),
    /// The optimiser's outcome.
    pub outcome: Outcome,
    /// Whether the plan meets all demand on time (LSDM instances allow no backlog).
    pub on_time: bool,
    /// Cost of the lot-for-lot plan (overtime within the allowed amount priced).
    pub mrp_cost: f64,
    /// Capacity used by the lot-for-lot plan beyond capacity plus allowed overtime.
    pub mrp_overload: f64,
    /// The same as a share of total regular capacity.
    pub mrp_overload_share: f64,
}

/// Runs one instance.
pub fn run(instance: &Instance, options: &Options) -> BenchRow {
    let p = &instance.problem;
    let outcome = optimise(p, options);
    let l4l = p.evaluate(&p.lot_for_lot());
    let total_capacity: f64 = p.resources.iter().flat_map(|r| r.capacity.iter()).sum();
    BenchRow {
        name: instance.name.clone(),
        size: (p.items.len(), p.periods, p.resources.len()),
        on_time: outcome.evaluation.backlog.iter().flatten().all(|&b| b < 1e-6),
        outcome,
        mrp_cost: l4l.cost.total() - l4l.cost.backlog,
        mrp_overload: l4l.overload,
        mrp_overload_share: if total_capacity > 0.0 { l4l.overload / total_capacity } else { 0.0 },
    }
}

/// The Markdown table of results.
pub fn markdown(rows: &[BenchRow]) -> String {
    let mut s = String::new();
    s.push_str("| instance | items × periods × resources | objective | bound | gap | time | first plan | stopped by | plan from | on time | lot-for-lot MRP cost | MRP overload |\n");
    s.push_str("|---|---|---:|---:|---:|---:|---:|---|---|---|---:|---:|\n");
    for r in rows {
        let o = &r.outcome;
        let _ = writeln!(
            s,
            "| {} | {} × {} × {} | {:.2} | {:.2} | {:.2} % | {:.1} s | {} | {} | {} | {} | {:.2} | {:.1} ({:.1} %) |",
            r.name,
            r.size.0,
            r.size.1,
            r.size.2,
            o.objective,
            o.bound,
            o.gap * 100.0,
            o.seconds,
            o.first_plan_seconds.map_or("–".to_owned(), |t| format!("{t:.1} s")),
            o.stop.as_str(),
            o.source.as_str(),
            if r.on_time { "yes" } else { "no" },
            r.mrp_cost,
            r.mrp_overload,
            r.mrp_overload_share * 100.0
        );
    }
    s
}
