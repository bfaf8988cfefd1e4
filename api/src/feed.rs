//! The live shop event feed behind `GET /events`: one task per server polls
//! the `shop_events` table (so events from any process, a worker included,
//! reach every dashboard) and broadcasts what is new. PostgreSQL hands out
//! event ids before commit, so a later id can commit first; the poller
//! remembers the gaps it skipped and delivers those events when they
//! appear (a gap left by a rolled-back transaction is given up after a
//! while).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use store::Store;
use store::shop::{self, ShopEvent};
use tokio::sync::broadcast;

const POLL: Duration = Duration::from_millis(100);
const GAP_PATIENCE: Duration = Duration::from_secs(10);
const MAX_GAPS: usize = 10_000;

/// The broadcast side of the feed.
#[derive(Clone)]
pub struct Feed {
    tx: broadcast::Sender<Arc<ShopEvent>>,
}

impl Feed {
    /// Starts the poller on the current runtime.
    pub fn start(store: Store) -> Feed {
        let (tx, _) = broadcast::channel(8192);
        tokio::spawn(poll(store, tx.clone()));
        Feed { tx }
    }

    /// Events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<ShopEvent>> {
        self.tx.subscribe()
    }
}

async fn poll(store: Store, tx: broadcast::Sender<Arc<ShopEvent>>) {
    let mut last = shop::last_event_id(store.conn()).await.unwrap_or(0);
    let mut gaps: BTreeMap<i64, Instant> = BTreeMap::new();
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if tx.receiver_count() == 0 {
            // Nobody listens: skip ahead (a client that connects later asks
            // for its backlog by id).
            if let Ok(id) = shop::last_event_id(store.conn()).await {
                last = last.max(id);
            }
            gaps.clear();
            continue;
        }
        if !gaps.is_empty() {
            let ids: Vec<i64> = gaps.keys().take(256).copied().collect();
            if let Ok(found) = shop::events_with_ids(store.conn(), &ids).await {
                for e in found {
                    gaps.remove(&e.id);
                    let _ = tx.send(Arc::new(e));
                }
            }
            gaps.retain(|_, seen| seen.elapsed() < GAP_PATIENCE);
        }
        loop {
            let Ok(batch) = shop::events_after(store.conn(), last, 1000).await else { break };
            let full = batch.len() == 1000;
            let now = Instant::now();
            for e in batch {
                for missing in last + 1..e.id {
                    if gaps.len() < MAX_GAPS {
                        gaps.insert(missing, now);
                    }
                }
                last = e.id;
                let _ = tx.send(Arc::new(e));
            }
            if !full {
                break;
            }
        }
    }
}
