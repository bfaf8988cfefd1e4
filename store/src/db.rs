//! The database handle: connection pool, migrations, and the one way to run
//! a write transaction.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use migrations::Migrator;
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, TransactionTrait};
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
    fn padded_chunks_repeat_the_last_key_up_to_a_power_of_two() {
        let keys: Vec<u32> = (0..300).collect();
        let chunks: Vec<Vec<u32>> = super::padded_chunks(&keys).collect();
        assert_eq!(chunks.iter().map(Vec::len).collect::<Vec<_>>(), [256, 64]);
        assert_eq!(chunks[1][43..], [299; 21]);
        assert_eq!(super::padded_chunks(&[7u32, 8, 9]).collect::<Vec<_>>(), [vec![7, 8, 9, 9]]);
        assert_eq!(super::padded_chunks::<u32>(&[]).count(), 0);
    }
}
