//! Who may do what, and the records every write leaves: API tokens with
//! roles, the audit trail, and stored first responses for `Idempotency-Key`.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    Value,
};
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::entity::{api_token, audit, idempotency};
use crate::error::{Problems, StoreError};
use crate::master::check_id;
use crate::names::Role;

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The token's name (a person or a system); recorded as the actor.
    pub name: String,
    /// What it may do.
    pub role: Role,
}

/// Hex SHA-256 of a token or request: tokens are stored only as this.
pub fn sha256_hex(bytes: &[u8]) -> String {
    // A `format!` per byte was 4 % of the server's CPU under report load.
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(bytes);
    let mut hex = String::with_capacity(2 * digest.len());
    for b in digest {
        hex.push(HEX[usize::from(b >> 4)] as char);
        hex.push(HEX[usize::from(b & 15)] as char);
    }
    hex
}

/// A new random token, `takt_` and 64 hex digits (256 bits).
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source works");
    format!("takt_{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// A token as listed (never the secret itself).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TokenInfo {
    /// Unique name.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

fn token_info(m: api_token::Model) -> TokenInfo {
    TokenInfo {
        name: m.name,
        role: Role::parse(&m.role).unwrap_or(Role::Operator),
        created_at: m.created_at,
        revoked_at: m.revoked_at,
    }
}

/// Creates a token; with `secret` given, that secret is used (for a
/// configured bootstrap token), else a new random one. Returns the secret.
pub async fn create_token(
    txn: &impl ConnectionTrait,
    name: &str,
    role: Role,
    secret: Option<&str>,
) -> Result<(String, TokenInfo), StoreError> {
    let mut problems = Problems::default();
    check_id("name", name, &mut problems);
    if let Some(s) = secret
        && s.len() < 16
    {
        problems.push("token", "must be at least 16 characters");
    }
    problems.finish()?;
    if api_token::Entity::find().filter(api_token::Column::Name.eq(name)).one(txn).await?.is_some() {
        return Err(StoreError::conflict("token_exists", format!("a token named '{name}' exists")));
    }
    let secret = secret.map_or_else(new_token, str::to_owned);
    let row = api_token::Entity::insert(api_token::ActiveModel {
        name: Set(name.to_owned()),
        role: Set(role.as_str().to_owned()),
        token_hash: Set(sha256_hex(secret.as_bytes())),
        created_at: Set(Utc::now()),
        revoked_at: Set(None),
        ..Default::default()
    })
    .exec_with_returning(txn)
    .await?;
    Ok((secret, token_info(row)))
}

/// The caller a token belongs to, if it is valid and not revoked.
pub async fn find_caller(conn: &impl ConnectionTrait, token: &str) -> Result<Option<Caller>, StoreError> {
    let row = api_token::Entity::find()
        .filter(api_token::Column::TokenHash.eq(sha256_hex(token.as_bytes())))
        .filter(api_token::Column::RevokedAt.is_null())
        .one(conn)
        .await?;
    Ok(row.map(|r| Caller { name: r.name, role: Role::parse(&r.role).unwrap_or(Role::Operator) }))
}

/// Revokes a token by name.
pub async fn revoke_token(txn: &impl ConnectionTrait, name: &str) -> Result<TokenInfo, StoreError> {
    let row = api_token::Entity::find()
        .filter(api_token::Column::Name.eq(name))
        .one(txn)
        .await?
        .ok_or_else(|| StoreError::not_found("token", name))?;
    if row.role == Role::Admin.as_str() && row.revoked_at.is_none() {
        // Locked, so two revocations at once cannot both see the other admin.
        let mut admins = api_token::Entity::find()
            .filter(api_token::Column::Role.eq(Role::Admin.as_str()))
            .filter(api_token::Column::RevokedAt.is_null());
        if txn.get_database_backend() == sea_orm::DbBackend::Postgres {
            admins = admins.lock_exclusive();
        }
        if admins.all(txn).await?.iter().all(|a| a.name == row.name) {
            return Err(StoreError::conflict(
                "last_admin_token",
                format!("token {name:?} is the last active admin token; create another admin token before revoking it"),
            ));
        }
    }
    let mut active: api_token::ActiveModel = row.into();
    active.revoked_at = Set(Some(Utc::now()));
    let row = sea_orm::ActiveModelTrait::update(active, txn).await?;
    Ok(token_info(row))
}

/// Every token, by name.
pub async fn list_tokens(conn: &impl ConnectionTrait) -> Result<Vec<TokenInfo>, StoreError> {
    Ok(api_token::Entity::find()
        .order_by_asc(api_token::Column::Name)
        .all(conn)
        .await?
        .into_iter()
        .map(token_info)
        .collect())
}

/// Number of tokens that are not revoked.
pub async fn active_token_count(conn: &impl ConnectionTrait) -> Result<u64, StoreError> {
    Ok(api_token::Entity::find().filter(api_token::Column::RevokedAt.is_null()).count(conn).await?)
}

/// What a write changed, for the audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// The kind of record written (`item`, `movement`, `mrp_run`, ...).
    pub entity: &'static str,
    /// Its id, where there is one.
    pub entity_id: Option<String>,
    /// A short account (changed fields, quantities).
    pub detail: Option<String>,
}

/// Appends to the audit trail, in the write's own transaction.
pub async fn record_audit(
    txn: &impl ConnectionTrait,
    caller: &Caller,
    action: &str,
    entry: &AuditEntry,
) -> Result<(), StoreError> {
    record_audits(txn, &[(caller, action, entry)]).await
}

/// Appends many audit records with one statement.
pub async fn record_audits(
    txn: &impl ConnectionTrait,
    records: &[(&Caller, &str, &AuditEntry)],
) -> Result<(), StoreError> {
    record_writes(txn, records, &[]).await
}

/// What a batch of writes leaves besides its data, with one statement on
/// PostgreSQL: their audit records and the first responses to their
/// idempotency keys.
pub async fn record_writes(
    txn: &impl ConnectionTrait,
    audits: &[(&Caller, &str, &AuditEntry)],
    responses: &[(&str, &str, StoredResponse)],
) -> Result<(), StoreError> {
    crate::db::insert_rows_together(txn, &write_records(audits, responses).tables(), false).await?;
    Ok(())
}

/// The rows [`record_writes`] inserts, for a caller that sends them along
/// with its last statement ([`crate::ledger::StockChanges::apply_after`]).
pub struct WriteRecords {
    audit_rows: Vec<Vec<Value>>,
    response_rows: Vec<Vec<Value>>,
}

const AUDIT_COLUMNS: [(&str, crate::db::SqlType); 7] = {
    use crate::db::SqlType::{Text, Timestamp};
    [
        ("at", Timestamp),
        ("actor", Text),
        ("role", Text),
        ("action", Text),
        ("entity", Text),
        ("entity_id", Text),
        ("detail", Text),
    ]
};

const RESPONSE_COLUMNS: [(&str, crate::db::SqlType); 6] = {
    use crate::db::SqlType::{Int, Text, Timestamp};
    [
        ("actor", Text),
        ("key", Text),
        ("request_hash", Text),
        ("status", Int),
        ("response", Text),
        ("created_at", Timestamp),
    ]
};

impl WriteRecords {
    /// The audit and idempotency rows, for [`crate::db::insert_rows_together`].
    pub fn tables(&self) -> [crate::db::TableRows<'_>; 2] {
        use crate::db::TableRows;
        [
            TableRows { table: "audit_log", columns: &AUDIT_COLUMNS, rows: &self.audit_rows },
            TableRows { table: "idempotency_keys", columns: &RESPONSE_COLUMNS, rows: &self.response_rows },
        ]
    }
}

/// The audit records and stored first responses of a batch of writes, as rows.
pub fn write_records(
    audits: &[(&Caller, &str, &AuditEntry)],
    responses: &[(&str, &str, StoredResponse)],
) -> WriteRecords {
    let now = Utc::now();
    let audit_rows: Vec<Vec<Value>> = audits
        .iter()
        .map(|(caller, action, entry)| {
            vec![
                now.into(),
                caller.name.clone().into(),
                caller.role.as_str().into(),
                (*action).into(),
                entry.entity.into(),
                entry.entity_id.clone().into(),
                entry.detail.clone().into(),
            ]
        })
        .collect();
    let response_rows: Vec<Vec<Value>> = responses
        .iter()
        .map(|(actor, key, r)| {
            vec![
                (*actor).into(),
                (*key).into(),
                r.request_hash.clone().into(),
                i32::from(r.status).into(),
                r.body.clone().into(),
                now.into(),
            ]
        })
        .collect();
    WriteRecords { audit_rows, response_rows }
}

/// An audit record.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AuditRecord {
    /// Sequence number.
    pub id: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// Who (token name).
    pub actor: String,
    /// With which role.
    pub role: String,
    /// Method and route, e.g. `PUT /items/{id}`.
    pub action: String,
    /// Kind of record written.
    pub entity: String,
    /// Its id.
    pub entity_id: Option<String>,
    /// Details.
    pub detail: Option<String>,
}

/// The newest audit records first, before `before` (an id) when given.
pub async fn list_audit(
    conn: &impl ConnectionTrait,
    before: Option<i64>,
    limit: u64,
) -> Result<Vec<AuditRecord>, StoreError> {
    let mut q = audit::Entity::find().order_by_desc(audit::Column::Id).limit(limit.clamp(1, 1000));
    if let Some(b) = before {
        q = q.filter(audit::Column::Id.lt(b));
    }
    Ok(q.all(conn)
        .await?
        .into_iter()
        .map(|a| AuditRecord {
            id: a.id,
            at: a.at,
            actor: a.actor,
            role: a.role,
            action: a.action,
            entity: a.entity,
            entity_id: a.entity_id,
            detail: a.detail,
        })
        .collect())
}

/// A stored first response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    /// SHA-256 of method, path and body of the first request.
    pub request_hash: String,
    /// Its HTTP status.
    pub status: u16,
    /// Its JSON body.
    pub body: String,
}

/// The first response to `key` from `actor`, if there was one.
pub async fn stored_response(
    conn: &impl ConnectionTrait,
    actor: &str,
    key: &str,
) -> Result<Option<StoredResponse>, StoreError> {
    Ok(idempotency::Entity::find()
        .filter(idempotency::Column::Actor.eq(actor))
        .filter(idempotency::Column::Key.eq(key))
        .one(conn)
        .await?
        .map(|r| StoredResponse { request_hash: r.request_hash, status: r.status as u16, body: r.response }))
}

/// The stored first responses of many (actor, key) pairs, by pair.
pub async fn stored_responses(
    conn: &impl ConnectionTrait,
    pairs: &[(String, String)],
) -> Result<std::collections::HashMap<(String, String), StoredResponse>, StoreError> {
    use crate::db::text_array;
    use sea_orm::sea_query::{Expr, ExprTrait};
    use sea_orm::{DbBackend, Statement};
    let mut out = std::collections::HashMap::new();
    let batches: Vec<Vec<idempotency::Model>> = if conn.get_database_backend() == DbBackend::Postgres {
        // One statement text whatever the count, planned in microseconds: a
        // prepared `(actor, key) IN (($1, $2), ..)` of 32 pairs took 2-4 ms
        // to plan again on most executions (PostgreSQL kept choosing custom
        // plans), on the critical path of every batch of reports. The
        // `LATERAL .. LIMIT 1` keeps it one index probe per key: a plain
        // join, prepared while the table was small, kept its hash join over
        // a sequential scan as the table grew (2-5 ms a batch after 30k
        // reports on a fresh database).
        let statement = Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT i.* FROM UNNEST($1::text[], $2::text[]) AS u(actor, key) CROSS JOIN LATERAL \
             (SELECT * FROM idempotency_keys AS k WHERE k.actor = u.actor AND k.key = u.key LIMIT 1) AS i",
            [text_array(pairs.iter().map(|p| &p.0)), text_array(pairs.iter().map(|p| &p.1))],
        );
        vec![idempotency::Entity::find().from_raw_sql(statement).all(conn).await?]
    } else {
        let mut batches = Vec::new();
        for chunk in crate::db::padded_chunks(pairs) {
            batches.push(
                idempotency::Entity::find()
                    .filter(
                        Expr::tuple([Expr::col(idempotency::Column::Actor), Expr::col(idempotency::Column::Key)])
                            .in_tuples(chunk.iter().cloned()),
                    )
                    .all(conn)
                    .await?,
            );
        }
        batches
    };
    for rows in batches {
        for r in rows {
            out.insert(
                (r.actor, r.key),
                StoredResponse { request_hash: r.request_hash, status: r.status as u16, body: r.response },
            );
        }
    }
    Ok(out)
}

/// Stores many first responses with one statement.
pub async fn save_responses(
    txn: &impl ConnectionTrait,
    responses: &[(&str, &str, StoredResponse)],
) -> Result<(), StoreError> {
    record_writes(txn, &[], responses).await
}

/// Stores the response to `key` in the write's own transaction; a
/// concurrent request with the same key makes this fail on the unique index
/// and its transaction roll back.
pub async fn save_response(
    txn: &impl ConnectionTrait,
    actor: &str,
    key: &str,
    response: &StoredResponse,
) -> Result<(), StoreError> {
    save_responses(txn, &[(actor, key, response.clone())]).await
}

/// Forgets stored responses older than `before`: a retry after that long
/// is treated as a new request. Returns how many were removed.
pub async fn prune_responses(conn: &impl ConnectionTrait, before: DateTime<Utc>) -> Result<u64, StoreError> {
    let res = idempotency::Entity::delete_many().filter(idempotency::Column::CreatedAt.lt(before)).exec(conn).await?;
    Ok(res.rows_affected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_hex_is_the_lowercase_digest() {
        // FIPS 180-2, appendix B.1.
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(sha256_hex(b"").len(), 64);
    }
}
