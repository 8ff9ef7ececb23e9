// Parses JSON off the main thread, so opening a span with a multi-megabyte payload never
// freezes the page.
self.onmessage = (e) => {
  try {
    self.postMessage({ ok: true, value: JSON.parse(e.data) });
  } catch (err) {
    self.postMessage({ ok: false, error: String(err) });
  }
};
