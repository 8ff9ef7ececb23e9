//! `spanloom renormalize`: re-derives stored OTel spans from the raw span kept beside each
//! (`otel.span` and its joined log events) with the current mapping, after a mapping fix or
//! an upgrade. Rows whose derived content is unchanged are left alone.

use crate::cli::RenormalizeArgs;
use crate::serve::open_store;
use serde_json::{Map, Value};
use spanloom_model::{ObjectRef, fields};
use spanloom_otlp::rows::remap_row;
use spanloom_store::{PageRequest, Store};

/// Rows rewritten per write request.
const BATCH: usize = 200;

/// Runs the renormalize subcommand.
pub async fn run(args: RenormalizeArgs) -> anyhow::Result<()> {
    let store = open_store(
        &args.data.data_dir,
        1,
        16,
        spanloom_store_sqlite::Synchronous::Full,
    )?;
    let result = renormalize(&store, &args).await;
    store.shutdown().await;
    result
}

/// Counts of one run.
#[derive(Debug, Default)]
struct Tally {
    scanned: usize,
    otel: usize,
    rewritten: usize,
}

async fn renormalize(store: &dyn Store, args: &RenormalizeArgs) -> anyhow::Result<()> {
    let org = crate::serve::find_org(store, &args.org).await?;
    let projects = store.list_projects(&org.id, None, 100_000).await?;
    let projects: Vec<_> = projects
        .into_iter()
        .filter(|p| {
            args.project
                .as_deref()
                .is_none_or(|want| want == p.id || want == p.name)
        })
        .collect();
    if projects.is_empty() {
        anyhow::bail!(
            "no project matches {:?}",
            args.project.as_deref().unwrap_or("(any)")
        );
    }
    let mut total = Tally::default();
    for project in projects {
        let object = ObjectRef::project_logs(project.id.clone());
        let tally = renormalize_object(store, &org.id, &object, args.dry_run).await?;
        eprintln!(
            "{}: {} rows, {} from OpenTelemetry, {} {}",
            project.name,
            tally.scanned,
            tally.otel,
            tally.rewritten,
            if args.dry_run {
                "would change"
            } else {
                "re-derived"
            }
        );
        total.scanned += tally.scanned;
        total.otel += tally.otel;
        total.rewritten += tally.rewritten;
    }
    println!(
        "renormalize: {} rows scanned, {} OTel spans, {} {}",
        total.scanned,
        total.otel,
        total.rewritten,
        if args.dry_run {
            "would change"
        } else {
            "re-derived"
        }
    );
    Ok(())
}

/// The stored row without the fields the store adds on read.
fn stored_content(event: &Value) -> Map<String, Value> {
    let mut map = event.as_object().cloned().unwrap_or_default();
    map.remove(fields::XACT_ID);
    for key in fields::ROUTING_FIELDS {
        map.remove(key);
    }
    map
}

async fn renormalize_object(
    store: &dyn Store,
    org_id: &str,
    object: &ObjectRef,
    dry_run: bool,
) -> anyhow::Result<Tally> {
    let mut tally = Tally::default();
    let mut cursor = None;
    let mut pending: Vec<Value> = Vec::new();
    loop {
        let page = store
            .fetch_rows(
                org_id,
                object,
                PageRequest {
                    limit: 500,
                    cursor: cursor.clone(),
                    as_of: None,
                },
            )
            .await?;
        for row in &page.rows {
            tally.scanned += 1;
            let current = stored_content(&row.to_event_value());
            let Some(Ok(mapped)) = remap_row(&current) else {
                continue;
            };
            tally.otel += 1;
            let mut derived = mapped.row;
            // Compare as the store would keep it: priced like at ingest.
            let mut priced = derived.clone();
            spanloom_normalize::pricing::price_span(&mut priced);
            if priced == current {
                continue;
            }
            tally.rewritten += 1;
            if !dry_run {
                derived.insert(
                    object.kind.id_field().into(),
                    Value::String(object.id.clone()),
                );
                derived.insert(fields::LOG_ID.into(), Value::String("g".into()));
                pending.push(Value::Object(derived));
            }
        }
        if pending.len() >= BATCH || (page.cursor.is_none() && !pending.is_empty()) {
            write(store, org_id, std::mem::take(&mut pending)).await?;
        }
        match page.cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(tally),
        }
    }
}

async fn write(store: &dyn Store, org_id: &str, rows: Vec<Value>) -> anyhow::Result<()> {
    let body = serde_json::json!({"rows": rows, "api_version": 2}).to_string();
    let rows = spanloom_ingest::logs3::decode_logs3(body.as_bytes())
        .map_err(|e| anyhow::anyhow!("re-derived rows are invalid: {e}"))?;
    store.write(org_id, rows).await?;
    Ok(())
}
