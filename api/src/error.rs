//! JSON errors and the extractors that produce them: every client mistake
//! is a 4xx naming the field, never a 500.

use axum::Json;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use store::{FieldProblem, StoreError};
use utoipa::ToSchema;

/// The body of every error response.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Machine-readable code: `invalid`, `malformed_json`, `not_found`,
    /// `unauthorized`, `forbidden`, `insufficient_stock`, ...
    pub code: String,
    /// What went wrong, naming the field.
    pub message: String,
    /// The first field concerned, where there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Every problem found, for validation errors.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<FieldProblem>,
}

/// An error response.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Its body.
    pub body: ErrorBody,
}

impl ApiError {
    /// An error with a status, code and message.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            body: ErrorBody { code: code.to_owned(), message: message.into(), field: None, problems: Vec::new() },
        }
    }

    /// A 400/422 at one field.
    pub fn field(status: StatusCode, code: &str, field: &str, message: impl Into<String>) -> ApiError {
        let message = message.into();
        let mut e = ApiError::new(status, code, if field.is_empty() { message } else { format!("{field}: {message}") });
        e.body.field = (!field.is_empty()).then(|| field.to_owned());
        e
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::Invalid(problems) => {
                let mut err = ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid",
                    StoreError::Invalid(problems.clone()).to_string(),
                );
                err.body.field = problems.first().map(|p| p.field.clone());
                err.body.problems = problems;
                err
            }
            StoreError::NotFound { .. } => ApiError::new(StatusCode::NOT_FOUND, "not_found", e.to_string()),
            StoreError::Conflict { code, message } => ApiError::new(StatusCode::CONFLICT, code, message),
            StoreError::Unavailable { code, message } => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, code, message),
            StoreError::Database(db) => {
                if store::error::is_unique_violation(&db) {
                    return ApiError::new(
                        StatusCode::CONFLICT,
                        "conflict",
                        "a concurrent request wrote the same record; retry",
                    );
                }
                if matches!(db, sea_orm::DbErr::ConnectionAcquire(_)) {
                    return ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy", "the database is busy; retry");
                }
                tracing::error!(error = %db, "database error");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the database failed; nothing was written")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

/// A JSON request body, deserialised with the path of any bad field in the
/// error (`lines[2].quantity: invalid type ...`).
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = axum::body::Bytes::from_request(req, state).await.map_err(|e| {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", format!("request body: {e}"))
        })?;
        parse_body(&bytes).map(Body)
    }
}

/// Deserialises a JSON body, naming the bad field.
pub fn parse_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", "the request needs a JSON body"));
    }
    // PostgreSQL text cannot hold NUL; refuse it here, at its field.
    if bytes.windows(6).any(|w| w.eq_ignore_ascii_case(b"\\u0000")) {
        let path = serde_json::from_slice::<serde_json::Value>(bytes).ok().and_then(|v| nul_path(&v, String::new()));
        return Err(ApiError::field(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            path.as_deref().unwrap_or(""),
            "text must not contain NUL characters",
        ));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", format!("the body is not valid JSON: {inner}"))
        } else {
            let path = if path == "." { String::new() } else { path };
            ApiError::field(StatusCode::UNPROCESSABLE_ENTITY, "invalid", &path, strip_position(&inner.to_string()))
        }
    })
}

/// The path of the first string (or key) holding a NUL character.
fn nul_path(v: &serde_json::Value, path: String) -> Option<String> {
    match v {
        serde_json::Value::String(s) if s.contains('\0') => Some(path),
        serde_json::Value::Array(a) => a.iter().enumerate().find_map(|(i, x)| nul_path(x, format!("{path}[{i}]"))),
        serde_json::Value::Object(o) => o.iter().find_map(|(k, x)| {
            let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
            if k.contains('\0') { Some(p) } else { nul_path(x, p) }
        }),
        _ => None,
    }
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// Query parameters with a 400 naming the parameter on error.
pub struct Params<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("");
        serde_urlencoded_compat(query).map(Params)
    }
}

fn serde_urlencoded_compat<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    axum::extract::Query::<T>::try_from_uri(&format!("/?{query}").parse().expect("a valid URI"))
        .map(|q| q.0)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", e.body_text()))
}

/// Path parameters with a 400 naming the parameter on error.
pub struct PathParam<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for PathParam<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| PathParam(p.0))
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_path", e.body_text()))
    }
}
