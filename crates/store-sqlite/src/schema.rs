//! Tables, indexes and connection settings.

use crate::config::{SqliteConfig, Synchronous};
use crate::fields::{self, IndexedFields};
use crate::id_keys;
use rusqlite::Connection;

/// The schema version this build writes. Bumped with each migration.
const SCHEMA_VERSION: i64 = 8;

const SCHEMA_V1: &str = r#"
CREATE TABLE orgs (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, created TEXT NOT NULL);
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY, org_id TEXT NOT NULL, name TEXT NOT NULL, key_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL, created TEXT NOT NULL, revoked_at TEXT);
CREATE TABLE projects (
    id TEXT PRIMARY KEY, org_id TEXT NOT NULL, name TEXT NOT NULL, description TEXT,
    created TEXT NOT NULL, settings TEXT, UNIQUE (org_id, name));
CREATE TABLE experiments (
    id TEXT PRIMARY KEY, org_id TEXT NOT NULL, project_id TEXT NOT NULL, name TEXT NOT NULL,
    description TEXT, created TEXT NOT NULL, extra TEXT NOT NULL, UNIQUE (project_id, name));
CREATE TABLE datasets (
    id TEXT PRIMARY KEY, org_id TEXT NOT NULL, project_id TEXT NOT NULL, name TEXT NOT NULL,
    description TEXT, created TEXT NOT NULL, metadata TEXT, UNIQUE (project_id, name));

-- Append-only history of every write: one entry per request and object, holding that request's
-- rows for the object as sent (a JSON list of {"id", "op", "control", "row", "blobs"}, payload
-- values referred to by content hash; `blob_ids` maps those hashes to `blobs.id`). History,
-- versions and replay read it; nothing updates it.
CREATE TABLE write_log (
    seq INTEGER PRIMARY KEY, xact_id INTEGER NOT NULL, org_id TEXT NOT NULL, kind INTEGER NOT NULL,
    object_id TEXT NOT NULL, entries NOT NULL, blob_ids TEXT);
CREATE INDEX write_log_by_object ON write_log (kind, object_id, xact_id);

-- The current merged rows, with the facts that lists and filters read.
CREATE TABLE spans (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id TEXT NOT NULL, kind INTEGER NOT NULL, object_id TEXT NOT NULL, row_id TEXT NOT NULL,
    project_id TEXT NOT NULL, xact_id INTEGER NOT NULL, has_base INTEGER NOT NULL, base_hash INTEGER,
    span_id TEXT, root_span_id TEXT, is_root INTEGER NOT NULL, created TEXT,
    start REAL, start_key REAL NOT NULL, "end" REAL, name TEXT, span_type TEXT, is_error INTEGER NOT NULL,
    prompt_tokens REAL, completion_tokens REAL, tokens REAL, cost REAL, tags TEXT,
    input_preview TEXT, output_preview TEXT, data NOT NULL,
    payload_mask INTEGER NOT NULL DEFAULT 0, object_mask INTEGER NOT NULL DEFAULT 0,
    input_blob INTEGER, output_blob INTEGER, expected_blob INTEGER, model TEXT,
    UNIQUE (kind, object_id, row_id));
CREATE INDEX spans_by_trace ON spans (kind, object_id, root_span_id, start_key);
CREATE INDEX spans_by_span_id ON spans (kind, object_id, span_id);
CREATE INDEX spans_by_seq ON spans (kind, object_id, seq);

-- Payload values (input, output, expected), apart from the rows that hold them, so a merge that
-- adds an output or an end time never rewrites the input. Values are deduplicated by content
-- hash (agent traces repeat the same messages turn after turn): the writer keeps a bounded map
-- of recent hashes rather than a unique index, because an index of random hashes would dirty a
-- random page per value at every commit. `spans.payload_mask` says which payload fields a row
-- has, `object_mask` which of them are objects, and `spans.<field>_blob` where each value is.
-- `data` is the value (TEXT, or an LZ4 BLOB), or, for values written with `--sync full`, an
-- INTEGER: where the LZ4 block is in the payload log (`payload_log`, read with `sl_blob`).
CREATE TABLE blobs (id INTEGER PRIMARY KEY, hash BLOB NOT NULL, data NOT NULL);

-- One summary per trace, kept current in the same transaction as its spans.
CREATE TABLE traces (
    kind INTEGER NOT NULL, object_id TEXT NOT NULL, root_span_id TEXT NOT NULL,
    org_id TEXT NOT NULL, project_id TEXT NOT NULL, start REAL, start_key REAL NOT NULL, "end" REAL,
    duration REAL, span_count INTEGER NOT NULL, error_count INTEGER NOT NULL,
    prompt_tokens REAL NOT NULL, completion_tokens REAL NOT NULL, tokens REAL NOT NULL, cost REAL NOT NULL,
    root_id TEXT, root_span_span_id TEXT, root_name TEXT, root_type TEXT,
    input_preview TEXT, output_preview TEXT, tags TEXT, xact_id INTEGER NOT NULL,
    PRIMARY KEY (kind, object_id, root_span_id)) WITHOUT ROWID;
CREATE INDEX traces_by_start ON traces (kind, object_id, start_key DESC, root_span_id DESC);

-- Dashboard sums per bucket (level 60: minutes, 3600: hours), model and root-or-not, kept
-- current with the spans (see `rollups`).
CREATE TABLE rollups (
    kind INTEGER NOT NULL, object_id TEXT NOT NULL, level INTEGER NOT NULL, bucket INTEGER NOT NULL,
    model TEXT NOT NULL, is_root INTEGER NOT NULL, org_id TEXT NOT NULL, spans INTEGER NOT NULL,
    errors INTEGER NOT NULL, timed INTEGER NOT NULL, duration_sum REAL NOT NULL, prompt_tokens REAL NOT NULL,
    completion_tokens REAL NOT NULL, tokens REAL NOT NULL, cost REAL NOT NULL, latency BLOB NOT NULL,
    PRIMARY KEY (kind, object_id, level, bucket, model, is_root)) WITHOUT ROWID;

CREATE TABLE comments (
    kind INTEGER NOT NULL, object_id TEXT NOT NULL, id TEXT NOT NULL, org_id TEXT NOT NULL,
    project_id TEXT NOT NULL, target_id TEXT NOT NULL, xact_id INTEGER NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (kind, object_id, id));
CREATE INDEX comments_by_target ON comments (kind, object_id, target_id);
"#;

/// Version 2: the raw OTel source of a span (`otel`) is a payload field with its own blob.
const SCHEMA_V2: &str = "ALTER TABLE spans ADD COLUMN otel_blob INTEGER;";

/// Version 3: an API key may name a default project (where unrouted OTLP spans go).
const SCHEMA_V3: &str = "ALTER TABLE api_keys ADD COLUMN default_project TEXT;";

/// Version 4: spans by `xact_id`, so the text indexer finds what changed since its watermark
/// (and queries find the rows it has not indexed yet) without a scan.
const SCHEMA_V4: &str = "CREATE INDEX spans_by_xact ON spans (xact_id);";

/// Version 5, for fewer random index pages per commit (each costs a WAL write):
/// - `spans.fields` holds the indexed fields' values, which field indexes read instead of
///   `data` (see `fields`); the old field indexes on `data` are dropped at open and rebuilt.
/// - `traces` becomes a rowid table in order of first sight: summaries of recent traces
///   share pages, where the old table keyed by random root span ids put each update of a
///   summary on its own page. Its key stays unique through a (narrow) index.
const SCHEMA_V5: &str = r#"
ALTER TABLE spans ADD COLUMN fields TEXT;
CREATE TABLE traces_v5 (
    id INTEGER PRIMARY KEY,
    kind INTEGER NOT NULL, object_id TEXT NOT NULL, root_span_id TEXT NOT NULL,
    org_id TEXT NOT NULL, project_id TEXT NOT NULL, start REAL, start_key REAL NOT NULL, "end" REAL,
    duration REAL, span_count INTEGER NOT NULL, error_count INTEGER NOT NULL,
    prompt_tokens REAL NOT NULL, completion_tokens REAL NOT NULL, tokens REAL NOT NULL, cost REAL NOT NULL,
    root_id TEXT, root_span_span_id TEXT, root_name TEXT, root_type TEXT,
    input_preview TEXT, output_preview TEXT, tags TEXT, xact_id INTEGER NOT NULL,
    UNIQUE (kind, object_id, root_span_id));
INSERT INTO traces_v5 (kind, object_id, root_span_id, org_id, project_id, start, start_key, "end",
    duration, span_count, error_count, prompt_tokens, completion_tokens, tokens, cost, root_id,
    root_span_span_id, root_name, root_type, input_preview, output_preview, tags, xact_id)
  SELECT kind, object_id, root_span_id, org_id, project_id, start, start_key, "end",
    duration, span_count, error_count, prompt_tokens, completion_tokens, tokens, cost, root_id,
    root_span_span_id, root_name, root_type, input_preview, output_preview, tags, xact_id
  FROM traces ORDER BY start_key, root_span_id;
DROP TABLE traces;
ALTER TABLE traces_v5 RENAME TO traces;
CREATE INDEX traces_by_start ON traces (kind, object_id, start_key DESC, root_span_id DESC);
"#;

/// Version 6: rows, spans and traces are looked up by integer keys of their ids (see
/// `id_keys`) instead of by `(kind, object_id, id)` text: the three random-id indexes of
/// `spans` and the one of `traces` shrink about fourfold, so a commit dirties fewer pages
/// and each b-tree descent compares integers. `spans` and `traces` are rebuilt without their
/// UNIQUE constraints on the id text (the writer is the only writer, and it looks a row up
/// before it inserts one); `spans.seq` values and the AUTOINCREMENT counter are kept, since
/// the text index and cursors refer to them. Needs `id_keys::register` on the connection.
const SCHEMA_V6: &str = r#"
CREATE TABLE spans_v6 (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id TEXT NOT NULL, kind INTEGER NOT NULL, object_id TEXT NOT NULL, row_id TEXT NOT NULL,
    project_id TEXT NOT NULL, xact_id INTEGER NOT NULL, has_base INTEGER NOT NULL, base_hash INTEGER,
    span_id TEXT, root_span_id TEXT, is_root INTEGER NOT NULL, created TEXT,
    start REAL, start_key REAL NOT NULL, "end" REAL, name TEXT, span_type TEXT, is_error INTEGER NOT NULL,
    prompt_tokens REAL, completion_tokens REAL, tokens REAL, cost REAL, tags TEXT,
    input_preview TEXT, output_preview TEXT, data NOT NULL,
    payload_mask INTEGER NOT NULL DEFAULT 0, object_mask INTEGER NOT NULL DEFAULT 0,
    input_blob INTEGER, output_blob INTEGER, expected_blob INTEGER, model TEXT,
    otel_blob INTEGER, fields TEXT,
    row_key INTEGER NOT NULL, span_key INTEGER, trace_key INTEGER);
INSERT INTO spans_v6 (seq, org_id, kind, object_id, row_id, project_id, xact_id, has_base, base_hash,
    span_id, root_span_id, is_root, created, start, start_key, "end", name, span_type, is_error,
    prompt_tokens, completion_tokens, tokens, cost, tags, input_preview, output_preview, data,
    payload_mask, object_mask, input_blob, output_blob, expected_blob, model, otel_blob, fields,
    row_key, span_key, trace_key)
  SELECT seq, org_id, kind, object_id, row_id, project_id, xact_id, has_base, base_hash,
    span_id, root_span_id, is_root, created, start, start_key, "end", name, span_type, is_error,
    prompt_tokens, completion_tokens, tokens, cost, tags, input_preview, output_preview, data,
    payload_mask, object_mask, input_blob, output_blob, expected_blob, model, otel_blob, fields,
    spanloom_id_key(row_id), spanloom_id_key(span_id), spanloom_id_key(root_span_id)
  FROM spans ORDER BY seq;
-- Keep the counter past rows deleted at the end: a new row must never reuse a seq.
DELETE FROM sqlite_sequence WHERE name = 'spans_v6';
INSERT INTO sqlite_sequence (name, seq) SELECT 'spans_v6', max(
    coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'spans'), 0),
    coalesce((SELECT max(seq) FROM spans_v6), 0));
DROP TABLE spans;
ALTER TABLE spans_v6 RENAME TO spans;
CREATE INDEX spans_by_row ON spans (row_key);
CREATE INDEX spans_by_span ON spans (span_key);
CREATE INDEX spans_by_trace ON spans (trace_key, start_key);
CREATE INDEX spans_by_seq ON spans (kind, object_id, seq);
CREATE INDEX spans_by_xact ON spans (xact_id);

CREATE TABLE traces_v6 (
    id INTEGER PRIMARY KEY,
    kind INTEGER NOT NULL, object_id TEXT NOT NULL, root_span_id TEXT NOT NULL,
    org_id TEXT NOT NULL, project_id TEXT NOT NULL, start REAL, start_key REAL NOT NULL, "end" REAL,
    duration REAL, span_count INTEGER NOT NULL, error_count INTEGER NOT NULL,
    prompt_tokens REAL NOT NULL, completion_tokens REAL NOT NULL, tokens REAL NOT NULL, cost REAL NOT NULL,
    root_id TEXT, root_span_span_id TEXT, root_name TEXT, root_type TEXT,
    input_preview TEXT, output_preview TEXT, tags TEXT, xact_id INTEGER NOT NULL,
    trace_key INTEGER NOT NULL);
INSERT INTO traces_v6 (id, kind, object_id, root_span_id, org_id, project_id, start, start_key, "end",
    duration, span_count, error_count, prompt_tokens, completion_tokens, tokens, cost, root_id,
    root_span_span_id, root_name, root_type, input_preview, output_preview, tags, xact_id, trace_key)
  SELECT id, kind, object_id, root_span_id, org_id, project_id, start, start_key, "end",
    duration, span_count, error_count, prompt_tokens, completion_tokens, tokens, cost, root_id,
    root_span_span_id, root_name, root_type, input_preview, output_preview, tags, xact_id,
    spanloom_id_key(root_span_id)
  FROM traces ORDER BY id;
DROP TABLE traces;
ALTER TABLE traces_v6 RENAME TO traces;
CREATE INDEX traces_by_key ON traces (trace_key);
CREATE INDEX traces_by_start ON traces (kind, object_id, start_key DESC, root_span_id DESC);
"#;

/// Settings of the writer connection.
/// How long the writer waits for a lock held by a checkpoint or a reader.
pub(crate) const WRITER_BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

pub(crate) fn configure_writer(conn: &Connection, config: &SqliteConfig) -> rusqlite::Result<()> {
    // Takes effect only on a new database (before it is in WAL mode); others keep theirs.
    conn.pragma_update(None, "page_size", PAGE_SIZE)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // With `Full`, commits are made durable by the fsync thread (see `syncer`) before they are
    // acknowledged, so SQLite itself need not wait for the disk at commit.
    let sync = match config.synchronous {
        Synchronous::Full => "OFF",
        Synchronous::Normal => "NORMAL",
    };
    conn.pragma_update(None, "synchronous", sync)?;
    conn.busy_timeout(WRITER_BUSY_TIMEOUT)?;
    conn.pragma_update(None, "cache_size", -65_536)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // Checkpoints run on their own thread (see `checkpoint`), not inside the writer's commits.
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    // The writer's statements (rows, traces, rollups, blobs, history, registry) outnumber
    // rusqlite's default cache of 16: evicted ones were parsed and planned again per row.
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    // The query planner stability guarantee: no plan depends on a bound value. Without it
    // SQLite recompiles a statement whenever a parameter it looked at while planning (one
    // compared with the field indexes' expressions, say) is bound to a new value, which made
    // a third of the writer's time re-parsing and re-planning its per-row SELECTs.
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    Ok(())
}

/// Page size of a new database. 16 KiB instead of SQLite's 4 KiB: a compressed 8 KiB chat input fits in one
/// page instead of a cell and an overflow page, and a commit writes, checksums and looks up a
/// quarter as many WAL frames. Ingest benchmark at 100,000 spans, alternating builds: 8,553 ->
/// 9,751 spans/s and 0.198 -> 0.171 s of CPU per 1,000 spans (8 KiB was slower than 4 KiB; 32
/// KiB no better than 16).
pub(crate) const PAGE_SIZE: i64 = 16_384;

/// Prepared statements each connection keeps.
const STATEMENT_CACHE: usize = 128;

/// Settings of a reader connection.
pub(crate) fn configure_reader(conn: &Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "busy_timeout", 10_000)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.pragma_update(None, "cache_size", -32_768)?;
    conn.pragma_update(None, "query_only", true)?;
    // BTQL's LIKE is case-sensitive (ILIKE is the insensitive one).
    conn.pragma_update(None, "case_sensitive_like", true)?;
    Ok(())
}

/// Creates or upgrades the schema.
pub(crate) fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version >= SCHEMA_VERSION {
        return Ok(());
    }
    id_keys::register(conn)?;
    let tx = conn.transaction()?;
    if version < 1 {
        tx.execute_batch(SCHEMA_V1)?;
    }
    if version < 2 {
        tx.execute_batch(SCHEMA_V2)?;
    }
    if version < 3 {
        tx.execute_batch(SCHEMA_V3)?;
    }
    if version < 4 {
        tx.execute_batch(SCHEMA_V4)?;
    }
    if version < 5 {
        tx.execute_batch(SCHEMA_V5)?;
    }
    if version < 6 {
        tx.execute_batch(SCHEMA_V6)?;
    }
    if version < 7 {
        tx.execute_batch(crate::key_tiers::SCHEMA)?;
    }
    if version < 8 {
        tx.execute_batch(crate::key_tiers::TRACE_SCHEMA)?;
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()
}

/// Creates the index of each configured field, filling `spans.fields` for rows stored before
/// it existed, and drops the indexes of fields no longer configured (and those of schema
/// version 4, which read `data`): an index the writer no longer keeps current must not be
/// read.
pub(crate) fn create_field_indexes(
    conn: &Connection,
    fields: &[String],
) -> Result<IndexedFields, String> {
    // An empty entry (`--index-field ''`) asks for no index.
    let names: Vec<String> = fields
        .iter()
        .filter(|f| !f.trim().is_empty())
        .cloned()
        .collect();
    for field in &names {
        let segments: Vec<&str> = field.split('.').collect();
        if segments
            .iter()
            .any(|s| s.is_empty() || s.contains(['\'', '"']))
            || spanloom_model::fields::PAYLOAD_FIELDS.contains(&segments[0])
        {
            return Err(format!(
                "cannot index field {field:?}: use a dotted path outside input/output/expected"
            ));
        }
    }
    let indexed = IndexedFields::new(&names);
    let existing: Vec<String> = conn
        .prepare(
            "SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'spans'
               AND (substr(name, 1, 12) = 'spans_field_' OR substr(name, 1, 11) = 'spans_by_f_')",
        )
        .and_then(|mut stmt| stmt.query_map([], |r| r.get(0))?.collect())
        .map_err(|e| format!("cannot list field indexes: {e}"))?;
    for stale in existing
        .iter()
        .filter(|name| !indexed.iter().any(|f| &f.index_name() == *name))
    {
        conn.execute_batch(&format!("DROP INDEX \"{stale}\""))
            .map_err(|e| format!("cannot drop index {stale}: {e}"))?;
    }
    for field in indexed.iter() {
        let index = field.index_name();
        if existing.contains(&index) {
            continue;
        }
        let key = &field.key;
        let fill = format!(
            "UPDATE spans SET fields = json_set(coalesce(fields, '{{}}'), '$.{key}', data -> ?1)
             WHERE data ->> ?1 IS NOT NULL"
        );
        let create = format!(
            "CREATE INDEX {index} ON spans (kind, object_id, {})",
            fields::expression("", key)
        );
        conn.execute(&fill, [&field.path])
            .and_then(|_| conn.execute_batch(&create))
            .map_err(|e| format!("cannot index field {:?}: {e}", field.name))?;
    }
    Ok(indexed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_1_databases_are_upgraded() {
        let mut conn = Connection::open_in_memory().expect("open");
        conn.execute_batch(SCHEMA_V1).expect("v1");
        conn.pragma_update(None, "user_version", 1)
            .expect("version");
        migrate(&mut conn).expect("migrate");
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .expect("version");
        assert_eq!(version, SCHEMA_VERSION);
        conn.execute_batch("SELECT otel_blob FROM spans LIMIT 0")
            .expect("otel_blob exists");
        conn.execute_batch("SELECT default_project FROM api_keys LIMIT 0")
            .expect("default_project exists");
        // Migrating again is a no-op.
        migrate(&mut conn).expect("migrate again");
    }

    #[test]
    fn version_6_keys_stored_rows_and_keeps_their_seqs() {
        let mut conn = Connection::open_in_memory().expect("open");
        conn.execute_batch(SCHEMA_V1).expect("v1");
        conn.execute_batch(
            "INSERT INTO spans (seq, org_id, kind, object_id, row_id, project_id, xact_id, has_base,
                 span_id, root_span_id, is_root, start_key, is_error, data)
               VALUES (7, 'o', 1, 'p', 'row-a', 'p', 1, 1, 'span-a', 'trace-a', 1, 0, 0, '{}'),
                      (9, 'o', 1, 'p', 'row-b', 'p', 1, 1, NULL, NULL, 0, 0, 0, '{}');
             DELETE FROM spans WHERE seq = 9;
             INSERT INTO traces (kind, object_id, root_span_id, org_id, project_id, start_key,
                 span_count, error_count, prompt_tokens, completion_tokens, tokens, cost, xact_id)
               VALUES (1, 'p', 'trace-a', 'o', 'p', 0, 1, 0, 0, 0, 0, 0, 1);",
        )
        .expect("rows");
        conn.pragma_update(None, "user_version", 1)
            .expect("version");
        migrate(&mut conn).expect("migrate");
        let keys: (i64, i64, i64, i64) = conn
            .query_row(
                &format!(
                    "SELECT seq, row_key, span_key, trace_key FROM spans WHERE seq IN ({})",
                    crate::key_tiers::IdKind::Row.seqs_sql("?1")
                ),
                [id_keys::id_key("row-a")],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .expect("row found by its key");
        let expected = (
            7,
            id_keys::id_key("row-a"),
            id_keys::id_key("span-a"),
            id_keys::id_key("trace-a"),
        );
        assert_eq!(keys, expected);
        let trace_key: i64 = conn
            .query_row("SELECT trace_key FROM traces", [], |r| r.get(0))
            .expect("trace");
        assert_eq!(trace_key, id_keys::id_key("trace-a"));
        // Version 8: the trace's spans and its summary are found through the trace tiers.
        let by_trace = |kind: crate::key_tiers::IdKind| -> Vec<i64> {
            let mut stmt = conn.prepare(&kind.seqs_sql("?1")).expect("tier sql");
            stmt.query_map([id_keys::id_key("trace-a")], |r| r.get(0))
                .expect("query")
                .collect::<Result<_, _>>()
                .expect("seqs")
        };
        assert_eq!(by_trace(crate::key_tiers::IdKind::Trace), [7]);
        let summary_id: i64 = conn
            .query_row("SELECT id FROM traces", [], |r| r.get(0))
            .expect("summary");
        assert_eq!(by_trace(crate::key_tiers::IdKind::Summary), [summary_id]);
        // The deleted row's seq is never handed out again.
        conn.execute(
            "INSERT INTO spans (org_id, kind, object_id, row_id, row_key, project_id, xact_id,
                 has_base, is_root, start_key, is_error, data)
               VALUES ('o', 1, 'p', 'row-c', 0, 'p', 2, 1, 0, 0, 0, '{}')",
            [],
        )
        .expect("insert");
        assert_eq!(conn.last_insert_rowid(), 10);
    }
}
