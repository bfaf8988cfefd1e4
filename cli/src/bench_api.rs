//! `takt bench-api`: a load generator for the control plane. It starts
//! `takt serve` as a separate process on a fresh database, sets up items and
//! locations, then drives it over loopback from many concurrent clients:
//! movement postings and shop-floor operation reports (each acknowledged
//! only after its commit), and inventory look-ups. Prints a Markdown table
//! for the README.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::json;

/// Arguments of `takt bench-api`.
#[derive(clap::Args)]
pub struct BenchApiArgs {
    /// Database for the server under test. Use a scratch database: the
    /// benchmark writes to it. Default: a fresh SQLite file in `--dir`.
    #[arg(long)]
    database: Option<String>,
    /// Concurrent clients posting movements, and terminals reporting on
    /// operations (one work order each).
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// Concurrent clients looking up stock (a terminal or dashboard load:
    /// latency, not saturation, is what this phase measures).
    #[arg(long, default_value_t = 8)]
    lookup_clients: usize,
    /// Seconds of each measured phase.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Items the postings spread over.
    #[arg(long, default_value_t = 1000)]
    items: usize,
    /// Scratch directory for the default SQLite database.
    #[arg(long, default_value = "bench-out")]
    dir: std::path::PathBuf,
    /// Phases to run, in this order: `postings`, `reports`, `lookups`.
    #[arg(long, value_delimiter = ',', default_value = "postings,reports,lookups")]
    phases: Vec<BenchPhase>,
}

/// A measured phase of `takt bench-api`.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BenchPhase {
    /// Movement postings (`POST /movements`).
    Postings,
    /// Operation reports (`POST /work-orders/{id}/operations/{seq}/reports`).
    Reports,
    /// Stock look-ups (`GET /inventory/items/{id}`).
    Lookups,
}

impl BenchPhase {
    fn name(self) -> &'static str {
        match self {
            BenchPhase::Postings => "movement postings",
            BenchPhase::Reports => "operation reports",
            BenchPhase::Lookups => "inventory look-ups",
        }
    }
}

const TOKEN: &str = "bench-api-admin-token-000001";

struct Phase {
    name: &'static str,
    count: usize,
    errors: usize,
    seconds: f64,
    latencies: Vec<Duration>,
}

impl Phase {
    fn percentile(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return 0.0;
        }
        let i = ((self.latencies.len() as f64 * p).ceil() as usize).clamp(1, self.latencies.len()) - 1;
        self.latencies[i].as_secs_f64() * 1000.0
    }
}

/// Runs the benchmark.
pub fn run(args: BenchApiArgs) -> anyhow::Result<()> {
    if args.clients == 0 || args.lookup_clients == 0 || args.items == 0 || args.seconds == 0 || args.phases.is_empty() {
        bail!(crate::Refused(
            "--clients, --lookup-clients, --items and --seconds must be at least 1, and --phases not empty".into()
        ));
    }
    std::fs::create_dir_all(&args.dir).with_context(|| format!("creating {}", args.dir.display()))?;
    let database = match &args.database {
        Some(d) => d.clone(),
        None => {
            let file = args.dir.join("bench-api.db");
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
            }
            format!("sqlite://{}?mode=rwc", file.display())
        }
    };
    let mut child = Command::new(std::env::current_exe()?)
        .args(["serve", "--listen", "127.0.0.1:0", "--database", &database])
        .env("TAKT_ADMIN_TOKEN", TOKEN)
        .env("TAKT_LOG", std::env::var("TAKT_LOG").unwrap_or_else(|_| "warn".into()))
        .stderr(Stdio::piped())
        .spawn()
        .context("starting takt serve")?;
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(child.stderr.take().expect("piped")));
    let base = loop {
        let line = lines.next().context("takt serve exited before listening")??;
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.split_whitespace().next().unwrap_or_default().to_owned();
        }
    };
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            eprintln!("{line}");
        }
    });
    let outcome = tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(drive(&args, &base));
    let _ = child.kill();
    let _ = child.wait();
    let phases = outcome?;
    println!(
        "Load on `takt serve` ({}) over loopback: {} posting clients, {} look-up clients, {} s per phase, {} items:\n",
        if database.starts_with("postgres") { "PostgreSQL" } else { "SQLite" },
        args.clients,
        args.lookup_clients,
        args.seconds,
        args.items
    );
    println!("| phase | requests | errors | per second | p50 ms | p95 ms | p99 ms | max ms |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for p in &phases {
        println!(
            "| {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} |",
            p.name,
            p.count,
            p.errors,
            p.count as f64 / p.seconds,
            p.percentile(0.50),
            p.percentile(0.95),
            p.percentile(0.99),
            p.percentile(1.0)
        );
    }
    Ok(())
}

async fn drive(args: &BenchApiArgs, base: &str) -> anyhow::Result<Vec<Phase>> {
    let client = reqwest::Client::builder().pool_max_idle_per_host(args.clients).build()?;
    let put = |path: String, body: serde_json::Value| {
        let client = client.clone();
        let url = format!("{base}{path}");
        async move {
            let resp = client.put(url).bearer_auth(TOKEN).json(&body).send().await?;
            if !resp.status().is_success() {
                bail!("set-up failed: {} {}", resp.status(), resp.text().await.unwrap_or_default());
            }
            Ok(())
        }
    };
    put("/locations/MAIN".into(), json!({"id": "MAIN", "kind": "plant_store"})).await?;
    put("/locations/DC-1".into(), json!({"id": "DC-1", "kind": "distribution_centre"})).await?;
    let items: Vec<serde_json::Value> =
        (0..args.items).map(|i| json!({"id": format!("I{i:06}"), "source": "buy"})).collect();
    let resp = client.post(format!("{base}/items/import")).bearer_auth(TOKEN).json(&items).send().await?;
    if !resp.status().is_success() {
        bail!("item import failed: {}", resp.status());
    }
    let work_orders = shop_floor(&client, base, args.clients).await?;
    let mut phases = Vec::new();
    for name in args.phases.iter().map(|p| p.name()) {
        let deadline = Instant::now() + Duration::from_secs(args.seconds);
        let started = Instant::now();
        let mut tasks = Vec::new();
        let clients = if name == "inventory look-ups" { args.lookup_clients } else { args.clients };
        let addr = base.trim_start_matches("http://").to_owned();
        for c in 0..clients {
            let addr = addr.clone();
            let items = args.items;
            let work_order = work_orders[c % work_orders.len()];
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut errors = 0usize;
                let mut n = c as u64;
                let mut report_n = 0usize;
                let mut conn: Option<Http1> = None;
                while Instant::now() < deadline {
                    n = n.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    let item = format!("I{:06}", (n >> 33) as usize % items);
                    // Requests are formatted by hand: the generator shares
                    // the machine with the server, so it should cost little.
                    let request = if name == "movement postings" {
                        // Mostly receipts, some transfers of what arrived.
                        let body = if (n >> 20).is_multiple_of(4) {
                            format!(r#"{{"kind":"transfer","item":"{item}","quantity":"0.5","location":"MAIN","to_location":"DC-1"}}"#)
                        } else {
                            format!(r#"{{"kind":"receipt","item":"{item}","quantity":"2.5","location":"MAIN","reason":"bench"}}"#)
                        };
                        Http1::request("POST", "/movements", &[], &body)
                    } else if name == "operation reports" {
                        // One unit good at each operation in turn; the last
                        // one receives finished goods and consumes components.
                        report_n += 1;
                        let sequence = [10, 20, 30][(report_n - 1) % 3];
                        let key = format!("bench-{c}-{report_n}");
                        Http1::request(
                            "POST",
                            &format!("/work-orders/{work_order}/operations/{sequence}/reports"),
                            &[("Idempotency-Key", &key)],
                            r#"{"event":"report","good":1,"labour_hours":"0.01"}"#,
                        )
                    } else {
                        Http1::request("GET", &format!("/inventory/items/{item}"), &[], "")
                    };
                    let t = Instant::now();
                    if conn.is_none() {
                        match Http1::connect(&addr).await {
                            Ok(c) => conn = Some(c),
                            Err(_) => {
                                errors += 1;
                                continue;
                            }
                        }
                    }
                    let Some(open) = conn.as_mut() else { continue };
                    match open.send(&request).await {
                        // A transfer of stock that has not arrived yet is a
                        // correct 409; count it as an answered request.
                        Ok(status)
                            if (200..300).contains(&status) || (status == 409 && name == "movement postings") =>
                        {
                            lat.push(t.elapsed());
                        }
                        Ok(_) => errors += 1,
                        Err(_) => {
                            errors += 1;
                            conn = None;
                        }
                    }
                }
                (lat, errors)
            }));
        }
        let mut latencies = Vec::new();
        let mut errors = 0;
        for t in tasks {
            let (l, e) = t.await?;
            latencies.extend(l);
            errors += e;
        }
        let seconds = started.elapsed().as_secs_f64();
        latencies.sort();
        phases.push(Phase { name, count: latencies.len(), errors, seconds, latencies });
    }
    for check in ["/inventory/reconcile", "/wip/reconcile"] {
        let resp = client.get(format!("{base}{check}")).bearer_auth(TOKEN).send().await?;
        let diff: serde_json::Value = resp.json().await?;
        if diff != json!([]) {
            bail!("{check} found differences after the load: {diff}");
        }
    }
    Ok(phases)
}

/// One keep-alive HTTP/1.1 connection to the server under test, for the
/// measured phases. The generator shares the two cores with the server and
/// PostgreSQL: through reqwest it spent about 60 µs of CPU a report, an
/// eighth of the whole machine's work (now 14-19 µs). This writes a whole
/// request in one call and reads the answer up to its `Content-Length`.
struct Http1 {
    stream: tokio::net::TcpStream,
    buf: Vec<u8>,
}

impl Http1 {
    async fn connect(addr: &str) -> std::io::Result<Http1> {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Http1 { stream, buf: Vec::with_capacity(4096) })
    }

    /// A request's bytes, with the benchmark's bearer token.
    fn request(method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Vec<u8> {
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: takt\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: {}\r\n",
            body.len()
        );
        if !body.is_empty() {
            head.push_str("Content-Type: application/json\r\n");
        }
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(body.as_bytes());
        bytes
    }

    /// Sends a request and reads the whole answer; returns its status.
    async fn send(&mut self, request: &[u8]) -> std::io::Result<u16> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
        self.stream.write_all(request).await?;
        self.buf.clear();
        let mut chunk = [0u8; 4096];
        let head_end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let read = self.stream.read(&mut chunk).await?;
            if read == 0 {
                return Err(bad("connection closed"));
            }
            self.buf.extend_from_slice(&chunk[..read]);
        };
        let head = std::str::from_utf8(&self.buf[..head_end]).map_err(|_| bad("response head"))?;
        let status = head.get(9..12).and_then(|s| s.parse().ok()).ok_or_else(|| bad("status line"))?;
        let length = head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length").then(|| value.trim().parse::<usize>().ok())?
            })
            .ok_or_else(|| bad("no Content-Length"))?;
        while self.buf.len() < head_end + length {
            let read = self.stream.read(&mut chunk).await?;
            if read == 0 {
                return Err(bad("connection closed"));
            }
            self.buf.extend_from_slice(&chunk[..read]);
        }
        Ok(status)
    }
}

/// Sets up one work order per terminal through the API as a planner
/// would: a product with a three-operation routing and a backflushed
/// component, one demand per day, an MRP run, then firm and release every
/// planned order and start its operations. Returns the work order numbers.
async fn shop_floor(client: &reqwest::Client, base: &str, terminals: usize) -> anyhow::Result<Vec<i64>> {
    let call = |method: reqwest::Method, path: String, body: serde_json::Value| {
        let client = client.clone();
        let url = format!("{base}{path}");
        async move {
            let resp = client.request(method, url).bearer_auth(TOKEN).json(&body).send().await?;
            let status = resp.status();
            let value: serde_json::Value = resp.json().await.unwrap_or_default();
            if !status.is_success() {
                bail!("shop-floor set-up {path}: {status} {value}");
            }
            Ok(value)
        }
    };
    use reqwest::Method;
    call(Method::PUT, "/locations/WIP".into(), json!({"id": "WIP", "kind": "wip_area"})).await?;
    for wc in ["CUT", "WELD", "PAINT"] {
        call(Method::PUT, format!("/work-centres/{wc}"), json!({"id": wc, "hours_per_day": 16})).await?;
    }
    let comp = json!({"id": "TUBE", "source": "buy", "allow_negative": true, "backflush": true, "unit_cost": "1.5"});
    call(Method::PUT, "/items/TUBE".into(), comp).await?;
    call(Method::PUT, "/items/FRAME".into(), json!({"id": "FRAME", "source": "make"})).await?;
    call(Method::POST, "/items/FRAME/boms".into(), json!({"lines": [{"component": "TUBE", "quantity": "2.5"}]}))
        .await?;
    let routing = json!([
        {"sequence": 10, "work_centre": "CUT", "run_hours_per_unit": "0.01"},
        {"sequence": 20, "work_centre": "WELD", "run_hours_per_unit": "0.02"},
        {"sequence": 30, "work_centre": "PAINT", "run_hours_per_unit": "0.01"}]);
    call(Method::PUT, "/items/FRAME/routing".into(), routing).await?;
    let start = chrono::NaiveDate::from_ymd_opt(2027, 1, 4).expect("a date");
    let periods = terminals + 2;
    call(Method::PUT, "/settings/calendar".into(), json!({"start": start, "bucket_days": 1, "periods": periods}))
        .await?;
    let demand: Vec<serde_json::Value> = (0..terminals)
        .map(|t| {
            json!({"id": format!("D{t}"), "item": "FRAME", "quantity": 1_000_000, "kind": "order",
            "date": start + chrono::Days::new(t as u64 + 1)})
        })
        .collect();
    call(Method::POST, "/demand/import".into(), json!(demand)).await?;
    let run = call(Method::POST, "/mrp/runs".into(), json!({})).await?;
    let orders = call(Method::GET, format!("/planned-orders?run={}&item=FRAME&limit=1000", run["id"]), json!(null));
    let mut work_orders = Vec::new();
    for po in orders.await?["rows"].as_array().cloned().unwrap_or_default() {
        let id = po["id"].as_i64().unwrap_or_default();
        call(Method::POST, format!("/planned-orders/{id}/firm"), json!(null)).await?;
        let wo = call(Method::POST, "/work-orders".into(), json!({"planned_order": id})).await?;
        let wo = wo["id"].as_i64().unwrap_or_default();
        for (sequence, event) in [(10, "start"), (10, "report"), (20, "start"), (20, "report"), (30, "start")] {
            let body = if event == "start" { json!({"event": event}) } else { json!({"event": event, "good": 1}) };
            let path = format!("/work-orders/{wo}/operations/{sequence}/reports");
            let resp = client
                .post(format!("{base}{path}"))
                .bearer_auth(TOKEN)
                .header("idempotency-key", format!("setup-{wo}-{sequence}-{event}"))
                .json(&body)
                .send()
                .await?;
            if !resp.status().is_success() {
                bail!("shop-floor set-up {path}: {} {}", resp.status(), resp.text().await.unwrap_or_default());
            }
        }
        work_orders.push(wo);
    }
    if work_orders.len() != terminals {
        bail!("expected {terminals} planned orders for FRAME, got {}", work_orders.len());
    }
    Ok(work_orders)
}
