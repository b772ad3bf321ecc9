//! Offline checks of the AWS deployment: `template.yaml` against the state
//! machines, `functions/*` and the steps; every handler with its `events/` payload.

#![allow(clippy::unwrap_used)]

mod events;
mod template;

use std::path::PathBuf;

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
