//! The service layer's typed errors. The API maps each to an HTTP status.

use serde::Serialize;

/// One thing wrong with a request, at a field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldProblem {
    /// Where: `quantity`, `lines[2].component`.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

/// Why a service call did not happen. Nothing is written when one is returned.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The input is wrong; every problem found is listed.
    #[error("{}", join(.0))]
    Invalid(Vec<FieldProblem>),
    /// A referenced record does not exist.
    #[error("{entity} '{id}' not found")]
    NotFound {
        /// What kind of record.
        entity: &'static str,
        /// Its id.
        id: String,
    },
    /// The request is well formed but clashes with the current state.
    #[error("{message}")]
    Conflict {
        /// Machine-readable reason, e.g. `insufficient_stock`.
        code: &'static str,
        /// What clashes, in a user's words.
        message: String,
    },
    /// A service the request needs (the workflow engine) did not answer;
    /// nothing was written.
    #[error("{message}")]
    Unavailable {
        /// Machine-readable reason, e.g. `workflows_unavailable`.
        code: &'static str,
        /// What is down.
        message: String,
    },
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sea_orm::DbErr),
}

impl StoreError {
    /// One problem at one field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        StoreError::Invalid(vec![FieldProblem { field: field.into(), message: message.into() }])
    }

    /// A conflict with a code.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        StoreError::Conflict { code, message: message.into() }
    }

    /// A missing record.
    pub fn not_found(entity: &'static str, id: impl Into<String>) -> Self {
        StoreError::NotFound { entity, id: id.into() }
    }

    /// True for a unique-constraint violation from the database.
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::Database(e) if is_unique_violation(e))
    }
}

/// True when a database error is a unique-constraint violation.
pub fn is_unique_violation(e: &sea_orm::DbErr) -> bool {
    matches!(e.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_)))
}

/// Collects field problems and turns them into one error at the end.
#[derive(Debug, Default)]
pub struct Problems(pub Vec<FieldProblem>);

impl Problems {
    /// Records a problem.
    pub fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldProblem { field: field.into(), message: message.into() });
    }

    /// `Ok` when nothing was recorded.
    pub fn finish(self) -> Result<(), StoreError> {
        if self.0.is_empty() { Ok(()) } else { Err(StoreError::Invalid(self.0)) }
    }
}

/// `field: message; field: message`.
fn join(list: &[FieldProblem]) -> String {
    list.iter().map(|p| format!("{}: {}", p.field, p.message)).collect::<Vec<_>>().join("; ")
}
