//! Shared state, authentication, and the one path every write takes:
//! role check, idempotency, the service call, audit, commit.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sea_orm::DatabaseTransaction;
use serde::Serialize;
use store::access::{self, AuditEntry, Caller, StoredResponse};
use store::db::TxFuture;
use store::names::Role;
use store::{Store, StoreError};
use tokio::sync::RwLock;

use crate::error::ApiError;

/// How long a token found in the database is trusted before it is checked
/// again (so a revocation by the CLI takes effect within this time).
const TOKEN_TTL: Duration = Duration::from_secs(30);

/// Application state shared by all handlers.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// The group-commit queue of `POST /movements`.
    pub poster: crate::poster::Poster<store::ledger::MovementBody>,
    /// The group-commit queue of operation reports.
    pub reports: crate::poster::Poster<store::shop::OperationReport>,
    /// The shop event feed.
    pub feed: crate::feed::Feed,
    /// The durable workflows (Temporal), when `TEMPORAL_ADDRESS` is set.
    pub workflows: Option<workflows::Engine>,
    tokens: Arc<RwLock<HashMap<String, (Caller, Instant)>>>,
}

impl AppState {
    /// State over a connected store; starts the movement writer task, so
    /// call it inside the runtime.
    pub fn new(store: Store) -> AppState {
        use crate::poster::{
            ACTION, PG_WRITERS, Poster, REPORT_ACTION, REPORT_PG_WRITERS, apply_movements, apply_reports,
        };
        AppState {
            poster: Poster::start(store.clone(), apply_movements, ACTION, PG_WRITERS),
            reports: Poster::start(store.clone(), apply_reports, REPORT_ACTION, REPORT_PG_WRITERS),
            feed: crate::feed::Feed::start(store.clone()),
            store,
            workflows: None,
            tokens: Arc::default(),
        }
    }

    /// The same state with workflows: receipts with inspection, holds and
    /// planned-order releases start Temporal workflows through `engine`.
    pub fn with_workflows(mut self, engine: workflows::Engine) -> AppState {
        self.workflows = Some(engine);
        self
    }

    /// Forgets cached tokens (after a revocation).
    pub async fn forget_tokens(&self) {
        self.tokens.write().await.clear();
    }

    async fn caller(&self, token: &str) -> Result<Option<Caller>, StoreError> {
        let hash = access::sha256_hex(token.as_bytes());
        if let Some((caller, at)) = self.tokens.read().await.get(&hash)
            && at.elapsed() < TOKEN_TTL
        {
            return Ok(Some(caller.clone()));
        }
        let found = access::find_caller(self.store.conn(), token).await?;
        let mut cache = self.tokens.write().await;
        match &found {
            Some(c) => {
                cache.insert(hash, (c.clone(), Instant::now()));
            }
            None => {
                cache.remove(&hash);
            }
        }
        Ok(found)
    }
}

/// Routes anyone may call without a token.
pub const PUBLIC_PATHS: [&str; 2] = ["/health", "/openapi.json"];

/// Middleware: every route but [`PUBLIC_PATHS`] needs `Authorization: Bearer <token>`.
pub async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    if PUBLIC_PATHS.contains(&req.uri().path()) {
        return next.run(req).await;
    }
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "Authorization: Bearer <token> is required")
            .into_response();
    };
    match state.caller(token).await {
        Ok(Some(caller)) => {
            req.extensions_mut().insert(caller);
            next.run(req).await
        }
        Ok(None) => {
            ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "the token is unknown or revoked").into_response()
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// The authenticated caller of a request.
pub struct Auth(pub Caller);

impl<S: Send + Sync> FromRequestParts<S> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .map(Auth)
            .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "no token"))
    }
}

impl Auth {
    /// Refuses callers whose role is not listed (admin may do everything).
    pub fn require(&self, roles: &[Role]) -> Result<&Caller, ApiError> {
        if self.0.role == Role::Admin || roles.contains(&self.0.role) {
            Ok(&self.0)
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!(
                    "role {} may not do this; allowed: {}",
                    self.0.role,
                    roles.iter().map(|r| r.as_str()).chain(["admin"]).collect::<Vec<_>>().join(", ")
                ),
            ))
        }
    }
}

/// What a write's service call returns: status, response body, audit entry.
pub type WriteOutcome = (StatusCode, serde_json::Value, AuditEntry);

/// Serialises a response body for a write.
pub fn json<T: Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).expect("response bodies serialise")
}

const MAX_KEY_LEN: usize = 200;

/// The `Idempotency-Key` of a request, checked.
pub fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    match headers.get("idempotency-key") {
        None => Ok(None),
        Some(v) => {
            let k = v.to_str().ok().filter(|k| !k.is_empty() && k.len() <= MAX_KEY_LEN).ok_or_else(|| {
                ApiError::field(
                    StatusCode::BAD_REQUEST,
                    "invalid_header",
                    "Idempotency-Key",
                    format!("must be 1 to {MAX_KEY_LEN} visible ASCII characters"),
                )
            })?;
            Ok(Some(k.to_owned()))
        }
    }
}

/// What identifies a request for idempotency: its action and body.
pub fn request_hash(action: &str, request: &[u8]) -> String {
    let mut fingerprint = action.as_bytes().to_vec();
    fingerprint.push(0);
    fingerprint.extend_from_slice(request);
    access::sha256_hex(&fingerprint)
}

/// Runs a write: checks the caller's role, replays the stored response when
/// the `Idempotency-Key` was seen before, else runs `op` in a transaction
/// that also appends the audit record and stores the response under the key.
pub async fn write<F>(
    state: &AppState,
    auth: &Auth,
    roles: &[Role],
    headers: &HeaderMap,
    action: &str,
    request: &[u8],
    op: F,
) -> Result<Response, ApiError>
where
    F: for<'c> FnOnce(&'c DatabaseTransaction) -> TxFuture<'c, WriteOutcome> + Send + 'static,
{
    let caller = auth.require(roles)?.clone();
    let key = idempotency_key(headers)?;
    // Only a keyed request is ever compared with another.
    let request_hash = if key.is_some() { request_hash(action, request) } else { String::new() };
    if let Some(key) = &key
        && let Some(stored) = access::stored_response(state.store.conn(), &caller.name, key).await?
    {
        return replay(stored, &request_hash);
    }
    let action_owned = action.to_owned();
    let caller_in = caller.clone();
    let key_in = key.clone();
    let hash_in = request_hash.clone();
    let outcome = state
        .store
        .write(move |txn| {
            Box::pin(async move {
                let (status, value, entry) = op(txn).await?;
                access::record_audit(txn, &caller_in, &action_owned, &entry).await?;
                let body = value.to_string();
                if let Some(key) = &key_in {
                    let stored = StoredResponse { request_hash: hash_in, status: status.as_u16(), body: body.clone() };
                    access::save_response(txn, &caller_in.name, key, &stored).await?;
                }
                Ok((status, body))
            })
        })
        .await;
    match outcome {
        Ok((status, body)) => Ok(json_response(status, body, false)),
        Err(e) if key.is_some() && e.is_unique_violation() => {
            // A concurrent request with the same key committed first.
            match access::stored_response(state.store.conn(), &caller.name, key.as_deref().unwrap_or("")).await? {
                Some(stored) => replay(stored, &request_hash),
                None => Err(e.into()),
            }
        }
        Err(e) => Err(e.into()),
    }
}

fn replay(stored: StoredResponse, request_hash: &str) -> Result<Response, ApiError> {
    let (status, body, _) = crate::poster::replay(&stored, request_hash)?;
    Ok(json_response(status, body, true))
}

/// A JSON body with a status, marked when it replays a stored response.
pub fn json_response(status: StatusCode, body: String, replayed: bool) -> Response {
    let mut resp =
        (status, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response();
    if replayed {
        resp.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    resp
}
