// A JSON viewer that stays fast on multi-megabyte values: objects render lazily (collapsed
// below the first levels, long lists paged), long strings are cut with a "show all" button,
// and the raw view caps the text it puts in the DOM.
import { useState } from "react";

const STRING_CAP = 4000;
const CHILD_CAP = 200;
const RAW_CAP = 200_000;

function LongString({ value }) {
  const [all, setAll] = useState(false);
  if (value.length <= STRING_CAP || all) return <span className="json-string">{JSON.stringify(value)}</span>;
  return (
    <span className="json-string">
      {JSON.stringify(value.slice(0, STRING_CAP))}…{" "}
      <button className="link" onClick={() => setAll(true)}>show all {value.length.toLocaleString()} characters</button>
    </span>
  );
}

function Node({ name, value, depth }) {
  const isObject = value !== null && typeof value === "object";
  const [open, setOpen] = useState(depth < 2);
  const [limit, setLimit] = useState(CHILD_CAP);
  const label = name !== undefined ? <span className="json-key">{JSON.stringify(name)}: </span> : null;
  if (!isObject) {
    return (
      <div className="json-line">
        {label}
        {typeof value === "string" ? <LongString value={value} /> : <span className={`json-${value === null ? "null" : typeof value}`}>{String(value)}</span>}
      </div>
    );
  }
  const entries = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
  const [l, r] = Array.isArray(value) ? ["[", "]"] : ["{", "}"];
  return (
    <div className="json-node">
      <span className="json-toggle" onClick={() => setOpen(!open)}>{open ? "▾" : "▸"}</span>
      {label}
      {l}
      {!open && <span className="muted"> {entries.length} {Array.isArray(value) ? "items" : "keys"} </span>}
      {!open && r}
      {open && (
        <div className="json-children">
          {entries.slice(0, limit).map(([k, v]) => <Node key={k} name={Array.isArray(value) ? undefined : k} value={v} depth={depth + 1} />)}
          {entries.length > limit && <button className="link" onClick={() => setLimit(limit + CHILD_CAP)}>show {Math.min(CHILD_CAP, entries.length - limit)} more of {entries.length - limit}</button>}
        </div>
      )}
      {open && r}
    </div>
  );
}

export function JsonView({ value }) {
  const [raw, setRaw] = useState(false);
  const [allRaw, setAllRaw] = useState(false);
  let text = null;
  if (raw) {
    text = typeof value === "string" ? value : JSON.stringify(value, null, 2);
  }
  return (
    <div className="json">
      <div className="json-tools">
        <button className={raw ? "" : "active"} onClick={() => setRaw(false)}>Pretty</button>
        <button className={raw ? "active" : ""} onClick={() => setRaw(true)}>Raw</button>
      </div>
      {raw ? (
        <pre className="raw">
          {allRaw || text.length <= RAW_CAP ? text : text.slice(0, RAW_CAP)}
          {!allRaw && text.length > RAW_CAP && <button className="link" onClick={() => setAllRaw(true)}>… show all {text.length.toLocaleString()} characters</button>}
        </pre>
      ) : (
        <Node value={value} depth={0} />
      )}
    </div>
  );
}
