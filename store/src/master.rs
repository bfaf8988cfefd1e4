//! Master data: items with planning parameters, versioned BOMs with
//! effectivity, work centres, routings and stocking locations.

use chrono::{NaiveDate, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::entity::{bom, bom_line, demand, item, location, movement, routing_operation, supply_order, work_centre};
use crate::error::{Problems, StoreError};
use crate::names::{LocationKind, LotRule, Source};
use crate::qty::Qty;

/// Longest id accepted for items, locations, work centres and orders.
pub const MAX_ID_LEN: usize = 64;

/// Checks an id: 1 to 64 visible characters, no spaces.
pub fn check_id(field: &str, id: &str, problems: &mut Problems) {
    if id.is_empty() {
        problems.push(field, "must not be empty");
    } else if id.chars().count() > MAX_ID_LEN {
        problems.push(field, format!("must be at most {MAX_ID_LEN} characters"));
    } else if id.chars().any(|c| c.is_whitespace() || c.is_control()) {
        problems.push(field, "must not contain spaces or control characters");
    }
}

/// Checks a date is in years 1 to 9999 (what both databases store).
pub fn check_date(field: &str, date: NaiveDate, problems: &mut Problems) {
    use chrono::Datelike;
    if !(1..=9999).contains(&date.year()) {
        problems.push(field, "must be a date in the years 1 to 9999");
    }
}

fn check_micros(field: &str, q: Qty, problems: &mut Problems) -> i64 {
    q.micros(field).unwrap_or_else(|e| {
        if let StoreError::Invalid(list) = e {
            problems.0.extend(list);
        }
        0
    })
}

fn non_negative(field: &str, q: Qty, problems: &mut Problems) -> i64 {
    let m = check_micros(field, q, problems);
    if m < 0 {
        problems.push(field, "must not be negative");
    }
    m
}

fn positive(field: &str, q: Qty, problems: &mut Problems) -> i64 {
    let m = check_micros(field, q, problems);
    if m <= 0 {
        problems.push(field, "must be greater than 0");
    }
    m
}

/// A keyset page request: rows after `after` in id order, at most `limit`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Return rows whose id sorts after this one (the previous page's `next`).
    pub after: Option<String>,
    /// Rows per page, 1 to 1000 (default 100).
    pub limit: Option<u64>,
}

impl PageQuery {
    /// The effective page size.
    pub fn limit(&self) -> Result<u64, StoreError> {
        match self.limit {
            None => Ok(100),
            Some(n @ 1..=1000) => Ok(n),
            Some(_) => Err(StoreError::invalid("limit", "must be between 1 and 1000")),
        }
    }
}

/// One page of rows and the cursor of the next.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Page<T> {
    /// The rows.
    pub rows: Vec<T>,
    /// Pass as `after` to get the next page; absent on the last page.
    pub next: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from `limit + 1` fetched rows.
    pub fn from_rows(mut rows: Vec<T>, limit: u64, key: impl Fn(&T) -> String) -> Page<T> {
        let next = if rows.len() as u64 > limit {
            rows.truncate(limit as usize);
            rows.last().map(&key)
        } else {
            None
        };
        Page { rows, next }
    }
}

// ---- items ------------------------------------------------------------------

/// Lot-sizing policy, as in the scenario format's `lot` object.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Lot {
    /// `lot_for_lot` (default), `fixed`, `period_order` or `eoq`.
    #[serde(default)]
    pub rule: LotRule,
    /// The fixed lot (`fixed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub quantity: Option<Qty>,
    /// Buckets covered by one order (`period_order`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub periods: Option<u32>,
    /// Cost of one order (`eoq`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub order_cost: Option<Qty>,
    /// Cost of holding one unit a year (`eoq`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub holding_cost: Option<Qty>,
    /// Minimum order quantity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub min: Option<Qty>,
    /// Orders are rounded up to a multiple of this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub multiple: Option<Qty>,
    /// Larger orders are split.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub max: Option<Qty>,
}

/// An item with its planning parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Item {
    /// Part number.
    pub id: String,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `make`, `buy` or `phantom`.
    pub source: Source,
    /// Lead time in planning buckets.
    #[serde(default)]
    pub lead_time: u32,
    /// Stock level MRP keeps available.
    #[serde(default)]
    #[schema(value_type = String)]
    pub safety_stock: Qty,
    /// Lot-sizing policy.
    #[serde(default)]
    pub lot: Lot,
    /// Standard cost per unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub unit_cost: Option<Qty>,
    /// Unit of measure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uom: Option<String>,
    /// Whether available stock of this item may go negative (backflushing).
    #[serde(default)]
    pub allow_negative: bool,
    /// Whether receipts go to `quality_hold` for inspection first.
    #[serde(default)]
    pub requires_inspection: bool,
    /// As a component of work orders: consumed by backflush when the first
    /// operation reports, instead of being issued when the order is released.
    #[serde(default)]
    pub backflush: bool,
}

/// Checks an item's fields, reporting problems under `prefix`.
pub fn check_item(item: &Item, prefix: &str, problems: &mut Problems) {
    item.to_active(prefix, problems);
}

impl Item {
    fn to_active(&self, prefix: &str, problems: &mut Problems) -> item::ActiveModel {
        let f = |name: &str| if prefix.is_empty() { name.to_owned() } else { format!("{prefix}.{name}") };
        check_id(&f("id"), &self.id, problems);
        if self.lead_time > mrp::parse::MAX_LEAD_TIME {
            problems.push(f("lead_time"), format!("must be at most {}", mrp::parse::MAX_LEAD_TIME));
        }
        let safety_stock = non_negative(&f("safety_stock"), self.safety_stock, problems);
        let lot = &self.lot;
        let opt = |name: &str, q: Option<Qty>, problems: &mut Problems, strict: bool| {
            q.map(|q| if strict { positive(&f(name), q, problems) } else { non_negative(&f(name), q, problems) })
        };
        let lot_quantity = opt("lot.quantity", lot.quantity, problems, true);
        let order_cost = opt("lot.order_cost", lot.order_cost, problems, false);
        let holding_cost = opt("lot.holding_cost", lot.holding_cost, problems, true);
        let lot_min = opt("lot.min", lot.min, problems, true);
        let lot_multiple = opt("lot.multiple", lot.multiple, problems, true);
        let lot_max = opt("lot.max", lot.max, problems, true);
        let unit_cost = opt("unit_cost", self.unit_cost, problems, false);
        let needs = |present: bool, name: &str, problems: &mut Problems| {
            if !present {
                problems.push(f(name), format!("is required for lot rule {}", lot.rule));
            }
        };
        let forbids = |present: bool, name: &str, problems: &mut Problems| {
            if present {
                problems.push(f(name), format!("does not apply to lot rule {}", lot.rule));
            }
        };
        match lot.rule {
            LotRule::LotForLot => {}
            LotRule::Fixed => needs(lot.quantity.is_some(), "lot.quantity", problems),
            LotRule::PeriodOrder => {
                needs(lot.periods.is_some(), "lot.periods", problems);
                if lot.periods == Some(0) {
                    problems.push(f("lot.periods"), "must be at least 1");
                }
            }
            LotRule::Eoq => {
                needs(lot.order_cost.is_some(), "lot.order_cost", problems);
                needs(lot.holding_cost.is_some(), "lot.holding_cost", problems);
            }
        }
        forbids(lot.rule != LotRule::Fixed && lot.quantity.is_some(), "lot.quantity", problems);
        forbids(lot.rule != LotRule::PeriodOrder && lot.periods.is_some(), "lot.periods", problems);
        forbids(lot.rule != LotRule::Eoq && lot.order_cost.is_some(), "lot.order_cost", problems);
        forbids(lot.rule != LotRule::Eoq && lot.holding_cost.is_some(), "lot.holding_cost", problems);
        if let (Some(min), Some(max)) = (lot_min, lot_max)
            && max < min
        {
            problems.push(f("lot.max"), "must not be less than lot.min");
        }
        let now = Utc::now();
        item::ActiveModel {
            id: Set(self.id.clone()),
            name: Set(self.name.clone()),
            source: Set(self.source.as_str().to_owned()),
            lead_time: Set(self.lead_time.min(i32::MAX as u32) as i32),
            safety_stock: Set(safety_stock),
            lot_rule: Set(lot.rule.as_str().to_owned()),
            lot_quantity: Set(lot_quantity),
            lot_periods: Set(lot.periods.map(|p| p.min(i32::MAX as u32) as i32)),
            order_cost: Set(order_cost),
            holding_cost: Set(holding_cost),
            lot_min: Set(lot_min),
            lot_multiple: Set(lot_multiple),
            lot_max: Set(lot_max),
            unit_cost: Set(unit_cost),
            uom: Set(self.uom.clone()),
            allow_negative: Set(self.allow_negative),
            requires_inspection: Set(self.requires_inspection),
            backflush: Set(self.backflush),
            created_at: Set(now),
            updated_at: Set(now),
        }
    }

    /// The API view of a stored row.
    pub fn from_model(m: &item::Model) -> Item {
        let q = |v: Option<i64>| v.map(Qty::from_micros);
        Item {
            id: m.id.clone(),
            name: m.name.clone(),
            source: Source::parse(&m.source).unwrap_or(Source::Make),
            lead_time: m.lead_time.max(0) as u32,
            safety_stock: Qty::from_micros(m.safety_stock),
            lot: Lot {
                rule: LotRule::parse(&m.lot_rule).unwrap_or(LotRule::LotForLot),
                quantity: q(m.lot_quantity),
                periods: m.lot_periods.map(|p| p.max(0) as u32),
                order_cost: q(m.order_cost),
                holding_cost: q(m.holding_cost),
                min: q(m.lot_min),
                multiple: q(m.lot_multiple),
                max: q(m.lot_max),
            },
            unit_cost: q(m.unit_cost),
            uom: m.uom.clone(),
            allow_negative: m.allow_negative,
            requires_inspection: m.requires_inspection,
            backflush: m.backflush,
        }
    }
}

/// Creates or replaces items (one or many, in one transaction). A buy item
/// may not have a BOM; that is checked here too. Returns how many were new.
pub async fn put_items(txn: &impl ConnectionTrait, items: &[Item], prefix: &str) -> Result<usize, StoreError> {
    let mut problems = Problems::default();
    let mut rows = Vec::with_capacity(items.len());
    let mut seen = std::collections::HashSet::new();
    for (i, it) in items.iter().enumerate() {
        let p = if prefix.is_empty() && items.len() == 1 { String::new() } else { format!("{prefix}[{i}]") };
        if !seen.insert(it.id.as_str()) {
            problems.push(if p.is_empty() { "id".to_owned() } else { format!("{p}.id") }, "duplicate id");
        }
        rows.push(it.to_active(&p, &mut problems));
    }
    problems.finish()?;
    let buys: Vec<&str> = items.iter().filter(|i| i.source == Source::Buy).map(|i| i.id.as_str()).collect();
    for chunk in buys.chunks(500) {
        if let Some(b) = bom::Entity::find().filter(bom::Column::Parent.is_in(chunk.iter().copied())).one(txn).await? {
            return Err(StoreError::conflict(
                "buy_item_with_bom",
                format!("item '{}' has a bill of materials, so it cannot be a buy item", b.parent),
            ));
        }
    }
    let mut created = 0;
    for chunk in rows.chunks(200) {
        let ids: Vec<String> = chunk.iter().map(|r| r.id.clone().unwrap()).collect();
        let existing = item::Entity::find().filter(item::Column::Id.is_in(ids)).count(txn).await? as usize;
        created += chunk.len() - existing;
        item::Entity::insert_many(chunk.to_vec())
            .on_conflict(
                OnConflict::column(item::Column::Id)
                    .update_columns([
                        item::Column::Name,
                        item::Column::Source,
                        item::Column::LeadTime,
                        item::Column::SafetyStock,
                        item::Column::LotRule,
                        item::Column::LotQuantity,
                        item::Column::LotPeriods,
                        item::Column::OrderCost,
                        item::Column::HoldingCost,
                        item::Column::LotMin,
                        item::Column::LotMultiple,
                        item::Column::LotMax,
                        item::Column::UnitCost,
                        item::Column::Uom,
                        item::Column::AllowNegative,
                        item::Column::RequiresInspection,
                        item::Column::Backflush,
                        item::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec(txn)
            .await?;
    }
    Ok(created)
}

/// One item.
pub async fn get_item(conn: &impl ConnectionTrait, id: &str) -> Result<item::Model, StoreError> {
    item::Entity::find_by_id(id.to_owned()).one(conn).await?.ok_or_else(|| StoreError::not_found("item", id))
}

/// A page of items in id order, optionally only those of one source.
pub async fn list_items(
    conn: &impl ConnectionTrait,
    page: &PageQuery,
    source: Option<Source>,
) -> Result<Page<Item>, StoreError> {
    let limit = page.limit()?;
    let mut q = item::Entity::find().order_by_asc(item::Column::Id).limit(limit + 1);
    if let Some(after) = &page.after {
        q = q.filter(item::Column::Id.gt(after.clone()));
    }
    if let Some(s) = source {
        q = q.filter(item::Column::Source.eq(s.as_str()));
    }
    let rows = q.all(conn).await?.iter().map(Item::from_model).collect();
    Ok(Page::from_rows(rows, limit, |i: &Item| i.id.clone()))
}

/// Deletes an item that nothing refers to.
pub async fn delete_item(txn: &impl ConnectionTrait, id: &str) -> Result<(), StoreError> {
    get_item(txn, id).await?;
    let used = bom::Entity::find().filter(bom::Column::Parent.eq(id)).count(txn).await?
        + bom_line::Entity::find().filter(bom_line::Column::Component.eq(id)).count(txn).await?
        + movement::Entity::find().filter(movement::Column::Item.eq(id)).count(txn).await?
        + demand::Entity::find().filter(demand::Column::Item.eq(id)).count(txn).await?
        + supply_order::Entity::find().filter(supply_order::Column::Item.eq(id)).count(txn).await?;
    if used > 0 {
        return Err(StoreError::conflict(
            "item_in_use",
            format!("item '{id}' is used by BOMs, movements, demand or supply and cannot be deleted"),
        ));
    }
    routing_operation::Entity::delete_many().filter(routing_operation::Column::Item.eq(id)).exec(txn).await?;
    item::Entity::delete_by_id(id.to_owned()).exec(txn).await?;
    Ok(())
}

// ---- BOMs -------------------------------------------------------------------

/// One component line of a BOM version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BomLineBody {
    /// The component item.
    pub component: String,
    /// Quantity per unit of the parent (> 0).
    #[schema(value_type = String)]
    pub quantity: Qty,
    /// Component scrap as a fraction (0.02 = 2 % extra).
    #[serde(default)]
    #[schema(value_type = String)]
    pub scrap: Qty,
}

/// A new BOM version of a parent item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BomBody {
    /// First day the version is effective (open when absent).
    #[serde(default)]
    pub valid_from: Option<NaiveDate>,
    /// First day it is no longer effective (open when absent).
    #[serde(default)]
    pub valid_to: Option<NaiveDate>,
    /// The components.
    pub lines: Vec<BomLineBody>,
}

/// A stored BOM version.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct BomVersion {
    /// The parent item.
    pub parent: String,
    /// Version number, from 1.
    pub version: i32,
    /// First effective day.
    pub valid_from: Option<NaiveDate>,
    /// First day no longer effective.
    pub valid_to: Option<NaiveDate>,
    /// The components.
    pub lines: Vec<BomLineBody>,
}

/// Adds a new version of `parent`'s BOM. Refused when the parent is a buy
/// item, a component is unknown, or the new lines would close a cycle.
pub async fn add_bom_version(
    txn: &impl ConnectionTrait,
    parent: &str,
    body: &BomBody,
) -> Result<BomVersion, StoreError> {
    Ok(add_bom_versions(txn, &[(parent, body)], "").await?.remove(0))
}

/// Adds a new BOM version to each of several parents with a fixed number of
/// queries (scenario import adds thousands at once). Field names in errors
/// start with `prefix` and, for several versions, the parent:
/// `bom.FRAME.lines[2].quantity`.
pub async fn add_bom_versions(
    txn: &impl ConnectionTrait,
    versions: &[(&str, &BomBody)],
    prefix: &str,
) -> Result<Vec<BomVersion>, StoreError> {
    use std::collections::{HashMap, HashSet};
    let parents: Vec<&str> = versions.iter().map(|(p, _)| *p).collect();
    let components: Vec<&str> =
        versions.iter().flat_map(|(_, b)| b.lines.iter().map(|l| l.component.as_str())).collect();
    let mut sources: HashMap<String, String> = HashMap::new();
    let wanted: Vec<&str> =
        parents.iter().chain(components.iter()).copied().collect::<HashSet<_>>().into_iter().collect();
    for chunk in crate::db::pow2_chunks(&wanted) {
        let rows: Vec<(String, String)> = item::Entity::find()
            .select_only()
            .columns([item::Column::Id, item::Column::Source])
            .filter(item::Column::Id.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(txn)
            .await?;
        sources.extend(rows);
    }
    let mut problems = Problems::default();
    let mut rows = Vec::with_capacity(versions.len());
    let mut seen_parents = HashSet::new();
    for (parent, body) in versions {
        let Some(source) = sources.get(*parent) else {
            return Err(StoreError::not_found("item", *parent));
        };
        let at = |field: &str| {
            if versions.len() == 1 { format!("{prefix}{field}") } else { format!("{prefix}{parent}.{field}") }
        };
        if !seen_parents.insert(*parent) {
            problems.push(at("parent"), format!("'{parent}' gets two versions at once"));
        }
        if source == Source::Buy.as_str() {
            problems.push(at("parent"), format!("'{parent}' is a buy item and cannot have components"));
        }
        for (field, date) in [("valid_from", body.valid_from), ("valid_to", body.valid_to)] {
            if let Some(d) = date {
                check_date(&at(field), d, &mut problems);
            }
        }
        if let (Some(from), Some(to)) = (body.valid_from, body.valid_to)
            && to <= from
        {
            problems.push(at("valid_to"), "must be after valid_from");
        }
        let mut lines = Vec::new();
        let mut seen = HashSet::new();
        for (i, l) in body.lines.iter().enumerate() {
            let q = positive(&at(&format!("lines[{i}].quantity")), l.quantity, &mut problems);
            let s = non_negative(&at(&format!("lines[{i}].scrap")), l.scrap, &mut problems);
            if l.component == *parent {
                problems.push(at(&format!("lines[{i}].component")), "an item cannot be its own component");
            } else if !sources.contains_key(&l.component) {
                problems.push(at(&format!("lines[{i}].component")), format!("'{}' is not an item", l.component));
            }
            if !seen.insert(l.component.as_str()) {
                problems.push(at(&format!("lines[{i}].component")), format!("'{}' appears twice", l.component));
            }
            lines.push((l.component.clone(), q, s));
        }
        rows.push((*parent, *body, lines));
    }
    problems.finish()?;
    let new_edges: Vec<(&str, &str)> =
        rows.iter().flat_map(|(p, _, lines)| lines.iter().map(move |l| (*p, l.0.as_str()))).collect();
    if let Some(cycle) = find_cycle(txn, &new_edges).await? {
        return Err(StoreError::conflict(
            "bom_cycle",
            format!("these lines would close a cycle: {}", cycle.join(" -> ")),
        ));
    }
    let mut latest: HashMap<String, i32> = HashMap::new();
    for chunk in crate::db::pow2_chunks(&parents) {
        let found: Vec<(String, Option<i32>)> = bom::Entity::find()
            .select_only()
            .column(bom::Column::Parent)
            .column_as(bom::Column::Version.max(), "version")
            .filter(bom::Column::Parent.is_in(chunk.iter().copied()))
            .group_by(bom::Column::Parent)
            .into_tuple()
            .all(txn)
            .await?;
        latest.extend(found.into_iter().map(|(p, v)| (p, v.unwrap_or(0))));
    }
    let now = Utc::now();
    let headers: Vec<bom::ActiveModel> = rows
        .iter()
        .map(|(parent, body, _)| bom::ActiveModel {
            parent: Set((*parent).to_owned()),
            version: Set(latest.get(*parent).copied().unwrap_or(0) + 1),
            valid_from: Set(body.valid_from),
            valid_to: Set(body.valid_to),
            created_at: Set(now),
            ..Default::default()
        })
        .collect();
    let mut saved = Vec::with_capacity(headers.len());
    for chunk in crate::db::pow2_chunks(&headers) {
        // RETURNING gives the rows in VALUES order on both databases.
        saved.extend(bom::Entity::insert_many(chunk.to_vec()).exec_with_returning(txn).await?);
    }
    let line_rows: Vec<bom_line::ActiveModel> = saved
        .iter()
        .zip(&rows)
        .flat_map(|(header, (_, _, lines))| {
            lines.iter().enumerate().map(|(i, (c, q, s))| bom_line::ActiveModel {
                bom_id: Set(header.id),
                line_no: Set(i as i32 + 1),
                component: Set(c.clone()),
                quantity: Set(*q),
                scrap: Set(*s),
                ..Default::default()
            })
        })
        .collect();
    for chunk in crate::db::pow2_chunks(&line_rows) {
        bom_line::Entity::insert_many(chunk.to_vec()).exec_without_returning(txn).await?;
    }
    Ok(saved
        .into_iter()
        .zip(&rows)
        .map(|(header, (parent, body, _))| BomVersion {
            parent: (*parent).to_owned(),
            version: header.version,
            valid_from: body.valid_from,
            valid_to: body.valid_to,
            lines: body.lines.clone(),
        })
        .collect())
}

/// Every version of `parent`'s BOM, oldest first.
pub async fn bom_versions(conn: &impl ConnectionTrait, parent: &str) -> Result<Vec<BomVersion>, StoreError> {
    get_item(conn, parent).await?;
    let headers =
        bom::Entity::find().filter(bom::Column::Parent.eq(parent)).order_by_asc(bom::Column::Version).all(conn).await?;
    let mut out = Vec::new();
    for h in headers {
        let lines = bom_line::Entity::find()
            .filter(bom_line::Column::BomId.eq(h.id))
            .order_by_asc(bom_line::Column::LineNo)
            .all(conn)
            .await?;
        out.push(BomVersion {
            parent: h.parent,
            version: h.version,
            valid_from: h.valid_from,
            valid_to: h.valid_to,
            lines: lines
                .iter()
                .map(|l| BomLineBody {
                    component: l.component.clone(),
                    quantity: Qty::from_micros(l.quantity),
                    scrap: Qty::from_micros(l.scrap),
                })
                .collect(),
        })
    }
    Ok(out)
}

/// The BOM lines in effect on `date`: per parent, the highest version whose
/// effectivity covers the date. Returned as (parent, line) in parent order.
pub async fn effective_bom(
    conn: &impl ConnectionTrait,
    date: NaiveDate,
) -> Result<Vec<(String, bom_line::Model)>, StoreError> {
    let headers =
        bom::Entity::find().order_by_asc(bom::Column::Parent).order_by_desc(bom::Column::Version).all(conn).await?;
    let mut chosen = std::collections::HashMap::new();
    for h in &headers {
        let effective = h.valid_from.is_none_or(|f| f <= date) && h.valid_to.is_none_or(|t| date < t);
        if effective {
            chosen.entry(h.parent.clone()).or_insert(h.id);
        }
    }
    let by_id: std::collections::HashMap<i64, &str> = chosen.iter().map(|(p, id)| (*id, p.as_str())).collect();
    let mut lines = Vec::new();
    let all = bom_line::Entity::find()
        .order_by_asc(bom_line::Column::BomId)
        .order_by_asc(bom_line::Column::LineNo)
        .all(conn)
        .await?;
    for l in all {
        if let Some(parent) = by_id.get(&l.bom_id) {
            lines.push((parent.to_string(), l));
        }
    }
    lines.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.line_no.cmp(&b.1.line_no)));
    Ok(lines)
}

/// A cycle through the BOM lines of every version plus `new_edges`
/// (parent, component), listed from a parent back to itself, if there is
/// one. One depth-first pass over the whole graph.
async fn find_cycle(
    conn: &impl ConnectionTrait,
    new_edges: &[(&str, &str)],
) -> Result<Option<Vec<String>>, StoreError> {
    use std::collections::HashMap;
    if new_edges.is_empty() {
        return Ok(None);
    }
    let headers: Vec<(i64, String)> = bom::Entity::find()
        .select_only()
        .columns([bom::Column::Id, bom::Column::Parent])
        .into_tuple()
        .all(conn)
        .await?;
    let parent_of: HashMap<i64, String> = headers.into_iter().collect();
    let lines: Vec<(i64, String)> = bom_line::Entity::find()
        .select_only()
        .columns([bom_line::Column::BomId, bom_line::Column::Component])
        .into_tuple()
        .all(conn)
        .await?;
    let mut children: HashMap<&str, Vec<&str>> = HashMap::new();
    for (bom_id, component) in &lines {
        if let Some(p) = parent_of.get(bom_id) {
            children.entry(p.as_str()).or_default().push(component.as_str());
        }
    }
    for (p, c) in new_edges {
        children.entry(p).or_default().push(c);
    }
    // 0 = unseen, 1 = on the current path, 2 = done.
    let mut state: HashMap<&str, u8> = HashMap::new();
    let starts: Vec<&str> = new_edges.iter().map(|(p, _)| *p).collect();
    for start in starts {
        if state.get(start).copied().unwrap_or(0) != 0 {
            continue;
        }
        let mut path: Vec<(&str, usize)> = vec![(start, 0)];
        state.insert(start, 1);
        while let Some((node, next)) = path.last_mut() {
            let node = *node;
            let kids = children.get(node).map(Vec::as_slice).unwrap_or(&[]);
            if *next < kids.len() {
                let kid = kids[*next];
                *next += 1;
                match state.get(kid).copied().unwrap_or(0) {
                    0 => {
                        state.insert(kid, 1);
                        path.push((kid, 0));
                    }
                    1 => {
                        let from = path.iter().position(|(n, _)| *n == kid).unwrap_or(0);
                        let mut cycle: Vec<String> = path[from..].iter().map(|(n, _)| (*n).to_owned()).collect();
                        cycle.push(kid.to_owned());
                        return Ok(Some(cycle));
                    }
                    _ => {}
                }
            } else {
                state.insert(node, 2);
                path.pop();
            }
        }
    }
    Ok(None)
}

// ---- work centres, routings, locations --------------------------------------

/// A work centre and its capacity calendar.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkCentre {
    /// Work centre id.
    pub id: String,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Available hours on each working day.
    #[schema(value_type = String)]
    pub hours_per_day: Qty,
    /// Working weekdays, e.g. `["mon","tue","wed","thu","fri"]` (the default).
    #[serde(default = "weekdays")]
    pub working_days: Vec<String>,
}

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn weekdays() -> Vec<String> {
    DAY_NAMES[..5].iter().map(|d| d.to_string()).collect()
}

/// Creates or replaces a work centre.
pub async fn put_work_centre(txn: &impl ConnectionTrait, wc: &WorkCentre) -> Result<(), StoreError> {
    let mut problems = Problems::default();
    check_id("id", &wc.id, &mut problems);
    let hours = non_negative("hours_per_day", wc.hours_per_day, &mut problems);
    if hours > 24_000_000 {
        problems.push("hours_per_day", "must be at most 24");
    }
    for (i, d) in wc.working_days.iter().enumerate() {
        if !DAY_NAMES.contains(&d.as_str()) {
            problems.push(format!("working_days[{i}]"), format!("'{d}' is not one of {}", DAY_NAMES.join(", ")));
        }
    }
    problems.finish()?;
    let now = Utc::now();
    work_centre::Entity::insert(work_centre::ActiveModel {
        id: Set(wc.id.clone()),
        name: Set(wc.name.clone()),
        hours_per_day: Set(hours),
        working_days: Set(wc.working_days.join(",")),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(work_centre::Column::Id)
            .update_columns([
                work_centre::Column::Name,
                work_centre::Column::HoursPerDay,
                work_centre::Column::WorkingDays,
                work_centre::Column::UpdatedAt,
            ])
            .to_owned(),
    )
    .exec_without_returning(txn)
    .await?;
    Ok(())
}

/// Deletes a work centre no routing uses.
pub async fn delete_work_centre(txn: &impl ConnectionTrait, id: &str) -> Result<(), StoreError> {
    if work_centre::Entity::find_by_id(id.to_owned()).one(txn).await?.is_none() {
        return Err(StoreError::not_found("work centre", id));
    }
    let used =
        routing_operation::Entity::find().filter(routing_operation::Column::WorkCentre.eq(id)).count(txn).await?;
    if used > 0 {
        return Err(StoreError::conflict(
            "work_centre_in_use",
            format!("work centre '{id}' is used by {used} routing operations and cannot be deleted"),
        ));
    }
    work_centre::Entity::delete_by_id(id.to_owned()).exec(txn).await?;
    Ok(())
}

/// Every work centre, in id order.
pub async fn list_work_centres(conn: &impl ConnectionTrait) -> Result<Vec<WorkCentre>, StoreError> {
    Ok(work_centre::Entity::find()
        .order_by_asc(work_centre::Column::Id)
        .all(conn)
        .await?
        .into_iter()
        .map(|w| WorkCentre {
            id: w.id,
            name: w.name,
            hours_per_day: Qty::from_micros(w.hours_per_day),
            working_days: w.working_days.split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect(),
        })
        .collect())
}

/// One operation of a routing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Operation {
    /// Position in the routing (10, 20, ...); unique per item.
    pub sequence: u32,
    /// Where it runs.
    pub work_centre: String,
    /// What is done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Setup hours per order.
    #[serde(default)]
    #[schema(value_type = String)]
    pub setup_hours: Qty,
    /// Run hours per unit.
    #[schema(value_type = String)]
    pub run_hours_per_unit: Qty,
}

/// Replaces an item's routing with these operations.
pub async fn put_routing(txn: &impl ConnectionTrait, item_id: &str, ops: &[Operation]) -> Result<(), StoreError> {
    get_item(txn, item_id).await?;
    let mut problems = Problems::default();
    let mut rows = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, op) in ops.iter().enumerate() {
        if !seen.insert(op.sequence) {
            problems.push(format!("operations[{i}].sequence"), format!("{} appears twice", op.sequence));
        }
        if work_centre::Entity::find_by_id(op.work_centre.clone()).one(txn).await?.is_none() {
            problems.push(format!("operations[{i}].work_centre"), format!("'{}' is not a work centre", op.work_centre));
        }
        let setup = non_negative(&format!("operations[{i}].setup_hours"), op.setup_hours, &mut problems);
        let run = non_negative(&format!("operations[{i}].run_hours_per_unit"), op.run_hours_per_unit, &mut problems);
        rows.push(routing_operation::ActiveModel {
            item: Set(item_id.to_owned()),
            sequence: Set(op.sequence.min(i32::MAX as u32) as i32),
            work_centre: Set(op.work_centre.clone()),
            description: Set(op.description.clone()),
            setup_hours: Set(setup),
            run_hours_per_unit: Set(run),
            ..Default::default()
        });
    }
    problems.finish()?;
    routing_operation::Entity::delete_many().filter(routing_operation::Column::Item.eq(item_id)).exec(txn).await?;
    if !rows.is_empty() {
        routing_operation::Entity::insert_many(rows).exec(txn).await?;
    }
    Ok(())
}

/// An item's routing, in sequence order.
pub async fn routing(conn: &impl ConnectionTrait, item_id: &str) -> Result<Vec<Operation>, StoreError> {
    get_item(conn, item_id).await?;
    Ok(routing_operation::Entity::find()
        .filter(routing_operation::Column::Item.eq(item_id))
        .order_by_asc(routing_operation::Column::Sequence)
        .all(conn)
        .await?
        .into_iter()
        .map(|o| Operation {
            sequence: o.sequence.max(0) as u32,
            work_centre: o.work_centre,
            description: o.description,
            setup_hours: Qty::from_micros(o.setup_hours),
            run_hours_per_unit: Qty::from_micros(o.run_hours_per_unit),
        })
        .collect())
}

/// A stocking location.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Location {
    /// Location id.
    pub id: String,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `plant_store`, `wip_area` or `distribution_centre`.
    pub kind: LocationKind,
}

/// Creates or replaces a location.
pub async fn put_location(txn: &impl ConnectionTrait, loc: &Location) -> Result<(), StoreError> {
    let mut problems = Problems::default();
    check_id("id", &loc.id, &mut problems);
    problems.finish()?;
    let now = Utc::now();
    location::Entity::insert(location::ActiveModel {
        id: Set(loc.id.clone()),
        name: Set(loc.name.clone()),
        kind: Set(loc.kind.as_str().to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(location::Column::Id)
            .update_columns([location::Column::Name, location::Column::Kind, location::Column::UpdatedAt])
            .to_owned(),
    )
    .exec_without_returning(txn)
    .await?;
    Ok(())
}

/// Deletes a location that has never held stock (the ledger refers to it
/// otherwise, and ledger rows are never removed).
pub async fn delete_location(txn: &impl ConnectionTrait, id: &str) -> Result<(), StoreError> {
    if location::Entity::find_by_id(id.to_owned()).one(txn).await?.is_none() {
        return Err(StoreError::not_found("location", id));
    }
    let used = movement::Entity::find()
        .filter(
            sea_orm::Condition::any()
                .add(movement::Column::FromLocation.eq(id))
                .add(movement::Column::ToLocation.eq(id)),
        )
        .count(txn)
        .await?
        + supply_order::Entity::find().filter(supply_order::Column::Location.eq(id)).count(txn).await?;
    if used > 0 {
        return Err(StoreError::conflict(
            "location_in_use",
            format!("location '{id}' is referred to by movements or supply orders and cannot be deleted"),
        ));
    }
    crate::entity::position::Entity::delete_many()
        .filter(crate::entity::position::Column::Location.eq(id))
        .exec(txn)
        .await?;
    location::Entity::delete_by_id(id.to_owned()).exec(txn).await?;
    Ok(())
}

/// Every location, in id order.
pub async fn list_locations(conn: &impl ConnectionTrait) -> Result<Vec<Location>, StoreError> {
    Ok(location::Entity::find()
        .order_by_asc(location::Column::Id)
        .all(conn)
        .await?
        .into_iter()
        .map(|l| Location {
            id: l.id,
            name: l.name,
            kind: LocationKind::parse(&l.kind).unwrap_or(LocationKind::PlantStore),
        })
        .collect())
}
