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
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    writeln!(file, "{}", key.plaintext)?;
    println!(
        "Created org {:?} and an admin API key (shown once, also saved to {}):",
        org.name,
        path.display()
    );
    println!("  {}", key.plaintext);
    Ok(())
}
