//! The scenario's capacity section and the bridge between a scenario and the
//! solver's [`Problem`].
//!
//! The section is optional (`"capacity": {...}` at the top level of an
//! `mrp-scenario/1` file; see `docs/scenario-capacity.md`): plain MRP ignores
//! it, so every scenario stays valid for `takt plan`. Quantities are exact
//! decimals here; they become floats only inside [`Problem`], and solver
//! answers come back through [`exact_plan`], which rounds to each item's
//! quantity scale and re-checks the plan with decimals.

use std::collections::HashMap;

use mrp::parse::decimal_from_json;
use mrp::{BucketOf, DemandKind, LotRule, Network, Problem as Issue, Scenario, ScenarioError, Source};
use rust_decimal::Decimal;
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::problem::{Arc, Load, Problem, ProblemItem, Resource};

/// Default holding cost rate: a quarter of the unit cost per year.
pub const DEFAULT_HOLDING_RATE: Decimal = Decimal::from_parts(25, 0, 0, false, 2);
/// Default holding cost per unit and bucket for items without a unit cost.
pub const DEFAULT_HOLDING_COST: Decimal = Decimal::from_parts(1, 0, 0, false, 2);
/// Default backlog cost per unit of independent demand and bucket late.
pub const DEFAULT_BACKLOG_COST: Decimal = Decimal::from_parts(1000, 0, 0, false, 0);
/// Default penalty per unit below safety stock and bucket.
pub const DEFAULT_SAFETY_STOCK_COST: Decimal = Decimal::from_parts(10, 0, 0, false, 0);
/// Default overtime cost per hour.
pub const DEFAULT_OVERTIME_COST: Decimal = Decimal::from_parts(100, 0, 0, false, 0);

/// The capacity section of a scenario, validated.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Capacity {
    /// Work centres with their hours per bucket.
    pub work_centers: Vec<WorkCenter>,
    /// Which work centres an item's orders load, and how much.
    pub routings: Vec<Routing>,
    /// Global cost settings and defaults.
    pub costs: Costs,
    /// Per-item cost overrides.
    pub items: Vec<ItemCosts>,
}

/// A work centre and its calendar of available hours.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkCenter {
    /// Unique id.
    pub id: String,
    /// Optional description.
    pub name: Option<String>,
    /// Regular hours available in each bucket.
    pub hours: Vec<Decimal>,
    /// Overtime hours allowed in each bucket.
    pub overtime_hours: Vec<Decimal>,
    /// Cost per overtime hour.
    pub overtime_cost: Decimal,
}

/// One routing step: an order of `item` loads `work_center` with
/// `setup_hours + run_hours × quantity` in its release bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct Routing {
    /// The item made.
    pub item: String,
    /// The work centre used.
    pub work_center: String,
    /// Hours per unit.
    pub run_hours: Decimal,
    /// Hours per order.
    pub setup_hours: Decimal,
}

/// Global costs and defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Costs {
    /// Holding cost per year as a fraction of the item's unit cost.
    pub holding_rate: Decimal,
    /// Holding cost per unit and bucket for items without a unit cost.
    pub holding_cost: Decimal,
    /// Setup (make) or ordering (buy) cost per order, unless the item says otherwise.
    pub setup_cost: Decimal,
    /// Backlog cost per unit and bucket.
    pub backlog_cost: Decimal,
    /// Penalty per unit below safety stock and bucket.
    pub safety_stock_cost: Decimal,
}

impl Default for Costs {
    fn default() -> Self {
        Costs {
            holding_rate: DEFAULT_HOLDING_RATE,
            holding_cost: DEFAULT_HOLDING_COST,
            setup_cost: Decimal::ZERO,
            backlog_cost: DEFAULT_BACKLOG_COST,
            safety_stock_cost: DEFAULT_SAFETY_STOCK_COST,
        }
    }
}

/// Cost overrides for one item.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ItemCosts {
    /// The item.
    pub item: String,
    /// Setup or ordering cost per order.
    pub setup_cost: Option<Decimal>,
    /// Holding cost per unit and bucket.
    pub holding_cost: Option<Decimal>,
    /// Backlog cost per unit and bucket.
    pub backlog_cost: Option<Decimal>,
    /// Penalty per unit below safety stock and bucket.
    pub safety_stock_cost: Option<Decimal>,
}

// ---- raw shape --------------------------------------------------------------

#[derive(Deserialize)]
struct RawDocument<'a> {
    #[serde(borrow, default)]
    capacity: Option<RawCapacity<'a>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCapacity<'a> {
    #[serde(borrow, default)]
    work_centers: Vec<RawWorkCenter<'a>>,
    #[serde(borrow, default)]
    routings: Vec<RawRouting<'a>>,
    #[serde(borrow, default)]
    costs: Option<RawCosts<'a>>,
    #[serde(borrow, default)]
    items: Vec<RawItemCosts<'a>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkCenter<'a> {
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(borrow)]
    hours: &'a RawValue,
    #[serde(borrow, default)]
    overtime_hours: Option<&'a RawValue>,
    #[serde(borrow, default)]
    overtime_cost: Option<&'a RawValue>,
    #[serde(borrow, default)]
    calendar: Vec<RawCalendarEntry<'a>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCalendarEntry<'a> {
    date: String,
    #[serde(borrow, default)]
    hours: Option<&'a RawValue>,
    #[serde(borrow, default)]
    overtime_hours: Option<&'a RawValue>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRouting<'a> {
    item: String,
    work_center: String,
    #[serde(borrow)]
    run_hours: &'a RawValue,
    #[serde(borrow, default)]
    setup_hours: Option<&'a RawValue>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCosts<'a> {
    #[serde(borrow, default)]
    holding_rate: Option<&'a RawValue>,
    #[serde(borrow, default)]
    holding_cost: Option<&'a RawValue>,
    #[serde(borrow, default)]
    setup_cost: Option<&'a RawValue>,
    #[serde(borrow, default)]
    backlog_cost: Option<&'a RawValue>,
    #[serde(borrow, default)]
    safety_stock_cost: Option<&'a RawValue>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawItemCosts<'a> {
    item: String,
    #[serde(borrow, default)]
    setup_cost: Option<&'a RawValue>,
    #[serde(borrow, default)]
    holding_cost: Option<&'a RawValue>,
    #[serde(borrow, default)]
    backlog_cost: Option<&'a RawValue>,
    #[serde(borrow, default)]
    safety_stock_cost: Option<&'a RawValue>,
}

struct Checker {
    problems: Vec<Issue>,
}

impl Checker {
    fn push(&mut self, path: String, message: impl Into<String>) {
        self.problems.push(Issue { path, message: message.into() });
    }

    /// A non-negative decimal.
    fn amount(&mut self, path: String, raw: &RawValue) -> Decimal {
        match decimal_from_json(raw) {
            Ok(d) if d.is_sign_negative() && !d.is_zero() => {
                self.push(path, format!("must not be negative, got {d}"));
                Decimal::ZERO
            }
            Ok(d) => d,
            Err(m) => {
                self.push(path, m);
                Decimal::ZERO
            }
        }
    }

    fn opt(&mut self, path: impl FnOnce() -> String, raw: Option<&RawValue>) -> Option<Decimal> {
        raw.map(|r| self.amount(path(), r))
    }
}

/// Reads and validates a scenario with its capacity section (absent: no
/// work centres, default costs). Every problem is listed with its path, as
/// for plain scenarios.
pub fn parse(text: &str) -> Result<(Scenario, Network, Capacity), ScenarioError> {
    let (scenario, network) = mrp::parse_scenario_with_network(text)?;
    let de = &mut serde_json::Deserializer::from_str(text);
    let raw: RawDocument = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        ScenarioError::Syntax(format!("{path}: {}", e.into_inner()))
    })?;
    let Some(raw) = raw.capacity else {
        return Ok((scenario, network, Capacity::default()));
    };
    let mut cx = Checker { problems: Vec::new() };
    let capacity = convert(raw, &scenario, &network, &mut cx);
    if cx.problems.is_empty() { Ok((scenario, network, capacity)) } else { Err(ScenarioError::Invalid(cx.problems)) }
}

fn convert(raw: RawCapacity<'_>, scenario: &Scenario, network: &Network, cx: &mut Checker) -> Capacity {
    let cal = &scenario.calendar;
    let periods = cal.len();
    let mut work_centers: Vec<WorkCenter> = Vec::new();
    let mut wc_index: HashMap<String, usize> = HashMap::new();
    for (w, rw) in raw.work_centers.into_iter().enumerate() {
        let p = |f: &str| format!("capacity.work_centers[{w}].{f}");
        if wc_index.insert(rw.id.clone(), work_centers.len()).is_some() {
            cx.push(p("id"), format!("duplicate work centre id {:?}", rw.id));
        }
        let hours = cx.amount(p("hours"), rw.hours);
        let overtime = cx.opt(|| p("overtime_hours"), rw.overtime_hours).unwrap_or_default();
        let mut wc = WorkCenter {
            id: rw.id,
            name: rw.name,
            hours: vec![hours; periods],
            overtime_hours: vec![overtime; periods],
            overtime_cost: cx.opt(|| p("overtime_cost"), rw.overtime_cost).unwrap_or(DEFAULT_OVERTIME_COST),
        };
        for (c, entry) in rw.calendar.into_iter().enumerate() {
            let ep = |f: &str| format!("capacity.work_centers[{w}].calendar[{c}].{f}");
            let Ok(date) = chrono::NaiveDate::parse_from_str(&entry.date, "%Y-%m-%d") else {
                cx.push(ep("date"), format!("expected a date YYYY-MM-DD, got {:?}", entry.date));
                continue;
            };
            let hours = cx.opt(|| ep("hours"), entry.hours);
            let overtime = cx.opt(|| ep("overtime_hours"), entry.overtime_hours);
            if hours.is_none() && overtime.is_none() {
                cx.push(format!("capacity.work_centers[{w}].calendar[{c}]"), "needs hours or overtime_hours");
            }
            match cal.bucket_of(date) {
                BucketOf::In(t) => {
                    if let Some(h) = hours {
                        wc.hours[t] = h;
                    }
                    if let Some(o) = overtime {
                        wc.overtime_hours[t] = o;
                    }
                }
                _ => cx.push(ep("date"), format!("{date} is outside the planning horizon")),
            }
        }
        work_centers.push(wc);
    }
    let mut routings = Vec::new();
    let mut seen = HashMap::new();
    for (r, rr) in raw.routings.into_iter().enumerate() {
        let p = |f: &str| format!("capacity.routings[{r}].{f}");
        match network.index_of(&rr.item) {
            None => cx.push(p("item"), format!("{:?} is not an item", rr.item)),
            Some(i) if scenario.items[i].source != Source::Make => cx.push(
                p("item"),
                format!("{:?} is a {} item; only make items have routings", rr.item, scenario.items[i].source.as_str()),
            ),
            Some(_) => {}
        }
        if !wc_index.contains_key(&rr.work_center) {
            cx.push(p("work_center"), format!("{:?} is not a work centre", rr.work_center));
        }
        if seen.insert((rr.item.clone(), rr.work_center.clone()), r).is_some() {
            cx.push(
                format!("capacity.routings[{r}]"),
                format!("a second routing of {:?} on {:?}", rr.item, rr.work_center),
            );
        }
        routings.push(Routing {
            run_hours: cx.amount(p("run_hours"), rr.run_hours),
            setup_hours: cx.opt(|| p("setup_hours"), rr.setup_hours).unwrap_or_default(),
            item: rr.item,
            work_center: rr.work_center,
        });
    }
    let costs = match raw.costs {
        None => Costs::default(),
        Some(c) => {
            let p = |f: &str| format!("capacity.costs.{f}");
            let d = Costs::default();
            Costs {
                holding_rate: cx.opt(|| p("holding_rate"), c.holding_rate).unwrap_or(d.holding_rate),
                holding_cost: cx.opt(|| p("holding_cost"), c.holding_cost).unwrap_or(d.holding_cost),
                setup_cost: cx.opt(|| p("setup_cost"), c.setup_cost).unwrap_or(d.setup_cost),
                backlog_cost: cx.opt(|| p("backlog_cost"), c.backlog_cost).unwrap_or(d.backlog_cost),
                safety_stock_cost: cx
                    .opt(|| p("safety_stock_cost"), c.safety_stock_cost)
                    .unwrap_or(d.safety_stock_cost),
            }
        }
    };
    let mut items = Vec::new();
    let mut seen_items = HashMap::new();
    for (k, ri) in raw.items.into_iter().enumerate() {
        let p = |f: &str| format!("capacity.items[{k}].{f}");
        if network.index_of(&ri.item).is_none() {
            cx.push(p("item"), format!("{:?} is not an item", ri.item));
        }
        if seen_items.insert(ri.item.clone(), k).is_some() {
            cx.push(p("item"), format!("duplicate cost entry for {:?}", ri.item));
        }
        items.push(ItemCosts {
            setup_cost: cx.opt(|| p("setup_cost"), ri.setup_cost),
            holding_cost: cx.opt(|| p("holding_cost"), ri.holding_cost),
            backlog_cost: cx.opt(|| p("backlog_cost"), ri.backlog_cost),
            safety_stock_cost: cx.opt(|| p("safety_stock_cost"), ri.safety_stock_cost),
            item: ri.item,
        });
    }
    Capacity { work_centers, routings, costs, items }
}

/// Effective costs of one item after defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EffectiveCosts {
    /// Per order.
    pub setup: Decimal,
    /// Per unit and bucket held.
    pub holding: Decimal,
    /// Per unit and bucket late.
    pub backlog: Decimal,
    /// Per unit and bucket below safety stock.
    pub safety_stock: Decimal,
}

/// The costs that apply to every item, in scenario order (see
/// `docs/scenario-capacity.md` for the defaults).
pub fn effective_costs(scenario: &Scenario, capacity: &Capacity) -> Vec<EffectiveCosts> {
    let per_bucket = Decimal::from(scenario.calendar.bucket_days) / Decimal::from(365);
    let c = &capacity.costs;
    scenario
        .items
        .iter()
        .map(|it| {
            let own = capacity.items.iter().find(|x| x.item == it.id);
            let eoq = match it.lot.rule {
                LotRule::Eoq { order_cost, holding_cost } => Some((order_cost, holding_cost)),
                _ => None,
            };
            let holding = own.and_then(|o| o.holding_cost).unwrap_or_else(|| match (it.unit_cost, eoq) {
                (Some(u), _) => (u * c.holding_rate * per_bucket).round_dp(6),
                (None, Some((_, h))) => (h * per_bucket).round_dp(6),
                (None, None) => c.holding_cost,
            });
            EffectiveCosts {
                setup: own.and_then(|o| o.setup_cost).or(eoq.map(|e| e.0)).unwrap_or(c.setup_cost),
                holding,
                backlog: own.and_then(|o| o.backlog_cost).unwrap_or(c.backlog_cost),
                safety_stock: own.and_then(|o| o.safety_stock_cost).unwrap_or(c.safety_stock_cost),
            }
        })
        .collect()
}

fn f(d: Decimal) -> f64 {
    d.to_f64().unwrap_or(0.0)
}

/// Independent demand per item and bucket: per bucket `max(forecast, orders)`,
/// past-due demand in bucket 0, demand beyond the horizon left out (as `takt plan`).
pub fn demand_per_bucket(scenario: &Scenario, network: &Network) -> Vec<Vec<Decimal>> {
    let n = scenario.items.len();
    let t_len = scenario.calendar.len();
    let mut orders = vec![vec![Decimal::ZERO; t_len]; n];
    let mut forecast = vec![vec![Decimal::ZERO; t_len]; n];
    for d in &scenario.demand {
        let Some(i) = network.index_of(&d.item) else { continue };
        let t = match scenario.calendar.bucket_of(d.date) {
            BucketOf::PastDue => 0,
            BucketOf::In(t) => t,
            BucketOf::BeyondHorizon => continue,
        };
        match d.kind {
            DemandKind::Order => orders[i][t] += d.quantity,
            DemandKind::Forecast => forecast[i][t] += d.quantity,
        }
    }
    (0..n).map(|i| (0..t_len).map(|t| orders[i][t].max(forecast[i][t])).collect()).collect()
}

/// Firm receipts per item and bucket (past-due in bucket 0, beyond the horizon left out).
pub fn receipts_per_bucket(scenario: &Scenario, network: &Network) -> Vec<Vec<Decimal>> {
    let mut out = vec![vec![Decimal::ZERO; scenario.calendar.len()]; scenario.items.len()];
    for r in &scenario.receipts {
        let Some(i) = network.index_of(&r.item) else { continue };
        match scenario.calendar.bucket_of(r.date) {
            BucketOf::PastDue => out[i][0] += r.quantity,
            BucketOf::In(t) => out[i][t] += r.quantity,
            BucketOf::BeyondHorizon => {}
        }
    }
    out
}

/// BOM quantity per unit of the parent with scrap, as `takt plan` explodes it.
pub fn bom_factor(line: &mrp::BomLine) -> Decimal {
    line.quantity * (Decimal::ONE + line.scrap)
}

/// Builds the solver's problem from a validated scenario and capacity section.
pub fn to_problem(scenario: &Scenario, network: &Network, capacity: &Capacity) -> Problem {
    let t_len = scenario.calendar.len();
    let costs = effective_costs(scenario, capacity);
    let demand = demand_per_bucket(scenario, network);
    let receipts = receipts_per_bucket(scenario, network);
    let wc_index: HashMap<&str, usize> =
        capacity.work_centers.iter().enumerate().map(|(i, w)| (w.id.as_str(), i)).collect();
    let items = scenario
        .items
        .iter()
        .enumerate()
        .map(|(i, it)| {
            let phantom = it.source == Source::Phantom;
            let c = costs[i];
            ProblemItem {
                id: it.id.clone(),
                lead_time: if phantom { 0 } else { it.lead_time as usize },
                initial_stock: f(it.on_hand),
                receipts: receipts[i].iter().map(|&d| f(d)).collect(),
                demand: demand[i].iter().map(|&d| f(d)).collect(),
                safety_stock: if phantom { 0.0 } else { f(it.safety_stock) },
                holding_cost: f(c.holding),
                backlog_cost: f(c.backlog),
                safety_stock_cost: f(c.safety_stock),
                setup_cost: vec![if phantom { 0.0 } else { f(c.setup) }; t_len],
                unit_cost: 0.0,
                min_lot: if phantom { 0.0 } else { it.lot.min.map_or(0.0, f) },
                // Orders come in whole units of the item's quantity scale (1 for
                // pieces), so rounding never breaks capacity or lot rules.
                multiple: if phantom {
                    0.0
                } else {
                    f(it.lot
                        .multiple
                        .filter(|m| !m.is_zero())
                        .unwrap_or_else(|| Decimal::new(1, quantity_scale(scenario, i, &demand, &receipts))))
                },
                loads: capacity
                    .routings
                    .iter()
                    .filter(|r| r.item == it.id)
                    .map(|r| Load {
                        resource: wc_index[r.work_center.as_str()],
                        per_unit: f(r.run_hours),
                        setup: f(r.setup_hours),
                    })
                    .collect(),
                orderable: true,
            }
        })
        .collect();
    let arcs = scenario
        .bom
        .iter()
        .filter_map(|b| {
            Some(Arc {
                parent: network.index_of(&b.parent)?,
                component: network.index_of(&b.component)?,
                quantity: f(bom_factor(b)),
            })
        })
        .collect();
    let resources = capacity
        .work_centers
        .iter()
        .map(|w| Resource {
            id: w.id.clone(),
            capacity: w.hours.iter().map(|&d| f(d)).collect(),
            overtime_max: w.overtime_hours.iter().map(|&d| f(d)).collect(),
            overtime_cost: f(w.overtime_cost),
        })
        .collect();
    Problem { periods: t_len, items, arcs, resources }
}

/// The number of decimal places an item's quantities use (at least 0).
fn quantity_scale(scenario: &Scenario, i: usize, demand: &[Vec<Decimal>], receipts: &[Vec<Decimal>]) -> u32 {
    let it = &scenario.items[i];
    let mut scale = 0;
    for d in [Some(it.on_hand), Some(it.safety_stock), it.lot.min, it.lot.multiple].into_iter().flatten() {
        scale = scale.max(d.normalize().scale());
    }
    for d in demand[i].iter().chain(&receipts[i]) {
        scale = scale.max(d.normalize().scale());
    }
    scale.min(6)
}

/// Exact releases per item and bucket: the solver's floats rounded to each
/// item's order unit (lot multiple, else one unit of its quantity scale;
/// the solver already works in whole units), then, parents first,
/// any shortfall a component's rounding left is added to its latest order at
/// or before the short bucket, so dependent demand is covered exactly.
pub fn exact_plan(scenario: &Scenario, network: &Network, release: &[Vec<f64>]) -> Vec<Vec<Decimal>> {
    let n = scenario.items.len();
    let t_len = scenario.calendar.len();
    let demand = demand_per_bucket(scenario, network);
    let receipts = receipts_per_bucket(scenario, network);
    let mut out = vec![vec![Decimal::ZERO; t_len]; n];
    let mut dependent = vec![vec![Decimal::ZERO; t_len]; n];
    let mut components: Vec<Vec<(usize, Decimal)>> = vec![Vec::new(); n];
    for b in &scenario.bom {
        if let (Some(p), Some(c)) = (network.index_of(&b.parent), network.index_of(&b.component)) {
            components[p].push((c, bom_factor(b)));
        }
    }
    for &i in &network.sequence {
        let i = i as usize;
        let it = &scenario.items[i];
        let scale = quantity_scale(scenario, i, &demand, &receipts);
        let lt = if it.source == Source::Phantom { 0 } else { it.lead_time as usize };
        let unit = match it.lot.multiple.filter(|m| !m.is_zero()) {
            _ if it.source == Source::Phantom => None,
            Some(m) => Some(m),
            None => Some(Decimal::new(1, scale)),
        };
        for u in 0..t_len {
            let q = release[i][u];
            if q <= 0.0 {
                continue;
            }
            let d = match unit {
                Some(m) => m * Decimal::from_f64((q / f(m)).round()).unwrap_or_default(),
                None => Decimal::from_f64(q).unwrap_or_default().round_dp(6),
            };
            out[i][u] = d.max(Decimal::ZERO).normalize();
        }
        // Repair shortfalls of dependent demand left by rounding.
        let mut net = it.on_hand;
        let mut cum_demand = Decimal::ZERO;
        for t in 0..t_len {
            let received = if t >= lt { out[i][t - lt] } else { Decimal::ZERO };
            net += received + receipts[i][t] - dependent[i][t] - demand[i][t];
            cum_demand += demand[i][t];
            let short = -(net + cum_demand);
            if short > Decimal::ZERO
                && let Some(u) = (0..=t.saturating_sub(lt)).rev().find(|&u| t >= lt && !out[i][u].is_zero())
            {
                let mut add = short;
                if let Some(m) = unit {
                    add = (add / m).ceil() * m;
                }
                out[i][u] += add;
                if u + lt <= t {
                    net += add;
                }
            }
        }
        for &(c, factor) in &components[i] {
            for u in 0..t_len {
                dependent[c][u] += out[i][u] * factor;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"{"format": "mrp-scenario/1", "name": "t",
      "calendar": {"start": "2027-01-04", "bucket_days": 7, "periods": 3},
      "items": [{"id": "A", "source": "make", "lead_time": 1, "unit_cost": 73},
                {"id": "B", "source": "buy", "lot": {"rule": "lot_for_lot", "min": 10, "multiple": 5}}],
      "bom": [{"parent": "A", "component": "B", "quantity": 2, "scrap": 0.5}],
      "demand": [{"id": "D", "item": "A", "date": "2027-01-18", "quantity": 5, "kind": "order"}]"#;

    fn with(capacity: &str) -> String {
        format!("{BASE}, \"capacity\": {capacity}}}")
    }

    #[test]
    fn a_scenario_without_capacity_gets_defaults() {
        let (s, net, cap) = parse(&format!("{BASE}}}")).unwrap();
        assert_eq!(cap, Capacity::default());
        let p = to_problem(&s, &net, &cap);
        assert_eq!(p.items[0].holding_cost, 73.0 * 0.25 * 7.0 / 365.0);
        assert_eq!(p.items[1].holding_cost, 0.01);
        assert_eq!(p.arcs[0].quantity, 3.0);
        assert_eq!(p.items[0].demand, vec![0.0, 0.0, 5.0]);
        assert_eq!((p.items[1].min_lot, p.items[1].multiple), (10.0, 5.0));
        // Without a lot multiple, orders come in whole units of the item's scale.
        assert_eq!(p.items[0].multiple, 1.0);
    }

    #[test]
    fn reads_work_centres_routings_and_costs() {
        let text = with(
            r#"{"work_centers": [{"id": "W", "hours": 40, "overtime_hours": 8, "overtime_cost": 55,
                  "calendar": [{"date": "2027-01-12", "hours": 0}]}],
                "routings": [{"item": "A", "work_center": "W", "run_hours": 0.5, "setup_hours": 2}],
                "costs": {"backlog_cost": 500},
                "items": [{"item": "A", "setup_cost": 120, "holding_cost": 0.3}]}"#,
        );
        let (s, net, cap) = parse(&text).unwrap();
        let p = to_problem(&s, &net, &cap);
        assert_eq!(p.resources[0].capacity, vec![40.0, 0.0, 40.0]);
        assert_eq!(p.resources[0].overtime_max, vec![8.0; 3]);
        assert_eq!(p.items[0].loads, vec![Load { resource: 0, per_unit: 0.5, setup: 2.0 }]);
        assert_eq!((p.items[0].setup_cost[0], p.items[0].holding_cost, p.items[0].backlog_cost), (120.0, 0.3, 500.0));
    }

    #[test]
    fn refusals_name_the_field_path() {
        let text = with(
            r#"{"work_centers": [{"id": "W", "hours": -1}, {"id": "W", "hours": 1}],
                "routings": [{"item": "B", "work_center": "X", "run_hours": 1}],
                "items": [{"item": "Z"}]}"#,
        );
        let err = parse(&text).unwrap_err().to_string();
        for expected in [
            "capacity.work_centers[0].hours: must not be negative, got -1",
            "capacity.work_centers[1].id: duplicate work centre id \"W\"",
            "capacity.routings[0].item: \"B\" is a buy item; only make items have routings",
            "capacity.routings[0].work_center: \"X\" is not a work centre",
            "capacity.items[0].item: \"Z\" is not an item",
        ] {
            assert!(err.contains(expected), "{expected} not in {err}");
        }
        let err = parse(&with(r#"{"work_centers": [{"id": "W", "hours": 1, "colour": 3}]}"#)).unwrap_err();
        assert!(err.to_string().contains("capacity.work_centers[0]"), "{err}");
    }

    #[test]
    fn exact_plan_rounds_and_repairs_component_shortfalls() {
        let (s, net, _) = parse(&format!("{BASE}}}")).unwrap();
        // A: 5 released in bucket 1; B needs 15 in bucket 1, the solver said 14.9999999.
        let release = vec![vec![0.0, 5.0000001, 0.0], vec![14.9999999, 0.0, 0.0]];
        let exact = exact_plan(&s, &net, &release);
        assert_eq!(exact[0][1], Decimal::from(5));
        assert_eq!(exact[1][0], Decimal::from(15));
    }
}
