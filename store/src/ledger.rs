//! The inventory ledger: append-only movements and the on-hand positions
//! they maintain per item, location, lot and stock status.
//!
//! A movement has at most two legs, a `from` position it takes stock out of
//! and a `to` position it puts stock into, and both legs change in the same
//! transaction as the ledger row. Postings go in batches
//! ([`post_movements`]): each position changes by one atomic
//! `quantity = quantity + delta` upsert, so concurrent postings on one
//! position serialise on its row and none is lost; a movement that would
//! leave stock negative is refused alone.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, QueryFilter, QueryOrder, QuerySelect,
    Statement, Value,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::{SqlType, TableRows, bigint_array, insert_rows, padded_chunks, pow2_chunks, text_array};
use crate::entity::{item, location, movement, position};
use crate::error::{Problems, StoreError};
use crate::master::{self, Page, check_id};
use crate::names::{MovementKind, StockStatus};
use crate::qty::Qty;

/// A movement to post.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MovementBody {
    /// `receipt`, `issue`, `transfer`, `adjustment`, `production_receipt` or `scrap`.
    pub kind: MovementKind,
    /// The item moved.
    pub item: String,
    /// Lot or batch number; empty for stock without lots.
    #[serde(default)]
    pub lot: String,
    /// Quantity moved (> 0). For `adjustment` a signed correction (≠ 0).
    #[schema(value_type = String)]
    pub quantity: Qty,
    /// Receipts: where stock arrives. Issues, scrap, transfers: where it
    /// leaves. Adjustments: the position corrected.
    pub location: String,
    /// Status at `location`. Default: `available`, except receipts of items
    /// that require inspection, which arrive in `quality_hold`.
    #[serde(default)]
    pub status: Option<StockStatus>,
    /// Transfers: destination location (default: `location`).
    #[serde(default)]
    pub to_location: Option<String>,
    /// Transfers: destination status (default: `status`).
    #[serde(default)]
    pub to_status: Option<StockStatus>,
    /// Why (scrap or adjustment reason code, free text).
    #[serde(default)]
    pub reason: Option<String>,
    /// A document this movement belongs to (purchase order, work order).
    #[serde(default)]
    pub reference: Option<String>,
}

/// A posted movement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Movement {
    /// Ledger sequence number.
    pub id: i64,
    /// Kind of movement.
    pub kind: MovementKind,
    /// The item.
    pub item: String,
    /// The lot ("" for none).
    pub lot: String,
    /// Quantity moved (> 0).
    #[schema(value_type = String)]
    pub quantity: Qty,
    /// Where stock left.
    pub from_location: Option<String>,
    /// Its status there.
    pub from_status: Option<StockStatus>,
    /// Where stock arrived.
    pub to_location: Option<String>,
    /// Its status there.
    pub to_status: Option<StockStatus>,
    /// Reason.
    pub reason: Option<String>,
    /// Document reference.
    pub reference: Option<String>,
    /// Who posted it (token name).
    pub actor: String,
    /// When it was posted.
    pub created_at: DateTime<Utc>,
}

impl Movement {
    fn from_model(m: movement::Model) -> Movement {
        let status = |s: Option<String>| s.and_then(|s| StockStatus::parse(&s));
        Movement {
            id: m.id,
            kind: MovementKind::parse(&m.kind).unwrap_or(MovementKind::Adjustment),
            item: m.item,
            lot: m.lot,
            quantity: Qty::from_micros(m.quantity),
            from_location: m.from_location,
            from_status: status(m.from_status),
            to_location: m.to_location,
            to_status: status(m.to_status),
            reason: m.reason,
            reference: m.reference,
            actor: m.actor,
            created_at: m.created_at,
        }
    }
}

/// One side of a movement.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Leg {
    location: String,
    status: StockStatus,
}

/// A validated movement, ready to apply.
#[derive(Clone)]
struct Planned {
    kind: MovementKind,
    item: String,
    lot: String,
    quantity: i64,
    from: Option<Leg>,
    to: Option<Leg>,
    allow_negative: bool,
}

/// The item fields a posting needs.
struct ItemFlags {
    allow_negative: bool,
    requires_inspection: bool,
}

const MAX_TEXT: usize = 500;

/// Checks one movement against the items and locations that exist.
fn plan_one(
    body: &MovementBody,
    items: &HashMap<String, ItemFlags>,
    locations: &HashSet<String>,
) -> Result<Planned, StoreError> {
    let mut problems = Problems::default();
    let item = items.get(&body.item);
    if item.is_none() {
        problems.push("item", format!("'{}' is not an item", body.item));
    }
    if body.lot.chars().count() > master::MAX_ID_LEN {
        problems.push("lot", format!("must be at most {} characters", master::MAX_ID_LEN));
    }
    for (field, text) in [("reason", &body.reason), ("reference", &body.reference)] {
        if text.as_ref().is_some_and(|t| t.chars().count() > MAX_TEXT) {
            problems.push(field, format!("must be at most {MAX_TEXT} characters"));
        }
    }
    let micros = match body.quantity.micros("quantity") {
        Ok(m) => Some(m),
        Err(StoreError::Invalid(list)) => {
            problems.0.extend(list);
            None
        }
        Err(e) => return Err(e),
    };
    let signed = body.kind == MovementKind::Adjustment;
    match micros {
        Some(0) if signed => problems.push("quantity", "must not be 0"),
        Some(m) if !signed && m <= 0 => problems.push("quantity", "must be greater than 0"),
        _ => {}
    }
    let micros = micros.unwrap_or(0);
    check_id("location", &body.location, &mut problems);
    let is_transfer = body.kind == MovementKind::Transfer;
    if !is_transfer {
        if body.to_location.is_some() {
            problems.push("to_location", format!("applies only to transfers, not to {}", body.kind));
        }
        if body.to_status.is_some() {
            problems.push("to_status", format!("applies only to transfers, not to {}", body.kind));
        }
    }
    let inspect = item.is_some_and(|i| i.requires_inspection);
    let default_status = match body.kind {
        MovementKind::Receipt | MovementKind::ProductionReceipt if inspect => StockStatus::QualityHold,
        _ => StockStatus::Available,
    };
    let here = Leg { location: body.location.clone(), status: body.status.unwrap_or(default_status) };
    let (from, to) = match body.kind {
        MovementKind::Receipt | MovementKind::ProductionReceipt => (None, Some(here)),
        MovementKind::Issue | MovementKind::Scrap => (Some(here), None),
        MovementKind::Adjustment if micros < 0 => (Some(here), None),
        MovementKind::Adjustment => (None, Some(here)),
        MovementKind::Transfer => {
            let there = Leg {
                location: body.to_location.clone().unwrap_or_else(|| here.location.clone()),
                status: body.to_status.unwrap_or(here.status),
            };
            if there == here {
                problems.push("to_location", "a transfer must change the location, the status or both");
            }
            (Some(here), Some(there))
        }
    };
    if !locations.contains(&body.location) {
        problems.push("location", format!("'{}' is not a location", body.location));
    }
    if let Some(to_location) = body.to_location.as_ref().filter(|_| is_transfer)
        && !locations.contains(to_location)
    {
        problems.push("to_location", format!("'{to_location}' is not a location"));
    }
    problems.finish()?;
    Ok(Planned {
        kind: body.kind,
        item: body.item.clone(),
        lot: body.lot.clone(),
        quantity: micros.abs(),
        from,
        to,
        allow_negative: item.is_some_and(|i| i.allow_negative),
    })
}

/// Posts one movement: validates it, moves stock between positions and
/// appends the ledger row, all in `txn`.
pub async fn post_movement(
    txn: &impl ConnectionTrait,
    actor: &str,
    body: &MovementBody,
) -> Result<Movement, StoreError> {
    post_movements(txn, &[(actor, body)]).await?.pop().expect("one result per movement")
}

type PositionKey = (String, String, String, String);

/// Posts many movements in one transaction with a fixed number of
/// statements, whatever their count: the group commit behind `POST
/// /movements`. They apply in order, each against the stock the ones before
/// it left; a movement that is invalid or would drive stock negative gets
/// its own error and changes nothing, the others still post. The batch's net
/// change is added to each position with one atomic upsert, which locks the
/// rows in key order (concurrent batches serialise on shared positions,
/// never lose an update and cannot deadlock); the postings are then replayed
/// in order from the stock before the batch, and the change of any refused
/// one is taken back out.
pub async fn post_movements(
    txn: &impl ConnectionTrait,
    postings: &[(&str, &MovementBody)],
) -> Result<Vec<Result<Movement, StoreError>>, StoreError> {
    let mut planned = plan_postings(txn, postings).await?;
    let changes = net_changes(planned.iter().flatten());
    let after = add_to_positions(txn, &changes, &[]).await?;
    let undo = refuse_short(&mut planned, &changes, &after);
    if !undo.is_empty() {
        add_to_positions(txn, &undo, &[]).await?;
    }
    insert_movements(txn, postings, planned).await
}

/// Stock changes of movements already in the ledger, not yet on their
/// positions: [`PendingMovements::recorded`] gives them,
/// [`StockChanges::apply`] applies them, which must happen before the
/// transaction commits.
#[must_use = "the positions must be changed before the transaction commits"]
pub struct StockChanges {
    /// The recorded postings, in order.
    postings: Vec<Result<Planned, StoreError>>,
    /// Their net change per position, in key order.
    net: Vec<(PositionKey, i64)>,
}

/// Postings checked against items and locations, their ledger rows ready
/// for a caller to insert along with its own rows
/// ([`crate::db::write_rows_returning`]). The stock changes wait for the
/// end of the transaction, all or nothing: a caller that writes more
/// (operation reports) applies them as its last statement, so the rows of
/// shared positions stay locked only for the commit. Invalid postings get
/// their own errors and are not recorded; a shortage fails
/// [`StockChanges::apply`], and with it the transaction.
pub struct PendingMovements {
    planned: Vec<Result<Planned, StoreError>>,
    rows: Vec<Vec<Value>>,
    now: DateTime<Utc>,
}

/// Checks the postings (one look-up) and builds their ledger rows.
pub async fn check_movements(
    txn: &impl ConnectionTrait,
    postings: &[(&str, &MovementBody)],
) -> Result<PendingMovements, StoreError> {
    let planned = plan_postings(txn, postings).await?;
    // Microseconds: what both databases keep, so the answer equals what a later read returns.
    let now = Utc::now().trunc_subsecs(6);
    let rows = movement_rows(postings, &planned, now);
    Ok(PendingMovements { planned, rows, now })
}

impl PendingMovements {
    /// The ledger rows to insert, ids to be returned in row order.
    pub fn table(&self) -> TableRows<'_> {
        TableRows { table: "movements", columns: &MOVEMENT_COLUMNS, rows: &self.rows }
    }

    /// Each posting's movement (with `ids`, the inserted rows' new ids) or
    /// error, and the stock changes still to apply.
    pub fn recorded(
        self,
        postings: &[(&str, &MovementBody)],
        ids: Vec<i64>,
    ) -> (Vec<Result<Movement, StoreError>>, StockChanges) {
        let net = net_changes(self.planned.iter().flatten());
        let kept: Vec<Result<Planned, StoreError>> = self.planned.iter().flatten().cloned().map(Ok).collect();
        let movements = saved_movements(postings, self.planned, ids, self.now);
        (movements, StockChanges { postings: kept, net })
    }
}

impl StockChanges {
    /// Changes the positions; refused with `insufficient_stock` (naming the
    /// first posting short of stock) when one would drive stock negative.
    pub async fn apply(self, txn: &impl ConnectionTrait) -> Result<(), StoreError> {
        self.apply_after(txn, &[]).await
    }

    /// [`StockChanges::apply`], inserting `inserts` (a batch's audit and
    /// idempotency records) in the same statement on PostgreSQL: one round
    /// trip less, and the shared positions stay locked only for the commit.
    pub async fn apply_after(
        mut self,
        txn: &impl ConnectionTrait,
        inserts: &[TableRows<'_>],
    ) -> Result<(), StoreError> {
        let after = add_to_positions(txn, &self.net, inserts).await?;
        refuse_short(&mut self.postings, &self.net, &after);
        match self.postings.into_iter().find_map(Result::err) {
            Some(shortage) => Err(shortage),
            None => Ok(()),
        }
    }
}

/// Checks postings against items and locations (one look-up each).
async fn plan_postings(
    txn: &impl ConnectionTrait,
    postings: &[(&str, &MovementBody)],
) -> Result<Vec<Result<Planned, StoreError>>, StoreError> {
    use sea_orm::sea_query::UnionType;
    let item_ids: BTreeSet<&str> = postings.iter().map(|(_, b)| b.item.as_str()).collect();
    let location_ids: BTreeSet<&str> = postings
        .iter()
        .flat_map(|(_, b)| std::iter::once(b.location.as_str()).chain(b.to_location.as_deref()))
        .collect();
    let item_chunks: Vec<Vec<&str>> = padded_chunks(&item_ids.into_iter().collect::<Vec<_>>()).collect();
    let location_chunks: Vec<Vec<&str>> = padded_chunks(&location_ids.into_iter().collect::<Vec<_>>()).collect();
    // Items and locations in one round trip: locations come back as rows
    // with `is_item` false.
    let mut items = HashMap::new();
    let mut locations: HashSet<String> = HashSet::new();
    for k in 0..item_chunks.len().max(location_chunks.len()) {
        let item_query = item_chunks.get(k).map(|chunk| {
            Query::select()
                .expr_as(Expr::val(true), "is_item")
                .columns([item::Column::Id, item::Column::AllowNegative, item::Column::RequiresInspection])
                .from(item::Entity)
                .and_where(Expr::col(item::Column::Id).is_in(chunk.iter().copied()))
                .to_owned()
        });
        let location_query = location_chunks.get(k).map(|chunk| {
            Query::select()
                .expr_as(Expr::val(false), "is_item")
                .column(location::Column::Id)
                .expr_as(Expr::val(false), "allow_negative")
                .expr_as(Expr::val(false), "requires_inspection")
                .from(location::Entity)
                .and_where(Expr::col(location::Column::Id).is_in(chunk.iter().copied()))
                .to_owned()
        });
        let query = match (item_query, location_query) {
            (Some(mut i), Some(l)) => i.union(UnionType::All, l).to_owned(),
            (Some(q), None) | (None, Some(q)) => q,
            (None, None) => continue,
        };
        for row in txn.query_all(&query).await? {
            let id: String = row.try_get("", "id")?;
            if row.try_get("", "is_item")? {
                let allow_negative = row.try_get("", "allow_negative")?;
                let requires_inspection = row.try_get("", "requires_inspection")?;
                items.insert(id, ItemFlags { allow_negative, requires_inspection });
            } else {
                locations.insert(id);
            }
        }
    }
    Ok(postings.iter().map(|(_, b)| plan_one(b, &items, &locations)).collect())
}

fn position_key(m: &Planned, leg: &Leg) -> PositionKey {
    (m.item.clone(), leg.location.clone(), m.lot.clone(), leg.status.as_str().to_owned())
}

/// Net change per position, in key order (the order rows are locked in).
fn net_changes<'a>(planned: impl Iterator<Item = &'a Planned>) -> Vec<(PositionKey, i64)> {
    let mut net: BTreeMap<PositionKey, i64> = BTreeMap::new();
    for m in planned {
        if let Some(leg) = &m.from {
            *net.entry(position_key(m, leg)).or_default() -= m.quantity;
        }
        if let Some(leg) = &m.to {
            *net.entry(position_key(m, leg)).or_default() += m.quantity;
        }
    }
    net.into_iter().collect()
}

/// Replays the postings in order from the stock before `changes` (`after`
/// minus the change) and refuses those that would drive stock negative;
/// returns the changes of the refused ones to take back out.
fn refuse_short(
    planned: &mut [Result<Planned, StoreError>],
    changes: &[(PositionKey, i64)],
    after: &HashMap<PositionKey, i64>,
) -> Vec<(PositionKey, i64)> {
    let mut stock: HashMap<PositionKey, i64> =
        changes.iter().map(|(k, delta)| (k.clone(), after.get(k).copied().unwrap_or(0) - delta)).collect();
    let mut undo: BTreeMap<PositionKey, i64> = BTreeMap::new();
    for p in planned.iter_mut() {
        let Ok(m) = p else { continue };
        if let Some(leg) = &m.from {
            let key = position_key(m, leg);
            let have = stock[&key];
            let may_go_negative = leg.status == StockStatus::Available && m.allow_negative;
            if have - m.quantity < 0 && !may_go_negative {
                let lot = if m.lot.is_empty() { String::new() } else { format!(" lot '{}'", m.lot) };
                *undo.entry(key).or_default() += m.quantity;
                if let Some(to) = &m.to {
                    *undo.entry(position_key(m, to)).or_default() -= m.quantity;
                }
                *p = Err(StoreError::conflict(
                    "insufficient_stock",
                    format!(
                        "quantity: only {} of item '{}'{lot} is {} at '{}'; {} requested",
                        Qty::from_micros(have),
                        m.item,
                        leg.status,
                        leg.location,
                        Qty::from_micros(m.quantity)
                    ),
                ));
                continue;
            }
            *stock.get_mut(&key).expect("every leg has a position") -= m.quantity;
        }
        if let Some(leg) = &m.to {
            *stock.get_mut(&position_key(m, leg)).expect("every leg has a position") += m.quantity;
        }
    }
    undo.into_iter().filter(|(_, d)| *d != 0).collect()
}

/// Appends the accepted postings to the ledger (one statement) and returns
/// each posting's movement or error, in order.
async fn insert_movements(
    txn: &impl ConnectionTrait,
    postings: &[(&str, &MovementBody)],
    planned: Vec<Result<Planned, StoreError>>,
) -> Result<Vec<Result<Movement, StoreError>>, StoreError> {
    // Microseconds: what both databases keep, so the answer equals what a later read returns.
    let now = Utc::now().trunc_subsecs(6);
    let rows = movement_rows(postings, &planned, now);
    let ids = insert_rows(txn, "movements", &MOVEMENT_COLUMNS, &rows, true).await?;
    Ok(saved_movements(postings, planned, ids, now))
}

/// The ledger rows of the accepted postings, in order.
fn movement_rows(
    postings: &[(&str, &MovementBody)],
    planned: &[Result<Planned, StoreError>],
    now: DateTime<Utc>,
) -> Vec<Vec<Value>> {
    planned
        .iter()
        .zip(postings)
        .filter_map(|(p, (actor, body))| Some((p.as_ref().ok()?, *body, *actor)))
        .map(|(m, body, actor)| {
            vec![
                m.kind.as_str().into(),
                m.item.clone().into(),
                m.lot.clone().into(),
                m.quantity.into(),
                m.from.as_ref().map(|l| l.location.clone()).into(),
                m.from.as_ref().map(|l| l.status.as_str()).into(),
                m.to.as_ref().map(|l| l.location.clone()).into(),
                m.to.as_ref().map(|l| l.status.as_str()).into(),
                body.reason.clone().into(),
                body.reference.clone().into(),
                actor.into(),
                now.into(),
            ]
        })
        .collect()
}

/// Each posting's movement (the accepted ones numbered by `ids`, in order)
/// or error.
fn saved_movements(
    postings: &[(&str, &MovementBody)],
    planned: Vec<Result<Planned, StoreError>>,
    ids: Vec<i64>,
    now: DateTime<Utc>,
) -> Vec<Result<Movement, StoreError>> {
    let mut ids = ids.into_iter();
    planned
        .into_iter()
        .zip(postings)
        .map(|(p, (actor, body))| {
            p.map(|m| Movement {
                id: ids.next().expect("one row per posted movement"),
                kind: m.kind,
                item: m.item,
                lot: m.lot,
                quantity: Qty::from_micros(m.quantity),
                from_location: m.from.as_ref().map(|l| l.location.clone()),
                from_status: m.from.as_ref().map(|l| l.status),
                to_location: m.to.as_ref().map(|l| l.location.clone()),
                to_status: m.to.as_ref().map(|l| l.status),
                reason: body.reason.clone(),
                reference: body.reference.clone(),
                actor: (*actor).to_owned(),
                created_at: now,
            })
        })
        .collect()
}

/// The columns of a `movements` row as [`post_movements`] writes it.
const MOVEMENT_COLUMNS: [(&str, SqlType); 12] = [
    ("kind", SqlType::Text),
    ("item", SqlType::Text),
    ("lot", SqlType::Text),
    ("quantity", SqlType::BigInt),
    ("from_location", SqlType::Text),
    ("from_status", SqlType::Text),
    ("to_location", SqlType::Text),
    ("to_status", SqlType::Text),
    ("reason", SqlType::Text),
    ("reference", SqlType::Text),
    ("actor", SqlType::Text),
    ("created_at", SqlType::Timestamp),
];

/// Adds each delta to its position (creating it), atomically, and returns
/// the new quantities; `inserts` go in with it (one statement on
/// PostgreSQL, see [`crate::db::query_after_inserts`]).
async fn add_to_positions(
    txn: &impl ConnectionTrait,
    changes: &[(PositionKey, i64)],
    inserts: &[TableRows<'_>],
) -> Result<HashMap<PositionKey, i64>, StoreError> {
    let mut out = HashMap::with_capacity(changes.len());
    if changes.is_empty() {
        // Starts, pauses and resumes move no stock: no upsert (and no
        // statement at all when there is nothing to insert either).
        crate::db::insert_rows_together(txn, inserts, false).await?;
        return Ok(out);
    }
    let mut read = |rows: Vec<sea_orm::QueryResult>| -> Result<(), StoreError> {
        for row in rows {
            let key = (
                row.try_get("", "item")?,
                row.try_get("", "location")?,
                row.try_get("", "lot")?,
                row.try_get("", "status")?,
            );
            out.insert(key, row.try_get("", "quantity")?);
        }
        Ok(())
    };
    if txn.get_database_backend() == DbBackend::Postgres {
        // One statement whatever the count (a batch's round trips are its
        // latency); UNNEST keeps the rows, and so the row locks, in key order.
        let deltas = bigint_array(changes.iter().map(|(_, d)| *d));
        let rows = crate::db::query_after_inserts(
            txn,
            "INSERT INTO positions (item, location, lot, status, quantity) \
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[]) \
             ON CONFLICT (item, location, lot, status) DO UPDATE SET quantity = positions.quantity + excluded.quantity \
             RETURNING item, location, lot, status, quantity",
            vec![
                text_array(changes.iter().map(|(k, _)| &k.0)),
                text_array(changes.iter().map(|(k, _)| &k.1)),
                text_array(changes.iter().map(|(k, _)| &k.2)),
                text_array(changes.iter().map(|(k, _)| &k.3)),
                deltas,
            ],
            inserts,
        )
        .await?;
        read(rows)?;
        return Ok(out);
    }
    crate::db::insert_rows_together(txn, inserts, false).await?;
    for chunk in pow2_chunks(changes) {
        let mut upsert = Query::insert()
            .into_table(position::Entity)
            .columns([
                position::Column::Item,
                position::Column::Location,
                position::Column::Lot,
                position::Column::Status,
                position::Column::Quantity,
            ])
            .on_conflict(
                OnConflict::columns([
                    position::Column::Item,
                    position::Column::Location,
                    position::Column::Lot,
                    position::Column::Status,
                ])
                .value(position::Column::Quantity, Expr::cust("positions.quantity + excluded.quantity"))
                .to_owned(),
            )
            .returning(Query::returning().columns([
                position::Column::Item,
                position::Column::Location,
                position::Column::Lot,
                position::Column::Status,
                position::Column::Quantity,
            ]))
            .to_owned();
        for ((item, location, lot, status), delta) in chunk {
            upsert.values_panic([
                item.as_str().into(),
                location.as_str().into(),
                lot.as_str().into(),
                status.as_str().into(),
                (*delta).into(),
            ]);
        }
        read(txn.query_all(&upsert).await?)?;
    }
    Ok(out)
}

/// Filters for position queries.
#[derive(Debug, Clone, Default, Deserialize, ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PositionQuery {
    /// Only this item.
    pub item: Option<String>,
    /// Only this location.
    pub location: Option<String>,
    /// Only this status.
    pub status: Option<StockStatus>,
    /// Only this lot.
    pub lot: Option<String>,
    /// Include positions at zero (default false).
    pub include_zero: Option<bool>,
    /// Position id cursor from the previous page's `next`.
    pub after: Option<String>,
    /// Rows per page, 1 to 1000 (default 100).
    pub limit: Option<u64>,
}

/// Stock of one item at one location, lot and status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Position {
    /// The item.
    pub item: String,
    /// The location.
    pub location: String,
    /// The lot ("" for none).
    pub lot: String,
    /// The stock status.
    pub status: StockStatus,
    /// On hand.
    #[schema(value_type = String)]
    pub quantity: Qty,
}

fn position_view(p: &position::Model) -> Position {
    Position {
        item: p.item.clone(),
        location: p.location.clone(),
        lot: p.lot.clone(),
        status: StockStatus::parse(&p.status).unwrap_or(StockStatus::Blocked),
        quantity: Qty::from_micros(p.quantity),
    }
}

/// A page of positions matching the filters, in a stable order.
pub async fn positions(conn: &impl ConnectionTrait, q: &PositionQuery) -> Result<Page<Position>, StoreError> {
    let limit = master::PageQuery { after: None, limit: q.limit }.limit()?;
    let mut find = position::Entity::find().order_by_asc(position::Column::Id).limit(limit + 1);
    if let Some(after) = &q.after {
        let after: i64 = after.parse().map_err(|_| StoreError::invalid("after", "must be a cursor from `next`"))?;
        find = find.filter(position::Column::Id.gt(after));
    }
    if let Some(item) = &q.item {
        find = find.filter(position::Column::Item.eq(item.clone()));
    }
    if let Some(loc) = &q.location {
        find = find.filter(position::Column::Location.eq(loc.clone()));
    }
    if let Some(status) = q.status {
        find = find.filter(position::Column::Status.eq(status.as_str()));
    }
    if let Some(lot) = &q.lot {
        find = find.filter(position::Column::Lot.eq(lot.clone()));
    }
    if !q.include_zero.unwrap_or(false) {
        find = find.filter(position::Column::Quantity.ne(0));
    }
    let rows = find.all(conn).await?;
    let last_ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let page = Page::from_rows(rows.iter().map(position_view).collect(), limit, |_| String::new());
    let next = page.next.as_ref().map(|_| last_ids[limit as usize - 1].to_string());
    Ok(Page { rows: page.rows, next })
}

/// An item's stock: totals per status and the positions behind them.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ItemStock {
    /// The item.
    pub item: String,
    /// Sum of `available` positions (what MRP nets).
    #[schema(value_type = String)]
    pub available: Qty,
    /// Sum of `quality_hold` positions (MRP's `on_hold`).
    #[schema(value_type = String)]
    pub quality_hold: Qty,
    /// Sum of `blocked` positions.
    #[schema(value_type = String)]
    pub blocked: Qty,
    /// Non-zero positions.
    pub positions: Vec<Position>,
}

/// One item's stock.
pub async fn item_stock(conn: &impl ConnectionTrait, item: &str) -> Result<ItemStock, StoreError> {
    let rows = position::Entity::find()
        .filter(position::Column::Item.eq(item))
        .filter(position::Column::Quantity.ne(0))
        .order_by_asc(position::Column::Location)
        .order_by_asc(position::Column::Lot)
        .order_by_asc(position::Column::Status)
        .all(conn)
        .await?;
    if rows.is_empty() {
        // No stock: tell an item without stock from an unknown item.
        master::get_item(conn, item).await?;
    }
    let mut totals = [0i64; 3];
    for r in &rows {
        let i = match StockStatus::parse(&r.status) {
            Some(StockStatus::Available) => 0,
            Some(StockStatus::QualityHold) => 1,
            _ => 2,
        };
        totals[i] += r.quantity;
    }
    Ok(ItemStock {
        item: item.to_owned(),
        available: Qty::from_micros(totals[0]),
        quality_hold: Qty::from_micros(totals[1]),
        blocked: Qty::from_micros(totals[2]),
        positions: rows.iter().map(position_view).collect(),
    })
}

/// Stock totals per item and status, for MRP: item → (available, quality_hold),
/// outside WIP areas (material there is committed to work orders).
pub async fn stock_by_item(conn: &impl ConnectionTrait) -> Result<BTreeMap<String, (i64, i64)>, StoreError> {
    #[derive(FromQueryResult)]
    struct Row {
        item: String,
        status: String,
        total: i64,
    }
    let backend = conn.get_database_backend();
    let rows = Row::find_by_statement(Statement::from_string(
        backend,
        "SELECT p.item, p.status, CAST(SUM(p.quantity) AS BIGINT) AS total FROM positions p \
         JOIN locations l ON l.id = p.location WHERE l.kind <> 'wip_area' GROUP BY p.item, p.status",
    ))
    .all(conn)
    .await?;
    let mut out: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for r in rows {
        let e = out.entry(r.item).or_default();
        match StockStatus::parse(&r.status) {
            Some(StockStatus::Available) => e.0 += r.total,
            Some(StockStatus::QualityHold) => e.1 += r.total,
            _ => {}
        }
    }
    Ok(out)
}

/// Filters for the ledger.
#[derive(Debug, Clone, Default, Deserialize, ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MovementQuery {
    /// Only this item.
    pub item: Option<String>,
    /// Only movements from or to this location.
    pub location: Option<String>,
    /// Only this kind.
    pub kind: Option<MovementKind>,
    /// Ledger id cursor from the previous page's `next`.
    pub after: Option<String>,
    /// Rows per page, 1 to 1000 (default 100).
    pub limit: Option<u64>,
}

/// A page of the ledger in posting order.
pub async fn movements(conn: &impl ConnectionTrait, q: &MovementQuery) -> Result<Page<Movement>, StoreError> {
    let limit = master::PageQuery { after: None, limit: q.limit }.limit()?;
    let mut find = movement::Entity::find().order_by_asc(movement::Column::Id).limit(limit + 1);
    if let Some(after) = &q.after {
        let after: i64 = after.parse().map_err(|_| StoreError::invalid("after", "must be a cursor from `next`"))?;
        find = find.filter(movement::Column::Id.gt(after));
    }
    if let Some(item) = &q.item {
        find = find.filter(movement::Column::Item.eq(item.clone()));
    }
    if let Some(loc) = &q.location {
        find = find
            .filter(movement::Column::FromLocation.eq(loc.clone()).or(movement::Column::ToLocation.eq(loc.clone())));
    }
    if let Some(kind) = q.kind {
        find = find.filter(movement::Column::Kind.eq(kind.as_str()));
    }
    let rows: Vec<Movement> = find.all(conn).await?.into_iter().map(Movement::from_model).collect();
    Ok(Page::from_rows(rows, limit, |m: &Movement| m.id.to_string()))
}

/// A position whose quantity differs from the sum of its ledger legs.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Discrepancy {
    /// Item, location, lot, status.
    pub key: [String; 4],
    /// What the position says.
    #[schema(value_type = String)]
    pub position: Qty,
    /// What the ledger sums to.
    #[schema(value_type = String)]
    pub ledger: Qty,
}

/// Compares every position with the sum of the ledger; empty when they agree.
pub async fn reconcile(conn: &impl ConnectionTrait) -> Result<Vec<Discrepancy>, StoreError> {
    #[derive(FromQueryResult)]
    struct Row {
        item: String,
        location: String,
        lot: String,
        status: String,
        total: i64,
    }
    let backend = conn.get_database_backend();
    let ledger_sql = "SELECT item, location, lot, status, CAST(SUM(q) AS BIGINT) AS total FROM (
        SELECT item, to_location AS location, lot, to_status AS status, quantity AS q FROM movements WHERE to_location IS NOT NULL
        UNION ALL
        SELECT item, from_location, lot, from_status, -quantity FROM movements WHERE from_location IS NOT NULL
      ) legs GROUP BY item, location, lot, status";
    let mut ledger: BTreeMap<[String; 4], i64> = BTreeMap::new();
    for r in Row::find_by_statement(Statement::from_string(backend, ledger_sql)).all(conn).await? {
        ledger.insert([r.item, r.location, r.lot, r.status], r.total);
    }
    let mut out = Vec::new();
    for p in position::Entity::find().all(conn).await? {
        let key = [p.item, p.location, p.lot, p.status];
        let sum = ledger.remove(&key).unwrap_or(0);
        if sum != p.quantity {
            out.push(Discrepancy { key, position: Qty::from_micros(p.quantity), ledger: Qty::from_micros(sum) });
        }
    }
    for (key, sum) in ledger {
        if sum != 0 {
            out.push(Discrepancy { key, position: Qty::ZERO, ledger: Qty::from_micros(sum) });
        }
    }
    Ok(out)
}
