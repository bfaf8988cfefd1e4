//! Group commit for `POST /movements`: concurrent postings queue up and a
//! writer task commits them in batches, one transaction and a fixed number
//! of statements per batch (see `store::ledger::post_movements`). Every
//! posting is answered only after its batch committed, so an acknowledged
//! movement is durable; a posting that fails alone gets its own error.

use std::collections::HashMap;

use axum::http::StatusCode;
use store::Store;
use store::access::{self, AuditEntry, Caller, StoredResponse};
use store::ledger::{self, MovementBody};
use tokio::sync::{mpsc, oneshot};

use crate::error::ApiError;

/// Largest batch one transaction takes.
const MAX_BATCH: usize = 256;

/// Writer tasks on PostgreSQL.
pub const PG_WRITERS: usize = 3;

/// The action recorded in the audit trail.
pub const ACTION: &str = "POST /movements";

/// An answer: status, JSON body, and whether it replays a stored response.
pub type Answer = Result<(StatusCode, String, bool), ApiError>;

/// One queued posting.
pub struct Job {
    /// Who posts.
    pub caller: Caller,
    /// What.
    pub body: MovementBody,
    /// Its `Idempotency-Key`, if any.
    pub key: Option<String>,
    /// Hash of the request, to tell a replay from a reused key.
    pub request_hash: String,
    /// Where the answer goes.
    pub reply: oneshot::Sender<Answer>,
}

/// The queue in front of the writer task.
#[derive(Clone)]
pub struct Poster {
    queue: mpsc::Sender<Job>,
}

impl Poster {
    /// Starts the writer tasks on the current runtime: one for SQLite (it
    /// has one writer anyway), [`PG_WRITERS`] for PostgreSQL, so one batch's
    /// commit (its WAL flush) overlaps the next batch's work.
    pub fn start(store: Store) -> Poster {
        let (queue, rx) = mpsc::channel(4 * MAX_BATCH);
        let rx = std::sync::Arc::new(tokio::sync::Mutex::new(rx));
        let writers = if store.backend() == sea_orm::DbBackend::Postgres { PG_WRITERS } else { 1 };
        for _ in 0..writers {
            tokio::spawn(writer(store.clone(), rx.clone()));
        }
        Poster { queue }
    }

    /// Queues a posting and waits for its answer.
    pub async fn post(&self, job: Job, reply: oneshot::Receiver<Answer>) -> Answer {
        if self.queue.send(job).await.is_err() {
            return Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "shutting_down", "the server is stopping"));
        }
        reply.await.unwrap_or_else(|_| {
            Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "shutting_down", "the server is stopping"))
        })
    }
}

async fn writer(store: Store, rx: std::sync::Arc<tokio::sync::Mutex<mpsc::Receiver<Job>>>) {
    loop {
        let batch = {
            let mut rx = rx.lock().await;
            let Some(first) = rx.recv().await else { return };
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            batch
        };
        let (size, started) = (batch.len(), std::time::Instant::now());
        process(&store, batch).await;
        tracing::debug!(size, micros = started.elapsed().as_micros() as u64, "movement batch committed");
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

fn audit_entry(m: &ledger::Movement) -> AuditEntry {
    AuditEntry {
        entity: "movement",
        entity_id: Some(m.id.to_string()),
        detail: Some(format!("{} {} {}", m.kind, m.quantity, m.item)),
    }
}

async fn process(store: &Store, batch: Vec<Job>) {
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
                return;
            }
        }
    };
    // The first job of each key leads; later ones with the same key follow it.
    let mut leaders: Vec<Job> = Vec::new();
    let mut followers: Vec<(usize, Job)> = Vec::new();
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
        return;
    }
    let inputs: Vec<(Caller, MovementBody, Option<String>, String)> =
        leaders.iter().map(|j| (j.caller.clone(), j.body.clone(), j.key.clone(), j.request_hash.clone())).collect();
    let outcome = store
        .write(move |txn| {
            Box::pin(async move {
                let postings: Vec<(&str, &MovementBody)> =
                    inputs.iter().map(|(c, b, _, _)| (c.name.as_str(), b)).collect();
                let results = ledger::post_movements(txn, &postings).await?;
                let mut audits = Vec::new();
                let mut responses = Vec::new();
                let mut answers = Vec::with_capacity(results.len());
                for ((caller, _, key, hash), result) in inputs.iter().zip(results) {
                    match result {
                        Ok(m) => {
                            let body = serde_json::to_string(&m).expect("movements serialise");
                            audits.push((caller, audit_entry(&m)));
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
                    audits.iter().map(|(c, e)| (*c, ACTION, e)).collect();
                access::record_audits(txn, &audit_rows).await?;
                access::save_responses(txn, &responses).await?;
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
        // by another route): post each on its own so one cannot sink the rest.
        Err(_) => {
            let mut out = Vec::with_capacity(leaders.len());
            for job in &leaders {
                out.push(post_alone(store, job).await);
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
}

/// One posting in its own transaction (the fallback when a batch fails).
async fn post_alone(store: &Store, job: &Job) -> Answer {
    let (caller, body, key, hash) = (job.caller.clone(), job.body.clone(), job.key.clone(), job.request_hash.clone());
    let result = store
        .write(move |txn| {
            Box::pin(async move {
                let m = ledger::post_movement(txn, &caller.name, &body).await?;
                let body = serde_json::to_string(&m).expect("movements serialise");
                access::record_audit(txn, &caller, ACTION, &audit_entry(&m)).await?;
                if let Some(key) = &key {
                    let stored = StoredResponse { request_hash: hash, status: 201, body: body.clone() };
                    access::save_response(txn, &caller.name, key, &stored).await?;
                }
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
