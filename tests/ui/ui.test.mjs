// The web UI in real Chromium: log in, find a trace with the filter bar, open it, select a
// nested LLM span and see its rendered messages, open an SDK permalink, promote a span to a
// dataset. Screenshots of the views go to test-artifacts/ui/.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { startServer } from "./server.mjs";

const ARTIFACTS = join(resolve(dirname(fileURLToPath(import.meta.url)), "../.."), "test-artifacts/ui");
mkdirSync(ARTIFACTS, { recursive: true });

let server, browser, page, projectId;
const hex = (n) => [...crypto.getRandomValues(new Uint8Array(n))].map((b) => b.toString(16).padStart(2, "0")).join("");
const now = Date.now() / 1000;
const TRACE = hex(16), ROOT = hex(8), LLM = hex(8), TOOL = hex(8);
const OTHER_TRACE = hex(16), OTHER_ROOT = hex(8);

before(async () => {
  server = await startServer();
  projectId = (await server.call("/v1/project", { name: "ui-demo" })).id;
  const base = { project_id: projectId, log_id: "g", root_span_id: TRACE };
  await server.call("/logs3", {
    api_version: 2,
    rows: [
      { ...base, id: "root-row", span_id: ROOT, span_parents: null, span_attributes: { name: "support-agent", type: "task" },
        input: { question: "What is the weather in Paris?" }, output: "Sunny, 21°C", metadata: { user_id: "u-42" },
        metrics: { start: now - 60, end: now - 57 } },
      { ...base, id: "llm-row", span_id: LLM, span_parents: [ROOT], span_attributes: { name: "chat gpt-4o", type: "llm" },
        input: [{ role: "system", content: "You are **terse**.\n\n- use `tools`\n<img src=x onerror=\"window.__xss = 1\">" },
                { role: "user", content: "What is the weather in Paris?" }],
        output: [{ index: 0, finish_reason: "tool_calls", message: { role: "assistant", content: null,
          tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: "{\"city\":\"Paris\"}" } }] } }],
        metadata: { model: "gpt-4o" }, metrics: { start: now - 59.5, end: now - 58.5, prompt_tokens: 20, completion_tokens: 7 } },
      { ...base, id: "tool-row", span_id: TOOL, span_parents: [LLM], span_attributes: { name: "get_weather", type: "tool" },
        input: { city: "Paris" }, output: { forecast: "sunny" }, metrics: { start: now - 58.4, end: now - 58.3 } },
      { project_id: projectId, log_id: "g", id: "other-root", root_span_id: OTHER_TRACE, span_id: OTHER_ROOT, span_parents: null,
        span_attributes: { name: "nightly-batch", type: "task" }, input: "batch", error: "Traceback (most recent call last):\nValueError: boom",
        metadata: { user_id: "u-7" }, metrics: { start: now - 30, end: now - 29 } },
    ],
  });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
           "--disable-component-update", "--disable-sync"],
  });
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
});

after(async () => {
  await browser?.close();
  server?.stop();
});

test("log in with an API key", async () => {
  await page.goto(`${server.url}/app`);
  await page.fill("input[name=api-key]", "sl-not-a-real-key");
  await page.click("button[type=submit]");
  await page.getByRole("alert").waitFor();
  assert.match(await page.getByRole("alert").innerText(), /not valid/);
  await page.fill("input[name=api-key]", server.key);
  await page.click("button[type=submit]");
  await page.getByRole("link", { name: "ui-demo" }).waitFor();
  await page.screenshot({ path: join(ARTIFACTS, "projects.png") });
});

test("the trace list filters with BTQL and plain words, and the URL keeps the query", async () => {
  await page.getByRole("link", { name: "ui-demo" }).click();
  await page.locator(`tr[data-trace="${TRACE}"]`).waitFor();
  assert.equal(await page.locator("tbody tr").count(), 2);
  assert.equal(await page.locator(`tr[data-trace="${OTHER_TRACE}"] .badge.error`).count(), 1);
  await page.screenshot({ path: join(ARTIFACTS, "traces.png") });

  await page.fill("input[name=filter]", "metadata.model = 'gpt-4o'");
  await page.press("input[name=filter]", "Enter");
  await page.waitForFunction(() => document.querySelectorAll("tbody tr").length === 1);
  assert.equal(await page.locator(`tr[data-trace="${TRACE}"]`).count(), 1);
  assert.match(page.url(), /q=metadata\.model/);

  // Columns for chosen metadata fields.
  await page.goto(`${server.url}/app/p/${projectId}`);
  await page.fill("input[name=add-column]", "metadata.user_id");
  await page.getByRole("button", { name: "Add column" }).click();
  await page.locator(`tr[data-trace="${TRACE}"] td[data-col="metadata.user_id"]`, { hasText: "u-42" }).waitFor();
  assert.equal(await page.locator(`tr[data-trace="${OTHER_TRACE}"] td[data-col="metadata.user_id"]`).innerText(), "u-7");
  assert.match(page.url(), /cols=metadata\.user_id/);

  // A shared URL opens the same filtered view.
  await page.goto(`${server.url}/app/p/${projectId}?q=boom`);
  await page.locator(`tr[data-trace="${OTHER_TRACE}"]`).waitFor();
  assert.equal(await page.locator("tbody tr").count(), 1);
});

test("a trace shows its tree, and a nested LLM span renders its messages", async () => {
  await page.goto(`${server.url}/app/p/${projectId}`);
  await page.locator(`tr[data-trace="${TRACE}"] a`).click();
  await page.locator(`[data-span-id="${TOOL}"]`).waitFor();
  assert.equal(await page.locator(".tree-row").count(), 3);
  await page.locator(`[data-span-id="${LLM}"]`).click();
  await page.locator(`.detail[data-span="${LLM}"]`).waitFor();
  const bubbles = page.locator(".detail .bubble");
  assert.deepEqual(await bubbles.evaluateAll((els) => els.map((e) => e.dataset.role)), ["system", "user", "assistant"]);
  assert.match(await page.locator(".detail .bubble[data-role=user]").innerText(), /weather in Paris/);
  assert.match(await page.locator(".detail .tool-card").first().innerText(), /get_weather/);
  // Markdown renders, safely: formatting yes, script no.
  assert.equal(await page.locator(".detail .bubble[data-role=system] strong").innerText(), "terse");
  assert.equal(await page.locator(".detail .bubble[data-role=system] li code").innerText(), "tools");
  assert.equal(await page.locator(".detail .bubble[data-role=system] img[onerror]").count(), 0);
  assert.equal(await page.evaluate(() => window.__xss), undefined);
  assert.match(page.url(), new RegExp(`span=${LLM}`));
  await page.screenshot({ path: join(ARTIFACTS, "trace-llm-span.png") });

  // Keyboard: ↓ selects the next span (the tool call).
  await page.locator(".tree-pane").focus();
  await page.keyboard.press("ArrowDown");
  await page.locator(`.detail[data-span="${TOOL}"]`).waitFor();
  // Search inside the trace.
  await page.fill("input[name=trace-search]", "get_weather");
  await page.waitForFunction(() => document.querySelectorAll(".tree-row").length === 2);
});

test("an error shows with its traceback", async () => {
  await page.goto(`${server.url}/app/p/${projectId}/t/${OTHER_TRACE}`);
  await page.locator(".traceback").waitFor();
  assert.match(await page.locator(".traceback").innerText(), /ValueError: boom/);
});

test("an SDK permalink opens the trace at that span", async () => {
  const org = (await server.call("/api/apikey/login", {})).org_info[0].name;
  await page.goto(`${server.url}/app/${org}/object?object_type=project_logs&object_id=${projectId}&id=tool-row`);
  await page.locator(`.detail[data-span="${TOOL}"]`).waitFor();
  assert.match(page.url(), new RegExp(`/app/p/${projectId}/t/${TRACE}\\?span=${TOOL}`));
});

test("a span is promoted into a dataset with its origin", async () => {
  await page.goto(`${server.url}/app/p/${projectId}/t/${TRACE}?span=${LLM}`);
  await page.getByRole("button", { name: "Add to dataset" }).click();
  await page.fill("input[name=dataset]", "golden");
  await page.getByRole("button", { name: "Add", exact: true }).click();
  await page.getByRole("status").filter({ hasText: "Added" }).waitFor();
  const ds = await server.call("/v1/dataset", { project_id: projectId, name: "golden" });
  const page1 = await server.call(`/v1/dataset/${ds.id}/fetch`, { limit: 10 });
  assert.equal(page1.events.length, 1);
  const rec = page1.events[0];
  assert.equal(rec.origin.id, "llm-row");
  assert.equal(rec.origin.object_id, projectId);
  assert.equal(rec.input[1].content, "What is the weather in Paris?");
  assert.equal(rec.expected[0].message.tool_calls[0].function.name, "get_weather");
});

async function experimentWithScores(name, outputs) {
  const exp = await server.call("/v1/experiment", { project_id: projectId, name, ensure_new: true });
  const rows = [];
  for (const [i, [input, output, score]] of outputs.entries()) {
    const trace = hex(16), root = hex(8), scorer = hex(8);
    rows.push(
      { experiment_id: exp.id, id: `${name}-${i}`, root_span_id: trace, span_id: root, span_parents: null,
        span_attributes: { name: "eval", type: "eval" }, input, expected: input.toUpperCase(), output,
        metrics: { start: now - 10 + i, end: now - 9 + i } },
      { experiment_id: exp.id, id: `${name}-${i}-score`, root_span_id: trace, span_id: scorer, span_parents: [root],
        span_attributes: { name: "Exact", type: "score", purpose: "scorer" }, scores: { Exact: score }, metrics: { start: now - 9.5 + i } },
    );
  }
  await server.call("/logs3", { api_version: 2, rows });
  return exp;
}

test("two experiments compare row by row", async () => {
  const base = await experimentWithScores("baseline", [["apple", "APPLE", 1], ["kiwi", "kiw", 0], ["plum", "plu", 0]]);
  const next = await experimentWithScores("candidate", [["apple", "apple", 0], ["kiwi", "KIWI", 1], ["plum", "PLUM", 1]]);
  await page.goto(`${server.url}/app/p/${projectId}/experiments`);
  await page.locator("tr[data-experiment=candidate]").waitFor();
  await page.getByLabel("select baseline").check();
  await page.getByLabel("select candidate").check();
  await page.getByRole("button", { name: "Compare selected" }).click();
  await page.locator(".score-card[data-score=Exact]").waitFor();
  assert.match(page.url(), new RegExp(`a=${next.id}&b=${base.id}`));
  assert.match(await page.locator("[data-count=improvements]").innerText(), /^2 improvements/);
  assert.match(await page.locator("[data-count=regressions]").innerText(), /^1 regressions/);
  assert.equal(await page.locator("table.compare tbody tr").count(), 3);
  assert.equal(await page.locator("table.compare .delta.up").count(), 2);
  assert.equal(await page.locator("table.compare .delta.down").count(), 1);
  assert.ok((await page.locator("table.compare .diff-add").count()) >= 2);
  await page.screenshot({ path: join(ARTIFACTS, "compare.png"), fullPage: true });
});

test("monitoring charts come from the rollups", async () => {
  await page.goto(`${server.url}/app/p/${projectId}/monitor?window=24h`);
  await page.locator(".chart[data-chart=Requests] canvas").waitFor();
  assert.equal(await page.locator(".chart canvas").count(), 6);
  assert.match(await page.locator(".chart[data-chart=Requests]").innerText(), /gpt-4o/);
  await page.screenshot({ path: join(ARTIFACTS, "monitoring.png"), fullPage: true });
});

test("a dataset's rows are edited and read at an earlier version", async () => {
  await page.goto(`${server.url}/app/p/${projectId}/datasets`);
  await page.locator("tr[data-dataset=golden] a").click();
  const row = page.locator("table.dataset-rows tbody tr").first();
  await row.waitFor();
  await row.locator(".editable").first().dblclick();
  await page.fill("textarea[name=edit-value]", JSON.stringify("It is sunny."));
  await page.getByRole("button", { name: "Save" }).click();
  await page.locator("table.dataset-rows .editable", { hasText: "It is sunny." }).waitFor();
  const options = await page.locator("select[name=version] option").evaluateAll((els) => els.map((e) => e.value).filter(Boolean));
  assert.equal(options.length, 2);
  await page.selectOption("select[name=version]", options[1]);
  await page.locator("table.dataset-rows tbody tr", { hasText: "get_weather" }).waitFor();
  assert.equal(await page.locator("table.dataset-rows", { hasText: "It is sunny." }).count(), 0);
  await page.screenshot({ path: join(ARTIFACTS, "dataset.png"), fullPage: true });
});

test("logging out clears the key", async () => {
  await page.goto(`${server.url}/app`);
  await page.getByRole("button", { name: "Log out" }).click();
  await page.locator("input[name=api-key]").waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem("spanloom.apiKey")), null);
});
