//! The conformance suite: one set of behaviours every backend must pass unchanged.
//!
//! A backend runs it from its tests with a factory expression that yields
//! `(Arc<dyn Store>, guard)` (the guard keeps temporary resources alive):
//!
//! ```ignore
//! spanloom_store::store_conformance_suite!(async { let dir = tempdir(); (Arc::new(open(&dir)), dir) });
//! ```

use crate::{PageRequest, Store, TraceQuery, TraceSummary};
use serde_json::{Value, json};
use spanloom_ingest::{WriteRow, logs3::decode_logs3};
use spanloom_model::{ObjectKind, ObjectRef, XactId};
use std::collections::HashSet;

/// Generates one `#[tokio::test]` per conformance case for a backend.
#[macro_export]
macro_rules! store_conformance_suite {
    ($make:expr) => {
        $crate::__conformance_cases!($make;
            orgs_and_keys, projects_are_create_or_get_and_org_scoped, replace_then_fetch,
            merge_rules, merges_before_their_row_end_up_right, retried_requests_are_idempotent,
            delete_removes_the_row, one_fixed_width_xact_per_request,
            unknown_object_rejects_the_whole_request, orgs_are_isolated,
            fetch_pages_never_skip_or_repeat, trace_summaries_stay_current, long_trace_summaries_add_up,
            new_trace_summaries_match_recomputed_ones,
            trace_list_newest_first_with_range_and_cursor, whole_trace_and_single_span,
            experiment_and_dataset_rows, comments_are_not_spans, experiments_names_and_ensure_new,
            bad_cursor_is_rejected, payload_fields_follow_the_merge_rules,
            query_filters_sorts_and_pages, queries_by_id_find_their_rows, query_aggregates,
            query_traces_shape, rollups_follow_every_write,
            llm_spans_are_priced_at_ingest, datasets_read_as_of_any_version, trace_outlines_leave_payloads_out,
            large_payloads_read_back_everywhere);
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_cases {
    ($make:expr; $($case:ident),* $(,)?) => { $(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $case() {
            let (store, _guard) = $make.await;
            $crate::conformance::$case(&*store).await;
            store.shutdown().await;
        }
    )* };
}

fn rows(values: Vec<Value>) -> Vec<WriteRow> {
    let body = json!({"rows": values, "api_version": 2}).to_string();
    decode_logs3(body.as_bytes()).expect("conformance rows are valid")
}

async fn setup(store: &dyn Store, org: &str) -> (String, ObjectRef) {
    let org = store.get_or_create_org(org).await.expect("org");
    let project = store
        .create_or_get_project(&org.id, "proj", None)
        .await
        .expect("project");
    (org.id, ObjectRef::project_logs(project.id))
}

async fn all_rows(store: &dyn Store, org: &str, object: &ObjectRef) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .fetch_rows(
                org,
                object,
                PageRequest {
                    limit: 7,
                    cursor: cursor.clone(),
                    as_of: None,
                },
            )
            .await
            .expect("fetch");
        out.extend(page.rows.iter().map(|r| r.to_event_value()));
        match page.cursor {
            Some(c) => cursor = Some(c),
            None => return out,
        }
    }
}

async fn row(store: &dyn Store, org: &str, object: &ObjectRef, id: &str) -> Option<Value> {
    store
        .get_row(org, object, id)
        .await
        .expect("get_row")
        .map(|r| r.to_event_value())
}

/// The stored summary of a trace that must exist.
async fn trace_summary(store: &dyn Store, org: &str, obj: &ObjectRef, trace: &str) -> TraceSummary {
    store
        .get_trace(org, obj, trace)
        .await
        .expect("trace")
        .expect("exists")
        .summary
}

fn span(
    object: &ObjectRef,
    id: &str,
    trace: &str,
    span: &str,
    parent: Option<&str>,
    extra: Value,
) -> Value {
    let mut v = json!({
        "id": id, "project_id": object.id, "log_id": "g", "span_id": span, "root_span_id": trace,
        "span_parents": parent.map(|p| vec![p]), "created": "2026-11-21T10:00:00.000000+00:00",
    });
    if let (Some(map), Value::Object(extra)) = (v.as_object_mut(), extra) {
        map.extend(extra);
    }
    v
}

/// Orgs are create-or-get; keys authenticate until revoked, by id or prefix.
pub async fn orgs_and_keys(store: &dyn Store) {
    let a = store.get_or_create_org("acme").await.expect("org");
    assert_eq!(store.get_or_create_org("acme").await.expect("org").id, a.id);
    let key = crate::auth::generate_api_key();
    let info = store
        .insert_api_key(&a.id, "ci", &key.hash, &key.prefix)
        .await
        .expect("key");
    let ctx = store
        .authenticate(&key.hash)
        .await
        .expect("auth")
        .expect("known key");
    assert_eq!(
        (ctx.org_id.as_str(), ctx.org_name.as_str()),
        (a.id.as_str(), "acme")
    );
    assert!(store.authenticate("nope").await.expect("auth").is_none());
    let listed = store.list_api_keys(Some(&a.id)).await.expect("list");
    assert!(
        listed
            .iter()
            .any(|k| k.id == info.id && k.prefix == key.prefix && k.revoked_at.is_none())
    );
    // A key's default project is set, read back at authentication, and cleared.
    let ctx = store
        .authenticate(&key.hash)
        .await
        .expect("auth")
        .expect("valid");
    assert_eq!(ctx.default_project, None);
    assert!(
        store
            .set_key_default_project(&info.prefix, Some("team-a"))
            .await
            .expect("set")
    );
    let ctx = store
        .authenticate(&key.hash)
        .await
        .expect("auth")
        .expect("valid");
    assert_eq!(ctx.default_project.as_deref(), Some("team-a"));
    assert!(
        store
            .set_key_default_project(&info.id, None)
            .await
            .expect("clear")
    );
    assert!(
        !store
            .set_key_default_project("sl-unknown", Some("x"))
            .await
            .expect("set")
    );
    assert!(store.revoke_api_key(&info.id).await.expect("revoke"));
    assert!(store.authenticate(&key.hash).await.expect("auth").is_none());
    let key2 = crate::auth::generate_api_key();
    store
        .insert_api_key(&a.id, "two", &key2.hash, &key2.prefix)
        .await
        .expect("key");
    assert!(
        store
            .revoke_api_key(&key2.prefix)
            .await
            .expect("revoke by prefix")
    );
    assert!(!store.revoke_api_key("sl-unknown").await.expect("revoke"));
}

/// `create_or_get_project` is idempotent per org; projects of one org are invisible to another.
pub async fn projects_are_create_or_get_and_org_scoped(store: &dyn Store) {
    let a = store.get_or_create_org("a").await.expect("org");
    let b = store.get_or_create_org("b").await.expect("org");
    let p1 = store
        .create_or_get_project(&a.id, "bot", Some("d"))
        .await
        .expect("p");
    let p2 = store
        .create_or_get_project(&a.id, "bot", None)
        .await
        .expect("p");
    assert_eq!(p1, p2);
    assert_eq!(p1.description.as_deref(), Some("d"));
    let pb = store
        .create_or_get_project(&b.id, "bot", None)
        .await
        .expect("p");
    assert_ne!(pb.id, p1.id);
    assert_eq!(
        store.get_project(&a.id, &p1.id).await.expect("get"),
        Some(p1.clone())
    );
    assert_eq!(store.get_project(&b.id, &p1.id).await.expect("get"), None);
    store
        .create_or_get_project(&a.id, "another", None)
        .await
        .expect("p");
    let listed = store.list_projects(&a.id, None, 100).await.expect("list");
    assert_eq!(
        listed.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
        ["another", "bot"]
    );
    let named = store
        .list_projects(&a.id, Some("bot"), 100)
        .await
        .expect("list");
    assert_eq!(named, vec![p1]);
}

/// A replace row reads back with `_xact_id` and routing fields.
pub async fn replace_then_fetch(store: &dyn Store) {
    let (org, obj) = setup(store, "o").await;
    let receipt = store
        .write(
            &org,
            rows(vec![span(
                &obj,
                "r1",
                "t1",
                "s1",
                None,
                json!({"input": {"q": "日本語"}, "metrics": {"start": 1.5}}),
            )]),
        )
        .await
        .expect("write");
    assert_eq!(receipt.row_ids, ["r1"]);
    let got = row(store, &org, &obj, "r1").await.expect("row");
    assert_eq!(got["input"], json!({"q": "日本語"}));
    assert_eq!(got["_xact_id"], json!(receipt.xact_id.to_string()));
    assert_eq!(got["project_id"], json!(obj.id));
    assert_eq!(got["log_id"], json!("g"));
    assert_eq!(got["span_id"], json!("s1"));
    assert_eq!(got["created"], json!("2026-11-21T10:00:00.000000+00:00"));
}

/// Deep merge: objects recurse, arrays replace, tags union, identity and `created` kept.
pub async fn merge_rules(store: &dyn Store) {
    let (org, obj) = setup(store, "o").await;
    let base = span(
        &obj,
        "r",
        "t",
        "s",
        None,
        json!({"metadata": {"a": 1, "n": {"x": 1}}, "tags": ["a"], "output": [1, 2]}),
    );
    store.write(&org, rows(vec![base])).await.expect("write");
    let patch = json!({"id": "r", "project_id": obj.id, "log_id": "g", "_is_merge": true,
        "span_id": "other", "root_span_id": "other", "created": "2000-01-01T00:00:00Z",
        "metadata": {"n": {"y": 2}}, "tags": ["b", "a"], "output": [3]});
    store.write(&org, rows(vec![patch])).await.expect("write");
    let got = row(store, &org, &obj, "r").await.expect("row");
    assert_eq!(got["metadata"], json!({"a": 1, "n": {"x": 1, "y": 2}}));
    assert_eq!(got["tags"], json!(["a", "b"]));
    assert_eq!(got["output"], json!([3]));
    assert_eq!(got["span_id"], json!("s"));
    assert_eq!(got["root_span_id"], json!("t"));
    assert_eq!(got["created"], json!("2026-11-21T10:00:00.000000+00:00"));
}

/// Start, log and end rows give the same result in any arrival order.
pub async fn merges_before_their_row_end_up_right(store: &dyn Store) {
    let (org, obj) = setup(store, "o").await;
    let start = |id: &str| {
        span(
            &obj,
            id,
            "t",
            &format!("s{id}"),
            None,
            json!({"input": "q", "metrics": {"start": 1.0}}),
        )
    };
    let log = |id: &str| json!({"id": id, "project_id": obj.id, "log_id": "g", "_is_merge": true, "output": "a", "tags": ["x"]});
    let end = |id: &str| json!({"id": id, "project_id": obj.id, "log_id": "g", "_is_merge": true, "metrics": {"end": 2.0}});
    for row in [start("a"), log("a"), end("a")] {
        store.write(&org, rows(vec![row])).await.expect("write");
    }
    for row in [end("b"), log("b"), start("b")] {
        store.write(&org, rows(vec![row])).await.expect("write");
    }
    let mut a = row(store, &org, &obj, "a").await.expect("a");
    let mut b = row(store, &org, &obj, "b").await.expect("b");
    for v in [&mut a, &mut b] {
        let m = v.as_object_mut().expect("object");
        for k in ["id", "span_id", "_xact_id"] {
            m.remove(k);
        }
    }
    assert_eq!(a, b);
    assert_eq!(a["metrics"], json!({"start": 1.0, "end": 2.0}));
    assert_eq!(a["output"], json!("a"));
    let summary = store
        .get_trace(&org, &obj, "t")
        .await
        .expect("trace")
        .expect("exists")
        .summary;
    assert_eq!(summary.span_count, 2);
    assert_eq!(summary.end, Some(2.0));
}

/// Resending identical requests (a client retry) leaves the same result.
pub async fn retried_requests_are_idempotent(store: &dyn Store) {
    let (org, obj) = setup(store, "o").await;
    let start = span(
        &obj,
        "r",
        "t",
        "s",
        None,
        json!({"input": "q", "tags": ["a"], "metrics": {"start": 1.0}}),
    );
    let merge = json!({"id": "r", "project_id": obj.id, "log_id": "g", "_is_merge": true, "tags": ["b"], "metrics": {"end": 3.0}});
    store
        .write(&org, rows(vec![start.clone()]))
        .await
        .expect("write");
    store
        .write(&org, rows(vec![merge.clone()]))
        .await
        .expect("write");
    let once = row(store, &org, &obj, "r").await.expect("row");
    store.write(&org, rows(vec![start])).await.expect("write");
    store.write(&org, rows(vec![merge])).await.expect("write");
    let mut twice = row(store, &org, &obj, "r").await.expect("row");
    twice["_xact_id"] = once["_xact_id"].clone();
    assert_eq!(once, twice);
    assert_eq!(all_rows(store, &org, &obj).await.len(), 1);
}

/// `_object_delete` removes a row from reads and from its trace.
pub async fn delete_removes_the_row(store: &dyn Store) {
    let (org, obj) = setup(store, "o").await;
    store
        .write(
            &org,
            rows(vec![
                span(&obj, "a", "t", "sa", None, json!({})),
                span(&obj, "b", "t", "sb", Some("sa"), json!({})),
            ]),
        )
        .await
        .expect("write");
    store
        .write(
            &org,
            rows(vec![
                json!({"id": "b", "project_id": obj.id, "log_id": "g", "_object_delete": true}),
            ]),
        )
        .await
        .expect("delete");
    assert!(row(store, &org, &obj, "b").await.is_none());
    assert_eq!(all_rows(store, &org, &obj).await.len(), 1);
    let trace = store
        .get_trace(&org, &obj, "t")
        .await
        .expect("trace")
        .expect("exists");
    assert_eq!(trace.summary.span_count, 1);
    store
        .write(
            &org,
            rows(vec![
                json!({"id": "a", "project_id": obj.id, "log_id": "g", "_object_delete": true}),
            ]),
        )
        .await
        .expect("delete");
    assert!(
        store
            .get_trace(&org, &obj, "t")
            .await
            .expect("trace")
            .is_none()
    );
}

/// Every request gets one transaction id, shared by its rows; ids grow and have 19 digits.
pub async fn one_fixed_width_xact_per_request(store: &dyn Store) {
    let (org, obj) = setup(store, "o").await;
    let mut last: Option<XactId> = None;
    for i in 0..5 {
        let r = store
            .write(
                &org,
                rows(vec![
                    span(&obj, &format!("a{i}"), "t", "s", None, json!({})),
                    span(&obj, &format!("b{i}"), "t", "s", None, json!({})),
                ]),
            )
            .await
            .expect("write");
        assert_eq!(r.xact_id.to_string().len(), 19);
        assert!(last.is_none_or(|l| r.xact_id > l));
        last = Some(r.xact_id);
        let a = row(store, &org, &obj, &format!("a{i}")).await.expect("a");
        let b = row(store, &org, &obj, &format!("b{i}")).await.expect("b");
        assert_eq!(a["_xact_id"], b["_xact_id"]);
    }
}

/// A request with one row for an unknown object writes nothing at all.
pub async fn unknown_object_rejects_the_whole_request(store: &dyn Store) {
    let (org, obj) = setup(store, "o").await;
    let unknown = ObjectRef::project_logs("00000000-0000-0000-0000-000000000000");
    let err = store
        .write(
            &org,
            rows(vec![
                span(&obj, "good", "t", "s", None, json!({})),
                span(&unknown, "bad", "t", "s", None, json!({})),
            ]),
        )
        .await
        .expect_err("unknown object");
    assert!(matches!(err, crate::StoreError::UnknownObject(o) if o == unknown));
    assert!(row(store, &org, &obj, "good").await.is_none());
}

/// A key of one org can neither write to nor read another org's objects.
pub async fn orgs_are_isolated(store: &dyn Store) {
    let (org_a, obj_a) = setup(store, "a").await;
    let (org_b, _) = setup(store, "b").await;
    store
        .write(
            &org_a,
            rows(vec![span(
                &obj_a,
                "r",
                "t",
                "s",
                None,
                json!({"input": "secret"}),
            )]),
        )
        .await
        .expect("write");
    let err = store
        .write(
            &org_b,
            rows(vec![span(&obj_a, "x", "t", "s", None, json!({}))]),
        )
        .await
        .expect_err("cross-org write");
    assert!(matches!(err, crate::StoreError::UnknownObject(_)));
    assert!(all_rows(store, &org_b, &obj_a).await.is_empty());
    assert!(row(store, &org_b, &obj_a, "r").await.is_none());
    assert!(
        store
            .get_trace(&org_b, &obj_a, "t")
            .await
            .expect("trace")
            .is_none()
    );
    assert!(
        store
            .get_span(&org_b, &obj_a, "s")
            .await
            .expect("span")
            .is_none()
    );
    let traces = store
        .list_traces(
            &org_b,
            &obj_a,
            TraceQuery {
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .expect("list");
    assert!(traces.traces.is_empty());
}

/// Cursor pages cover every row exactly once, even with writes between pages.
pub async fn fetch_pages_never_skip_or_repeat(store: &dyn Store) {
    let (org, obj) = setup(store, "o").await;
    let batch: Vec<Value> = (0..30)
        .map(|i| {
            span(
                &obj,
                &format!("r{i:02}"),
                &format!("t{i}"),
                "s",
                None,
                json!({}),
            )
        })
        .collect();
    store.write(&org, rows(batch)).await.expect("write");
    let mut seen = Vec::new();
    let mut cursor = None;
    let mut extra = 0;
    loop {
        let page = store
            .fetch_rows(
                &org,
                &obj,
                PageRequest {
                    limit: 8,
                    cursor: cursor.clone(),
                    as_of: None,
                },
            )
            .await
            .expect("fetch");
        assert!(page.rows.len() <= 8);
        seen.extend(page.rows.iter().map(|r| r.id.clone()));
        // Concurrent ingest: update an already-seen row and add a new one between pages.
        if extra < 3 {
            let update = json!({"id": "r00", "project_id": obj.id, "log_id": "g", "_is_merge": true, "output": extra});
            let new = span(&obj, &format!("new{extra}"), "tn", "s", None, json!({}));
            store
                .write(&org, rows(vec![update, new]))
                .await
                .expect("write");
            extra += 1;
        }
        match page.cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let unique: HashSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "a row was repeated: {seen:?}");
    for i in 0..30 {
        assert!(unique.contains(&format!("r{i:02}")), "r{i:02} was skipped");
    }
}

/// Trace summaries follow every write: counts, errors, tokens, cost, times, root, tags.
pub async fn trace_summaries_stay_current(store: &dyn Store) {
    let (org, obj) = setup(store, "o").await;
    let root = span(
        &obj,
        "root",
        "t",
        "s0",
        None,
        json!({
        "span_attributes": {"name": "agent", "type": "task"}, "input": "hello there", "tags": ["prod"],
        "metrics": {"start": 100.0}}),
    );
    let llm = span(
        &obj,
        "llm",
        "t",
        "s1",
        Some("s0"),
        json!({
        "span_attributes": {"name": "chat", "type": "llm"},
        "metrics": {"start": 100.5, "end": 101.0, "prompt_tokens": 10, "completion_tokens": 5, "estimated_cost": 0.25},
        "tags": ["llm"]}),
    );
    store.write(&org, rows(vec![llm])).await.expect("write");
    let s = store
        .get_trace(&org, &obj, "t")
        .await
        .expect("trace")
        .expect("exists")
        .summary;
    assert_eq!((s.span_count, s.root_name.clone()), (1, None));
    store.write(&org, rows(vec![root])).await.expect("write");
    let tool = span(
        &obj,
        "tool",
        "t",
        "s2",
        Some("s0"),
        json!({"error": "boom", "metrics": {"start": 101.0, "end": 101.5, "prompt_tokens": 1, "tokens": 3}}),
    );
    store.write(&org, rows(vec![tool])).await.expect("write");
    let end = json!({"id": "root", "project_id": obj.id, "log_id": "g", "_is_merge": true, "output": "bye", "metrics": {"end": 102.0}});
    store.write(&org, rows(vec![end])).await.expect("write");
    let s = store
        .get_trace(&org, &obj, "t")
        .await
        .expect("trace")
        .expect("exists")
        .summary;
    assert_eq!(s.span_count, 3);
    assert_eq!(s.error_count, 1);
    assert_eq!(
        (s.start, s.end, s.duration),
        (Some(100.0), Some(102.0), Some(2.0))
    );
    assert_eq!(
        (s.prompt_tokens, s.completion_tokens, s.tokens),
        (11.0, 5.0, 18.0)
    );
    assert!((s.estimated_cost - 0.25).abs() < 1e-12);
    assert_eq!(s.root_name.as_deref(), Some("agent"));
    assert_eq!(s.root_type.as_deref(), Some("task"));
    assert_eq!(s.root_id.as_deref(), Some("root"));
    assert_eq!(s.input_preview.as_deref(), Some("hello there"));
    assert_eq!(s.output_preview.as_deref(), Some("bye"));
    let tags: HashSet<_> = s.tags.iter().map(String::as_str).collect();
    assert_eq!(tags, HashSet::from(["prod", "llm"]));
}

/// A trace that arrives whole in one request is summarized exactly as one built span by span
/// (where each arrival recomputes or adds to the stored summary): counts, errors, sums,
/// extremes, the root's facts (the earliest root, even when it is not the first row) and the
/// union of every span's tags in order of start.
pub async fn new_trace_summaries_match_recomputed_ones(store: &dyn Store) {
    let (org, obj) = setup(store, "o").await;
    let spans = |trace: &str| -> Vec<Value> {
        let id = |n: &str| format!("{trace}-{n}");
        vec![
            span(
                &obj,
                &id("c1"),
                trace,
                &id("s1"),
                Some(&id("s0")),
                json!({
                "metrics": {"start": 10.5, "end": 12.0, "prompt_tokens": 3, "completion_tokens": 2},
                "tags": ["slow"], "error": "boom", "span_attributes": {"name": "child one"}}),
            ),
            span(
                &obj,
                &id("root"),
                trace,
                &id("s0"),
                None,
                json!({
                "metrics": {"start": 10.0, "end": 15.0}, "input": {"question": "why?"}, "output": "because",
                "tags": ["prod", "slow"], "span_attributes": {"name": "agent", "type": "task"}}),
            ),
            span(
                &obj,
                &id("c2"),
                trace,
                &id("s2"),
                Some(&id("s0")),
                json!({
                "metrics": {"start": 9.0, "estimated_cost": 0.25}, "tags": ["early"]}),
            ),
            span(
                &obj,
                &id("c3"),
                trace,
                &id("s3"),
                Some(&id("s0")),
                json!({"metrics": {"end": 16.0}}),
            ),
        ]
    };
    store
        .write(&org, rows(spans("whole")))
        .await
        .expect("write");
    for row in spans("pieces") {
        store.write(&org, rows(vec![row])).await.expect("write");
    }
    let summary = |trace: &'static str| trace_summary(store, &org, &obj, trace);
    let (whole, pieces) = (summary("whole").await, summary("pieces").await);
    assert_eq!(whole.span_count, 4);
    assert_eq!(
        (whole.error_count, whole.start, whole.end, whole.duration),
        (1, Some(9.0), Some(16.0), Some(7.0))
    );
    assert_eq!(whole.root_id.as_deref(), Some("whole-root"));
    assert_eq!(whole.root_name.as_deref(), Some("agent"));
    assert_eq!(whole.tags, vec!["early", "prod", "slow"]);
    let comparable = |s: &TraceSummary, trace: &str| {
        let strip = |v: &Option<String>| v.as_ref().map(|v| v.replace(trace, "T"));
        (
            (s.span_count, s.error_count, s.start, s.end, s.duration),
            (
                s.prompt_tokens,
                s.completion_tokens,
                s.tokens,
                s.estimated_cost,
            ),
            (
                strip(&s.root_id),
                strip(&s.root_span_span_id),
                s.root_name.clone(),
                s.root_type.clone(),
            ),
            (
                s.input_preview.clone(),
                s.output_preview.clone(),
                s.tags.clone(),
            ),
        )
    };
    assert_eq!(comparable(&whole, "whole"), comparable(&pieces, "pieces"));
    // A request that adds to a trace stored before it is not mistaken for a new trace.
    let late = span(
        &obj,
        "whole-c4",
        "whole",
        "whole-s4",
        Some("whole-s0"),
        json!({"metrics": {"start": 20.0, "end": 21.0}}),
    );
    let fresh = span(
        &obj,
        "other-root",
        "other",
        "other-s0",
        None,
        json!({"metrics": {"start": 30.0}}),
    );
    store
        .write(&org, rows(vec![late, fresh]))
        .await
        .expect("write");
    let whole = summary("whole").await;
    assert_eq!(
        (whole.span_count, whole.end, whole.duration),
        (5, Some(21.0), Some(12.0))
    );
    assert_eq!(summary("other").await.span_count, 1);
}

/// A long trace written a few spans per request (as an agent streams it) keeps a summary that
/// adds up, through child starts and ends, errors, a start that moves earlier, an end that
/// moves back, and a span that moves to another trace.
pub async fn long_trace_summaries_add_up(store: &dyn Store) {
    let (org, obj) = setup(store, "o").await;
    let summary = |trace: &'static str| trace_summary(store, &org, &obj, trace);
    let root = span(
        &obj,
        "root",
        "t",
        "r",
        None,
        json!({"metrics": {"start": 100.0}}),
    );
    store.write(&org, rows(vec![root])).await.expect("write");
    // 40 children, 8 per request: start rows, then end merges with tokens, cost and errors.
    for batch in 0..5 {
        let starts = (0..8)
            .map(|i| {
                let n = batch * 8 + i;
                span(
                    &obj,
                    &format!("c{n}"),
                    "t",
                    &format!("s{n}"),
                    Some("r"),
                    json!({"metrics": {"start": 101.0 + f64::from(n)}}),
                )
            })
            .collect();
        store.write(&org, rows(starts)).await.expect("write");
    }
    let s = summary("t").await;
    assert_eq!((s.span_count, s.start, s.end), (41, Some(100.0), None));
    for batch in 0..5 {
        let ends = (0..8)
            .map(|i| {
                let n = batch * 8 + i;
                let mut end = json!({"id": format!("c{n}"), "project_id": obj.id, "log_id": "g", "_is_merge": true,
                    "metrics": {"end": 101.5 + f64::from(n), "prompt_tokens": 2, "completion_tokens": 1, "estimated_cost": 0.5}});
                if n % 10 == 3 {
                    end["error"] = json!("boom");
                }
                end
            })
            .collect();
        store.write(&org, rows(ends)).await.expect("write");
    }
    let s = summary("t").await;
    assert_eq!((s.span_count, s.error_count), (41, 4));
    assert_eq!((s.start, s.end), (Some(100.0), Some(140.5)));
    assert_eq!(
        (s.prompt_tokens, s.completion_tokens, s.tokens),
        (80.0, 40.0, 120.0)
    );
    assert!(
        (s.estimated_cost - 20.0).abs() < 1e-9,
        "{}",
        s.estimated_cost
    );
    // A child's start moves before the root's; the last child's end moves back.
    let earlier = json!({"id": "c5", "project_id": obj.id, "log_id": "g", "_is_merge": true, "metrics": {"start": 99.0}});
    let back = json!({"id": "c39", "project_id": obj.id, "log_id": "g", "_is_merge": true, "metrics": {"end": 139.2}});
    store
        .write(&org, rows(vec![earlier, back]))
        .await
        .expect("write");
    let s = summary("t").await;
    assert_eq!((s.start, s.end), (Some(99.0), Some(139.5)));
    assert_eq!(s.duration, Some(40.5));
    // A child (with an error) replaced into another trace leaves this one.
    let moved = span(
        &obj,
        "c13",
        "u",
        "s13",
        None,
        json!({"metrics": {"start": 200.0, "end": 201.0}}),
    );
    store.write(&org, rows(vec![moved])).await.expect("write");
    let s = summary("t").await;
    assert_eq!((s.span_count, s.error_count, s.tokens), (40, 3, 117.0));
    assert!(
        (s.estimated_cost - 19.5).abs() < 1e-9,
        "{}",
        s.estimated_cost
    );
    let u = summary("u").await;
    assert_eq!(
        (u.span_count, u.start, u.end),
        (1, Some(200.0), Some(201.0))
    );
    // The root ends: the summary is whole (recomputed) and still adds up.
    let end = json!({"id": "root", "project_id": obj.id, "log_id": "g", "_is_merge": true, "metrics": {"end": 150.0}});
    store.write(&org, rows(vec![end])).await.expect("write");
    let s = summary("t").await;
    assert_eq!((s.span_count, s.error_count, s.tokens), (40, 3, 117.0));
    assert_eq!((s.start, s.end), (Some(99.0), Some(150.0)));
}

/// Trace lists are newest first, filter by time range and page with cursors.
pub async fn trace_list_newest_first_with_range_and_cursor(store: &dyn Store) {
    let (org, obj) = setup(store, "o").await;
    let batch: Vec<Value> = (0..25)
        .map(|i| {
            span(
                &obj,
                &format!("r{i}"),
                &format!("t{i:02}"),
                "s",
                None,
                json!({"metrics": {"start": 1000.0 + f64::from(i)}}),
            )
        })
        .collect();
    store.write(&org, rows(batch)).await.expect("write");
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .list_traces(
                &org,
                &obj,
                TraceQuery {
                    limit: 10,
                    cursor: cursor.clone(),
                    ..Default::default()
                },
            )
            .await
            .expect("list");
        seen.extend(page.traces.iter().map(|t| t.root_span_id.clone()));
        match page.cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let expected: Vec<String> = (0..25).rev().map(|i| format!("t{i:02}")).collect();
    assert_eq!(seen, expected);
    let ranged = store
        .list_traces(
            &org,
            &obj,
            TraceQuery {
                limit: 100,
                from: Some(1005.0),
                to: Some(1010.0),
                ..Default::default()
            },
        )
        .await
        .expect("list");
    let ids: Vec<_> = ranged
        .traces
        .iter()
        .map(|t| t.root_span_id.as_str())
        .collect();
    assert_eq!(ids, ["t09", "t08", "t07", "t06", "t05"]);
}

/// A whole trace comes back with every span ordered by start; single spans by span id.
pub async fn whole_trace_and_single_span(store: &dyn Store) {
    let (org, obj) = setup(store, "o").await;
    let mut batch = vec![span(
        &obj,
        "root",
        "t",
        "s0",
        None,
        json!({"metrics": {"start": 1.0}}),
    )];
    for i in 1..=50 {
        let parent = format!("s{}", (i - 1) / 3);
        batch.push(span(
            &obj,
            &format!("r{i}"),
            "t",
            &format!("s{i}"),
            Some(&parent),
            json!({"metrics": {"start": 1.0 + f64::from(i)}}),
        ));
    }
    batch.push(span(&obj, "other", "t2", "x", None, json!({})));
    store.write(&org, rows(batch)).await.expect("write");
    let trace = store
        .get_trace(&org, &obj, "t")
        .await
        .expect("trace")
        .expect("exists");
    assert_eq!(trace.spans.len(), 51);
    assert_eq!(trace.summary.span_count, 51);
    let starts: Vec<f64> = trace
        .spans
        .iter()
        .map(|s| {
            s.to_event_value()["metrics"]["start"]
                .as_f64()
                .unwrap_or(0.0)
        })
        .collect();
    assert!(starts.windows(2).all(|w| w[0] <= w[1]));
    let one = store
        .get_span(&org, &obj, "s7")
        .await
        .expect("span")
        .expect("exists");
    assert_eq!(one.id, "r7");
    assert_eq!(one.to_event_value()["span_parents"], json!(["s2"]));
    assert!(
        store
            .get_trace(&org, &obj, "nope")
            .await
            .expect("trace")
            .is_none()
    );
}

/// Rows route to experiments and datasets by their ids.
pub async fn experiment_and_dataset_rows(store: &dyn Store) {
    let (org, logs) = setup(store, "o").await;
    let exp = store
        .create_experiment(&org, &logs.id, Some("e1"), false, Default::default())
        .await
        .expect("exp");
    let ds = store
        .create_or_get_dataset(&org, &logs.id, "d1", None, None)
        .await
        .expect("ds");
    assert_eq!(
        store
            .create_or_get_dataset(&org, &logs.id, "d1", None, None)
            .await
            .expect("ds")
            .id,
        ds.id
    );
    store
        .write(
            &org,
            rows(vec![
                json!({"id": "e", "experiment_id": exp.id, "input": 1, "scores": {"acc": 0.5}}),
                json!({"id": "d", "dataset_id": ds.id, "input": 2, "expected": 3, "tags": null}),
            ]),
        )
        .await
        .expect("write");
    let listed = store.list_datasets(&org, &logs.id).await.expect("datasets");
    assert_eq!(
        listed.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
        vec![ds.id.as_str()]
    );
    let other = store.get_or_create_org("other").await.expect("org");
    assert!(
        store
            .list_datasets(&other.id, &logs.id)
            .await
            .expect("datasets")
            .is_empty()
    );
    let e_obj = ObjectRef::new(ObjectKind::Experiment, exp.id.clone());
    let d_obj = ObjectRef::new(ObjectKind::Dataset, ds.id.clone());
    let e = all_rows(store, &org, &e_obj).await;
    assert_eq!(e.len(), 1);
    assert_eq!(e[0]["experiment_id"], json!(exp.id));
    assert_eq!(e[0]["project_id"], json!(logs.id));
    assert_eq!(e[0]["scores"], json!({"acc": 0.5}));
    let d = all_rows(store, &org, &d_obj).await;
    assert_eq!(d[0]["expected"], json!(3));
    assert_eq!(d[0]["dataset_id"], json!(ds.id));
    assert!(
        d[0]["span_id"].is_string()
            && d[0]["root_span_id"].is_string()
            && d[0]["created"].is_string()
    );
    assert!(all_rows(store, &org, &logs).await.is_empty());
    assert_eq!(
        store
            .get_experiment(&org, &exp.id)
            .await
            .expect("get")
            .map(|e| e.name),
        Some("e1".into())
    );
    assert_eq!(
        store
            .get_dataset(&org, &ds.id)
            .await
            .expect("get")
            .map(|d| d.name),
        Some("d1".into())
    );
}

/// Comment rows are kept apart from spans and attached to their target.
pub async fn comments_are_not_spans(store: &dyn Store) {
    let (org, obj) = setup(store, "o").await;
    store
        .write(&org, rows(vec![span(&obj, "r", "t", "s", None, json!({}))]))
        .await
        .expect("write");
    store
        .write(&org, rows(vec![json!({"project_id": obj.id, "log_id": "g", "comment": {"text": "nice"}, "origin": {"id": "r"}})]))
        .await
        .expect("comment");
    assert_eq!(all_rows(store, &org, &obj).await.len(), 1);
    let comments = store
        .list_comments(&org, &obj, "r")
        .await
        .expect("comments");
    assert_eq!(comments.len(), 1);
    assert_eq!(
        comments[0].to_event_value()["comment"],
        json!({"text": "nice"})
    );
}

/// Experiment names: generated when absent, unique with `ensure_new`, reused without.
pub async fn experiments_names_and_ensure_new(store: &dyn Store) {
    let (org, logs) = setup(store, "o").await;
    let a = store
        .create_experiment(&org, &logs.id, Some("run"), true, Default::default())
        .await
        .expect("a");
    let b = store
        .create_experiment(&org, &logs.id, Some("run"), true, Default::default())
        .await
        .expect("b");
    let c = store
        .create_experiment(&org, &logs.id, Some("run"), false, Default::default())
        .await
        .expect("c");
    assert_eq!(a.name, "run");
    assert_ne!(b.name, "run");
    assert_ne!(a.id, b.id);
    assert_eq!(c.id, a.id);
    let generated = store
        .create_experiment(&org, &logs.id, None, true, Default::default())
        .await
        .expect("gen");
    assert!(!generated.name.is_empty());
    let other = store.get_or_create_org("other").await.expect("org");
    let err = store
        .create_experiment(&other.id, &logs.id, Some("x"), true, Default::default())
        .await;
    assert!(
        err.is_err(),
        "an org cannot create experiments in another org's project"
    );
    // Listed newest first; by exact name; never across orgs.
    let listed = store
        .list_experiments(&org, &logs.id, None, 10)
        .await
        .expect("list");
    assert_eq!(listed.len(), 3);
    assert_eq!(listed[0].id, generated.id);
    assert_eq!(listed[2].id, a.id);
    let named = store
        .list_experiments(&org, &logs.id, Some("run"), 10)
        .await
        .expect("list");
    assert_eq!(named.iter().map(|e| &e.id).collect::<Vec<_>>(), vec![&a.id]);
    let foreign = store
        .list_experiments(&other.id, &logs.id, None, 10)
        .await
        .expect("list");
    assert!(foreign.is_empty());
}

/// A cursor the store did not issue is an error, not an empty page.
pub async fn bad_cursor_is_rejected(store: &dyn Store) {
    let (org, obj) = setup(store, "o").await;
    let err = store
        .fetch_rows(
            &org,
            &obj,
            PageRequest {
                limit: 5,
                cursor: Some("garbage!".into()),
                as_of: None,
            },
        )
        .await;
    assert!(matches!(err, Err(crate::StoreError::InvalidCursor(_))));
    let err = store
        .list_traces(
            &org,
            &obj,
            TraceQuery {
                limit: 5,
                cursor: Some("Wzld".into()),
                ..Default::default()
            },
        )
        .await;
    assert!(matches!(err, Err(crate::StoreError::InvalidCursor(_))));
}

/// Input, output and expected merge like any other field, however a backend stores them.
pub async fn payload_fields_follow_the_merge_rules(store: &dyn Store) {
    let (org, obj) = setup(store, "o").await;
    let merge = |id: &str, extra: Value| {
        let mut v = json!({"id": id, "project_id": obj.id, "log_id": "g", "_is_merge": true});
        if let (Some(m), Value::Object(e)) = (v.as_object_mut(), extra) {
            m.extend(e);
        }
        v
    };
    // Objects deep-merge; other values replace; null is kept as a value.
    store
        .write(
            &org,
            rows(vec![span(
                &obj,
                "a",
                "t",
                "s",
                None,
                json!({"input": {"q": "hi", "n": {"x": 1}}, "output": "first", "expected": [1]}),
            )]),
        )
        .await
        .expect("write");
    store
        .write(
            &org,
            rows(vec![merge(
                "a",
                json!({"input": {"n": {"y": 2}}, "output": {"text": "second"}, "expected": null}),
            )]),
        )
        .await
        .expect("merge");
    let got = row(store, &org, &obj, "a").await.expect("a");
    assert_eq!(got["input"], json!({"q": "hi", "n": {"x": 1, "y": 2}}));
    assert_eq!(got["output"], json!({"text": "second"}));
    assert_eq!(got["expected"], Value::Null);
    assert!(got.as_object().is_some_and(|m| m.contains_key("expected")));
    store
        .write(
            &org,
            rows(vec![merge("a", json!({"output": {"more": true}}))]),
        )
        .await
        .expect("merge");
    assert_eq!(
        row(store, &org, &obj, "a").await.expect("a")["output"],
        json!({"text": "second", "more": true})
    );
    // `_array_delete` and `_merge_paths` reach into payload fields.
    store
        .write(
            &org,
            rows(vec![merge("a", json!({"expected": ["k", "d"]}))]),
        )
        .await
        .expect("merge");
    store
        .write(&org, rows(vec![merge("a", json!({"_array_delete": [{"path": ["expected"], "delete": ["d"]}], "_merge_paths": [["input"]], "input": {"only": 1}}))]))
        .await
        .expect("merge");
    let got = row(store, &org, &obj, "a").await.expect("a");
    assert_eq!(got["expected"], json!(["k"]));
    assert_eq!(got["input"], json!({"only": 1}));
    // A replace drops payload fields it does not carry.
    store
        .write(
            &org,
            rows(vec![span(
                &obj,
                "a",
                "t",
                "s",
                None,
                json!({"output": "only output"}),
            )]),
        )
        .await
        .expect("replace");
    let got = row(store, &org, &obj, "a").await.expect("a");
    assert!(got.get("input").is_none() && got.get("expected").is_none());
    assert_eq!(got["output"], json!("only output"));
    // Merges before the row: payload objects merge with the replace row's.
    store
        .write(
            &org,
            rows(vec![merge(
                "b",
                json!({"input": {"late": 1}, "output": "late output"}),
            )]),
        )
        .await
        .expect("merge");
    store
        .write(
            &org,
            rows(vec![span(
                &obj,
                "b",
                "t2",
                "s2",
                None,
                json!({"input": {"early": 1}, "output": "replaced"}),
            )]),
        )
        .await
        .expect("replace");
    let got = row(store, &org, &obj, "b").await.expect("b");
    assert_eq!(got["input"], json!({"early": 1, "late": 1}));
    assert_eq!(got["output"], json!("late output"));
    let summary = store
        .get_trace(&org, &obj, "t2")
        .await
        .expect("trace")
        .expect("exists")
        .summary;
    assert_eq!(summary.output_preview.as_deref(), Some("late output"));
    // Whole traces and pages carry the payload fields too.
    let trace = store
        .get_trace(&org, &obj, "t")
        .await
        .expect("trace")
        .expect("exists");
    assert_eq!(
        trace.spans[0].to_event_value()["output"],
        json!("only output")
    );
    assert_eq!(
        store
            .get_span(&org, &obj, "s2")
            .await
            .expect("span")
            .expect("exists")
            .to_event_value()["input"],
        json!({"early": 1, "late": 1})
    );
}

async fn query(store: &dyn Store, org: &str, text: &str) -> crate::QueryOutput {
    let parsed = spanloom_query::parse_text(text).expect("conformance queries parse");
    store.query(org, &parsed).await.expect("query runs")
}

fn ids_of(out: &crate::QueryOutput) -> Vec<String> {
    out.rows
        .iter()
        .map(|r| {
            serde_json::from_str::<Value>(r)
                .ok()
                .and_then(|v| v["id"].as_str().map(str::to_owned))
                .unwrap_or_default()
        })
        .collect()
}

async fn query_fixture(store: &dyn Store) -> (String, ObjectRef) {
    let (org, obj) = setup(store, "o").await;
    let batch: Vec<Value> = (0..9)
        .map(|i| {
            span(&obj, &format!("r{i}"), &format!("t{}", i % 3), &format!("s{i}"), (i >= 3).then_some("s0"), json!({
                "metadata": {"model": if i % 2 == 0 { "a" } else { "b" }, "n": i},
                "input": {"text": format!("message number {i}")},
                "metrics": {"start": 100.0 + f64::from(i), "end": 101.0 + f64::from(i) * 1.5, "tokens": i},
            }))
        })
        .collect();
    store.write(&org, rows(batch)).await.expect("write");
    (org, obj)
}

/// Filters on JSON paths and payload fields, sorts, and cursor pages that neither skip nor repeat.
pub async fn query_filters_sorts_and_pages(store: &dyn Store) {
    let (org, obj) = query_fixture(store).await;
    let src = format!("project_logs('{}')", obj.id);
    let out = query(store, &org, &format!("select: id | from: {src} | filter: metadata.model = 'a' and metadata.n > 2 | sort: metrics.start desc")).await;
    assert_eq!(ids_of(&out), ["r8", "r6", "r4"]);
    let out = query(
        store,
        &org,
        &format!("select: id | from: {src} | filter: input.text MATCH 'NUMBER 7'"),
    )
    .await;
    assert_eq!(ids_of(&out), ["r7"]);
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let mut text = format!("select: id | from: {src} | sort: metrics.tokens asc | limit: 4");
        if !cursor.is_empty() {
            text.push_str(&format!(" | cursor: '{cursor}'"));
        }
        let out = query(store, &org, &text).await;
        seen.extend(ids_of(&out));
        match out.cursor {
            Some(c) => cursor = c,
            None => break,
        }
    }
    assert_eq!(seen, (0..9).map(|i| format!("r{i}")).collect::<Vec<_>>());
    let other = store.get_or_create_org("other").await.expect("org");
    assert!(
        query(store, &other.id, &format!("select: id | from: {src}"))
            .await
            .rows
            .is_empty()
    );
}

/// Filters naming rows by `id`, `span_id` or `root_span_id` (`=`, `IN`, `OR`, with other
/// conditions) find exactly those rows of the queried object, also when another object of the
/// org holds rows with the same ids.
pub async fn queries_by_id_find_their_rows(store: &dyn Store) {
    let (org, obj) = query_fixture(store).await;
    let twin = store
        .create_or_get_project(&org, "twin", None)
        .await
        .expect("project");
    let twin = ObjectRef::project_logs(twin.id);
    let copies: Vec<Value> = (0..9)
        .map(|i| {
            let (id, trace, span_id) = (format!("r{i}"), format!("t{}", i % 3), format!("s{i}"));
            span(
                &twin,
                &id,
                &trace,
                &span_id,
                None,
                json!({"metadata": {"n": 100 + i}}),
            )
        })
        .collect();
    store.write(&org, rows(copies)).await.expect("write");
    let src = format!("project_logs('{}')", obj.id);
    for (filter, expected) in [
        ("id = 'r4'", vec!["r4"]),
        ("'r4' = id", vec!["r4"]),
        ("id IN ('r7', 'r1', 'nope')", vec!["r1", "r7"]),
        ("span_id = 's5'", vec!["r5"]),
        ("root_span_id = 't2'", vec!["r2", "r5", "r8"]),
        ("id = 'r1' or span_id = 's2'", vec!["r1", "r2"]),
        (
            "root_span_id = 't0' and metadata.model = 'a'",
            vec!["r0", "r6"],
        ),
        ("id = 'r3' and metadata.model = 'a'", vec![]),
        ("id = 'nope'", vec![]),
    ] {
        let text = format!("select: id | from: {src} | filter: {filter} | sort: id asc");
        let out = query(store, &org, &text).await;
        assert_eq!(ids_of(&out), expected, "{filter}");
    }
    let traces = query(
        store,
        &org,
        &format!("from: {src} traces | filter: span_id = 's4'"),
    )
    .await;
    let roots: Vec<Value> = traces
        .rows
        .iter()
        .map(|r| serde_json::from_str::<Value>(r).expect("json")["root_span_id"].clone())
        .collect();
    assert_eq!(roots, [json!("t1")]);
    let twin_rows = query(
        store,
        &org,
        &format!(
            "select: metadata.n | from: project_logs('{}') | filter: id = 'r4'",
            twin.id
        ),
    )
    .await;
    assert_eq!(twin_rows.rows.len(), 1);
    assert!(twin_rows.rows[0].contains("104"), "{:?}", twin_rows.rows);
}

/// Dimensions and measures, percentile included.
pub async fn query_aggregates(store: &dyn Store) {
    let (org, obj) = query_fixture(store).await;
    let out = query(
        store,
        &org,
        &format!(
            "dimensions: metadata.model | measures: count(1) as n, sum(metrics.tokens) as tokens, max(metrics.tokens) as top, \
             percentile(metrics.tokens, 0.5) as median | from: project_logs('{}') | sort: model asc",
            obj.id
        ),
    )
    .await;
    let rows: Vec<Value> = out
        .rows
        .iter()
        .map(|r| serde_json::from_str(r).expect("json"))
        .collect();
    assert_eq!(
        rows[0],
        json!({"model": "a", "n": 5, "tokens": 20.0, "top": 8.0, "median": 4.0})
    );
    assert_eq!(
        rows[1],
        json!({"model": "b", "n": 4, "tokens": 16.0, "top": 7.0, "median": 4.0})
    );
}

/// The traces shape returns trace summaries whose spans match, newest first.
pub async fn query_traces_shape(store: &dyn Store) {
    let (org, obj) = query_fixture(store).await;
    let out = query(
        store,
        &org,
        &format!(
            "from: project_logs('{}') traces | filter: metadata.n = 7",
            obj.id
        ),
    )
    .await;
    let rows: Vec<Value> = out
        .rows
        .iter()
        .map(|r| serde_json::from_str(r).expect("json"))
        .collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["root_span_id"], json!("t1"));
    let all = query(
        store,
        &org,
        &format!("from: project_logs('{}') traces | limit: 2", obj.id),
    )
    .await;
    assert_eq!(all.rows.len(), 2);
    assert!(all.cursor.is_some());
}

/// Dashboard rollups follow inserts, merges (a span's end arriving later) and deletes.
pub async fn rollups_follow_every_write(store: &dyn Store) {
    use crate::rollup::{BucketWidth, RollupQuery};
    let (org, obj) = setup(store, "o").await;
    let base = 1_800_000_000.0; // a whole hour
    let mut batch = Vec::new();
    for i in 0..10 {
        let trace = format!("t{i}");
        batch.push(span(
            &obj,
            &format!("root{i}"),
            &trace,
            &format!("r{i}"),
            None,
            json!({
            "metrics": {"start": base + f64::from(i) * 60.0}}),
        ));
        batch.push(span(&obj, &format!("llm{i}"), &trace, &format!("l{i}"), Some(&format!("r{i}")), json!({
            "metadata": {"model": if i < 5 { "m1" } else { "m2" }},
            "metrics": {"start": base + f64::from(i) * 60.0 + 1.0, "end": base + f64::from(i) * 60.0 + 2.0,
                        "tokens": 10, "estimated_cost": 0.5},
            "error": if i == 0 { json!("boom") } else { Value::Null }})));
    }
    store.write(&org, rows(batch)).await.expect("write");
    let ends: Vec<Value> = (0..10)
        .map(|i| {
            json!({"id": format!("root{i}"), "project_id": obj.id, "log_id": "g", "_is_merge": true,
                        "metrics": {"end": base + f64::from(i) * 60.0 + 1.0 + f64::from(i)}})
        })
        .collect();
    store.write(&org, rows(ends)).await.expect("end merges");
    let hour = |by_model| RollupQuery {
        from: base,
        to: base + 3600.0,
        bucket: BucketWidth::Hour,
        by_model,
    };
    let points = store
        .rollups(&org, &obj, hour(false))
        .await
        .expect("rollups");
    assert_eq!(points.len(), 1);
    let p = &points[0];
    assert_eq!((p.requests, p.spans, p.errors), (10, 20, 1));
    assert!((p.tokens - 100.0).abs() < 1e-9 && (p.estimated_cost - 5.0).abs() < 1e-9);
    let p95 = p.latency_p95.expect("latency");
    assert!((p95 - 10.0).abs() / 10.0 < 0.1, "request p95 {p95}");
    let by_model = store
        .rollups(&org, &obj, hour(true))
        .await
        .expect("rollups");
    let m1 = by_model
        .iter()
        .find(|p| p.model.as_deref() == Some("m1"))
        .expect("m1");
    assert_eq!((m1.spans, m1.errors), (5, 1));
    let minutes = store
        .rollups(
            &org,
            &obj,
            RollupQuery {
                from: base,
                to: base + 600.0,
                bucket: BucketWidth::Minute,
                by_model: false,
            },
        )
        .await
        .expect("minutes");
    assert_eq!(minutes.len(), 10);
    assert!(minutes.iter().all(|p| p.requests == 1 && p.spans == 2));
    store
        .write(
            &org,
            rows(vec![
                json!({"id": "llm0", "project_id": obj.id, "log_id": "g", "_object_delete": true}),
            ]),
        )
        .await
        .expect("delete");
    let p = store
        .rollups(&org, &obj, hour(false))
        .await
        .expect("rollups")
        .remove(0);
    assert_eq!((p.spans, p.errors), (19, 0));
    let other = store.get_or_create_org("other").await.expect("org");
    assert!(
        store
            .rollups(&other.id, &obj, hour(false))
            .await
            .expect("rollups")
            .is_empty()
    );
}

/// LLM spans are priced from the model price table when the emitter gave no cost, whatever
/// order their rows arrive in; the entry is recorded; unknown models are unpriced, not free;
/// trace totals include the computed cost.
pub async fn llm_spans_are_priced_at_ingest(store: &dyn Store) {
    let (org, obj) = setup(store, "o").await;
    // Start row with the model, end merge with the tokens (how SDK wrappers log LLM calls).
    let start = span(
        &obj,
        "llm",
        "t",
        "s1",
        None,
        json!({"span_attributes": {"name": "chat", "type": "llm"}, "metadata": {"model": "gpt-4o-mini-2024-07-18"},
               "metrics": {"start": 1.75e9}}),
    );
    let end = json!({"id": "llm", "project_id": obj.id, "log_id": "g", "_is_merge": true,
                     "metrics": {"end": 1.75e9 + 1.0, "prompt_tokens": 1_000_000, "completion_tokens": 1_000_000}});
    store.write(&org, rows(vec![end])).await.expect("write");
    store.write(&org, rows(vec![start])).await.expect("write");
    let r = row(store, &org, &obj, "llm").await.expect("row");
    let cost = r["metrics"]["estimated_cost"].as_f64().expect("priced");
    assert!((cost - 0.75).abs() < 1e-9, "{r}");
    assert_eq!(r["metadata"]["pricing"]["source"], "price_table");
    assert_eq!(r["metadata"]["pricing"]["entry"], "openai/gpt-4o-mini");
    let s = store
        .get_trace(&org, &obj, "t")
        .await
        .expect("trace")
        .expect("exists")
        .summary;
    assert!((s.estimated_cost - 0.75).abs() < 1e-9);

    let other = span(
        &obj,
        "llm2",
        "t2",
        "s2",
        None,
        json!({"span_attributes": {"name": "chat", "type": "llm"}, "metadata": {"model": "in-house-7b"},
               "metrics": {"start": 1.75e9, "prompt_tokens": 10, "completion_tokens": 5}}),
    );
    let emitted = span(
        &obj,
        "llm3",
        "t3",
        "s3",
        None,
        json!({"span_attributes": {"name": "chat", "type": "llm"}, "metadata": {"model": "gpt-4o"},
               "metrics": {"start": 1.75e9, "prompt_tokens": 10, "completion_tokens": 5, "estimated_cost": 0.5}}),
    );
    store
        .write(&org, rows(vec![other, emitted]))
        .await
        .expect("write");
    let r = row(store, &org, &obj, "llm2").await.expect("row");
    assert!(r["metrics"].get("estimated_cost").is_none(), "{r}");
    assert_eq!(r["metadata"]["pricing"]["source"], "unpriced");
    let r = row(store, &org, &obj, "llm3").await.expect("row");
    assert_eq!(r["metrics"]["estimated_cost"], 0.5);
    assert_eq!(r["metadata"]["pricing"]["source"], "emitter");
}

/// A dataset reads exactly as of any past transaction: inserts, deep merges of payload
/// objects, deletes and re-inserts each show up only from their own version on.
pub async fn datasets_read_as_of_any_version(store: &dyn Store) {
    let (org, logs) = setup(store, "o").await;
    let ds = store
        .create_or_get_dataset(&org, &logs.id, "versions", None, None)
        .await
        .expect("ds");
    let obj = ObjectRef::new(ObjectKind::Dataset, ds.id.clone());
    let write = |rows_json: Vec<Value>| {
        let org = org.clone();
        async move {
            store
                .write(&org, rows(rows_json))
                .await
                .expect("write")
                .xact_id
        }
    };
    let d = |id: &str, extra: Value| {
        let mut v = json!({"id": id, "dataset_id": ds.id});
        if let (Some(m), Value::Object(e)) = (v.as_object_mut(), extra) {
            m.extend(e);
        }
        v
    };
    let v1 = write(vec![
        d("a", json!({"input": {"q": "one"}, "expected": "1"})),
        d("b", json!({"input": {"q": "two"}, "expected": "2"})),
    ])
    .await;
    let v2 = write(vec![d(
        "a",
        json!({"_is_merge": true, "input": {"hint": "h"}, "metadata": {"k": 1}}),
    )])
    .await;
    let v3 = write(vec![
        d("b", json!({"_object_delete": true})),
        d("c", json!({"input": {"q": "three"}})),
    ])
    .await;
    let v4 = write(vec![d("b", json!({"input": {"q": "two again"}}))]).await;

    let as_of = |version| {
        let org = org.clone();
        let obj = obj.clone();
        async move {
            let mut out = Vec::new();
            let mut cursor = None;
            loop {
                let page = store
                    .fetch_rows(
                        &org,
                        &obj,
                        PageRequest {
                            limit: 1,
                            cursor: cursor.clone(),
                            as_of: Some(version),
                        },
                    )
                    .await
                    .expect("fetch as of");
                out.extend(page.rows.iter().map(|r| r.to_event_value()));
                match page.cursor {
                    Some(c) => cursor = Some(c),
                    None => return out,
                }
            }
        }
    };
    let inputs = |rows: &[Value]| -> Vec<(String, Value)> {
        rows.iter()
            .map(|r| {
                (
                    r["id"].as_str().unwrap_or_default().to_owned(),
                    r["input"].clone(),
                )
            })
            .collect()
    };
    let at1 = as_of(v1).await;
    assert_eq!(
        inputs(&at1),
        vec![
            ("a".into(), json!({"q": "one"})),
            ("b".into(), json!({"q": "two"}))
        ]
    );
    assert!(at1.iter().all(|r| r["_xact_id"] == json!(v1.to_string())));
    let at2 = as_of(v2).await;
    assert_eq!(at2[0]["input"], json!({"q": "one", "hint": "h"}));
    assert_eq!(at2[0]["metadata"], json!({"k": 1}));
    assert_eq!(at2[0]["_xact_id"], json!(v2.to_string()));
    assert_eq!(at2[1]["_xact_id"], json!(v1.to_string()));
    let at3 = as_of(v3).await;
    assert_eq!(
        inputs(&at3)
            .into_iter()
            .map(|(id, _)| id)
            .collect::<Vec<_>>(),
        vec!["a", "c"]
    );
    let at4 = as_of(v4).await;
    assert_eq!(inputs(&at4).len(), 3);
    // The newest version reads like the current rows.
    let mut current: Vec<Value> = all_rows(store, &org, &obj).await;
    let mut pinned = at4.clone();
    let by_id = |v: &Value| v["id"].as_str().unwrap_or_default().to_owned();
    current.sort_by_key(by_id);
    pinned.sort_by_key(by_id);
    assert_eq!(pinned, current);
    // Its versions are the transactions that wrote to it, newest first.
    let versions = store.list_versions(&org, &obj, 10).await.expect("versions");
    assert_eq!(versions, vec![v4, v3, v2, v1]);
    // Before the first write the dataset is empty; another org reads nothing.
    assert!(as_of(XactId::MIN).await.is_empty());
    let other = store.get_or_create_org("other").await.expect("org");
    let foreign = store
        .fetch_rows(
            &other.id,
            &obj,
            PageRequest {
                limit: 10,
                cursor: None,
                as_of: Some(v4),
            },
        )
        .await;
    assert!(foreign.map(|p| p.rows.is_empty()).unwrap_or(true));
}

/// A trace outline has every span with its fields but its payloads, and their previews.
pub async fn trace_outlines_leave_payloads_out(store: &dyn Store) {
    let (org, obj) = setup(store, "o").await;
    let big = "word ".repeat(50_000);
    let root = span(
        &obj,
        "r",
        "t",
        "s0",
        None,
        json!({"span_attributes": {"name": "root"}, "input": big, "output": {"answer": 42},
                                                        "metadata": {"k": "v"}, "metrics": {"start": 1.0}}),
    );
    let child = span(
        &obj,
        "c",
        "t",
        "s1",
        Some("s0"),
        json!({"span_attributes": {"name": "child"}, "expected": [1], "metrics": {"start": 2.0}}),
    );
    store
        .write(&org, rows(vec![root, child]))
        .await
        .expect("write");
    let full = store
        .get_trace(&org, &obj, "t")
        .await
        .expect("trace")
        .expect("exists");
    let outline = store
        .get_trace_outline(&org, &obj, "t")
        .await
        .expect("outline")
        .expect("exists");
    assert_eq!(outline.summary, full.summary);
    assert_eq!(outline.spans.len(), 2);
    for (o, f) in outline.spans.iter().zip(&full.spans) {
        let (mut o, mut f) = (o.to_event_value(), f.to_event_value());
        for key in ["input", "output", "expected", "otel"] {
            assert!(o.get(key).is_none(), "{key} left in the outline");
            if let Some(m) = f.as_object_mut() {
                m.remove(key);
            }
        }
        if let Some(m) = o.as_object_mut() {
            m.remove("input_preview");
            m.remove("output_preview");
        }
        assert_eq!(o, f);
    }
    let root = outline.spans[0].to_event_value();
    assert!(
        root["input_preview"]
            .as_str()
            .is_some_and(|p| p.starts_with("word word") && p.len() < 1000)
    );
    assert_eq!(root["metadata"], json!({"k": "v"}));
    assert!(
        store
            .get_trace_outline(&org, &obj, "nope")
            .await
            .expect("outline")
            .is_none()
    );
}

/// Tens of KiB of chat text (it compresses, like real payloads): `n` sentences, one marked.
fn long_text(n: usize, marker: &str) -> String {
    (0..n)
        .map(|i| {
            if i == n / 2 {
                format!("{marker} sentence {i}. ")
            } else {
                format!("The assistant read sentence number {i} of the document. ")
            }
        })
        .collect()
}

/// Large payloads (where a backend may keep them apart from the rows) read back intact on
/// every path: rows, traces, spans, queries that filter on their text, merges into them, and
/// dataset versions.
pub async fn large_payloads_read_back_everywhere(store: &dyn Store) {
    let (org, obj) = setup(store, "o").await;
    let question = long_text(600, "zebraquestion");
    let answer = long_text(300, "zebraanswer");
    let input = json!({"messages": [{"role": "user", "content": question}], "n": {"x": 1}});
    store
        .write(
            &org,
            rows(vec![span(
                &obj,
                "big",
                "t",
                "s",
                None,
                json!({"input": input, "metrics": {"start": 1.0}}),
            )]),
        )
        .await
        .expect("start row");
    // The end merge adds the output and deep-merges into the stored input.
    let end = json!({"id": "big", "project_id": obj.id, "log_id": "g", "_is_merge": true,
        "output": answer, "input": {"n": {"y": 2}}, "metrics": {"end": 2.0}});
    store.write(&org, rows(vec![end])).await.expect("end merge");
    let mut merged = input.clone();
    merged["n"] = json!({"x": 1, "y": 2});
    let got = row(store, &org, &obj, "big").await.expect("row");
    assert_eq!(got["input"], merged);
    assert_eq!(got["output"], json!(answer));
    let trace = store
        .get_trace(&org, &obj, "t")
        .await
        .expect("trace")
        .expect("exists");
    assert_eq!(trace.spans[0].to_event_value()["output"], json!(answer));
    let one = store
        .get_span(&org, &obj, "s")
        .await
        .expect("span")
        .expect("exists");
    assert_eq!(one.to_event_value()["input"], merged);
    let src = format!("project_logs('{}')", obj.id);
    for filter in [
        "output LIKE '%zebraanswer sentence 150%'",
        "input.messages MATCH 'zebraquestion'",
        "output MATCH 'zebraanswer'",
    ] {
        let out = query(
            store,
            &org,
            &format!("select: id, output | from: {src} | filter: {filter}"),
        )
        .await;
        assert_eq!(ids_of(&out), ["big"], "{filter}");
        let first: Value = serde_json::from_str(&out.rows[0]).expect("row JSON");
        assert_eq!(first["output"], json!(answer), "{filter}");
    }
    // A dataset reads its first version's payload after a later write replaced it.
    let ds = store
        .create_or_get_dataset(&org, &obj.id, "big", None, None)
        .await
        .expect("dataset");
    let dobj = ObjectRef::new(ObjectKind::Dataset, ds.id.clone());
    let v1 = store
        .write(
            &org,
            rows(vec![
                json!({"id": "d", "dataset_id": ds.id, "input": question}),
            ]),
        )
        .await
        .expect("v1")
        .xact_id;
    store
        .write(
            &org,
            rows(vec![
                json!({"id": "d", "dataset_id": ds.id, "input": answer}),
            ]),
        )
        .await
        .expect("v2");
    let at = |version| {
        let (org, dobj) = (org.clone(), dobj.clone());
        async move {
            store
                .fetch_rows(
                    &org,
                    &dobj,
                    PageRequest {
                        limit: 10,
                        cursor: None,
                        as_of: version,
                    },
                )
                .await
                .expect("fetch")
                .rows
                .iter()
                .map(|r| r.to_event_value()["input"].clone())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(at(Some(v1)).await, vec![json!(question)]);
    assert_eq!(at(None).await, vec![json!(answer)]);
}
