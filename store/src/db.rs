//! The database handle: connection pool, migrations, and the one way to run
//! a write transaction.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use migrations::Migrator;
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, Statement,
    TransactionTrait, Value,
};
use sea_orm_migration::MigratorTrait;
use tokio::sync::Mutex;

use crate::error::StoreError;

/// The URL used when none is configured: an SQLite file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://takt.db?mode=rwc";

/// A boxed future borrowing the transaction, as write closures return.
pub type TxFuture<'c, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'c>>;

/// The control plane's database.
#[derive(Clone)]
pub struct Store {
    db: DatabaseConnection,
    /// SQLite has one writer at a time; taking this before `BEGIN` turns
    /// would-be `SQLITE_BUSY` upgrades into an orderly queue.
    write_gate: Option<Arc<Mutex<()>>>,
}

impl Store {
    /// Connects to `url` (`sqlite://...` or `postgres://...`) and applies
    /// pending migrations. SQLite runs in WAL mode with `synchronous=FULL`,
    /// so an acknowledged commit survives a crash.
    pub async fn connect(url: &str) -> Result<Store, DbErr> {
        let mut options = ConnectOptions::new(url.to_owned());
        options.sqlx_logging(false).acquire_timeout(Duration::from_secs(30));
        let sqlite = url.starts_with("sqlite:");
        if sqlite {
            options.max_connections(8).map_sqlx_sqlite_opts(|o| {
                o.journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Full)
                    .busy_timeout(Duration::from_secs(30))
                    .foreign_keys(true)
            });
        } else {
            // Batches prepare one statement per (statement, power-of-two
            // size); keep them all cached.
            options.max_connections(32).min_connections(2).map_sqlx_postgres_opts(|o| o.statement_cache_capacity(1024));
        }
        let db = Database::connect(options).await?;
        Migrator::up(&db, None).await?;
        Ok(Store { db, write_gate: sqlite.then(|| Arc::new(Mutex::new(()))) })
    }

    /// The pool, for reads.
    pub fn conn(&self) -> &DatabaseConnection {
        &self.db
    }

    /// SQLite or PostgreSQL.
    pub fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    /// Runs `f` in one transaction: committed when it returns `Ok`, rolled
    /// back (nothing written) when it returns an error.
    pub async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send,
        F: for<'c> FnOnce(&'c DatabaseTransaction) -> TxFuture<'c, T> + Send,
    {
        let _gate = match &self.write_gate {
            Some(gate) => Some(gate.lock().await),
            None => None,
        };
        let txn = self.db.begin().await?;
        match f(&txn).await {
            Ok(value) => {
                txn.commit().await?;
                Ok(value)
            }
            Err(e) => {
                txn.rollback().await?;
                Err(e)
            }
        }
    }
}

/// Splits rows into chunks whose lengths are powers of two (at most 256),
/// largest first. A multi-row statement's SQL text depends on its row count;
/// keeping to nine counts lets the driver reuse its prepared statements
/// instead of preparing a new one for every batch size.
pub fn pow2_chunks<T>(mut rows: &[T]) -> impl Iterator<Item = &[T]> {
    std::iter::from_fn(move || {
        if rows.is_empty() {
            return None;
        }
        let n = rows.len().min(256);
        let size = 1usize << (usize::BITS - 1 - n.leading_zeros());
        let (head, tail) = rows.split_at(size);
        rows = tail;
        Some(head)
    })
}

/// The SQL type of a column in a bulk write (see [`insert_rows`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlType {
    /// `BIGINT` (quantities, ids).
    BigInt,
    /// `INTEGER`.
    Int,
    /// `TEXT` / `VARCHAR`.
    Text,
    /// `BOOLEAN`.
    Bool,
    /// `TIMESTAMPTZ`.
    Timestamp,
}

impl SqlType {
    /// A value of the type standing in for NULL in an array (see `pg_columns`).
    fn placeholder(self) -> Value {
        match self {
            SqlType::BigInt => Value::BigInt(Some(0)),
            SqlType::Int => Value::Int(Some(0)),
            SqlType::Text => Value::String(Some(String::new())),
            SqlType::Bool => Value::Bool(Some(false)),
            SqlType::Timestamp => Value::ChronoDateTimeUtc(Some(chrono::DateTime::UNIX_EPOCH)),
        }
    }

    fn pg_array(self) -> (&'static str, sea_orm::sea_query::ArrayType) {
        use sea_orm::sea_query::ArrayType;
        match self {
            SqlType::BigInt => ("bigint[]", ArrayType::BigInt),
            SqlType::Int => ("integer[]", ArrayType::Int),
            SqlType::Text => ("text[]", ArrayType::String),
            SqlType::Bool => ("boolean[]", ArrayType::Bool),
            SqlType::Timestamp => ("timestamptz[]", ArrayType::ChronoDateTimeUtc),
        }
    }
}

/// The arrays for PostgreSQL's `UNNEST`, one per column (the driver binds
/// arrays without NULL elements only, so a column with NULLs gets a second,
/// boolean array marking them), appended to `values` (parameters are
/// numbered after those already there): the array parameters with their
/// casts, the names of the unnested columns (`c0`, `c1`, `c1_null`, ..),
/// and per column the expression that reads it back (`u.c0`, `CASE WHEN
/// u.c1_null THEN NULL ELSE u.c1 END`).
fn pg_columns(
    columns: &[(&str, SqlType)],
    rows: &[Vec<Value>],
    values: &mut Vec<Value>,
) -> (Vec<String>, Vec<String>, Vec<String>) {
    let (mut casts, mut aliases, mut exprs) = (Vec::new(), Vec::new(), Vec::new());
    for (j, (_, ty)) in columns.iter().enumerate() {
        let (cast, array) = ty.pg_array();
        let nulls: Vec<bool> = rows.iter().map(|r| !r[j].is_some()).collect();
        let filled: Vec<Value> =
            rows.iter().map(|r| if r[j].is_some() { r[j].clone() } else { ty.placeholder() }).collect();
        values.push(Value::Array(array, Some(Box::new(filled))));
        casts.push(format!("${}::{cast}", values.len()));
        aliases.push(format!("c{j}"));
        if nulls.contains(&true) {
            values.push(Value::Array(
                sea_orm::sea_query::ArrayType::Bool,
                Some(Box::new(nulls.into_iter().map(Value::from).collect())),
            ));
            casts.push(format!("${}::boolean[]", values.len()));
            aliases.push(format!("c{j}_null"));
            exprs.push(format!("CASE WHEN u.c{j}_null THEN NULL ELSE u.c{j} END"));
        } else {
            exprs.push(format!("u.c{j}"));
        }
    }
    (casts, aliases, exprs)
}

/// A PostgreSQL `text[]` parameter of `values`, for look-ups and upserts
/// that join `UNNEST`ed arrays (one statement text whatever the count).
pub fn text_array<'a>(values: impl Iterator<Item = &'a String>) -> Value {
    Value::Array(
        sea_orm::sea_query::ArrayType::String,
        Some(Box::new(values.map(|v| Value::from(v.clone())).collect())),
    )
}

/// A PostgreSQL `bigint[]` parameter of `values` (ids for `= ANY($n)`).
pub fn bigint_array(values: impl Iterator<Item = i64>) -> Value {
    Value::Array(sea_orm::sea_query::ArrayType::BigInt, Some(Box::new(values.map(Value::from).collect())))
}

/// Rows for one table (values in `columns` order), for [`insert_rows_together`].
pub struct TableRows<'a> {
    /// The table.
    pub table: &'a str,
    /// Its columns and their types.
    pub columns: &'a [(&'a str, SqlType)],
    /// The rows.
    pub rows: &'a [Vec<Value>],
}

/// Inserts rows (values in `columns` order) and returns their new `id`s in
/// row order when `returning_id`. On PostgreSQL one statement whatever the
/// count (`INSERT .. SELECT * FROM UNNEST($1::type[], ..)`), so it is
/// prepared once per connection and costs one round trip; on SQLite
/// multi-row `VALUES` in power-of-two chunks.
pub async fn insert_rows(
    conn: &impl ConnectionTrait,
    table: &str,
    columns: &[(&str, SqlType)],
    rows: &[Vec<Value>],
    returning_id: bool,
) -> Result<Vec<i64>, DbErr> {
    insert_rows_together(conn, &[TableRows { table, columns, rows }], returning_id).await
}

/// [`insert_rows`] for several tables at once, returning the new ids of the
/// first table's rows when `returning_id`. On PostgreSQL they are one
/// statement (the other tables' inserts are data-modifying `WITH` clauses),
/// so a batch pays one round trip for all its records.
pub async fn insert_rows_together(
    conn: &impl ConnectionTrait,
    tables: &[TableRows<'_>],
    returning_id: bool,
) -> Result<Vec<i64>, DbErr> {
    write_rows_together(conn, &[], tables, returning_id).await
}

/// Updates rows by `id` ([`update_rows_together`]) and inserts rows
/// ([`insert_rows_together`], returning the new ids of the first insert
/// table's rows when `returning_id`). On PostgreSQL all of it is one
/// statement: a batch's round trips are most of its latency.
pub async fn write_rows_together(
    conn: &impl ConnectionTrait,
    updates: &[TableRows<'_>],
    inserts: &[TableRows<'_>],
    returning_id: bool,
) -> Result<Vec<i64>, DbErr> {
    let mut ids = write_rows_returning(conn, updates, inserts, usize::from(returning_id)).await?;
    Ok(if ids.is_empty() { Vec::new() } else { ids.swap_remove(0) })
}

/// [`write_rows_together`], returning the new ids of each of the first
/// `returning` insert tables' rows (in row order, one list per table).
pub async fn write_rows_returning(
    conn: &impl ConnectionTrait,
    updates: &[TableRows<'_>],
    inserts: &[TableRows<'_>],
    returning: usize,
) -> Result<Vec<Vec<i64>>, DbErr> {
    let backend = conn.get_database_backend();
    let mut ids = vec![Vec::new(); returning.min(inserts.len())];
    if backend != DbBackend::Postgres {
        sqlite_update_rows(conn, updates).await?;
        return sqlite_insert_rows(conn, inserts, returning).await;
    }
    let mut values = Vec::new();
    // (clause, the insert table whose ids it returns)
    let mut clauses: Vec<(String, Option<usize>)> = Vec::new();
    for (i, t) in inserts.iter().enumerate().filter(|(_, t)| !t.rows.is_empty()) {
        clauses.push((pg_insert(t, i < returning, &mut values), (i < returning).then_some(i)));
    }
    for t in updates.iter().filter(|t| !t.rows.is_empty()) {
        let mut all = vec![("id", SqlType::BigInt)];
        all.extend_from_slice(t.columns);
        let (casts, aliases, exprs) = pg_columns(&all, t.rows, &mut values);
        let sets = t
            .columns
            .iter()
            .zip(&exprs[1..])
            .map(|((c, _), e)| format!("\"{c}\" = {e}"))
            .collect::<Vec<_>>()
            .join(", ");
        clauses.push((
            format!(
                "UPDATE \"{}\" AS t SET {sets} FROM UNNEST({}) AS u({}) WHERE t.id = u.c0",
                t.table,
                casts.join(", "),
                aliases.join(", ")
            ),
            None,
        ));
    }
    let returned: Vec<usize> = clauses.iter().filter_map(|(_, r)| *r).collect();
    let sql = match returned.as_slice() {
        // The first clause is the main statement (with the RETURNING, if any).
        [] | [_] => {
            let Some(((main, _), rest)) = clauses.split_first() else { return Ok(ids) };
            let with: Vec<String> = rest.iter().enumerate().map(|(k, (sql, _))| format!("w{k} AS ({sql})")).collect();
            if with.is_empty() { main.clone() } else { format!("WITH {} {main}", with.join(", ")) }
        }
        // Several tables' ids: every clause is a `WITH`, and the statement
        // reads the returned ids back, tagged with their table.
        _ => {
            let with: Vec<String> =
                clauses.iter().enumerate().map(|(k, (sql, _))| format!("w{k} AS ({sql})")).collect();
            let reads: Vec<String> = clauses
                .iter()
                .enumerate()
                .filter_map(|(k, (_, r))| r.map(|i| format!("SELECT {i}::bigint AS t, id FROM w{k}")))
                .collect();
            format!("WITH {} {}", with.join(", "), reads.join(" UNION ALL "))
        }
    };
    let statement = Statement::from_sql_and_values(backend, sql, values);
    if returned.is_empty() {
        conn.execute_raw(statement).await?;
        return Ok(ids);
    }
    let several = returned.len() > 1;
    for row in conn.query_all_raw(statement).await? {
        let table = if several { row.try_get::<i64>("", "t")? as usize } else { returned[0] };
        ids[table].push(row.try_get::<i64>("", "id")?);
    }
    // Ids come from the sequence in row order.
    for list in &mut ids {
        list.sort_unstable();
    }
    Ok(ids)
}

/// PostgreSQL's `INSERT .. SELECT .. FROM UNNEST(..)` of `t`'s rows, its
/// parameters appended to `values`.
fn pg_insert(t: &TableRows<'_>, returning_id: bool, values: &mut Vec<Value>) -> String {
    let names = t.columns.iter().map(|(c, _)| format!("\"{c}\"")).collect::<Vec<_>>().join(", ");
    let (casts, aliases, exprs) = pg_columns(t.columns, t.rows, values);
    format!(
        "INSERT INTO \"{}\" ({names}) SELECT {} FROM UNNEST({}) AS u({}){}",
        t.table,
        exprs.join(", "),
        casts.join(", "),
        aliases.join(", "),
        if returning_id { " RETURNING id" } else { "" }
    )
}

/// Runs the query `sql` (parameters `values`, `$1` on) after inserting
/// `inserts`, and returns its rows. On PostgreSQL one statement (the inserts
/// are data-modifying `WITH` clauses, so `sql` must not read their tables):
/// a caller saves the round trip of its records by sending them with its
/// last statement. On SQLite the inserts go first, then `sql`.
pub async fn query_after_inserts(
    conn: &impl ConnectionTrait,
    sql: &str,
    mut values: Vec<Value>,
    inserts: &[TableRows<'_>],
) -> Result<Vec<sea_orm::QueryResult>, DbErr> {
    let backend = conn.get_database_backend();
    if backend != DbBackend::Postgres {
        sqlite_insert_rows(conn, inserts, 0).await?;
        return conn.query_all_raw(Statement::from_sql_and_values(backend, sql, values)).await;
    }
    let with: Vec<String> = inserts
        .iter()
        .filter(|t| !t.rows.is_empty())
        .enumerate()
        .map(|(k, t)| format!("w{k} AS ({})", pg_insert(t, false, &mut values)))
        .collect();
    let sql = if with.is_empty() { sql.to_owned() } else { format!("WITH {} {sql}", with.join(", ")) };
    conn.query_all_raw(Statement::from_sql_and_values(backend, sql, values)).await
}

/// SQLite's inserts for [`write_rows_together`]: multi-row `VALUES` in
/// power-of-two chunks.
async fn sqlite_insert_rows(
    conn: &impl ConnectionTrait,
    tables: &[TableRows<'_>],
    returning: usize,
) -> Result<Vec<Vec<i64>>, DbErr> {
    let backend = conn.get_database_backend();
    let mut ids = vec![Vec::new(); returning.min(tables.len())];
    for (i, t) in tables.iter().enumerate() {
        let names = t.columns.iter().map(|(c, _)| format!("\"{c}\"")).collect::<Vec<_>>().join(", ");
        let returning_id = i < returning;
        let returning = if returning_id { " RETURNING id" } else { "" };
        let one = format!("({})", vec!["?"; t.columns.len()].join(", "));
        for chunk in pow2_chunks(t.rows) {
            let sql = format!(
                "INSERT INTO \"{}\" ({names}) VALUES {}{returning}",
                t.table,
                vec![one.as_str(); chunk.len()].join(", ")
            );
            let values: Vec<Value> = chunk.iter().flat_map(|r| r.iter().cloned()).collect();
            let statement = Statement::from_sql_and_values(backend, sql, values);
            if returning_id {
                let mut found = Vec::new();
                for row in conn.query_all_raw(statement).await? {
                    found.push(row.try_get::<i64>("", "id")?);
                }
                found.sort_unstable();
                ids[i].extend(found);
            } else {
                conn.execute_raw(statement).await?;
            }
        }
    }
    Ok(ids)
}

/// Updates rows by `id`: each row is the id followed by the new values of
/// `columns`. On PostgreSQL one statement (`UPDATE .. FROM UNNEST(..)`); on
/// SQLite one prepared `UPDATE` per row (in-process, cheap).
pub async fn update_rows(
    conn: &impl ConnectionTrait,
    table: &str,
    columns: &[(&str, SqlType)],
    rows: &[Vec<Value>],
) -> Result<(), DbErr> {
    update_rows_together(conn, &[TableRows { table, columns, rows }]).await
}

/// [`update_rows`] for several tables at once: on PostgreSQL one statement
/// (the other tables' updates are data-modifying `WITH` clauses).
pub async fn update_rows_together(conn: &impl ConnectionTrait, tables: &[TableRows<'_>]) -> Result<(), DbErr> {
    write_rows_together(conn, tables, &[], false).await?;
    Ok(())
}

/// SQLite's updates for [`write_rows_together`]: one prepared `UPDATE` per row.
async fn sqlite_update_rows(conn: &impl ConnectionTrait, tables: &[TableRows<'_>]) -> Result<(), DbErr> {
    let backend = conn.get_database_backend();
    for t in tables {
        let sets = t.columns.iter().map(|(c, _)| format!("\"{c}\" = ?")).collect::<Vec<_>>().join(", ");
        let sql = format!("UPDATE \"{}\" SET {sets} WHERE id = ?", t.table);
        for row in t.rows {
            let mut values: Vec<Value> = row[1..].to_vec();
            values.push(row[0].clone());
            conn.execute_raw(Statement::from_sql_and_values(backend, sql.clone(), values)).await?;
        }
    }
    Ok(())
}

/// Splits keys for an `IN (...)` look-up into chunks of up to 256, each
/// padded to a power of two by repeating its last key (a repeated key
/// changes nothing in an `IN` list): one statement per 256 keys, and still
/// only nine statement texts to prepare.
pub fn padded_chunks<T: Clone>(keys: &[T]) -> impl Iterator<Item = Vec<T>> + '_ {
    keys.chunks(256).map(|chunk| {
        let mut padded = chunk.to_vec();
        let size = chunk.len().next_power_of_two();
        padded.resize(size, chunk[chunk.len() - 1].clone());
        padded
    })
}

/// Statements that read rows by id: `sql` with each `{ids}` replaced by
/// `= ANY($1)` on PostgreSQL (one statement text whatever the count) or by
/// an `IN (..)` list from [`padded_chunks`] on SQLite (one statement per
/// 256 ids).
pub fn by_ids(backend: DbBackend, sql: &str, ids: &[i64]) -> Vec<Statement> {
    if backend == DbBackend::Postgres {
        let sql = sql.replace("{ids}", "= ANY($1)");
        return vec![Statement::from_sql_and_values(backend, sql, [bigint_array(ids.iter().copied())])];
    }
    let uses = sql.matches("{ids}").count();
    padded_chunks(ids)
        .map(|chunk| {
            let sql = sql.replace("{ids}", &format!("IN ({})", vec!["?"; chunk.len()].join(", ")));
            let values = (0..uses).flat_map(|_| chunk.iter().map(|&id| Value::from(id)));
            Statement::from_sql_and_values(backend, sql, values.collect::<Vec<_>>())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn chunks_are_powers_of_two_and_cover_everything() {
        let rows: Vec<u32> = (0..1000).collect();
        let sizes: Vec<usize> = super::pow2_chunks(&rows).map(<[u32]>::len).collect();
        assert_eq!(sizes, [256, 256, 256, 128, 64, 32, 8]);
        assert_eq!(super::pow2_chunks(&rows[..37]).map(<[u32]>::len).collect::<Vec<_>>(), [32, 4, 1]);
        assert_eq!(super::pow2_chunks::<u32>(&[]).count(), 0);
    }

    #[test]
    fn by_ids_is_one_array_statement_on_postgres_and_padded_lists_on_sqlite() {
        use sea_orm::DbBackend;
        let sql = "SELECT a FROM t WHERE x {ids} UNION ALL SELECT b FROM u WHERE y {ids}";
        let pg = super::by_ids(DbBackend::Postgres, sql, &[1, 2, 3]);
        assert_eq!(pg.len(), 1);
        assert_eq!(pg[0].sql, "SELECT a FROM t WHERE x = ANY($1) UNION ALL SELECT b FROM u WHERE y = ANY($1)");
        assert_eq!(pg[0].values.as_ref().map(|v| v.0.len()), Some(1));
        let ids: Vec<i64> = (0..300).collect();
        let lite = super::by_ids(DbBackend::Sqlite, sql, &ids);
        assert_eq!(lite.len(), 2);
        assert!(lite[1].sql.contains(&format!("y IN ({})", vec!["?"; 64].join(", "))));
        // Each list gets its own copy of the chunk's (padded) ids.
        assert_eq!(lite[0].values.as_ref().map(|v| v.0.len()), Some(512));
        assert_eq!(lite[1].values.as_ref().map(|v| v.0.len()), Some(128));
    }

    #[test]
    fn padded_chunks_repeat_the_last_key_up_to_a_power_of_two() {
        let keys: Vec<u32> = (0..300).collect();
        let chunks: Vec<Vec<u32>> = super::padded_chunks(&keys).collect();
        assert_eq!(chunks.iter().map(Vec::len).collect::<Vec<_>>(), [256, 64]);
        assert_eq!(chunks[1][43..], [299; 21]);
        assert_eq!(super::padded_chunks(&[7u32, 8, 9]).collect::<Vec<_>>(), [vec![7, 8, 9, 9]]);
        assert_eq!(super::padded_chunks::<u32>(&[]).count(), 0);
    }
}
