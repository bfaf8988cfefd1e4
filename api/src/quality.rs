//! Quality routes: receipts with inspection and holds on existing stock
//! (each a durable Temporal workflow), inspection lots with their workflow
//! step, characteristic results, usage decisions (inspectors only; the
//! route returns once the workflow has accepted the decision), escalation
//! alerts, ERP notifications, returns to suppliers, per-item inspection
//! settings, and the planned-order release workflow.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use store::StoreError;
use store::access::AuditEntry;
use store::names::Role;
use store::quality::{
    self, Alert, DecisionBody, HoldRequest, InspectionLot, InspectionResult, LotQuery, Notification, QualitySettings,
    ReceiptRequest, SupplierReturn,
};
use utoipa::ToSchema;
use workflows::{Engine, EngineError, LotWorkflow};

use crate::error::{ApiError, ErrorBody, Params, PathParam, parse_body};
use crate::state::{AppState, Auth, json, write};

const RECEIVING: &[Role] = &[Role::Operator, Role::Inspector, Role::Erp];
const HOLDING: &[Role] = &[Role::Inspector, Role::Erp];
const INSPECTOR: &[Role] = &[Role::Inspector];
const SETTINGS: &[Role] = &[Role::Inspector, Role::Planner];
const PLANNER: &[Role] = &[Role::Planner];

fn audit(entity: &'static str, id: impl Into<Option<String>>, detail: Option<String>) -> AuditEntry {
    AuditEntry { entity, entity_id: id.into(), detail }
}

/// The workflow engine, asked for after the request's own checks: bad input
/// gets its 4xx even while workflows are down (a retry would not mend it).
fn configured(engine: Option<Engine>) -> Result<Engine, StoreError> {
    engine.ok_or_else(|| StoreError::Unavailable {
        code: "workflows_unavailable",
        message: "workflows are not configured: start the server with TEMPORAL_ADDRESS set (see the README)".into(),
    })
}

fn engine_error(e: EngineError) -> StoreError {
    match e {
        EngineError::Rejected(m) => StoreError::conflict("decision_refused", m),
        EngineError::AlreadyStarted(id) => {
            StoreError::conflict("already_started", format!("workflow {id} was started before; nothing new started"))
        }
        EngineError::NotFound(id) => StoreError::conflict("workflow_missing", format!("workflow {id} does not exist")),
        other => StoreError::Unavailable { code: "workflows_unavailable", message: other.to_string() },
    }
}

/// A workflow that was started.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Started {
    /// The Temporal workflow id (see `GET /quality/workflows/{id}` and Temporal's UI).
    pub workflow_id: String,
    /// Its step: `starting` (or `failed` when the workflow ended before
    /// its lot was posted).
    pub step: String,
    /// Temporal's execution status, where known (`running`, `failed`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// Receives goods that require inspection: starts the receipt workflow,
/// which posts the receipt into `quality_hold`, opens an inspection lot with
/// its sampling plan and waits for the usage decision. 202: follow
/// `GET /quality/workflows/{workflow_id}`.
#[utoipa::path(post, path = "/quality/receipts", tag = "quality", request_body = ReceiptRequest,
    responses((status = 202, body = Started), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn start_receipt(
    State(s): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    auth.require(RECEIVING)?;
    let body: ReceiptRequest = parse_body(&bytes)?;
    let engine = s.workflows.clone();
    let actor = auth.0.name.clone();
    write(&s, &auth, RECEIVING, &headers, "POST /quality/receipts", &bytes, move |txn| {
        Box::pin(async move {
            quality::begin_write(txn).await?;
            quality::check_receipt(txn, &body).await?;
            let engine = configured(engine)?;
            let order = body.supply_order.clone();
            let id = engine.start_receipt(&actor, body).await.map_err(engine_error)?;
            Ok((
                StatusCode::ACCEPTED,
                json(&Started { workflow_id: id.clone(), step: workflows::flows::STARTING.into(), status: None }),
                audit("receipt_workflow", id, Some(format!("receipt against {order}"))),
            ))
        })
    })
    .await
}

/// Puts existing stock on hold (a lot, or every lot of an item at a
/// location): starts the hold workflow, which moves it to `quality_hold`
/// until an inspector releases or scraps it. 202: follow
/// `GET /quality/workflows/{workflow_id}`.
#[utoipa::path(post, path = "/quality/holds", tag = "quality", request_body = HoldRequest,
    responses((status = 202, body = Started), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
pub async fn start_hold(
    State(s): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    auth.require(HOLDING)?;
    let body: HoldRequest = parse_body(&bytes)?;
    let engine = s.workflows.clone();
    let actor = auth.0.name.clone();
    write(&s, &auth, HOLDING, &headers, "POST /quality/holds", &bytes, move |txn| {
        Box::pin(async move {
            quality::begin_write(txn).await?;
            quality::check_hold(txn, &body).await?;
            let engine = configured(engine)?;
            let what = format!("hold {} at {}: {}", body.item, body.location, body.reason);
            let id = engine.start_hold(&actor, body).await.map_err(engine_error)?;
            Ok((
                StatusCode::ACCEPTED,
                json(&Started { workflow_id: id.clone(), step: workflows::flows::STARTING.into(), status: None }),
                audit("hold_workflow", id, Some(what)),
            ))
        })
    })
    .await
}

/// Holds on existing stock (inspection lots of origin `hold`).
#[utoipa::path(get, path = "/quality/holds", tag = "quality", params(("status" = Option<String>, Query, description = "open, released, scrapped, partial")),
    responses((status = 200, body = Vec<InspectionLot>)))]
pub async fn list_holds(
    State(s): State<AppState>,
    _auth: Auth,
    Params(q): Params<LotQuery>,
) -> Result<Json<Vec<InspectionLot>>, ApiError> {
    let q = LotQuery { origin: Some("hold".into()), ..q };
    Ok(Json(quality::list_lots(s.store.conn(), &q).await?))
}

/// A workflow's inspection lot with its current step; 202 `starting` while
/// its first activity has not posted the lot yet; 409 `failed` when the
/// workflow ended without posting it (say the order was closed meanwhile;
/// Temporal's UI shows why); 404 for a workflow Temporal does not know.
#[utoipa::path(get, path = "/quality/workflows/{id}", tag = "quality", params(("id" = String, Path, description = "Workflow id")),
    responses((status = 200, body = InspectionLot), (status = 202, body = Started), (status = 404, body = ErrorBody),
        (status = 409, body = Started)))]
pub async fn workflow_state(
    State(s): State<AppState>,
    _auth: Auth,
    PathParam(id): PathParam<String>,
) -> Result<Response, ApiError> {
    use axum::response::IntoResponse;
    if let Some(lot) = quality::find_by_workflow(s.store.conn(), &id).await? {
        return Ok(Json(quality::get_lot(s.store.conn(), lot.id).await?).into_response());
    }
    let status = match &s.workflows {
        Some(engine) => match engine.status(&id).await {
            Ok(status) => Some(status),
            Err(EngineError::NotFound(_)) => {
                return Err(ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("workflow '{id}' not found")));
            }
            Err(_) => None,
        },
        None => None,
    };
    // Read the lot again: the workflow may have posted it and finished meanwhile.
    if let Some(lot) = quality::find_by_workflow(s.store.conn(), &id).await? {
        return Ok(Json(quality::get_lot(s.store.conn(), lot.id).await?).into_response());
    }
    let ended = status.as_deref().is_some_and(|s| s != "running");
    let (code, step) =
        if ended { (StatusCode::CONFLICT, "failed") } else { (StatusCode::ACCEPTED, workflows::flows::STARTING) };
    Ok((code, Json(Started { workflow_id: id, step: step.into(), status })).into_response())
}

/// Inspection lots (the inspectors' work list with `status=open`).
#[utoipa::path(get, path = "/quality/inspection-lots", tag = "quality", params(LotQuery),
    responses((status = 200, body = Vec<InspectionLot>)))]
pub async fn list_lots(
    State(s): State<AppState>,
    _auth: Auth,
    Params(q): Params<LotQuery>,
) -> Result<Json<Vec<InspectionLot>>, ApiError> {
    Ok(Json(quality::list_lots(s.store.conn(), &q).await?))
}

/// One inspection lot: sampling plan, results, workflow step, decision.
#[utoipa::path(get, path = "/quality/inspection-lots/{id}", tag = "quality", params(("id" = i64, Path, description = "Inspection lot id")),
    responses((status = 200, body = InspectionLot), (status = 404, body = ErrorBody)))]
pub async fn get_lot(
    State(s): State<AppState>,
    _auth: Auth,
    PathParam(id): PathParam<i64>,
) -> Result<Json<InspectionLot>, ApiError> {
    Ok(Json(quality::get_lot(s.store.conn(), id).await?))
}

/// A characteristic's result: a measured value against spec limits, or pass/fail.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResultBody {
    /// Name of the characteristic.
    pub characteristic: String,
    /// Lower spec limit (inclusive).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub lower_limit: Option<Decimal>,
    /// Upper spec limit (inclusive).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub upper_limit: Option<Decimal>,
    /// Measured value.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub measured: Option<Decimal>,
    /// Pass/fail.
    #[serde(default)]
    pub passed: Option<bool>,
    /// Nonconforming units found in the sample.
    #[serde(default)]
    pub nonconforming: Option<u64>,
}

/// Records characteristic results on an open lot (inspectors).
#[utoipa::path(post, path = "/quality/inspection-lots/{id}/results", tag = "quality",
    params(("id" = i64, Path, description = "Inspection lot id")), request_body = Vec<ResultBody>,
    responses((status = 201, body = Vec<InspectionResult>), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn record_results(
    State(s): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    PathParam(id): PathParam<i64>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    auth.require(INSPECTOR)?;
    let body: Vec<ResultBody> = parse_body(&bytes)?;
    let results: Vec<::quality::CharacteristicResult> = body
        .into_iter()
        .map(|r| ::quality::CharacteristicResult {
            characteristic: r.characteristic,
            lower_limit: r.lower_limit,
            upper_limit: r.upper_limit,
            measured: r.measured,
            passed: r.passed,
            nonconforming: r.nonconforming,
        })
        .collect();
    let inspector = auth.0.name.clone();
    write(&s, &auth, INSPECTOR, &headers, "POST /quality/inspection-lots/{id}/results", &bytes, move |txn| {
        Box::pin(async move {
            let rows = quality::record_results(txn, &inspector, id, &results).await?;
            let n = rows.len();
            Ok((
                StatusCode::CREATED,
                json(&rows),
                audit("inspection_lot", id.to_string(), Some(format!("{n} results"))),
            ))
        })
    })
    .await
}

/// What a decision route answers.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DecisionAccepted {
    /// The inspection lot.
    pub inspection_lot: i64,
    /// Its workflow.
    pub workflow_id: String,
    /// The workflow's step after accepting: `decision_accepted`; the ledger
    /// postings follow (see the lot's `step`).
    pub step: String,
    /// `release`, `reject`, `scrap` or `partial`.
    pub decision: String,
    /// To `available`.
    #[schema(value_type = String)]
    pub released: store::Qty,
    /// To `blocked`.
    #[schema(value_type = String)]
    pub rejected: store::Qty,
    /// Scrapped.
    #[schema(value_type = String)]
    pub scrapped: store::Qty,
    /// The inspector.
    pub inspector: String,
}

/// The usage decision on an inspection lot: `release`, `reject` (receipts),
/// `scrap` (holds) or `partial` with quantities that add up to the lot.
/// Inspectors only. Returns once the lot's workflow has accepted the
/// decision; a refused decision (unknown or closed lot, quantities that do
/// not add up) is a 4xx and changes nothing.
#[utoipa::path(post, path = "/quality/inspection-lots/{id}/decision", tag = "quality",
    params(("id" = i64, Path, description = "Inspection lot id")), request_body = DecisionBody,
    responses((status = 200, body = DecisionAccepted), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn decide(
    State(s): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    PathParam(id): PathParam<i64>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    if auth.0.role != Role::Inspector {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("role {} may not decide; only inspectors record usage decisions", auth.0.role),
        ));
    }
    let body: DecisionBody = parse_body(&bytes)?;
    let engine = s.workflows.clone();
    let inspector = auth.0.name.clone();
    write(&s, &auth, INSPECTOR, &headers, "POST /quality/inspection-lots/{id}/decision", &bytes, move |txn| {
        Box::pin(async move {
            quality::begin_write(txn).await?;
            let (lot, decision) = quality::check_decision(txn, &inspector, id, &body).await?;
            let engine = configured(engine)?;
            let kind = if lot.origin == "hold" { LotWorkflow::Hold } else { LotWorkflow::Receipt };
            let step = engine.decide(kind, &lot.workflow_id, decision.clone()).await.map_err(engine_error)?;
            let kind_name = serde_json::to_value(decision.decision)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            let detail = format!(
                "{kind_name} by {inspector}: released {}, rejected {}, scrapped {}",
                decision.released, decision.rejected, decision.scrapped
            );
            Ok((
                StatusCode::OK,
                json(&DecisionAccepted {
                    inspection_lot: id,
                    workflow_id: lot.workflow_id,
                    step,
                    decision: kind_name,
                    released: decision.released,
                    rejected: decision.rejected,
                    scrapped: decision.scrapped,
                    inspector: inspector.clone(),
                }),
                audit("inspection_lot", id.to_string(), Some(detail)),
            ))
        })
    })
    .await
}

/// Escalation alerts: lots without a decision after the item's inspection time.
#[utoipa::path(get, path = "/quality/alerts", tag = "quality", responses((status = 200, body = Vec<Alert>)))]
pub async fn list_alerts(State(s): State<AppState>, _auth: Auth) -> Result<Json<Vec<Alert>>, ApiError> {
    Ok(Json(quality::list_alerts(s.store.conn()).await?))
}

/// Notifications recorded for the ERP (inspection outcomes, released orders).
#[utoipa::path(get, path = "/quality/notifications", tag = "quality", responses((status = 200, body = Vec<Notification>)))]
pub async fn list_notifications(State(s): State<AppState>, _auth: Auth) -> Result<Json<Vec<Notification>>, ApiError> {
    Ok(Json(quality::list_notifications(s.store.conn()).await?))
}

/// Rejected receipts to return to their suppliers.
#[utoipa::path(get, path = "/quality/supplier-returns", tag = "quality", responses((status = 200, body = Vec<SupplierReturn>)))]
pub async fn list_supplier_returns(
    State(s): State<AppState>,
    _auth: Auth,
) -> Result<Json<Vec<SupplierReturn>>, ApiError> {
    Ok(Json(quality::list_supplier_returns(s.store.conn()).await?))
}

/// An item's inspection settings (defaults when none were set).
#[utoipa::path(get, path = "/quality/settings/{item}", tag = "quality", params(("item" = String, Path, description = "Item id")),
    responses((status = 200, body = QualitySettings), (status = 404, body = ErrorBody)))]
pub async fn get_settings(
    State(s): State<AppState>,
    _auth: Auth,
    PathParam(item): PathParam<String>,
) -> Result<Json<QualitySettings>, ApiError> {
    Ok(Json(quality::get_settings(s.store.conn(), &item).await?))
}

/// Sets an item's inspection policy (sampling with an AQL, full, skip-lot)
/// and inspection time (inspectors, planners).
#[utoipa::path(put, path = "/quality/settings/{item}", tag = "quality", params(("item" = String, Path, description = "Item id")),
    request_body = QualitySettings,
    responses((status = 200, body = QualitySettings), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn put_settings(
    State(s): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    PathParam(item): PathParam<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    auth.require(SETTINGS)?;
    let body: QualitySettings = parse_body(&bytes)?;
    if body.item != item {
        return Err(ApiError::field(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            "item",
            format!("'{}' does not match the item in the path '{item}'", body.item),
        ));
    }
    write(&s, &auth, SETTINGS, &headers, "PUT /quality/settings/{item}", &bytes, move |txn| {
        Box::pin(async move {
            quality::put_settings(txn, &body).await?;
            Ok((StatusCode::OK, json(&body), audit("quality_settings", item, Some(body.policy.clone()))))
        })
    })
    .await
}

/// Starts the release workflow of a firmed planned order: a make order
/// becomes a work order (`POST /work-orders` rules: routing, locations,
/// component stock, checked before the workflow starts), a buy order a
/// purchase requisition, exactly once even across worker restarts; a second
/// request gets 409. Planners.
#[utoipa::path(post, path = "/workflows/planned-order-releases", tag = "mrp", request_body = store::shop::ReleaseBody,
    responses((status = 202, body = Started), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn release_planned_order(
    State(s): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    auth.require(PLANNER)?;
    let body: store::shop::ReleaseBody = parse_body(&bytes)?;
    let engine = s.workflows.clone();
    let actor = auth.0.name.clone();
    write(&s, &auth, PLANNER, &headers, "POST /workflows/planned-order-releases", &bytes, move |txn| {
        Box::pin(async move {
            quality::begin_write(txn).await?;
            store::release::check_release(txn, &body).await?;
            let engine = configured(engine)?;
            let po = body.planned_order;
            let id = engine.start_release(&actor, body).await.map_err(engine_error)?;
            Ok((
                StatusCode::ACCEPTED,
                json(&Started { workflow_id: id.clone(), step: workflows::flows::STARTING.into(), status: None }),
                audit("planned_order", po.to_string(), Some(format!("release workflow {id}"))),
            ))
        })
    })
    .await
}
