//! The optimiser: bound, heuristics, exact search, and the never-empty fallback.
//!
//! 1. **Start plans**: the empty plan (always feasible: all independent
//!    demand is backlogged), the lot-for-lot MRP plan when it fits capacity,
//!    and where it does not, lot-for-lot with orders moved back and split
//!    until they fit ([`Problem::capacity_shifted`]): on time wherever
//!    earlier capacity allows, in milliseconds.
//! 2. **Bound**: the LP relaxation strengthened by rounds of (l,S)
//!    inequalities and capacity flow covers ([`crate::mip`]); its value is a
//!    valid lower bound.
//! 3. **Relax-and-fix** over time windows: setups of the window are binary,
//!    earlier ones fixed, later ones relaxed; the window moves forward. Each
//!    step starts HiGHS from the previous step's plan cut off at the
//!    window, which is feasible, so the step always has an answer; a step
//!    without an integral answer in time keeps the setups its relaxation
//!    used.
//! 4. **Fix-and-optimise** (on larger models): re-optimise the setups of one
//!    time window at a time with all others fixed at the incumbent, keeping
//!    improvements (HiGHS too).
//! 5. **Exact search**: HiGHS on the full model with the cuts and the
//!    incumbent as a start; its bound improves ours. With two or more
//!    threads it runs on a thread of its own from step 2 on, for the whole
//!    budget, while steps 3 and 4 run beside it and hand it every better
//!    plan they find (HiGHS takes them as incumbents through its
//!    user-solution callback); the time left after step 4 then goes to CBC
//!    on the full model (on the remaining threads), a second, different
//!    exact search. On one thread, HiGHS gets the time left after step 4. A
//!    search that proves its answer stops the other.
//!
//! The heuristics' sub-models went from CBC to HiGHS on 2026-12-04: on the
//! Stadtler instances the 60 s plans came out up to 4 % cheaper (README,
//! LSDM benchmark).
//!
//! Every candidate plan is re-simulated with [`Problem::evaluate`] and only
//! kept when it breaks no rule; the best one is returned, so the answer is
//! never empty. How the search stopped is reported.

use std::time::{Duration, Instant};

use crate::mip::{Backend, Cut, Mode, Prepared, SearchLink, SolveOptions, Solved, Stop, solve, to_plan};
use crate::problem::{Evaluation, Plan, Problem, TOLERANCE};

/// Solver settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Options {
    /// Wall-clock budget in seconds for the whole optimisation.
    pub time_limit: f64,
    /// Stop when the relative gap between plan cost and bound is at most this.
    pub gap: f64,
    /// Threads, at least 1. From 2 on, one runs HiGHS's exact search beside
    /// the heuristics (relax-and-fix windows and fix-and-optimise steps, each
    /// a single-threaded HiGHS search), and the final CBC search of the whole
    /// model uses the others. The LP rounds run on one.
    pub threads: usize,
}

impl Options {
    /// The defaults with this time limit and gap, and one thread per core.
    pub fn new(time_limit: f64, gap: f64) -> Self {
        Options { time_limit, gap, threads: available_threads() }
    }
}

impl Default for Options {
    fn default() -> Self {
        Options::new(60.0, 0.01)
    }
}

/// The machine's cores (1 where that cannot be read).
pub fn available_threads() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Why the optimiser stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The plan is proven optimal.
    Optimal,
    /// The gap reached the requested value.
    Gap,
    /// The time limit was reached first.
    TimeLimit,
}

impl StopReason {
    /// The name used in results.
    pub fn as_str(self) -> &'static str {
        match self {
            StopReason::Optimal => "optimal",
            StopReason::Gap => "gap",
            StopReason::TimeLimit => "time_limit",
        }
    }
}

/// Which method produced the returned plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanSource {
    /// An exact search of the full model (HiGHS or CBC).
    Mip,
    /// Relax-and-fix or fix-and-optimise.
    Heuristic,
    /// The uncapacitated lot-for-lot plan (it happened to fit).
    LotForLot,
    /// The empty plan (everything backlogged): nothing better was found in time.
    Empty,
}

impl PlanSource {
    /// The name used in results.
    pub fn as_str(self) -> &'static str {
        match self {
            PlanSource::Mip => "mip",
            PlanSource::Heuristic => "heuristic",
            PlanSource::LotForLot => "lot_for_lot",
            PlanSource::Empty => "empty",
        }
    }
}

/// The optimiser's answer.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The best plan found.
    pub plan: Plan,
    /// Its simulation (cost split, stock, backlog, load).
    pub evaluation: Evaluation,
    /// Its cost.
    pub objective: f64,
    /// The best lower bound proven.
    pub bound: f64,
    /// `(objective - bound) / objective` (0 when both are 0).
    pub gap: f64,
    /// Why the search stopped.
    pub stop: StopReason,
    /// Where the plan came from.
    pub source: PlanSource,
    /// Seconds until the first plan better than the empty plan was found.
    pub first_plan_seconds: Option<f64>,
    /// Seconds used in all.
    pub seconds: f64,
    /// A line per step, for the log.
    pub log: Vec<String>,
}

struct Search<'a, 'p> {
    prep: &'a Prepared<'p>,
    started: Instant,
    deadline: Instant,
    best: Plan,
    best_eval: Evaluation,
    best_cost: f64,
    source: PlanSource,
    first_plan: Option<f64>,
    log: Vec<String>,
    /// [`Options::threads`] (less the one a HiGHS search beside takes).
    threads: usize,
    /// The HiGHS search beside the heuristics, if one runs.
    link: Option<&'a SearchLink>,
}

impl Search<'_, '_> {
    /// Seconds left (none once the HiGHS search beside has proved its answer).
    fn remaining(&self) -> f64 {
        if self.link.is_some_and(SearchLink::proved) {
            return 0.0;
        }
        self.deadline.saturating_duration_since(Instant::now()).as_secs_f64()
    }

    fn elapsed(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// Keeps `plan` if it is feasible and cheaper than the incumbent.
    fn offer(&mut self, plan: Plan, source: PlanSource, what: &str) -> bool {
        let e = self.prep.problem.evaluate(&plan);
        if !e.violations.is_empty() {
            self.log.push(format!("{:.1} s {what}: plan rejected ({})", self.elapsed(), e.violations[0]));
            return false;
        }
        let cost = e.cost.total();
        if cost < self.best_cost - 1e-9 * (1.0 + cost.abs()) {
            self.log.push(format!("{:.1} s {what}: plan cost {cost:.2}", self.elapsed()));
            if self.first_plan.is_none() && source != PlanSource::Empty {
                self.first_plan = Some(self.elapsed());
            }
            if let Some(link) = self.link {
                link.offer(&plan);
            }
            self.best = plan;
            self.best_eval = e;
            self.best_cost = cost;
            self.source = source;
            true
        } else {
            false
        }
    }
}

fn setups_of(p: &Problem, plan: &Plan) -> Vec<Vec<f64>> {
    plan.release
        .iter()
        .map(|row| row.iter().map(|&q| if q > TOLERANCE { 1.0 } else { 0.0 }).collect())
        .collect::<Vec<_>>()
        .into_iter()
        .take(p.items.len())
        .collect()
}

fn relative_gap(objective: f64, bound: f64) -> f64 {
    if objective.abs() < 1e-9 { 0.0 } else { ((objective - bound) / objective.abs()).max(0.0) }
}

/// Optimises a problem within the options' time limit. Always returns a plan.
pub fn optimise(problem: &Problem, options: &Options) -> Outcome {
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(options.time_limit.max(1.0));
    let prep = Prepared::new(problem);
    let empty = Plan::empty(problem);
    let empty_eval = problem.evaluate(&empty);
    let mut s = Search {
        prep: &prep,
        started,
        deadline,
        best_cost: empty_eval.cost.total(),
        best: empty,
        best_eval: empty_eval,
        source: PlanSource::Empty,
        first_plan: None,
        log: Vec::new(),
        threads: options.threads.max(1),
        link: None,
    };
    s.log.push(format!(
        "{} items, {} periods, {} resources, {} setup binaries; empty plan cost {:.2}",
        problem.items.len(),
        problem.periods,
        problem.resources.len(),
        prep.binaries(),
        s.best_cost
    ));
    if !s.offer(problem.lot_for_lot(), PlanSource::LotForLot, "lot-for-lot") {
        s.offer(problem.capacity_shifted(), PlanSource::Heuristic, "capacity-shifted lot-for-lot");
    }

    // Bound: LP relaxation with rounds of (l,S) and capacity cuts.
    let mut cuts: Vec<Cut> = Vec::new();
    let mut bound = f64::NEG_INFINITY;
    let mut last_lp: Option<Solved> = None;
    let cut_budget = options.time_limit * 0.15;
    for round in 0..25 {
        let lp = solve(
            &prep,
            &SolveOptions {
                mode: &|_, _| Mode::Relaxed,
                cuts: &cuts,
                time_limit: s.remaining().max(1.0),
                gap: options.gap,
                start: None,
                threads: 1,
                backend: Backend::Cbc,
                link: None,
            },
        );
        let Ok(lp) = lp else {
            s.log.push(format!("{:.1} s LP round {round} failed", s.elapsed()));
            break;
        };
        if lp.stop == Stop::Optimal {
            bound = bound.max(lp.objective);
        }
        let new = prep.separate(&lp);
        s.log.push(format!("{:.1} s LP round {round}: bound {:.2}, {} new cuts", s.elapsed(), lp.objective, new.len()));
        last_lp = Some(lp);
        if new.is_empty() || s.elapsed() > cut_budget {
            break;
        }
        cuts.extend(new);
    }
    let binaries = prep.binaries();
    // Keep the cuts that bind at the last LP: same bound, much smaller models.
    if let Some(lp) = &last_lp {
        let before = cuts.len();
        cuts.retain(|c| {
            let (value, size) = prep.cut_value(c, lp);
            value > -1e-6 * (1.0 + size)
        });
        s.log.push(format!("{:.1} s keeping {} of {before} cuts (binding at the LP optimum)", s.elapsed(), cuts.len()));
    }

    let done = |s: &Search<'_, '_>, bound: f64| relative_gap(s.best_cost, bound) <= options.gap;
    let mut stop = StopReason::TimeLimit;
    let link = SearchLink::default();
    std::thread::scope(|scope| {
        // With a second core, HiGHS searches the full model beside the
        // heuristics for the whole budget (its bounds are far stronger than
        // CBC's), taking their better plans as they come.
        let background =
            (options.threads >= 2 && !done(&s, bound) && binaries > 0 && s.remaining() >= 2.0).then(|| {
                let start = (s.source != PlanSource::Empty).then(|| s.best.clone());
                let limit = s.remaining() - 0.5;
                let prep = &prep;
                let cuts = &cuts;
                let link = &link;
                let gap = options.gap;
                s.threads = options.threads - 1;
                s.link = Some(link);
                s.log.push(format!("{:.1} s HiGHS: exact search started on a second thread", s.elapsed()));
                scope.spawn(move || {
                    let result = solve(
                        prep,
                        &SolveOptions {
                            mode: &|_, _| Mode::Integer,
                            cuts,
                            time_limit: limit,
                            gap,
                            start: start.as_ref(),
                            threads: 1,
                            backend: Backend::Highs,
                            link: Some(link),
                        },
                    );
                    if result.as_ref().is_ok_and(|r| r.stop != Stop::TimeLimit) {
                        link.set_proved();
                    }
                    result
                })
            });
        if !done(&s, bound) && binaries > 0 {
            // Relax-and-fix over time windows.
            let rf_budget = if binaries <= 300 { 0.25 } else { 0.4 } * s.remaining();
            relax_and_fix(&mut s, &cuts, rf_budget, last_lp.as_ref());
        }
        if !done(&s, bound) && binaries > 0 {
            let fo_until = s.elapsed() + if binaries <= 300 { 0.6 } else { 0.5 } * s.remaining();
            fix_and_optimise(&mut s, &cuts, fo_until);
        }
        if !done(&s, bound) && s.remaining() >= 1.0 {
            let start = (s.source != PlanSource::Empty).then(|| s.best.clone());
            let limit = s.remaining();
            // The exact search here is HiGHS's, unless HiGHS already runs
            // beside: then CBC, for a second, different search.
            let backend = if s.link.is_some() { Backend::Cbc } else { Backend::Highs };
            let result = solve(
                &prep,
                &SolveOptions {
                    mode: &|_, _| Mode::Integer,
                    cuts: &cuts,
                    time_limit: (limit - 0.5).max(1.0),
                    gap: options.gap,
                    start: start.as_ref(),
                    threads: s.threads,
                    backend,
                    link: None,
                },
            );
            take_exact(&mut s, &mut bound, result, if backend == Backend::Highs { "HiGHS MIP" } else { "MIP" });
        }
        if let Some(handle) = background {
            if done(&s, bound) {
                link.stop();
            }
            let result = handle.join().expect("the HiGHS search panicked");
            take_exact(&mut s, &mut bound, result, "HiGHS MIP");
        }
    });
    if !bound.is_finite() {
        bound = 0.0;
    }
    bound = bound.min(s.best_cost);
    let gap = relative_gap(s.best_cost, bound);
    if gap <= 1e-6 {
        stop = StopReason::Optimal;
    } else if gap <= options.gap {
        stop = StopReason::Gap;
    }
    if s.source == PlanSource::Heuristic || s.source == PlanSource::LotForLot || s.source == PlanSource::Empty {
        s.log.push(format!("returning the best {} plan", s.source.as_str()));
    }
    // The split says what drives the cost (setups, overtime, ...), which the total hides.
    let c = &s.best_eval.cost;
    s.log.push(format!(
        "cost: setup {:.2}, unit {:.2}, holding {:.2}, overtime {:.2}, backlog {:.2}, safety stock {:.2}",
        c.setup, c.unit, c.holding, c.overtime, c.backlog, c.safety_stock
    ));
    Outcome {
        objective: s.best_cost,
        gap,
        bound,
        stop,
        source: s.source,
        first_plan_seconds: s.first_plan,
        seconds: s.elapsed(),
        plan: s.best,
        evaluation: s.best_eval,
        log: s.log,
    }
}

/// Takes an exact search's plan and bound.
fn take_exact(s: &mut Search<'_, '_>, bound: &mut f64, result: Result<Solved, crate::mip::MipError>, what: &str) {
    match result {
        Ok(full) => {
            if full.bound.is_finite() && full.bound < 1e29 {
                *bound = bound.max(full.bound);
            }
            s.log.push(format!(
                "{:.1} s {what}: objective {:.2}, bound {:.2}, stopped: {:?}",
                s.elapsed(),
                full.objective,
                full.bound,
                full.stop
            ));
            s.offer(to_plan(s.prep.problem, &full.release), PlanSource::Mip, what);
            if full.stop == Stop::Optimal {
                // Proven optimal: its objective is a bound.
                *bound = bound.max(full.objective);
            }
        }
        Err(e) => s.log.push(format!("{:.1} s {what}: {e}", s.elapsed())),
    }
}

/// Window length (in buckets) for the time-decomposition heuristics.
fn window(p: &Problem, binaries: usize) -> usize {
    let per_period = (binaries / p.periods.max(1)).max(1);
    // About 150 binaries per window, at least 2 and at most 8 buckets.
    (150 / per_period).clamp(2, 8).min(p.periods)
}

fn relax_and_fix(s: &mut Search<'_, '_>, cuts: &[Cut], budget: f64, lp: Option<&Solved>) {
    let p = s.prep.problem;
    // About a second per window at least: never plan more windows than the
    // budget has seconds, so the last window is always reached.
    let mut w = window(p, s.prep.binaries());
    let max_steps = (budget.floor() as usize).max(1);
    if p.periods.div_ceil(w) > max_steps {
        w = p.periods.div_ceil(max_steps);
    }
    let steps = p.periods.div_ceil(w);
    let until = s.elapsed() + budget;
    let mut fixed: Vec<Vec<f64>> = vec![vec![0.0; p.periods]; p.items.len()];
    let mut last: Option<Solved> = lp.cloned();
    // The last integral plan, cut off at the window start: feasible for the
    // next step (nothing ordered from the window on), so each step has a start.
    let mut start = Plan::empty(p);
    for step in 0..steps {
        let a = step * w;
        let b = (a + w).min(p.periods);
        for row in &mut start.release {
            for q in &mut row[a..] {
                *q = 0.0;
            }
        }
        let limit = ((until - s.elapsed()) / (steps - step) as f64).max(1.0).min(s.remaining().max(1.0));
        let modes = |i: usize, u: usize| {
            if u < a {
                Mode::Fixed(fixed[i][u])
            } else if u < b {
                Mode::Integer
            } else {
                Mode::Relaxed
            }
        };
        let r = solve(
            s.prep,
            &SolveOptions {
                mode: &modes,
                cuts,
                time_limit: limit,
                gap: 1e-3,
                start: Some(&start),
                threads: 1,
                backend: Backend::Highs,
                link: None,
            },
        );
        match r {
            Ok(sol) if (a..b).all(|u| (0..p.items.len()).all(|i| is_integral(sol.setup[i][u]))) => {
                for i in 0..p.items.len() {
                    for u in a..b {
                        fixed[i][u] = sol.setup[i][u].round();
                    }
                }
                start = to_plan(p, &sol.release);
                if b == p.periods {
                    s.offer(start.clone(), PlanSource::Heuristic, "relax-and-fix");
                }
                last = Some(sol);
            }
            other => {
                // No integral answer in time: open every setup the last
                // (relaxed) answer used, so later windows keep their freedom.
                s.log.push(format!(
                    "{:.1} s relax-and-fix window {a}..{b}: {}",
                    s.elapsed(),
                    match &other {
                        Ok(_) => "no integral solution in time".to_owned(),
                        Err(e) => e.to_string(),
                    }
                ));
                for i in 0..p.items.len() {
                    for u in a..b {
                        fixed[i][u] = last
                            .as_ref()
                            .map_or(0.0, |l| if l.setup[i][u] > 1e-6 || l.release[i][u] > 1e-6 { 1.0 } else { 0.0 });
                    }
                }
                if b == p.periods {
                    let all_fixed = |i: usize, u: usize| Mode::Fixed(fixed[i][u]);
                    if let Ok(sol) = solve(
                        s.prep,
                        &SolveOptions {
                            mode: &all_fixed,
                            cuts: &[],
                            time_limit: 5.0,
                            gap: 1e-3,
                            start: None,
                            threads: 1,
                            backend: Backend::Highs,
                            link: None,
                        },
                    ) {
                        s.offer(to_plan(p, &sol.release), PlanSource::Heuristic, "relax-and-fix (rounded)");
                    }
                }
            }
        }
        if s.remaining() < 1.0 {
            break;
        }
    }
}

fn is_integral(v: f64) -> bool {
    (v - v.round()).abs() < 1e-6
}

/// A fix-and-optimise neighbourhood: the setups it frees.
#[derive(Debug, Clone, Copy)]
enum Hood {
    /// Every item's setups in buckets `a..b`.
    Time(usize, usize),
    /// Every setup of the items that use resource `r`, in all buckets.
    Resource(usize),
    /// Every setup of one item and its direct components.
    Item(usize),
}

fn neighbourhoods(p: &Problem, w: usize) -> Vec<Hood> {
    let mut hoods = Vec::new();
    let step = (w / 2).max(1);
    let mut a = 0;
    while a < p.periods {
        let b = (a + w).min(p.periods);
        hoods.push(Hood::Time(a, b));
        if b == p.periods {
            break;
        }
        a += step;
    }
    hoods.extend((0..p.resources.len()).map(Hood::Resource));
    if p.resources.is_empty() {
        hoods.extend((0..p.items.len()).filter(|&i| p.arcs.iter().any(|a| a.parent == i)).map(Hood::Item));
    }
    hoods
}

fn frees(p: &Problem, hood: Hood, i: usize, u: usize) -> bool {
    match hood {
        Hood::Time(a, b) => u >= a && u < b,
        Hood::Resource(r) => p.items[i].loads.iter().any(|l| l.resource == r),
        Hood::Item(k) => i == k || p.arcs.iter().any(|a| a.parent == k && a.component == i),
    }
}

/// Fix-and-optimise: re-optimises the setups of one neighbourhood at a time
/// (time windows, then the items of each resource) with all others fixed at
/// the incumbent, until a whole round brings no improvement or time is up.
fn fix_and_optimise(s: &mut Search<'_, '_>, cuts: &[Cut], until: f64) {
    let p = s.prep.problem;
    if s.source == PlanSource::Empty {
        return;
    }
    let hoods = neighbourhoods(p, window(p, s.prep.binaries()));
    let mut improved_in_round = true;
    while improved_in_round {
        improved_in_round = false;
        for &hood in &hoods {
            if s.elapsed() + 1.0 > until || s.remaining() < 1.0 {
                return;
            }
            let setups = setups_of(p, &s.best);
            let modes =
                |i: usize, u: usize| if frees(p, hood, i, u) { Mode::Integer } else { Mode::Fixed(setups[i][u]) };
            let start = s.best.clone();
            let limit = ((until - s.elapsed()) / 4.0).clamp(1.0, 10.0);
            if let Ok(sol) = solve(
                s.prep,
                &SolveOptions {
                    mode: &modes,
                    cuts,
                    time_limit: limit,
                    gap: 1e-4,
                    start: Some(&start),
                    threads: 1,
                    backend: Backend::Highs,
                    link: None,
                },
            ) && s.offer(to_plan(p, &sol.release), PlanSource::Heuristic, &format!("fix-and-optimise {hood:?}"))
            {
                improved_in_round = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::tests::wagner_whitin;
    use crate::problem::{Load, Resource};

    #[test]
    fn wagner_whitin_is_solved_to_proven_optimum() {
        let p = wagner_whitin();
        let out = optimise(&p, &Options::new(20.0, 0.0));
        assert!((out.objective - 864.0).abs() < 1e-6, "{}", out.objective);
        assert!((out.bound - 864.0).abs() < 1e-3, "{}", out.bound);
        assert!(out.evaluation.violations.is_empty());
        // By hand: orders in (0-based) buckets 0 (covers 0-1: 85 + 29), 2 (2-3: 102 + 61),
        // 4 (4-6: 98 + 26 + 2·34), 7 (7-8: 86 + 45), 9 (110) and 10 (10-11: 98 + 56) = 864.
        let ordered: Vec<usize> = (0..12).filter(|&t| out.plan.release[0][t] > 0.0).collect();
        assert_eq!(ordered, vec![0, 2, 4, 7, 9, 10]);
        assert_eq!(out.stop, StopReason::Optimal);
        // Setups 85 + 102 + 98 + 86 + 110 + 98; holding 29 + 61 + (26 + 2·34) + 45 + 56.
        assert_eq!(
            out.log.last().map(String::as_str),
            Some("cost: setup 579.00, unit 0.00, holding 285.00, overtime 0.00, backlog 0.00, safety stock 0.00")
        );
    }

    #[test]
    fn one_thread_and_two_reach_the_proven_optimum() {
        // One thread: the heuristics, then HiGHS. Two: HiGHS beside the
        // heuristics, fed their plans, then CBC too. Both must prove the
        // optimum that CBC alone proves on the whole model.
        for seed in 0..6 {
            let p = crate::mip::cut_validity::random_problem(seed);
            let prep = Prepared::new(&p);
            let exact = crate::mip::cut_validity::optimum_on(&prep, &[], &|_, _| Mode::Integer, 1, Backend::Cbc);
            for threads in [1, 2] {
                let out = optimise(&p, &Options { time_limit: 30.0, gap: 0.0, threads });
                assert_eq!(out.stop, StopReason::Optimal, "seed {seed}, {threads} threads: {:?}", out.log);
                assert!(
                    (out.objective - exact).abs() < 1e-6 * (1.0 + exact),
                    "seed {seed}, {threads} threads: {} against {exact}",
                    out.objective
                );
                assert!(out.evaluation.violations.is_empty());
            }
        }
    }

    #[test]
    fn capacity_forces_early_production_at_a_cost() {
        // Demand 0, 0, 150 with capacity 100 per bucket: 50 must be made early.
        let mut p = wagner_whitin();
        p.periods = 3;
        let it = &mut p.items[0];
        it.demand = vec![0.0, 0.0, 150.0];
        it.receipts = vec![0.0; 3];
        it.setup_cost = vec![10.0; 3];
        it.loads = vec![Load { resource: 0, per_unit: 1.0, setup: 0.0 }];
        p.resources =
            vec![Resource { id: "R".into(), capacity: vec![100.0; 3], overtime_max: vec![0.0; 3], overtime_cost: 0.0 }];
        let out = optimise(&p, &Options::new(10.0, 0.0));
        assert_eq!(out.stop, StopReason::Optimal, "{:?}", out.log);
        let expected = [0.0, 50.0, 100.0];
        assert!(out.plan.release[0].iter().zip(expected).all(|(a, b)| (a - b).abs() < 1e-6), "{:?}", out.plan);
        assert!((out.objective - 70.0).abs() < 1e-6);
    }
}
