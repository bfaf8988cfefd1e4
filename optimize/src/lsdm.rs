//! Import of LotSizingDataModel instance XML (multi-level capacitated lot
//! sizing benchmarks: Tempelmeier & Derstroff 1996, Stadtler 2003).
//!
//! The reading follows the data README in `shared/data/mlclsp/`: BOM from
//! `componentRequirements`, one work centre per item from
//! `productionCharacteristics` (unit capacity consumption, setup time, setup
//! cost, unit cost), holding cost and initial stock from `inventories`,
//! external demand from `demands`, capacity and (Stadtler only) overtime
//! bound and cost from `workCenters`, lead times from `productionRoutings`.
//! Demand must be met on time in these instances; the model keeps its
//! backlog variables with the prohibitive cost [`BACKLOG_PENALTY`], so a plan
//! with any backlog is reported as infeasible for the instance.

use std::collections::HashMap;

use roxmltree::{Document, Node};

use crate::problem::{Arc, Load, Problem, ProblemItem, Resource};

/// Backlog cost per unit and period used for LSDM instances, which allow none.
pub const BACKLOG_PENALTY: f64 = 100_000.0;

/// Why an instance could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LsdmError {
    /// Not well-formed XML.
    #[error("not well-formed XML: {0}")]
    Xml(String),
    /// Well-formed but not a readable instance.
    #[error("{path}: {message}")]
    Invalid {
        /// Where (element path).
        path: String,
        /// What is wrong.
        message: String,
    },
}

fn invalid(path: impl Into<String>, message: impl Into<String>) -> LsdmError {
    LsdmError::Invalid { path: path.into(), message: message.into() }
}

/// An imported instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    /// The instance name (`name` attribute of the root).
    pub name: String,
    /// The problem.
    pub problem: Problem,
}

fn child<'a, 'i>(node: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    node.children().find(|c| c.has_tag_name(name))
}

fn children<'a, 'i>(node: Node<'a, 'i>, name: &'a str) -> impl Iterator<Item = Node<'a, 'i>> + 'a {
    node.children().filter(move |c| c.has_tag_name(name))
}

fn descendants<'a, 'i>(node: Node<'a, 'i>, name: &'a str) -> impl Iterator<Item = Node<'a, 'i>> + 'a {
    node.descendants().filter(move |c| c.has_tag_name(name))
}

fn number(text: Option<&str>, path: &str) -> Result<f64, LsdmError> {
    let text = text.ok_or_else(|| invalid(path, "missing"))?.trim();
    text.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| invalid(path, format!("expected a number, got {text:?}")))
}

fn attr(node: Node<'_, '_>, name: &str, path: &str) -> Result<f64, LsdmError> {
    number(node.attribute(name), &format!("{path}@{name}"))
}

/// The `<values>` (or `<quantities>`) series of `element`, one per period.
fn series(node: Node<'_, '_>, element: &str, tag: &str, periods: usize, path: &str) -> Result<Vec<f64>, LsdmError> {
    let path = format!("{path}/{element}");
    let el = child(node, element).ok_or_else(|| invalid(&path, "missing"))?;
    let values: Vec<f64> =
        children(el, tag).map(|v| number(v.text(), &format!("{path}/{tag}"))).collect::<Result<_, _>>()?;
    if values.len() != periods {
        return Err(invalid(&path, format!("has {} values for {periods} periods", values.len())));
    }
    Ok(values)
}

fn constant(values: &[f64], path: &str) -> Result<f64, LsdmError> {
    let first = values.first().copied().unwrap_or(0.0);
    if values.iter().any(|&v| (v - first).abs() > 1e-9 * (1.0 + first.abs())) {
        return Err(invalid(path, "varies by period (not supported)"));
    }
    Ok(first)
}

/// Reads an instance.
pub fn parse(text: &str) -> Result<Instance, LsdmError> {
    let doc = Document::parse(text).map_err(|e| LsdmError::Xml(e.to_string()))?;
    let root = doc.root_element();
    if !root.has_tag_name("lotSizingInstance") {
        return Err(invalid(root.tag_name().name(), "expected a lotSizingInstance root element"));
    }
    let name = root.attribute("name").or(root.attribute("instanceId")).unwrap_or("instance").to_owned();
    let sc = child(root, "supplyChain").ok_or_else(|| invalid("supplyChain", "missing"))?;
    let periods = attr(sc, "planningHorizon", "supplyChain")?;
    if periods < 1.0 || periods.fract() != 0.0 || periods > 10_000.0 {
        return Err(invalid("supplyChain@planningHorizon", "must be a whole number from 1 to 10000"));
    }
    let periods = periods as usize;

    let mut index = HashMap::new();
    let mut items = Vec::new();
    let items_el = child(sc, "items").ok_or_else(|| invalid("supplyChain/items", "missing"))?;
    for it in children(items_el, "item") {
        let id = it.attribute("id").ok_or_else(|| invalid("items/item@id", "missing"))?.to_owned();
        index.insert(id.clone(), items.len());
        items.push(ProblemItem {
            id,
            lead_time: 0,
            initial_stock: 0.0,
            receipts: vec![0.0; periods],
            demand: vec![0.0; periods],
            safety_stock: 0.0,
            holding_cost: 0.0,
            backlog_cost: BACKLOG_PENALTY,
            safety_stock_cost: 0.0,
            setup_cost: vec![0.0; periods],
            unit_cost: 0.0,
            min_lot: 0.0,
            multiple: 0.0,
            loads: Vec::new(),
            orderable: true,
        });
    }
    let item_of = |id: Option<&str>, path: &str| -> Result<usize, LsdmError> {
        let id = id.ok_or_else(|| invalid(path, "missing item id"))?;
        index.get(id).copied().ok_or_else(|| invalid(path, format!("unknown item {id:?}")))
    };

    let mut arcs = Vec::new();
    for cr in descendants(sc, "componentRequirement") {
        let path = "componentRequirements/componentRequirement";
        arcs.push(Arc {
            parent: item_of(cr.attribute("parentItemId"), path)?,
            component: item_of(cr.attribute("componentItemId"), path)?,
            quantity: attr(cr, "quantity", path)?,
        });
    }

    let mut resources = Vec::new();
    let mut resource_index = HashMap::new();
    for wc in descendants(sc, "workCenter").filter(|w| child(*w, "capacityConstraint").is_some()) {
        let id = wc.attribute("id").unwrap_or("?").to_owned();
        let path = format!("workCenters/workCenter[@id={id}]");
        let capacity = series(wc, "capacityConstraint", "values", periods, &path)?;
        let overtime_max = if child(wc, "additionalCapacity").is_some() {
            series(wc, "additionalCapacity", "values", periods, &path)?
        } else {
            vec![0.0; periods]
        };
        let overtime_cost = if child(wc, "additionalCapacityCost").is_some() {
            constant(
                &series(wc, "additionalCapacityCost", "values", periods, &path)?,
                &format!("{path}/additionalCapacityCost"),
            )?
        } else {
            0.0
        };
        resource_index.insert(id.clone(), resources.len());
        resources.push(Resource { id, capacity, overtime_max, overtime_cost });
    }

    for pc in descendants(sc, "productionCharacteristic") {
        let i = item_of(pc.attribute("itemId"), "productionCharacteristic")?;
        let path = format!("productionCharacteristic[@itemId={}]", items[i].id);
        let wc = child(pc, "workCenter")
            .and_then(|w| w.attribute("workCenterId"))
            .ok_or_else(|| invalid(&path, "missing workCenter"))?;
        let resource = *resource_index.get(wc).ok_or_else(|| invalid(&path, format!("unknown work centre {wc:?}")))?;
        let per_unit = constant(
            &series(pc, "unitCapacityConsumption", "values", periods, &path)?,
            &format!("{path}/unitCapacityConsumption"),
        )?;
        let setup = if child(pc, "setupTime").is_some() {
            constant(&series(pc, "setupTime", "values", periods, &path)?, &format!("{path}/setupTime"))?
        } else {
            0.0
        };
        items[i].loads.push(Load { resource, per_unit, setup });
        if child(pc, "fixedSetupCost").is_some() {
            items[i].setup_cost = series(pc, "fixedSetupCost", "values", periods, &path)?;
        }
        if child(pc, "unitUsageCost").is_some() {
            items[i].unit_cost =
                constant(&series(pc, "unitUsageCost", "values", periods, &path)?, &format!("{path}/unitUsageCost"))?;
        }
    }

    for inv in descendants(sc, "inventory") {
        let i = item_of(inv.attribute("itemId"), "inventory")?;
        let path = format!("inventory[@itemId={}]", items[i].id);
        if inv.attribute("initialInventory").is_some() {
            items[i].initial_stock = attr(inv, "initialInventory", &path)?;
        }
        if child(inv, "unitUsageCost").is_some() {
            items[i].holding_cost =
                constant(&series(inv, "unitUsageCost", "values", periods, &path)?, &format!("{path}/unitUsageCost"))?;
        }
    }

    for d in descendants(sc, "demand") {
        let i = item_of(d.attribute("itemId"), "demand")?;
        let path = format!("demand[@itemId={}]", items[i].id);
        let q: Vec<f64> = children(d, "quantities")
            .map(|v| number(v.text(), &format!("{path}/quantities")))
            .collect::<Result<_, _>>()?;
        if q.len() != periods {
            return Err(invalid(&path, format!("has {} quantities for {periods} periods", q.len())));
        }
        for (t, v) in q.into_iter().enumerate() {
            items[i].demand[t] += v;
        }
    }

    for r in descendants(sc, "productionRouting") {
        let i = item_of(r.attribute("itemId"), "productionRouting")?;
        let lt = attr(r, "leadTime", "productionRouting")?;
        if lt < 0.0 || lt.fract() != 0.0 {
            return Err(invalid("productionRouting@leadTime", "must be a whole number of periods"));
        }
        items[i].lead_time = lt as usize;
    }

    Ok(Instance { name, problem: Problem { periods, items, arcs, resources } })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = r#"<lotSizingInstance name="tiny"><supplyChain planningHorizon="2">
      <items><item id="1"/><item id="2"/></items>
      <componentRequirements><componentRequirement parentItemId="1" componentItemId="2" quantity="2"/></componentRequirements>
      <plants><plant id="1"><workCenters><workCenter id="1">
        <capacityConstraint><values>100</values><values>100</values></capacityConstraint>
        <additionalCapacity><values>5</values><values>5</values></additionalCapacity>
        <additionalCapacityCost><values>7</values><values>7</values></additionalCapacityCost>
      </workCenter></workCenters></plant></plants>
      <productionRoutings><productionRouting itemId="1" leadTime="1"/></productionRoutings>
      <productionCharacteristics>
        <productionCharacteristic itemId="1"><workCenter workCenterId="1"/>
          <unitCapacityConsumption><values>1</values><values>1</values></unitCapacityConsumption>
          <setupTime><values>3</values><values>3</values></setupTime>
          <fixedSetupCost><values>50</values><values>60</values></fixedSetupCost></productionCharacteristic>
      </productionCharacteristics>
      <inventories><inventory itemId="1" initialInventory="4"><unitUsageCost><values>2</values><values>2</values></unitUsageCost></inventory></inventories>
      <demands><demand itemId="1"><quantities>10</quantities><quantities>20</quantities></demand></demands>
    </supplyChain></lotSizingInstance>"#;

    #[test]
    fn reads_every_field() {
        let inst = parse(SMALL).unwrap();
        let p = &inst.problem;
        assert_eq!(inst.name, "tiny");
        assert_eq!(p.periods, 2);
        assert_eq!(p.arcs, vec![Arc { parent: 0, component: 1, quantity: 2.0 }]);
        assert_eq!(p.resources[0].overtime_max, vec![5.0, 5.0]);
        assert_eq!(p.resources[0].overtime_cost, 7.0);
        let it = &p.items[0];
        assert_eq!((it.lead_time, it.initial_stock, it.holding_cost), (1, 4.0, 2.0));
        assert_eq!(it.setup_cost, vec![50.0, 60.0]);
        assert_eq!(it.loads, vec![Load { resource: 0, per_unit: 1.0, setup: 3.0 }]);
        assert_eq!(it.demand, vec![10.0, 20.0]);
    }

    #[test]
    fn refusals_name_the_place() {
        let bad = SMALL.replace("<quantities>20</quantities>", "");
        assert_eq!(parse(&bad).unwrap_err().to_string(), "demand[@itemId=1]: has 1 quantities for 2 periods");
        let bad = SMALL.replace("componentItemId=\"2\"", "componentItemId=\"9\"");
        assert!(parse(&bad).unwrap_err().to_string().contains("unknown item \"9\""));
        assert!(matches!(parse("<a"), Err(LsdmError::Xml(_))));
    }
}
