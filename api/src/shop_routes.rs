//! Shop-floor routes: work orders, operation reports from terminals, WIP
//! per work centre, transfer orders for distribution, and the live event
//! feed.

use std::convert::Infallible;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::response::sse::{Event, KeepAlive, Sse};
use chrono::NaiveDate;
use futures_util::Stream;
use serde::Deserialize;
use store::distribution::{self, TransferOrder, TransferStep};
use store::ledger::Movement;
use store::names::{Role, TransferStatus};
use store::shop::{
    self, OperationReport, ReleaseBody, ReportBody, ReportOutcome, ReportRecord, ShopEvent, WipDiscrepancy,
    WorkCentreWip, WorkOrder, WorkOrderQuery,
};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ErrorBody, Params, PathParam, parse_body};
use crate::routes::audit;
use crate::state::{AppState, Auth, json, write};

const PLANNER: &[Role] = &[Role::Planner];
const DISTRIBUTION: &[Role] = &[Role::Planner, Role::Erp];
const SHOP_FLOOR: &[Role] = &[Role::Operator];

/// Releases a firmed planned make-order as a work order: the BOM becomes
/// component requirements (issued into the WIP area now, or backflushed
/// later per component item), the routing becomes operations. 409 when the
/// planned order is not firmed, not a make order, already released, has no
/// routing, or stock for the issue is short.
#[utoipa::path(post, path = "/work-orders", tag = "shop floor", request_body = ReleaseBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "Repeat-safe key")),
    responses((status = 201, body = WorkOrder), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn release_work_order(
    State(s): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    auth.require(PLANNER)?;
    let body: ReleaseBody = parse_body(&bytes)?;
    let actor = auth.0.name.clone();
    write(&s, &auth, PLANNER, &headers, "POST /work-orders", &bytes, move |txn| {
        Box::pin(async move {
            let wo = shop::release_work_order(txn, &actor, &body).await?;
            let detail = format!("released planned order {} as {}", body.planned_order, wo.reference);
            Ok((StatusCode::CREATED, json(&wo), audit("work_order", wo.id.to_string(), Some(detail))))
        })
    })
    .await
}

/// Work orders in number order, with components and operations.
#[utoipa::path(get, path = "/work-orders", tag = "shop floor", params(WorkOrderQuery),
    responses((status = 200, body = [WorkOrder]), (status = 400, body = ErrorBody)))]
pub async fn list_work_orders(
    State(s): State<AppState>,
    _auth: Auth,
    Params(q): Params<WorkOrderQuery>,
) -> Result<Json<Vec<WorkOrder>>, ApiError> {
    Ok(Json(shop::list_work_orders(s.store.conn(), &q).await?))
}

/// One work order with its components and operations.
#[utoipa::path(get, path = "/work-orders/{id}", tag = "shop floor",
    params(("id" = i64, Path, description = "Work order number")),
    responses((status = 200, body = WorkOrder), (status = 404, body = ErrorBody)))]
pub async fn get_work_order(
    State(s): State<AppState>,
    _auth: Auth,
    PathParam(id): PathParam<i64>,
) -> Result<Json<WorkOrder>, ApiError> {
    Ok(Json(shop::get_work_order(s.store.conn(), id).await?))
}

/// Closes a work order: leftover material in its WIP area returns to the
/// stock location and MRP stops expecting its open quantity.
#[utoipa::path(post, path = "/work-orders/{id}/close", tag = "shop floor",
    params(("id" = i64, Path, description = "Work order number")),
    responses((status = 200, body = WorkOrder), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn close_work_order(
    State(s): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    PathParam(id): PathParam<i64>,
) -> Result<Response, ApiError> {
    let actor = auth.0.name.clone();
    write(&s, &auth, PLANNER, &headers, "POST /work-orders/{id}/close", id.to_string().as_bytes(), move |txn| {
        Box::pin(async move {
            let wo = shop::close_work_order(txn, &actor, id).await?;
            Ok((StatusCode::OK, json(&wo), audit("work_order", id.to_string(), Some("closed".into()))))
        })
    })
    .await
}

/// A terminal's report on an operation: `start`, `pause` (with a downtime
/// reason), `resume`, `report` (good / scrap / rework / hours while
/// running) or `complete`. Needs an `Idempotency-Key`: a retried report
/// returns the first answer and counts once. Invalid transitions and
/// over-reporting get 409 with the reason.
#[utoipa::path(post, path = "/work-orders/{id}/operations/{sequence}/reports", tag = "shop floor",
    request_body = ReportBody,
    params(("id" = i64, Path, description = "Work order number"), ("sequence" = u32, Path, description = "Operation sequence"),
        ("Idempotency-Key" = String, Header, description = "Required: one key per report, reused on retry")),
    responses((status = 201, body = ReportOutcome), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn report_operation(
    State(s): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    PathParam((work_order, sequence)): PathParam<(i64, u32)>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let caller = auth.require(SHOP_FLOOR)?.clone();
    let body: ReportBody = parse_body(&bytes)?;
    let Some(key) = crate::state::idempotency_key(&headers)? else {
        return Err(ApiError::field(
            StatusCode::BAD_REQUEST,
            "idempotency_key_required",
            "Idempotency-Key",
            "is required on operation reports, so a retried report counts once",
        ));
    };
    let mut fingerprint = format!("{work_order}/{sequence}\0").into_bytes();
    fingerprint.extend_from_slice(&bytes);
    let request_hash = crate::state::request_hash(crate::poster::REPORT_ACTION, &fingerprint);
    let report = OperationReport { actor: caller.name.clone(), work_order, sequence, body };
    let (reply, answer) = tokio::sync::oneshot::channel();
    let job = crate::poster::Job { caller, body: report, key: Some(key), request_hash, reply };
    let (status, body, replayed) = s.reports.post(job, answer).await?;
    Ok(crate::state::json_response(status, body, replayed))
}

/// A work order's operation reports in recorded order: the shop floor's
/// own audit trail (who reported what, when, with which reason).
#[utoipa::path(get, path = "/work-orders/{id}/reports", tag = "shop floor",
    params(("id" = i64, Path, description = "Work order number")),
    responses((status = 200, body = [ReportRecord]), (status = 404, body = ErrorBody)))]
pub async fn list_reports(
    State(s): State<AppState>,
    _auth: Auth,
    PathParam(id): PathParam<i64>,
) -> Result<Json<Vec<ReportRecord>>, ApiError> {
    Ok(Json(shop::list_reports(s.store.conn(), id).await?))
}

/// Options of the WIP view.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WipQuery {
    /// Operations planned to finish before this date and not completed are
    /// late (default: today).
    pub as_of: Option<NaiveDate>,
}

/// WIP per work centre: queue, running operations, quantities and material
/// value in WIP, late operations.
#[utoipa::path(get, path = "/wip", tag = "shop floor", params(WipQuery),
    responses((status = 200, body = [WorkCentreWip]), (status = 400, body = ErrorBody)))]
pub async fn wip(
    State(s): State<AppState>,
    _auth: Auth,
    Params(q): Params<WipQuery>,
) -> Result<Json<Vec<WorkCentreWip>>, ApiError> {
    let as_of = q.as_of.unwrap_or_else(|| chrono::Utc::now().date_naive());
    Ok(Json(shop::wip_by_work_centre(s.store.conn(), as_of).await?))
}

/// WIP areas' stock against what open work orders hold there; empty when
/// they agree.
#[utoipa::path(get, path = "/wip/reconcile", tag = "shop floor",
    responses((status = 200, body = [WipDiscrepancy])))]
pub async fn reconcile_wip(State(s): State<AppState>, _auth: Auth) -> Result<Json<Vec<WipDiscrepancy>>, ApiError> {
    Ok(Json(shop::reconcile_wip(s.store.conn()).await?))
}

/// Where the event feed starts.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Replay stored events after this id first (the `Last-Event-ID`
    /// header, sent by a reconnecting browser, takes precedence).
    pub after: Option<i64>,
}

/// The live shop event feed as server-sent events: work orders released,
/// completed and closed, operation reports, transfers shipped and
/// received. Each event's `id` is its feed position; reconnect with
/// `Last-Event-ID` (or `?after=`) to get what was missed.
#[utoipa::path(get, path = "/events", tag = "shop floor", params(EventsQuery),
    responses((status = 200, description = "text/event-stream of ShopEvent", content_type = "text/event-stream")))]
pub async fn events(
    State(s): State<AppState>,
    _auth: Auth,
    headers: HeaderMap,
    Params(q): Params<EventsQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let after = match headers.get("last-event-id") {
        Some(v) => Some(v.to_str().ok().and_then(|v| v.trim().parse::<i64>().ok()).ok_or_else(|| {
            ApiError::field(
                StatusCode::BAD_REQUEST,
                "invalid_header",
                "Last-Event-ID",
                "must be an event id (an integer)",
            )
        })?),
        None => q.after,
    };
    // Subscribe before reading the backlog, so nothing falls between them.
    let rx = s.feed.subscribe();
    let backlog = match after {
        Some(after) => shop::events_after(s.store.conn(), after, 10_000).await?,
        None => Vec::new(),
    };
    let sent: std::collections::HashSet<i64> = backlog.iter().map(|e| e.id).collect();
    let floor = after.unwrap_or(i64::MAX);
    let first = futures_util::stream::iter(backlog.into_iter().map(|e| Ok(sse_event(&e))));
    let live = futures_util::stream::unfold((rx, sent), move |(mut rx, sent)| async move {
        loop {
            match rx.recv().await {
                Ok(e) if sent.contains(&e.id) || (floor != i64::MAX && e.id <= floor) => continue,
                Ok(e) => return Some((Ok(sse_event(&e)), (rx, sent))),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    let lagged = Event::default().event("lagged").data(format!("{{\"missed\":{n}}}"));
                    return Some((Ok(lagged), (rx, sent)));
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    Ok(Sse::new(futures_util::StreamExt::chain(first, live)).keep_alive(KeepAlive::default()))
}

fn sse_event(e: &ShopEvent) -> Event {
    Event::default().id(e.id.to_string()).event(e.kind.clone()).data(serde_json::to_string(e).unwrap_or_default())
}

/// Transfer order filter.
#[derive(Debug, Deserialize, IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
pub struct TransferQuery {
    /// Only this status.
    pub status: Option<TransferStatus>,
}

/// Creates a transfer order (finished goods from the plant to a
/// distribution centre, or between any two stocking locations).
#[utoipa::path(post, path = "/transfer-orders", tag = "distribution", request_body = TransferOrder,
    responses((status = 201, body = TransferOrder), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_transfer_order(
    State(s): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    auth.require(DISTRIBUTION)?;
    let body: TransferOrder = parse_body(&bytes)?;
    write(&s, &auth, DISTRIBUTION, &headers, "POST /transfer-orders", &bytes, move |txn| {
        Box::pin(async move {
            let t = distribution::create_transfer_order(txn, &body).await?;
            let detail = format!("{} {} {} → {}", t.quantity, t.item, t.from_location, t.to_location);
            Ok((StatusCode::CREATED, json(&t), audit("transfer_order", t.id.clone(), Some(detail))))
        })
    })
    .await
}

/// Transfer orders by id.
#[utoipa::path(get, path = "/transfer-orders", tag = "distribution", params(TransferQuery),
    responses((status = 200, body = [TransferOrder]), (status = 400, body = ErrorBody)))]
pub async fn list_transfer_orders(
    State(s): State<AppState>,
    _auth: Auth,
    Params(q): Params<TransferQuery>,
) -> Result<Json<Vec<TransferOrder>>, ApiError> {
    Ok(Json(distribution::list_transfer_orders(s.store.conn(), q.status).await?))
}

/// One transfer order.
#[utoipa::path(get, path = "/transfer-orders/{id}", tag = "distribution",
    params(("id" = String, Path, description = "Transfer order number")),
    responses((status = 200, body = TransferOrder), (status = 404, body = ErrorBody)))]
pub async fn get_transfer_order(
    State(s): State<AppState>,
    _auth: Auth,
    PathParam(id): PathParam<String>,
) -> Result<Json<TransferOrder>, ApiError> {
    Ok(Json(distribution::get_transfer_order(s.store.conn(), &id).await?))
}

/// A shipment or receipt and the transfer order after it.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct TransferOutcome {
    /// The order after the step.
    pub transfer_order: TransferOrder,
    /// The ledger movement posted.
    pub movement: Movement,
}

/// What a transfer-order step does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TransferAction {
    /// Available stock leaves the shipping location, in transit to the receiving one.
    Ship,
    /// Stock in transit arrives, available.
    Receive,
    /// Withdraw an order that shipped nothing.
    Cancel,
}

/// Ships, receives (both by an operator, partly with `quantity`) or cancels
/// (planner) a transfer order.
#[utoipa::path(post, path = "/transfer-orders/{id}/{action}", tag = "distribution", request_body = Option<TransferStep>,
    params(("id" = String, Path, description = "Transfer order number"), ("action" = TransferAction, Path, description = "ship, receive or cancel")),
    responses((status = 200, body = TransferOutcome), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn transfer_step(
    State(s): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    PathParam((id, action)): PathParam<(String, TransferAction)>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let roles = if action == TransferAction::Cancel { PLANNER } else { SHOP_FLOOR };
    auth.require(roles)?;
    let step: TransferStep =
        if bytes.iter().all(u8::is_ascii_whitespace) { TransferStep::default() } else { parse_body(&bytes)? };
    let actor = auth.0.name.clone();
    let mut request = format!("{id}/{action:?}\0").into_bytes();
    request.extend_from_slice(&bytes);
    write(&s, &auth, roles, &headers, "POST /transfer-orders/{id}/{action}", &request, move |txn| {
        Box::pin(async move {
            let (t, m) = match action {
                TransferAction::Ship => distribution::ship(txn, &actor, &id, &step).await?,
                TransferAction::Receive => distribution::receive(txn, &actor, &id, &step).await?,
                TransferAction::Cancel => {
                    let t = distribution::cancel(txn, &id).await?;
                    return Ok((
                        StatusCode::OK,
                        json(&t),
                        audit("transfer_order", id.clone(), Some("cancelled".into())),
                    ));
                }
            };
            let detail = format!("{action:?} {} {}", m.quantity, m.item).to_lowercase();
            Ok((
                StatusCode::OK,
                json(&TransferOutcome { transfer_order: t, movement: m }),
                audit("transfer_order", id.clone(), Some(detail)),
            ))
        })
    })
    .await
}
