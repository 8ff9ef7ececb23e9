// bench/ui: time to first render of the web UI in Chromium, against a real `spanloom serve`
// (release build) loaded through its API: the trace list, a 1,000-span and a 10,000-span trace,
// and a span with a 20 MB input. Not a test: run `scripts/bench-ui.sh`.
//
// Each view is opened `--runs` times in a fresh page; a view counts as rendered when its
// content is in the DOM (list rows; tree rows and the detail pane; the 20 MB input shown).
// For the 20 MB span it also reports the longest main-thread task (PerformanceObserver
// `longtask`), since the goal is that the tab never freezes.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const RUNS = Number(arg("runs", "7"));
const BIN = arg("server", process.env.SPANLOOM_BENCH_SERVER || join(REPO, "target/release/spanloom"));
const GOALS = { list: 300, trace1k: null, trace10k: 1000, span20mb: null };

const hex = (n) => [...crypto.getRandomValues(new Uint8Array(n))].map((b) => b.toString(16).padStart(2, "0")).join("");
const words = ["agent", "weather", "invoice", "refund", "order", "shipping", "account", "summary", "policy", "ticket"];
const text = (n) => Array.from({ length: n }, (_, i) => words[(i * 7 + n) % words.length]).join(" ");

async function start() {
  const dir = mkdtempSync(join(tmpdir(), "spanloom-bench-ui-"));
  const proc = spawn(BIN, ["serve", "--data-dir", join(dir, "data"), "--bind", "127.0.0.1:0", "--otlp-grpc-bind", "off"], {
    stdio: ["ignore", "pipe", "ignore"], env: { ...process.env, SPANLOOM_LOG: "warn" },
  });
  const url = await new Promise((ok, fail) => {
    let buf = "";
    proc.stdout.on("data", (c) => { buf += c; const m = buf.match(/listening on (http:\/\/\S+)/); if (m) ok(m[1]); });
    proc.on("exit", (code) => fail(new Error(`server exited (${code})`)));
  });
  const key = readFileSync(join(dir, "data/admin-key"), "utf8").trim();
  const call = async (path, body) => {
    const res = await fetch(url + path, { method: body ? "POST" : "GET", headers: { Authorization: `Bearer ${key}` }, body: body ? JSON.stringify(body) : undefined });
    if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return res.json();
  };
  return { url, key, call, stop: () => { proc.kill("SIGTERM"); rmSync(dir, { recursive: true, force: true }); } };
}

function spanRows(pid, trace, count, now) {
  const rows = [];
  const root = hex(8);
  rows.push({ project_id: pid, log_id: "g", id: `${trace}-0`, root_span_id: trace, span_id: root, span_parents: null,
              span_attributes: { name: "agent", type: "task" }, input: { question: text(40) }, output: text(60),
              metrics: { start: now, end: now + count * 0.01 } });
  const parents = [root];
  for (let i = 1; i < count; i++) {
    const id = hex(8);
    const parent = parents[Math.floor(i / 10)] || root;
    parents.push(id);
    const llm = i % 3 === 0;
    rows.push({ project_id: pid, log_id: "g", id: `${trace}-${i}`, root_span_id: trace, span_id: id, span_parents: [parent],
                span_attributes: { name: llm ? "chat gpt-4o-mini" : `step ${i}`, type: llm ? "llm" : "function" },
                input: llm ? [{ role: "user", content: text(200) }] : { i }, output: llm ? [{ role: "assistant", content: text(80) }] : i,
                metadata: { model: llm ? "gpt-4o-mini" : undefined }, metrics: { start: now + i * 0.01, end: now + i * 0.01 + 0.005 } });
  }
  return rows;
}

async function load(server) {
  const pid = (await server.call("/v1/project", { name: "bench-ui" })).id;
  const now = Date.now() / 1000 - 3600;
  const post = async (rows) => { for (let i = 0; i < rows.length; i += 500) await server.call("/logs3", { rows: rows.slice(i, i + 500), api_version: 2 }); };
  // 500 small traces for the list.
  const list = [];
  for (let t = 0; t < 500; t++) list.push(...spanRows(pid, hex(16), 5, now + t));
  await post(list);
  const t1k = hex(16), t10k = hex(16), tBig = hex(16);
  await post(spanRows(pid, t1k, 1000, now - 100));
  await post(spanRows(pid, t10k, 10000, now - 200));
  const bigSpan = hex(8);
  const big = "lorem ipsum dolor sit amet ".repeat(Math.ceil(20e6 / 27)).slice(0, 20e6);
  await server.call("/logs3", { api_version: 2, rows: [{ project_id: pid, log_id: "g", id: "big", root_span_id: tBig, span_id: bigSpan, span_parents: null,
    span_attributes: { name: "huge input", type: "llm" }, input: [{ role: "user", content: big }], output: "ok", metrics: { start: now - 300, end: now - 299 } }] });
  return { pid, t1k, t10k, tBig, bigSpan };
}

function stats(ms) {
  const s = [...ms].sort((a, b) => a - b);
  const at = (p) => s[Math.min(s.length - 1, Math.round((s.length - 1) * p))];
  return { p50: at(0.5), p95: at(0.95), max: s[s.length - 1] };
}

async function measure(browser, server, path, ready, { longTasks = false } = {}) {
  const times = [];
  let worstTask = 0;
  for (let i = 0; i < RUNS; i++) {
    const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    await ctx.addInitScript((key) => {
      sessionStorage.setItem("spanloom.apiKey", key);
      window.__longest = 0;
      try {
        new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__longest = Math.max(window.__longest, e.duration); })
          .observe({ type: "longtask", buffered: true });
      } catch { /* no longtask support */ }
    }, server.key);
    const page = await ctx.newPage();
    const t0 = Date.now();
    await page.goto(server.url + path, { waitUntil: "commit" });
    await page.waitForFunction(ready, null, { timeout: 60000, polling: "raf" });
    times.push(Date.now() - t0);
    if (longTasks) {
      await page.waitForTimeout(500);
      worstTask = Math.max(worstTask, await page.evaluate(() => window.__longest));
    }
    await ctx.close();
  }
  return { ...stats(times), longest_task_ms: longTasks ? worstTask : undefined };
}

const server = await start();
try {
  const data = await load(server);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium", headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const base = `/app/p/${data.pid}`;
  const results = {
    list: await measure(browser, server, base, () => document.querySelectorAll("tbody tr[data-trace]").length >= 50),
    trace1k: await measure(browser, server, `${base}/t/${data.t1k}`, () => document.querySelectorAll(".tree-row").length > 10 && document.querySelector(".detail[data-span]")),
    trace10k: await measure(browser, server, `${base}/t/${data.t10k}`, () => document.querySelectorAll(".tree-row").length > 10 && document.querySelector(".detail[data-span]")),
    span20mb: await measure(browser, server, `${base}/t/${data.tBig}?span=${data.bigSpan}`,
      () => { const b = document.querySelector(".detail .bubble[data-role=user]"); return b && b.innerText.includes("lorem ipsum"); }, { longTasks: true }),
  };
  await browser.close();
  const version = await server.call("/version");
  console.log(`bench/ui: spanloom ${version.version}, Chromium (headless), ${RUNS} runs per view; times from navigation to the view rendered`);
  console.log("\n| view | p50 ms | p95 ms | max ms | goal | longest main-thread task |\n|---|---|---|---|---|---|");
  const labels = { list: "trace list (newest 50 of 500 traces)", trace1k: "1,000-span trace", trace10k: "10,000-span trace", span20mb: "span with a 20 MB input" };
  for (const [k, r] of Object.entries(results)) {
    const goal = k === "span20mb" ? "no task > 200 ms" : GOALS[k] ? `< ${GOALS[k]} ms (p95 ÷ goal = ${(r.p95 / GOALS[k]).toFixed(2)})` : "—";
    console.log(`| ${labels[k]} | ${r.p50} | ${r.p95} | ${r.max} | ${goal} | ${r.longest_task_ms !== undefined ? r.longest_task_ms.toFixed(0) + " ms" : ""} |`);
  }
  console.log("\n" + JSON.stringify({ benchmark: "ui", runs: RUNS, results }));
} finally {
  server.stop();
}
