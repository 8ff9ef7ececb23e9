//! The background logger against a real `spanloom serve` (the debug build of the server,
//! which `scripts/test.sh` builds before the Rust tests).

use serde_json::{Value, json};
use spanloom_sdk::logger::{BackgroundLogger, FullQueue, LoggerConfig};
use spanloom_sdk::transport::{HttpTransport, PostResult, Transport};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

struct Server {
    child: Child,
    url: String,
    key: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn server_binary() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let bin = target.join("debug/spanloom");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build -p spanloom-server` first",
        bin.display()
    );
    bin
}

fn start() -> Server {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(server_binary())
        .args([
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--otlp-grpc-bind",
            "off",
            "--data-dir",
        ])
        .arg(dir.path().join("data"))
        .env("SPANLOOM_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("server starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut url = String::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("line");
        if let Some(u) = line
            .split("listening on ")
            .nth(1)
            .filter(|u| u.starts_with("http://"))
        {
            url = u.trim().to_owned();
            break;
        }
    }
    let key = std::fs::read_to_string(dir.path().join("data/admin-key"))
        .expect("key")
        .trim()
        .to_owned();
    Server {
        child,
        url,
        key,
        _dir: dir,
    }
}

fn call(server: &Server, path: &str, body: Value) -> Value {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut resp = agent
        .post(&format!("{}{path}", server.url))
        .header("Authorization", &format!("Bearer {}", server.key))
        .send(body.to_string().as_bytes())
        .expect("request");
    serde_json::from_str(&resp.body_mut().read_to_string().expect("body")).expect("json")
}

fn project(server: &Server, name: &str) -> String {
    call(server, "/v1/project", json!({"name": name}))["id"]
        .as_str()
        .expect("id")
        .to_owned()
}

fn rows(server: &Server, pid: &str) -> Vec<Value> {
    call(
        server,
        &format!("/v1/project_logs/{pid}/fetch"),
        json!({"limit": 1000}),
    )["events"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn http(server: &Server) -> Arc<dyn Transport> {
    Arc::new(HttpTransport::new(
        &server.url,
        &server.key,
        Duration::from_secs(30),
    ))
}

fn span_rows(pid: &str, i: usize) -> [Value; 2] {
    [
        json!({"id": format!("r{i}"), "project_id": pid, "log_id": "g", "span_id": format!("{i:016x}"),
               "root_span_id": format!("{i:032x}"), "span_parents": null, "input": {"i": i}, "metrics": {"start": 1.0}}),
        json!({"id": format!("r{i}"), "project_id": pid, "log_id": "g", "_is_merge": true, "output": i, "metrics": {"end": 2.0}}),
    ]
}

#[test]
fn spans_arrive_merged_and_batched() {
    let server = start();
    let pid = project(&server, "sdk-core");
    let mut config = LoggerConfig::new(http(&server));
    config.batch_rows = 7;
    let logger = BackgroundLogger::start(config);
    for i in 0..50 {
        for row in span_rows(&pid, i) {
            logger.log(row);
        }
    }
    let report = logger.flush();
    assert_eq!(report.failed_rows, 0);
    let stored = rows(&server, &pid);
    assert_eq!(stored.len(), 50);
    for r in &stored {
        assert_eq!(r["metrics"]["start"], 1.0);
        assert_eq!(r["metrics"]["end"], 2.0);
        assert_eq!(r["output"], r["input"]["i"]);
    }
}

#[test]
fn rows_queued_as_json_text_are_parsed_completed_and_sent() {
    let server = start();
    let pid = project(&server, "sdk-core-json");
    let logger = BackgroundLogger::start(LoggerConfig::new(http(&server)));
    for i in 0..20 {
        for row in span_rows(&pid, i) {
            logger.log_json(row.to_string().into_bytes());
        }
    }
    // Text that is not a JSON object is counted as failed and never sent.
    logger.log_json(b"{not json".to_vec());
    logger.log_json(b"[1, 2]".to_vec());
    let report = logger.flush();
    assert_eq!(report.failed_rows, 2);
    let stored = rows(&server, &pid);
    assert_eq!(stored.len(), 20);
    for r in &stored {
        assert_eq!(r["output"], r["input"]["i"]);
        // `created` was left to the core: derived from metrics.start (1.0 s after the epoch).
        assert_eq!(r["created"], "1970-01-01T00:00:01.000000+00:00", "{r}");
    }
}

/// Answers 503 for the first `failures` posts, then forwards.
struct Flaky {
    inner: Arc<dyn Transport>,
    failures: u32,
    seen: AtomicU32,
    status: u16,
}

impl Transport for Flaky {
    fn post_logs3(&self, body: &[u8]) -> PostResult {
        if self.seen.fetch_add(1, Ordering::SeqCst) < self.failures {
            return Ok(self.status);
        }
        self.inner.post_logs3(body)
    }
}

#[test]
fn transient_failures_are_retried_and_413_is_final() {
    let server = start();
    let pid = project(&server, "retries");
    let flaky = Arc::new(Flaky {
        inner: http(&server),
        failures: 2,
        seen: AtomicU32::new(0),
        status: 503,
    });
    let mut config = LoggerConfig::new(flaky.clone());
    config.backoff = Duration::from_millis(10);
    let logger = BackgroundLogger::start(config);
    for row in span_rows(&pid, 1) {
        logger.log(row);
    }
    assert_eq!(logger.flush().sent_rows, 1);
    assert_eq!(flaky.seen.load(Ordering::SeqCst), 3);
    assert_eq!(rows(&server, &pid).len(), 1);

    let failed = tempfile::tempdir().expect("dir");
    let too_large = Arc::new(Flaky {
        inner: http(&server),
        failures: 100,
        seen: AtomicU32::new(0),
        status: 413,
    });
    let mut config = LoggerConfig::new(too_large.clone());
    config.backoff = Duration::from_millis(10);
    config.failed_payloads_dir = Some(failed.path().to_owned());
    let logger = BackgroundLogger::start(config);
    for row in span_rows(&pid, 2) {
        logger.log(row);
    }
    assert_eq!(logger.flush().failed_rows, 1);
    assert_eq!(
        too_large.seen.load(Ordering::SeqCst),
        1,
        "413 is not retried"
    );
    let dumped: Vec<_> = std::fs::read_dir(failed.path())
        .expect("dir")
        .flatten()
        .collect();
    assert_eq!(dumped.len(), 1);
    // The dumped body is a valid /logs3 body.
    let body: Value =
        serde_json::from_str(&std::fs::read_to_string(dumped[0].path()).expect("read"))
            .expect("json");
    assert_eq!(body["rows"][0]["id"], "r2");
}

#[test]
fn sync_flush_sends_only_on_flush_and_the_size_limit_splits_requests() {
    let server = start();
    let pid = project(&server, "sync");
    let all = tempfile::tempdir().expect("dir");
    let mut config = LoggerConfig::new(http(&server));
    config.sync_flush = true;
    config.max_request_bytes = 600;
    config.all_payloads_dir = Some(all.path().to_owned());
    let logger = BackgroundLogger::start(config);
    for i in 0..5 {
        logger.log(span_rows(&pid, i)[0].clone());
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        rows(&server, &pid).is_empty(),
        "nothing is sent before flush"
    );
    assert_eq!(logger.flush().sent_rows, 5);
    assert_eq!(rows(&server, &pid).len(), 5);
    let bodies = std::fs::read_dir(all.path()).expect("dir").count();
    assert!(
        bodies >= 2,
        "600-byte requests split the batch ({bodies} bodies)"
    );
}

/// Blocks every post until released.
struct Stalled {
    inner: Arc<dyn Transport>,
    release: std::sync::Mutex<bool>,
    cv: std::sync::Condvar,
}

impl Transport for Stalled {
    fn post_logs3(&self, body: &[u8]) -> PostResult {
        let mut go = self.release.lock().unwrap_or_else(|p| p.into_inner());
        while !*go {
            go = self.cv.wait(go).unwrap_or_else(|p| p.into_inner());
        }
        drop(go);
        self.inner.post_logs3(body)
    }
}

#[test]
fn a_full_queue_drops_the_oldest_rows_and_counts_them() {
    full_queue_keeps_the_newest_ten(|config, _| config.queue_capacity = 10);
}

#[test]
fn a_queue_full_by_bytes_drops_the_oldest_rows_too() {
    full_queue_keeps_the_newest_ten(|config, pid| {
        // Room for ten rows like r10..r30 (same length), not eleven.
        config.queue_bytes = 10 * span_rows(pid, 10)[0].to_string().len() + 5;
    });
}

/// Logs r0 (taken by a stalled worker), then r1..r30 into a queue `limit` makes hold ten.
fn full_queue_keeps_the_newest_ten(limit: impl FnOnce(&mut LoggerConfig, &str)) {
    let server = start();
    let pid = project(&server, "full");
    let stalled = Arc::new(Stalled {
        inner: http(&server),
        release: std::sync::Mutex::new(false),
        cv: std::sync::Condvar::new(),
    });
    let mut config = LoggerConfig::new(stalled.clone());
    limit(&mut config, &pid);
    config.full_queue = FullQueue::DropOldest;
    let warnings = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let seen = Arc::clone(&warnings);
    config.on_warning = Some(Arc::new(move |m: &str| {
        seen.lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(m.to_owned())
    }));
    let logger = BackgroundLogger::start(config);
    logger.log(span_rows(&pid, 0)[0].clone());
    std::thread::sleep(Duration::from_millis(100)); // the worker takes it and stalls
    for i in 1..=30 {
        logger.log(span_rows(&pid, i)[0].clone());
    }
    assert_eq!(logger.dropped(), 20);
    *stalled.release.lock().unwrap_or_else(|p| p.into_inner()) = true;
    stalled.cv.notify_all();
    logger.flush();
    let ids: std::collections::BTreeSet<String> = rows(&server, &pid)
        .iter()
        .map(|r| r["id"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(ids.len(), 11, "the first row and the newest 10");
    assert!(ids.contains("r0") && ids.contains("r30") && !ids.contains("r1"));
    // The drops are reported, once (more within the warning period wait for it).
    let first = warnings.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let drops: Vec<&String> = first.iter().filter(|w| w.contains("dropped")).collect();
    assert_eq!(drops.len(), 1, "{first:?}");
    assert!(
        drops[0].contains("dropped 20 of the oldest queued rows (20 in all)"),
        "{}",
        drops[0]
    );
    // Rows dropped later are reported when the logger stops, even within the period.
    *stalled.release.lock().unwrap_or_else(|p| p.into_inner()) = false;
    logger.log(span_rows(&pid, 31)[0].clone());
    std::thread::sleep(Duration::from_millis(100));
    for i in 32..=50 {
        logger.log(span_rows(&pid, i)[0].clone());
    }
    *stalled.release.lock().unwrap_or_else(|p| p.into_inner()) = true;
    stalled.cv.notify_all();
    drop(logger);
    let warnings = warnings.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let last = warnings.last().map(String::as_str).unwrap_or_default();
    assert!(
        last.contains("dropped 9 of the oldest queued rows (29 in all)"),
        "{warnings:?}"
    );
}

/// A transport to an address nothing listens on (the server is down).
fn dead() -> Arc<dyn Transport> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    Arc::new(HttpTransport::new(
        &format!("http://127.0.0.1:{port}"),
        "key",
        Duration::from_secs(5),
    ))
}

fn spool_files(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("k-"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn undeliverable_batches_are_spooled_in_order_and_replayed_by_a_later_logger() {
    let server = start();
    let pid = project(&server, "spool");
    let spool = tempfile::tempdir().expect("dir");
    let warnings = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = Arc::clone(&warnings);
    let mut config = LoggerConfig::new(dead());
    config.backoff = Duration::from_millis(10);
    config.num_retries = 1;
    config.spool_dir = Some(spool.path().to_owned());
    config.spool_key = "k".into();
    config.on_warning = Some(Arc::new(move |m: &str| {
        seen.lock().expect("lock").push(m.to_owned())
    }));
    let logger = BackgroundLogger::start(config);
    for i in 0..3 {
        for row in span_rows(&pid, i) {
            logger.log(row);
        }
        let report = logger.flush();
        assert_eq!((report.sent_rows, report.failed_rows), (0, 0));
        // The start row and its merge go as one row, or as two when the spool's retry timer
        // woke the logger between the two `log` calls.
        assert!((1..=2).contains(&report.spooled_rows), "{report:?}");
    }
    drop(logger);
    assert!(spool_files(spool.path()).len() >= 3);
    let warned = warnings.lock().expect("lock").clone();
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert!(warned[0].contains("cannot reach the server"), "{warned:?}");

    // The server is reachable: a new logger sends the spool first, then its own rows.
    let mut config = LoggerConfig::new(http(&server));
    config.spool_dir = Some(spool.path().to_owned());
    config.spool_key = "k".into();
    let logger = BackgroundLogger::start(config);
    for row in span_rows(&pid, 3) {
        logger.log(row);
    }
    assert_eq!(logger.flush().sent_rows, 1);
    assert!(spool_files(spool.path()).is_empty());
    let mut got: Vec<Value> = rows(&server, &pid);
    got.sort_by_key(|r| r["id"].as_str().unwrap_or_default().to_owned());
    assert_eq!(got.len(), 4);
    for (i, row) in got.iter().enumerate() {
        assert_eq!(row["output"], json!(i));
        assert_eq!(row["metrics"]["end"], json!(2.0));
    }
}

#[test]
fn an_abandoned_logger_sends_nothing_and_drops_without_waiting() {
    let server = start();
    let pid = project(&server, "abandoned");
    let mut config = LoggerConfig::new(http(&server));
    config.sync_flush = true; // rows stay queued until a flush that never comes
    let logger = BackgroundLogger::start(config);
    for row in span_rows(&pid, 1) {
        logger.log(row);
    }
    logger.abandon();
    logger.log(span_rows(&pid, 2)[0].clone());
    assert_eq!(logger.flush(), Default::default());
    let started = std::time::Instant::now();
    drop(logger);
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(rows(&server, &pid).is_empty());
}

#[test]
fn large_bodies_go_gzip_compressed_and_arrive_whole() {
    let server = start();
    let pid = project(&server, "gzip");
    let big = "compressible text ".repeat(4_000);
    let body = json!({"rows": [{"id": "big", "project_id": pid, "log_id": "g", "input": big}], "api_version": 2})
        .to_string();
    assert!(body.len() > 64 * 1024);
    // The server is on this machine: compression has to be asked for.
    let transport = HttpTransport::new(&server.url, &server.key, Duration::from_secs(30))
        .with_compression(true);
    assert_eq!(transport.post_logs3(body.as_bytes()), Ok(200));
    let stored = rows(&server, &pid);
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["input"], json!(big));
}

/// Reads one HTTP request from `stream`: its head (lowercased) and its body.
fn read_request(stream: &mut std::net::TcpStream) -> (String, Vec<u8>) {
    use std::io::Read;
    let mut reader = BufReader::new(stream);
    let mut head = String::new();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).expect("request line");
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().expect("length");
        }
        head.push_str(&lower);
        if line == "\r\n" {
            break;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).expect("body");
    (head, body)
}

#[test]
fn a_server_refusing_gzip_gets_plain_bodies() {
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let seen = std::thread::spawn(move || {
        let mut heads = Vec::new();
        for (i, stream) in listener.incoming().take(3).enumerate() {
            let mut stream = stream.expect("connection");
            let (head, body) = read_request(&mut stream);
            heads.push((head, body.len()));
            // A server that does not decompress reads the gzip bytes as bad JSON.
            let status = if i == 0 { "400 Bad Request" } else { "200 OK" };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
        }
        heads
    });
    let transport = HttpTransport::new(&url, "k", Duration::from_secs(10)).with_compression(true);
    let body = "x".repeat(100_000);
    assert_eq!(transport.post_logs3(body.as_bytes()), Ok(200));
    assert_eq!(transport.post_logs3(body.as_bytes()), Ok(200));
    let heads = seen.join().expect("server thread");
    // Compressed first, refused; the retry and every later body go plain.
    assert!(heads[0].0.contains("content-encoding: gzip") && heads[0].1 < 10_000);
    assert!(!heads[1].0.contains("content-encoding") && heads[1].1 == 100_000);
    assert!(!heads[2].0.contains("content-encoding") && heads[2].1 == 100_000);
}

/// Passes bodies on to the server, recording when each starts and ends, and holding those
/// that contain `slow` for a while.
struct Recording {
    inner: Arc<dyn Transport>,
    slow: Vec<&'static str>,
    events: Mutex<Vec<(bool, String)>>,
}

impl Transport for Recording {
    fn post_logs3(&self, body: &[u8]) -> PostResult {
        let text = String::from_utf8_lossy(body).into_owned();
        let record = |done: bool| {
            self.events
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((done, text.clone()))
        };
        record(false);
        if self.slow.iter().any(|marker| text.contains(marker)) {
            std::thread::sleep(Duration::from_millis(300));
        }
        let result = self.inner.post_logs3(body);
        record(true);
        result
    }
}

#[test]
fn a_wave_goes_out_beside_the_one_in_flight_unless_they_share_a_span() {
    let server = start();
    let pid = project(&server, "waves");
    let recording = Arc::new(Recording {
        inner: http(&server),
        slow: vec!["\"r0\"", "\"r4\""],
        events: Mutex::new(Vec::new()),
    });
    let mut config = LoggerConfig::new(recording.clone());
    // Waves of 4 queued rows (2 requests of 2 rows), sent on flush.
    (config.batch_rows, config.concurrency, config.sync_flush) = (2, 1, true);
    let logger = BackgroundLogger::start(config);
    let [start0, end0] = span_rows(&pid, 0);
    // Wave 1: the starts of r0..r3. Wave 2: r0's end and the starts of r4..r6 (it must wait
    // for wave 1). Wave 3: the starts of r7..r10 (it may go out beside wave 2).
    let mut queued = vec![start0];
    queued.extend((1..4).map(|i| span_rows(&pid, i)[0].clone()));
    queued.push(end0);
    queued.extend((4..11).map(|i| span_rows(&pid, i)[0].clone()));
    for row in queued {
        logger.log(row);
    }
    logger.flush();
    let events = recording
        .events
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let at = |done: bool, marker: &str, pred: &dyn Fn(&str) -> bool| {
        events
            .iter()
            .position(|(d, body)| *d == done && body.contains(marker) && pred(body))
            .unwrap_or_else(|| panic!("no {marker} event ({done}) in {events:?}"))
    };
    let any = |_: &str| true;
    let r0_start_done = at(true, "\"r0\"", &|b| b.contains("input"));
    let r0_end_sent = at(false, "\"r0\"", &|b| b.contains("_is_merge"));
    assert!(
        r0_start_done < r0_end_sent,
        "r0's end went out before its start was in: {events:?}"
    );
    // Wave 3 (r7..r10) went out while wave 2 (slow) was still on the wire.
    assert!(
        at(false, "\"r8\"", &any) < at(true, "\"r4\"", &any),
        "{events:?}"
    );
    let stored = rows(&server, &pid);
    assert_eq!(stored.len(), 11);
    let r0 = stored.iter().find(|r| r["id"] == "r0").expect("r0");
    assert_eq!(
        (r0["input"]["i"].clone(), r0["metrics"]["end"].clone()),
        (json!(0), json!(2.0))
    );
}
