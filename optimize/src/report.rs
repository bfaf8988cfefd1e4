//! Optimising a scenario end to end, the exact (decimal) re-check of plans,
//! and the result document and table.
//!
//! The result is an `mrp-result/1` document (planned orders, records,
//! exceptions: what `takt plan` writes, without pegging) plus an
//! `optimization` section: cost split, bound, gap, stop reason, and the load
//! of every work centre per bucket before (the MRP plan of `takt plan`) and
//! after (the optimised plan).

use std::fmt::Write;

use mrp::result::Qty;
use mrp::{Network, Scenario, Source};
use rust_decimal::Decimal;
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::Value;

use crate::scenario::{
    Capacity, bom_factor, demand_per_bucket, effective_costs, exact_plan, receipts_per_bucket, to_problem,
};
use crate::solve::{Options, Outcome, optimise};

/// A planned order in exact quantities.
#[derive(Debug, Clone, PartialEq)]
pub struct ExactOrder {
    /// Item index (scenario order).
    pub item: usize,
    /// Release bucket.
    pub release: usize,
    /// Due bucket.
    pub due: usize,
    /// Quantity.
    pub quantity: Decimal,
}

/// Cost by component, exact.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ExactCost {
    /// Setup and ordering costs.
    pub setup: Decimal,
    /// Holding costs.
    pub holding: Decimal,
    /// Overtime costs.
    pub overtime: Decimal,
    /// Backlog penalties.
    pub backlog: Decimal,
    /// Safety-stock shortfall penalties.
    pub safety_stock: Decimal,
}

impl ExactCost {
    /// The total.
    pub fn total(&self) -> Decimal {
        self.setup + self.holding + self.overtime + self.backlog + self.safety_stock
    }
}

/// A plan simulated with exact decimals.
#[derive(Debug, Clone, PartialEq)]
pub struct ExactEvaluation {
    /// Gross requirements (independent + dependent) per item and bucket.
    pub gross: Vec<Vec<Decimal>>,
    /// Stock minus backlog at the end of each bucket.
    pub position: Vec<Vec<Decimal>>,
    /// Independent demand not yet served at the end of each bucket.
    pub backlog: Vec<Vec<Decimal>>,
    /// Hours used per work centre and bucket.
    pub load: Vec<Vec<Decimal>>,
    /// Overtime hours used per work centre and bucket.
    pub overtime: Vec<Vec<Decimal>>,
    /// Hours above regular plus allowed overtime, summed.
    pub overload: Decimal,
    /// Cost by component.
    pub cost: ExactCost,
    /// Broken rules (empty: feasible).
    pub violations: Vec<String>,
}

/// Simulates orders on a scenario with exact decimals: inventory balance,
/// capacity and overtime, lead times, lot minimums and multiples.
/// `mrp_semantics` accepts MRP's past-due releases (released in bucket 0 and
/// due before the lead time has passed), which the optimiser never makes.
pub fn exact_check(
    scenario: &Scenario,
    network: &Network,
    capacity: &Capacity,
    orders: &[ExactOrder],
    mrp_semantics: bool,
) -> ExactEvaluation {
    let n = scenario.items.len();
    let t_len = scenario.calendar.len();
    let costs = effective_costs(scenario, capacity);
    let demand = demand_per_bucket(scenario, network);
    let receipts = receipts_per_bucket(scenario, network);
    let mut violations = Vec::new();
    let mut cost = ExactCost::default();
    let mut released = vec![vec![Decimal::ZERO; t_len]; n];
    let mut due = vec![vec![Decimal::ZERO; t_len]; n];
    let mut load = vec![vec![Decimal::ZERO; t_len]; capacity.work_centers.len()];
    for o in orders {
        let it = &scenario.items[o.item];
        let lt = if it.source == Source::Phantom { 0 } else { it.lead_time as usize };
        if o.due != o.release + lt && !(mrp_semantics && o.release == 0 && o.due < lt) {
            violations
                .push(format!("{}: order released in {} due in {} breaks lead time {lt}", it.id, o.release, o.due));
        }
        if o.due >= t_len {
            violations.push(format!("{}: order due after the horizon", it.id));
            continue;
        }
        if it.source != Source::Phantom {
            if let Some(m) = it.lot.min
                && o.quantity < m
            {
                violations.push(format!("{}: order of {} below the minimum {m}", it.id, o.quantity));
            }
            if let Some(m) = it.lot.multiple
                && !m.is_zero()
                && !(o.quantity % m).is_zero()
            {
                violations.push(format!("{}: order of {} not a multiple of {m}", it.id, o.quantity));
            }
            cost.setup += costs[o.item].setup;
        }
        released[o.item][o.release] += o.quantity;
        due[o.item][o.due] += o.quantity;
        for (w, wc) in capacity.work_centers.iter().enumerate() {
            for r in capacity.routings.iter().filter(|r| r.item == it.id && r.work_center == wc.id) {
                load[w][o.release] += r.setup_hours + r.run_hours * o.quantity;
            }
        }
    }
    let mut gross = demand.clone();
    for b in &scenario.bom {
        let (Some(p), Some(c)) = (network.index_of(&b.parent), network.index_of(&b.component)) else { continue };
        let factor = bom_factor(b);
        for t in 0..t_len {
            gross[c][t] += released[p][t] * factor;
        }
    }
    let mut position = vec![vec![Decimal::ZERO; t_len]; n];
    let mut backlog = vec![vec![Decimal::ZERO; t_len]; n];
    for (i, it) in scenario.items.iter().enumerate() {
        let mut net = it.on_hand;
        let mut cum = Decimal::ZERO;
        for t in 0..t_len {
            net += due[i][t] + receipts[i][t] - gross[i][t];
            cum += demand[i][t];
            position[i][t] = net;
            let late = (-net).max(Decimal::ZERO);
            if late > cum {
                violations.push(format!("{}: short of {} in bucket {t} for dependent demand", it.id, late - cum));
            }
            backlog[i][t] = late.min(cum);
            let stock = net.max(Decimal::ZERO);
            cost.holding += costs[i].holding * stock;
            cost.backlog += costs[i].backlog * backlog[i][t];
            if it.source != Source::Phantom && stock < it.safety_stock {
                cost.safety_stock += costs[i].safety_stock * (it.safety_stock - stock);
            }
        }
    }
    let mut overtime = vec![vec![Decimal::ZERO; t_len]; capacity.work_centers.len()];
    let mut overload = Decimal::ZERO;
    for (w, wc) in capacity.work_centers.iter().enumerate() {
        for t in 0..t_len {
            let over = (load[w][t] - wc.hours[t]).max(Decimal::ZERO);
            overtime[w][t] = over.min(wc.overtime_hours[t]);
            cost.overtime += wc.overtime_cost * overtime[w][t];
            let beyond = over - overtime[w][t];
            if beyond > Decimal::ZERO {
                overload += beyond;
                violations.push(format!(
                    "{}: load {} in bucket {t} exceeds {} hours plus {} overtime",
                    wc.id, load[w][t], wc.hours[t], wc.overtime_hours[t]
                ));
            }
        }
    }
    ExactEvaluation { gross, position, backlog, load, overtime, overload, cost, violations }
}

/// Why a scenario could not be optimised.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OptimizeError {
    /// The MRP plan used for comparison failed (arithmetic overflow).
    #[error("the MRP plan for comparison failed: {0}")]
    Mrp(#[from] mrp::PlanError),
}

/// An optimised scenario: the plan in exact orders, its check, and the MRP plan for comparison.
#[derive(Debug, Clone)]
pub struct Optimized {
    /// The solver's outcome (bound, gap, stop reason, float plan).
    pub outcome: Outcome,
    /// The optimised orders (phantoms included; they are not written as orders).
    pub orders: Vec<ExactOrder>,
    /// The exact check of the optimised plan.
    pub after: ExactEvaluation,
    /// The exact check of the uncapacitated MRP plan (`takt plan`).
    pub before: ExactEvaluation,
    /// Number of planned orders of the MRP plan.
    pub mrp_orders: usize,
    /// Relative gap between the exact cost of the plan and the bound.
    pub gap: f64,
}

/// Optimises a validated scenario with its capacity section.
pub fn optimize_scenario(
    scenario: &Scenario,
    network: &Network,
    capacity: &Capacity,
    options: &Options,
) -> Result<Optimized, OptimizeError> {
    let mrp_plan = mrp::plan_network_with(scenario, network, mrp::PlanOptions { pegging: false })?;
    let mrp_orders: Vec<ExactOrder> = mrp_plan
        .planned_orders
        .iter()
        .map(|o| ExactOrder {
            item: o.item as usize,
            release: o.release_bucket as usize,
            due: o.due_bucket as usize,
            quantity: o.quantity,
        })
        .collect();
    let before = exact_check(scenario, network, capacity, &mrp_orders, true);
    let problem = to_problem(scenario, network, capacity);
    let outcome = optimise(&problem, options);
    let release = exact_plan(scenario, network, &outcome.plan.release);
    let mut orders = Vec::new();
    for &i in &network.sequence {
        let i = i as usize;
        let it = &scenario.items[i];
        let lt = if it.source == Source::Phantom { 0 } else { it.lead_time as usize };
        for (u, &q) in release[i].iter().enumerate() {
            if q > Decimal::ZERO {
                orders.push(ExactOrder { item: i, release: u, due: u + lt, quantity: q });
            }
        }
    }
    let after = exact_check(scenario, network, capacity, &orders, false);
    let exact = after.cost.total().to_f64().unwrap_or(f64::MAX);
    let gap = if exact.abs() < 1e-9 { 0.0 } else { ((exact - outcome.bound) / exact.abs()).max(0.0) };
    Ok(Optimized { outcome, orders, after, before, mrp_orders: mrp_orders.len(), gap })
}

/// A JSON tree whose objects keep their keys in the order written, so the
/// document reads like `takt plan`'s (`format` first), without switching
/// serde_json to insertion-ordered maps for the whole workspace.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// A scalar or a plain array.
    Leaf(Value),
    /// An array of trees.
    List(Vec<Node>),
    /// An object with ordered keys.
    Object(Vec<(String, Node)>),
}

impl Serialize for Node {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Node::Leaf(v) => v.serialize(s),
            Node::List(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Node::Object(fields) => {
                let mut map = s.serialize_map(Some(fields.len()))?;
                for (k, v) in fields {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

macro_rules! leaf_from {
    ($($t:ty),*) => {
        $(impl From<$t> for Node {
            fn from(v: $t) -> Self {
                Node::Leaf(v.into())
            }
        })*
    };
}

leaf_from!(Value, &str, String, f64, u32, Vec<String>);

/// `obj!{"key" => value, ...}`: an ordered JSON object.
macro_rules! obj {
    ($($k:expr => $v:expr),* $(,)?) => {
        Node::Object(vec![$(($k.to_string(), Node::from($v))),*])
    };
}

impl From<Vec<Node>> for Node {
    fn from(v: Vec<Node>) -> Self {
        Node::List(v)
    }
}

fn q(d: Decimal) -> Value {
    serde_json::to_value(Qty(d)).unwrap_or(Value::Null)
}

fn money(v: Decimal) -> Value {
    q(v.round_dp(2))
}

fn float_money(v: f64) -> Value {
    money(Decimal::from_f64(v).unwrap_or_default())
}

fn cost_doc(c: &ExactCost) -> Node {
    obj! {
        "setup" => money(c.setup), "holding" => money(c.holding), "overtime" => money(c.overtime),
        "backlog" => money(c.backlog), "safety_stock" => money(c.safety_stock), "total" => money(c.total()),
    }
}

fn row(v: &[Decimal]) -> Value {
    Value::Array(v.iter().map(|&d| q(d)).collect())
}

/// The result document: `mrp-result/1` plus the `optimization` section
/// (serialise it with serde_json; `serde_json::to_value` gives a [`Value`]).
pub fn result_document(
    scenario: &Scenario,
    network: &Network,
    capacity: &Capacity,
    opt: &Optimized,
    options: &Options,
) -> Node {
    let cal = &scenario.calendar;
    let t_len = cal.len();
    let dates: Vec<String> = (0..t_len).map(|t| cal.bucket_start(t).to_string()).collect();
    let mut orders = Vec::new();
    let mut number = 0;
    let mut releases = vec![vec![Decimal::ZERO; t_len]; scenario.items.len()];
    let mut receipts_planned = vec![vec![Decimal::ZERO; t_len]; scenario.items.len()];
    for o in &opt.orders {
        releases[o.item][o.release] += o.quantity;
        receipts_planned[o.item][o.due] += o.quantity;
        let it = &scenario.items[o.item];
        if it.source == Source::Phantom {
            continue;
        }
        number += 1;
        orders.push(obj! {
            "id" => format!("PL-{number}"), "item" => it.id.as_str(), "kind" => it.source.as_str(),
            "release_date" => dates[o.release].as_str(), "due_date" => dates[o.due].as_str(), "quantity" => q(o.quantity),
        });
    }
    let scheduled = receipts_per_bucket(scenario, network);
    let mut records = Vec::new();
    let mut exceptions = Vec::new();
    for &i in &network.sequence {
        let i = i as usize;
        let it = &scenario.items[i];
        let after = &opt.after;
        let mut net_req = Vec::with_capacity(t_len);
        let mut prev = it.on_hand;
        for t in 0..t_len {
            let avail = prev + scheduled[i][t] - after.gross[i][t];
            net_req.push((it.safety_stock - avail).max(Decimal::ZERO));
            prev = after.position[i][t];
        }
        records.push((
            it.id.clone(),
            obj! {
                "source" => it.source.as_str(), "low_level_code" => network.low_level_code[i],
                "gross" => row(&after.gross[i]), "scheduled_receipts" => row(&scheduled[i]),
                "projected_available" => row(&after.position[i]), "net" => row(&net_req),
                "planned_receipts" => row(&receipts_planned[i]), "planned_releases" => row(&releases[i]),
            },
        ));
        if let Some(first) = after.backlog[i].iter().position(|b| *b > Decimal::ZERO) {
            let most = after.backlog[i].iter().copied().max().unwrap_or_default();
            exceptions.push(obj! {
                "item" => it.id.as_str(), "kind" => "backlog", "reference" => it.id.as_str(), "date" => dates[first].as_str(),
                "message" => format!(
                    "{} cannot meet all its demand on time with the capacity given: late from {} on, at most {} late at once",
                    it.id, dates[first], most
                ),
            });
        }
    }
    let out = &opt.outcome;
    let work_centers: Vec<Node> = capacity
        .work_centers
        .iter()
        .enumerate()
        .map(|(w, wc)| {
            obj! {
                "id" => wc.id.as_str(), "hours" => row(&wc.hours), "overtime_hours" => row(&wc.overtime_hours),
                "load_before" => row(&opt.before.load[w]), "load_after" => row(&opt.after.load[w]),
                "overtime_after" => row(&opt.after.overtime[w]),
            }
        })
        .collect();
    let backlog = Node::Object(
        scenario
            .items
            .iter()
            .enumerate()
            .filter(|(i, _)| opt.after.backlog[*i].iter().any(|b| !b.is_zero()))
            .map(|(i, it)| (it.id.clone(), Node::from(row(&opt.after.backlog[i]))))
            .collect(),
    );
    obj! {
        "format" => mrp::result::RESULT_FORMAT,
        "scenario" => scenario.name.as_str(),
        "pegging" => "none",
        "calendar" => obj! {"start" => cal.start.to_string(), "bucket_days" => cal.bucket_days, "periods" => cal.periods},
        "buckets" => dates.clone(),
        "planned_orders" => orders,
        "records" => Node::Object(records),
        "exceptions" => exceptions,
        "optimization" => obj! {
            "stop" => out.stop.as_str(),
            "plan_source" => out.source.as_str(),
            "message" => stop_message(opt),
            "objective" => money(opt.after.cost.total()),
            "solver_objective" => float_money(out.objective),
            "bound" => float_money(out.bound),
            "gap" => float_ratio(opt.gap),
            "seconds" => float_ratio(out.seconds),
            "time_limit" => options.time_limit,
            "gap_limit" => options.gap,
            "cost" => cost_doc(&opt.after.cost),
            "mrp_cost" => cost_doc(&opt.before.cost),
            "mrp_overload_hours" => q(opt.before.overload),
            "violations" => opt.after.violations.clone(),
            "backlog" => backlog,
            "work_centers" => work_centers,
            "log" => out.log.clone(),
        },
    }
}

fn float_ratio(v: f64) -> Value {
    q(Decimal::from_f64(v).unwrap_or_default().round_dp(4))
}

/// One sentence on how the search ended and where the plan came from.
pub fn stop_message(opt: &Optimized) -> String {
    let out = &opt.outcome;
    let how = match out.stop {
        crate::solve::StopReason::Optimal => "proven optimal".to_owned(),
        crate::solve::StopReason::Gap => format!("within the requested gap ({:.2} %)", opt.gap * 100.0),
        crate::solve::StopReason::TimeLimit => {
            format!("time limit reached with a gap of {:.2} % to the bound", opt.gap * 100.0)
        }
    };
    let from = match out.source {
        crate::solve::PlanSource::Mip => "the MIP search",
        crate::solve::PlanSource::Heuristic if out.stop == crate::solve::StopReason::TimeLimit => {
            "the heuristics (capacity-shifted lot-for-lot, relax-and-fix, fix-and-optimise): the exact search found nothing better in time"
        }
        crate::solve::PlanSource::Heuristic => {
            "the heuristics (capacity-shifted lot-for-lot, relax-and-fix, fix-and-optimise)"
        }
        crate::solve::PlanSource::LotForLot => "the lot-for-lot plan, which fits capacity: nothing better was found",
        crate::solve::PlanSource::Empty => {
            "no plan better than ordering nothing was found in time: every demand is backlogged"
        }
    };
    format!("{how}; plan from {from}")
}

/// The planner's text view: summary, cost split, work-centre load before and after, planned orders.
pub fn render_text(scenario: &Scenario, capacity: &Capacity, opt: &Optimized) -> String {
    let cal = &scenario.calendar;
    let t_len = cal.len();
    let out = &opt.outcome;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Optimised plan {:?}: {} buckets of {} days from {}; {} planned orders (MRP: {})",
        scenario.name,
        t_len,
        cal.bucket_days,
        cal.start,
        opt.orders.iter().filter(|o| scenario.items[o.item].source != Source::Phantom).count(),
        opt.mrp_orders
    );
    let _ = writeln!(s, "Stopped: {} after {:.1} s: {}", out.stop.as_str(), out.seconds, stop_message(opt));
    let _ = writeln!(
        s,
        "Cost {} (bound {:.2}, gap {:.2} %); uncapacitated MRP plan: cost {}, capacity overload {} h",
        opt.after.cost.total().round_dp(2),
        out.bound,
        opt.gap * 100.0,
        opt.before.cost.total().round_dp(2),
        opt.before.overload
    );
    let _ = writeln!(s, "\n{:<12} {:>14} {:>14}", "Cost", "optimised", "MRP");
    let (a, b) = (&opt.after.cost, &opt.before.cost);
    for (name, x, y) in [
        ("setup", a.setup, b.setup),
        ("holding", a.holding, b.holding),
        ("overtime", a.overtime, b.overtime),
        ("backlog", a.backlog, b.backlog),
        ("safety stock", a.safety_stock, b.safety_stock),
        ("total", a.total(), b.total()),
    ] {
        let _ = writeln!(s, "{name:<12} {:>14} {:>14}", x.round_dp(2), y.round_dp(2));
    }
    if !capacity.work_centers.is_empty() {
        let _ = writeln!(s, "\nWork-centre load (hours) per bucket: capacity, MRP plan (before), optimised (after)");
        let _ = write!(s, "{:<24}", "Bucket starts");
        for t in 0..t_len {
            let _ = write!(s, " {:>10}", cal.bucket_start(t).format("%m-%d").to_string());
        }
        s.push('\n');
        for (w, wc) in capacity.work_centers.iter().enumerate() {
            for (label, values) in [
                (format!("{} capacity", wc.id), wc.hours.clone()),
                (format!("{} overtime max", wc.id), wc.overtime_hours.clone()),
                (format!("{} before", wc.id), opt.before.load[w].clone()),
                (format!("{} after", wc.id), opt.after.load[w].clone()),
            ] {
                let _ = write!(s, "{label:<24}");
                for (t, v) in values.iter().enumerate() {
                    let over = label.ends_with("before") || label.ends_with("after");
                    let mark = if over && *v > wc.hours[t] + wc.overtime_hours[t] {
                        "!"
                    } else if over && *v > wc.hours[t] {
                        "+"
                    } else {
                        " "
                    };
                    let _ = write!(s, " {:>9}{mark}", v.round_dp(1).normalize());
                }
                s.push('\n');
            }
        }
        let _ = writeln!(s, "(+ uses overtime, ! exceeds capacity plus overtime)");
    }
    let _ = writeln!(s, "\nPlanned orders");
    let _ = writeln!(s, "{:<8} {:<16} {:<5} {:>10}  {:<10} {:<10}", "id", "item", "kind", "quantity", "release", "due");
    let mut number = 0;
    for o in &opt.orders {
        let it = &scenario.items[o.item];
        if it.source == Source::Phantom {
            continue;
        }
        number += 1;
        let _ = writeln!(
            s,
            "{:<8} {:<16} {:<5} {:>10}  {} {}",
            format!("PL-{number}"),
            it.id,
            it.source.as_str(),
            o.quantity.normalize(),
            cal.bucket_start(o.release),
            cal.bucket_start(o.due)
        );
    }
    for (i, it) in scenario.items.iter().enumerate() {
        if let Some(first) = opt.after.backlog[i].iter().position(|b| *b > Decimal::ZERO) {
            let _ = writeln!(s, "late: {} has unmet demand from {} on", it.id, cal.bucket_start(first));
        }
    }
    for v in &opt.after.violations {
        let _ = writeln!(s, "VIOLATION: {v}");
    }
    s
}
