//! API keys on `/api/*`: `Authorization: Bearer <key>`, compared by SHA-256 hash
//! ([`crate::access`] asks them).
//!
//! The configuration holds only hashes, so a leaked config file gives no key.
//! Decision links are not behind this: their signature is their authority.

use std::sync::Arc;

use sha2::{Digest as _, Sha256};

/// The SHA-256 of an API key, as configurations store it.
pub fn hash_api_key(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// The accepted API key hashes; empty means `/api/*` is open (loopback only),
/// unless something in front authorizes it ([`ApiKeys::upstream`]).
#[derive(Debug, Clone, Default)]
pub struct ApiKeys {
    /// SHA-256 of each accepted key.
    pub hashes: Arc<Vec<[u8; 32]>>,
    /// Whether `/api/*` was authorized before it reached us (API Gateway's IAM or
    /// JWT authorizer): every request there is then a machine's, whatever the console.
    pub upstream: bool,
}

impl ApiKeys {
    /// Whether requests must carry a key.
    pub fn required(&self) -> bool {
        !self.hashes.is_empty()
    }

    /// Whether `key` is one of the accepted keys. Compares every hash in full,
    /// without an early exit.
    pub fn accepts(&self, key: &str) -> bool {
        let h = hash_api_key(key);
        self.hashes.iter().fold(false, |found, k| {
            let diff = k.iter().zip(h.iter()).fold(0u8, |d, (a, b)| d | (a ^ b));
            found | (diff == 0)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_key_whose_hash_is_configured_is_accepted() {
        let keys = ApiKeys {
            hashes: Arc::new(vec![hash_api_key("right")]),
            upstream: false,
        };
        assert!(keys.required());
        assert!(keys.accepts("right"));
        assert!(!keys.accepts("wrong"));
        assert!(!keys.accepts(""));
    }
}
