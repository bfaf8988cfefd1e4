//! The lot-sizing problem the optimiser solves, in solver units (`f64`).
//!
//! A [`Problem`] is built from a scenario with a capacity section
//! ([`crate::scenario`]) or from a LotSizingDataModel instance
//! ([`crate::lsdm`]). Quantities here are floats because this is the solver
//! boundary; plans go back to exact decimals in [`crate::scenario`].
//!
//! Time is in buckets `0..periods`. An order of item `i` *released* in bucket
//! `u` is received in bucket `u + lead_time`, loads its work centres and
//! consumes its components in bucket `u`. Orders must be received inside the
//! horizon, so `u ≤ periods - 1 - lead_time`.

/// Absolute tolerance used when checking float plans.
pub const TOLERANCE: f64 = 1e-6;

/// A multi-level capacitated lot-sizing problem with backlog, overtime and
/// soft safety stock.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// Number of buckets.
    pub periods: usize,
    /// Items (products, assemblies, parts).
    pub items: Vec<ProblemItem>,
    /// Bill-of-materials arcs.
    pub arcs: Vec<Arc>,
    /// Capacitated resources (work centres).
    pub resources: Vec<Resource>,
}

/// One item's data.
#[derive(Debug, Clone, PartialEq)]
pub struct ProblemItem {
    /// Item id, for messages and results.
    pub id: String,
    /// Buckets between release and receipt of an order.
    pub lead_time: usize,
    /// Available stock at the start.
    pub initial_stock: f64,
    /// Firm (fixed) receipts per bucket: open orders that cannot be changed.
    pub receipts: Vec<f64>,
    /// Independent (external) demand per bucket.
    pub demand: Vec<f64>,
    /// Safety stock target (soft).
    pub safety_stock: f64,
    /// Cost of holding one unit for one bucket.
    pub holding_cost: f64,
    /// Cost of one unit of independent demand backlogged for one bucket.
    pub backlog_cost: f64,
    /// Cost of one unit below safety stock for one bucket.
    pub safety_stock_cost: f64,
    /// Fixed cost of an order released in each bucket (setup cost for make,
    /// ordering cost for buy).
    pub setup_cost: Vec<f64>,
    /// Variable cost per unit ordered.
    pub unit_cost: f64,
    /// Minimum order quantity (0: none).
    pub min_lot: f64,
    /// Order quantities must be multiples of this (0: any quantity).
    pub multiple: f64,
    /// Work-centre loads of one order.
    pub loads: Vec<Load>,
    /// False for items that cannot be ordered at all.
    pub orderable: bool,
}

impl ProblemItem {
    /// The order for a shortfall: at least the minimum, rounded up to the multiple.
    fn lot_size(&self, shortfall: f64) -> f64 {
        let q = shortfall.max(self.min_lot);
        if self.multiple > 0.0 { (q / self.multiple - 1e-9).ceil() * self.multiple } else { q }
    }
}

/// The load an order puts on one resource in its release bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Load {
    /// Index into [`Problem::resources`].
    pub resource: usize,
    /// Capacity used per unit.
    pub per_unit: f64,
    /// Capacity used once per order (setup time).
    pub setup: f64,
}

/// A bill-of-materials arc: one unit of `parent` consumes `quantity` units of `component`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Arc {
    /// The assembly (index into items).
    pub parent: usize,
    /// The part consumed (index into items).
    pub component: usize,
    /// Units of the component per unit of the parent, scrap included.
    pub quantity: f64,
}

/// A capacitated resource.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    /// Resource id.
    pub id: String,
    /// Regular capacity per bucket.
    pub capacity: Vec<f64>,
    /// Most overtime per bucket.
    pub overtime_max: Vec<f64>,
    /// Cost per unit of overtime.
    pub overtime_cost: f64,
}

/// A plan: order quantities released per item and bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// `release[i][u]`: quantity of item `i` released in bucket `u`.
    pub release: Vec<Vec<f64>>,
}

impl Plan {
    /// The plan that orders nothing (always feasible: demand is backlogged).
    pub fn empty(p: &Problem) -> Self {
        Plan { release: vec![vec![0.0; p.periods]; p.items.len()] }
    }
}

/// The cost of a plan split by component.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CostSplit {
    /// Setup and ordering costs.
    pub setup: f64,
    /// Variable unit costs.
    pub unit: f64,
    /// Holding costs.
    pub holding: f64,
    /// Overtime costs.
    pub overtime: f64,
    /// Backlog penalties.
    pub backlog: f64,
    /// Safety-stock shortfall penalties.
    pub safety_stock: f64,
}

impl CostSplit {
    /// The total cost.
    pub fn total(&self) -> f64 {
        self.setup + self.unit + self.holding + self.overtime + self.backlog + self.safety_stock
    }
}

/// What a plan does, bucket by bucket, and where it breaks the rules.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// Cost by component (overtime counts load above regular capacity).
    pub cost: CostSplit,
    /// `stock[i][t]`: stock on hand at the end of bucket `t`.
    pub stock: Vec<Vec<f64>>,
    /// `backlog[i][t]`: independent demand not yet served at the end of `t`.
    pub backlog: Vec<Vec<f64>>,
    /// `load[r][t]`: capacity used on resource `r` in bucket `t`.
    pub load: Vec<Vec<f64>>,
    /// Total capacity used above regular capacity plus allowed overtime.
    pub overload: f64,
    /// Rule violations (empty: the plan is feasible).
    pub violations: Vec<String>,
}

impl Problem {
    /// The last bucket an order of item `i` can be released in, plus one.
    pub fn release_end(&self, i: usize) -> usize {
        self.periods.saturating_sub(self.items[i].lead_time)
    }

    /// Whether item `i` needs a setup (binary) decision.
    pub fn needs_setup(&self, i: usize) -> bool {
        let it = &self.items[i];
        it.setup_cost.iter().any(|&c| c > 0.0) || it.min_lot > 0.0 || it.loads.iter().any(|l| l.setup > 0.0)
    }

    /// Items in an order where every parent comes before its components.
    pub fn topological_order(&self) -> Vec<usize> {
        let n = self.items.len();
        let mut indegree = vec![0usize; n];
        let mut children: Vec<Vec<usize>> = vec![Vec::new(); n];
        for a in &self.arcs {
            indegree[a.component] += 1;
            children[a.parent].push(a.component);
        }
        let mut order: Vec<usize> = (0..n).filter(|&i| indegree[i] == 0).collect();
        let mut head = 0;
        while head < order.len() {
            let i = order[head];
            head += 1;
            for &c in &children[i] {
                indegree[c] -= 1;
                if indegree[c] == 0 {
                    order.push(c);
                }
            }
        }
        order
    }

    /// Total requirement factors: `result[k]` lists `(j, R)` for every item
    /// `j` that uses `k` directly or indirectly (and `k` itself with 1): one
    /// unit of `j` needs `R` units of `k` over all paths.
    pub fn requirement_factors(&self) -> Vec<Vec<(usize, f64)>> {
        let n = self.items.len();
        let order = self.topological_order();
        let mut parents: Vec<Vec<(usize, f64)>> = vec![Vec::new(); n];
        for a in &self.arcs {
            parents[a.component].push((a.parent, a.quantity));
        }
        let mut dense: Vec<Vec<f64>> = vec![Vec::new(); n];
        for &k in &order {
            let mut row = vec![0.0; n];
            row[k] = 1.0;
            for &(p, q) in &parents[k] {
                for (j, v) in dense[p].iter().enumerate() {
                    row[j] += q * v;
                }
            }
            dense[k] = row;
        }
        dense.into_iter().map(|row| row.into_iter().enumerate().filter(|&(_, v)| v > 0.0).collect()).collect()
    }

    /// Echelon demand per item and bucket: the item's own demand plus its
    /// parents' echelon demand times the BOM quantity (same bucket, see
    /// [`crate::mip`] for why lead times do not shift it).
    pub fn echelon(&self, series: impl Fn(&ProblemItem) -> &[f64]) -> Vec<Vec<f64>> {
        let n = self.items.len();
        let mut out = vec![vec![0.0; self.periods]; n];
        let mut parents: Vec<Vec<(usize, f64)>> = vec![Vec::new(); n];
        for a in &self.arcs {
            parents[a.component].push((a.parent, a.quantity));
        }
        for &k in &self.topological_order() {
            let mut row = series(&self.items[k]).to_vec();
            for &(p, q) in &parents[k] {
                for t in 0..self.periods {
                    row[t] += q * out[p][t];
                }
            }
            out[k] = row;
        }
        out
    }

    /// Simulates a plan: stock, backlog, load and cost, and lists every rule it breaks.
    pub fn evaluate(&self, plan: &Plan) -> Evaluation {
        let n = self.items.len();
        let t_len = self.periods;
        let mut violations = Vec::new();
        let mut cost = CostSplit::default();
        let mut dependent = vec![vec![0.0; t_len]; n];
        for a in &self.arcs {
            for u in 0..t_len {
                dependent[a.component][u] += a.quantity * plan.release[a.parent][u];
            }
        }
        let mut stock = vec![vec![0.0; t_len]; n];
        let mut backlog = vec![vec![0.0; t_len]; n];
        let mut load = vec![vec![0.0; t_len]; self.resources.len()];
        for (i, it) in self.items.iter().enumerate() {
            let mut net = it.initial_stock;
            let mut cum_demand = 0.0;
            for t in 0..t_len {
                let q = plan.release[i][t];
                if q < -TOLERANCE {
                    violations.push(format!("{}: negative order {q} in bucket {t}", it.id));
                }
                if q > TOLERANCE {
                    if !it.orderable {
                        violations.push(format!("{}: ordered in bucket {t} but cannot be ordered", it.id));
                    }
                    if t >= self.release_end(i) {
                        violations.push(format!("{}: order released in bucket {t} is due after the horizon", it.id));
                    }
                    if q < it.min_lot - TOLERANCE {
                        violations.push(format!("{}: order {q} in bucket {t} below the minimum {}", it.id, it.min_lot));
                    }
                    if it.multiple > 0.0 {
                        let k = (q / it.multiple).round();
                        if (q - k * it.multiple).abs() > TOLERANCE * it.multiple.max(1.0) {
                            violations
                                .push(format!("{}: order {q} in bucket {t} not a multiple of {}", it.id, it.multiple));
                        }
                    }
                    cost.setup += it.setup_cost[t];
                    cost.unit += it.unit_cost * q;
                    for l in &it.loads {
                        load[l.resource][t] += l.per_unit * q + l.setup;
                    }
                }
                let received = if t >= it.lead_time { plan.release[i][t - it.lead_time] } else { 0.0 };
                net += received + it.receipts[t] - dependent[i][t] - it.demand[t];
                cum_demand += it.demand[t];
                let (on_hand, late) = if net >= 0.0 { (net, 0.0) } else { (0.0, -net) };
                if late > cum_demand + TOLERANCE * (1.0 + cum_demand) {
                    violations.push(format!(
                        "{}: short of {} in bucket {t} for dependent demand",
                        it.id,
                        late - cum_demand
                    ));
                }
                stock[i][t] = on_hand;
                backlog[i][t] = late.min(cum_demand);
                cost.holding += it.holding_cost * on_hand;
                cost.backlog += it.backlog_cost * backlog[i][t];
                cost.safety_stock += it.safety_stock_cost * (it.safety_stock - on_hand).max(0.0);
            }
        }
        let mut overload = 0.0;
        for (r, res) in self.resources.iter().enumerate() {
            for t in 0..t_len {
                let over = (load[r][t] - res.capacity[t]).max(0.0);
                cost.overtime += res.overtime_cost * over.min(res.overtime_max[t]);
                let beyond = over - res.overtime_max[t];
                if beyond > TOLERANCE * (1.0 + res.capacity[t]) {
                    overload += beyond;
                    violations.push(format!(
                        "{}: load {} in bucket {t} exceeds capacity {} plus overtime {}",
                        res.id, load[r][t], res.capacity[t], res.overtime_max[t]
                    ));
                }
            }
        }
        Evaluation { cost, stock, backlog, load, overload, violations }
    }

    /// Each item's direct components with their quantities per unit.
    fn components_of(&self) -> Vec<Vec<(usize, f64)>> {
        let mut comps: Vec<Vec<(usize, f64)>> = vec![Vec::new(); self.items.len()];
        for a in &self.arcs {
            comps[a.parent].push((a.component, a.quantity));
        }
        comps
    }

    /// The uncapacitated lot-for-lot MRP plan (what plain MRP would do,
    /// ignoring capacity): each item, parents first, orders its net
    /// requirement below safety stock in the bucket it is due, released
    /// `lead_time` earlier (in bucket 0 when that is in the past), rounded up
    /// to the minimum and the multiple.
    pub fn lot_for_lot(&self) -> Plan {
        let n = self.items.len();
        let mut plan = Plan::empty(self);
        let mut dependent = vec![vec![0.0; self.periods]; n];
        let comps = self.components_of();
        for &i in &self.topological_order() {
            let it = &self.items[i];
            let mut avail = it.initial_stock;
            let mut orders_due = vec![0.0; self.periods];
            for t in 0..self.periods {
                avail += it.receipts[t] - it.demand[t] - dependent[i][t];
                if avail < it.safety_stock - TOLERANCE && it.orderable && self.release_end(i) > 0 {
                    let q = it.lot_size(it.safety_stock - avail);
                    orders_due[t] += q;
                    avail += q;
                }
            }
            for (t, &q) in orders_due.iter().enumerate() {
                if q > 0.0 {
                    // Past-due releases go to bucket 0; orders due beyond the last
                    // release bucket's reach keep their due bucket's release.
                    let u = t.saturating_sub(it.lead_time).min(self.release_end(i) - 1);
                    plan.release[i][u] += q;
                }
            }
            for &(c, q) in &comps[i] {
                for u in 0..self.periods {
                    dependent[c][u] += q * plan.release[i][u];
                }
            }
        }
        plan
    }

    /// Lot-for-lot, but each order moved back to earlier buckets, split where
    /// it must be, until it fits its work centres' regular capacity (then
    /// their overtime): a start plan that meets demand on time where
    /// capacity is tight and relax-and-fix, which underestimates setup time
    /// in its relaxed future, leaves demand late. Parents come first, so
    /// components are planned against the releases that need them; an order
    /// that fits nowhere stays in its latest bucket (the plan is then
    /// rejected by [`Problem::evaluate`] like any other infeasible one).
    pub fn capacity_shifted(&self) -> Plan {
        let n = self.items.len();
        let mut plan = Plan::empty(self);
        let mut dependent = vec![vec![0.0; self.periods]; n];
        let comps = self.components_of();
        let mut used: Vec<Vec<f64>> = self.resources.iter().map(|_| vec![0.0; self.periods]).collect();
        for &i in &self.topological_order() {
            let it = &self.items[i];
            let end = self.release_end(i);
            if !it.orderable || end == 0 {
                continue;
            }
            let mut avail = it.initial_stock;
            for t in 0..self.periods {
                avail += it.receipts[t] - it.demand[t] - dependent[i][t];
                if avail >= it.safety_stock - TOLERANCE {
                    continue;
                }
                let q = it.lot_size(it.safety_stock - avail);
                // Every part of the order arrives by bucket t (or is past due,
                // released in bucket 0, as in lot-for-lot), so it covers t.
                avail += q;
                let latest = t.saturating_sub(it.lead_time).min(end - 1);
                // Lots with a minimum or a multiple move whole; others split.
                let whole = it.min_lot > 0.0 || it.multiple > 0.0;
                let mut left = q;
                for overtime in [false, true] {
                    for u in (0..=latest).rev() {
                        if left <= TOLERANCE {
                            break;
                        }
                        let setup = plan.release[i][u] <= TOLERANCE;
                        let room = it
                            .loads
                            .iter()
                            .map(|l| {
                                let r = &self.resources[l.resource];
                                let cap = r.capacity[u] + if overtime { r.overtime_max[u] } else { 0.0 };
                                let free = cap - used[l.resource][u] - if setup { l.setup } else { 0.0 };
                                if l.per_unit > 0.0 {
                                    free / l.per_unit
                                } else if free < -TOLERANCE {
                                    0.0
                                } else {
                                    f64::INFINITY
                                }
                            })
                            .fold(f64::INFINITY, f64::min)
                            .max(0.0);
                        let take =
                            if whole { if room + TOLERANCE >= left { left } else { 0.0 } } else { left.min(room) };
                        if take <= TOLERANCE {
                            continue;
                        }
                        for l in &it.loads {
                            used[l.resource][u] += take * l.per_unit + if setup { l.setup } else { 0.0 };
                        }
                        plan.release[i][u] += take;
                        left -= take;
                    }
                }
                if left > TOLERANCE {
                    for l in &it.loads {
                        let setup = if plan.release[i][latest] <= TOLERANCE { l.setup } else { 0.0 };
                        used[l.resource][latest] += left * l.per_unit + setup;
                    }
                    plan.release[i][latest] += left;
                }
            }
            for &(c, q) in &comps[i] {
                for u in 0..self.periods {
                    dependent[c][u] += q * plan.release[i][u];
                }
            }
        }
        plan
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// One item, no capacity: the Wagner–Whitin (1958) example (setup costs
    /// vary by period, holding cost 1; optimum 864).
    pub(crate) fn wagner_whitin() -> Problem {
        let demand = vec![69.0, 29.0, 36.0, 61.0, 61.0, 26.0, 34.0, 67.0, 45.0, 67.0, 79.0, 56.0];
        Problem {
            periods: 12,
            items: vec![ProblemItem {
                id: "WW".into(),
                lead_time: 0,
                initial_stock: 0.0,
                receipts: vec![0.0; 12],
                demand,
                safety_stock: 0.0,
                holding_cost: 1.0,
                backlog_cost: 1000.0,
                safety_stock_cost: 0.0,
                setup_cost: vec![85.0, 102.0, 102.0, 101.0, 98.0, 114.0, 105.0, 86.0, 119.0, 110.0, 98.0, 114.0],
                unit_cost: 0.0,
                min_lot: 0.0,
                multiple: 0.0,
                loads: vec![],
                orderable: true,
            }],
            arcs: vec![],
            resources: vec![],
        }
    }

    #[test]
    fn lot_for_lot_costs_one_setup_per_period() {
        let p = wagner_whitin();
        let e = p.evaluate(&p.lot_for_lot());
        assert!(e.violations.is_empty(), "{:?}", e.violations);
        assert_eq!(e.cost.total(), p.items[0].setup_cost.iter().sum::<f64>());
    }

    #[test]
    fn capacity_shifted_plan_meets_demand_on_time_where_lot_for_lot_overloads() {
        // A needs 2 C; both on one work centre of 100 hours a bucket. Lot-for-lot
        // needs 110 hours for A in bucket 3 and 105 for C in bucket 2.
        let mut p = wagner_whitin();
        p.periods = 6;
        let base = ProblemItem {
            lead_time: 1,
            receipts: vec![0.0; 6],
            demand: vec![0.0, 0.0, 0.0, 0.0, 100.0, 60.0],
            setup_cost: vec![50.0; 6],
            loads: vec![Load { resource: 0, per_unit: 1.0, setup: 10.0 }],
            ..p.items[0].clone()
        };
        let c = ProblemItem {
            id: "C".into(),
            lead_time: 0,
            demand: vec![0.0; 6],
            loads: vec![Load { resource: 0, per_unit: 0.5, setup: 5.0 }],
            ..base.clone()
        };
        p.items = vec![ProblemItem { id: "A".into(), ..base }, c];
        p.arcs = vec![Arc { parent: 0, component: 1, quantity: 2.0 }];
        p.resources =
            vec![Resource { id: "R".into(), capacity: vec![100.0; 6], overtime_max: vec![0.0; 6], overtime_cost: 0.0 }];
        assert!(!p.evaluate(&p.lot_for_lot()).violations.is_empty(), "lot-for-lot overloads");
        let plan = p.capacity_shifted();
        let e = p.evaluate(&plan);
        assert!(e.violations.is_empty(), "{:?}", e.violations);
        assert!(e.backlog.iter().flatten().all(|&b| b == 0.0), "{:?}", e.backlog);
        assert!(e.load[0].iter().all(|&l| l <= 100.0 + TOLERANCE), "{:?}", e.load);
        assert_eq!(plan.release[0].iter().sum::<f64>(), 160.0);
        assert_eq!(plan.release[1].iter().sum::<f64>(), 320.0);
        // A's 100 for bucket 4 is split over buckets 3 and 2 (90 hours free after setup in 3).
        assert_eq!(plan.release[0][3], 90.0);
        // Demand inside the lead time is ordered once, in bucket 0 (past due).
        let mut early = p.clone();
        early.items[0].demand = vec![30.0, 0.0, 0.0, 0.0, 0.0, 0.0];
        early.items[0].lead_time = 2;
        assert_eq!(early.capacity_shifted().release[0], [30.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
        // With too little capacity in all, it still returns a plan, which evaluate rejects.
        p.resources[0].capacity = vec![20.0; 6];
        assert!(!p.evaluate(&p.capacity_shifted()).violations.is_empty());
    }

    #[test]
    fn empty_plan_backlogs_and_a_short_component_is_a_violation() {
        let mut p = wagner_whitin();
        let e = p.evaluate(&Plan::empty(&p));
        assert!(e.violations.is_empty());
        assert_eq!(e.backlog[0][0], 69.0);
        // A component with no demand of its own cannot be backlogged.
        p.items.push(ProblemItem { id: "C".into(), demand: vec![0.0; 12], ..p.items[0].clone() });
        p.arcs.push(Arc { parent: 0, component: 1, quantity: 2.0 });
        let mut plan = Plan::empty(&p);
        plan.release[0][0] = 69.0;
        let e = p.evaluate(&plan);
        assert!(!e.violations.is_empty());
        assert!(e.violations.iter().all(|v| v.starts_with("C: short of 138 in bucket")), "{:?}", e.violations);
    }

    #[test]
    fn requirement_factors_multiply_along_paths() {
        let mut p = wagner_whitin();
        for id in ["B", "C"] {
            p.items.push(ProblemItem { id: id.into(), demand: vec![0.0; 12], ..p.items[0].clone() });
        }
        p.arcs.push(Arc { parent: 0, component: 1, quantity: 2.0 });
        p.arcs.push(Arc { parent: 1, component: 2, quantity: 3.0 });
        p.arcs.push(Arc { parent: 0, component: 2, quantity: 1.0 });
        let r = p.requirement_factors();
        assert_eq!(r[2], vec![(0, 7.0), (1, 3.0), (2, 1.0)]);
        let ed = p.echelon(|it| &it.demand);
        assert_eq!(ed[2][0], 69.0 * 7.0);
    }
}
