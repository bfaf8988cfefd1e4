//! Checks a [`Scenario`] as a whole and builds its planning [`Network`]:
//! item index, bill of materials as a graph, low-level codes and the order in
//! which items are planned.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use petgraph::algo::{tarjan_scc, toposort};
use petgraph::graph::{DiGraph, NodeIndex};
use rust_decimal::Decimal;

use crate::model::*;
use crate::parse::{Problem, ScenarioError};
use crate::plan::MAX_RECORDS;

/// A validated scenario's structure, indexed for planning.
#[derive(Debug, Clone)]
pub struct Network {
    /// Item id → position in `Scenario::items`.
    pub item_index: HashMap<String, u32>,
    /// Low-level code of every item (0 for items no BOM line consumes).
    pub low_level_code: Vec<u32>,
    /// Items in planning order: by low-level code, then input order.
    pub sequence: Vec<u32>,
    /// `component_start[p]..component_start[p + 1]` indexes `components` for parent `p`.
    pub component_start: Vec<u32>,
    /// Per parent, its BOM lines as (component item, extended quantity
    /// `quantity × (1 + scrap)`, bom line index).
    pub components: Vec<ComponentLine>,
}

/// One BOM line as the planner uses it.
#[derive(Debug, Clone, Copy)]
pub struct ComponentLine {
    /// Component item index.
    pub component: u32,
    /// `quantity × (1 + scrap)`: component needed per unit of the parent.
    pub factor: Decimal,
    /// Index of the line in `Scenario::bom`.
    pub line: u32,
}

impl Network {
    /// The BOM lines of a parent item.
    pub fn components_of(&self, parent: usize) -> &[ComponentLine] {
        &self.components[self.component_start[parent] as usize..self.component_start[parent + 1] as usize]
    }

    /// Index of an item by id.
    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.item_index.get(id).map(|&i| i as usize)
    }
}

fn check_not_negative(problems: &mut Vec<Problem>, path: impl FnOnce() -> String, value: Decimal) {
    if value.is_sign_negative() && !value.is_zero() {
        problems.push(Problem::new(path(), format!("must not be negative, got {value}")));
    }
}

fn check_positive(problems: &mut Vec<Problem>, path: impl FnOnce() -> String, value: Decimal) {
    if value <= Decimal::ZERO {
        problems.push(Problem::new(path(), format!("must be greater than 0, got {value}")));
    }
}

/// Checks everything that spans fields or records and builds the network.
/// Every problem found is reported, not just the first.
pub fn validate(s: &Scenario) -> Result<Network, ScenarioError> {
    validate_within(s, MAX_RECORDS)
}

/// [`validate`] with at most `max_records` items, BOM lines and demands
/// (tests use a small limit: the real one cannot be built in a test).
fn validate_within(s: &Scenario, max_records: usize) -> Result<Network, ScenarioError> {
    let mut problems = Vec::new();
    let p = &mut problems;

    if s.calendar.bucket_days == 0 {
        p.push(Problem::new("calendar.bucket_days", "must be at least 1"));
    }
    if s.calendar.periods == 0 {
        p.push(Problem::new("calendar.periods", "must be at least 1"));
    }
    p.extend(too_many_records(
        [("items", s.items.len()), ("bom", s.bom.len()), ("demand", s.demand.len())],
        max_records,
    ));

    let mut item_index: HashMap<String, u32> = HashMap::with_capacity(s.items.len());
    for (i, item) in s.items.iter().enumerate() {
        if item.id.trim().is_empty() {
            p.push(Problem::new(format!("items[{i}].id"), "must not be empty"));
        }
        match item_index.entry(item.id.clone()) {
            Entry::Occupied(first) => p.push(Problem::new(
                format!("items[{i}].id"),
                format!("duplicate item id {:?} (first at items[{}])", item.id, first.get()),
            )),
            Entry::Vacant(v) => {
                v.insert(i as u32);
            }
        }
        check_not_negative(p, || format!("items[{i}].safety_stock"), item.safety_stock);
        check_not_negative(p, || format!("items[{i}].on_hand"), item.on_hand);
        check_not_negative(p, || format!("items[{i}].on_hold"), item.on_hold);
        if let Some(c) = item.unit_cost {
            check_not_negative(p, || format!("items[{i}].unit_cost"), c);
        }
        let lot = &item.lot;
        match &lot.rule {
            LotRule::LotForLot => {}
            LotRule::Fixed { quantity } => check_positive(p, || format!("items[{i}].lot.quantity"), *quantity),
            LotRule::PeriodOrder { periods } => {
                if *periods == 0 {
                    p.push(Problem::new(format!("items[{i}].lot.periods"), "must be at least 1"));
                }
            }
            LotRule::Eoq { order_cost, holding_cost } => {
                check_not_negative(p, || format!("items[{i}].lot.order_cost"), *order_cost);
                check_positive(p, || format!("items[{i}].lot.holding_cost"), *holding_cost);
            }
        }
        if let Some(v) = lot.min {
            check_not_negative(p, || format!("items[{i}].lot.min"), v);
        }
        if let Some(v) = lot.multiple {
            check_positive(p, || format!("items[{i}].lot.multiple"), v);
        }
        if let Some(v) = lot.max {
            check_positive(p, || format!("items[{i}].lot.max"), v);
        }
        if let (Some(min), Some(max)) = (lot.min, lot.max)
            && min > max
            && max > Decimal::ZERO
        {
            p.push(Problem::new(format!("items[{i}].lot.min"), format!("{min} is above lot.max {max}")));
        }
        if item.source == Source::Phantom {
            // A phantom is never ordered or stocked to a level: these fields would be silently ignored.
            if item.lead_time != 0 {
                p.push(Problem::new(
                    format!("items[{i}].lead_time"),
                    "a phantom has no lead time (its kit is built in the parent's bucket)",
                ));
            }
            if !item.safety_stock.is_zero() {
                p.push(Problem::new(format!("items[{i}].safety_stock"), "a phantom carries no safety stock"));
            }
            if *lot != LotPolicy::default() {
                p.push(Problem::new(format!("items[{i}].lot"), "a phantom has no lot sizing"));
            }
        }
    }

    let n = s.items.len();
    let mut lines_of: Vec<Vec<ComponentLine>> = vec![Vec::new(); n];
    for (l, line) in s.bom.iter().enumerate() {
        let parent = item_index.get(&line.parent).copied();
        let component = item_index.get(&line.component).copied();
        if parent.is_none() {
            p.push(Problem::new(format!("bom[{l}]"), format!("parent {:?} is not an item", line.parent)));
        }
        if component.is_none() {
            p.push(Problem::new(format!("bom[{l}]"), format!("component {:?} is not an item", line.component)));
        }
        if line.quantity.is_zero() {
            p.push(Problem::new(format!("bom[{l}].quantity"), "must not be 0"));
        } else {
            check_not_negative(p, || format!("bom[{l}].quantity"), line.quantity);
        }
        check_not_negative(p, || format!("bom[{l}].scrap"), line.scrap);
        let factor = (Decimal::ONE.checked_add(line.scrap)).and_then(|f| line.quantity.checked_mul(f));
        if factor.is_none() {
            p.push(Problem::new(format!("bom[{l}]"), "quantity × (1 + scrap) is out of range"));
        }
        if let (Some(pi), Some(ci), Some(factor)) = (parent, component, factor) {
            if s.items[pi as usize].source == Source::Buy {
                p.push(Problem::new(
                    format!("bom[{l}]"),
                    format!("parent {:?} is a buy item and cannot have components", line.parent),
                ));
            }
            lines_of[pi as usize].push(ComponentLine { component: ci, factor, line: l as u32 });
        }
    }
    let mut demand_ids: HashMap<&str, usize> = HashMap::with_capacity(s.demand.len());
    for (d, dem) in s.demand.iter().enumerate() {
        if dem.id.trim().is_empty() {
            p.push(Problem::new(format!("demand[{d}].id"), "must not be empty"));
        } else if let Some(first) = demand_ids.insert(&dem.id, d) {
            p.push(Problem::new(
                format!("demand[{d}].id"),
                format!("duplicate demand id {:?} (first at demand[{first}])", dem.id),
            ));
            demand_ids.insert(&dem.id, first);
        }
        if !item_index.contains_key(&dem.item) {
            p.push(Problem::new(format!("demand[{d}]"), format!("item {:?} is not an item", dem.item)));
        }
        check_not_negative(p, || format!("demand[{d}].quantity"), dem.quantity);
    }
    let mut receipt_ids: HashMap<&str, usize> = HashMap::with_capacity(s.receipts.len());
    for (r, rec) in s.receipts.iter().enumerate() {
        if rec.id.trim().is_empty() {
            p.push(Problem::new(format!("receipts[{r}].id"), "must not be empty"));
        } else if let Some(first) = receipt_ids.insert(&rec.id, r) {
            p.push(Problem::new(
                format!("receipts[{r}].id"),
                format!("duplicate receipt id {:?} (first at receipts[{first}])", rec.id),
            ));
            receipt_ids.insert(&rec.id, first);
        }
        match item_index.get(&rec.item) {
            None => p.push(Problem::new(format!("receipts[{r}]"), format!("item {:?} is not an item", rec.item))),
            Some(&i) if s.items[i as usize].source == Source::Phantom => p.push(Problem::new(
                format!("receipts[{r}]"),
                format!("item {:?} is a phantom; phantoms are never ordered, so they have no receipts", rec.item),
            )),
            Some(_) => {}
        }
        check_not_negative(p, || format!("receipts[{r}].quantity"), rec.quantity);
    }

    // The graph is built from the lines that resolved, so a cycle is reported
    // even when other lines are broken.
    let mut graph: DiGraph<(), u32> = DiGraph::with_capacity(n, s.bom.len());
    for _ in 0..n {
        graph.add_node(());
    }
    for (parent, lines) in lines_of.iter().enumerate() {
        for cl in lines {
            graph.add_edge(NodeIndex::new(parent), NodeIndex::new(cl.component as usize), cl.line);
        }
    }
    let order = match toposort(&graph, None) {
        Ok(order) => Some(order),
        Err(cycle) => {
            p.push(describe_cycle(s, &graph, cycle.node_id()));
            None
        }
    };

    if !problems.is_empty() {
        return Err(ScenarioError::Invalid(problems));
    }
    let order = order.expect("no cycle when there are no problems");

    let mut low_level_code = vec![0u32; n];
    for node in &order {
        let parent = node.index();
        let next = low_level_code[parent] + 1;
        for cl in &lines_of[parent] {
            let c = cl.component as usize;
            if low_level_code[c] < next {
                low_level_code[c] = next;
            }
        }
    }
    let mut sequence: Vec<u32> = (0..n as u32).collect();
    sequence.sort_by_key(|&i| (low_level_code[i as usize], i));

    let mut component_start = Vec::with_capacity(n + 1);
    let mut components = Vec::with_capacity(s.bom.len());
    for lines in lines_of {
        component_start.push(components.len() as u32);
        components.extend(lines);
    }
    component_start.push(components.len() as u32);

    Ok(Network { item_index, low_level_code, sequence, component_start, components })
}

/// Names the items of a cycle through `start` in order, with the BOM lines that close it.
fn describe_cycle(s: &Scenario, graph: &DiGraph<(), u32>, start: NodeIndex) -> Problem {
    let scc = tarjan_scc(graph).into_iter().find(|c| c.contains(&start)).unwrap_or_else(|| vec![start]);
    let in_scc: std::collections::HashSet<NodeIndex> = scc.iter().copied().collect();
    // Start from the cycle member that comes first in the input, for a stable message.
    let first = *scc.iter().min_by_key(|n| n.index()).unwrap_or(&start);
    // Breadth-first search inside the component for the shortest way back to `first`.
    let mut prev: HashMap<NodeIndex, (NodeIndex, u32)> = HashMap::new();
    let mut queue = std::collections::VecDeque::from([first]);
    let mut closing = None;
    'search: while let Some(u) = queue.pop_front() {
        let mut edges: Vec<_> = graph.edges(u).map(|e| (petgraph::visit::EdgeRef::target(&e), *e.weight())).collect();
        edges.sort_by_key(|&(t, line)| (line, t.index()));
        for (v, line) in edges {
            if !in_scc.contains(&v) {
                continue;
            }
            if v == first {
                closing = Some((u, line));
                break 'search;
            }
            if let Entry::Vacant(e) = prev.entry(v) {
                e.insert((u, line));
                queue.push_back(v);
            }
        }
    }
    let mut path = Vec::new();
    let mut lines = Vec::new();
    if let Some((last, closing_line)) = closing {
        path.push(last);
        lines.push(closing_line);
        let mut at = last;
        while at != first {
            let (from, line) = prev[&at];
            path.push(from);
            lines.push(line);
            at = from;
        }
        path.reverse();
        lines.reverse();
    } else {
        path.push(first);
    }
    path.push(first);
    let names: Vec<&str> = path.iter().map(|n| s.items[n.index()].id.as_str()).collect();
    let line_refs: Vec<String> = lines.iter().map(|l| format!("bom[{l}]")).collect();
    Problem::new(
        "bom",
        format!("cycle in the bill of materials: {} (lines {})", names.join(" -> "), line_refs.join(", ")),
    )
}

/// A problem for each list with more than `max` entries: pegs and
/// requirements address items, BOM lines and demands in 25 bits
/// ([`MAX_RECORDS`]: 33,554,431).
fn too_many_records<const N: usize>(counts: [(&str, usize); N], max: usize) -> Vec<Problem> {
    counts
        .into_iter()
        .filter(|&(_, count)| count > max)
        .map(|(field, count)| Problem::new(field, format!("at most {max} entries, got {count}")))
        .collect()
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
