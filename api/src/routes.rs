//! The REST routes, grouped by what they serve. Each write names the roles
//! that may call it and goes through [`crate::state::write`].

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use store::access::{self, AuditEntry, TokenInfo};
use store::ledger::{self, ItemStock, Movement, MovementBody, MovementQuery, Position, PositionQuery};
use store::master::{self, BomBody, BomVersion, Item, Location, Operation, PageQuery, WorkCentre};
use store::names::{Role, Source, SupplyStatus};
use store::planning::{
    self, CalendarBody, PlannedAction, PlannedOrder, PlannedOrderQuery, RunComparison, RunRequest, RunSummary,
};
use store::scenario_io::{self, ImportSummary};
use store::supply::{self, Demand, ReceiptBody, SupplyOrder};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ErrorBody, Params, PathParam, parse_body};
use crate::state::{AppState, Auth, json, write};

const PLANNING: &[Role] = &[Role::Planner, Role::Erp];
const STOCK: &[Role] = &[Role::Operator, Role::Inspector, Role::Erp];
const PLANNER: &[Role] = &[Role::Planner];
const ADMIN: &[Role] = &[];

/// The audit entry of a write.
pub(crate) fn audit(entity: &'static str, id: impl Into<Option<String>>, detail: Option<String>) -> AuditEntry {
    AuditEntry { entity, entity_id: id.into(), detail }
}

/// The body of a `PUT /.../{id}` from a caller with one of `roles`: parsed,
/// and its `id` must be the one in the path.
fn put_body<T: serde::de::DeserializeOwned>(
    auth: &Auth,
    roles: &[Role],
    bytes: &[u8],
    path_id: &str,
    id_of: impl Fn(&T) -> &str,
) -> Result<T, ApiError> {
    auth.require(roles)?;
    let body: T = parse_body(bytes)?;
    let id = id_of(&body);
    if id != path_id {
        return Err(ApiError::field(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            "id",
            format!("'{id}' does not match the id in the path '{path_id}'"),
        ));
    }
    Ok(body)
}

/// A DELETE: the service call in the write path, `{"deleted": id}` back.
async fn delete<F>(
    s: &AppState,
    auth: &Auth,
    roles: &[Role],
    headers: &HeaderMap,
    (action, entity): (&str, &'static str),
    id: String,
    service: F,
) -> Result<Response, ApiError>
where
    F: for<'c> FnOnce(&'c sea_orm::DatabaseTransaction, String) -> store::db::TxFuture<'c, ()> + Send + 'static,
{
    write(s, auth, roles, headers, action, id.clone().as_bytes(), move |txn| {
        Box::pin(async move {
            service(txn, id.clone()).await?;
            Ok((StatusCode::OK, serde_json::json!({ "deleted": id }), audit(entity, id, Some("deleted".into()))))
        })
    })
    .await
}

/// Liveness and database reachability.
#[utoipa::path(get, path = "/health", tag = "system", security(()),
    responses((status = 200, description = "The server and its database answer")))]
pub async fn health(State(s): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    use sea_orm::ConnectionTrait;
    s.store.conn().execute_unprepared("SELECT 1").await.map_err(store::StoreError::from)?;
    Ok(Json(serde_json::json!({ "status": "ok", "database": format!("{:?}", s.store.backend()).to_lowercase() })))
}

// ---- items ------------------------------------------------------------------

/// Filters for the item list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ItemListQuery {
    /// Only items of this source.
    pub source: Option<Source>,
    /// Cursor from the previous page's `next`.
    pub after: Option<String>,
    /// Rows per page, 1 to 1000 (default 100).
    pub limit: Option<u64>,
}

/// A page of items.
#[derive(Serialize, ToSchema)]
pub struct ItemPage {
    rows: Vec<Item>,
    next: Option<String>,
}

/// Lists items in id order, a page at a time.
#[utoipa::path(get, path = "/items", tag = "master data", params(ItemListQuery),
    responses((status = 200, body = ItemPage), (status = 422, body = ErrorBody)))]
pub async fn list_items(
    State(s): State<AppState>,
    _auth: Auth,
    Params(q): Params<ItemListQuery>,
) -> Result<Json<master::Page<Item>>, ApiError> {
    let page = PageQuery { after: q.after, limit: q.limit };
    Ok(Json(master::list_items(s.store.conn(), &page, q.source).await?))
}

/// One item.
#[utoipa::path(get, path = "/items/{id}", tag = "master data", params(("id" = String, Path, description = "Item id")),
    responses((status = 200, body = Item), (status = 404, body = ErrorBody)))]
pub async fn get_item(
    State(s): State<AppState>,
    _auth: Auth,
    PathParam(id): PathParam<String>,
) -> Result<Json<Item>, ApiError> {
    Ok(Json(Item::from_model(&master::get_item(s.store.conn(), &id).await?)))
}

/// Creates or replaces an item (201 when new).
#[utoipa::path(put, path = "/items/{id}", tag = "master data", params(("id" = String, Path, description = "Item id")),
    request_body = Item,
    responses((status = 200, body = Item), (status = 201, body = Item), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn put_item(
    State(s): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    PathParam(id): PathParam<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let item: Item = put_body(&auth, PLANNING, &bytes, &id, |x: &Item| &x.id)?;
    write(&s, &auth, PLANNING, &headers, "PUT /items/{id}", &bytes, move |txn| {
        Box::pin(async move {
            let created = master::put_items(txn, std::slice::from_ref(&item), "").await?;
            let status = if created == 1 { StatusCode::CREATED } else { StatusCode::OK };
            Ok((status, json(&item), audit("item", item.id.clone(), None)))
        })
    })
    .await
}

/// Deletes an item nothing refers to.
#[utoipa::path(delete, path = "/items/{id}", tag = "master data", params(("id" = String, Path, description = "Item id")),
    responses((status = 200), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete_item(
    State(s): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    PathParam(id): PathParam<String>,
) -> Result<Response, ApiError> {
    delete(&s, &auth, PLANNER, &headers, ("DELETE /items/{id}", "item"), id, |txn, id| {
        Box::pin(async move { master::delete_item(txn, &id).await })
    })
    .await
}

/// Result of a bulk import.
#[derive(Serialize, ToSchema)]
pub struct BulkResult {
    /// Rows written.
    pub written: usize,
    /// Rows that did not exist before (items only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<usize>,
}

/// Creates or replaces many items in one transaction (all or nothing).
#[utoipa::path(post, path = "/items/import", tag = "master data", request_body = Vec<Item>,
    responses((status = 200, body = BulkResult), (status = 422, body = ErrorBody)))]
pub async fn import_items(
    State(s): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    auth.require(PLANNING)?;
    let items: Vec<Item> = parse_body(&bytes)?;
    write(&s, &auth, PLANNING, &headers, "POST /items/import", &bytes, move |txn| {
        Box::pin(async move {
            let created = master::put_items(txn, &items, "").await?;
            let detail = format!("{} items, {} new", items.len(), created);
            Ok((
                StatusCode::OK,
                json(&BulkResult { written: items.len(), created: Some(created) }),
                audit("item", None, Some(detail)),
            ))
        })
    })
    .await
}

/// Every BOM version of an item, oldest first.
#[utoipa::path(get, path = "/items/{id}/boms", tag = "master data", params(("id" = String, Path, description = "Parent item id")),
    responses((status = 200, body = Vec<BomVersion>), (status = 404, body = ErrorBody)))]
pub async fn list_boms(
    State(s): State<AppState>,
    _auth: Auth,
    PathParam(id): PathParam<String>,
) -> Result<Json<Vec<BomVersion>>, ApiError> {
    Ok(Json(master::bom_versions(s.store.conn(), &id).await?))
}

/// Adds a BOM version (with optional effectivity dates) to an item.
#[utoipa::path(post, path = "/items/{id}/boms", tag = "master data", params(("id" = String, Path, description = "Parent item id")),
    request_body = BomBody,
    responses((status = 201, body = BomVersion), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_bom(
    State(s): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    PathParam(id): PathParam<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    auth.require(PLANNING)?;
    let body: BomBody = parse_body(&bytes)?;
    write(&s, &auth, PLANNING, &headers, "POST /items/{id}/boms", &bytes, move |txn| {
        Box::pin(async move {
            let v = master::add_bom_version(txn, &id, &body).await?;
            let detail = format!("version {} with {} lines", v.version, v.lines.len());
            Ok((StatusCode::CREATED, json(&v), audit("bom", id.clone(), Some(detail))))
        })
    })
    .await
}

/// An item's routing.
#[utoipa::path(get, path = "/items/{id}/routing", tag = "master data", params(("id" = String, Path, description = "Item id")),
    responses((status = 200, body = Vec<Operation>), (status = 404, body = ErrorBody)))]
pub async fn get_routing(
    State(s): State<AppState>,
    _auth: Auth,
    PathParam(id): PathParam<String>,
) -> Result<Json<Vec<Operation>>, ApiError> {
    Ok(Json(master::routing(s.store.conn(), &id).await?))
}

/// Replaces an item's routing.
#[utoipa::path(put, path = "/items/{id}/routing", tag = "master data", params(("id" = String, Path, description = "Item id")),
    request_body = Vec<Operation>,
    responses((status = 200, body = Vec<Operation>), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn put_routing(
    State(s): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    PathParam(id): PathParam<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    auth.require(PLANNING)?;
    let ops: Vec<Operation> = parse_body(&bytes)?;
    write(&s, &auth, PLANNING, &headers, "PUT /items/{id}/routing", &bytes, move |txn| {
        Box::pin(async move {
            master::put_routing(txn, &id, &ops).await?;
            Ok((StatusCode::OK, json(&ops), audit("routing", id.clone(), Some(format!("{} operations", ops.len())))))
        })
    })
    .await
}

/// Every work centre.
#[utoipa::path(get, path = "/work-centres", tag = "master data", responses((status = 200, body = Vec<WorkCentre>)))]
pub async fn list_work_centres(State(s): State<AppState>, _auth: Auth) -> Result<Json<Vec<WorkCentre>>, ApiError> {
    Ok(Json(master::list_work_centres(s.store.conn()).await?))
}

/// Creates or replaces a work centre.
#[utoipa::path(put, path = "/work-centres/{id}", tag = "master data", params(("id" = String, Path, description = "Work centre id")),
    request_body = WorkCentre, responses((status = 200, body = WorkCentre), (status = 422, body = ErrorBody)))]
pub async fn put_work_centre(
    State(s): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    PathParam(id): PathParam<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let wc: WorkCentre = put_body(&auth, PLANNING, &bytes, &id, |x: &WorkCentre| &x.id)?;
    write(&s, &auth, PLANNING, &headers, "PUT /work-centres/{id}", &bytes, move |txn| {
        Box::pin(async move {
            master::put_work_centre(txn, &wc).await?;
            Ok((StatusCode::OK, json(&wc), audit("work_centre", wc.id.clone(), None)))
        })
    })
    .await
}

/// Deletes a work centre no routing uses.
#[utoipa::path(delete, path = "/work-centres/{id}", tag = "master data", params(("id" = String, Path, description = "Work centre id")),
    responses((status = 200), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete_work_centre(
    State(s): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    PathParam(id): PathParam<String>,
) -> Result<Response, ApiError> {
    delete(&s, &auth, PLANNER, &headers, ("DELETE /work-centres/{id}", "work_centre"), id, |txn, id| {
        Box::pin(async move { master::delete_work_centre(txn, &id).await })
    })
    .await
}

/// Every stocking location.
#[utoipa::path(get, path = "/locations", tag = "master data", responses((status = 200, body = Vec<Location>)))]
pub async fn list_locations(State(s): State<AppState>, _auth: Auth) -> Result<Json<Vec<Location>>, ApiError> {
    Ok(Json(master::list_locations(s.store.conn()).await?))
}

/// Creates or replaces a stocking location.
#[utoipa::path(put, path = "/locations/{id}", tag = "master data", params(("id" = String, Path, description = "Location id")),
    request_body = Location, responses((status = 200, body = Location), (status = 422, body = ErrorBody)))]
pub async fn put_location(
    State(s): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    PathParam(id): PathParam<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let loc: Location = put_body(&auth, PLANNING, &bytes, &id, |x: &Location| &x.id)?;
    write(&s, &auth, PLANNING, &headers, "PUT /locations/{id}", &bytes, move |txn| {
        Box::pin(async move {
            master::put_location(txn, &loc).await?;
            Ok((StatusCode::OK, json(&loc), audit("location", loc.id.clone(), None)))
        })
    })
    .await
}

/// Deletes a location that has never held stock.
#[utoipa::path(delete, path = "/locations/{id}", tag = "master data", params(("id" = String, Path, description = "Location id")),
    responses((status = 200), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete_location(
    State(s): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    PathParam(id): PathParam<String>,
) -> Result<Response, ApiError> {
    delete(&s, &auth, PLANNER, &headers, ("DELETE /locations/{id}", "location"), id, |txn, id| {
        Box::pin(async move { master::delete_location(txn, &id).await })
    })
    .await
}

// ---- inventory --------------------------------------------------------------

/// Posts a stock movement. Positions change in the same transaction; a
/// movement that would drive stock negative is refused with 409.
#[utoipa::path(post, path = "/movements", tag = "inventory", request_body = MovementBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "Repeat-safe key: a repeated request returns the first response")),
    responses((status = 201, body = Movement), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn post_movement(
    State(s): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let caller = auth.require(STOCK)?.clone();
    let body: MovementBody = parse_body(&bytes)?;
    for (field, status) in [("status", body.status), ("to_status", body.to_status)] {
        if status == Some(store::names::StockStatus::InTransit) {
            return Err(ApiError::field(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
                field,
                "in_transit stock moves only by shipping and receiving transfer orders",
            ));
        }
    }
    let key = crate::state::idempotency_key(&headers)?;
    // Only a keyed request is ever compared with another.
    let request_hash =
        if key.is_some() { crate::state::request_hash(crate::poster::ACTION, &bytes) } else { String::new() };
    let (reply, answer) = tokio::sync::oneshot::channel();
    let job = crate::poster::Job { caller, body, key, request_hash, reply };
    let (status, body, replayed) = s.poster.post(job, answer).await?;
    Ok(crate::state::json_response(status, body, replayed))
}

/// A page of the ledger.
#[derive(Serialize, ToSchema)]
pub struct MovementPage {
    rows: Vec<Movement>,
    next: Option<String>,
}

/// The movement ledger in posting order, filtered.
#[utoipa::path(get, path = "/movements", tag = "inventory", params(MovementQuery),
    responses((status = 200, body = MovementPage), (status = 400, body = ErrorBody)))]
pub async fn list_movements(
    State(s): State<AppState>,
    _auth: Auth,
    Params(q): Params<MovementQuery>,
) -> Result<Json<master::Page<Movement>>, ApiError> {
    Ok(Json(ledger::movements(s.store.conn(), &q).await?))
}

/// A page of positions.
#[derive(Serialize, ToSchema)]
pub struct PositionPage {
    rows: Vec<Position>,
    next: Option<String>,
}

/// On-hand positions by item, location, lot and status, filtered and paged.
#[utoipa::path(get, path = "/inventory/positions", tag = "inventory", params(PositionQuery),
    responses((status = 200, body = PositionPage), (status = 400, body = ErrorBody)))]
pub async fn list_positions(
    State(s): State<AppState>,
    _auth: Auth,
    Params(q): Params<PositionQuery>,
) -> Result<Json<master::Page<Position>>, ApiError> {
    Ok(Json(ledger::positions(s.store.conn(), &q).await?))
}

/// One item's stock: totals per status and positions.
#[utoipa::path(get, path = "/inventory/items/{id}", tag = "inventory", params(("id" = String, Path, description = "Item id")),
    responses((status = 200, body = ItemStock), (status = 404, body = ErrorBody)))]
pub async fn item_stock(
    State(s): State<AppState>,
    _auth: Auth,
    PathParam(id): PathParam<String>,
) -> Result<Json<ItemStock>, ApiError> {
    Ok(Json(ledger::item_stock(s.store.conn(), &id).await?))
}

/// Positions that differ from the sum of the ledger (always empty unless
/// the database was changed behind Takt's back).
#[utoipa::path(get, path = "/inventory/reconcile", tag = "inventory",
    responses((status = 200, body = Vec<ledger::Discrepancy>)))]
pub async fn reconcile(State(s): State<AppState>, _auth: Auth) -> Result<Json<Vec<ledger::Discrepancy>>, ApiError> {
    Ok(Json(ledger::reconcile(s.store.conn()).await?))
}

// ---- demand and supply --------------------------------------------------------

/// Filters for demand and supply lists.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrderListQuery {
    /// Only this item's.
    pub item: Option<String>,
    /// Supply orders only: only this status.
    pub status: Option<SupplyStatus>,
    /// Cursor from the previous page's `next`.
    pub after: Option<String>,
    /// Rows per page, 1 to 1000 (default 100).
    pub limit: Option<u64>,
}

/// A page of demand.
#[derive(Serialize, ToSchema)]
pub struct DemandPage {
    rows: Vec<Demand>,
    next: Option<String>,
}

/// Demand lines (customer orders and forecasts), paged.
#[utoipa::path(get, path = "/demand", tag = "demand and supply", params(OrderListQuery),
    responses((status = 200, body = DemandPage)))]
pub async fn list_demand(
    State(s): State<AppState>,
    _auth: Auth,
    Params(q): Params<OrderListQuery>,
) -> Result<Json<master::Page<Demand>>, ApiError> {
    let page = PageQuery { after: q.after, limit: q.limit };
    Ok(Json(supply::list_demands(s.store.conn(), &page, q.item.as_deref()).await?))
}

/// Creates or replaces a demand line.
#[utoipa::path(put, path = "/demand/{id}", tag = "demand and supply", params(("id" = String, Path, description = "Demand id")),
    request_body = Demand, responses((status = 200, body = Demand), (status = 422, body = ErrorBody)))]
pub async fn put_demand(
    State(s): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    PathParam(id): PathParam<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let d: Demand = put_body(&auth, PLANNING, &bytes, &id, |x: &Demand| &x.id)?;
    write(&s, &auth, PLANNING, &headers, "PUT /demand/{id}", &bytes, move |txn| {
        Box::pin(async move {
            supply::put_demands(txn, std::slice::from_ref(&d), "").await?;
            Ok((StatusCode::OK, json(&d), audit("demand", d.id.clone(), Some(format!("{} {}", d.quantity, d.item)))))
        })
    })
    .await
}

/// Deletes a demand line (shipped or withdrawn).
#[utoipa::path(delete, path = "/demand/{id}", tag = "demand and supply", params(("id" = String, Path, description = "Demand id")),
    responses((status = 200), (status = 404, body = ErrorBody)))]
pub async fn delete_demand(
    State(s): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    PathParam(id): PathParam<String>,
) -> Result<Response, ApiError> {
    delete(&s, &auth, PLANNING, &headers, ("DELETE /demand/{id}", "demand"), id, |txn, id| {
        Box::pin(async move { supply::delete_demand(txn, &id).await })
    })
    .await
}

/// Creates or replaces many demand lines in one transaction.
#[utoipa::path(post, path = "/demand/import", tag = "demand and supply", request_body = Vec<Demand>,
    responses((status = 200, body = BulkResult), (status = 422, body = ErrorBody)))]
pub async fn import_demand(
    State(s): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    auth.require(PLANNING)?;
    let rows: Vec<Demand> = parse_body(&bytes)?;
    write(&s, &auth, PLANNING, &headers, "POST /demand/import", &bytes, move |txn| {
        Box::pin(async move {
            supply::put_demands(txn, &rows, "").await?;
            let n = rows.len();
            Ok((
                StatusCode::OK,
                json(&BulkResult { written: n, created: None }),
                audit("demand", None, Some(format!("{n} lines"))),
            ))
        })
    })
    .await
}

/// A page of supply orders.
#[derive(Serialize, ToSchema)]
pub struct SupplyPage {
    rows: Vec<SupplyOrder>,
    next: Option<String>,
}

/// Purchase and production orders, paged.
#[utoipa::path(get, path = "/supply-orders", tag = "demand and supply", params(OrderListQuery),
    responses((status = 200, body = SupplyPage)))]
pub async fn list_supply(
    State(s): State<AppState>,
    _auth: Auth,
    Params(q): Params<OrderListQuery>,
) -> Result<Json<master::Page<SupplyOrder>>, ApiError> {
    let page = PageQuery { after: q.after, limit: q.limit };
    Ok(Json(supply::list_supply_orders(s.store.conn(), &page, q.item.as_deref(), q.status).await?))
}

/// One supply order.
#[utoipa::path(get, path = "/supply-orders/{id}", tag = "demand and supply", params(("id" = String, Path, description = "Order id")),
    responses((status = 200, body = SupplyOrder), (status = 404, body = ErrorBody)))]
pub async fn get_supply(
    State(s): State<AppState>,
    _auth: Auth,
    PathParam(id): PathParam<String>,
) -> Result<Json<SupplyOrder>, ApiError> {
    Ok(Json(supply::get_supply_order(s.store.conn(), &id).await?))
}

/// Creates or replaces a supply order (what was received is kept).
#[utoipa::path(put, path = "/supply-orders/{id}", tag = "demand and supply", params(("id" = String, Path, description = "Order id")),
    request_body = SupplyOrder, responses((status = 200, body = SupplyOrder), (status = 422, body = ErrorBody)))]
pub async fn put_supply(
    State(s): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    PathParam(id): PathParam<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let o: SupplyOrder = put_body(&auth, PLANNING, &bytes, &id, |x: &SupplyOrder| &x.id)?;
    write(&s, &auth, PLANNING, &headers, "PUT /supply-orders/{id}", &bytes, move |txn| {
        Box::pin(async move {
            supply::put_supply_orders(txn, std::slice::from_ref(&o), "").await?;
            let saved = supply::get_supply_order(txn, &o.id).await?;
            Ok((
                StatusCode::OK,
                json(&saved),
                audit("supply_order", o.id.clone(), Some(format!("{} {}", o.quantity, o.item))),
            ))
        })
    })
    .await
}

/// Creates or replaces many supply orders in one transaction.
#[utoipa::path(post, path = "/supply-orders/import", tag = "demand and supply", request_body = Vec<SupplyOrder>,
    responses((status = 200, body = BulkResult), (status = 422, body = ErrorBody)))]
pub async fn import_supply(
    State(s): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    auth.require(PLANNING)?;
    let rows: Vec<SupplyOrder> = parse_body(&bytes)?;
    write(&s, &auth, PLANNING, &headers, "POST /supply-orders/import", &bytes, move |txn| {
        Box::pin(async move {
            supply::put_supply_orders(txn, &rows, "").await?;
            let n = rows.len();
            Ok((
                StatusCode::OK,
                json(&BulkResult { written: n, created: None }),
                audit("supply_order", None, Some(format!("{n} orders"))),
            ))
        })
    })
    .await
}

/// Receives goods against an open supply order (into `quality_hold` when the
/// item requires inspection); closes the order when fully received.
#[utoipa::path(post, path = "/supply-orders/{id}/receipts", tag = "demand and supply", params(("id" = String, Path, description = "Order id")),
    request_body = ReceiptBody,
    responses((status = 201, body = Movement), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn receive(
    State(s): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    PathParam(id): PathParam<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    auth.require(STOCK)?;
    let body: ReceiptBody = parse_body(&bytes)?;
    let actor = auth.0.name.clone();
    write(&s, &auth, STOCK, &headers, "POST /supply-orders/{id}/receipts", &bytes, move |txn| {
        Box::pin(async move {
            let m = supply::receive(txn, &actor, &id, &body).await?;
            Ok((
                StatusCode::CREATED,
                json(&m),
                audit("supply_order", id.clone(), Some(format!("received {}", m.quantity))),
            ))
        })
    })
    .await
}

// ---- MRP ----------------------------------------------------------------------

/// Runs MRP on live data (or a what-if copy with `overrides`) and stores the run.
#[utoipa::path(post, path = "/mrp/runs", tag = "mrp", request_body = RunRequest,
    responses((status = 201, body = RunSummary), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn run_mrp(
    State(s): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    auth.require(PLANNER)?;
    let request: RunRequest =
        if bytes.iter().all(u8::is_ascii_whitespace) { RunRequest::default() } else { parse_body(&bytes)? };
    let actor = auth.0.name.clone();
    write(&s, &auth, PLANNER, &headers, "POST /mrp/runs", &bytes, move |txn| {
        Box::pin(async move {
            let run = planning::run_mrp(txn, &actor, &request).await?;
            let detail =
                format!("{} run: {} planned orders, {} exceptions", run.kind, run.planned_orders, run.exceptions);
            Ok((StatusCode::CREATED, json(&run), audit("mrp_run", run.id.to_string(), Some(detail))))
        })
    })
    .await
}

/// How many runs to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RunListQuery {
    /// At most this many, newest first (default 50, at most 1000).
    pub limit: Option<u64>,
}

/// Recent MRP runs, newest first.
#[utoipa::path(get, path = "/mrp/runs", tag = "mrp", params(RunListQuery), responses((status = 200, body = Vec<RunSummary>)))]
pub async fn list_runs(
    State(s): State<AppState>,
    _auth: Auth,
    Params(q): Params<RunListQuery>,
) -> Result<Json<Vec<RunSummary>>, ApiError> {
    Ok(Json(planning::list_runs(s.store.conn(), q.limit.unwrap_or(50)).await?))
}

/// One run's summary.
#[utoipa::path(get, path = "/mrp/runs/{id}", tag = "mrp", params(("id" = i64, Path, description = "Run id")),
    responses((status = 200, body = RunSummary), (status = 404, body = ErrorBody)))]
pub async fn get_run(
    State(s): State<AppState>,
    _auth: Auth,
    PathParam(id): PathParam<i64>,
) -> Result<Json<RunSummary>, ApiError> {
    Ok(Json(planning::get_run(s.store.conn(), id).await?))
}

fn raw_json(text: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], text).into_response()
}

/// A run's result document (`mrp-result/1`: planned orders with pegging,
/// MRP records, exceptions).
#[utoipa::path(get, path = "/mrp/runs/{id}/result", tag = "mrp", params(("id" = i64, Path, description = "Run id")),
    responses((status = 200, description = "The mrp-result/1 document"), (status = 404, body = ErrorBody)))]
pub async fn run_result(
    State(s): State<AppState>,
    _auth: Auth,
    PathParam(id): PathParam<i64>,
) -> Result<Response, ApiError> {
    Ok(raw_json(planning::run_document(s.store.conn(), id, "result").await?))
}

/// A run's inputs snapshot as an `mrp-scenario/1` document.
#[utoipa::path(get, path = "/mrp/runs/{id}/scenario", tag = "mrp", params(("id" = i64, Path, description = "Run id")),
    responses((status = 200, description = "The mrp-scenario/1 document"), (status = 404, body = ErrorBody)))]
pub async fn run_scenario(
    State(s): State<AppState>,
    _auth: Auth,
    PathParam(id): PathParam<i64>,
) -> Result<Response, ApiError> {
    Ok(raw_json(planning::run_document(s.store.conn(), id, "scenario").await?))
}

/// Compares run `id` (base) with run `other`.
#[utoipa::path(get, path = "/mrp/runs/{id}/compare/{other}", tag = "mrp",
    params(("id" = i64, Path, description = "Base run"), ("other" = i64, Path, description = "Run compared with it")),
    responses((status = 200, body = RunComparison), (status = 404, body = ErrorBody)))]
pub async fn compare_runs(
    State(s): State<AppState>,
    _auth: Auth,
    PathParam((id, other)): PathParam<(i64, i64)>,
) -> Result<Json<RunComparison>, ApiError> {
    Ok(Json(planning::compare_runs(s.store.conn(), id, other).await?))
}

/// A page of planned orders.
#[derive(Serialize, ToSchema)]
pub struct PlannedOrderPage {
    rows: Vec<PlannedOrder>,
    next: Option<String>,
}

/// Planned orders across runs, filtered by run, status or item.
#[utoipa::path(get, path = "/planned-orders", tag = "mrp", params(PlannedOrderQuery),
    responses((status = 200, body = PlannedOrderPage)))]
pub async fn list_planned_orders(
    State(s): State<AppState>,
    _auth: Auth,
    Params(q): Params<PlannedOrderQuery>,
) -> Result<Json<master::Page<PlannedOrder>>, ApiError> {
    Ok(Json(planning::list_planned_orders(s.store.conn(), &q).await?))
}

/// Moves a planned order through its lifecycle: `firm`, `release`, `cancel`
/// (planner) or `sent_to_erp` (erp). Invalid transitions get 409.
#[utoipa::path(post, path = "/planned-orders/{id}/{action}", tag = "mrp",
    params(("id" = i64, Path, description = "Planned order id"), ("action" = PlannedAction, Path, description = "firm, release, cancel or sent_to_erp")),
    responses((status = 200, body = PlannedOrder), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn transition(
    State(s): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    PathParam((id, action)): PathParam<(i64, PlannedAction)>,
) -> Result<Response, ApiError> {
    let roles = if action == PlannedAction::SentToErp { &[Role::Erp][..] } else { PLANNER };
    let actor = auth.0.name.clone();
    let request = format!("{id}/{action:?}");
    write(&s, &auth, roles, &headers, "POST /planned-orders/{id}/{action}", request.as_bytes(), move |txn| {
        Box::pin(async move {
            let o = planning::transition(txn, &actor, id, action).await?;
            Ok((StatusCode::OK, json(&o), audit("planned_order", id.to_string(), Some(format!("now {}", o.status)))))
        })
    })
    .await
}

/// A request for a capacity-aware, cost-optimal plan of the live data.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OptimizeRequest {
    /// Horizon; default: the stored planning calendar.
    #[serde(default)]
    pub calendar: Option<CalendarBody>,
    /// Solver budget in seconds, 1 to 300 (default 30).
    #[serde(default)]
    pub time_limit: Option<f64>,
    /// Relative gap at which to stop, 0 to below 1 (default 0.01).
    #[serde(default)]
    pub gap: Option<f64>,
    /// Threads, 1 to the server's cores (default 1, which leaves the other
    /// cores to the shop floor); from 2, HiGHS's exact search runs on one
    /// beside the heuristics.
    #[serde(default)]
    pub threads: Option<u32>,
    /// Cost coefficients: the `capacity.costs` object of the scenario
    /// extension (setup_cost, holding_rate, holding_cost, backlog_cost,
    /// safety_stock_cost); the optimiser's defaults otherwise.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub costs: Option<serde_json::Value>,
}

/// One optimisation at a time: each keeps its `threads` cores busy for its
/// time limit.
static OPTIMIZING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

/// `takt optimize` on the live data: capacity from the work centres (hours
/// per day on their working days) and routings, planned orders in the
/// `mrp-result/1` format plus the `optimization` section (cost split, bound,
/// gap, stop reason, work-centre load before and after). Writes nothing.
#[utoipa::path(post, path = "/mrp/optimize", tag = "mrp", request_body = OptimizeRequest,
    responses((status = 200, description = "The mrp-result/1 document with its optimization section"), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn optimize(State(s): State<AppState>, auth: Auth, bytes: Bytes) -> Result<Response, ApiError> {
    auth.require(PLANNER)?;
    let request: OptimizeRequest = parse_body(&bytes)?;
    let time_limit = request.time_limit.unwrap_or(30.0);
    if !(time_limit.is_finite() && (1.0..=300.0).contains(&time_limit)) {
        return Err(ApiError::field(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            "time_limit",
            "must be 1 to 300 seconds",
        ));
    }
    let gap = request.gap.unwrap_or(0.01);
    if !(gap.is_finite() && (0.0..1.0).contains(&gap)) {
        return Err(ApiError::field(StatusCode::UNPROCESSABLE_ENTITY, "invalid", "gap", "must be from 0 to below 1"));
    }
    let cores = optimize::solve::available_threads();
    let threads = request.threads.unwrap_or(1) as usize;
    if !(1..=cores).contains(&threads) {
        return Err(ApiError::field(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            "threads",
            format!("must be 1 to {cores} (the server's cores)"),
        ));
    }
    let calendar = match request.calendar {
        Some(c) => c,
        None => planning::default_calendar(s.store.conn()).await?,
    };
    let text = planning::live_capacity_scenario(s.store.conn(), calendar, request.costs).await?;
    let _turn = OPTIMIZING.acquire().await.expect("the semaphore is never closed");
    let outcome = tokio::task::spawn_blocking(move || {
        let (scenario, network, capacity) = optimize::scenario::parse(&text).map_err(|e| {
            let problems =
                e.problems().into_iter().map(|p| store::FieldProblem { field: p.path, message: p.message }).collect();
            ApiError::from(store::StoreError::Invalid(problems))
        })?;
        let options = optimize::solve::Options { time_limit, gap, threads };
        let opt = optimize::report::optimize_scenario(&scenario, &network, &capacity, &options)
            .map_err(|e| ApiError::new(StatusCode::CONFLICT, "unplannable", e.to_string()))?;
        let doc = optimize::report::result_document(&scenario, &network, &capacity, &opt, &options);
        Ok::<_, ApiError>(serde_json::to_string(&doc).expect("result serialises"))
    })
    .await
    .map_err(|_| {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the optimiser stopped unexpectedly")
    })??;
    Ok(raw_json(outcome))
}

/// The default planning calendar.
#[utoipa::path(get, path = "/settings/calendar", tag = "mrp", responses((status = 200, body = CalendarBody)))]
pub async fn get_calendar(State(s): State<AppState>, _auth: Auth) -> Result<Json<CalendarBody>, ApiError> {
    Ok(Json(planning::default_calendar(s.store.conn()).await?))
}

/// Sets the default planning calendar.
#[utoipa::path(put, path = "/settings/calendar", tag = "mrp", request_body = CalendarBody,
    responses((status = 200, body = CalendarBody), (status = 422, body = ErrorBody)))]
pub async fn put_calendar(
    State(s): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    auth.require(PLANNER)?;
    let c: CalendarBody = parse_body(&bytes)?;
    write(&s, &auth, PLANNER, &headers, "PUT /settings/calendar", &bytes, move |txn| {
        Box::pin(async move {
            planning::set_default_calendar(txn, &c).await?;
            Ok((StatusCode::OK, json(&c), audit("setting", planning::CALENDAR_SETTING.to_owned(), None)))
        })
    })
    .await
}

/// Options of a scenario export.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// Scenario name (default `live`).
    pub name: Option<String>,
    /// Horizon start (default: the planning calendar's).
    pub start: Option<chrono::NaiveDate>,
    /// Days per bucket.
    pub bucket_days: Option<u32>,
    /// Number of buckets.
    pub periods: Option<u32>,
}

/// The live data as an `mrp-scenario/1` document: what `POST /mrp/runs` plans.
#[utoipa::path(get, path = "/scenario", tag = "scenario", params(ExportQuery),
    responses((status = 200, description = "The mrp-scenario/1 document")))]
pub async fn export_scenario(
    State(s): State<AppState>,
    _auth: Auth,
    Params(q): Params<ExportQuery>,
) -> Result<Response, ApiError> {
    let default = planning::default_calendar(s.store.conn()).await?;
    let calendar = CalendarBody {
        start: q.start.unwrap_or(default.start),
        bucket_days: q.bucket_days.unwrap_or(default.bucket_days),
        periods: q.periods.unwrap_or(default.periods),
    };
    let name = q.name.unwrap_or_else(|| "live".into());
    Ok(raw_json(scenario_io::export_scenario(s.store.conn(), &name, Some(calendar)).await?))
}

/// Imports an `mrp-scenario/1` document into the database (items, BOMs,
/// demand, receipts, stock at location `MAIN`), all or nothing.
#[utoipa::path(post, path = "/scenario", tag = "scenario", request_body(content = Object, description = "An mrp-scenario/1 document"),
    responses((status = 200, body = ImportSummary), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn import_scenario(
    State(s): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    auth.require(PLANNER)?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", "the body is not UTF-8"))?;
    let scenario = mrp::parse_scenario(text).map_err(|e| {
        let problems: Vec<store::FieldProblem> =
            e.problems().into_iter().map(|p| store::FieldProblem { field: p.path, message: p.message }).collect();
        ApiError::from(store::StoreError::Invalid(problems))
    })?;
    let actor = auth.0.name.clone();
    write(&s, &auth, PLANNER, &headers, "POST /scenario", &bytes, move |txn| {
        Box::pin(async move {
            let summary = scenario_io::import_scenario(txn, &actor, &scenario, "MAIN").await?;
            Ok((StatusCode::OK, json(&summary), audit("scenario", scenario.name.clone(), Some(format!("{summary:?}")))))
        })
    })
    .await
}

// ---- administration -------------------------------------------------------------

/// A token to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// Unique name: the person or system using it.
    pub name: String,
    /// `planner`, `operator`, `inspector`, `erp` or `admin`.
    pub role: Role,
}

/// A created token; the secret is shown only here.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedToken {
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
    /// The token's record.
    pub info: TokenInfo,
}

/// Every token (without secrets).
#[utoipa::path(get, path = "/tokens", tag = "administration", responses((status = 200, body = Vec<TokenInfo>), (status = 403, body = ErrorBody)))]
pub async fn list_tokens(State(s): State<AppState>, auth: Auth) -> Result<Json<Vec<TokenInfo>>, ApiError> {
    auth.require(ADMIN)?;
    Ok(Json(access::list_tokens(s.store.conn()).await?))
}

/// Creates a token with a role.
#[utoipa::path(post, path = "/tokens", tag = "administration", request_body = NewToken,
    responses((status = 201, body = CreatedToken), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_token(
    State(s): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    auth.require(ADMIN)?;
    let body: NewToken = parse_body(&bytes)?;
    write(&s, &auth, ADMIN, &headers, "POST /tokens", &bytes, move |txn| {
        Box::pin(async move {
            let (token, info) = access::create_token(txn, &body.name, body.role, None).await?;
            let detail = format!("role {}", info.role);
            Ok((
                StatusCode::CREATED,
                json(&CreatedToken { token, info }),
                audit("token", body.name.clone(), Some(detail)),
            ))
        })
    })
    .await
}

/// Revokes a token. The last active admin token is kept (409
/// `last_admin_token`): create another admin token first.
#[utoipa::path(delete, path = "/tokens/{name}", tag = "administration", params(("name" = String, Path, description = "Token name")),
    responses((status = 200, body = TokenInfo), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn revoke_token(
    State(s): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    PathParam(name): PathParam<String>,
) -> Result<Response, ApiError> {
    let resp = write(&s, &auth, ADMIN, &headers, "DELETE /tokens/{name}", name.clone().as_bytes(), move |txn| {
        Box::pin(async move {
            let info = access::revoke_token(txn, &name).await?;
            Ok((StatusCode::OK, json(&info), audit("token", name.clone(), Some("revoked".into()))))
        })
    })
    .await;
    s.forget_tokens().await;
    resp
}

/// Paging of the audit trail.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only records older than this id.
    pub before: Option<i64>,
    /// At most this many (default 100, at most 1000).
    pub limit: Option<u64>,
}

/// The audit trail, newest first.
#[utoipa::path(get, path = "/audit", tag = "administration", params(AuditQuery),
    responses((status = 200, body = Vec<access::AuditRecord>), (status = 403, body = ErrorBody)))]
pub async fn list_audit(
    State(s): State<AppState>,
    auth: Auth,
    Params(q): Params<AuditQuery>,
) -> Result<Json<Vec<access::AuditRecord>>, ApiError> {
    auth.require(ADMIN)?;
    Ok(Json(access::list_audit(s.store.conn(), q.before, q.limit.unwrap_or(100)).await?))
}
