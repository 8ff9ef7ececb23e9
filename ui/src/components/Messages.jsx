// Chat messages as role-labelled bubbles; tool calls and tool results as cards; images inline
// (URLs, data URLs, `image_url` parts, attachments), never as base64 text.
import { useEffect, useState } from "react";
import { api } from "../api.js";
import { JsonView } from "./JsonView.jsx";
import { Markdown } from "./Markdown.jsx";

/** True when a value looks like a list of chat messages. */
export function isMessages(value) {
  return Array.isArray(value) && value.length > 0 && value.every((m) => m && typeof m === "object" && typeof m.role === "string");
}

function safeImageUrl(url) {
  return typeof url === "string" && (/^https?:\/\//.test(url) || /^data:image\/[a-z0-9.+-]+;base64,/i.test(url)) ? url : null;
}

export function AttachmentView({ reference }) {
  const [url, setUrl] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    const params = new URLSearchParams({ filename: reference.filename || "", content_type: reference.content_type || "" });
    if (reference.type === "braintrust_attachment") params.set("key", reference.key);
    else params.set("url", reference.url);
    api(`/attachment?${params}`).then((r) => setUrl(r.downloadUrl), (e) => setError(e.message));
  }, [reference.key, reference.url]);
  const isImage = (reference.content_type || "").startsWith("image/");
  return (
    <div className="attachment">
      <span className="badge">attachment</span> {reference.filename} <span className="muted">{reference.content_type}</span>
      {error && <span className="error"> {error}</span>}
      {url && isImage && <div><img src={url} alt={reference.filename} className="inline-image" /></div>}
      {url && <div><a href={url} download={reference.filename}>Download</a></div>}
    </div>
  );
}

export function isAttachment(v) {
  return v && typeof v === "object" && (v.type === "braintrust_attachment" || v.type === "external_attachment");
}

function Part({ part }) {
  if (typeof part === "string") return <Markdown text={part} />;
  if (!part || typeof part !== "object") return <div className="text">{String(part)}</div>;
  if (isAttachment(part)) return <AttachmentView reference={part} />;
  if (part.type === "text" || part.type === "output_text" || part.type === "input_text") return <Markdown text={String(part.text ?? "")} />;
  if (part.type === "image_url" || part.type === "input_image") {
    const url = safeImageUrl(part.image_url && (part.image_url.url || part.image_url)) || safeImageUrl(part.url);
    if (isAttachment(part.image_url && part.image_url.url)) return <AttachmentView reference={part.image_url.url} />;
    return url ? <img src={url} alt="image" className="inline-image" /> : <JsonView value={part} />;
  }
  if (part.type === "reasoning") return <div className="text reasoning">{part.text}</div>;
  return <JsonView value={part} />;
}

function Content({ content }) {
  if (content == null) return null;
  if (typeof content === "string") return <Markdown text={content} />;
  if (Array.isArray(content)) return content.map((p, i) => <Part key={i} part={p} />);
  return <JsonView value={content} />;
}

function ToolCall({ call }) {
  const fn = call.function || call;
  let args = fn.arguments;
  try {
    args = typeof args === "string" ? JSON.parse(args) : args;
  } catch {
    // keep the raw text
  }
  return (
    <div className="tool-card">
      <div className="tool-head"><span className="badge tool">tool call</span> <b>{fn.name}</b> <span className="muted">{call.id}</span></div>
      {args !== undefined && args !== "" && <JsonView value={args} />}
    </div>
  );
}

export function Messages({ messages }) {
  return (
    <div className="messages">
      {messages.map((m, i) => (
        <div key={i} className={`bubble role-${m.role}`} data-role={m.role}>
          <div className="role">{m.role}{m.name ? ` · ${m.name}` : ""}{m.tool_call_id ? ` · result of ${m.tool_call_id}` : ""}</div>
          {m.role === "tool" ? <div className="tool-card"><Content content={m.content} /></div> : <Content content={m.content} />}
          {(m.tool_calls || []).map((c, j) => <ToolCall key={j} call={c} />)}
          {m.finish_reason && <div className="muted small">finish: {m.finish_reason}</div>}
        </div>
      ))}
    </div>
  );
}
