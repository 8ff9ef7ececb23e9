//! `spanloom keys create|list|revoke`, run against the data directory (also while serving).

use crate::cli::{KeysAction, KeysArgs};
use crate::serve::open_store;
use spanloom_store::Store;
use spanloom_store::auth::generate_api_key;

/// Runs a keys subcommand.
pub async fn run(args: KeysArgs) -> anyhow::Result<()> {
    let store = open_store(
        &args.data.data_dir,
        1,
        16,
        spanloom_store_sqlite::Synchronous::Full,
    )?;
    let result = act(&store, args.action).await;
    store.shutdown().await;
    result
}

async fn act(store: &dyn Store, action: KeysAction) -> anyhow::Result<()> {
    match action {
        KeysAction::Create { org, name, project } => {
            let org = store.get_or_create_org(&org).await?;
            let key = generate_api_key();
            let info = store
                .insert_api_key(&org.id, &name, &key.hash, &key.prefix)
                .await?;
            if let Some(project) = &project {
                store
                    .set_key_default_project(&info.id, Some(project))
                    .await?;
            }
            eprintln!(
                "created key {} ({}) for org {:?}; it is shown only now:",
                info.id, info.prefix, org.name
            );
            println!("{}", key.plaintext);
        }
        KeysAction::List { org } => {
            let orgs = store.list_orgs().await?;
            let org_id = match &org {
                Some(name) => Some(
                    orgs.iter()
                        .find(|o| &o.name == name)
                        .map(|o| o.id.clone())
                        .ok_or_else(|| anyhow::anyhow!("no org named {name:?}"))?,
                ),
                None => None,
            };
            println!(
                "{:<36}  {:<12}  {:<16}  {:<11}  {:<32}  {:<20}  status",
                "id", "org", "name", "prefix", "created", "default project"
            );
            for key in store.list_api_keys(org_id.as_deref()).await? {
                let org_name = orgs
                    .iter()
                    .find(|o| o.id == key.org_id)
                    .map_or("?", |o| o.name.as_str());
                let status = key
                    .revoked_at
                    .as_deref()
                    .map_or("active".to_owned(), |t| format!("revoked {t}"));
                println!(
                    "{:<36}  {:<12}  {:<16}  {:<11}  {:<32}  {:<20}  {status}",
                    key.id,
                    org_name,
                    key.name,
                    key.prefix,
                    key.created,
                    key.default_project.as_deref().unwrap_or("-")
                );
            }
        }
        KeysAction::SetProject { key, project } => {
            if store
                .set_key_default_project(&key, project.as_deref())
                .await?
            {
                println!(
                    "key {key}: default project {}",
                    project.as_deref().unwrap_or("(none)")
                );
            } else {
                anyhow::bail!("no active key with id or prefix {key:?}");
            }
        }
        KeysAction::Revoke { key } => {
            if store.revoke_api_key(&key).await? {
                println!("revoked {key}");
            } else {
                anyhow::bail!("no active key with id or prefix {key:?}");
            }
        }
    }
    Ok(())
}
