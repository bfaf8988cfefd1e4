//! Helpers shared by the CLI test files.

use std::process::Command;

/// Database URLs for one test of the real binary: a fresh SQLite file under
/// a `kind` folder and, unless `TAKT_TEST_POSTGRES=off`, a fresh PostgreSQL
/// database made with `psql`.
pub fn databases(kind: &str, tag: &str) -> Vec<String> {
    let dir = std::env::temp_dir().join(format!("takt-{kind}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("{tag}.db"));
    let _ = std::fs::remove_file(&file);
    let mut urls = vec![format!("sqlite://{}?mode=rwc", file.display())];
    let base = std::env::var("TAKT_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    if base != "off" {
        let name = format!("takt_s{}_{tag}", std::process::id());
        let status = Command::new("psql")
            .args([
                &base,
                "-q",
                "-c",
                &format!("DROP DATABASE IF EXISTS {name}"),
                "-c",
                &format!("CREATE DATABASE {name}"),
            ])
            .status();
        match status {
            Ok(s) if s.success() => {
                let (prefix, _) = base.rsplit_once('/').unwrap();
                urls.push(format!("{prefix}/{name}"));
            }
            other => panic!("PostgreSQL at {base} is needed (or TAKT_TEST_POSTGRES=off): psql gave {other:?}"),
        }
    }
    urls
}
