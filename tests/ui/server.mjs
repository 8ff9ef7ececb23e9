// Starts a real `spanloom serve` for the browser tests and talks to its API.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

export async function startServer() {
  const bin = process.env.SPANLOOM_BIN || join(REPO, "target/debug/spanloom");
  const dataDir = join(mkdtempSync(join(tmpdir(), "spanloom-ui-")), "data");
  const proc = spawn(bin, ["serve", "--data-dir", dataDir, "--bind", "127.0.0.1:0", "--otlp-grpc-bind", "off"], {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, SPANLOOM_LOG: "warn" },
  });
  const url = await new Promise((resolveUrl, reject) => {
    let buf = "";
    proc.stdout.on("data", (chunk) => {
      buf += chunk;
      const m = buf.match(/listening on (http:\/\/\S+)/);
      if (m) resolveUrl(m[1]);
    });
    proc.on("exit", (code) => reject(new Error(`server exited early (${code})`)));
  });
  const key = readFileSync(join(dataDir, "admin-key"), "utf8").trim();
  const call = async (path, body, method) => {
    const res = await fetch(url + path, {
      method: method || (body === undefined ? "GET" : "POST"),
      headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${path}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
  return { url, key, call, dataDir, stop: () => proc.kill("SIGTERM") };
}
