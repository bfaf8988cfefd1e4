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
            options.max_connections(32).min_connections(2);
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
