//! The single writer thread: group commit of queued write requests.
//!
//! Each loop takes every queued request (up to a cap), opens one transaction, applies each
//! request under its own `_xact_id`, refreshes the summaries of every trace the batch touched,
//! commits once, and only then answers each request. A request naming an unknown object is
//! refused before it writes anything, so it does not affect the others. Requests get no
//! savepoint of their own: SQLite copies every page a savepoint's writes touch into a
//! sub-journal first (and frees it at the release), which cost the writer about a fifth of
//! its time. A storage error fails the whole group (the transaction rolls back, every request
//! gets the error and may retry).

use crate::blobs::{self, BlobCache, BlobHash, BlobIds, Field, PAYLOAD_COUNT};
use crate::codec::{self, Payload};
use crate::fields::IndexedFields;
use crate::id_keys;
use crate::key_tiers::{self, IdKind};
use crate::payload_log::PayloadLog;
use crate::rollups::{self, RollupDeltas};
use crate::syncer::{Delivery, Syncer};
use crate::trace_summary::{NewSpan, RootFacts, SpanTotals, TraceChange, TraceChanges, TraceKey};
use crate::wal_bound::{WalBound, WalProgress};
use crate::{backend_err, reader};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use serde_json::{Map, Value};
use spanloom_ingest::{WriteOp, WriteRow};
use spanloom_model::{ObjectRef, XactId, timefmt};
use spanloom_normalize::span_facts;
use spanloom_store::apply::{Applied, RowState, apply};
use spanloom_store::rollup::Contribution;
use spanloom_store::{StoreError, StoreResult, WriteReceipt};
use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;
use tokio::sync::{mpsc, oneshot};

/// Most requests committed together.
const MAX_GROUP: usize = 256;
/// Blob hashes remembered per generation for deduplication (two generations, ~100 bytes each).
const BLOB_CACHE_ENTRIES: usize = 250_000;
/// Stop adding requests to a group past this many rows.
const MAX_GROUP_ROWS: usize = 20_000;

/// Work for the writer.
pub(crate) enum Job {
    /// A row write request.
    Write {
        org_id: String,
        rows: PreparedWrite,
        reply: oneshot::Sender<StoreResult<WriteReceipt>>,
    },
    /// A registry change, run in its own transaction; returns how to deliver its answer once
    /// durable.
    Admin(Box<dyn FnOnce(&mut Connection) -> Delivery + Send>),
}

/// The writer thread.
pub(crate) type WriterHandle = JoinHandle<()>;

/// What the writer thread is started with besides its connection and queue.
pub(crate) struct WriterSetup {
    /// The queue's capacity (for the queue depth gauge).
    pub(crate) capacity: usize,
    /// Makes commits durable before their answers go out.
    pub(crate) syncer: Syncer,
    /// The fields with an index.
    pub(crate) indexed: Arc<IndexedFields>,
    /// Shared with the checkpoint thread.
    pub(crate) wal_progress: Arc<WalProgress>,
    /// See [`crate::SqliteConfig::wal_limit_bytes`].
    pub(crate) wal_limit_bytes: u64,
    /// Where compressed payloads are appended; `None` keeps them in the database.
    pub(crate) payload_log: Option<Arc<PayloadLog>>,
}

pub(crate) fn spawn(
    mut conn: Connection,
    receiver: mpsc::Receiver<Job>,
    setup: WriterSetup,
) -> std::io::Result<WriterHandle> {
    let WriterSetup {
        capacity,
        syncer,
        indexed,
        wal_progress,
        wal_limit_bytes,
        payload_log,
    } = setup;
    let wal = WalBound::install(
        &mut conn,
        wal_progress,
        wal_limit_bytes,
        crate::schema::WRITER_BUSY_TIMEOUT,
    )
    .map_err(std::io::Error::other)?;
    let last_xact: Option<i64> = conn
        .query_row("SELECT max(xact_id) FROM write_log", [], |r| r.get(0))
        .optional()
        .ok()
        .flatten()
        .flatten();
    let mut writer = Writer {
        conn,
        last_xact: last_xact.and_then(|x| XactId::from_u64(x as u64)),
        projects: HashMap::new(),
        blobs: BlobCache::new(BLOB_CACHE_ENTRIES),
        capacity,
        syncer,
        wal,
        indexed,
        payload_log,
        keys_merged_at: 0,
        keys_moving: None,
    };
    // Rows newer than the recent tier's count are as many as the keys waiting to move.
    let recent = key_tiers::recent_rows(&writer.conn).unwrap_or(0);
    writer.keys_merged_at = newest_seq(&writer.conn).unwrap_or(0) - recent;
    std::thread::Builder::new()
        .name("sqlite-writer".into())
        .spawn(move || writer.run(receiver))
}

/// What one request changes besides its rows, kept only if the request commits.
struct RequestState<'a> {
    blobs: BlobIds<'a>,
    rollups: RollupDeltas,
    /// The indexed fields (read only).
    indexed: &'a IndexedFields,
}

/// A span's rollup contribution from its facts; `None` without a start time.
fn contribution(
    start: Option<f64>,
    end: Option<f64>,
    model: Option<String>,
    is_root: bool,
    is_error: bool,
    [prompt, completion, tokens, cost]: [Option<f64>; 4],
) -> Option<Contribution> {
    let start = start.filter(|s| s.is_finite())?;
    Some(Contribution {
        start,
        model: model.unwrap_or_default(),
        is_root,
        is_error,
        duration: end
            .map(|e| e - start)
            .filter(|d| d.is_finite() && *d >= 0.0),
        prompt_tokens: prompt.unwrap_or(0.0),
        completion_tokens: completion.unwrap_or(0.0),
        tokens: tokens.unwrap_or(0.0),
        cost: cost.unwrap_or(0.0),
    })
}

/// A row's stored state, as the writer loads it before applying a write.
struct ExistingRow {
    seq: i64,
    data: String,
    has_base: bool,
    base_hash: Option<i64>,
    root: Option<String>,
    payload_mask: i64,
    object_mask: i64,
    /// Where each payload field's value is.
    blob_ids: [Option<i64>; PAYLOAD_COUNT],
    span_id: Option<String>,
    start_key: f64,
    /// What the row added to the rollups before this write.
    contribution: Option<Contribution>,
    /// Stored input and output previews (kept when a merge does not touch those fields).
    previews: [Option<String>; 2],
    /// Stored `spans.fields`.
    fields: Option<String>,
    /// What the row adds to its trace's summary.
    totals: SpanTotals,
}

struct Writer {
    conn: Connection,
    last_xact: Option<XactId>,
    /// Object → (org, project): objects never move, so this cache never goes stale.
    projects: HashMap<ObjectRef, (String, String)>,
    /// Recently committed blobs, for deduplication.
    blobs: BlobCache,
    capacity: usize,
    /// Makes commits durable before their answers go out.
    syncer: Syncer,
    /// Starts the WAL over when it holds too much.
    wal: WalBound,
    /// The fields with an index, whose values go to `spans.fields`.
    indexed: Arc<IndexedFields>,
    /// Where compressed payloads are appended (with `--sync full`); `None` keeps them in
    /// the database.
    payload_log: Option<Arc<PayloadLog>>,
    /// `spans.seq` up to which id keys were moved into the main tiers (about).
    keys_merged_at: i64,
    /// A move under way: the `spans.seq` it moves keys up to, and the next kind's index in
    /// `IdKind::ALL`.
    keys_moving: Option<(i64, usize)>,
}

/// The stored state of a row, found by its id's key (`?4`) in both key tiers. Built once:
/// the writer looks up every row it writes.
static EXISTING_ROW_SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    "SELECT seq, data, has_base, base_hash, root_span_id, payload_mask, object_mask, input_preview, output_preview,
                    input_blob, output_blob, expected_blob, span_id, start_key,
                    start, \"end\", model, is_root, is_error, prompt_tokens, completion_tokens, tokens, cost,
                    otel_blob, fields, tags IS NOT NULL
             FROM spans NOT INDEXED
             WHERE seq IN (ROW_SEQS) AND kind = ?1 AND object_id = ?2 AND row_id = ?3"
        .replace("ROW_SEQS", &IdKind::Row.seqs_sql("?4"))
});

/// The largest `spans.seq` (0 with no rows).
fn newest_seq(c: &Connection) -> rusqlite::Result<i64> {
    c.query_row("SELECT coalesce(max(seq), 0) FROM spans", [], |r| r.get(0))
}

struct PendingWrite {
    org_id: String,
    rows: PreparedWrite,
    reply: oneshot::Sender<StoreResult<WriteReceipt>>,
}

impl Writer {
    fn run(mut self, mut receiver: mpsc::Receiver<Job>) {
        while let Some(first) = receiver.blocking_recv() {
            let mut group = Vec::new();
            let mut rows = 0;
            let mut next = Some(first);
            while let Some(job) = next.take() {
                match job {
                    Job::Admin(f) => {
                        // Commit what is gathered first, so registry changes keep queue order.
                        self.commit_group(std::mem::take(&mut group));
                        rows = 0;
                        match catch_unwind(AssertUnwindSafe(|| f(&mut self.conn))) {
                            Ok(delivery) => self.syncer.deliver(delivery),
                            Err(_) => {
                                tracing::error!("a registry change panicked; the writer continues")
                            }
                        }
                    }
                    Job::Write {
                        org_id,
                        rows: r,
                        reply,
                    } => {
                        rows += r.len();
                        group.push(PendingWrite {
                            org_id,
                            rows: r,
                            reply,
                        });
                    }
                }
                if group.len() < MAX_GROUP && rows < MAX_GROUP_ROWS {
                    next = receiver.try_recv().ok();
                }
            }
            metrics::gauge!("spanloom_store_writer_queue_depth")
                .set((self.capacity - receiver.capacity()) as f64);
            self.commit_group(group);
            self.merge_keys_if_due();
            self.wal.enforce(&mut self.conn, receiver.is_empty());
            self.wal.grow_ahead(&self.conn);
        }
        self.syncer.stop();
        tracing::info!("writer drained its queue and stopped");
    }

    /// Moves the recent id keys into their main tiers once enough rows arrived since the last
    /// move (see `key_tiers`): one kind per call, in a transaction of its own between groups,
    /// so a move pauses the writer four short times rather than once for long.
    fn merge_keys_if_due(&mut self) {
        let (target, next) = match self.keys_moving {
            Some(moving) => moving,
            None => {
                let newest = match newest_seq(&self.conn) {
                    Ok(seq) => seq,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot read the newest row; id keys stay recent");
                        return;
                    }
                };
                if newest - self.keys_merged_at < key_tiers::RECENT_LIMIT {
                    return;
                }
                (newest, 0)
            }
        };
        let Some(&kind) = IdKind::ALL.get(next) else {
            self.keys_moving = None;
            return;
        };
        let started = Instant::now();
        let merged = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)
            .and_then(|tx| {
                key_tiers::merge(&tx, kind)?;
                tx.commit()
            });
        match merged {
            Ok(()) => {
                tracing::debug!(
                    ?kind,
                    elapsed_ms = started.elapsed().as_secs_f64() * 1e3,
                    "recent id keys merged"
                );
                if next + 1 == IdKind::ALL.len() {
                    self.keys_merged_at = target;
                    self.keys_moving = None;
                } else {
                    self.keys_moving = Some((target, next + 1));
                }
            }
            Err(e) => {
                // Tried again after the next group.
                self.keys_moving = Some((target, next));
                tracing::error!(error = %e, ?kind, "merging the recent id keys failed; they stay recent")
            }
        }
    }

    fn commit_group(&mut self, group: Vec<PendingWrite>) {
        if group.is_empty() {
            return;
        }
        let started = Instant::now();
        let sizes: Vec<usize> = group.iter().map(|w| w.rows.len()).collect();
        let (replies, work): (Vec<_>, Vec<_>) = group
            .into_iter()
            .map(|w| (w.reply, (w.org_id, w.rows)))
            .unzip();
        let requests = replies.len();
        let outcome = catch_unwind(AssertUnwindSafe(|| self.apply_group(work)));
        let results = match outcome {
            Ok(Ok(results)) => results,
            Ok(Err(e)) => {
                tracing::error!(error = %e, requests, "group commit failed");
                (0..requests)
                    .map(|_| Err(StoreError::Backend(format!("commit failed: {e}"))))
                    .collect()
            }
            Err(_) => {
                tracing::error!(requests, "group commit panicked; rolled back");
                self.projects.clear();
                (0..requests)
                    .map(|_| {
                        Err(StoreError::Backend(
                            "internal error while committing".into(),
                        ))
                    })
                    .collect()
            }
        };
        let elapsed = started.elapsed();
        tracing::debug!(
            requests,
            rows = sizes.iter().sum::<usize>(),
            elapsed_ms = elapsed.as_secs_f64() * 1e3,
            "group committed"
        );
        metrics::histogram!("spanloom_store_commit_seconds").record(elapsed.as_secs_f64());
        metrics::histogram!("spanloom_store_commit_rows")
            .record(sizes.iter().sum::<usize>() as f64);
        let committed: usize = results
            .iter()
            .zip(&sizes)
            .filter(|(r, _)| r.is_ok())
            .map(|(_, n)| n)
            .sum();
        metrics::counter!("spanloom_store_rows_committed_total").increment(committed as u64);
        self.syncer
            .deliver(Box::new(move |synced: Result<(), String>| {
                for (reply, result) in replies.into_iter().zip(results) {
                    let result = match &synced {
                        Ok(()) => result,
                        Err(e) => Err(StoreError::Backend(format!(
                            "the commit could not be made durable: {e}"
                        ))),
                    };
                    let _ = reply.send(result);
                }
            }));
    }

    /// One transaction for the whole group. A request refused for an unknown object wrote
    /// nothing; any other error rolls the whole group back.
    fn apply_group(
        &mut self,
        group: Vec<(String, PreparedWrite)>,
    ) -> StoreResult<Vec<StoreResult<WriteReceipt>>> {
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)
            .map_err(backend_err)?;
        let mut traces = TraceChanges::default();
        let mut results = Vec::with_capacity(group.len());
        let mut last_xact = self.last_xact;
        let mut group_blobs: HashMap<BlobHash, i64> = HashMap::new();
        let mut group_rollups = RollupDeltas::new();
        for (org_id, rows) in group {
            let xact = XactId::next_after(last_xact, timefmt::now_micros());
            let mut request_touched = Vec::new();
            let mut request = RequestState {
                blobs: BlobIds {
                    log: self.payload_log.as_deref(),
                    cache: &self.blobs,
                    group: &group_blobs,
                    request: HashMap::new(),
                },
                rollups: RollupDeltas::new(),
                indexed: &self.indexed,
            };
            let outcome = apply_request(
                &tx,
                &mut self.projects,
                &mut request,
                &org_id,
                rows,
                xact,
                &mut request_touched,
            );
            let (request_blobs, request_rollups) = (request.blobs.request, request.rollups);
            match outcome {
                Ok(receipt) => {
                    last_xact = Some(xact);
                    group_blobs.extend(request_blobs);
                    for (key, delta) in request_rollups {
                        group_rollups.entry(key).or_default().merge(&delta);
                    }
                    for (key, change, org_project) in request_touched {
                        traces.record(key, change, xact.as_i64(), org_project);
                    }
                    results.push(Ok(receipt));
                }
                // Checked before any of its rows was written.
                Err(e @ StoreError::UnknownObject(_)) => results.push(Err(e)),
                // Dropping the transaction rolls the group back.
                Err(e) => return Err(e),
            }
        }
        traces.apply(&tx).map_err(backend_err)?;
        rollups::flush(&tx, group_rollups).map_err(backend_err)?;
        // The payloads first: a committed row must never point at bytes a crash could lose.
        if let Some(log) = &self.payload_log {
            log.sync().map_err(backend_err)?;
        }
        tx.commit().map_err(backend_err)?;
        self.last_xact = last_xact;
        self.blobs.extend(group_blobs);
        Ok(results)
    }
}

/// Applies one request's rows, then its write-log entries. Every object is resolved first,
/// so a request naming an unknown one is refused having written nothing.
fn apply_request(
    tx: &Transaction<'_>,
    projects: &mut HashMap<ObjectRef, (String, String)>,
    request: &mut RequestState<'_>,
    org_id: &str,
    write: PreparedWrite,
    xact: XactId,
    touched: &mut Vec<(TraceKey, TraceChange, (String, String))>,
) -> StoreResult<WriteReceipt> {
    let mut checked: Option<&ObjectRef> = None;
    for row in &write.rows {
        if checked != Some(&row.row.object) {
            resolve_project(tx, projects, org_id, &row.row.object)?;
            checked = Some(&row.row.object);
        }
    }
    let mut row_ids = Vec::with_capacity(write.rows.len());
    let mut log_blobs: Vec<(ObjectRef, Map<String, Value>)> = Vec::new();
    for row in write.rows {
        let object = row.row.object.clone();
        let project_id = resolve_project(tx, projects, org_id, &object)?;
        row_ids.push(row.row.id.clone());
        let mut refs = Vec::new();
        for (key, change) in apply_row(tx, org_id, &project_id, row, xact, request, &mut refs)
            .map_err(backend_err)?
        {
            touched.push((key, change, (org_id.to_owned(), project_id.clone())));
        }
        if !refs.is_empty() {
            let map = match log_blobs.iter_mut().find(|(o, _)| *o == object) {
                Some((_, map)) => map,
                None => {
                    log_blobs.push((object, Map::new()));
                    &mut log_blobs.last_mut().expect("just pushed").1
                }
            };
            for (hash, id) in refs {
                map.insert(const_hex::encode(hash), Value::from(id));
            }
        }
    }
    for (object, entries) in &write.log {
        let ids = log_blobs
            .iter()
            .find(|(o, _)| o == object)
            .map(|(_, m)| Value::Object(m.clone()).to_string());
        tx.prepare_cached(
            "INSERT INTO write_log (xact_id, org_id, kind, object_id, entries, blob_ids) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .and_then(|mut stmt| stmt.execute(params![xact.as_i64(), org_id, object.kind.code(), object.id, entries, ids]))
        .map_err(backend_err)?;
    }
    Ok(WriteReceipt {
        xact_id: xact,
        row_ids,
    })
}

fn resolve_project(
    tx: &Transaction<'_>,
    projects: &mut HashMap<ObjectRef, (String, String)>,
    org_id: &str,
    object: &ObjectRef,
) -> StoreResult<String> {
    if let Some((org, project)) = projects.get(object) {
        return if org == org_id {
            Ok(project.clone())
        } else {
            Err(StoreError::UnknownObject(object.clone()))
        };
    }
    match reader::object_project(tx, org_id, object).map_err(backend_err)? {
        Some(project) => {
            projects.insert(object.clone(), (org_id.to_owned(), project.clone()));
            Ok(project)
        }
        None => Err(StoreError::UnknownObject(object.clone())),
    }
}

/// Applies one row write; returns the traces whose summaries need refreshing.
fn apply_row(
    tx: &Transaction<'_>,
    org_id: &str,
    project_id: &str,
    prepared: PreparedRow,
    xact: XactId,
    request: &mut RequestState<'_>,
    log_refs: &mut Vec<(BlobHash, i64)>,
) -> rusqlite::Result<Vec<(TraceKey, TraceChange)>> {
    let PreparedRow {
        row,
        comment,
        core,
        mut fields,
    } = prepared;
    let WriteRow {
        object,
        id: row_id,
        op,
        control: _,
        payloads: _,
    } = row;
    let kind = object.kind.code();
    let object_id = object.id.as_str();
    let row_key = id_keys::id_key(&row_id);
    if let WriteOp::Comment { target_id, .. } = &op {
        tx.prepare_cached(
            "INSERT INTO comments (kind, object_id, id, org_id, project_id, target_id, xact_id, data)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (kind, object_id, id) DO UPDATE SET target_id = excluded.target_id,
                 xact_id = excluded.xact_id, data = excluded.data",
        )?
        .execute(params![kind, object_id, row_id, org_id, project_id, target_id, xact.as_i64(), comment])?;
        return Ok(Vec::new());
    }

    let existing = tx
        .prepare_cached(&EXISTING_ROW_SQL)?
        .query_row(params![kind, object_id, row_id, row_key], |r| {
            Ok(ExistingRow {
                seq: r.get(0)?,
                data: codec::decode(r.get_ref(1)?)?,
                has_base: r.get(2)?,
                base_hash: r.get(3)?,
                root: r.get(4)?,
                payload_mask: r.get(5)?,
                object_mask: r.get(6)?,
                previews: [r.get(7)?, r.get(8)?],
                blob_ids: [r.get(9)?, r.get(10)?, r.get(11)?, r.get(23)?],
                span_id: r.get(12)?,
                start_key: r.get(13)?,
                contribution: contribution(
                    r.get(14)?,
                    r.get(15)?,
                    r.get(16)?,
                    r.get(17)?,
                    r.get(18)?,
                    [r.get(19)?, r.get(20)?, r.get(21)?, r.get(22)?],
                ),
                fields: r.get(24)?,
                totals: SpanTotals {
                    is_root: r.get(17)?,
                    is_error: r.get(18)?,
                    has_tags: r.get(25)?,
                    start: r.get(14)?,
                    end: r.get(15)?,
                    sums: [r.get(19)?, r.get(20)?, r.get(21)?, r.get(22)?]
                        .map(|v: Option<f64>| v.unwrap_or(0.0)),
                },
            })
        })
        .optional()?;
    // The trace the row was in; a write that keeps it there replaces this by a finer change.
    let mut touched = Vec::new();
    if let Some(root) = existing.as_ref().and_then(|e| e.root.clone()) {
        touched.push(((kind, object_id.to_owned(), root), TraceChange::Recompute));
    }

    if matches!(op, WriteOp::Delete) {
        if let Some(e) = &existing {
            if let Some(old) = &e.contribution {
                rollups::record(&mut request.rollups, kind, object_id, org_id, old, -1);
            }
            // Blobs stay: other rows and the write log may refer to the same content.
            tx.prepare_cached("DELETE FROM spans WHERE seq = ?1")?
                .execute([e.seq])?;
            key_tiers::remove(tx, IdKind::Row, row_key, e.seq)?;
            let span_key = id_keys::opt_key(e.span_id.as_deref());
            key_tiers::change(tx, IdKind::Span, span_key, None, e.seq)?;
            let trace_key = id_keys::opt_key(e.root.as_deref());
            key_tiers::change(tx, IdKind::Trace, trace_key, None, e.seq)?;
        }
        return Ok(touched);
    }

    // Load only the stored payload fields this write must merge with; others stay untouched.
    let is_replace = matches!(op, WriteOp::Replace { .. });
    let mut loaded: Vec<Field> = Vec::new();
    let state = match &existing {
        Some(e) => {
            let mut data: Map<String, Value> = serde_json::from_str(&e.data).unwrap_or_default();
            for field in Field::all().filter(|f| e.payload_mask & f.bit() != 0) {
                let needed = match &op {
                    WriteOp::Replace { .. } => !e.has_base,
                    WriteOp::Merge { array_deletes, .. } => {
                        let patch_is_object =
                            fields.iter().any(|p| p.field == field && p.is_object);
                        (patch_is_object && e.object_mask & field.bit() != 0)
                            || array_deletes.iter().any(|(path, _)| {
                                path.first().map(String::as_str) == Some(field.name())
                            })
                    }
                    _ => false,
                };
                let stored = e.blob_ids[field.0];
                if needed
                    && let Some(value) = stored.map(|id| blobs::load(tx, id)).transpose()?.flatten()
                {
                    data.insert(field.name().to_owned(), value);
                    loaded.push(field);
                }
            }
            Some(RowState {
                data,
                has_base: e.has_base,
                base_hash: e.base_hash.map(|h| h as u64),
            })
        }
        None => None,
    };
    // Incoming payload fields merged with a stored value go through the shared merge rules,
    // parsed again from their text. Every other one is written as sent: its text, hash and
    // preview come from the prepare step, and no value tree of it reaches this thread.
    let incoming =
        |fields: &[PreparedField], map: &mut Map<String, Value>| -> rusqlite::Result<()> {
            for p in fields.iter().filter(|p| loaded.contains(&p.field)) {
                map.insert(p.field.name().to_owned(), p.value()?);
            }
            Ok(())
        };
    let op = match op {
        WriteOp::Replace {
            mut row,
            content_hash,
        } => {
            incoming(&fields, &mut row)?;
            WriteOp::Replace { row, content_hash }
        }
        WriteOp::Merge {
            mut patch,
            merge_paths,
            array_deletes,
        } => {
            incoming(&fields, &mut patch)?;
            WriteOp::Merge {
                patch,
                merge_paths,
                array_deletes,
            }
        }
        other => other,
    };

    let Applied::Upsert(mut state) = apply(state, &row_id, op) else {
        return Ok(touched);
    };
    // Cost enrichment of LLM spans from the price table (shared by every backend). A new
    // row was priced in the prepare step; only merged states need it here.
    let fresh = existing.is_none() && is_replace;
    let repriced = !fresh && spanloom_normalize::pricing::price_span(&mut state.data);

    // A payload value merged into a stored one is kept as sent too, so the write log can be
    // replayed (dataset versions) exactly.
    for p in fields.iter().filter(|p| loaded.contains(&p.field)) {
        let id = request.blobs.id_for(tx, &p.hash, &p.encoded)?;
        log_refs.push((p.hash, id));
    }

    // Split the merged row: payload fields go to `blobs`, the rest stays in `spans.data`.
    let (old_objects, old_blobs, old_previews) = match &existing {
        Some(e) => (e.object_mask, e.blob_ids, e.previews.clone()),
        None => (0, [None; PAYLOAD_COUNT], [None, None]),
    };
    let mut object_mask = if is_replace { 0 } else { old_objects };
    let mut blob_refs: [Option<i64>; PAYLOAD_COUNT] = if is_replace {
        [None; PAYLOAD_COUNT]
    } else {
        old_blobs
    };
    let mut previews = if is_replace {
        [None, None]
    } else {
        old_previews
    };
    for field in Field::all() {
        let (hash, payload, preview, is_object) = if loaded.contains(&field) {
            // Merged with the stored value: encoded here, from the merged value.
            let Some(value) = state.data.remove(field.name()) else {
                continue;
            };
            let preview = field
                .has_preview()
                .then(|| spanloom_normalize::preview(&value))
                .flatten();
            let p =
                PreparedField::new(org_id, field, value.to_string(), value.is_object(), preview);
            (p.hash, p.encoded, p.preview, p.is_object)
        } else {
            let Some(p) = fields.iter_mut().find(|p| p.field == field) else {
                continue;
            };
            (
                p.hash,
                std::mem::replace(&mut p.encoded, Payload::Text(String::new())),
                p.preview.take(),
                p.is_object,
            )
        };
        if is_object {
            object_mask |= field.bit();
        } else {
            object_mask &= !field.bit();
        }
        if field.0 < previews.len() {
            previews[field.0] = preview;
        }
        let id = request.blobs.id_for(tx, &hash, &payload)?;
        blob_refs[field.0] = Some(id);
        log_refs.push((hash, id));
    }
    let payload_mask = Field::all()
        .filter(|f| blob_refs[f.0].is_some())
        .fold(0, |m, f| m | f.bit());
    let mut facts = span_facts(&state.data);
    [facts.input_preview, facts.output_preview] = previews;
    let fields_json = request.indexed.extract(&state.data);
    let data_json = match (fresh && !repriced, core) {
        (true, Some(core)) => core,
        _ => Payload::Text(Value::Object(state.data).to_string()),
    };
    if let Some(root) = &facts.root_span_id {
        let new = SpanTotals::from_facts(&facts);
        let key = (kind, object_id.to_owned(), root.clone());
        let same_trace = existing.as_ref().map(|e| e.root.as_ref() == Some(root));
        match same_trace {
            // Still in the same trace: one change from its old totals to the new ones.
            Some(true) => {
                let old = existing.as_ref().map(|e| e.totals);
                touched.clear();
                touched.push((key, TraceChange::between(old, new)));
            }
            // Moved here from another trace (which is recomputed): recompute this one too.
            Some(false) => touched.push((key, TraceChange::Recompute)),
            // New to the store: the summary may be built from the group's rows alone.
            None => {
                let root = facts.is_root.then(|| RootFacts::of(&row_id, &facts));
                let row = NewSpan {
                    totals: new,
                    start_key: facts.start.unwrap_or(0.0),
                    tags: facts.tags.clone(),
                    root,
                };
                touched.push((key, TraceChange::New(Box::new(row))));
            }
        }
    }
    let old_contribution = existing.as_ref().and_then(|e| e.contribution.clone());
    let new_contribution = contribution(
        facts.start,
        facts.end,
        facts.model.clone(),
        facts.is_root,
        facts.is_error,
        [
            facts.prompt_tokens,
            facts.completion_tokens,
            facts.tokens,
            facts.cost,
        ],
    );
    if old_contribution != new_contribution {
        if let Some(old) = &old_contribution {
            rollups::record(&mut request.rollups, kind, object_id, org_id, old, -1);
        }
        if let Some(new) = &new_contribution {
            rollups::record(&mut request.rollups, kind, object_id, org_id, new, 1);
        }
    }
    let start_key = facts.start.unwrap_or(0.0);
    let (xact_id, base_hash) = (xact.as_i64(), state.base_hash.map(|h| h as i64));
    let values: [&dyn rusqlite::ToSql; 25] = [
        &xact_id,
        &state.has_base,
        &base_hash,
        &facts.is_root,
        &facts.created,
        &facts.start,
        &facts.end,
        &facts.name,
        &facts.span_type,
        &facts.is_error,
        &facts.prompt_tokens,
        &facts.completion_tokens,
        &facts.tokens,
        &facts.cost,
        &facts.tags,
        &facts.input_preview,
        &facts.output_preview,
        &data_json,
        &payload_mask,
        &object_mask,
        &blob_refs[0],
        &blob_refs[1],
        &blob_refs[2],
        &facts.model,
        &blob_refs[3],
    ];
    let (span_key, trace_key) = (
        id_keys::opt_key(facts.span_id.as_deref()),
        id_keys::opt_key(facts.root_span_id.as_deref()),
    );
    let keys: [&dyn rusqlite::ToSql; 5] = [
        &facts.span_id,
        &facts.root_span_id,
        &start_key,
        &span_key,
        &trace_key,
    ];
    let indexed: [&dyn rusqlite::ToSql; 1] = [&fields_json];
    match &existing {
        Some(e) => {
            // Indexed columns go into the UPDATE only when they change (the usual end-of-span
            // merge changes none), so SQLite leaves those indexes alone.
            let keys_changed = e.span_id != facts.span_id
                || e.root != facts.root_span_id
                || e.start_key != start_key;
            let fields_changed = e.fields != fields_json;
            let keys: &[&dyn rusqlite::ToSql] = if keys_changed { &keys } else { &[] };
            let indexed: &[&dyn rusqlite::ToSql] = if fields_changed { &indexed } else { &[] };
            let params = values
                .iter()
                .chain(keys)
                .chain(indexed)
                .copied()
                .chain([&e.seq as &dyn rusqlite::ToSql]);
            tx.prepare_cached(row_sql::span_update(keys_changed, fields_changed))?
                .execute(rusqlite::params_from_iter(params))?;
            if keys_changed {
                let old_span = id_keys::opt_key(e.span_id.as_deref());
                key_tiers::change(tx, IdKind::Span, old_span, span_key, e.seq)?;
                let old_trace = id_keys::opt_key(e.root.as_deref());
                key_tiers::change(tx, IdKind::Trace, old_trace, trace_key, e.seq)?;
            }
        }
        None => {
            let identity: [&dyn rusqlite::ToSql; 6] =
                [&org_id, &kind, &object_id, &row_id, &row_key, &project_id];
            let params = values
                .iter()
                .chain(&keys)
                .chain(&indexed)
                .chain(&identity)
                .copied();
            tx.prepare_cached(&row_sql::SPAN_INSERT)?
                .execute(rusqlite::params_from_iter(params))?;
            let seq = tx.last_insert_rowid();
            key_tiers::add(tx, IdKind::Row, row_key, seq)?;
            key_tiers::change(tx, IdKind::Span, None, span_key, seq)?;
            key_tiers::change(tx, IdKind::Trace, None, trace_key, seq)?;
        }
    }
    Ok(touched)
}

/// The statements that write `spans` and `traces` rows.
mod row_sql {
    use crate::statements::{insert, update};
    use std::sync::LazyLock;

    /// `spans` columns every write sets, in the order of the writer's values.
    const SPAN_VALUES: [&str; 25] = [
        "xact_id",
        "has_base",
        "base_hash",
        "is_root",
        "created",
        "start",
        "\"end\"",
        "name",
        "span_type",
        "is_error",
        "prompt_tokens",
        "completion_tokens",
        "tokens",
        "cost",
        "tags",
        "input_preview",
        "output_preview",
        "data",
        "payload_mask",
        "object_mask",
        "input_blob",
        "output_blob",
        "expected_blob",
        "model",
        "otel_blob",
    ];
    /// Indexed `spans` columns, set only when they change (so SQLite leaves indexes alone):
    /// the ids, the start, and the ids' keys (`id_keys`).
    const SPAN_KEYS: [&str; 5] = [
        "span_id",
        "root_span_id",
        "start_key",
        "span_key",
        "trace_key",
    ];
    /// The column the field indexes read, also set only when it changes.
    const SPAN_FIELDS: [&str; 1] = ["fields"];
    /// `spans` columns fixed at insert.
    const SPAN_IDENTITY: [&str; 6] = [
        "org_id",
        "kind",
        "object_id",
        "row_id",
        "row_key",
        "project_id",
    ];

    /// Updates of a span: its values, then (by index `keys + 2 * fields`) the key columns
    /// and `fields` when they change, then `seq`.
    static SPAN_UPDATES: LazyLock<[String; 4]> = LazyLock::new(|| {
        [(false, false), (true, false), (false, true), (true, true)].map(|(keys, fields)| {
            let mut set = SPAN_VALUES.to_vec();
            if keys {
                set.extend(SPAN_KEYS);
            }
            if fields {
                set.extend(SPAN_FIELDS);
            }
            update("spans", &set, &["seq"])
        })
    });

    /// The update of a span's values, with its key columns and `fields` when they change.
    pub(super) fn span_update(keys: bool, fields: bool) -> &'static str {
        &SPAN_UPDATES[usize::from(keys) + 2 * usize::from(fields)]
    }

    /// Insert of a new span: values, keys, fields, identity.
    pub(super) static SPAN_INSERT: LazyLock<String> = LazyLock::new(|| {
        insert(
            "spans",
            &[
                &SPAN_VALUES[..],
                &SPAN_KEYS[..],
                &SPAN_FIELDS[..],
                &SPAN_IDENTITY[..],
            ]
            .concat(),
        )
    });
}

/// A write request with everything the writer stores already encoded. Encoding (serializing,
/// hashing and compressing) happens on the request's task, in parallel, not on the single
/// writer thread.
pub(crate) struct PreparedWrite {
    /// The rows, in request order.
    rows: Vec<PreparedRow>,
    /// One write-log entry per object the request touches.
    log: Vec<(ObjectRef, Payload)>,
}

impl PreparedWrite {
    /// Prepares a request's rows for an org.
    pub(crate) fn new(org_id: &str, rows: Vec<WriteRow>) -> Self {
        let mut log: Vec<(ObjectRef, String)> = Vec::new();
        let rows = rows
            .into_iter()
            .map(|row| {
                let (prepared, entry) = PreparedRow::new(org_id, row);
                let object = &prepared.row.object;
                match log.iter_mut().find(|(o, _)| o == object) {
                    Some((_, text)) => {
                        text.push(',');
                        text.push_str(&entry);
                    }
                    None => log.push((object.clone(), format!("[{entry}"))),
                }
                prepared
            })
            .collect();
        let log = log
            .into_iter()
            .map(|(object, mut text)| {
                text.push(']');
                (object, Payload::encode(text))
            })
            .collect();
        Self { rows, log }
    }

    /// Number of rows.
    pub(crate) fn len(&self) -> usize {
        self.rows.len()
    }
}

/// A row write with its payloads already encoded.
struct PreparedRow {
    /// The write, its payload fields taken into `fields`.
    row: WriteRow,
    /// For a comment: the comment row as stored.
    comment: Option<Payload>,
    /// For a replace: the row without its payload fields, as stored in `spans.data`.
    core: Option<Payload>,
    /// Payload fields of the row or patch, hashed and encoded.
    fields: Vec<PreparedField>,
}

/// One payload field of an incoming row, ready for the `blobs` table.
struct PreparedField {
    field: Field,
    /// Whether the value is a JSON object (a merge descends into objects only).
    is_object: bool,
    hash: BlobHash,
    /// The value's JSON text, encoded. The parsed value is dropped in the prepare step:
    /// freeing its tree on the writer thread cost that thread 5-8% of its time.
    encoded: Payload,
    preview: Option<String>,
}

impl PreparedField {
    /// A payload field's text, hashed for the org and encoded.
    fn new(
        org_id: &str,
        field: Field,
        json: String,
        is_object: bool,
        preview: Option<String>,
    ) -> Self {
        Self {
            field,
            is_object,
            hash: blobs::hash(org_id, &json),
            encoded: Payload::encode(json),
            preview,
        }
    }

    /// The value, parsed again from its text (only for a merge into a stored value).
    fn value(&self) -> rusqlite::Result<Value> {
        serde_json::from_str(&self.encoded.json()?).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e.into())
        })
    }
}

impl PreparedRow {
    /// Encodes what the writer will store; also returns the row's write-log entry (JSON text):
    /// `{"id", "op", "control", "row": <row or patch without payload fields>, "blobs": {field: hash}}`.
    fn new(org_id: &str, mut row: WriteRow) -> (Self, String) {
        // Price LLM spans here, off the writer thread: for a new row the writer's own pricing
        // then finds nothing to change and stores the core encoded here as is.
        if let WriteOp::Replace { row: map, .. } = &mut row.op {
            spanloom_normalize::pricing::price_span(map);
        }
        // Payload fields are stored as the text they arrived as, never parsed whole.
        let fields = std::mem::take(&mut row.payloads)
            .into_iter()
            .filter_map(|payload| {
                let field = Field::named(payload.name)?;
                let is_object = payload.is_object();
                let json = String::from(Box::<str>::from(payload.json));
                let preview = field
                    .has_preview()
                    .then(|| spanloom_normalize::preview_json(&json))
                    .flatten();
                Some(PreparedField::new(org_id, field, json, is_object, preview))
            })
            .collect::<Vec<_>>();
        let body = match &row.op {
            WriteOp::Replace { row: map, .. }
            | WriteOp::Merge { patch: map, .. }
            | WriteOp::Comment { row: map, .. } => {
                serde_json::to_string(map).unwrap_or_else(|_| "null".into())
            }
            WriteOp::Delete => "null".into(),
        };
        let blob_refs: Map<String, Value> = fields
            .iter()
            .map(|f| {
                (
                    f.field.name().to_owned(),
                    Value::String(const_hex::encode(f.hash)),
                )
            })
            .collect();
        let entry = format!(
            "{{\"id\":{},\"op\":\"{}\",\"control\":{},\"row\":{body},\"blobs\":{}}}",
            Value::String(row.id.clone()),
            row.op.kind_name(),
            row.control.as_deref().unwrap_or("null"),
            Value::Object(blob_refs),
        );
        let comment =
            matches!(row.op, WriteOp::Comment { .. }).then(|| Payload::Text(body.clone()));
        // The core stays plain JSON text (it is small), so SQLite's JSON operators and
        // expression indexes read it directly.
        let core = matches!(row.op, WriteOp::Replace { .. }).then(|| Payload::Text(body));
        (
            Self {
                row,
                comment,
                core,
                fields,
            },
            entry,
        )
    }
}
