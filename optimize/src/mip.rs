//! The mixed-integer model, built with good_lp and solved with CBC or HiGHS
//! ([`Backend`]).
//!
//! Variables per item `i` and bucket: release quantity `q[i][u]`, setup
//! `y[i][u]` (binary, only for items with a setup cost, setup time or
//! minimum lot), lot count `n[i][u]` (integer, only for items with a
//! multiple: `q = multiple · n`), stock `I[i][t]`, backlog `B[i][t]` (only
//! for items with independent demand, at most the cumulative demand),
//! safety-stock shortfall `S[i][t]`, and overtime `O[r][t]` per resource.
//!
//! Constraints: inventory balance `I[t] - B[t] = I[t-1] - B[t-1] +
//! q[t - L] + receipts[t] - Σ_parents a · q_parent[t] - demand[t]`;
//! capacity `Σ per_unit · q + setup · y ≤ capacity + O`; setup forcing
//! `min_lot · y ≤ q ≤ M · y` with `M` the smaller of the capacity bound and
//! the largest useful quantity; `I + S ≥ safety_stock`.
//!
//! **Tightening.** Bare big-M setups give weak LP bounds, so the model is
//! strengthened with multi-level (l,S) inequalities on echelon stock,
//! separated from LP solutions ([`Prepared::separate`]). With releases `q`, the
//! echelon stock of item `k` at the end of bucket `l` is
//! `ES[k][l] = Σ_j R[k][j] (I[j][l] - B[j][l] + pipeline[j][l])`, summed over
//! `k` and every item `j` that uses it (`R` = units of `k` per unit of `j`
//! over all BOM paths, `pipeline` = orders released by `l` and received
//! after). Then `ES[k][l] - ES[k][p-1] = Σ_{u=p..l} q[k][u] + ESR[k][p..l] -
//! ED[k][p..l]` where `ED` and `ESR` are echelon demand and echelon firm
//! receipts (fixed data; lead times drop out because the pipeline is part
//! of echelon stock). For any `S ⊆ {0..l}`, with `c[t][l] = max(0, ED[t..l] -
//! ESR[t..l])` (minus the initial echelon stock for `t = 0`):
//!
//! `Σ_{t∈S} q[k][t] ≤ Σ_{t∈S} (c[t][l] · y[k][t] + RB[k][t-1]) + ES⁺[k][l]`
//!
//! and `c[t][l] · y[k][t]` may be lowered to `M[k][t] · y[k][t]` where the
//! order in bucket `t` is at most `M · y` (its bound), or to
//! `R[k][t] · y[k][t] + O[r][t] / a` with `R = (capacity - setup) / a` the
//! regular capacity of a resource `r` it uses (`a` run time per unit; the
//! capacity row gives `a·q ≤ R·a·y + O`): take `j` the first open bucket of
//! `S` whose term was not lowered; open buckets before it contribute at most
//! their lowered terms, and from `j` on the argument below holds with `p =
//! j`. With costly overtime this prices a fractional setup's extra output at
//! the overtime it needs, which lifts the bound.
//!
//! where `ES⁺` is echelon stock without backlog and `RB[k][t-1] = Σ_j R[k][j]
//! B[j][t-1]`. Proof: with `p` the first bucket of `S` with a setup, the
//! left side is at most `Σ_{u=p..l} q[k][u] ≤ ES⁺[k][l] + RB[k][p-1] +
//! c[p][l]`; without one it is 0.
//!
//! (l,S) inequalities describe each item on its own. Where several items
//! share a nearly full resource, the LP still gives each a fractional setup
//! scaled to the whole bucket's capacity; flow covers on the capacity rows
//! ([`CapacityCut`]) take part of that back.

use std::collections::HashMap;
use std::ffi::{c_char, c_int, c_void};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use good_lp::solvers::coin_cbc::{CoinCbcProblem, coin_cbc};
use good_lp::solvers::highs::{HighsProblem, highs};
use good_lp::variable::UnsolvedProblem;
use good_lp::{
    Expression, ProblemVariables, ResolutionError, Solution, SolutionStatus, SolverModel, Variable, VariableDefinition,
    WithInitialSolution, WithMipGap, WithTimeLimit, variable,
};
use highs::{HighsModelStatus, HighsSolutionStatus};

use crate::problem::{Plan, Problem, TOLERANCE};

/// How a setup decision (and an item's lot count) enters a model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    /// Binary (integer lot count).
    Integer,
    /// Continuous in [0, 1] (lot count continuous).
    Relaxed,
    /// Fixed to this value (0 or 1); lot count stays integer.
    Fixed(f64),
}

/// A valid inequality separated from an LP solution and added to the models.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cut {
    /// An (l,S) inequality of one item.
    Ls(LsCut),
    /// A flow cover on one resource's capacity in one bucket.
    Capacity(CapacityCut),
}

/// An (l,S) inequality for item `item`, last bucket `last`, bucket set `set`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LsCut {
    /// The item.
    pub item: usize,
    /// The last bucket `l`.
    pub last: usize,
    /// The buckets `S ⊆ 0..=l`.
    pub set: Vec<usize>,
}

/// A flow cover inequality on the capacity of `resource` in `bucket`, over
/// `members` (item, last bucket `l`).
///
/// Each member's load `x = a·q[t] + st·y[t]` is at most `U·y[t] + a·s`, with
/// `U = a·c[t][l] + st` and `s = RB[t-1] + ES⁺[l] ≥ 0` (the one-bucket (l,S)
/// inequality). With `λ = Σ U - capacity > 0`:
///
/// `Σ x + Σ (U - λ)⁺ (1 - y[t]) ≤ capacity + O[r][t] + Σ a·s`
///
/// Proof: `x' = max(0, x - a·s) ≤ U·y` and `Σ x' ≤ capacity + O`, so the
/// flow cover inequality for capacity `b = capacity + O` holds for `x'`; its
/// coefficients `(U - λ_b)⁺` are at least `(U - λ)⁺` since `O ≥ 0`, and
/// where `λ_b ≤ 0` the left side is at most `Σ U = capacity + λ ≤ b`. Then
/// `x ≤ x' + a·s`. When several items share a nearly full resource, this
/// stops the LP from giving each a fractional setup scaled to the whole
/// bucket's capacity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapacityCut {
    /// The resource.
    pub resource: usize,
    /// The bucket `t`.
    pub bucket: usize,
    /// The cover: items and the last bucket of each one's (l,S) bound.
    pub members: Vec<(usize, usize)>,
}

/// Why a solve gave no answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MipError {
    /// The solver reported the model infeasible (a modelling bug: every model has a feasible plan).
    #[error("the solver reported the model infeasible")]
    Infeasible,
    /// The solver stopped without a usable answer.
    #[error("the solver stopped without a solution: {0}")]
    NoSolution(String),
}

/// How the solver stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Proven optimal (within the solver's tolerance).
    Optimal,
    /// Stopped at the requested relative gap.
    Gap,
    /// Stopped at the time limit.
    TimeLimit,
}

/// Values of a solved model.
#[derive(Debug, Clone)]
pub struct Solved {
    /// Release quantities (as the solver returned them).
    pub release: Vec<Vec<f64>>,
    /// Setup values (0 where the item has no setup variable).
    pub setup: Vec<Vec<f64>>,
    /// Stock values.
    pub stock: Vec<Vec<f64>>,
    /// Backlog values.
    pub backlog: Vec<Vec<f64>>,
    /// Overtime per resource and bucket.
    pub overtime: Vec<Vec<f64>>,
    /// The solver's objective value.
    pub objective: f64,
    /// The solver's best bound (for an LP, the objective).
    pub bound: f64,
    /// How it stopped.
    pub stop: Stop,
}

/// Data derived once per problem and shared by every model built from it.
#[derive(Debug, Clone)]
pub struct Prepared<'p> {
    /// The problem.
    pub problem: &'p Problem,
    /// Items with a setup variable.
    pub has_setup: Vec<bool>,
    /// Upper bound of each release quantity.
    pub upper: Vec<Vec<f64>>,
    factors: Vec<Vec<(usize, f64)>>,
    echelon_net: Vec<Vec<f64>>,
    echelon_initial: Vec<f64>,
    cum_demand: Vec<Vec<f64>>,
    /// Per item and bucket: `((capacity - setup) / per_unit, resource, 1 / per_unit)`
    /// for the resource that allows the least regular production.
    regular: Vec<Vec<Option<(f64, usize, f64)>>>,
}

impl<'p> Prepared<'p> {
    /// Derives bounds, requirement factors and echelon data.
    pub fn new(problem: &'p Problem) -> Self {
        let n = problem.items.len();
        let t_len = problem.periods;
        let has_setup: Vec<bool> = (0..n).map(|i| problem.needs_setup(i)).collect();
        // Largest useful total quantity per item, parents first.
        let mut total = vec![0.0; n];
        let mut parents: Vec<Vec<(usize, f64)>> = vec![Vec::new(); n];
        for a in &problem.arcs {
            parents[a.component].push((a.parent, a.quantity));
        }
        for &i in &problem.topological_order() {
            let it = &problem.items[i];
            let need = it.demand.iter().sum::<f64>()
                + parents[i].iter().map(|&(p, q)| q * total[p]).sum::<f64>()
                + it.safety_stock
                - it.initial_stock
                - it.receipts.iter().sum::<f64>();
            total[i] = if need > 0.0 { need + it.min_lot + it.multiple } else { 0.0 };
        }
        let mut upper = vec![vec![0.0; t_len]; n];
        for (i, it) in problem.items.iter().enumerate() {
            if !it.orderable {
                continue;
            }
            for u in 0..problem.release_end(i) {
                let mut m = total[i];
                for l in &it.loads {
                    let res = &problem.resources[l.resource];
                    let room = res.capacity[u] + res.overtime_max[u] - l.setup;
                    if l.per_unit > 0.0 {
                        m = m.min((room / l.per_unit).max(0.0));
                    } else if room < 0.0 {
                        m = 0.0;
                    }
                }
                if it.multiple > 0.0 {
                    m = (m / it.multiple + 1e-9).floor() * it.multiple;
                }
                if m < it.min_lot - TOLERANCE || m < TOLERANCE {
                    m = 0.0;
                }
                upper[i][u] = m;
            }
        }
        let ed = problem.echelon(|it| &it.demand);
        let esr = problem.echelon(|it| &it.receipts);
        let echelon_net = (0..n).map(|i| (0..t_len).map(|t| ed[i][t] - esr[i][t]).collect()).collect();
        let factors = problem.requirement_factors();
        let echelon_initial =
            factors.iter().map(|row| row.iter().map(|&(j, r)| r * problem.items[j].initial_stock).sum()).collect();
        let cum_demand = problem
            .items
            .iter()
            .map(|it| {
                it.demand
                    .iter()
                    .scan(0.0, |acc, d| {
                        *acc += d;
                        Some(*acc)
                    })
                    .collect()
            })
            .collect();
        let regular = problem
            .items
            .iter()
            .map(|it| {
                (0..t_len)
                    .map(|t| {
                        it.loads
                            .iter()
                            .filter(|l| l.per_unit > 0.0)
                            .map(|l| {
                                let c = &problem.resources[l.resource];
                                ((c.capacity[t] - l.setup).max(0.0) / l.per_unit, l.resource, 1.0 / l.per_unit)
                            })
                            .min_by(|a, b| a.0.total_cmp(&b.0))
                    })
                    .collect()
            })
            .collect();
        Prepared { problem, has_setup, upper, factors, echelon_net, echelon_initial, cum_demand, regular }
    }

    /// Number of setup binaries in the full model.
    pub fn binaries(&self) -> usize {
        (0..self.problem.items.len())
            .filter(|&i| self.has_setup[i])
            .map(|i| (0..self.problem.release_end(i)).filter(|&u| self.upper[i][u] > 0.0).count())
            .sum()
    }

    /// The coefficient of `y[k][t]` in an (l,S) inequality ending in `l`, and
    /// the resource whose overtime (divided by run time) joins the right side
    /// when the coefficient is regular capacity.
    fn coefficient(&self, k: usize, t: usize, l: usize) -> (f64, Option<(usize, f64)>) {
        let c = self.requirement(k, t, l);
        // An order is also at most what capacity allows in its bucket: the
        // bound with all overtime, or regular capacity plus the overtime used.
        let upper = self.upper[k][t];
        match self.regular[k][t] {
            Some((regular, r, per_hour)) if regular < c.min(upper) => (regular, Some((r, per_hour))),
            _ => (c.min(upper), None),
        }
    }

    /// `c[t][l]`: echelon net requirement of item `k` over buckets `t..=l`
    /// (less initial echelon stock for `t = 0`), at least 0.
    fn requirement(&self, k: usize, t: usize, l: usize) -> f64 {
        let mut c: f64 = self.echelon_net[k][t..=l].iter().sum();
        if t == 0 {
            c -= self.echelon_initial[k];
        }
        c.max(0.0)
    }

    /// Run time per unit and setup time of item `i` on resource `r`.
    fn load_on(&self, i: usize, r: usize) -> (f64, f64) {
        self.problem.items[i]
            .loads
            .iter()
            .filter(|l| l.resource == r)
            .fold((0.0, 0.0), |(a, st), l| (a + l.per_unit, st + l.setup))
    }

    /// `ES⁺[k][l]` at a solution.
    fn echelon_stock(&self, k: usize, l: usize, s: &Solved) -> f64 {
        let p = self.problem;
        let mut es = 0.0;
        for &(j, r) in &self.factors[k] {
            let mut v = s.stock[j][l];
            let lt = p.items[j].lead_time;
            if lt > 0 {
                for u in (l + 1).saturating_sub(lt)..=l {
                    v += s.release[j][u];
                }
            }
            es += r * v;
        }
        es
    }

    /// `RB[k][t-1]` at a solution (0 for `t = 0`).
    fn echelon_backlog_before(&self, k: usize, t: usize, s: &Solved) -> f64 {
        if t == 0 { 0.0 } else { self.factors[k].iter().map(|&(j, r)| r * s.backlog[j][t - 1]).sum() }
    }

    /// `(a, st, U)` of item `i` as a member of a capacity cut on resource
    /// `r` in bucket `t` with last bucket `l`.
    fn member_load(&self, i: usize, r: usize, t: usize, l: usize) -> (f64, f64, f64) {
        let (a, st) = self.load_on(i, r);
        (a, st, a * self.requirement(i, t, l).min(self.upper[i][t]) + st)
    }

    /// Per member of a capacity cut: `(a, st, U)`, and `λ`.
    fn cover_terms(&self, cut: &CapacityCut) -> (Vec<(f64, f64, f64)>, f64) {
        let t = cut.bucket;
        let terms: Vec<(f64, f64, f64)> =
            cut.members.iter().map(|&(i, l)| self.member_load(i, cut.resource, t, l)).collect();
        let lambda = terms.iter().map(|x| x.2).sum::<f64>() - self.problem.resources[cut.resource].capacity[t];
        (terms, lambda)
    }

    /// `c · y[k][t] + O[r][t] / per_unit` of a cut's right side at a solution.
    fn capacity_term(&self, k: usize, t: usize, l: usize, s: &Solved) -> f64 {
        let (c, ot) = self.coefficient(k, t, l);
        c * s.setup[k][t] + ot.map_or(0.0, |(r, per_hour)| per_hour * s.overtime[r][t])
    }

    fn has_backlog(&self, i: usize, t: usize) -> bool {
        self.cum_demand[i][t] > 0.0
    }

    /// Echelon stock without backlog and echelon backlog of a plan (for MIP starts).
    fn echelon_values(&self, plan: &Plan, e: &crate::problem::Evaluation) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
        let p = self.problem;
        let mut ech = vec![vec![0.0; p.periods]; p.items.len()];
        let mut rb = vec![vec![0.0; p.periods]; p.items.len()];
        for (k, row) in self.factors.iter().enumerate() {
            for t in 0..p.periods {
                for &(j, r) in row {
                    let lt = p.items[j].lead_time;
                    let mut v = e.stock[j][t];
                    if lt > 0 {
                        for u in (t + 1).saturating_sub(lt)..=t {
                            v += plan.release[j][u];
                        }
                    }
                    ech[k][t] += r * v;
                    rb[k][t] += r * e.backlog[j][t];
                }
            }
        }
        (ech, rb)
    }

    /// Left side minus right side of a cut at a solution (positive: violated),
    /// and the size of its right side (for tolerances).
    pub fn cut_value(&self, cut: &Cut, s: &Solved) -> (f64, f64) {
        match cut {
            Cut::Ls(cut) => {
                let (k, l) = (cut.item, cut.last);
                let es = self.echelon_stock(k, l, s);
                let mut lhs = 0.0;
                for &t in &cut.set {
                    lhs += s.release[k][t] - self.capacity_term(k, t, l, s) - self.echelon_backlog_before(k, t, s);
                }
                (lhs - es, es.abs())
            }
            Cut::Capacity(cut) => {
                let (terms, lambda) = self.cover_terms(cut);
                let t = cut.bucket;
                let capacity = self.problem.resources[cut.resource].capacity[t];
                let mut lhs = -s.overtime[cut.resource][t];
                for (&(i, l), &(a, st, u)) in cut.members.iter().zip(&terms) {
                    let y = s.setup[i][t];
                    lhs += a * s.release[i][t] + st * y + (u - lambda).max(0.0) * (1.0 - y)
                        - a * (self.echelon_backlog_before(i, t, s) + self.echelon_stock(i, l, s));
                }
                (lhs - capacity, capacity)
            }
        }
    }

    /// The most violated capacity cut of each resource and bucket: covers
    /// among the (at most 10) items with the most fractional setups there,
    /// each bounded by its (l,S) inequality over the same number of buckets
    /// (1 to 7).
    fn separate_capacity(&self, s: &Solved, cuts: &mut Vec<Cut>) {
        const MOST_MEMBERS: usize = 10;
        const MOST_BUCKETS: usize = 7;
        let p = self.problem;
        for (r, res) in p.resources.iter().enumerate() {
            for t in 0..p.periods {
                let mut candidates: Vec<usize> = (0..p.items.len())
                    .filter(|&i| {
                        self.has_setup[i]
                            && t < p.release_end(i)
                            && self.upper[i][t] > 0.0
                            && self.load_on(i, r) != (0.0, 0.0)
                            && (s.release[i][t] > 1e-7 || s.setup[i][t] > 1e-7)
                    })
                    .collect();
                if candidates.is_empty() {
                    continue;
                }
                let fractional = |i: usize| s.setup[i][t] * (1.0 - s.setup[i][t]);
                candidates.sort_by(|&a, &b| fractional(b).total_cmp(&fractional(a)));
                candidates.truncate(MOST_MEMBERS);
                let capacity = res.capacity[t];
                let tolerance = 1e-4 * (1.0 + capacity);
                let mut best: Option<(f64, usize, u32)> = None;
                for l in t..(t + MOST_BUCKETS).min(p.periods) {
                    // Per candidate: `a·q + st·y - a·s`, `U` and `1 - y`, so
                    // that each subset costs a few additions.
                    let terms: Vec<(f64, f64, f64)> = candidates
                        .iter()
                        .map(|&i| {
                            let (a, st, u) = self.member_load(i, r, t, l);
                            let y = s.setup[i][t];
                            let slack = self.echelon_backlog_before(i, t, s) + self.echelon_stock(i, l, s);
                            (a * s.release[i][t] + st * y - a * slack, u, 1.0 - y)
                        })
                        .collect();
                    for mask in 1u32..(1 << candidates.len()) {
                        let members = || terms.iter().enumerate().filter(move |&(b, _)| mask & (1 << b) != 0);
                        let lambda = members().map(|(_, x)| x.1).sum::<f64>() - capacity;
                        if lambda <= 1e-6 {
                            continue;
                        }
                        let lhs: f64 = members().map(|(_, &(gain, u, open))| gain + (u - lambda).max(0.0) * open).sum();
                        let violation = lhs - s.overtime[r][t] - capacity;
                        if violation > tolerance && best.is_none_or(|b| violation > b.0) {
                            best = Some((violation, l, mask));
                        }
                    }
                }
                if let Some((_violation, l, mask)) = best {
                    let members = candidates
                        .iter()
                        .enumerate()
                        .filter(|&(b, _)| mask & (1 << b) != 0)
                        .map(|(_, &i)| (i, l))
                        .collect();
                    let cut = Cut::Capacity(CapacityCut { resource: r, bucket: t, members });
                    debug_assert!((self.cut_value(&cut, s).0 - _violation).abs() < 1e-6 * (1.0 + capacity));
                    cuts.push(cut);
                }
            }
        }
    }

    /// Inequalities violated by a (relaxed) solution: (l,S) inequalities, at
    /// most one per item and last bucket; once none is violated, capacity
    /// covers, at most one per resource and bucket. (l,S) rounds come first
    /// because they raise the bound much faster: on larger models, adding
    /// covers before they converge slowed every later LP and MIP.
    pub fn separate(&self, s: &Solved) -> Vec<Cut> {
        let p = self.problem;
        let mut cuts = Vec::new();
        for k in 0..p.items.len() {
            if !self.has_setup[k] {
                continue;
            }
            let end = p.release_end(k);
            for l in 0..p.periods {
                let mut set = Vec::new();
                for t in 0..=l.min(end.saturating_sub(1)) {
                    if end == 0 {
                        break;
                    }
                    let term = s.release[k][t] - self.capacity_term(k, t, l, s) - self.echelon_backlog_before(k, t, s);
                    if term > 1e-7 {
                        set.push(t);
                    }
                }
                let cut = Cut::Ls(LsCut { item: k, last: l, set });
                let (violation, size) = self.cut_value(&cut, s);
                if violation > 1e-4 * (1.0 + size) {
                    cuts.push(cut);
                }
            }
        }
        if cuts.is_empty() {
            self.separate_capacity(s, &mut cuts);
        }
        cuts
    }
}

struct Vars {
    q: Vec<Vec<Option<Variable>>>,
    y: Vec<Vec<Option<Variable>>>,
    n: Vec<Vec<Option<Variable>>>,
    inv: Vec<Vec<Variable>>,
    back: Vec<Vec<Option<Variable>>>,
    short: Vec<Vec<Option<Variable>>>,
    ot: Vec<Vec<Option<Variable>>>,
    /// Echelon stock without backlog, `ES⁺[k][l]` (only with cuts).
    ech: Vec<Vec<Option<Variable>>>,
    /// Echelon backlog `RB[k][t]` (only with cuts, where some user has backlog).
    rb: Vec<Vec<Option<Variable>>>,
}

/// The MIP solver that runs a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// COIN-OR CBC: the LP rounds, and a second search of the whole model
    /// (a branch-and-bound that can use several threads).
    Cbc,
    /// HiGHS: a single-threaded branch-and-cut whose bounds on these
    /// models are much stronger than CBC's (see the README's LSDM table):
    /// the exact search and the heuristics' sub-models.
    Highs,
}

/// Options of one solve.
pub struct SolveOptions<'a> {
    /// Mode of each setup decision `(item, bucket)`.
    pub mode: &'a dyn Fn(usize, usize) -> Mode,
    /// (l,S) inequalities to add.
    pub cuts: &'a [Cut],
    /// Time limit in wall-clock seconds (CBC rounds it up to whole seconds).
    pub time_limit: f64,
    /// Relative gap at which to stop.
    pub gap: f64,
    /// A plan to start from (must be feasible for the model to help).
    pub start: Option<&'a Plan>,
    /// Threads for CBC's branch-and-bound (HiGHS always runs on one).
    pub threads: usize,
    /// The solver.
    pub backend: Backend,
    /// For a HiGHS search run beside the heuristics: stops it, hands it
    /// their better plans.
    pub link: Option<&'a SearchLink>,
}

/// The optimiser's line to a HiGHS search running on another thread.
///
/// HiGHS asks (through its callbacks) whether to stop, and before each dive
/// of its tree search whether there is a plan to take as incumbent: the
/// heuristics' better plans then prune its tree and seed its own heuristics.
#[derive(Debug, Default)]
pub struct SearchLink {
    stop: AtomicBool,
    offered: Mutex<Option<Plan>>,
    proved: AtomicBool,
}

impl SearchLink {
    /// Records that the search ended with a proof (optimal, or within the gap).
    pub fn set_proved(&self) {
        self.proved.store(true, Ordering::Relaxed);
    }

    /// Whether the search ended with a proof: other work can stop.
    pub fn proved(&self) -> bool {
        self.proved.load(Ordering::Relaxed)
    }

    /// Asks the search to return at its next check.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Offers the search a plan (feasible, and better than any offered before).
    pub fn offer(&self, plan: &Plan) {
        if let Ok(mut offered) = self.offered.lock() {
            *offered = Some(plan.clone());
        }
    }
}

/// What HiGHS's callback needs to turn an offered plan into columns.
struct CallbackContext<'c> {
    link: &'c SearchLink,
    prep: &'c Prepared<'c>,
    v: &'c Vars,
    index: &'c HashMap<Variable, usize>,
    mode: &'c dyn Fn(usize, usize) -> Mode,
}

/// HiGHS's callback (activated for the MIP interrupt and user-solution
/// queries only). It must not unwind into C: nothing in it panics.
unsafe extern "C" fn highs_callback(
    kind: c_int,
    _message: *const c_char,
    _out: *const highs_sys::HighsCallbackDataOut,
    data_in: *mut highs_sys::HighsCallbackDataIn,
    context: *mut c_void,
) {
    // SAFETY: `context` is the `CallbackContext` that `run_highs` registered
    // and keeps alive until the solve returns; `data_in` is HiGHS's, valid
    // during the call.
    let cx = unsafe { &*(context as *const CallbackContext<'_>) };
    if data_in.is_null() {
        return;
    }
    match kind as highs_sys::HighsInt {
        highs_sys::kHighsCallbackMipInterrupt if cx.link.stop.load(Ordering::Relaxed) => {
            unsafe { (*data_in).user_interrupt = 1 };
        }
        highs_sys::kHighsCallbackCallbackMipUserSolution => {
            let Some(plan) = cx.link.offered.lock().ok().and_then(|mut o| o.take()) else {
                return;
            };
            let columns = dense(cx.index, start_values(cx.prep, cx.v, &plan, cx.mode));
            // HiGHS copies the values (and checks them itself); the flag is
            // read back from this struct when the callback returns.
            let status = unsafe {
                highs_sys::Highs_setCallbackSolution(data_in, columns.len() as highs_sys::HighsInt, columns.as_ptr())
            };
            if status == highs_sys::STATUS_OK {
                unsafe { (*data_in).user_has_solution = 1 };
            }
        }
        _ => {}
    }
}

/// Values per column (0 where none is given), as HiGHS's C API takes them.
fn dense(index: &HashMap<Variable, usize>, values: Vec<(Variable, f64)>) -> Vec<f64> {
    let mut columns = vec![0.0; index.len()];
    for (var, value) in values {
        columns[index[&var]] = value;
    }
    columns
}

/// The model's columns: good_lp's variables with their column numbers,
/// which a raw HiGHS model needs for its start and its values.
struct Columns {
    vars: ProblemVariables,
    index: HashMap<Variable, usize>,
}

impl Columns {
    fn add(&mut self, definition: VariableDefinition) -> Variable {
        let column = self.vars.len();
        let var = self.vars.add(definition);
        self.index.insert(var, column);
        var
    }
}

/// What a backend returns: how it stopped, objective, bound, column values.
struct Run {
    stop: Stop,
    objective: f64,
    bound: f64,
    values: Vec<f64>,
}

/// Builds and solves one model.
pub fn solve(prep: &Prepared<'_>, opts: &SolveOptions<'_>) -> Result<Solved, MipError> {
    let p = prep.problem;
    let n_items = p.items.len();
    let t_len = p.periods;
    let mut vars = Columns { vars: ProblemVariables::new(), index: HashMap::new() };
    let mut objective = Expression::with_capacity(n_items * t_len * 4);
    let mut any_integer = false;

    let mut v = Vars {
        q: vec![vec![None; t_len]; n_items],
        y: vec![vec![None; t_len]; n_items],
        n: vec![vec![None; t_len]; n_items],
        inv: Vec::with_capacity(n_items),
        back: vec![vec![None; t_len]; n_items],
        short: vec![vec![None; t_len]; n_items],
        ot: vec![vec![None; t_len]; p.resources.len()],
        ech: vec![vec![None; t_len]; n_items],
        rb: vec![vec![None; t_len]; n_items],
    };
    for (i, it) in p.items.iter().enumerate() {
        for u in 0..p.release_end(i) {
            let m = prep.upper[i][u];
            if m <= 0.0 {
                continue;
            }
            let mode = if prep.has_setup[i] || it.multiple > 0.0 { (opts.mode)(i, u) } else { Mode::Relaxed };
            if matches!(mode, Mode::Fixed(f) if f < 0.5) {
                continue;
            }
            let q = vars.add(variable().min(0.0).max(m));
            objective.add_mul(it.unit_cost, q);
            v.q[i][u] = Some(q);
            if prep.has_setup[i] {
                let y = match mode {
                    Mode::Integer => {
                        any_integer = true;
                        vars.add(variable().binary())
                    }
                    Mode::Relaxed => vars.add(variable().min(0.0).max(1.0)),
                    Mode::Fixed(f) => vars.add(variable().min(f).max(f)),
                };
                objective.add_mul(it.setup_cost[u], y);
                v.y[i][u] = Some(y);
            }
            if it.multiple > 0.0 {
                let cap = (m / it.multiple + 1e-9).floor();
                let count = if mode == Mode::Relaxed {
                    vars.add(variable().min(0.0).max(cap))
                } else {
                    any_integer = true;
                    vars.add(variable().integer().min(0.0).max(cap))
                };
                v.n[i][u] = Some(count);
            }
        }
        let inv: Vec<Variable> = (0..t_len).map(|_| vars.add(variable().min(0.0))).collect();
        for t in 0..t_len {
            objective.add_mul(it.holding_cost, inv[t]);
            if prep.has_backlog(i, t) {
                let b = vars.add(variable().min(0.0).max(prep.cum_demand[i][t]));
                objective.add_mul(it.backlog_cost, b);
                v.back[i][t] = Some(b);
            }
            if it.safety_stock > 0.0 {
                let s = vars.add(variable().min(0.0).max(it.safety_stock));
                objective.add_mul(it.safety_stock_cost, s);
                v.short[i][t] = Some(s);
            }
        }
        v.inv.push(inv);
    }
    for (r, res) in p.resources.iter().enumerate() {
        for t in 0..t_len {
            if res.overtime_max[t] > 0.0 {
                let o = vars.add(variable().min(0.0).max(res.overtime_max[t]));
                objective.add_mul(res.overtime_cost, o);
                v.ot[r][t] = Some(o);
            }
        }
    }

    if !opts.cuts.is_empty() {
        for k in 0..n_items {
            for t in 0..t_len {
                v.ech[k][t] = Some(vars.add(variable().min(0.0)));
                if prep.factors[k].iter().any(|&(j, _)| prep.has_backlog(j, t)) {
                    v.rb[k][t] = Some(vars.add(variable().min(0.0)));
                }
            }
        }
    }
    let initial = opts.start.map_or_else(Vec::new, |plan| start_values(prep, &v, plan, opts.mode));
    let Columns { vars, index } = vars;
    let unsolved = vars.minimise(objective);
    let run = match opts.backend {
        Backend::Cbc => run_cbc(prep, &v, unsolved, &index, initial, any_integer, opts)?,
        Backend::Highs => run_highs(prep, &v, unsolved, &index, initial, any_integer, opts)?,
    };
    let value = |var: &Option<Variable>| var.map_or(0.0, |x| run.values[index[&x]]);
    let mut release = vec![vec![0.0; t_len]; n_items];
    let mut setup = vec![vec![0.0; t_len]; n_items];
    let mut back = vec![vec![0.0; t_len]; n_items];
    for i in 0..n_items {
        for t in 0..t_len {
            release[i][t] = match (v.n[i][t], v.q[i][t]) {
                (Some(count), Some(_)) if !matches!((opts.mode)(i, t), Mode::Relaxed) => {
                    run.values[index[&count]].round() * p.items[i].multiple
                }
                _ => value(&v.q[i][t]),
            };
            setup[i][t] = value(&v.y[i][t]);
            back[i][t] = value(&v.back[i][t]);
        }
    }
    let stock = v.inv.iter().map(|row| row.iter().map(|&x| run.values[index[&x]]).collect()).collect();
    let overtime = v.ot.iter().map(|row| row.iter().map(&value).collect()).collect();
    Ok(Solved {
        release,
        setup,
        stock,
        backlog: back,
        overtime,
        objective: run.objective,
        bound: run.bound,
        stop: run.stop,
    })
}

/// The values of a model's columns for `plan`: a start for the solver.
fn start_values(
    prep: &Prepared<'_>,
    v: &Vars,
    plan: &Plan,
    mode: &dyn Fn(usize, usize) -> Mode,
) -> Vec<(Variable, f64)> {
    let p = prep.problem;
    let e = p.evaluate(plan);
    let mut values = Vec::new();
    for (i, it) in p.items.iter().enumerate() {
        for t in 0..p.periods {
            if let Some(q) = v.q[i][t] {
                values.push((q, plan.release[i][t]));
            }
            if let Some(y) = v.y[i][t] {
                let open = match mode(i, t) {
                    Mode::Fixed(f) => f,
                    _ if plan.release[i][t] > TOLERANCE => 1.0,
                    _ => 0.0,
                };
                values.push((y, open));
            }
            if let Some(count) = v.n[i][t] {
                values.push((count, (plan.release[i][t] / it.multiple).round()));
            }
            values.push((v.inv[i][t], e.stock[i][t]));
            if let Some(b) = v.back[i][t] {
                values.push((b, e.backlog[i][t]));
            }
            if let Some(s) = v.short[i][t] {
                values.push((s, (it.safety_stock - e.stock[i][t]).max(0.0)));
            }
        }
    }
    for (r, res) in p.resources.iter().enumerate() {
        for t in 0..p.periods {
            if let Some(o) = v.ot[r][t] {
                values.push((o, (e.load[r][t] - res.capacity[t]).clamp(0.0, res.overtime_max[t])));
            }
        }
    }
    if v.ech.iter().flatten().any(Option::is_some) {
        let (ech, rb) = prep.echelon_values(plan, &e);
        for k in 0..p.items.len() {
            for t in 0..p.periods {
                if let Some(x) = v.ech[k][t] {
                    values.push((x, ech[k][t]));
                }
                if let Some(x) = v.rb[k][t] {
                    values.push((x, rb[k][t]));
                }
            }
        }
    }
    values
}

fn run_cbc(
    prep: &Prepared<'_>,
    v: &Vars,
    unsolved: UnsolvedProblem,
    index: &HashMap<Variable, usize>,
    initial: Vec<(Variable, f64)>,
    any_integer: bool,
    opts: &SolveOptions<'_>,
) -> Result<Run, MipError> {
    let mut model: CoinCbcProblem = unsolved.using(coin_cbc);
    add_constraints(prep, v, opts.cuts, &mut model);
    if !initial.is_empty() && any_integer {
        model = model.with_initial_solution(initial);
    }
    model = model.with_time_limit(opts.time_limit.max(1.0));
    // Keep CBC and its LP solver quiet: standard output may carry the result.
    model.set_parameter("log", "0");
    model.set_parameter("slogLevel", "0");
    // Limits are wall-clock seconds, as the optimiser's budget is: CBC counts
    // CPU seconds otherwise, which overshoots on a busy machine and stops a
    // two-thread search at half its time.
    model.set_parameter("timeMode", "elapsed");
    if any_integer && opts.threads > 1 {
        model.set_parameter("threads", &opts.threads.to_string());
    }
    if any_integer {
        model = model.with_mip_gap(opts.gap as f32).map_err(|e| MipError::NoSolution(e.to_string()))?;
    }
    let solution = model.solve().map_err(|e| match e {
        ResolutionError::Infeasible => MipError::Infeasible,
        other => MipError::NoSolution(other.to_string()),
    })?;
    let stop = match solution.status() {
        SolutionStatus::Optimal => Stop::Optimal,
        SolutionStatus::GapLimit => Stop::Gap,
        SolutionStatus::TimeLimit => Stop::TimeLimit,
    };
    let raw = solution.model();
    let objective = raw.obj_value();
    let bound = if any_integer { raw.best_possible_value() } else { objective };
    let mut values = vec![0.0; index.len()];
    for (&var, &column) in index {
        values[column] = solution.value(var);
    }
    Ok(Run { stop, objective, bound, values })
}

fn run_highs<'c>(
    prep: &'c Prepared<'c>,
    v: &'c Vars,
    unsolved: UnsolvedProblem,
    index: &'c HashMap<Variable, usize>,
    initial: Vec<(Variable, f64)>,
    any_integer: bool,
    opts: &SolveOptions<'c>,
) -> Result<Run, MipError> {
    let mut problem: HighsProblem = unsolved.using(highs);
    add_constraints(prep, v, opts.cuts, &mut problem);
    // The raw model: good_lp's solution hides HiGHS's dual bound.
    let mut model = problem.try_into_inner().map_err(|e| MipError::NoSolution(e.to_string()))?;
    model.make_quiet();
    model.set_option("time_limit", opts.time_limit.max(0.1));
    model.set_option("mip_rel_gap", opts.gap);
    if !initial.is_empty() && any_integer {
        model.set_solution(Some(&dense(index, initial)), None, None, None);
    }
    // Declared before `solved`, so dropped after it: alive whenever HiGHS may call back.
    let context = opts.link.map(|link| CallbackContext { link, prep, v, index, mode: opts.mode });
    if let Some(cx) = &context {
        let highs = model.as_mut_ptr();
        // SAFETY: the context outlives the model and the solve (see above),
        // and the callback only reads it.
        unsafe {
            highs_sys::Highs_setCallback(highs, Some(highs_callback), cx as *const CallbackContext<'_> as *mut c_void);
            highs_sys::Highs_startCallback(highs, highs_sys::kHighsCallbackMipInterrupt);
            if any_integer {
                highs_sys::Highs_startCallback(highs, highs_sys::kHighsCallbackCallbackMipUserSolution);
            }
        }
    }
    let solved = model.try_solve().map_err(|e| MipError::NoSolution(format!("HiGHS: {e:?}")))?;
    let stop = match solved.status() {
        HighsModelStatus::Optimal => {
            if any_integer && solved.mip_gap() > 1e-9 {
                Stop::Gap
            } else {
                Stop::Optimal
            }
        }
        HighsModelStatus::ObjectiveBound | HighsModelStatus::ObjectiveTarget => Stop::Gap,
        HighsModelStatus::ReachedTimeLimit
        | HighsModelStatus::ReachedSolutionLimit
        | HighsModelStatus::ReachedInterrupt
        | HighsModelStatus::ReachedIterationLimit
        | HighsModelStatus::ReachedMemoryLimit => Stop::TimeLimit,
        HighsModelStatus::Infeasible | HighsModelStatus::UnboundedOrInfeasible => return Err(MipError::Infeasible),
        other => return Err(MipError::NoSolution(format!("HiGHS: {other:?}"))),
    };
    if solved.primal_solution_status() != HighsSolutionStatus::Feasible {
        return Err(MipError::NoSolution("HiGHS: no feasible solution in time".into()));
    }
    let objective = solved.objective_value();
    let bound =
        if any_integer { solved.double_info_value(c"mip_dual_bound").unwrap_or(f64::NEG_INFINITY) } else { objective };
    let values = solved.get_solution().columns().to_vec();
    Ok(Run { stop, objective, bound, values })
}

fn add_constraints<M: SolverModel>(prep: &Prepared<'_>, v: &Vars, cuts: &[Cut], model: &mut M) {
    let p = prep.problem;
    let t_len = p.periods;
    let mut consumers: Vec<Vec<(usize, f64)>> = vec![Vec::new(); p.items.len()];
    for a in &p.arcs {
        consumers[a.component].push((a.parent, a.quantity));
    }
    for (i, it) in p.items.iter().enumerate() {
        for t in 0..t_len {
            // I[t] - B[t] - I[t-1] + B[t-1] - received + Σ a q_parent = SR - d (+ I0).
            let mut e = Expression::with_capacity(6 + consumers[i].len());
            e.add_mul(1.0, v.inv[i][t]);
            if let Some(b) = v.back[i][t] {
                e.add_mul(-1.0, b);
            }
            let mut rhs = it.receipts[t] - it.demand[t];
            if t == 0 {
                rhs += it.initial_stock;
            } else {
                e.add_mul(-1.0, v.inv[i][t - 1]);
                if let Some(b) = v.back[i][t - 1] {
                    e.add_mul(1.0, b);
                }
            }
            if t >= it.lead_time
                && let Some(q) = v.q[i][t - it.lead_time]
            {
                e.add_mul(-1.0, q);
            }
            for &(parent, a) in &consumers[i] {
                if let Some(q) = v.q[parent][t] {
                    e.add_mul(a, q);
                }
            }
            model.add_constraint(e.eq(rhs));
            if let Some(s) = v.short[i][t] {
                model.add_constraint((v.inv[i][t] + s).geq(it.safety_stock));
            }
            if let Some(q) = v.q[i][t] {
                if let Some(y) = v.y[i][t] {
                    let m = prep.upper[i][t];
                    model.add_constraint((Expression::from(q) - m * y).leq(0.0));
                    if it.min_lot > 0.0 {
                        model.add_constraint((Expression::from(q) - it.min_lot * y).geq(0.0));
                    }
                }
                if let Some(count) = v.n[i][t] {
                    model.add_constraint((Expression::from(q) - it.multiple * count).eq(0.0));
                }
            }
        }
    }
    for (r, res) in p.resources.iter().enumerate() {
        for t in 0..t_len {
            let mut e = Expression::with_capacity(8);
            let mut any = false;
            for (i, it) in p.items.iter().enumerate() {
                for l in it.loads.iter().filter(|l| l.resource == r) {
                    if let Some(q) = v.q[i][t] {
                        e.add_mul(l.per_unit, q);
                        any = true;
                        if l.setup > 0.0
                            && let Some(y) = v.y[i][t]
                        {
                            e.add_mul(l.setup, y);
                        }
                    }
                }
            }
            if !any {
                continue;
            }
            if let Some(o) = v.ot[r][t] {
                // Per item: per_unit · q + setup · y ≤ capacity · y + O (a setup
                // that is only partly open may use regular capacity only in part).
                for (i, it) in p.items.iter().enumerate() {
                    for l in it.loads.iter().filter(|l| l.resource == r) {
                        if let (Some(q), Some(y)) = (v.q[i][t], v.y[i][t]) {
                            let mut vub = Expression::with_capacity(3);
                            vub.add_mul(l.per_unit, q);
                            vub.add_mul(l.setup - res.capacity[t], y);
                            vub.add_mul(-1.0, o);
                            model.add_constraint(vub.leq(0.0));
                        }
                    }
                }
                e.add_mul(-1.0, o);
            }
            model.add_constraint(e.leq(res.capacity[t]));
        }
    }
    if !cuts.is_empty() {
        let mut parents: Vec<Vec<(usize, f64)>> = vec![Vec::new(); p.items.len()];
        for a in &p.arcs {
            parents[a.component].push((a.parent, a.quantity));
        }
        for (k, it) in p.items.iter().enumerate() {
            for t in 0..t_len {
                // ES⁺[k][t] = I[k][t] + pipeline[k][t] + Σ_parents a · ES⁺[parent][t].
                if let Some(x) = v.ech[k][t] {
                    let mut e = Expression::with_capacity(4 + parents[k].len() + it.lead_time);
                    e.add_mul(1.0, x);
                    e.add_mul(-1.0, v.inv[k][t]);
                    if it.lead_time > 0 {
                        for u in (t + 1).saturating_sub(it.lead_time)..=t {
                            if let Some(q) = v.q[k][u] {
                                e.add_mul(-1.0, q);
                            }
                        }
                    }
                    for &(par, a) in &parents[k] {
                        if let Some(pe) = v.ech[par][t] {
                            e.add_mul(-a, pe);
                        }
                    }
                    model.add_constraint(e.eq(0.0));
                }
                // RB[k][t] = B[k][t] + Σ_parents a · RB[parent][t].
                if let Some(x) = v.rb[k][t] {
                    let mut e = Expression::with_capacity(3 + parents[k].len());
                    e.add_mul(1.0, x);
                    if let Some(b) = v.back[k][t] {
                        e.add_mul(-1.0, b);
                    }
                    for &(par, a) in &parents[k] {
                        if let Some(pr) = v.rb[par][t] {
                            e.add_mul(-a, pr);
                        }
                    }
                    model.add_constraint(e.eq(0.0));
                }
            }
        }
    }
    for cut in cuts {
        let cut = match cut {
            Cut::Ls(cut) => cut,
            Cut::Capacity(cut) => {
                add_capacity_cut(prep, v, cut, model);
                continue;
            }
        };
        let k = cut.item;
        let mut e = Expression::with_capacity(3 * cut.set.len() + 1);
        for &t in &cut.set {
            if let Some(q) = v.q[k][t] {
                e.add_mul(1.0, q);
                let (c, ot) = prep.coefficient(k, t, cut.last);
                if let Some(y) = v.y[k][t] {
                    e.add_mul(-c, y);
                }
                if let Some((r, per_hour)) = ot
                    && let Some(o) = v.ot[r][t]
                {
                    e.add_mul(-per_hour, o);
                }
            }
            if t > 0
                && let Some(rb) = v.rb[k][t - 1]
            {
                e.add_mul(-1.0, rb);
            }
        }
        if let Some(x) = v.ech[k][cut.last] {
            e.add_mul(-1.0, x);
        }
        model.add_constraint(e.leq(0.0));
    }
}

/// Adds a [`CapacityCut`] as `Σ a·q + (st - (U - λ)⁺)·y - O - Σ a·(RB + ES⁺)
/// ≤ capacity - Σ (U - λ)⁺` (a member without a quantity variable in this
/// model, as in relax-and-fix, is closed: its `y` is 0).
fn add_capacity_cut<M: SolverModel>(prep: &Prepared<'_>, v: &Vars, cut: &CapacityCut, model: &mut M) {
    let t = cut.bucket;
    let (terms, lambda) = prep.cover_terms(cut);
    let mut rhs = prep.problem.resources[cut.resource].capacity[t];
    let mut e = Expression::with_capacity(5 * cut.members.len() + 1);
    if let Some(o) = v.ot[cut.resource][t] {
        e.add_mul(-1.0, o);
    }
    for (&(i, l), &(a, st, u)) in cut.members.iter().zip(&terms) {
        let reduction = (u - lambda).max(0.0);
        rhs -= reduction;
        // Members have setups, so `y` exists wherever `q` does. Without `q`
        // (closed, fixed at 0 in this model) the constant `(U - λ)⁺` stays.
        if let (Some(q), Some(y)) = (v.q[i][t], v.y[i][t]) {
            e.add_mul(a, q);
            e.add_mul(st - reduction, y);
        }
        if t > 0
            && let Some(rb) = v.rb[i][t - 1]
        {
            e.add_mul(-a, rb);
        }
        if let Some(x) = v.ech[i][l] {
            e.add_mul(-a, x);
        }
    }
    model.add_constraint(e.leq(rhs));
}

/// Cleans a solver's release quantities into a plan: tiny values become 0,
/// lot multiples are snapped.
pub fn to_plan(p: &Problem, release: &[Vec<f64>]) -> Plan {
    let mut plan = Plan::empty(p);
    for (i, it) in p.items.iter().enumerate() {
        for u in 0..p.periods {
            let mut q = release[i][u];
            if q < 1e-7 {
                q = 0.0;
            }
            if it.multiple > 0.0 {
                q = (q / it.multiple).round() * it.multiple;
            }
            plan.release[i][u] = q;
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::tests::wagner_whitin;

    #[test]
    fn wagner_whitin_optimum_is_864() {
        let p = wagner_whitin();
        let prep = Prepared::new(&p);
        let s = solve(
            &prep,
            &SolveOptions {
                mode: &|_, _| Mode::Integer,
                cuts: &[],
                time_limit: 20.0,
                gap: 0.0,
                start: None,
                threads: 1,
                backend: Backend::Cbc,
                link: None,
            },
        )
        .unwrap();
        assert!((s.objective - 864.0).abs() < 1e-6, "{}", s.objective);
        let e = p.evaluate(&to_plan(&p, &s.release));
        assert!(e.violations.is_empty());
        assert!((e.cost.total() - 864.0).abs() < 1e-6);
    }

    #[test]
    fn ls_cuts_close_the_single_item_gap() {
        // For one uncapacitated item the (l,S) inequalities describe the convex hull,
        // so the LP with all cuts reaches the integer optimum.
        let p = wagner_whitin();
        let prep = Prepared::new(&p);
        let mut cuts = Vec::new();
        let lp = |cuts: &[Cut]| {
            solve(
                &prep,
                &SolveOptions {
                    mode: &|_, _| Mode::Relaxed,
                    cuts,
                    time_limit: 10.0,
                    gap: 0.0,
                    start: None,
                    threads: 1,
                    backend: Backend::Cbc,
                    link: None,
                },
            )
            .unwrap()
        };
        let first = lp(&cuts).objective;
        let mut last = first;
        for _ in 0..30 {
            let s = lp(&cuts);
            last = s.objective;
            let new = prep.separate(&s);
            if new.is_empty() {
                break;
            }
            cuts.extend(new);
        }
        assert!(first < 700.0, "plain LP bound {first}");
        assert!((last - 864.0).abs() < 1e-3, "LP bound with cuts {last}");
    }
}

#[cfg(test)]
pub(crate) mod cut_validity {
    use super::*;
    use crate::problem::{Arc, Load, ProblemItem, Resource};

    /// A small deterministic generator (splitmix64).
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// A random 3-level instance: two end items sharing a component, lead
    /// times, initial stock, firm receipts, a tight resource with setup times
    /// and overtime, backlog on the end items.
    pub(crate) fn random_problem(seed: u64) -> Problem {
        let mut r = Rng(seed);
        let periods = 4 + r.below(3) as usize;
        let n = 4;
        let items = (0..n)
            .map(|i| ProblemItem {
                id: format!("I{i}"),
                lead_time: r.below(2) as usize,
                initial_stock: (r.below(3) * 5) as f64,
                receipts: (0..periods).map(|_| if r.below(6) == 0 { 10.0 } else { 0.0 }).collect(),
                demand: (0..periods).map(|_| if i < 2 { (r.below(4) * 10) as f64 } else { 0.0 }).collect(),
                safety_stock: if r.below(3) == 0 { 5.0 } else { 0.0 },
                holding_cost: 1.0 + r.below(3) as f64,
                backlog_cost: 30.0 + r.below(20) as f64,
                safety_stock_cost: 2.0,
                setup_cost: (0..periods).map(|_| (20 + r.below(80)) as f64).collect(),
                unit_cost: 0.0,
                min_lot: if r.below(4) == 0 { 15.0 } else { 0.0 },
                multiple: if r.below(4) == 0 { 5.0 } else { 0.0 },
                loads: vec![Load { resource: 0, per_unit: 1.0, setup: r.below(8) as f64 }],
                orderable: true,
            })
            .collect();
        let arcs = vec![
            Arc { parent: 0, component: 2, quantity: 1.0 },
            Arc { parent: 1, component: 2, quantity: 2.0 },
            Arc { parent: 2, component: 3, quantity: 1.0 },
            Arc { parent: 1, component: 3, quantity: 1.0 },
        ];
        let cap = (40 + r.below(60)) as f64;
        let resources = vec![Resource {
            id: "R".into(),
            capacity: vec![cap; periods],
            overtime_max: vec![(r.below(2) * 10) as f64; periods],
            overtime_cost: 25.0,
        }];
        Problem { periods, items, arcs, resources }
    }

    fn optimum(prep: &Prepared<'_>, cuts: &[Cut]) -> f64 {
        optimum_with(prep, cuts, &|_, _| Mode::Integer)
    }

    fn optimum_with(prep: &Prepared<'_>, cuts: &[Cut], mode: &dyn Fn(usize, usize) -> Mode) -> f64 {
        optimum_on(prep, cuts, mode, 1, Backend::Cbc)
    }

    pub(crate) fn optimum_on(
        prep: &Prepared<'_>,
        cuts: &[Cut],
        mode: &dyn Fn(usize, usize) -> Mode,
        threads: usize,
        backend: Backend,
    ) -> f64 {
        let options =
            SolveOptions { mode, cuts, time_limit: 30.0, gap: 0.0, start: None, threads, backend, link: None };
        let s = solve(prep, &options).unwrap();
        assert_eq!(s.stop, Stop::Optimal);
        // A proven optimum: the bound meets the objective.
        assert!(
            (s.bound - s.objective).abs() <= 1e-6 * (1.0 + s.objective.abs()),
            "{} against {}",
            s.bound,
            s.objective
        );
        s.objective
    }

    #[test]
    fn highs_proves_the_optima_cbc_proves() {
        for seed in 0..10 {
            let p = random_problem(seed);
            let prep = Prepared::new(&p);
            let (_, cuts) = lp_rounds(&prep, true);
            let cbc = optimum_on(&prep, &[], &|_, _| Mode::Integer, 1, Backend::Cbc);
            let highs = optimum_on(&prep, &[], &|_, _| Mode::Integer, 1, Backend::Highs);
            let highs_cut = optimum_on(&prep, &cuts, &|_, _| Mode::Integer, 1, Backend::Highs);
            assert!((cbc - highs).abs() < 1e-6 * (1.0 + cbc), "seed {seed}: CBC {cbc}, HiGHS {highs}");
            assert!(
                (cbc - highs_cut).abs() < 1e-6 * (1.0 + cbc),
                "seed {seed}: CBC {cbc}, HiGHS with cuts {highs_cut}"
            );
        }
    }

    #[test]
    fn a_two_thread_search_proves_the_same_optima() {
        for seed in 0..10 {
            let p = random_problem(seed);
            let prep = Prepared::new(&p);
            let one = optimum_on(&prep, &[], &|_, _| Mode::Integer, 1, Backend::Cbc);
            let two = optimum_on(&prep, &[], &|_, _| Mode::Integer, 2, Backend::Cbc);
            assert!((one - two).abs() < 1e-6 * (1.0 + one), "seed {seed}: {one} on one thread, {two} on two");
        }
    }

    #[test]
    fn cuts_never_cut_off_the_optimum() {
        let mut total_cuts = 0;
        let mut capacity_cuts = 0;
        for seed in 0..25 {
            let p = random_problem(seed);
            let prep = Prepared::new(&p);
            let (lp_bound, cuts) = lp_rounds(&prep, true);
            total_cuts += cuts.len();
            capacity_cuts += cuts.iter().filter(|c| matches!(c, Cut::Capacity(_))).count();
            let plain = optimum(&prep, &[]);
            let with_cuts = optimum(&prep, &cuts);
            assert!(
                (plain - with_cuts).abs() < 1e-5 * (1.0 + plain),
                "seed {seed}: {plain} without cuts, {with_cuts} with"
            );
            assert!(lp_bound <= plain + 1e-5 * (1.0 + plain), "seed {seed}: LP bound {lp_bound} above optimum {plain}");
            // As in relax-and-fix: setups of bucket 1 fixed closed (no
            // quantity variable), so cuts over them must still hold.
            let closed = |_: usize, u: usize| if u == 1 { Mode::Fixed(0.0) } else { Mode::Integer };
            let plain = optimum_with(&prep, &[], &closed);
            let with_cuts = optimum_with(&prep, &cuts, &closed);
            assert!(
                (plain - with_cuts).abs() < 1e-5 * (1.0 + plain),
                "seed {seed}, bucket 1 closed: {plain} without cuts, {with_cuts} with"
            );
        }
        assert!(total_cuts > 100, "only {total_cuts} cuts were tried");
        assert!(capacity_cuts > 10, "only {capacity_cuts} capacity cuts were tried");
    }

    /// The LP bound after rounds of cuts (with or without capacity cuts), and the cuts.
    fn lp_rounds(prep: &Prepared<'_>, with_capacity: bool) -> (f64, Vec<Cut>) {
        let mut cuts = Vec::new();
        let mut bound = f64::NEG_INFINITY;
        for _ in 0..30 {
            let lp = solve(
                prep,
                &SolveOptions {
                    mode: &|_, _| Mode::Relaxed,
                    cuts: &cuts,
                    time_limit: 10.0,
                    gap: 0.0,
                    start: None,
                    threads: 1,
                    backend: Backend::Cbc,
                    link: None,
                },
            )
            .unwrap();
            bound = lp.objective;
            let new: Vec<Cut> =
                prep.separate(&lp).into_iter().filter(|c| with_capacity || matches!(c, Cut::Ls(_))).collect();
            if new.is_empty() {
                break;
            }
            cuts.extend(new);
        }
        (bound, cuts)
    }

    #[test]
    fn capacity_cuts_raise_the_lp_bound_but_not_above_the_optimum() {
        let mut raised = 0;
        for seed in 0..25 {
            let p = random_problem(seed);
            let prep = Prepared::new(&p);
            let ls_only = lp_rounds(&prep, false).0;
            let both = lp_rounds(&prep, true).0;
            let optimum = optimum(&prep, &[]);
            let tolerance = 1e-6 * (1.0 + optimum.abs());
            assert!(both >= ls_only - tolerance, "seed {seed}: {both} with capacity cuts, {ls_only} without");
            assert!(both <= optimum + tolerance, "seed {seed}: LP bound {both} above the optimum {optimum}");
            if both > ls_only + 1e-4 * (1.0 + ls_only.abs()) {
                raised += 1;
            }
        }
        assert!(raised >= 3, "capacity cuts raised the bound on only {raised} of 25 instances");
    }
}
