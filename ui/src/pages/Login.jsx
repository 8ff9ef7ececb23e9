import { useState } from "react";
import { api, setApiKey } from "../api.js";
import { navigate } from "../router.jsx";

export function Login({ next }) {
  const [key, setKey] = useState("");
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  async function submit(e) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setApiKey(key);
    try {
      await api("/api/apikey/login", { method: "POST" });
      navigate(next || "/app", { replace: true });
    } catch (err) {
      setApiKey(null);
      setError(err.status === 401 ? "That API key is not valid." : err.message);
    } finally {
      setBusy(false);
    }
  }
  return (
    <div className="login">
      <form onSubmit={submit} className="card">
        <h1>Spanloom</h1>
        <p className="muted">Sign in with an API key (the admin key is in <code>spanloom-data/admin-key</code>).</p>
        <input name="api-key" type="password" autoFocus placeholder="sl-…" value={key} onChange={(e) => setKey(e.target.value)} />
        <button type="submit" disabled={busy || !key.trim()}>Sign in</button>
        {error && <p className="error" role="alert">{error}</p>}
      </form>
    </div>
  );
}
