//! First start of an empty data directory: create the org and an admin key.

use anyhow::Context;
use spanloom_store::Store;
use spanloom_store::auth::generate_api_key;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// File (mode 0600) holding the admin key created on first start.
pub const ADMIN_KEY_FILE: &str = "admin-key";

/// Creates the org and the admin key if the store has no org yet. Prints the key once.
pub async fn ensure_admin(
    store: &dyn Store,
    data_dir: &Path,
    org_name: &str,
) -> anyhow::Result<()> {
    if !store.list_orgs().await?.is_empty() {
        return Ok(());
    }
    let org = store.get_or_create_org(org_name).await?;
    let key = generate_api_key();
    store
        .insert_api_key(&org.id, "admin", &key.hash, &key.prefix)
        .await?;
    let path = data_dir.join(ADMIN_KEY_FILE);
    write_secret(&path, &key.plaintext)?;
    println!(
        "Created org {:?} and an admin API key (shown once, also saved to {}):",
        org.name,
        path.display()
    );
    println!("  {}", key.plaintext);
    Ok(())
}

/// File (mode 0600) holding the secret that signs blob upload/download URLs, so signed URLs
/// stay valid across a restart.
pub const SIGNING_KEY_FILE: &str = "signing-key";

/// The URL signer, from `<data dir>/signing-key` (created with a random secret if missing).
pub fn url_signer(data_dir: &Path) -> anyhow::Result<spanloom_blobstore::Signer> {
    let path = data_dir.join(SIGNING_KEY_FILE);
    let existing = std::fs::read_to_string(&path).ok().and_then(|t| {
        let bytes = const_hex::decode(t.trim()).ok()?;
        <[u8; 32]>::try_from(bytes.as_slice()).ok()
    });
    if let Some(secret) = existing {
        return Ok(spanloom_blobstore::Signer::new(secret));
    }
    let secret: [u8; 32] = rand::random();
    write_secret(&path, &const_hex::encode(secret))?;
    Ok(spanloom_blobstore::Signer::new(secret))
}

/// Writes a one-line secret readable by the owner only (mode 0600).
fn write_secret(path: &Path, line: &str) -> anyhow::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    writeln!(file, "{line}")?;
    Ok(())
}
