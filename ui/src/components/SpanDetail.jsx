// The detail pane of one span: error with traceback, input, output, expected, metadata,
// metrics and scores; chat messages render as bubbles, everything else in the JSON viewer.
import { useState } from "react";
import { api } from "../api.js";
import { formatCost, formatDuration } from "../format.js";
import { JsonView } from "./JsonView.jsx";
import { AttachmentView, Messages, isAttachment, isMessages } from "./Messages.jsx";

/** Chat messages in any of the shapes SDKs log: messages, OpenAI `choices`, `{messages}`. */
export function asMessages(value) {
  if (isMessages(value)) return value;
  if (Array.isArray(value) && value.length && value.every((c) => c && c.message && typeof c.message.role === "string")) {
    return value.map((c) => ({ ...c.message, finish_reason: c.finish_reason }));
  }
  if (value && typeof value === "object" && isMessages(value.messages)) return value.messages;
  return null;
}

function Field({ title, value }) {
  if (value === undefined || value === null || (typeof value === "object" && !Array.isArray(value) && Object.keys(value).length === 0)) return null;
  const messages = asMessages(value);
  return (
    <section className="field" data-field={title.toLowerCase()}>
      <h4>{title}</h4>
      {messages ? <Messages messages={messages} /> : isAttachment(value) ? <AttachmentView reference={value} /> : <JsonView value={value} />}
    </section>
  );
}

function AddToDataset({ span, objectId }) {
  const [open, setOpen] = useState(false);
  const [name, setName] = useState("golden");
  const [status, setStatus] = useState(null);
  async function add(e) {
    e.preventDefault();
    setStatus("Adding…");
    try {
      const ds = await api("/v1/dataset", { method: "POST", body: { project_id: objectId, name } });
      const row = {
        dataset_id: ds.id,
        input: span.input,
        expected: span.output,
        metadata: span.metadata || {},
        origin: { object_type: "project_logs", object_id: objectId, id: span.id, _xact_id: span._xact_id, created: span.created },
      };
      await api("/logs3", { method: "POST", body: { rows: [row], api_version: 2 } });
      setStatus(`Added to dataset “${ds.name}”.`);
    } catch (err) {
      setStatus(`Failed: ${err.message}`);
    }
  }
  if (!open) return <button onClick={() => setOpen(true)}>Add to dataset</button>;
  return (
    <form className="inline-form" onSubmit={add}>
      <input name="dataset" value={name} onChange={(e) => setName(e.target.value)} placeholder="dataset name" />
      <button type="submit">Add</button>
      {status && <span className="muted" role="status">{status}</span>}
    </form>
  );
}

export function SpanDetail({ span, objectType, objectId }) {
  if (!span) return <div className="detail muted">Select a span.</div>;
  const attrs = span.span_attributes || {};
  const m = span.metrics || {};
  const duration = m.end != null && m.start != null ? m.end - m.start : null;
  return (
    <div className="detail" data-span={span.span_id}>
      <div className="detail-head">
        <h3>{attrs.name || "(unnamed)"} {attrs.type && <span className={`badge type-${attrs.type}`}>{attrs.type}</span>}</h3>
        <div className="muted small">
          {formatDuration(duration)}
          {m.tokens ? ` · ${m.tokens} tokens` : ""}
          {m.estimated_cost ? ` · ${formatCost(m.estimated_cost)}` : ""}
          {span.metadata && span.metadata.model ? ` · ${span.metadata.model}` : ""}
        </div>
        {objectType === "project_logs" && <AddToDataset span={span} objectId={objectId} />}
      </div>
      {span.error && (
        <section className="field error-field" data-field="error">
          <h4>Error</h4>
          <pre className="traceback">{typeof span.error === "string" ? span.error : JSON.stringify(span.error, null, 2)}</pre>
        </section>
      )}
      <Field title="Input" value={span.input} />
      <Field title="Output" value={span.output} />
      <Field title="Expected" value={span.expected} />
      <Field title="Scores" value={span.scores} />
      <Field title="Metrics" value={span.metrics} />
      <Field title="Metadata" value={span.metadata} />
      <Field title="Tags" value={span.tags} />
    </div>
  );
}
