//! Helpers shared by the API test files.

use std::sync::atomic::{AtomicU32, Ordering};

use sea_orm::ConnectionTrait;

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A number no other call in this test process gets.
pub fn unique() -> u32 {
    NEXT.fetch_add(1, Ordering::SeqCst)
}

/// Database URLs for one test: a fresh SQLite file and, unless
/// `TAKT_TEST_POSTGRES=off`, a fresh PostgreSQL database (from
/// `TAKT_TEST_POSTGRES`, default `postgres://postgres@127.0.0.1:5432/test`).
/// `kind` tells the files and databases of one test file apart.
pub async fn databases(kind: &str) -> Vec<String> {
    let n = unique();
    let tag = format!("{}_{}_{}", std::process::id(), n, chrono::Utc::now().timestamp_micros() % 1_000_000);
    let dir = std::env::temp_dir().join(format!("takt-{kind}-tests"));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("{kind}{tag}.db"));
    let mut urls = vec![format!("sqlite://{}?mode=rwc", file.display())];
    let base = std::env::var("TAKT_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    if base != "off" {
        let admin = sea_orm::Database::connect(&base).await.unwrap_or_else(|e| {
            panic!("PostgreSQL at {base} is needed for the tests (or TAKT_TEST_POSTGRES=off): {e}")
        });
        let name = format!("takt_t{kind}{tag}");
        admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.unwrap();
        let (prefix, _) = base.rsplit_once('/').unwrap();
        urls.push(format!("{prefix}/{name}"));
    }
    urls
}
