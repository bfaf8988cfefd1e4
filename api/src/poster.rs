//! Group commit for the high-rate writes (`POST /movements`, operation
//! reports): concurrent requests queue up and writer tasks commit them in
//! batches, one transaction and a fixed number of statements per batch.
//! Every request is answered only after its batch committed, so an
//! acknowledged write is durable; a request that fails alone gets its own
//! error.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::http::StatusCode;
use sea_orm::DatabaseTransaction;
use store::access::{self, AuditEntry, Caller, StoredResponse};
use store::db::TxFuture;
use store::ledger::{self, MovementBody, StockChanges};
use store::shop::{self, OperationReport};
use store::{Store, StoreError};
use tokio::sync::{mpsc, oneshot};

use crate::error::ApiError;

/// Largest batch one transaction takes.
const MAX_BATCH: usize = 256;

/// Writer tasks on PostgreSQL for movements.
pub const PG_WRITERS: usize = 3;

/// Writer tasks on PostgreSQL for operation reports. Reports of a plant
/// share hot rows (the stock of backflushed components and of finished
/// goods), which a batch changes last, just before its commit: two writers
/// overlap one batch's work with the other's commit; a third makes every
/// batch smaller and adds lock waits (measured with 64 terminals: 5,084/s
/// with two, 3,560/s with three). Re-measured on 2026-12-03, with the
/// positions locked only for the last statement: three were 0-8 % better,
/// inside the run-to-run noise; so were three with 128 terminals later that
/// day, and a `FILL_WAIT` of 0.5-1 ms.
pub const REPORT_PG_WRITERS: usize = 2;

/// The action recorded in the audit trail for movements.
pub const ACTION: &str = "POST /movements";

/// The action recorded in the audit trail for operation reports.
pub const REPORT_ACTION: &str = "POST /work-orders/{id}/operations/{sequence}/reports";

/// An answer: status, JSON body, and whether it replays a stored response.
pub type Answer = Result<(StatusCode, String, bool), ApiError>;

/// Each request's outcome in a batch: its JSON response and audit entry, or its own error.
pub type BatchResults = Vec<Result<(String, AuditEntry), StoreError>>;

/// What a batch function did: each request's outcome, and stock changes
/// still to apply as the transaction's last statement (after the audit and
/// idempotency records), so shared position rows stay locked only for the
/// commit.
pub struct Applied {
    /// Each request's outcome.
    pub results: BatchResults,
    /// Position changes left for the end of the transaction.
    pub stock: Option<StockChanges>,
}

/// Applies a batch of requests in a transaction. An `Err` for the whole
/// batch makes the writer retry the requests one at a time.
pub type ApplyFn<B> = for<'c> fn(&'c DatabaseTransaction, &'c [(&'c Caller, &'c B)]) -> TxFuture<'c, Applied>;

/// One queued request.
pub struct Job<B> {
    /// Who posts.
    pub caller: Caller,
    /// What.
    pub body: B,
    /// Its `Idempotency-Key`, if any.
    pub key: Option<String>,
    /// Hash of the request, to tell a replay from a reused key.
    pub request_hash: String,
    /// Where the answer goes.
    pub reply: oneshot::Sender<Answer>,
}

/// Longest a writer waits for a fuller batch (see [`Fill`]).
const FILL_WAIT: std::time::Duration = std::time::Duration::from_millis(2);

/// The queue in front of the writer tasks of one kind of request.
pub struct Poster<B> {
    queue: mpsc::Sender<Job<B>>,
    fill: Arc<Fill>,
}

impl<B> Clone for Poster<B> {
    fn clone(&self) -> Self {
        Poster { queue: self.queue.clone(), fill: self.fill.clone() }
    }
}

/// What a writer needs to size its batch. Under load the writers take
/// turns: while one writes, the clients it answered come back. A writer
/// that took only the few requests that happened to be queued would pay a
/// batch's fixed cost (a dozen statements and a commit) for them and then
/// wait for the other's locks, so it waits up to [`FILL_WAIT`] for its
/// share of the requests in flight.
struct Fill {
    /// Requests posted and not yet answered.
    in_flight: AtomicUsize,
    /// Writer tasks.
    writers: usize,
}

/// Counts a request in flight until dropped (also when its client goes away).
struct InFlight<'a>(&'a AtomicUsize);

impl<'a> InFlight<'a> {
    fn enter(counter: &'a AtomicUsize) -> InFlight<'a> {
        counter.fetch_add(1, Ordering::Relaxed);
        InFlight(counter)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Fill {
    /// The batch a writer should wait for.
    fn share(&self) -> usize {
        (self.in_flight.load(Ordering::Relaxed) / self.writers).min(MAX_BATCH)
    }
}

/// How a kind of request is written: its batch function and audit action.
struct Kind<B> {
    apply: ApplyFn<B>,
    action: &'static str,
}

impl<B> Clone for Kind<B> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<B> Copy for Kind<B> {}

impl<B: Clone + Send + Sync + 'static> Poster<B> {
    /// Starts the writer tasks on the current runtime: one for SQLite (it
    /// has one writer anyway), `pg_writers` for PostgreSQL, so one batch's
    /// commit (its WAL flush) overlaps the next batch's work.
    pub fn start(store: Store, apply: ApplyFn<B>, action: &'static str, pg_writers: usize) -> Poster<B> {
        let (queue, rx) = mpsc::channel(4 * MAX_BATCH);
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        let writers = if store.backend() == sea_orm::DbBackend::Postgres { pg_writers.max(1) } else { 1 };
        let fill = Arc::new(Fill { in_flight: AtomicUsize::new(0), writers });
        for _ in 0..writers {
            tokio::spawn(writer(store.clone(), rx.clone(), Kind { apply, action }, fill.clone()));
        }
        Poster { queue, fill }
    }

    /// Queues a request and waits for its answer.
    pub async fn post(&self, job: Job<B>, reply: oneshot::Receiver<Answer>) -> Answer {
        let stopping =
            || Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "shutting_down", "the server is stopping"));
        let _counted = InFlight::enter(&self.fill.in_flight);
        match self.queue.send(job).await {
            Ok(()) => reply.await.unwrap_or_else(|_| stopping()),
            Err(_) => stopping(),
        }
    }
}

/// Movements: [`ledger::post_movements`] for the whole batch.
pub fn apply_movements<'c>(
    txn: &'c DatabaseTransaction,
    jobs: &'c [(&'c Caller, &'c MovementBody)],
) -> TxFuture<'c, Applied> {
    Box::pin(async move {
        let postings: Vec<(&str, &MovementBody)> = jobs.iter().map(|(c, b)| (c.name.as_str(), *b)).collect();
        // Positions first: a posting short of stock is refused on its own.
        let results = ledger::post_movements(txn, &postings)
            .await?
            .into_iter()
            .map(|r| {
                r.map(|m| {
                    let entry = AuditEntry {
                        entity: "movement",
                        entity_id: Some(m.id.to_string()),
                        detail: Some(format!("{} {} {}", m.kind, m.quantity, m.item)),
                    };
                    (serde_json::to_string(&m).expect("movements serialise"), entry)
                })
            })
            .collect();
        Ok(Applied { results, stock: None })
    })
}

/// Operation reports: [`shop::report_operations`] for the whole batch.
pub fn apply_reports<'c>(
    txn: &'c DatabaseTransaction,
    jobs: &'c [(&'c Caller, &'c OperationReport)],
) -> TxFuture<'c, Applied> {
    Box::pin(async move {
        let reports: Vec<OperationReport> =
            jobs.iter().map(|(c, r)| OperationReport { actor: c.name.clone(), ..(*r).clone() }).collect();
        let (outcomes, stock) = shop::report_operations(txn, &reports).await?;
        let results = outcomes
            .into_iter()
            .map(|r| {
                r.map(|o| {
                    let entry = AuditEntry {
                        entity: "operation",
                        entity_id: Some(format!("{}/{}", shop::reference(o.work_order), o.sequence)),
                        detail: Some(format!("{} (report {})", o.event, o.report)),
                    };
                    (serde_json::to_string(&o).expect("reports serialise"), entry)
                })
            })
            .collect();
        Ok(Applied { results, stock: Some(stock) })
    })
}

async fn writer<B: Clone + Send + Sync + 'static>(
    store: Store,
    rx: Arc<tokio::sync::Mutex<mpsc::Receiver<Job<B>>>>,
    kind: Kind<B>,
    fill: Arc<Fill>,
) {
    loop {
        let batch = {
            let mut rx = rx.lock().await;
            let Some(first) = rx.recv().await else { return };
            let mut batch = vec![first];
            let deadline = tokio::time::Instant::now() + FILL_WAIT;
            loop {
                while batch.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(job) => batch.push(job),
                        Err(_) => break,
                    }
                }
                if batch.len() >= fill.share() {
                    break;
                }
                match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Ok(Some(job)) => batch.push(job),
                    _ => break,
                }
            }
            batch
        };
        let (size, started) = (batch.len(), std::time::Instant::now());
        let looked_up = process(&store, batch, kind).await;
        let lookup = looked_up.map_or(0, |t| t.duration_since(started).as_micros() as u64);
        tracing::debug!(
            size,
            micros = started.elapsed().as_micros() as u64,
            lookup_micros = lookup,
            action = kind.action,
            "batch committed"
        );
    }
}

/// The stored first response, if `request_hash` is the same request; else
/// the key was reused for another request (422).
pub fn replay(stored: &StoredResponse, request_hash: &str) -> Answer {
    if stored.request_hash != request_hash {
        return Err(ApiError::field(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "Idempotency-Key",
            "was already used for a different request",
        ));
    }
    Ok((StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK), stored.body.clone(), true))
}

/// Answers a batch; returns when its idempotency look-up ended (for the log).
async fn process<B: Clone + Send + Sync + 'static>(
    store: &Store,
    batch: Vec<Job<B>>,
    kind: Kind<B>,
) -> Option<std::time::Instant> {
    // Keys seen before: answer from the stored response.
    let pairs: Vec<(String, String)> =
        batch.iter().filter_map(|j| Some((j.caller.name.clone(), j.key.clone()?))).collect();
    let stored = if pairs.is_empty() {
        HashMap::new()
    } else {
        match access::stored_responses(store.conn(), &pairs).await {
            Ok(s) => s,
            Err(e) => {
                let e = ApiError::from(e);
                for job in batch {
                    let _ = job.reply.send(Err(ApiError::new(e.status, &e.body.code, e.body.message.clone())));
                }
                return None;
            }
        }
    };
    let looked_up = std::time::Instant::now();
    // The first job of each key leads; later ones with the same key follow it.
    let mut leaders: Vec<Job<B>> = Vec::new();
    let mut followers: Vec<(usize, Job<B>)> = Vec::new();
    let mut leader_of: HashMap<(String, String), usize> = HashMap::new();
    for job in batch {
        if let Some(key) = &job.key {
            let pair = (job.caller.name.clone(), key.clone());
            if let Some(s) = stored.get(&pair) {
                let _ = job.reply.send(replay(s, &job.request_hash));
                continue;
            }
            if let Some(&i) = leader_of.get(&pair) {
                followers.push((i, job));
                continue;
            }
            leader_of.insert(pair, leaders.len());
        }
        leaders.push(job);
    }
    if leaders.is_empty() {
        return Some(looked_up);
    }
    let inputs: Vec<(Caller, B, Option<String>, String)> =
        leaders.iter().map(|j| (j.caller.clone(), j.body.clone(), j.key.clone(), j.request_hash.clone())).collect();
    let outcome = store
        .write(move |txn| {
            Box::pin(async move {
                let jobs: Vec<(&Caller, &B)> = inputs.iter().map(|(c, b, _, _)| (c, b)).collect();
                let Applied { results, stock } = (kind.apply)(txn, &jobs).await?;
                let mut audits = Vec::new();
                let mut responses = Vec::new();
                let mut answers = Vec::with_capacity(results.len());
                for ((caller, _, key, hash), result) in inputs.iter().zip(results) {
                    match result {
                        Ok((body, entry)) => {
                            audits.push((caller, entry));
                            if let Some(key) = key {
                                let stored =
                                    StoredResponse { request_hash: hash.clone(), status: 201, body: body.clone() };
                                responses.push((caller.name.as_str(), key.as_str(), stored));
                            }
                            answers.push(Ok(body));
                        }
                        Err(e) => answers.push(Err(e)),
                    }
                }
                let audit_rows: Vec<(&Caller, &str, &AuditEntry)> =
                    audits.iter().map(|(c, e)| (*c, kind.action, e)).collect();
                finish(txn, stock, &audit_rows, &responses).await?;
                Ok(answers)
            })
        })
        .await;
    let answers: Vec<Answer> = match outcome {
        Ok(answers) => answers
            .into_iter()
            .map(|a| a.map(|body| (StatusCode::CREATED, body, false)).map_err(ApiError::from))
            .collect(),
        // The batch as a whole failed (a deadlock, a key committed meanwhile
        // by another route, a posting refused): post each on its own so one
        // cannot sink the rest.
        Err(_) => {
            let mut out = Vec::with_capacity(leaders.len());
            for job in &leaders {
                out.push(post_alone(store, job, kind).await);
            }
            out
        }
    };
    let mut shared: Vec<(Option<(StatusCode, String)>, String)> = Vec::with_capacity(leaders.len());
    for (job, answer) in leaders.into_iter().zip(answers) {
        shared.push((answer.as_ref().ok().map(|(s, b, _)| (*s, b.clone())), job.request_hash.clone()));
        let _ = job.reply.send(answer);
    }
    for (i, job) in followers {
        let answer = match &shared[i] {
            (_, leader_hash) if *leader_hash != job.request_hash => Err(ApiError::field(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "Idempotency-Key",
                "was already used for a different request",
            )),
            (Some((status, body)), _) => Ok((*status, body.clone(), true)),
            (None, _) => Err(ApiError::new(
                StatusCode::CONFLICT,
                "retry",
                "the first request with this Idempotency-Key failed; retry",
            )),
        };
        let _ = job.reply.send(answer);
    }
    Some(looked_up)
}

/// A batch's last statement: its audit and idempotency records, with the
/// stock changes left for the end (one statement on PostgreSQL).
async fn finish(
    txn: &DatabaseTransaction,
    stock: Option<StockChanges>,
    audits: &[(&Caller, &str, &AuditEntry)],
    responses: &[(&str, &str, StoredResponse)],
) -> Result<(), StoreError> {
    match stock {
        Some(stock) => stock.apply_after(txn, &access::write_records(audits, responses).tables()).await,
        None => access::record_writes(txn, audits, responses).await,
    }
}

/// One request in its own transaction (the fallback when a batch fails).
async fn post_alone<B: Clone + Send + Sync + 'static>(store: &Store, job: &Job<B>, kind: Kind<B>) -> Answer {
    let (caller, body, key, hash) = (job.caller.clone(), job.body.clone(), job.key.clone(), job.request_hash.clone());
    let result = store
        .write(move |txn| {
            Box::pin(async move {
                let Applied { mut results, stock } = (kind.apply)(txn, &[(&caller, &body)]).await?;
                let (body, entry) = results.pop().expect("one result")?;
                let stored: Vec<(&str, &str, StoredResponse)> = key
                    .iter()
                    .map(|key| {
                        let stored = StoredResponse { request_hash: hash.clone(), status: 201, body: body.clone() };
                        (caller.name.as_str(), key.as_str(), stored)
                    })
                    .collect();
                finish(txn, stock, &[(&caller, kind.action, &entry)], &stored).await?;
                Ok(body)
            })
        })
        .await;
    match result {
        Ok(body) => Ok((StatusCode::CREATED, body, false)),
        Err(e) if e.is_unique_violation() && job.key.is_some() => {
            let key = job.key.clone().unwrap_or_default();
            match access::stored_response(store.conn(), &job.caller.name, &key).await {
                Ok(Some(s)) => replay(&s, &job.request_hash),
                Ok(None) => Err(e.into()),
                Err(e2) => Err(e2.into()),
            }
        }
        Err(e) => Err(e.into()),
    }
}
