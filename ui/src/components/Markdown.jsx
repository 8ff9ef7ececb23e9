// Markdown in chat messages, rendered safely: marked turns it into HTML, DOMPurify removes
// anything executable (scripts, event handlers, javascript: URLs) before it reaches the DOM.
import { useMemo, useState } from "react";
import { marked } from "marked";
import DOMPurify from "dompurify";

const MAX_MARKDOWN = 200_000;
const PLAIN_CAP = 20_000;

function LongText({ text }) {
  const [all, setAll] = useState(false);
  return (
    <div className="text">
      {all ? text : text.slice(0, PLAIN_CAP)}
      {!all && <>… <button className="link" onClick={() => setAll(true)}>show all {text.length.toLocaleString()} characters</button></>}
    </div>
  );
}

export function Markdown({ text }) {
  const html = useMemo(() => {
    if (text.length > MAX_MARKDOWN) return null;
    return DOMPurify.sanitize(marked.parse(text, { gfm: true, breaks: true }), { USE_PROFILES: { html: true } });
  }, [text]);
  // Very long texts stay plain: parsing them would freeze the tab.
  if (html === null) return <LongText text={text} />;
  return <div className="text markdown" dangerouslySetInnerHTML={{ __html: html }} />;
}
