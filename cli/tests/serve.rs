//! `takt serve`, `takt token` and `takt scenario` as a user runs them, on
//! SQLite and PostgreSQL: a kill -9 while clients post movements loses no
//! acknowledged movement, and retries with the same `Idempotency-Key` never
//! post twice.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

const TOKEN: &str = "crash-test-admin-token-0001";

mod common;

fn databases(tag: &str) -> Vec<String> {
    common::databases("serve", tag)
}

/// A running `takt serve` and its base URL.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(database: &str, extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_takt"))
            .args(["serve", "--listen", "127.0.0.1:0", "--database", database])
            .args(extra)
            .env("TAKT_ADMIN_TOKEN", TOKEN)
            .env("TAKT_LOG", "warn")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let base = loop {
            let line = lines.next().expect("takt serve exited before listening").unwrap();
            if let Some(rest) = line.split("listening on ").nth(1) {
                break rest.split_whitespace().next().unwrap().to_owned();
            }
        };
        // Keep draining stderr so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server { child, base }
    }

    fn kill9(mut self) {
        self.child.kill().unwrap(); // SIGKILL on Unix
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn send(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    body: Option<Value>,
    key: Option<&str>,
) -> reqwest::Result<(u16, Value)> {
    let mut req = client.request(method, url).bearer_auth(TOKEN);
    if let Some(b) = body {
        req = req.json(&b);
    }
    if let Some(k) = key {
        req = req.header("idempotency-key", k);
    }
    let resp = req.send().await?;
    let status = resp.status().as_u16();
    let value = resp.json::<Value>().await.unwrap_or(Value::Null);
    Ok((status, value))
}

async fn all_movements(client: &reqwest::Client, base: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut after = String::new();
    loop {
        let url = format!("{base}/movements?limit=1000{after}");
        let (s, page) = send(client, reqwest::Method::GET, url, None, None).await.unwrap();
        assert_eq!(s, 200, "{page}");
        out.extend(page["rows"].as_array().unwrap().iter().cloned());
        match page["next"].as_str() {
            Some(n) => after = format!("&after={n}"),
            None => return out,
        }
    }
}

/// Eight clients post `body` to `url` with unique keys until `server` is
/// killed (kill -9 after 800 ms). Returns the acknowledged keys with the id
/// at `id_field` of their answers, and the keys whose answer never came.
async fn post_until_killed(
    client: &reqwest::Client,
    server: Server,
    url: String,
    body: Value,
    id_field: &'static str,
) -> (Vec<(String, i64)>, Vec<String>) {
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for c in 0..8 {
        let (client, url, body, stop) = (client.clone(), url.clone(), body.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let (mut acked, mut unknown) = (Vec::new(), Vec::new());
            for i in 0.. {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let key = format!("c{c}-{i}");
                match send(&client, reqwest::Method::POST, url.clone(), Some(body.clone()), Some(&key)).await {
                    Ok((201, v)) => acked.push((key, v[id_field].as_i64().unwrap())),
                    Ok((s, v)) => panic!("unexpected {s}: {v}"),
                    Err(_) => {
                        unknown.push(key);
                        break;
                    }
                }
            }
            (acked, unknown)
        }));
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    server.kill9();
    stop.store(true, Ordering::Relaxed);
    let (mut acked, mut unknown) = (Vec::new(), Vec::new());
    for t in tasks {
        let (a, u) = t.await.unwrap();
        acked.extend(a);
        unknown.extend(u);
    }
    (acked, unknown)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_loses_no_acknowledged_movement() {
    for database in databases("crash") {
        let server = Server::start(&database, &[]);
        let client = reqwest::Client::new();
        let base = server.base.clone();
        let put = |path: &str, body: Value| {
            let (client, url) = (client.clone(), format!("{base}{path}"));
            async move { send(&client, reqwest::Method::PUT, url, Some(body), None).await.unwrap() }
        };
        assert_eq!(put("/locations/MAIN", json!({"id": "MAIN", "kind": "plant_store"})).await.0, 200);
        assert_eq!(put("/items/RIVET", json!({"id": "RIVET", "source": "buy"})).await.0, 201);

        // Eight clients post receipts of 1 with unique keys until the server dies.
        let body = json!({"kind": "receipt", "item": "RIVET", "quantity": 1, "location": "MAIN"});
        let (acked, unknown) = post_until_killed(&client, server, format!("{base}/movements"), body, "id").await;
        assert!(acked.len() > 20, "{database}: only {} acknowledged before the kill", acked.len());

        let server = Server::start(&database, &[]);
        let base = server.base.clone();
        let ledger = all_movements(&client, &base).await;
        let ids: std::collections::HashSet<i64> = ledger.iter().map(|m| m["id"].as_i64().unwrap()).collect();
        for (key, id) in &acked {
            assert!(ids.contains(id), "{database}: acknowledged movement {id} ({key}) was lost");
        }
        // Retrying every request with its key: acknowledged ones replay, and
        // the in-flight ones are posted at most once.
        for (key, id) in &acked {
            let body = json!({"kind": "receipt", "item": "RIVET", "quantity": 1, "location": "MAIN"});
            let (s, v) =
                send(&client, reqwest::Method::POST, format!("{base}/movements"), Some(body), Some(key)).await.unwrap();
            assert_eq!((s, v["id"].as_i64()), (201, Some(*id)), "{database}: replay of {key}");
        }
        for key in &unknown {
            let body = json!({"kind": "receipt", "item": "RIVET", "quantity": 1, "location": "MAIN"});
            let (s, _) =
                send(&client, reqwest::Method::POST, format!("{base}/movements"), Some(body), Some(key)).await.unwrap();
            assert_eq!(s, 201);
        }
        let ledger = all_movements(&client, &base).await;
        assert_eq!(ledger.len(), acked.len() + unknown.len(), "{database}: every attempted key exactly once");
        let (_, stock) =
            send(&client, reqwest::Method::GET, format!("{base}/inventory/items/RIVET"), None, None).await.unwrap();
        assert_eq!(stock["available"], json!(ledger.len().to_string()));
        let (_, diff) =
            send(&client, reqwest::Method::GET, format!("{base}/inventory/reconcile"), None, None).await.unwrap();
        assert_eq!(diff, json!([]), "{database}");
    }
}

#[test]
fn scenario_import_export_and_tokens_from_the_command_line() {
    let database = databases("cli").remove(0);
    let takt = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_takt")).args(args).args(["--database", &database]).output().unwrap()
    };
    let bike = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/bike-shop.json");
    let out = takt(&["scenario", "import", bike.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["items_created"], 10);
    // A second import of the same file changes nothing but updates.
    let out = takt(&["scenario", "import", bike.to_str().unwrap()]);
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (summary["items_created"].as_u64(), summary["bom_versions"].as_u64(), summary["adjustments"].as_u64()),
        (Some(0), Some(0), Some(0))
    );
    let out = takt(&["scenario", "export"]);
    assert!(out.status.success());
    let exported = String::from_utf8(out.stdout).unwrap();
    let original = mrp::parse_scenario(&std::fs::read_to_string(&bike).unwrap()).unwrap();
    let again = mrp::parse_scenario(&exported).unwrap();
    let plan = |s: &mrp::Scenario| {
        let p = mrp::plan(s).unwrap();
        let mut v: Vec<(String, u32, String)> = p
            .planned_orders
            .iter()
            .map(|o| (s.items[o.item as usize].id.clone(), o.due_bucket, o.quantity.to_string()))
            .collect();
        v.sort();
        v
    };
    assert_eq!(plan(&again), plan(&original));

    // A refused file names the place and exits 2, writing nothing.
    let dir = std::env::temp_dir().join(format!("takt-serve-{}", std::process::id()));
    let bad = dir.join("bad.json");
    std::fs::write(&bad, r#"{"format":"mrp-scenario/1","name":"x","calendar":{"start":"2027-01-04","bucket_days":7,"periods":4},"items":[{"id":"A","source":"make","lead_time":-1}]}"#).unwrap();
    let out = takt(&["scenario", "import", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("lead_time"), "{}", String::from_utf8_lossy(&out.stderr));

    let out = takt(&["token", "create", "--name", "line-3", "--role", "operator"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).trim().starts_with("takt_"));
    let out = takt(&["token", "create", "--name", "x", "--role", "boss"]);
    assert_eq!(out.status.code(), Some(2));
    let out = takt(&["token", "list"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("line-3"));
    let out = takt(&["token", "revoke", "line-3"]);
    assert!(out.status.success());
    let out = takt(&["token", "list"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("revoked"));
    // The only admin token stays (exit 2, named), until there is another.
    assert!(takt(&["token", "create", "--name", "root", "--role", "admin"]).status.success());
    let out = takt(&["token", "revoke", "root"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("last active admin token"));
    assert!(takt(&["token", "create", "--name", "root-2", "--role", "admin"]).status.success());
    assert!(takt(&["token", "revoke", "root"]).status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_loses_no_acknowledged_operation_report() {
    for database in databases("crashwo") {
        let server = Server::start(&database, &[]);
        let client = reqwest::Client::new();
        let base = server.base.clone();
        let call = |method: reqwest::Method, path: String, body: Value| {
            let (client, url) = (client.clone(), format!("{base}{path}"));
            async move {
                let (s, v) = send(&client, method, url, Some(body), None).await.unwrap();
                assert!((200..300).contains(&s), "{s} {v}");
                v
            }
        };
        use reqwest::Method;
        call(Method::PUT, "/locations/MAIN".into(), json!({"id": "MAIN", "kind": "plant_store"})).await;
        call(Method::PUT, "/locations/WIP".into(), json!({"id": "WIP", "kind": "wip_area"})).await;
        call(Method::PUT, "/work-centres/PRESS".into(), json!({"id": "PRESS", "hours_per_day": 8})).await;
        call(Method::PUT, "/items/LID".into(), json!({"id": "LID", "source": "make"})).await;
        let op = json!([{"sequence": 10, "work_centre": "PRESS", "run_hours_per_unit": "0.01"}]);
        call(Method::PUT, "/items/LID/routing".into(), op).await;
        call(Method::PUT, "/settings/calendar".into(), json!({"start": "2027-01-04", "bucket_days": 7, "periods": 4}))
            .await;
        let demand = json!({"id": "D1", "item": "LID", "date": "2027-01-18", "quantity": 100000, "kind": "order"});
        call(Method::PUT, "/demand/D1".into(), demand).await;
        let run = call(Method::POST, "/mrp/runs".into(), json!({})).await;
        let orders = call(Method::GET, format!("/planned-orders?run={}&item=LID", run["id"]), Value::Null).await;
        let po = orders["rows"][0]["id"].as_i64().unwrap();
        call(Method::POST, format!("/planned-orders/{po}/firm"), Value::Null).await;
        let wo = call(Method::POST, "/work-orders".into(), json!({"planned_order": po})).await["id"].as_i64().unwrap();
        let path = format!("/work-orders/{wo}/operations/10/reports");
        let started = send(&client, Method::POST, format!("{base}{path}"), Some(json!({"event": "start"})), Some("s"));
        assert_eq!(started.await.unwrap().0, 201);

        // Eight terminals report 1 good each with unique keys until the server dies.
        let body = json!({"event": "report", "good": 1});
        let (acked, unknown) = post_until_killed(&client, server, format!("{base}{path}"), body, "report").await;
        assert!(acked.len() > 20, "{database}: only {} acknowledged before the kill", acked.len());

        let server = Server::start(&database, &[]);
        let base = server.base.clone();
        let good = |base: String| {
            let client = client.clone();
            async move {
                let (_, w) = send(&client, Method::GET, format!("{base}/work-orders/{wo}"), None, None).await.unwrap();
                w["operations"][0]["good"].as_str().unwrap().parse::<usize>().unwrap()
            }
        };
        let after_crash = good(base.clone()).await;
        assert!(
            (acked.len()..=acked.len() + unknown.len()).contains(&after_crash),
            "{database}: {after_crash} good after the crash, {} acknowledged",
            acked.len()
        );
        // Retries: acknowledged reports replay their first answer; in-flight ones count at most once.
        for (key, report) in &acked {
            let body = json!({"event": "report", "good": 1});
            let (s, v) = send(&client, Method::POST, format!("{base}{path}"), Some(body), Some(key)).await.unwrap();
            assert_eq!((s, v["report"].as_i64()), (201, Some(*report)), "{database}: replay of {key}");
        }
        for key in &unknown {
            let body = json!({"event": "report", "good": 1});
            let (s, _) = send(&client, Method::POST, format!("{base}{path}"), Some(body), Some(key)).await.unwrap();
            assert_eq!(s, 201);
        }
        let total = good(base.clone()).await;
        assert_eq!(total, acked.len() + unknown.len(), "{database}: every attempted report exactly once");
        let (_, stock) = send(&client, Method::GET, format!("{base}/inventory/items/LID"), None, None).await.unwrap();
        assert_eq!(stock["available"], json!(total.to_string()), "{database}: each good unit received once");
        for check in ["/inventory/reconcile", "/wip/reconcile"] {
            let (_, diff) = send(&client, Method::GET, format!("{base}{check}"), None, None).await.unwrap();
            assert_eq!(diff, json!([]), "{database} {check}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_with_a_worker_and_no_temporal_address_runs_a_local_dev_server() {
    let dir = std::env::temp_dir().join(format!("takt-devserver-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_takt"));
    command
        .args(["serve", "--worker", "--listen", "127.0.0.1:0", "--database", "sqlite://serve.db?mode=rwc"])
        .current_dir(&dir)
        .env_remove("TEMPORAL_ADDRESS")
        .env("TAKT_ADMIN_TOKEN", TOKEN)
        .env("TAKT_LOG", "warn")
        .stderr(Stdio::piped());
    if let Ok(bin) = std::env::var("TAKT_TEMPORAL_BIN") {
        command.env("TAKT_TEMPORAL_BIN", bin);
    }
    let mut child = command.spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut base = None;
    let mut temporal = None;
    while base.is_none() || temporal.is_none() {
        let line = lines.next().expect("takt serve exited early").unwrap();
        if let Some(rest) = line.split("listening on ").nth(1) {
            base = Some(rest.split_whitespace().next().unwrap().to_owned());
        }
        if line.contains("Temporal") {
            temporal = Some(line);
        }
    }
    std::thread::spawn(move || for _ in lines {});
    let (base, temporal) = (base.unwrap(), temporal.unwrap());
    assert!(temporal.contains("127.0.0.1:7233"), "{temporal}");
    // With workflows configured, a workflow id Temporal does not know is a 404
    // (without them the route could only say `starting`).
    let client = reqwest::Client::new();
    let (s, v) = send(&client, reqwest::Method::GET, format!("{base}/quality/workflows/no-such-workflow"), None, None)
        .await
        .unwrap();
    assert_eq!(s, 404, "{v}");
    // SIGTERM: the server shuts down and takes the dev server it started with it.
    let started_here = temporal.contains("started");
    Command::new("kill").arg(child.id().to_string()).status().unwrap();
    child.wait().unwrap();
    if started_here {
        assert!(dir.join("temporal-dev.db").exists());
        let gone = (0..50).any(|_| {
            std::thread::sleep(Duration::from_millis(100));
            std::net::TcpStream::connect("127.0.0.1:7233").is_err()
        });
        assert!(gone, "the dev server outlived takt serve");
    }
}

/// `takt bench-api` as the README runs it, kept short: every phase answers
/// every request, and the ledger and WIP reconcile afterwards (the command
/// fails otherwise), on both databases.
#[test]
fn bench_api_runs_every_phase_without_errors() {
    for database in databases("bench") {
        let dir = std::env::temp_dir().join(format!("takt-bench-api-{}", std::process::id()));
        let out = Command::new(env!("CARGO_BIN_EXE_takt"))
            .args(["bench-api", "--database", &database, "--seconds", "1", "--clients", "3"])
            .args(["--lookup-clients", "2", "--items", "20", "--dir"])
            .arg(&dir)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{database}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        for phase in ["movement postings", "operation reports", "inventory look-ups"] {
            let row = stdout.lines().find(|l| l.starts_with(&format!("| {phase} |"))).unwrap_or_else(|| {
                panic!("{database}: no {phase} row in\n{stdout}");
            });
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            let (requests, errors): (usize, usize) = (cells[2].parse().unwrap(), cells[3].parse().unwrap());
            assert!(requests > 0, "{database}: {row}");
            assert_eq!(errors, 0, "{database}: {row}");
        }
    }
}
