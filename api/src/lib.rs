//! The control plane's REST API over [`store`]: axum routes, bearer tokens
//! with roles on every route, idempotent writes with an audit record each,
//! JSON errors that name the field, and the OpenAPI document at
//! `/openapi.json`, generated from the same route declarations (so every
//! route is in it).

pub mod error;
pub mod feed;
pub mod poster;
pub mod quality;
pub mod routes;
pub mod shop_routes;
pub mod state;

use std::net::SocketAddr;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "Takt control plane", description = "MRP and inventory control plane: master data, ledger, demand and supply, MRP runs."),
    // Path parameters' enums are not collected from the routes' bodies.
    components(schemas(store::planning::PlannedAction, shop_routes::TransferAction)),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Largest request body (bulk imports and scenarios): 64 MiB.
pub const MAX_BODY: usize = 64 << 20;

/// The router and its OpenAPI document.
pub fn router(state: AppState) -> (Router, utoipa::openapi::OpenApi) {
    use routes::*;
    let (router, api) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health))
        .routes(routes!(list_items))
        .routes(routes!(import_items))
        .routes(routes!(get_item, put_item, delete_item))
        .routes(routes!(list_boms, add_bom))
        .routes(routes!(get_routing, put_routing))
        .routes(routes!(list_work_centres))
        .routes(routes!(put_work_centre, delete_work_centre))
        .routes(routes!(list_locations))
        .routes(routes!(put_location, delete_location))
        .routes(routes!(post_movement, list_movements))
        .routes(routes!(list_positions))
        .routes(routes!(item_stock))
        .routes(routes!(reconcile))
        .routes(routes!(list_demand))
        .routes(routes!(put_demand, delete_demand))
        .routes(routes!(import_demand))
        .routes(routes!(list_supply))
        .routes(routes!(get_supply, put_supply))
        .routes(routes!(import_supply))
        .routes(routes!(receive))
        .routes(routes!(run_mrp, list_runs))
        .routes(routes!(optimize))
        .routes(routes!(get_run))
        .routes(routes!(run_result))
        .routes(routes!(run_scenario))
        .routes(routes!(compare_runs))
        .routes(routes!(list_planned_orders))
        .routes(routes!(transition))
        .routes(routes!(get_calendar, put_calendar))
        .routes(routes!(export_scenario, import_scenario))
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(revoke_token))
        .routes(routes!(list_audit))
        .routes(routes!(shop_routes::release_work_order, shop_routes::list_work_orders))
        .routes(routes!(shop_routes::get_work_order))
        .routes(routes!(shop_routes::close_work_order))
        .routes(routes!(shop_routes::report_operation))
        .routes(routes!(shop_routes::list_reports))
        .routes(routes!(shop_routes::wip))
        .routes(routes!(shop_routes::reconcile_wip))
        .routes(routes!(shop_routes::events))
        .routes(routes!(shop_routes::create_transfer_order, shop_routes::list_transfer_orders))
        .routes(routes!(shop_routes::get_transfer_order))
        .routes(routes!(shop_routes::transfer_step))
        .routes(routes!(quality::start_receipt))
        .routes(routes!(quality::start_hold, quality::list_holds))
        .routes(routes!(quality::workflow_state))
        .routes(routes!(quality::list_lots))
        .routes(routes!(quality::get_lot))
        .routes(routes!(quality::record_results))
        .routes(routes!(quality::decide))
        .routes(routes!(quality::list_alerts))
        .routes(routes!(quality::list_notifications))
        .routes(routes!(quality::list_supplier_returns))
        .routes(routes!(quality::get_settings, quality::put_settings))
        .routes(routes!(quality::release_planned_order))
        .split_for_parts();
    let doc = api.clone();
    let router = router
        .route("/openapi.json", axum::routing::get(move || async move { axum::Json(doc) }))
        .layer(middleware::from_fn_with_state(state.clone(), state::authenticate))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state);
    (router, api)
}

/// Serves the API on `listener` until Ctrl-C or SIGTERM.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    let (app, _) = router(state);
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown_signal())
        .await
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
