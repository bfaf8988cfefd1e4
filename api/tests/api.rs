//! API tests through the real router, each run on SQLite and on PostgreSQL.
//!
//! PostgreSQL comes from `TAKT_TEST_POSTGRES` (default
//! `postgres://postgres@127.0.0.1:5432/test`); every test gets a database of
//! its own. Set `TAKT_TEST_POSTGRES=off` to run the SQLite half only.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use rust_decimal::Decimal;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use store::Store;
use store::access;
use store::names::Role;
use tower::ServiceExt;

mod common;

async fn databases() -> Vec<String> {
    common::databases("api").await
}

/// A router over one database, with tokens of every role.
struct App {
    router: axum::Router,
    store: Store,
    url: String,
}

const ADMIN: &str = "admin-secret-0000000000";
const PLANNER: &str = "planner-secret-00000000";
const OPERATOR: &str = "operator-secret-0000000";
const ERP: &str = "erp-secret-000000000000";

impl App {
    async fn new(url: &str) -> App {
        let store = Store::connect(url).await.unwrap();
        for (name, role, secret) in [
            ("admin", Role::Admin, ADMIN),
            ("pia", Role::Planner, PLANNER),
            ("otto", Role::Operator, OPERATOR),
            ("erp", Role::Erp, ERP),
        ] {
            store
                .write(move |txn| Box::pin(async move { access::create_token(txn, name, role, Some(secret)).await }))
                .await
                .unwrap();
        }
        let (router, _) = api::router(api::AppState::new(store.clone()));
        App { router, store, url: url.to_owned() }
    }

    async fn call_with(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        key: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        if let Some(k) = key {
            req = req.header("idempotency-key", k);
        }
        let req = req
            .header("content-type", "application/json")
            .body(body.map_or(Body::empty(), |b| Body::from(b.to_string())))
            .unwrap();
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        (status, value)
    }

    async fn call(&self, method: &str, path: &str, token: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.call_with(method, path, Some(token), body.as_ref(), None).await
    }

    async fn ok(&self, method: &str, path: &str, token: &str, body: Option<Value>) -> Value {
        let (status, v) = self.call(method, path, token, body).await;
        assert!(status.is_success(), "{} {method} {path}: {status} {v}", self.url);
        v
    }

    /// Rows of every table that writes touch, to prove a refusal wrote nothing.
    async fn counts(&self) -> Vec<i64> {
        let mut out = Vec::new();
        for table in [
            "items",
            "boms",
            "bom_lines",
            "movements",
            "positions",
            "demands",
            "supply_orders",
            "mrp_runs",
            "planned_orders",
            "audit_log",
            "idempotency_keys",
            "locations",
            "work_centres",
            "routing_operations",
            "work_orders",
            "work_order_components",
            "work_order_operations",
            "operation_reports",
            "transfer_orders",
            "shop_events",
        ] {
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
            out.push(row.try_get::<i64>("", "n").unwrap());
        }
        out
    }
}

/// Method, path, token, body, expected status, field the error must name.
type Case = (&'static str, &'static str, &'static str, Option<Value>, u16, &'static str);

fn dec(v: &Value) -> Decimal {
    v.as_str().unwrap_or_else(|| panic!("not a decimal string: {v}")).parse().unwrap()
}

async fn plant(app: &App) {
    app.ok("PUT", "/locations/MAIN", PLANNER, Some(json!({"id": "MAIN", "kind": "plant_store"}))).await;
    app.ok("PUT", "/locations/DC-1", PLANNER, Some(json!({"id": "DC-1", "kind": "distribution_centre"}))).await;
    app.ok(
        "PUT",
        "/items/BOLT",
        PLANNER,
        Some(json!({"id": "BOLT", "source": "buy", "lead_time": 1, "lot": {"rule": "fixed", "quantity": 100}})),
    )
    .await;
    app.ok("PUT", "/items/GLUE", PLANNER, Some(json!({"id": "GLUE", "source": "buy", "allow_negative": true}))).await;
    app.ok(
        "PUT",
        "/items/SHELF",
        PLANNER,
        Some(json!({"id": "SHELF", "source": "make", "lead_time": 1, "requires_inspection": true})),
    )
    .await;
    app.ok("POST", "/items/SHELF/boms", PLANNER, Some(json!({"lines": [{"component": "BOLT", "quantity": 4}, {"component": "GLUE", "quantity": "0.05", "scrap": "0.1"}]}))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ledger_keeps_positions_equal_to_movements() {
    for url in databases().await {
        let app = App::new(&url).await;
        plant(&app).await;
        let post = |body: Value| async { app.call("POST", "/movements", OPERATOR, Some(body)).await };
        let (s, m) =
            post(json!({"kind": "receipt", "item": "BOLT", "quantity": "250.5", "location": "MAIN", "lot": "L1"}))
                .await;
        assert_eq!(s, StatusCode::CREATED, "{m}");
        assert_eq!(m["to_status"], "available");
        assert_eq!(m["actor"], "otto");
        // An item that requires inspection arrives on quality hold.
        let (_, m) =
            post(json!({"kind": "production_receipt", "item": "SHELF", "quantity": 10, "location": "MAIN"})).await;
        assert_eq!(m["to_status"], "quality_hold");
        let (s, _) = post(json!({"kind": "transfer", "item": "BOLT", "quantity": 50, "location": "MAIN", "lot": "L1", "to_location": "DC-1"})).await;
        assert_eq!(s, StatusCode::CREATED);
        let (s, _) =
            post(json!({"kind": "issue", "item": "BOLT", "quantity": "0.5", "location": "MAIN", "lot": "L1"})).await;
        assert_eq!(s, StatusCode::CREATED);
        let (s, _) = post(json!({"kind": "adjustment", "item": "BOLT", "quantity": -10, "location": "DC-1", "lot": "L1", "reason": "count"})).await;
        assert_eq!(s, StatusCode::CREATED);
        let (s, _) = post(json!({"kind": "transfer", "item": "SHELF", "quantity": 10, "location": "MAIN", "status": "quality_hold", "to_status": "available"})).await;
        assert_eq!(s, StatusCode::CREATED);
        let (s, _) =
            post(json!({"kind": "scrap", "item": "SHELF", "quantity": 1, "location": "MAIN", "reason": "dented"}))
                .await;
        assert_eq!(s, StatusCode::CREATED);
        // Negative stock is refused with 409, except for items that allow it.
        let before = app.counts().await;
        let (s, e) =
            post(json!({"kind": "issue", "item": "BOLT", "quantity": 1000, "location": "MAIN", "lot": "L1"})).await;
        assert_eq!(s, StatusCode::CONFLICT);
        assert_eq!(e["code"], "insufficient_stock");
        assert_eq!(app.counts().await, before, "a refused movement wrote nothing");
        let (s, _) = post(json!({"kind": "issue", "item": "GLUE", "quantity": 3, "location": "MAIN"})).await;
        assert_eq!(s, StatusCode::CREATED);

        let bolt = app.ok("GET", "/inventory/items/BOLT", PLANNER, None).await;
        assert_eq!(dec(&bolt["available"]), "240".parse().unwrap(), "{bolt}");
        let shelf = app.ok("GET", "/inventory/items/SHELF", PLANNER, None).await;
        assert_eq!(dec(&shelf["available"]), Decimal::from(9));
        assert_eq!(dec(&shelf["quality_hold"]), Decimal::ZERO);
        let glue = app.ok("GET", "/inventory/items/GLUE", PLANNER, None).await;
        assert_eq!(dec(&glue["available"]), Decimal::from(-3));
        let page = app.ok("GET", "/inventory/positions?location=DC-1", OPERATOR, None).await;
        assert_eq!(page["rows"].as_array().unwrap().len(), 1);
        assert_eq!(dec(&page["rows"][0]["quantity"]), Decimal::from(40));
        let page = app.ok("GET", "/inventory/positions?status=available&limit=1", OPERATOR, None).await;
        assert!(page["next"].is_string());
        let next = app
            .ok(
                "GET",
                &format!("/inventory/positions?status=available&limit=1&after={}", page["next"].as_str().unwrap()),
                OPERATOR,
                None,
            )
            .await;
        assert_ne!(next["rows"][0], page["rows"][0]);
        let ledger = app.ok("GET", "/movements?item=BOLT", PLANNER, None).await;
        assert_eq!(ledger["rows"].as_array().unwrap().len(), 4);
        assert_eq!(app.ok("GET", "/inventory/reconcile", PLANNER, None).await, json!([]));
        // A location the ledger refers to stays; an unused one can go.
        let (s, e) = app.call("DELETE", "/locations/DC-1", PLANNER, None).await;
        assert_eq!((s, e["code"].as_str()), (StatusCode::CONFLICT, Some("location_in_use")));
        app.ok("PUT", "/locations/SPARE", PLANNER, Some(json!({"id": "SPARE", "kind": "wip_area"}))).await;
        app.ok("DELETE", "/locations/SPARE", PLANNER, None).await;
        app.ok("PUT", "/work-centres/WELD", PLANNER, Some(json!({"id": "WELD", "hours_per_day": 16}))).await;
        app.ok(
            "PUT",
            "/items/SHELF/routing",
            PLANNER,
            Some(json!([{"sequence": 10, "work_centre": "WELD", "run_hours_per_unit": "0.25"}])),
        )
        .await;
        let (s, _) = app.call("DELETE", "/work-centres/WELD", PLANNER, None).await;
        assert_eq!(s, StatusCode::CONFLICT);
        app.ok("PUT", "/items/SHELF/routing", PLANNER, Some(json!([]))).await;
        app.ok("DELETE", "/work-centres/WELD", PLANNER, None).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_movements_lose_no_update() {
    for url in databases().await {
        let app = std::sync::Arc::new(App::new(&url).await);
        plant(&app).await;
        app.ok(
            "POST",
            "/movements",
            OPERATOR,
            Some(json!({"kind": "receipt", "item": "BOLT", "quantity": 1000, "location": "MAIN"})),
        )
        .await;
        let mut tasks = Vec::new();
        for client in 0..16 {
            let app = app.clone();
            tasks.push(tokio::spawn(async move {
                let mut net = Decimal::ZERO;
                for i in 0..20 {
                    let (kind, q) = if (client + i) % 3 == 0 { ("issue", "7.25") } else { ("receipt", "3.5") };
                    let (s, v) = app
                        .call(
                            "POST",
                            "/movements",
                            OPERATOR,
                            Some(json!({"kind": kind, "item": "BOLT", "quantity": q, "location": "MAIN"})),
                        )
                        .await;
                    assert_eq!(s, StatusCode::CREATED, "{v}");
                    let q: Decimal = q.parse().unwrap();
                    net += if kind == "issue" { -q } else { q };
                }
                net
            }));
        }
        let mut expected = Decimal::from(1000);
        for t in tasks {
            expected += t.await.unwrap();
        }
        let bolt = app.ok("GET", "/inventory/items/BOLT", PLANNER, None).await;
        assert_eq!(dec(&bolt["available"]), expected, "{url}");
        assert_eq!(app.ok("GET", "/inventory/reconcile", PLANNER, None).await, json!([]));
        let ledger = app.ok("GET", "/movements?item=BOLT&limit=1000", PLANNER, None).await;
        assert_eq!(ledger["rows"].as_array().unwrap().len(), 1 + 16 * 20);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn idempotency_key_returns_the_first_result() {
    for url in databases().await {
        let app = std::sync::Arc::new(App::new(&url).await);
        plant(&app).await;
        let body = json!({"kind": "receipt", "item": "BOLT", "quantity": 5, "location": "MAIN"});
        let (s1, first) = app.call_with("POST", "/movements", Some(OPERATOR), Some(&body), Some("rx-1")).await;
        let (s2, again) = app.call_with("POST", "/movements", Some(OPERATOR), Some(&body), Some("rx-1")).await;
        assert_eq!((s1, s2), (StatusCode::CREATED, StatusCode::CREATED));
        assert_eq!(first, again);
        let other = json!({"kind": "receipt", "item": "BOLT", "quantity": 6, "location": "MAIN"});
        let (s, e) = app.call_with("POST", "/movements", Some(OPERATOR), Some(&other), Some("rx-1")).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(e["code"], "idempotency_key_reused");
        // The same key from many clients at once still writes once.
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let app = app.clone();
            let body = body.clone();
            tasks.push(tokio::spawn(async move {
                app.call_with("POST", "/movements", Some(OPERATOR), Some(&body), Some("rx-2")).await
            }));
        }
        let mut ids = std::collections::HashSet::new();
        for t in tasks {
            let (s, v) = t.await.unwrap();
            assert_eq!(s, StatusCode::CREATED, "{v}");
            ids.insert(v["id"].as_i64().unwrap());
        }
        assert_eq!(ids.len(), 1);
        let bolt = app.ok("GET", "/inventory/items/BOLT", PLANNER, None).await;
        assert_eq!(dec(&bolt["available"]), Decimal::from(10));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_4xx_naming_the_field_and_writes_nothing() {
    for url in databases().await {
        let app = App::new(&url).await;
        plant(&app).await;
        let before = app.counts().await;
        let cases: Vec<Case> = vec![
            (
                "POST",
                "/movements",
                OPERATOR,
                Some(json!({"kind": "receipt", "item": "NOPE", "quantity": 1, "location": "MAIN"})),
                422,
                "item",
            ),
            (
                "POST",
                "/movements",
                OPERATOR,
                Some(json!({"kind": "receipt", "item": "BOLT", "quantity": -1, "location": "MAIN"})),
                422,
                "quantity",
            ),
            (
                "POST",
                "/movements",
                OPERATOR,
                Some(json!({"kind": "receipt", "item": "BOLT", "quantity": "0.0000001", "location": "MAIN"})),
                422,
                "quantity",
            ),
            (
                "POST",
                "/movements",
                OPERATOR,
                Some(json!({"kind": "receipt", "item": "BOLT", "quantity": 1, "location": "MARS"})),
                422,
                "location",
            ),
            (
                "POST",
                "/movements",
                OPERATOR,
                Some(json!({"kind": "teleport", "item": "BOLT", "quantity": 1, "location": "MAIN"})),
                422,
                "kind",
            ),
            (
                "POST",
                "/movements",
                OPERATOR,
                Some(json!({"kind": "receipt", "item": "BOLT", "quantity": 1, "location": "MAIN", "colour": "red"})),
                422,
                "",
            ),
            (
                "POST",
                "/movements",
                OPERATOR,
                Some(json!({"kind": "transfer", "item": "BOLT", "quantity": 1, "location": "MAIN"})),
                422,
                "to_location",
            ),
            (
                "POST",
                "/movements",
                OPERATOR,
                Some(json!({"kind": "adjustment", "item": "BOLT", "quantity": 0, "location": "MAIN"})),
                422,
                "quantity",
            ),
            (
                "POST",
                "/movements",
                OPERATOR,
                Some(json!({"kind": "receipt", "item": "BOLT", "quantity": 1e300, "location": "MAIN"})),
                422,
                "quantity",
            ),
            ("POST", "/movements", OPERATOR, None, 400, ""),
            (
                "PUT",
                "/items/X",
                PLANNER,
                Some(json!({"id": "X", "source": "make", "lot": {"rule": "fixed"}})),
                422,
                "lot.quantity",
            ),
            (
                "PUT",
                "/items/X",
                PLANNER,
                Some(json!({"id": "X", "source": "make", "safety_stock": -2})),
                422,
                "safety_stock",
            ),
            ("PUT", "/items/X", PLANNER, Some(json!({"id": "X", "source": "make", "lead_time": -1})), 422, "lead_time"),
            ("PUT", "/items/X", PLANNER, Some(json!({"id": "Y", "source": "make"})), 422, "id"),
            (
                "PUT",
                "/items/BOLT",
                PLANNER,
                Some(json!({"id": "BOLT", "source": "buy", "lot": {"rule": "eoq", "order_cost": 5}})),
                422,
                "lot.holding_cost",
            ),
            ("PUT", "/items/SHELF", PLANNER, Some(json!({"id": "SHELF", "source": "buy"})), 409, ""),
            (
                "POST",
                "/items/BOLT/boms",
                PLANNER,
                Some(json!({"lines": [{"component": "GLUE", "quantity": 1}]})),
                422,
                "parent",
            ),
            ("POST", "/items/GLUE/boms", PLANNER, Some(json!({"lines": []})), 422, "parent"),
            ("PUT", "/items/GLUE", PLANNER, Some(json!({"id": "GLUE", "source": "make"})), 200, ""),
            (
                "POST",
                "/items/GLUE/boms",
                PLANNER,
                Some(json!({"lines": [{"component": "SHELF", "quantity": 1}]})),
                409,
                "",
            ),
            (
                "POST",
                "/items/SHELF/boms",
                PLANNER,
                Some(json!({"lines": [{"component": "BOLT", "quantity": 0}]})),
                422,
                "lines[0].quantity",
            ),
            (
                "POST",
                "/items/SHELF/boms",
                PLANNER,
                Some(json!({"lines": [{"component": "NUT", "quantity": 1}]})),
                422,
                "lines[0].component",
            ),
            (
                "POST",
                "/items/import",
                PLANNER,
                Some(json!([{"id": "A", "source": "make"}, {"id": "A", "source": "buy"}])),
                422,
                "[1].id",
            ),
            (
                "POST",
                "/items/import",
                PLANNER,
                Some(json!([{"id": "A", "source": "make"}, {"id": "B", "source": "maek"}])),
                422,
                "[1].source",
            ),
            (
                "PUT",
                "/demand/SO-1",
                PLANNER,
                Some(json!({"id": "SO-1", "item": "SHELF", "date": "2027-02-30", "quantity": 1, "kind": "order"})),
                422,
                "date",
            ),
            (
                "PUT",
                "/demand/SO-1",
                PLANNER,
                Some(json!({"id": "SO-1", "item": "SHELF", "date": "2027-02-03", "quantity": 1, "kind": "wish"})),
                422,
                "kind",
            ),
            (
                "PUT",
                "/supply-orders/PO-1",
                PLANNER,
                Some(json!({"id": "PO-1", "item": "BOLT", "due_date": "2027-02-03", "quantity": 0})),
                422,
                "quantity",
            ),
            (
                "PUT",
                "/supply-orders/PO-1",
                PLANNER,
                Some(json!({"id": "PO-1", "item": "BOLT", "due_date": "2027-02-03", "quantity": 5, "received": 5})),
                422,
                "received",
            ),
            (
                "POST",
                "/supply-orders/NOPE/receipts",
                OPERATOR,
                Some(json!({"quantity": 1, "location": "MAIN"})),
                404,
                "",
            ),
            ("GET", "/items/NOPE", PLANNER, None, 404, ""),
            ("GET", "/mrp/runs/abc", PLANNER, None, 400, ""),
            ("GET", "/inventory/positions?limit=0", PLANNER, None, 422, "limit"),
            ("GET", "/inventory/positions?status=lost", PLANNER, None, 400, ""),
            ("POST", "/planned-orders/99/firm", PLANNER, None, 404, ""),
            ("POST", "/planned-orders/1/explode", PLANNER, None, 400, ""),
            (
                "POST",
                "/mrp/runs",
                PLANNER,
                Some(json!({"calendar": {"start": "2027-01-04", "bucket_days": 0, "periods": 10}})),
                422,
                "calendar.bucket_days",
            ),
            (
                "POST",
                "/mrp/runs",
                PLANNER,
                Some(json!({"overrides": {"lead_times": {"NOPE": 2}}})),
                422,
                "overrides.lead_times.NOPE",
            ),
            ("POST", "/tokens", PLANNER, Some(json!({"name": "x", "role": "admin"})), 403, ""),
            ("PUT", "/items/Z", OPERATOR, Some(json!({"id": "Z", "source": "make"})), 403, ""),
            (
                "POST",
                "/movements",
                PLANNER,
                Some(json!({"kind": "receipt", "item": "BOLT", "quantity": 1, "location": "MAIN"})),
                403,
                "",
            ),
            ("GET", "/items", "wrong-token", None, 401, ""),
            ("DELETE", "/locations/MARS", PLANNER, None, 404, ""),
            ("DELETE", "/work-centres/NOPE", PLANNER, None, 404, ""),
            ("DELETE", "/items/BOLT", PLANNER, None, 409, ""),
            (
                "PUT",
                "/items/N",
                PLANNER,
                Some(json!({"id": "N", "source": "make", "name": "nul\u{0}byte"})),
                422,
                "name",
            ),
            (
                "POST",
                "/movements",
                OPERATOR,
                Some(json!({"kind": "receipt", "item": "BOLT", "quantity": 1, "location": "MAIN", "reason": "a\u{0}"})),
                422,
                "reason",
            ),
            (
                "PUT",
                "/settings/calendar",
                PLANNER,
                Some(json!({"start": "262000-01-01", "bucket_days": 3660, "periods": 10000})),
                422,
                "start",
            ),
            ("GET", "/scenario?bucket_days=0", PLANNER, None, 422, "bucket_days"),
            (
                "POST",
                "/mrp/runs",
                PLANNER,
                Some(json!({"calendar": {"start": "-262000-01-01", "bucket_days": 7, "periods": 4}})),
                422,
                "calendar.start",
            ),
            (
                "PUT",
                "/demand/SO-2",
                PLANNER,
                Some(json!({"id": "SO-2", "item": "SHELF", "date": "0000-02-03", "quantity": 1, "kind": "order"})),
                422,
                "date",
            ),
            (
                "PUT",
                "/supply-orders/PO-2",
                PLANNER,
                Some(json!({"id": "PO-2", "item": "BOLT", "due_date": "+12345-02-03", "quantity": 5})),
                422,
                "due_date",
            ),
            (
                "POST",
                "/items/SHELF/boms",
                PLANNER,
                Some(json!({"valid_from": "-0001-01-01", "lines": []})),
                422,
                "valid_from",
            ),
            (
                "POST",
                "/scenario",
                PLANNER,
                Some(
                    json!({"format": "mrp-scenario/1", "name": "x", "calendar": {"start": "2027-01-04", "bucket_days": 7, "periods": 4}, "items": [{"id": "A", "source": "buy"}], "bom": [{"parent": "A", "component": "A", "quantity": 1}]}),
                ),
                422,
                "bom[0]",
            ),
        ];
        for (method, path, token, body, status, field) in cases {
            let snapshot = app.counts().await;
            let (s, e) = app.call(method, path, token, body.clone()).await;
            assert_eq!(s.as_u16(), status, "{url}: {method} {path} {body:?} -> {s} {e}");
            if s.is_success() {
                continue;
            }
            assert!(e["code"].is_string() && e["message"].is_string(), "{method} {path}: {e}");
            if !field.is_empty() {
                let named = e["field"].as_str().unwrap_or("");
                assert!(
                    named.ends_with(field) || e["message"].as_str().unwrap().contains(field),
                    "{method} {path}: expected field {field}, got {e}"
                );
            }
            assert_eq!(app.counts().await, snapshot, "{method} {path} wrote something");
        }
        let after = app.counts().await;
        // Only the one successful update above (GLUE becomes make) wrote: one item update and its audit record.
        assert_eq!(after[0], before[0]);
        assert_eq!(after[9], before[9] + 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_needs_a_token_and_is_in_the_openapi_document() {
    let url = databases().await.remove(0);
    let app = App::new(&url).await;
    let (s, doc) = app.call_with("GET", "/openapi.json", None, None, None).await;
    assert_eq!(s, StatusCode::OK);
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 30, "{}", paths.len());
    let mut checked = 0;
    for (path, ops) in paths {
        for method in ops.as_object().unwrap().keys() {
            let concrete =
                path.replace("{id}", "1").replace("{other}", "2").replace("{action}", "firm").replace("{name}", "x");
            let (s, _) = app.call_with(&method.to_uppercase(), &concrete, None, None, None).await;
            let expected = if path == "/health" { StatusCode::OK } else { StatusCode::UNAUTHORIZED };
            assert_eq!(s, expected, "{method} {path}");
            checked += 1;
        }
    }
    assert!(checked >= 40, "{checked}");
    // Every schema reference resolves (a client generator stops at the first that does not).
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(refs.len() > 50, "{}", refs.len());
    for r in refs {
        let name = r.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("unexpected reference {r}"));
        assert!(schemas.contains_key(name), "the document refers to {r}, which it does not define");
    }
    // And the router has no route the document lacks: an unknown path is 404 after auth.
    let (s, _) = app.call("GET", "/no-such-route", ADMIN, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                out.push(r.clone());
            }
            map.values().for_each(|v| collect_refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

fn orders_of(result: &Value) -> Vec<(String, String, String, String)> {
    let mut v: Vec<_> = result["planned_orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["item"].as_str().unwrap().to_owned(),
                o["due_date"].as_str().unwrap().to_owned(),
                o["release_date"].as_str().unwrap().to_owned(),
                o["quantity"].to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mrp_on_live_data_plans_what_the_file_plans() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/bike-shop.json")).unwrap();
    let scenario = mrp::parse_scenario(&text).unwrap();
    let expected = serde_json::to_value(mrp::ResultDocument::new(&scenario, &mrp::plan(&scenario).unwrap())).unwrap();
    for url in databases().await {
        let app = App::new(&url).await;
        let summary = app.ok("POST", "/scenario", PLANNER, Some(serde_json::from_str(&text).unwrap())).await;
        assert_eq!(summary["items"], scenario.items.len());
        let run = app.ok("POST", "/mrp/runs", PLANNER, Some(json!({}))).await;
        assert_eq!(run["kind"], "live");
        let id = run["id"].as_i64().unwrap();
        let result = app.ok("GET", &format!("/mrp/runs/{id}/result"), PLANNER, None).await;
        assert_eq!(orders_of(&result), orders_of(&expected), "{url}");
        assert_eq!(result["exceptions"].as_array().unwrap().len(), expected["exceptions"].as_array().unwrap().len());
        // The export is a scenario that plans the same.
        let exported = app.ok("GET", "/scenario", PLANNER, None).await;
        let again = mrp::parse_scenario(&exported.to_string()).unwrap();
        let replanned = serde_json::to_value(mrp::ResultDocument::new(&again, &mrp::plan(&again).unwrap())).unwrap();
        assert_eq!(orders_of(&replanned), orders_of(&expected));

        // What-if: more demand and a longer lead time change the plan, not live data.
        let demand_before = app.ok("GET", "/demand?limit=1000", PLANNER, None).await;
        let item = scenario.demand[0].item.clone();
        let what_if = app
            .ok("POST", "/mrp/runs", PLANNER, Some(json!({"overrides": {
                "demand": [{"id": "WHATIF-1", "item": item, "date": scenario.calendar.start.to_string(), "quantity": 500, "kind": "order"}],
                "lead_times": {item.clone(): 2}}})))
            .await;
        assert_eq!(what_if["kind"], "what_if");
        assert_eq!(app.ok("GET", "/demand?limit=1000", PLANNER, None).await, demand_before);
        let wid = what_if["id"].as_i64().unwrap();
        let cmp = app.ok("GET", &format!("/mrp/runs/{id}/compare/{wid}"), PLANNER, None).await;
        let diffs = cmp["added"].as_array().unwrap().len()
            + cmp["removed"].as_array().unwrap().len()
            + cmp["changed"].as_array().unwrap().len();
        assert!(diffs > 0, "{cmp}");
        let same = app.ok("GET", &format!("/mrp/runs/{id}/compare/{id}"), PLANNER, None).await;
        assert_eq!(same["added"], json!([]));
        assert_eq!(same["changed"], json!([]));

        // Lifecycle: what-if orders cannot be executed; firm a live one.
        let wo = app.ok("GET", &format!("/planned-orders?run={wid}&limit=1"), PLANNER, None).await;
        let (s, e) = app.call("POST", &format!("/planned-orders/{}/firm", wo["rows"][0]["id"]), PLANNER, None).await;
        assert_eq!(s, StatusCode::CONFLICT, "{e}");
        let live = app.ok("GET", &format!("/planned-orders?run={id}&limit=1"), PLANNER, None).await;
        let po = live["rows"][0].clone();
        let po_id = po["id"].as_i64().unwrap();
        let firmed = app.ok("POST", &format!("/planned-orders/{po_id}/firm"), PLANNER, None).await;
        assert_eq!(firmed["status"], "firmed");
        assert_eq!(firmed["status_changed_by"], "pia");
        let (s, e) = app.call("POST", &format!("/planned-orders/{po_id}/firm"), PLANNER, None).await;
        assert_eq!((s, e["code"].as_str()), (StatusCode::CONFLICT, Some("invalid_transition")));
        let (s, _) = app.call("POST", &format!("/planned-orders/{po_id}/sent_to_erp"), PLANNER, None).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        // A new live run sees the firmed order as a scheduled receipt.
        let run2 = app.ok("POST", "/mrp/runs", PLANNER, Some(json!({}))).await;
        let id2 = run2["id"].as_i64().unwrap();
        let snap = app.ok("GET", &format!("/mrp/runs/{id2}/scenario"), PLANNER, None).await;
        assert!(snap["receipts"].as_array().unwrap().iter().any(|r| r["id"] == format!("PLO-{po_id}")), "{snap}");
        let result2 = app.ok("GET", &format!("/mrp/runs/{id2}/result"), PLANNER, None).await;
        let total = |r: &Value, it: &str| -> Decimal {
            r["planned_orders"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|o| o["item"] == it)
                .map(|o| dec(&o["quantity"]))
                .sum()
        };
        let firmed_item = po["item"].as_str().unwrap();
        assert_eq!(total(&result2, firmed_item) + dec(&po["quantity"]), total(&result, firmed_item));
        // Run 1's other proposals are superseded by run 2.
        let stale = app.ok("GET", &format!("/planned-orders?run={id}&status=proposed&limit=1"), PLANNER, None).await;
        let (s, e) =
            app.call("POST", &format!("/planned-orders/{}/release", stale["rows"][0]["id"]), PLANNER, None).await;
        assert_eq!((s, e["code"].as_str()), (StatusCode::CONFLICT, Some("superseded")), "{e}");
        app.ok("POST", &format!("/planned-orders/{po_id}/release"), PLANNER, None).await;
        let sent = app.ok("POST", &format!("/planned-orders/{po_id}/sent_to_erp"), ERP, None).await;
        assert_eq!(sent["status"], "sent_to_erp");
        let (s, _) = app.call("POST", &format!("/planned-orders/{po_id}/cancel"), PLANNER, None).await;
        assert_eq!(s, StatusCode::CONFLICT);
        // Every write left an audit record with its actor.
        let audit = app.ok("GET", "/audit?limit=1000", ADMIN, None).await;
        assert!(
            audit
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["action"] == "POST /planned-orders/{id}/{action}" && a["actor"] == "erp")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quality_hold_stock_is_on_hold_for_mrp_and_receipts_close_orders() {
    for url in databases().await {
        let app = App::new(&url).await;
        plant(&app).await;
        app.ok(
            "PUT",
            "/items/BOLT",
            PLANNER,
            Some(json!({"id": "BOLT", "source": "buy", "requires_inspection": true})),
        )
        .await;
        app.ok(
            "PUT",
            "/supply-orders/PO-9",
            ERP,
            Some(json!({"id": "PO-9", "item": "BOLT", "quantity": 30, "due_date": "2027-01-11", "location": "MAIN"})),
        )
        .await;
        let m =
            app.ok("POST", "/supply-orders/PO-9/receipts", OPERATOR, Some(json!({"quantity": 20, "lot": "B7"}))).await;
        assert_eq!(m["to_status"], "quality_hold");
        assert_eq!(m["reference"], "PO-9");
        let (s, e) = app.call("POST", "/supply-orders/PO-9/receipts", OPERATOR, Some(json!({"quantity": 11}))).await;
        assert_eq!((s, e["code"].as_str()), (StatusCode::CONFLICT, Some("over_receipt")));
        app.ok("POST", "/supply-orders/PO-9/receipts", OPERATOR, Some(json!({"quantity": 10}))).await;
        assert_eq!(app.ok("GET", "/supply-orders/PO-9", PLANNER, None).await["status"], "closed");
        app.ok(
            "PUT",
            "/settings/calendar",
            PLANNER,
            Some(json!({"start": "2027-01-04", "bucket_days": 7, "periods": 8})),
        )
        .await;
        let scenario = app.ok("GET", "/scenario", PLANNER, None).await;
        let bolt = scenario["items"].as_array().unwrap().iter().find(|i| i["id"] == "BOLT").unwrap().clone();
        assert_eq!(bolt["on_hold"].to_string().trim_matches('"'), "30");
        assert_eq!(bolt.get("on_hand").map_or("0".into(), |v| v.to_string()).trim_matches('"'), "0");
        assert!(scenario["receipts"].as_array().unwrap().is_empty(), "closed orders are no receipts");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn optimize_plans_live_data_against_work_centre_capacity() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/bike-shop.json")).unwrap();
    for url in databases().await {
        let app = App::new(&url).await;
        app.ok("POST", "/scenario", PLANNER, Some(serde_json::from_str(&text).unwrap())).await;
        // 8 h a day on weekdays = 40 h per weekly bucket.
        app.ok("PUT", "/work-centres/ASSEMBLY", PLANNER, Some(json!({"id": "ASSEMBLY", "hours_per_day": 8}))).await;
        let ops = json!([{"sequence": 10, "work_centre": "ASSEMBLY", "setup_hours": 2, "run_hours_per_unit": "1.2"}]);
        app.ok("PUT", "/items/CITY-BIKE/routing", PLANNER, Some(ops)).await;
        let doc = app
            .ok("POST", "/mrp/optimize", PLANNER, Some(json!({"time_limit": 10, "costs": {"setup_cost": 25}})))
            .await;
        let opt = &doc["optimization"];
        assert!(opt["objective"].is_string(), "{opt}");
        let centres = opt["work_centers"].as_array().unwrap();
        assert_eq!(centres.len(), 1, "{opt}");
        assert_eq!(centres[0]["id"], "ASSEMBLY");
        assert!(doc["planned_orders"].as_array().is_some_and(|o| !o.is_empty()));
        // 8 h on 5 weekdays is 40 h in every weekly bucket; the work centre
        // has no overtime, so the optimised load stays within the 40 h.
        let hours: Vec<Decimal> = centres[0]["hours"].as_array().unwrap().iter().map(dec).collect();
        assert!(!hours.is_empty() && hours.iter().all(|h| *h == Decimal::from(40)), "{opt}");
        let load: Vec<Decimal> = centres[0]["load_after"].as_array().unwrap().iter().map(dec).collect();
        assert_eq!(load.len(), hours.len());
        assert!(load.iter().all(|l| *l <= Decimal::from(40)), "{opt}");
        assert!(load.iter().any(|l| *l > Decimal::ZERO), "the bikes load the line: {opt}");
        let (s, e) = app.call("POST", "/mrp/optimize", PLANNER, Some(json!({"time_limit": 0}))).await;
        assert_eq!((s, e["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("time_limit")));
        for threads in [0, 100_000] {
            let (s, e) = app.call("POST", "/mrp/optimize", PLANNER, Some(json!({"threads": threads}))).await;
            assert_eq!((s, e["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("threads")), "{e}");
            assert!(e["message"].as_str().unwrap_or("").contains("must be 1 to"), "{e}");
        }
        let (s, e) = app.call("POST", "/mrp/optimize", PLANNER, Some(json!({"costs": {"setup_cost": -1}}))).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        assert!(e["field"].as_str().unwrap_or("").contains("setup_cost"), "{e}");
        let (s, _) = app.call("POST", "/mrp/optimize", OPERATOR, Some(json!({}))).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
    }
}

// ---- shop floor --------------------------------------------------------------

/// The shelf plant of [`plant`] with a shop floor: a WIP area, two work
/// centres, SHELF's routing (saw, then assemble), GLUE backflushed, 100
/// bolts in stock, demand for 10 shelves; returns a firmed planned
/// make-order for SHELF.
async fn shop_floor(app: &App, shelves: u32) -> i64 {
    plant(app).await;
    app.ok("PUT", "/locations/WIP", PLANNER, Some(json!({"id": "WIP", "kind": "wip_area"}))).await;
    app.ok(
        "PUT",
        "/items/GLUE",
        PLANNER,
        Some(json!({"id": "GLUE", "source": "buy", "allow_negative": true, "backflush": true, "unit_cost": 10})),
    )
    .await;
    app.ok(
        "PUT",
        "/items/BOLT",
        PLANNER,
        Some(json!({"id": "BOLT", "source": "buy", "lead_time": 1, "unit_cost": "0.25"})),
    )
    .await;
    for (wc, hours) in [("SAW", 8), ("ASSY", 16)] {
        app.ok("PUT", &format!("/work-centres/{wc}"), PLANNER, Some(json!({"id": wc, "hours_per_day": hours}))).await;
    }
    app.ok(
        "PUT",
        "/items/SHELF/routing",
        PLANNER,
        Some(json!([
        {"sequence": 10, "work_centre": "SAW", "setup_hours": 1, "run_hours_per_unit": "0.5"},
        {"sequence": 20, "work_centre": "ASSY", "run_hours_per_unit": "0.25"}])),
    )
    .await;
    app.ok(
        "POST",
        "/movements",
        OPERATOR,
        Some(json!({"kind": "receipt", "item": "BOLT", "quantity": 4 * shelves + 20, "location": "MAIN", "lot": "L1"})),
    )
    .await;
    app.ok("PUT", "/settings/calendar", PLANNER, Some(json!({"start": "2027-01-04", "bucket_days": 7, "periods": 8})))
        .await;
    app.ok(
        "PUT",
        "/demand/D-1",
        PLANNER,
        Some(json!({"id": "D-1", "item": "SHELF", "date": "2027-01-25", "quantity": shelves, "kind": "order"})),
    )
    .await;
    let run = app.ok("POST", "/mrp/runs", PLANNER, Some(json!({}))).await;
    let orders = app.ok("GET", &format!("/planned-orders?run={}&item=SHELF", run["id"]), PLANNER, None).await;
    let po = orders["rows"][0]["id"].as_i64().unwrap();
    assert_eq!(dec(&orders["rows"][0]["quantity"]), Decimal::from(shelves));
    app.ok("POST", &format!("/planned-orders/{po}/firm"), PLANNER, None).await;
    po
}

impl App {
    /// A terminal's report with its own idempotency key.
    async fn report(&self, wo: i64, seq: u32, key: &str, body: Value) -> (StatusCode, Value) {
        let path = format!("/work-orders/{wo}/operations/{seq}/reports");
        self.call_with("POST", &path, Some(OPERATOR), Some(&body), Some(key)).await
    }

    async fn position(&self, item: &str, location: &str, status: &str) -> Decimal {
        let p = self
            .ok("GET", &format!("/inventory/positions?item={item}&location={location}&limit=1000"), PLANNER, None)
            .await;
        p["rows"].as_array().unwrap().iter().filter(|r| r["status"] == status).map(|r| dec(&r["quantity"])).sum()
    }
}

fn d(text: &str) -> Decimal {
    text.parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_work_order_goes_from_release_to_finished_goods_and_distribution() {
    for url in databases().await {
        let app = App::new(&url).await;
        let po = shop_floor(&app, 10).await;
        // Release: BOLT issued into the WIP area now, GLUE left for backflush.
        let before = app.counts().await;
        for (body, code, field) in [
            (json!({"planned_order": po, "wip_location": "MAIN"}), 422, "wip_location"),
            (json!({"planned_order": po, "stock_location": "WIP"}), 422, "stock_location"),
            (json!({"planned_order": po, "over_completion_percent": 101}), 422, "over_completion_percent"),
            (json!({"planned_order": 999999}), 404, ""),
        ] {
            let (s, e) = app.call("POST", "/work-orders", PLANNER, Some(body.clone())).await;
            assert_eq!(s.as_u16(), code, "{body} {e}");
            assert_eq!(e["field"].as_str().unwrap_or(""), field, "{e}");
        }
        let (s, _) = app.call("POST", "/work-orders", OPERATOR, Some(json!({"planned_order": po}))).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        assert_eq!(app.counts().await, before, "refused releases write nothing");
        let wo = app
            .ok("POST", "/work-orders", PLANNER, Some(json!({"planned_order": po, "over_completion_percent": 10})))
            .await;
        let id = wo["id"].as_i64().unwrap();
        assert_eq!((wo["status"].as_str(), wo["wip_location"].as_str()), (Some("released"), Some("WIP")));
        assert_eq!(wo["components"][0]["component"], "BOLT");
        assert_eq!(dec(&wo["components"][0]["issued"]), d("40"));
        assert_eq!(wo["components"][1]["component"], "GLUE");
        assert_eq!(dec(&wo["components"][1]["required"]), d("0.55"), "10 × 0.05 × (1 + 10 % scrap)");
        assert_eq!(dec(&wo["components"][1]["issued"]), d("0"));
        assert_eq!(wo["operations"][0]["status"], "ready");
        assert_eq!(wo["operations"][1]["status"], "pending");
        assert!(wo["operations"][0]["planned_finish"].as_str() < wo["operations"][1]["planned_start"].as_str());
        assert_eq!(
            (app.position("BOLT", "MAIN", "available").await, app.position("BOLT", "WIP", "available").await),
            (d("20"), d("40"))
        );
        let (s, e) = app.call("POST", "/work-orders", PLANNER, Some(json!({"planned_order": po}))).await;
        assert_eq!((s, e["code"].as_str()), (StatusCode::CONFLICT, Some("already_released")), "{e}");
        // MRP now sees the work order, not the planned order, and GLUE as allocated.
        let run = app.ok("POST", "/mrp/runs", PLANNER, Some(json!({}))).await;
        let snap = app.ok("GET", &format!("/mrp/runs/{}/scenario", run["id"]), PLANNER, None).await;
        let receipts: Vec<&str> =
            snap["receipts"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
        assert!(
            receipts.contains(&format!("WO-{id}").as_str()) && !receipts.contains(&format!("PLO-{po}").as_str()),
            "{receipts:?}"
        );
        let glue =
            snap["demand"].as_array().unwrap().iter().find(|x| x["id"] == format!("WO-{id}:GLUE")).unwrap().clone();
        assert_eq!(dec(&json!(glue["quantity"].to_string().trim_matches('"'))), d("0.55"));
        let bolt = snap["items"].as_array().unwrap().iter().find(|i| i["id"] == "BOLT").unwrap().clone();
        assert_eq!(bolt["on_hand"].to_string().trim_matches('"'), "20", "WIP stock is not on hand");

        // The operation state machine.
        let rep = |seq: u32, key: &str, body: Value| {
            let app = &app;
            let key = format!("{url}-{key}");
            async move { app.report(id, seq, &key, body).await }
        };
        let (s, e) = rep(20, "a", json!({"event": "start"})).await;
        assert_eq!((s, e["code"].as_str()), (StatusCode::CONFLICT, Some("nothing_arrived")), "{e}");
        let (s, e) = rep(10, "b", json!({"event": "complete"})).await;
        assert_eq!((s, e["code"].as_str()), (StatusCode::CONFLICT, Some("not_started")), "{e}");
        assert!(e["message"].as_str().unwrap().contains("never started"), "{e}");
        let started = rep(10, "c", json!({"event": "start"})).await;
        assert_eq!(started.0, StatusCode::CREATED, "{}", started.1);
        assert_eq!(started.1["work_order_status"], "in_progress");
        let (s, e) = rep(10, "d", json!({"event": "report", "good": 6, "scrap": 1})).await;
        assert_eq!(
            (s, e["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("reason")),
            "scrap needs a reason: {e}"
        );
        let (s, r) = rep(10, "e", json!({"event": "report", "good": 6, "scrap": 1, "reason": "CRACK", "labour_hours": "3.5", "machine_hours": 3})).await;
        assert_eq!(s, StatusCode::CREATED, "{r}");
        assert_eq!(r["operation"]["in_work"], "3");
        // Retrying the same report returns the first answer and counts once.
        let path = format!("/work-orders/{id}/operations/10/reports");
        let again = app.call_with("POST", &path, Some(OPERATOR), Some(&json!({"event": "report", "good": 6, "scrap": 1, "reason": "CRACK", "labour_hours": "3.5", "machine_hours": 3})), Some(&format!("{url}-e"))).await;
        assert_eq!(again, (StatusCode::CREATED, r.clone()));
        let (s, e) = app.call("POST", &path, OPERATOR, Some(json!({"event": "report", "good": 1}))).await;
        assert_eq!((s, e["field"].as_str()), (StatusCode::BAD_REQUEST, Some("Idempotency-Key")));
        // 7 processed of 10 (+10 % tolerance = 11): 5 more is too many.
        let (s, e) = rep(10, "f", json!({"event": "report", "good": 5})).await;
        assert_eq!((s, e["code"].as_str()), (StatusCode::CONFLICT, Some("over_reported")), "{e}");
        let (s, e) = rep(10, "g", json!({"event": "pause"})).await;
        assert_eq!((s, e["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("reason")));
        assert_eq!(rep(10, "h", json!({"event": "pause", "reason": "BLADE"})).await.0, StatusCode::CREATED);
        let (s, e) = rep(10, "i", json!({"event": "report", "good": 1})).await;
        assert_eq!((s, e["code"].as_str()), (StatusCode::CONFLICT, Some("paused")));
        assert_eq!(rep(10, "j", json!({"event": "resume"})).await.0, StatusCode::CREATED);
        let (s, e) = rep(20, "k", json!({"event": "complete"})).await;
        assert_eq!((s, e["code"].as_str()), (StatusCode::CONFLICT, Some("not_started")));
        // Op 20 can start on the 6 that arrived while op 10 goes on.
        assert_eq!(rep(20, "l", json!({"event": "start"})).await.0, StatusCode::CREATED);
        let (s, e) = rep(20, "m", json!({"event": "complete"})).await;
        assert_eq!((s, e["code"].as_str()), (StatusCode::CONFLICT, Some("previous_operation_open")), "{e}");
        let (s, r) = rep(10, "n", json!({"event": "complete", "good": 3})).await;
        assert_eq!((s, r["operation"]["status"].as_str()), (StatusCode::CREATED, Some("completed")), "{r}");
        let (s, e) = rep(10, "o", json!({"event": "report", "good": 1})).await;
        assert_eq!((s, e["code"].as_str()), (StatusCode::CONFLICT, Some("operation_completed")));
        let (s, e) = rep(20, "p", json!({"event": "report", "good": 10})).await;
        assert_eq!((s, e["code"].as_str()), (StatusCode::CONFLICT, Some("over_reported")), "only 9 arrived: {e}");
        let (s, r) = rep(20, "q", json!({"event": "complete", "good": 9})).await;
        assert_eq!((s, r["work_order_status"].as_str()), (StatusCode::CREATED, Some("completed")), "{r}");
        assert!(r["movements"].as_array().unwrap().len() >= 3, "consumption and receipt: {r}");
        // The ids a report answers with are its rows in the ledger (reports
        // and movements get their ids from one statement).
        let ledger = app.ok("GET", "/movements?limit=1000", PLANNER, None).await;
        for m in r["movements"].as_array().unwrap() {
            let row = ledger["rows"].as_array().unwrap().iter().find(|row| row["id"] == *m);
            let row = row.unwrap_or_else(|| panic!("movement {m} of the report is not in the ledger: {ledger}"));
            assert_eq!(row["reference"].as_str(), Some(format!("WO-{id}").as_str()), "{row}");
        }

        // Material: 9 good + 1 scrapped used all 40 bolts and the 0.55 glue.
        let wo = app.ok("GET", &format!("/work-orders/{id}"), PLANNER, None).await;
        assert_eq!((dec(&wo["received"]), dec(&wo["scrapped"]), dec(&wo["open_quantity"])), (d("9"), d("1"), d("0")));
        for (c, issued) in [(0, "40"), (1, "0.55")] {
            assert_eq!(dec(&wo["components"][c]["issued"]), d(issued), "{wo}");
            assert_eq!(dec(&wo["components"][c]["consumed"]), d(issued), "{wo}");
        }
        assert_eq!((dec(&wo["operations"][0]["labour_hours"]), dec(&wo["operations"][0]["scrap"])), (d("3.5"), d("1")));
        assert_eq!(app.position("BOLT", "WIP", "available").await, d("0"));
        assert_eq!(app.position("GLUE", "MAIN", "available").await, d("-0.55"), "backflushed from MAIN");
        assert_eq!(app.position("SHELF", "MAIN", "quality_hold").await, d("9"), "SHELF requires inspection");
        let movements = app.ok("GET", "/movements?item=BOLT&limit=1000", PLANNER, None).await;
        let kinds: Vec<(String, String)> = movements["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| (m["kind"].as_str().unwrap().to_owned(), m["quantity"].as_str().unwrap().to_owned()))
            .collect();
        assert!(
            kinds.contains(&("scrap".into(), "4".into())) && kinds.contains(&("issue".into(), "36".into())),
            "{kinds:?}"
        );
        assert_eq!(app.ok("GET", "/wip/reconcile", PLANNER, None).await, json!([]));
        assert_eq!(app.ok("GET", "/inventory/reconcile", PLANNER, None).await, json!([]));
        let (s, _) = rep(20, "r", json!({"event": "report", "good": 1})).await;
        assert_eq!(s, StatusCode::CONFLICT, "a completed order takes no reports");
        let reports = app.ok("GET", &format!("/work-orders/{id}/reports"), PLANNER, None).await;
        let events: Vec<(u64, &str)> = reports
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["sequence"].as_u64().unwrap(), r["event"].as_str().unwrap()))
            .collect();
        assert_eq!(
            events,
            [
                (10, "start"),
                (10, "report"),
                (10, "pause"),
                (10, "resume"),
                (20, "start"),
                (10, "complete"),
                (20, "complete")
            ],
            "accepted reports only, each once, in order"
        );
        assert_eq!((reports[1]["reason"].as_str(), reports[1]["actor"].as_str()), (Some("CRACK"), Some("otto")));
        assert_eq!(app.ok("POST", &format!("/work-orders/{id}/close"), PLANNER, None).await["status"], "closed");

        // Distribution: released shelves go to the distribution centre.
        app.ok("POST", "/movements", OPERATOR, Some(json!({"kind": "transfer", "item": "SHELF", "quantity": 9, "location": "MAIN", "status": "quality_hold", "to_status": "available"}))).await;
        let to = json!({"id": "TO-1", "item": "SHELF", "quantity": 8, "from_location": "MAIN", "to_location": "DC-1", "due_date": "2027-01-12"});
        assert_eq!(app.ok("POST", "/transfer-orders", PLANNER, Some(to.clone())).await["status"], "open");
        let (s, e) = app.call("POST", "/transfer-orders", PLANNER, Some(to)).await;
        assert_eq!((s, e["code"].as_str()), (StatusCode::CONFLICT, Some("exists")));
        let (s, e) = app.call("POST", "/transfer-orders/TO-1/receive", OPERATOR, None).await;
        assert_eq!((s, e["code"].as_str()), (StatusCode::CONFLICT, Some("nothing_left")), "{e}");
        let shipped = app.ok("POST", "/transfer-orders/TO-1/ship", OPERATOR, Some(json!({"quantity": 5}))).await;
        assert_eq!(shipped["transfer_order"]["status"], "in_transit");
        assert_eq!(
            (app.position("SHELF", "MAIN", "available").await, app.position("SHELF", "DC-1", "in_transit").await),
            (d("4"), d("5"))
        );
        let run = app.ok("POST", "/mrp/runs", PLANNER, Some(json!({}))).await;
        let snap = app.ok("GET", &format!("/mrp/runs/{}/scenario", run["id"]), PLANNER, None).await;
        let transit = snap["receipts"].as_array().unwrap().iter().find(|r| r["id"] == "transfer:TO-1").cloned();
        assert_eq!(transit.map(|t| t["quantity"].to_string().trim_matches('"').to_owned()), Some("5".into()));
        let (s, e) = app.call("POST", "/transfer-orders/TO-1/receive", OPERATOR, Some(json!({"quantity": 6}))).await;
        assert_eq!((s, e["code"].as_str()), (StatusCode::CONFLICT, Some("over_transfer")), "{e}");
        let (s, e) = app.call("POST", "/movements", OPERATOR, Some(json!({"kind": "transfer", "item": "SHELF", "quantity": 1, "location": "MAIN", "to_location": "DC-1", "to_status": "in_transit"}))).await;
        assert_eq!((s, e["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("to_status")));
        app.ok("POST", "/transfer-orders/TO-1/receive", OPERATOR, None).await;
        app.ok("POST", "/transfer-orders/TO-1/ship", OPERATOR, None).await;
        let done = app.ok("POST", "/transfer-orders/TO-1/receive", OPERATOR, None).await;
        assert_eq!(done["transfer_order"]["status"], "received");
        assert_eq!(
            (app.position("SHELF", "DC-1", "available").await, app.position("SHELF", "DC-1", "in_transit").await),
            (d("8"), d("0"))
        );
        assert_eq!(app.ok("GET", "/inventory/reconcile", PLANNER, None).await, json!([]));

        // The feed replays everything after an id, then goes on live.
        let kinds = app.event_kinds(0, 14).await;
        assert_eq!(kinds.len(), 14, "{kinds:?}");
        for k in [
            "work_order_released",
            "operation_reported",
            "work_order_completed",
            "work_order_closed",
            "transfer_shipped",
            "transfer_received",
        ] {
            assert!(kinds.iter().any(|x| x == k), "{k} missing from {kinds:?}");
        }
    }
}

impl App {
    /// Reads the SSE feed from `after` until `min` events arrived (or 5 s passed).
    async fn event_kinds(&self, after: i64, min: usize) -> Vec<String> {
        use futures_util::StreamExt;
        let req = Request::builder()
            .uri(format!("/events?after={after}"))
            .header("authorization", format!("Bearer {PLANNER}"))
            .body(Body::empty())
            .unwrap();
        let resp = self.router.clone().oneshot(req).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let mut stream = resp.into_body().into_data_stream();
        let mut text = String::new();
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        let mut kinds = Vec::new();
        while kinds.len() < min {
            match tokio::time::timeout_at(deadline, stream.next()).await {
                Ok(Some(Ok(chunk))) => text.push_str(&String::from_utf8_lossy(&chunk)),
                _ => break,
            }
            kinds = text
                .lines()
                .filter_map(|l| l.strip_prefix("event: ").or(l.strip_prefix("event:")))
                .map(str::to_owned)
                .collect();
        }
        kinds
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_report_short_of_backflushed_stock_is_refused_whole_and_the_others_post() {
    for url in databases().await {
        let app = std::sync::Arc::new(App::new(&url).await);
        let po = shop_floor(&app, 10).await;
        // GLUE may not go negative: 0.11 in stock is the backflush (0.05 + 10 % scrap) of two shelves.
        let glue = json!({"id": "GLUE", "source": "buy", "allow_negative": false, "backflush": true, "unit_cost": 10});
        app.ok("PUT", "/items/GLUE", PLANNER, Some(glue)).await;
        let receipt = json!({"kind": "receipt", "item": "GLUE", "quantity": "0.11", "location": "MAIN"});
        app.ok("POST", "/movements", OPERATOR, Some(receipt.clone())).await;
        let id =
            app.ok("POST", "/work-orders", PLANNER, Some(json!({"planned_order": po}))).await["id"].as_i64().unwrap();
        assert_eq!(app.report(id, 10, &format!("{url}-start"), json!({"event": "start"})).await.0, StatusCode::CREATED);
        let before = app.counts().await;
        let mut tasks = Vec::new();
        for t in 0..4 {
            let (app, url) = (app.clone(), url.clone());
            tasks.push(tokio::spawn(async move {
                app.report(id, 10, &format!("{url}-short{t}"), json!({"event": "report", "good": 1})).await
            }));
        }
        let mut refused = Vec::new();
        for (t, task) in tasks.into_iter().enumerate() {
            let (s, body) = task.await.unwrap();
            match s {
                StatusCode::CREATED => {}
                StatusCode::CONFLICT => {
                    assert_eq!(body["code"], "insufficient_stock", "{body}");
                    assert!(body["message"].as_str().unwrap_or("").contains("GLUE"), "{body}");
                    refused.push(t);
                }
                _ => panic!("unexpected {s} {body}"),
            }
        }
        assert_eq!(refused.len(), 2, "stock for exactly two reports");
        let wo = app.ok("GET", &format!("/work-orders/{id}"), PLANNER, None).await;
        assert_eq!(dec(&wo["operations"][0]["good"]), d("2"));
        assert_eq!(app.position("GLUE", "MAIN", "available").await, d("0"));
        assert_eq!(app.position("GLUE", "WIP", "available").await, d("0.11"));
        let after = app.counts().await;
        assert_eq!(after[3] - before[3], 2, "one backflush movement per accepted report: {before:?} {after:?}");
        assert_eq!(app.ok("GET", "/wip/reconcile", PLANNER, None).await, json!([]));
        // A refused report stored no answer: its retry after a receipt posts.
        app.ok("POST", "/movements", OPERATOR, Some(receipt)).await;
        let key = format!("{url}-short{}", refused[0]);
        assert_eq!(app.report(id, 10, &key, json!({"event": "report", "good": 1})).await.0, StatusCode::CREATED);
        assert_eq!(app.position("GLUE", "MAIN", "available").await, d("0.055"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_terminals_on_one_operation_count_every_unit_once() {
    for url in databases().await {
        let app = std::sync::Arc::new(App::new(&url).await);
        let po = shop_floor(&app, 100).await;
        let id =
            app.ok("POST", "/work-orders", PLANNER, Some(json!({"planned_order": po}))).await["id"].as_i64().unwrap();
        assert_eq!(app.report(id, 10, &format!("{url}-start"), json!({"event": "start"})).await.0, StatusCode::CREATED);
        // 8 terminals × 10 reports of 1 good, each sent twice (a retry after a lost answer).
        let mut tasks = Vec::new();
        for t in 0..8 {
            let (app, url) = (app.clone(), url.clone());
            tasks.push(tokio::spawn(async move {
                for n in 0..10 {
                    let key = format!("{url}-t{t}-{n}");
                    let body = json!({"event": "report", "good": 1, "labour_hours": "0.1"});
                    let (a, b) = tokio::join!(app.report(id, 10, &key, body.clone()), app.report(id, 10, &key, body));
                    assert_eq!((a.0, b.0), (StatusCode::CREATED, StatusCode::CREATED), "{} {}", a.1, b.1);
                    assert_eq!(a.1, b.1, "a retry gets the first answer");
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let wo = app.ok("GET", &format!("/work-orders/{id}"), PLANNER, None).await;
        assert_eq!((dec(&wo["operations"][0]["good"]), dec(&wo["operations"][1]["arrived"])), (d("80"), d("80")));
        assert_eq!(dec(&wo["operations"][0]["labour_hours"]), d("8"));
        // 8 terminals race for the last 20: exactly 4 reports of 5 fit.
        let mut tasks = Vec::new();
        for t in 0..8 {
            let (app, url) = (app.clone(), url.clone());
            tasks.push(tokio::spawn(async move {
                app.report(id, 10, &format!("{url}-race{t}"), json!({"event": "report", "good": 5})).await
            }));
        }
        let mut codes = Vec::new();
        for t in tasks {
            let (s, e) = t.await.unwrap();
            codes.push(s);
            if s == StatusCode::CONFLICT {
                assert_eq!(e["code"], "over_reported");
            }
        }
        assert_eq!(codes.iter().filter(|s| **s == StatusCode::CREATED).count(), 4, "{codes:?}");
        let wo = app.ok("GET", &format!("/work-orders/{id}"), PLANNER, None).await;
        assert_eq!(dec(&wo["operations"][0]["good"]), d("100"));
        let reports: i64 = app
            .store
            .conn()
            .query_one_raw(sea_orm::Statement::from_string(
                app.store.backend(),
                format!("SELECT COUNT(*) AS n FROM operation_reports WHERE work_order_id = {id}"),
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get("", "n")
            .unwrap();
        assert_eq!(reports, 1 + 80 + 4);
        // WIP view: 100 waiting at ASSY, valued at 4 bolts × 0.25 + 0.055 glue × 10 per shelf.
        let wip = app.ok("GET", "/wip?as_of=2027-01-01", PLANNER, None).await;
        let assy = wip.as_array().unwrap().iter().find(|c| c["work_centre"] == "ASSY").unwrap().clone();
        assert_eq!(dec(&assy["queue_quantity"]), d("100"), "{assy}");
        assert_eq!(dec(&assy["wip_value"]), d("155"), "{assy}");
        let late = app.ok("GET", "/wip?as_of=2030-01-01", PLANNER, None).await;
        assert!(late.as_array().unwrap().iter().any(|c| !c["late"].as_array().unwrap().is_empty()));
        assert_eq!(app.ok("GET", "/wip/reconcile", PLANNER, None).await, json!([]));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_admin_token_cannot_be_revoked() {
    for url in databases().await {
        let app = App::new(&url).await;
        // "admin" is the only admin token: revoking it would lock everyone out of token management.
        let (s, body) = app.call("DELETE", "/tokens/admin", ADMIN, None).await;
        assert_eq!(s, StatusCode::CONFLICT, "{url}: {body}");
        assert_eq!(body["code"], "last_admin_token");
        assert!(body["message"].as_str().unwrap().contains("\"admin\""), "{body}");
        let (s, _) = app.call("GET", "/tokens", ADMIN, None).await;
        assert_eq!(s, StatusCode::OK, "the token still works");
        // With a second admin token, the first can go; then the second is the last.
        let (s, second) = app.call("POST", "/tokens", ADMIN, Some(json!({"name": "ada", "role": "admin"}))).await;
        assert_eq!(s, StatusCode::CREATED, "{second}");
        let (s, body) = app.call("DELETE", "/tokens/admin", ADMIN, None).await;
        assert_eq!(s, StatusCode::OK, "{body}");
        let secret = second["token"].as_str().unwrap();
        let (s, body) = app.call("DELETE", "/tokens/ada", secret, None).await;
        assert_eq!((s, body["code"].as_str()), (StatusCode::CONFLICT, Some("last_admin_token")));
        // Tokens of other roles are revoked as before.
        let (s, body) = app.call("DELETE", "/tokens/pia", secret, None).await;
        assert_eq!(s, StatusCode::OK, "{body}");
        assert!(body["revoked_at"].is_string(), "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_workflows_bad_input_is_refused_before_the_503() {
    // This server has no Temporal: a workflow route answers 503, but only
    // for input that would otherwise start a workflow.
    let url = databases().await.remove(0);
    let app = App::new(&url).await;
    let empty = json!({"item": "", "location": "", "lot": "", "reason": ""});
    let (s, body) = app.call("POST", "/quality/holds", ERP, Some(empty)).await;
    assert!(s.is_client_error(), "{s} {body}");
    assert!(body["message"].as_str().unwrap().contains("item"), "{body}");
    let (s, body) =
        app.call("POST", "/workflows/planned-order-releases", PLANNER, Some(json!({"planned_order": 999}))).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{body}");
    // Good input: 503, with the reason.
    assert_eq!(
        app.call("PUT", "/locations/MAIN", ADMIN, Some(json!({"id": "MAIN", "kind": "plant_store"}))).await.0,
        200
    );
    assert_eq!(app.call("PUT", "/items/RIVET", ADMIN, Some(json!({"id": "RIVET", "source": "buy"}))).await.0, 201);
    let receipt = json!({"kind": "receipt", "item": "RIVET", "quantity": 5, "location": "MAIN"});
    assert_eq!(app.call("POST", "/movements", ADMIN, Some(receipt)).await.0, 201);
    let hold = json!({"item": "RIVET", "location": "MAIN", "lot": "", "reason": "suspect"});
    let (s, body) = app.call("POST", "/quality/holds", ERP, Some(hold)).await;
    assert_eq!((s, body["code"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("workflows_unavailable")), "{body}");
}
