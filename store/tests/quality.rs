//! The quality services the workflow activities call, on SQLite and
//! PostgreSQL: every step is idempotent, so an activity that Temporal runs
//! again (after a crash or a timeout) finds its earlier result and posts
//! nothing twice.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use sea_orm::ConnectionTrait;
use store::Store;
use store::ledger::{self, MovementQuery};
use store::master::{self, Item, Location};
use store::names::{LocationKind, Source, SupplyKind, SupplyStatus};
use store::qty::Qty;
use store::quality::{self, DecisionBody, ReceiptRequest};
use store::supply::{self, SupplyOrder};

async fn databases(tag: &str) -> Vec<String> {
    let dir = std::env::temp_dir().join("takt-store-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let unique = format!("{tag}_{}_{}", std::process::id(), chrono::Utc::now().timestamp_micros() % 1_000_000);
    let mut urls = vec![format!("sqlite://{}?mode=rwc", dir.join(format!("{unique}.db")).display())];
    let base = std::env::var("TAKT_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    if base != "off" {
        let admin =
            sea_orm::Database::connect(&base).await.expect("PostgreSQL for the tests (or TAKT_TEST_POSTGRES=off)");
        admin.execute_unprepared(&format!("CREATE DATABASE takt_t{unique}")).await.unwrap();
        urls.push(format!("{}/takt_t{unique}", base.rsplit_once('/').unwrap().0));
    }
    urls
}

async fn setup(store: &Store) {
    store
        .write(|txn| {
            Box::pin(async move {
                master::put_location(txn, &Location { id: "RECV".into(), name: None, kind: LocationKind::PlantStore })
                    .await?;
                let item = Item {
                    id: "RESIN".into(),
                    name: None,
                    source: Source::Buy,
                    lead_time: 0,
                    safety_stock: Qty::ZERO,
                    lot: Default::default(),
                    unit_cost: None,
                    uom: None,
                    allow_negative: false,
                    requires_inspection: true,
                    backflush: false,
                };
                master::put_items(txn, &[item], "").await?;
                let order = SupplyOrder {
                    id: "PO-1".into(),
                    kind: SupplyKind::Purchase,
                    item: "RESIN".into(),
                    supplier: Some("ACME".into()),
                    quantity: Qty(Decimal::from(100)),
                    received: Qty::ZERO,
                    due_date: NaiveDate::from_ymd_opt(2027, 1, 11).unwrap(),
                    status: SupplyStatus::Open,
                    location: Some("RECV".into()),
                };
                supply::put_supply_orders(txn, &[order], "").await?;
                Ok(())
            })
        })
        .await
        .unwrap();
}

async fn movement_count(store: &Store) -> usize {
    let q = MovementQuery { item: Some("RESIN".into()), limit: Some(1000), ..Default::default() };
    ledger::movements(store.conn(), &q).await.unwrap().rows.len()
}

#[tokio::test]
async fn every_step_of_an_inspection_lot_runs_once_however_often_it_is_called() {
    for url in databases("quality").await {
        let store = Store::connect(&url).await.unwrap();
        setup(&store).await;
        let request = ReceiptRequest {
            supply_order: "PO-1".into(),
            quantity: Qty(Decimal::from(60)),
            location: None,
            lot: "L1".into(),
        };
        // The receipt activity, run three times (a retried activity).
        let mut lots = Vec::new();
        for _ in 0..3 {
            let r = request.clone();
            lots.push(
                store
                    .write(move |txn| Box::pin(async move { quality::post_receipt(txn, "otto", "wf-1", &r).await }))
                    .await
                    .unwrap(),
            );
        }
        assert!(lots.windows(2).all(|w| w[0] == w[1]), "{lots:?}");
        assert_eq!(movement_count(&store).await, 1, "{url}: one receipt movement");
        let order = supply::get_supply_order(store.conn(), "PO-1").await.unwrap();
        assert_eq!(order.received, Qty(Decimal::from(60)), "received once");
        let id = lots[0].id;
        let lot = quality::get_lot(store.conn(), id).await.unwrap();
        // Lot 51–90 → E, n = 13 at AQL 1.0 → Ac 0 / Re 1.
        assert_eq!(
            (lot.sampling_plan["code_letter"].as_str(), lot.sampling_plan["sample_size"].as_u64()),
            (Some("E"), Some(13))
        );

        // Escalation twice: one alert.
        for _ in 0..2 {
            store.write(move |txn| Box::pin(async move { quality::escalate(txn, id).await })).await.unwrap();
        }
        assert_eq!(quality::list_alerts(store.conn()).await.unwrap().len(), 1);
        assert_eq!(quality::get_lot(store.conn(), id).await.unwrap().step, "escalated");

        // A partial decision applied three times: one release, one reject, one return.
        let body = DecisionBody {
            decision: ::quality::DecisionKind::Partial,
            released: Some(Qty(Decimal::from(45))),
            rejected: Some(Qty(Decimal::from(15))),
            scrapped: None,
            note: None,
        };
        let (_, decision) = quality::check_decision(store.conn(), "ines", id, &body).await.unwrap();
        for _ in 0..3 {
            let d = decision.clone();
            let lot =
                store.write(move |txn| Box::pin(async move { quality::apply_decision(txn, &d).await })).await.unwrap();
            assert_eq!((lot.status.as_str(), lot.decided_by.as_deref()), ("partial", Some("ines")));
        }
        assert_eq!(movement_count(&store).await, 3, "{url}: receipt + release + reject, once each");
        assert_eq!(quality::list_supplier_returns(store.conn()).await.unwrap().len(), 1);
        let stock = ledger::item_stock(store.conn(), "RESIN").await.unwrap();
        assert_eq!(
            (stock.available, stock.quality_hold, stock.blocked),
            (Qty(Decimal::from(45)), Qty::ZERO, Qty(Decimal::from(15)))
        );
        // The lot is closed: a new decision is refused.
        let again = quality::check_decision(store.conn(), "ines", id, &body).await.unwrap_err();
        assert!(matches!(again, store::StoreError::Conflict { code: "lot_closed", .. }), "{again}");

        // The ERP notification twice: recorded once, the step completes.
        for _ in 0..2 {
            let lot =
                store.write(move |txn| Box::pin(async move { quality::notify_outcome(txn, id).await })).await.unwrap();
            assert_eq!(lot.step, "completed");
        }
        assert_eq!(quality::list_notifications(store.conn()).await.unwrap().len(), 1);
    }
}
