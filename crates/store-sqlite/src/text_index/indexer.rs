//! The indexer thread: reads spans committed after the watermark (by `xact_id`, through
//! `spans_by_xact`), writes their terms as one new segment, and merges segments so a lookup
//! probes few of them.
//!
//! A row changed by a merge gets a new `xact_id`, so it is indexed again with its new text;
//! its old postings stay behind as harmless false candidates (the check rejects them).

use super::{HAYSTACK_SQL, TextIndex, postings, tokens};
use crate::background::{BackgroundThread, StopSignal};
use crate::payload_log::PayloadLog;
use crate::query::{compile::payload_joins, functions};
use hashbrown::HashMap;
use rusqlite::{Connection, OptionalExtension, params};
use spanloom_model::{XactId, timefmt};
use std::collections::BinaryHeap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Rows per pass (a pass always takes whole transactions, so it may take more); their texts
/// are held in memory while they are tokenized.
const PASS_ROWS: i64 = 1_024;
/// Wait between passes when the index has caught up.
const IDLE_INTERVAL: Duration = Duration::from_millis(300);
/// Segments of one level merged into one of the next level.
pub(super) const FANIN: usize = 8;

/// How long a row settles before it is indexed (see [`Worker::pass`]).
const SETTLE_MICROS: u64 = if cfg!(test) { 20_000 } else { 1_000_000 };
/// Wait while rows settle.
const SETTLE_WAIT: Duration = Duration::from_millis(if cfg!(test) { 20 } else { 250 });

/// Where a pass left the index.
enum Progress {
    /// More settled rows wait.
    Behind,
    /// Every settled row is indexed; younger ones wait.
    Settling,
    /// Every committed row is indexed.
    CaughtUp,
}

/// True if some row changed after `xact`.
fn newer_than(conn: &Connection, xact: i64) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM spans INDEXED BY spans_by_xact WHERE xact_id > ?1)",
        [xact],
        |r| r.get(0),
    )
}

/// The indexer thread; `stop` ends it after the pass in progress.
pub(crate) struct Indexer {
    thread: BackgroundThread,
}

impl Indexer {
    /// Starts indexing the spans of the database at `db` into `index`.
    pub(crate) fn spawn(
        db: &Path,
        index: Arc<TextIndex>,
        payload_log: &Arc<PayloadLog>,
    ) -> rusqlite::Result<Self> {
        let main = Connection::open(db)?;
        crate::schema::configure_reader(&main)?;
        functions::register(&main, payload_log)?;
        let out = index.open_connection()?;
        out.pragma_update(None, "synchronous", "NORMAL")?;
        out.pragma_update(None, "cache_size", -16_384)?;
        let watermark: i64 = out
            .query_row("SELECT value FROM state WHERE key = 'watermark'", [], |r| {
                r.get(0)
            })
            .optional()?
            .unwrap_or(0);
        let mut worker = Worker {
            main,
            out,
            index,
            watermark,
            slot_of: Vec::new(),
        };
        let thread = BackgroundThread::spawn("text-indexer", move |stop| worker.run(&stop))
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        Ok(Self { thread })
    }

    /// Stops the thread and waits for it.
    pub(crate) fn stop(&mut self) {
        self.thread.stop();
    }
}

struct Worker {
    /// Read-only connection to the main database.
    main: Connection,
    /// The index file's writer connection.
    out: Connection,
    index: Arc<TextIndex>,
    /// Every row with an `xact_id` up to this one is indexed.
    watermark: i64,
    /// By term id: 1 + where the term's postings are in the pass under way, 0 if the pass
    /// has not met the term. All 0 between passes (a pass clears what it set).
    slot_of: Vec<u32>,
}

impl Worker {
    fn run(&mut self, stop: &StopSignal) {
        let yields = crate::background::lower_priority();
        let mut wait = Duration::ZERO;
        loop {
            if stop.wait(wait) {
                return;
            }
            let started = Instant::now();
            let outcome = self.pass().and_then(|p| self.merge().map(|()| p));
            if let Ok(progress) = &outcome {
                let caught_up = matches!(progress, Progress::CaughtUp);
                metrics::gauge!("spanloom_text_index_caught_up").set(if caught_up {
                    1.0
                } else {
                    0.0
                });
            }
            match outcome {
                // Behind: go on at once. The thread's lowest priority already leaves the CPU
                // to ingest when both want it; sleeping as long as each pass took only left
                // idle CPU unused and doubled the catch-up after a burst. Without that
                // priority, rest as long as the pass took, leaving ingest half the time.
                Ok(Progress::Behind) if yields => wait = Duration::ZERO,
                Ok(Progress::Behind) => wait = started.elapsed(),
                Ok(Progress::Settling) => wait = SETTLE_WAIT,
                Ok(Progress::CaughtUp) => wait = IDLE_INTERVAL,
                Err(e) => {
                    tracing::error!(error = %e, "text indexing failed; MATCH scans until restart");
                    self.index.mark_unhealthy();
                    return;
                }
            }
            metrics::histogram!("spanloom_text_index_pass_seconds")
                .record(started.elapsed().as_secs_f64());
        }
    }

    /// Indexes the next settled rows.
    fn pass(&mut self) -> rusqlite::Result<Progress> {
        // Rows younger than SETTLE wait: a span's end merge usually follows its start row
        // within that time, so the span is indexed once, in its final state.
        let settled =
            XactId::next_after(None, timefmt::now_micros().saturating_sub(SETTLE_MICROS)).as_i64();
        let tx = self.main.unchecked_transaction()?;
        // Up to PASS_ROWS rows, extended to the end of the last transaction they touch.
        let bound: Option<i64> = tx
            .prepare_cached(
                "SELECT xact_id FROM spans INDEXED BY spans_by_xact WHERE xact_id > ?1 AND xact_id <= ?2
                 ORDER BY xact_id LIMIT 1 OFFSET ?3",
            )?
            .query_row(params![self.watermark, settled, PASS_ROWS - 1], |r| r.get(0))
            .optional()?;
        let (upper, full) = match bound {
            Some(x) => (x, true),
            None => {
                let max: Option<i64> = tx.query_row(
                    "SELECT max(xact_id) FROM spans INDEXED BY spans_by_xact WHERE xact_id > ?1 AND xact_id <= ?2",
                    [self.watermark, settled],
                    |r| r.get(0),
                )?;
                match max {
                    Some(x) => (x, false),
                    None => {
                        let newer = newer_than(&tx, self.watermark)?;
                        return Ok(if newer {
                            Progress::Settling
                        } else {
                            Progress::CaughtUp
                        });
                    }
                }
            }
        };
        // The raw OTel source is not searched.
        let joins = payload_joins(|field| field != "otel");
        let sql = format!(
            "SELECT s.seq, {HAYSTACK_SQL} FROM spans s INDEXED BY spans_by_xact{joins} WHERE s.xact_id > ?1 AND s.xact_id <= ?2"
        );
        // The texts are copied out and the read transaction ends before tokenizing: a read
        // transaction pins the WAL, and one held through a whole pass kept the checkpoint
        // thread from copying it and the writer from starting it over (half-second stalls).
        let mut texts: Vec<(i64, String)> = Vec::new();
        {
            let mut stmt = tx.prepare_cached(&sql)?;
            let mut cursor = stmt.query(params![self.watermark, upper])?;
            while let Some(row) = cursor.next()? {
                let text = row.get_ref(1)?.as_str().unwrap_or("").to_owned();
                texts.push((row.get(0)?, text));
            }
        }
        tx.finish()?;
        let rows = texts.len() as i64;
        // Each term's postings, in the order the pass met the terms: found through
        // `slot_of` by term id (ids are dense), not through a hash map, and a text's repeats
        // of a term are dropped as they come (its seq is already the last one pushed).
        let mut by_term: Vec<(u32, Vec<i64>)> = Vec::new();
        let mut new_terms: Vec<String> = Vec::new();
        {
            let dictionary = self
                .index
                .dictionary
                .read()
                .unwrap_or_else(|e| e.into_inner());
            let mut pending: HashMap<String, u32> = HashMap::new();
            let slot_of = &mut self.slot_of;
            for (seq, text) in texts {
                tokens::for_each_term(&text, |term| {
                    let id = match dictionary.get(term) {
                        Some(id) => id,
                        None => match pending.get(term) {
                            Some(&id) => id,
                            None => {
                                let id = (dictionary.len() + new_terms.len()) as u32;
                                pending.insert(term.to_owned(), id);
                                new_terms.push(term.to_owned());
                                id
                            }
                        },
                    };
                    let i = id as usize;
                    if slot_of.len() <= i {
                        slot_of.resize(i + 1, 0);
                    }
                    match slot_of[i] {
                        0 => {
                            by_term.push((id, vec![seq]));
                            slot_of[i] = by_term.len() as u32;
                        }
                        slot => {
                            let seqs = &mut by_term[slot as usize - 1].1;
                            if seqs.last() != Some(&seq) {
                                seqs.push(seq);
                            }
                        }
                    }
                });
            }
            for (id, _) in &by_term {
                slot_of[*id as usize] = 0;
            }
        }
        // New terms go into the dictionary before their postings are committed, so a lookup
        // that sees the new segment also sees its terms.
        {
            let mut dictionary = self
                .index
                .dictionary
                .write()
                .unwrap_or_else(|e| e.into_inner());
            for term in &new_terms {
                dictionary.push(term);
            }
        }
        by_term.sort_unstable_by_key(|(id, _)| *id);
        let first_new = self.index.dictionary_len() - new_terms.len();
        let tx = self.out.unchecked_transaction()?;
        {
            let mut insert_term =
                tx.prepare_cached("INSERT INTO terms (id, term) VALUES (?1, ?2)")?;
            for (i, term) in new_terms.iter().enumerate() {
                insert_term.execute(params![(first_new + i) as i64, term])?;
            }
            tx.execute("INSERT INTO segments (level, rows) VALUES (0, ?1)", [rows])?;
            let segment = tx.last_insert_rowid();
            let mut insert = tx
                .prepare_cached("INSERT INTO postings (segment, term, seqs) VALUES (?1, ?2, ?3)")?;
            for (term, mut seqs) in by_term {
                postings::normalize(&mut seqs);
                insert.execute(params![segment, term, postings::encode(&seqs)])?;
            }
            tx.execute(
                "INSERT INTO state (key, value) VALUES ('watermark', ?1)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [upper],
            )?;
        }
        tx.commit()?;
        self.watermark = upper;
        metrics::counter!("spanloom_text_index_rows_total").increment(rows as u64);
        metrics::gauge!("spanloom_text_index_terms").set(self.index.dictionary_len() as f64);
        Ok(if full {
            Progress::Behind
        } else if newer_than(&self.main, upper)? {
            Progress::Settling
        } else {
            Progress::CaughtUp
        })
    }

    /// Merges the oldest [`FANIN`] segments of any level that has that many.
    fn merge(&mut self) -> rusqlite::Result<()> {
        loop {
            let full: Option<i64> = self
                .out
                .query_row(
                    "SELECT level FROM segments GROUP BY level HAVING count(*) >= ?1 ORDER BY level LIMIT 1",
                    [FANIN as i64],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(level) = full else {
                let count: i64 = self
                    .out
                    .query_row("SELECT count(*) FROM segments", [], |r| r.get(0))?;
                metrics::gauge!("spanloom_text_index_segments").set(count as f64);
                return Ok(());
            };
            let tx = self.out.unchecked_transaction()?;
            let (inputs, rows): (Vec<i64>, Vec<i64>) = tx
                .prepare_cached(
                    "SELECT id, rows FROM segments WHERE level = ?1 ORDER BY id LIMIT ?2",
                )?
                .query_map(params![level, FANIN as i64], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<Vec<(i64, i64)>, _>>()?
                .into_iter()
                .unzip();
            tx.execute(
                "INSERT INTO segments (level, rows) VALUES (?1, ?2)",
                params![level + 1, rows.iter().sum::<i64>()],
            )?;
            let merged = tx.last_insert_rowid();
            merge_segments(&tx, &inputs, merged)?;
            for id in &inputs {
                tx.execute("DELETE FROM postings WHERE segment = ?1", [id])?;
                tx.execute("DELETE FROM segments WHERE id = ?1", [id])?;
            }
            tx.commit()?;
        }
    }
}

/// Writes segment `into` as the union of `inputs`, term by term (a k-way merge over the
/// inputs' rows, which the primary key keeps in term order), so memory stays small.
fn merge_segments(conn: &Connection, inputs: &[i64], into: i64) -> rusqlite::Result<()> {
    let mut stmts = Vec::with_capacity(inputs.len());
    for _ in inputs {
        stmts.push(
            conn.prepare("SELECT term, seqs FROM postings WHERE segment = ?1 ORDER BY term")?,
        );
    }
    let mut cursors = Vec::with_capacity(inputs.len());
    for (stmt, id) in stmts.iter_mut().zip(inputs) {
        cursors.push(stmt.query([id])?);
    }
    // Heap of (next term, input index), smallest term first.
    let mut heads: Vec<Option<Vec<u8>>> = vec![None; cursors.len()];
    let mut heap = BinaryHeap::new();
    for (i, cursor) in cursors.iter_mut().enumerate() {
        if let Some(row) = cursor.next()? {
            heap.push(std::cmp::Reverse((row.get::<_, i64>(0)?, i)));
            heads[i] = Some(row.get(1)?);
        }
    }
    let mut insert =
        conn.prepare("INSERT INTO postings (segment, term, seqs) VALUES (?1, ?2, ?3)")?;
    let mut seqs = Vec::new();
    while let Some(std::cmp::Reverse((term, _))) = heap.peek().copied() {
        seqs.clear();
        while let Some(&std::cmp::Reverse((t, i))) = heap.peek() {
            if t != term {
                break;
            }
            heap.pop();
            if let Some(blob) = heads[i].take() {
                postings::decode_into(&blob, &mut seqs);
            }
            if let Some(row) = cursors[i].next()? {
                heap.push(std::cmp::Reverse((row.get::<_, i64>(0)?, i)));
                heads[i] = Some(row.get(1)?);
            }
        }
        postings::normalize(&mut seqs);
        insert.execute(params![into, term, postings::encode(&seqs)])?;
    }
    Ok(())
}
