//! `takt serve`, `takt token` and `takt scenario`: the control plane's
//! commands. Each opens the database (migrating it) and works through the
//! same `store` services as the API.

use std::path::PathBuf;

use anyhow::Context;
use store::Store;
use store::access;
use store::names::Role;

use crate::Refused;

/// Where the database is: `--database`, else `DATABASE_URL`, else an SQLite
/// file `takt.db` in the working directory.
#[derive(clap::Args, Clone)]
pub struct DbArgs {
    /// Database URL: `sqlite://FILE?mode=rwc` or `postgres://user@host/db`.
    #[arg(long, env = "DATABASE_URL", default_value = store::DEFAULT_DATABASE_URL)]
    database: String,
}

/// `takt serve`.
#[derive(clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    db: DbArgs,
    /// Address to listen on.
    #[arg(long, env = "TAKT_LISTEN", default_value = "127.0.0.1:8080")]
    listen: String,
    /// Import this scenario file into the database before serving.
    #[arg(long, value_name = "SCENARIO")]
    import: Option<PathBuf>,
    #[command(flatten)]
    temporal: crate::temporal::TemporalArgs,
    /// Also run a workflow worker in this process. Without TEMPORAL_ADDRESS
    /// it uses a local Temporal dev server, starting one if none runs.
    #[arg(long)]
    worker: bool,
}

/// `takt token ...`.
#[derive(clap::Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it (shown only once).
    Create {
        #[command(flatten)]
        db: DbArgs,
        /// Unique name: the person or system that will use it.
        #[arg(long)]
        name: String,
        /// planner, operator, inspector, erp or admin.
        #[arg(long)]
        role: String,
    },
    /// List tokens (names and roles, never secrets).
    List {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Revoke a token by name.
    Revoke {
        #[command(flatten)]
        db: DbArgs,
        /// The token's name.
        name: String,
    },
}

/// `takt scenario ...`.
#[derive(clap::Subcommand)]
pub enum ScenarioCommand {
    /// Import an mrp-scenario/1 file into the database (all or nothing).
    Import {
        #[command(flatten)]
        db: DbArgs,
        /// The scenario file.
        file: PathBuf,
        /// Location that receives the file's on-hand and on-hold stock.
        #[arg(long, default_value = "MAIN")]
        location: String,
    },
    /// Export the live data as an mrp-scenario/1 file: what an MRP run plans.
    Export {
        #[command(flatten)]
        db: DbArgs,
        /// Write here instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Scenario name.
        #[arg(long, default_value = "live")]
        name: String,
        /// Horizon start (default: the stored planning calendar's).
        #[arg(long)]
        start: Option<chrono::NaiveDate>,
        /// Days per bucket.
        #[arg(long)]
        bucket_days: Option<u32>,
        /// Number of buckets.
        #[arg(long)]
        periods: Option<u32>,
    },
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")
}

pub(crate) async fn open(db: &DbArgs) -> anyhow::Result<Store> {
    Store::connect(&db.database).await.with_context(|| format!("opening the database {}", redact(&db.database)))
}

/// The URL without a password.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => match url[s + 3..at].find(':') {
            Some(c) => format!("{}:***{}", &url[..s + 3 + c], &url[at..]),
            None => url.to_owned(),
        },
        _ => url.to_owned(),
    }
}

fn store_error(e: store::StoreError) -> anyhow::Error {
    match e {
        store::StoreError::Database(db) => anyhow::Error::new(db).context("database"),
        other => Refused(other.to_string()).into(),
    }
}

fn parse_role(text: &str) -> Result<Role, Refused> {
    Role::parse(text).ok_or_else(|| Refused(format!("--role: '{text}' is not one of {}", Role::expected())))
}

async fn import_file(
    store: &Store,
    file: &std::path::Path,
    location: &str,
) -> anyhow::Result<store::scenario_io::ImportSummary> {
    let text = crate::read_input(file)?;
    let scenario = mrp::parse_scenario(&text).map_err(|e| Refused(format!("{}: {e}", file.display())))?;
    let location = location.to_owned();
    store
        .write(move |txn| {
            Box::pin(async move {
                let summary = store::scenario_io::import_scenario(txn, "takt-cli", &scenario, &location).await?;
                let caller = access::Caller { name: "takt-cli".into(), role: Role::Admin };
                let entry = access::AuditEntry {
                    entity: "scenario",
                    entity_id: Some(scenario.name.clone()),
                    detail: Some(format!("{summary:?}")),
                };
                access::record_audit(txn, &caller, "takt scenario import", &entry).await?;
                Ok(summary)
            })
        })
        .await
        .map_err(|e| match e {
            store::StoreError::Database(_) => store_error(e),
            other => Refused(format!("{}: {other}", file.display())).into(),
        })
}

/// Runs `takt serve`.
pub fn serve(args: ServeArgs) -> anyhow::Result<()> {
    runtime()?.block_on(async move {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("TAKT_LOG").unwrap_or_else(|_| "info".into()))
            .with_writer(std::io::stderr)
            .init();
        let store = open(&args.db).await?;
        if let Some(file) = &args.import {
            let summary = import_file(&store, file, "MAIN").await?;
            eprintln!("imported {}: {summary:?}", file.display());
        }
        bootstrap_admin(&store).await?;
        prune_idempotency_keys(store.clone());
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .with_context(|| format!("listening on {}", args.listen))?;
        eprintln!(
            "takt serve: listening on http://{} ({}); OpenAPI at /openapi.json",
            listener.local_addr()?,
            redact(&args.db.database)
        );
        let mut state = api::AppState::new(store.clone());
        let mut _worker = None;
        let mut _dev_server = None;
        let config = match args.temporal.config() {
            Some(config) => Some(config),
            None if args.worker => {
                let (address, server) = local_temporal()?;
                _dev_server = server;
                Some(args.temporal.config_at(address))
            }
            None => None,
        };
        if let Some(config) = config {
            let engine = workflows::Engine::connect(config.clone()).await.context("connecting to Temporal")?;
            state = state.with_workflows(engine);
            if args.worker {
                _worker = Some(
                    workflows::WorkerThread::spawn(config.clone(), args.db.database.clone(), Some(store))
                        .context("starting the worker")?,
                );
            }
            eprintln!(
                "takt serve: workflows on {} (task queue {}{})",
                config.address,
                config.task_queue,
                if args.worker { ", worker in-process" } else { "" }
            );
        }
        api::serve(listener, state).await.context("serving")?;
        Ok(())
    })
}

/// A local Temporal for `takt serve --worker` without `TEMPORAL_ADDRESS`:
/// a dev server already listening on 127.0.0.1:7233, or one started here
/// (state in `temporal-dev.db` in the working directory, Web UI on port
/// 8233), which stops with `takt serve`.
fn local_temporal() -> anyhow::Result<(String, Option<workflows::devserver::DevServer>)> {
    const LOCAL: &str = "127.0.0.1:7233";
    if std::net::TcpStream::connect(LOCAL).is_ok() {
        eprintln!("takt serve: using the Temporal server on {LOCAL}");
        return Ok((LOCAL.to_owned(), None));
    }
    let db = std::path::Path::new("temporal-dev.db");
    let server = workflows::devserver::DevServer::start_persistent(db, std::time::Duration::from_secs(60))
        .context("starting a local Temporal dev server (set TEMPORAL_ADDRESS to use another)")?;
    eprintln!(
        "takt serve: started a Temporal dev server on {} (state in {}, Web UI http://127.0.0.1:{})",
        server.address,
        db.display(),
        server.ui_port
    );
    Ok((server.address.clone(), Some(server)))
}

/// How long a stored response answers a repeated `Idempotency-Key`:
/// `TAKT_IDEMPOTENCY_DAYS`, default 7.
fn idempotency_days() -> i64 {
    std::env::var("TAKT_IDEMPOTENCY_DAYS").ok().and_then(|d| d.parse().ok()).filter(|d| *d >= 1).unwrap_or(7)
}

/// Hourly, forgets stored responses older than the retention.
fn prune_idempotency_keys(store: Store) {
    let days = idempotency_days();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            every.tick().await;
            let before = chrono::Utc::now() - chrono::Duration::days(days);
            if let Err(e) = access::prune_responses(store.conn(), before).await {
                eprintln!("takt serve: pruning idempotency keys failed: {e}");
            }
        }
    });
}

/// Makes sure someone can log in: `TAKT_ADMIN_TOKEN` is installed as an
/// admin token; with no token at all, one is created and printed once.
async fn bootstrap_admin(store: &Store) -> anyhow::Result<()> {
    if let Ok(secret) = std::env::var("TAKT_ADMIN_TOKEN") {
        if access::find_caller(store.conn(), &secret).await.map_err(store_error)?.is_none() {
            let name = format!("admin-env-{}", &access::sha256_hex(secret.as_bytes())[..8]);
            store
                .write(move |txn| {
                    Box::pin(async move { access::create_token(txn, &name, Role::Admin, Some(&secret)).await })
                })
                .await
                .map_err(store_error)?;
        }
        return Ok(());
    }
    if access::active_token_count(store.conn()).await.map_err(store_error)? == 0 {
        let (secret, _) = store
            .write(|txn| Box::pin(async move { access::create_token(txn, "admin", Role::Admin, None).await }))
            .await
            .map_err(store_error)?;
        eprintln!("takt serve: no tokens existed; created admin token (shown only now):\n  {secret}");
    }
    Ok(())
}

/// Runs `takt token ...`.
pub fn token(cmd: TokenCommand) -> anyhow::Result<()> {
    runtime()?.block_on(async move {
        match cmd {
            TokenCommand::Create { db, name, role } => {
                let role = parse_role(&role)?;
                let store = open(&db).await?;
                let (secret, _) = store
                    .write(move |txn| Box::pin(async move { access::create_token(txn, &name, role, None).await }))
                    .await
                    .map_err(store_error)?;
                println!("{secret}");
            }
            TokenCommand::List { db } => {
                let store = open(&db).await?;
                for t in access::list_tokens(store.conn()).await.map_err(store_error)? {
                    let revoked = t.revoked_at.map(|r| format!("  revoked {r}")).unwrap_or_default();
                    println!("{:<24} {:<10} created {}{}", t.name, t.role, t.created_at, revoked);
                }
            }
            TokenCommand::Revoke { db, name } => {
                let store = open(&db).await?;
                store
                    .write(move |txn| Box::pin(async move { access::revoke_token(txn, &name).await }))
                    .await
                    .map_err(store_error)?;
            }
        }
        Ok(())
    })
}

/// Runs `takt scenario ...`.
pub fn scenario(cmd: ScenarioCommand) -> anyhow::Result<()> {
    runtime()?.block_on(async move {
        match cmd {
            ScenarioCommand::Import { db, file, location } => {
                let store = open(&db).await?;
                let summary = import_file(&store, &file, &location).await?;
                println!("{}", serde_json::to_string_pretty(&summary)?);
            }
            ScenarioCommand::Export { db, output, name, start, bucket_days, periods } => {
                let store = open(&db).await?;
                let default = store::planning::default_calendar(store.conn()).await.map_err(store_error)?;
                let calendar = store::planning::CalendarBody {
                    start: start.unwrap_or(default.start),
                    bucket_days: bucket_days.unwrap_or(default.bucket_days),
                    periods: periods.unwrap_or(default.periods),
                };
                let text = store::scenario_io::export_scenario(store.conn(), &name, Some(calendar))
                    .await
                    .map_err(store_error)?;
                let mut out = crate::open_output(output.as_deref())?;
                out.write_all(text.as_bytes())?;
                out.write_all(b"\n")?;
                out.flush()?;
            }
        }
        Ok(())
    })
}

use std::io::Write;
