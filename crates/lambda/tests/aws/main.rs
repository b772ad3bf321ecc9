//! Offline checks of the AWS deployment: `template.yaml` against the state
//! machines, `functions/*` and the steps; every handler with its `events/` payload.

#![allow(clippy::unwrap_used)]

mod connections;
mod events;
mod moto;
mod no_psa;
mod template;

use std::path::PathBuf;
use std::sync::Arc;

use onboard_connectors::notify::MemoryOutbox;
use onboard_lambda::{SecretSource, StoreConnections};
use onboard_steps::{Deps, LinkSigner, SystemClock};
use onboard_store::{SecretRef, SqliteStore};
use secrecy::SecretString;

/// The workspace root (template.yaml, statemachine/, functions/, events/).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `CreateUser` -> `create-user`: the package, binary and events file of a function.
pub fn kebab(function: &str) -> String {
    let mut out = String::new();
    for (i, c) in function.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Only the environment and files: these tests have no AWS.
pub struct LocalSecrets;

#[async_trait::async_trait]
impl SecretSource for LocalSecrets {
    async fn resolve(
        &self,
        reference: &SecretRef,
    ) -> Result<SecretString, onboard_lambda::secrets::SecretError> {
        onboard_lambda::secrets::resolve_local(reference)
    }
}

pub async fn deps(dir: &std::path::Path) -> Deps {
    let store = Arc::new(SqliteStore::open_dir(dir).await.unwrap());
    Deps {
        connections: Arc::new(StoreConnections::new(store.clone(), Arc::new(LocalSecrets))),
        store,
        notifier: Arc::new(MemoryOutbox::new()),
        clock: Arc::new(SystemClock),
        links: LinkSigner::new("https://onboard.example.com", vec![7; 32]).unwrap(),
    }
}
