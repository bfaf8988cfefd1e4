//! The batch posting behind `POST /movements`, on SQLite and PostgreSQL:
//! postings apply in order, a refused one changes nothing and does not sink
//! the others, and positions stay equal to the ledger.

use rust_decimal::Decimal;
use sea_orm::ConnectionTrait;
use store::Store;
use store::ledger::{self, MovementBody};
use store::master::{self, Item, Location};
use store::names::{LocationKind, MovementKind, Source, StockStatus};
use store::qty::Qty;

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

fn movement(kind: MovementKind, item: &str, q: i64, location: &str) -> MovementBody {
    MovementBody {
        kind,
        item: item.into(),
        lot: String::new(),
        quantity: Qty(Decimal::from(q)),
        location: location.into(),
        status: None,
        to_location: None,
        to_status: None,
        reason: None,
        reference: None,
    }
}

#[tokio::test]
async fn a_batch_applies_in_order_and_refuses_alone() {
    for url in databases("batch").await {
        let store = Store::connect(&url).await.unwrap();
        store
            .write(|txn| {
                Box::pin(async move {
                    master::put_location(txn, &Location { id: "A".into(), name: None, kind: LocationKind::PlantStore })
                        .await?;
                    master::put_location(txn, &Location { id: "B".into(), name: None, kind: LocationKind::WipArea })
                        .await?;
                    let item = Item {
                        id: "NUT".into(),
                        name: None,
                        source: Source::Buy,
                        lead_time: 0,
                        safety_stock: Qty::ZERO,
                        lot: Default::default(),
                        unit_cost: None,
                        uom: None,
                        allow_negative: false,
                        requires_inspection: false,
                        backflush: false,
                    };
                    master::put_items(txn, &[item], "").await?;
                    Ok(())
                })
            })
            .await
            .unwrap();
        let batch = [
            movement(MovementKind::Receipt, "NUT", 5, "A"),
            movement(MovementKind::Issue, "NUT", 3, "A"),    // ok: 5 on hand
            movement(MovementKind::Issue, "NUT", 3, "A"),    // refused: 2 left
            movement(MovementKind::Receipt, "BOLT", 1, "A"), // refused: no such item
            movement(MovementKind::Issue, "NUT", 2, "A"),    // ok: exactly 2 left
            movement(MovementKind::Receipt, "NUT", 10, "A"),
            MovementBody { to_location: Some("B".into()), ..movement(MovementKind::Transfer, "NUT", 11, "A") }, // refused: 10 left
            MovementBody { to_location: Some("B".into()), ..movement(MovementKind::Transfer, "NUT", 4, "A") },
        ];
        let results = store
            .write(move |txn| {
                Box::pin(async move {
                    let postings: Vec<(&str, &MovementBody)> = batch.iter().map(|b| ("tester", b)).collect();
                    ledger::post_movements(txn, &postings).await
                })
            })
            .await
            .unwrap();
        let ok: Vec<bool> = results.iter().map(Result::is_ok).collect();
        assert_eq!(ok, [true, true, false, false, true, true, false, true], "{url}: {results:?}");
        assert!(results[2].as_ref().unwrap_err().to_string().contains("only 2"), "{:?}", results[2]);
        let ids: Vec<i64> = results.iter().flatten().map(|m| m.id).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "ledger ids follow posting order: {ids:?}");
        let stock = ledger::item_stock(store.conn(), "NUT").await.unwrap();
        assert_eq!(stock.available.0, Decimal::from(10));
        let at: Vec<(String, Decimal)> = stock.positions.iter().map(|p| (p.location.clone(), p.quantity.0)).collect();
        assert_eq!(at, [("A".to_owned(), Decimal::from(6)), ("B".to_owned(), Decimal::from(4))], "{url}");
        assert!(stock.positions.iter().all(|p| p.status == StockStatus::Available));
        assert!(ledger::reconcile(store.conn()).await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn old_idempotency_responses_are_pruned() {
    use store::access::{self, StoredResponse};
    for url in databases("prune").await {
        let store = Store::connect(&url).await.unwrap();
        store
            .write(|txn| {
                Box::pin(async move {
                    let r = StoredResponse { request_hash: "h".into(), status: 201, body: "{}".into() };
                    access::save_response(txn, "otto", "k1", &r).await
                })
            })
            .await
            .unwrap();
        let past = chrono::Utc::now() - chrono::Duration::hours(1);
        assert_eq!(access::prune_responses(store.conn(), past).await.unwrap(), 0, "{url}: a fresh response stays");
        assert!(access::stored_response(store.conn(), "otto", "k1").await.unwrap().is_some());
        let future = chrono::Utc::now() + chrono::Duration::hours(1);
        assert_eq!(access::prune_responses(store.conn(), future).await.unwrap(), 1, "{url}");
        assert!(access::stored_response(store.conn(), "otto", "k1").await.unwrap().is_none());
    }
}
