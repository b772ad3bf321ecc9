//! Task tokens at rest: sealed with XChaCha20-Poly1305 under a key from configuration.
//!
//! A Step Functions task token lets whoever holds it resume an execution, so
//! it is a secret. The store keeps only `v1:` + base64url(nonce || ciphertext),
//! with the decision id as associated data: a ciphertext copied onto another
//! decision does not open. The key never lives in the database or table.
//! The SQLite execution store seals whole interpreter records with the same
//! key (`TokenKey::seal_bytes`), since they carry task tokens too.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use secrecy::{ExposeSecret, SecretBox, SecretString};

use crate::StoreError;

const PREFIX: &str = "v1:";
const NONCE_LEN: usize = 24;

/// The 32-byte key that seals task tokens. Its `Debug` shows no key material.
pub struct TokenKey(SecretBox<[u8; 32]>);

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey([redacted])")
    }
}

impl TokenKey {
    /// A key from 32 raw bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        TokenKey(SecretBox::new(Box::new(bytes)))
    }

    /// A fresh random key from the operating system's CSPRNG.
    pub fn generate() -> Result<Self, StoreError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(StoreError::Randomness)?;
        Ok(Self::from_bytes(bytes))
    }

    /// A key from its standard base64 form (e.g. an environment variable or a secret).
    pub fn from_base64(text: &str) -> Result<Self, StoreError> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|e| StoreError::InvalidTokenKey(format!("not base64: {e}")))?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| {
            StoreError::InvalidTokenKey(format!("{} bytes, expected 32", b.len()))
        })?;
        Ok(Self::from_bytes(bytes))
    }

    /// Reads the key file at `path`, or creates it (mode 0600) with a random key.
    ///
    /// The local runtime keeps the key beside the database so that a copy of
    /// the database alone does not reveal the tokens.
    pub fn load_or_create(path: &Path) -> Result<Self, StoreError> {
        let io = |source| StoreError::Io {
            path: path.to_owned(),
            source,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => Self::from_base64(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = Self::generate()?;
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let mut file = options.open(path).map_err(io)?;
                let text = STANDARD.encode(key.0.expose_secret());
                std::io::Write::write_all(&mut file, text.as_bytes()).map_err(io)?;
                file.sync_all().map_err(io)?;
                Ok(key)
            }
            Err(e) => Err(io(e)),
        }
    }

    /// Seals `token` for the decision `decision_id`.
    pub(crate) fn seal(
        &self,
        decision_id: &str,
        token: &SecretString,
    ) -> Result<String, StoreError> {
        let cipher = XChaCha20Poly1305::new(self.0.expose_secret().into());
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(StoreError::Randomness)?;
        let sealed = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: token.expose_secret().as_bytes(),
                    aad: decision_id.as_bytes(),
                },
            )
            .map_err(|_| StoreError::TokenCrypto("sealed"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(out)))
    }

    /// Opens a token sealed by [`TokenKey::seal`] for the same decision id.
    pub(crate) fn open(&self, decision_id: &str, stored: &str) -> Result<SecretString, StoreError> {
        let fail = || StoreError::TokenCrypto("opened");
        let body = stored.strip_prefix(PREFIX).ok_or_else(fail)?;
        let bytes = URL_SAFE_NO_PAD.decode(body).map_err(|_| fail())?;
        if bytes.len() < NONCE_LEN {
            return Err(fail());
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let cipher = XChaCha20Poly1305::new(self.0.expose_secret().into());
        let plain = cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: decision_id.as_bytes(),
                },
            )
            .map_err(|_| fail())?;
        let text = String::from_utf8(plain).map_err(|_| fail())?;
        Ok(SecretString::from(text))
    }
}

/// Format byte of a sealed blob ([`TokenKey::seal_bytes`]): nonce || ciphertext.
#[cfg(feature = "sqlite")]
const BLOB_V1: u8 = 1;

/// Sealed blobs: the interpreter's execution records, which only the SQLite backend keeps.
#[cfg(feature = "sqlite")]
impl TokenKey {
    /// Seals `plain` (e.g. a whole execution record, task tokens and all),
    /// bound to `context` (its key in the database): `1 || nonce || ciphertext`.
    pub(crate) fn seal_bytes(&self, context: &str, plain: &[u8]) -> Result<Vec<u8>, StoreError> {
        let cipher = XChaCha20Poly1305::new(self.0.expose_secret().into());
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(StoreError::Randomness)?;
        let sealed = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plain,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| StoreError::TokenCrypto("sealed"))?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(BLOB_V1);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Opens a blob sealed by [`TokenKey::seal_bytes`] for the same `context`.
    pub(crate) fn open_bytes(&self, context: &str, stored: &[u8]) -> Result<Vec<u8>, StoreError> {
        let fail = || StoreError::TokenCrypto("opened");
        let (&version, rest) = stored.split_first().ok_or_else(fail)?;
        if version != BLOB_V1 || rest.len() < NONCE_LEN {
            return Err(fail());
        }
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        let cipher = XChaCha20Poly1305::new(self.0.expose_secret().into());
        cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| fail())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_sealed_token_opens_only_for_its_decision_and_key() {
        let key = TokenKey::generate().unwrap();
        let token = SecretString::from("AAAA-task-token".to_owned());
        let sealed = key.seal("d1", &token).unwrap();

        assert!(!sealed.contains("task-token"));
        assert_eq!(
            key.open("d1", &sealed).unwrap().expose_secret(),
            "AAAA-task-token"
        );
        assert!(key.open("d2", &sealed).is_err());
        assert!(TokenKey::generate().unwrap().open("d1", &sealed).is_err());
    }

    #[test]
    fn sealing_twice_gives_different_ciphertexts() {
        let key = TokenKey::generate().unwrap();
        let token = SecretString::from("t".to_owned());
        assert_ne!(
            key.seal("d", &token).unwrap(),
            key.seal("d", &token).unwrap()
        );
    }

    #[test]
    fn a_key_file_is_created_once_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token.key");
        let first = TokenKey::load_or_create(&path).unwrap();
        let sealed = first
            .seal("d", &SecretString::from("x".to_owned()))
            .unwrap();
        let second = TokenKey::load_or_create(&path).unwrap();
        assert_eq!(second.open("d", &sealed).unwrap().expose_secret(), "x");
        assert_eq!(format!("{second:?}"), "TokenKey([redacted])");
    }

    #[test]
    fn a_sealed_blob_opens_only_under_its_context_and_key() {
        let key = TokenKey::generate().unwrap();
        let sealed = key
            .seal_bytes("arn:e1", b"{\"tokens\":[\"secret\"]}")
            .unwrap();

        assert!(!sealed.windows(6).any(|w| w == b"secret"));
        assert_eq!(
            key.open_bytes("arn:e1", &sealed).unwrap(),
            b"{\"tokens\":[\"secret\"]}"
        );
        assert!(key.open_bytes("arn:e2", &sealed).is_err());
        assert!(
            TokenKey::generate()
                .unwrap()
                .open_bytes("arn:e1", &sealed)
                .is_err()
        );
        let mut tampered = sealed.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(key.open_bytes("arn:e1", &tampered).is_err());
    }

    #[test]
    fn a_short_key_is_refused() {
        assert!(matches!(
            TokenKey::from_base64("AAAA"),
            Err(StoreError::InvalidTokenKey(_))
        ));
    }
}
