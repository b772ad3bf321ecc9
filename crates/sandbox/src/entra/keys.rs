//! The issuer's signing keys: RS256 key pairs, the JWKS that publishes them,
//! and compact JWS signing.
//!
//! Entra ID publishes several keys and rotates the one it signs with; a client
//! must find a token's `kid` in the JWKS and fetch the JWKS again when it does
//! not know the `kid`. [`Keys::rotate`] does the same here: a new key signs,
//! the old one stays published.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rsa::pkcs1v15::SigningKey;
use rsa::sha2::{Digest, Sha256};
use rsa::signature::{SignatureEncoding, Signer};
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde_json::{Value, json};

/// Entra's keys are 2048-bit RSA.
const KEY_BITS: usize = 2048;

/// How many keys the JWKS lists: the signing key and those it replaced.
const PUBLISHED: usize = 3;

/// One key pair and its id.
struct KeyPair {
    kid: String,
    signer: SigningKey<Sha256>,
    public: RsaPublicKey,
}

impl KeyPair {
    fn generate() -> Result<Self, rsa::Error> {
        let private = RsaPrivateKey::new(&mut rsa::rand_core::OsRng, KEY_BITS)?;
        let public = private.to_public_key();
        // Entra's `kid` is the certificate's thumbprint; the public key's hash
        // is as stable and as unique.
        let kid = URL_SAFE_NO_PAD.encode(&Sha256::digest(public.n().to_bytes_be())[..20]);
        Ok(Self {
            kid,
            signer: SigningKey::<Sha256>::new(private),
            public,
        })
    }

    fn jwk(&self, issuer: &str) -> Value {
        json!({
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "x5t": self.kid,
            "n": URL_SAFE_NO_PAD.encode(self.public.n().to_bytes_be()),
            "e": URL_SAFE_NO_PAD.encode(self.public.e().to_bytes_be()),
            "issuer": issuer,
        })
    }
}

/// The published keys, newest (the signing key) last. Generated when first
/// needed: most sandboxes never sign anyone in.
#[derive(Default)]
pub(super) struct Keys {
    pairs: Vec<KeyPair>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<&str> = self.pairs.iter().map(|p| p.kid.as_str()).collect();
        f.debug_struct("Keys").field("kids", &kids).finish()
    }
}

impl Keys {
    fn ensure(&mut self) -> Result<&KeyPair, rsa::Error> {
        if self.pairs.is_empty() {
            self.pairs.push(KeyPair::generate()?);
        }
        Ok(self.pairs.last().expect("a key was just made"))
    }

    /// The JWKS document, each key naming `issuer`.
    pub(super) fn jwks(&mut self, issuer: &str) -> Result<Value, rsa::Error> {
        self.ensure()?;
        let keys: Vec<Value> = self.pairs.iter().rev().map(|p| p.jwk(issuer)).collect();
        Ok(json!({ "keys": keys }))
    }

    /// A new signing key; the previous ones stay published (up to [`PUBLISHED`]).
    /// Answers the new `kid`.
    pub(super) fn rotate(&mut self) -> Result<String, rsa::Error> {
        self.ensure()?;
        self.pairs.push(KeyPair::generate()?);
        if self.pairs.len() > PUBLISHED {
            self.pairs.remove(0);
        }
        Ok(self.pairs.last().expect("a key was just made").kid.clone())
    }

    /// `claims` as a compact JWS signed with the current key. With
    /// `unpublished`, signed by a key the JWKS does not list (a forged token).
    pub(super) fn sign(&mut self, claims: &Value, unpublished: bool) -> Result<String, rsa::Error> {
        let stranger;
        let pair = if unpublished {
            stranger = KeyPair::generate()?;
            &stranger
        } else {
            self.ensure()?
        };
        // v2.0 ID tokens name their key by `kid` alone (v1.0 tokens add `x5t`).
        let header = json!({ "typ": "JWT", "alg": "RS256", "kid": pair.kid });
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = pair.signer.sign(input.as_bytes()).to_bytes();
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }
}

#[cfg(test)]
mod tests {
    use rsa::pkcs1v15::{Signature, VerifyingKey};
    use rsa::signature::Verifier;

    use super::*;

    fn verify(token: &str, jwks: &Value) -> bool {
        let parts: Vec<&str> = token.split('.').collect();
        let header: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        let Some(jwk) = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == header["kid"])
        else {
            return false;
        };
        let number = |name: &str| {
            rsa::BigUint::from_bytes_be(
                &URL_SAFE_NO_PAD.decode(jwk[name].as_str().unwrap()).unwrap(),
            )
        };
        let public = RsaPublicKey::new(number("n"), number("e")).unwrap();
        let signature =
            Signature::try_from(URL_SAFE_NO_PAD.decode(parts[2]).unwrap().as_slice()).unwrap();
        VerifyingKey::<Sha256>::new(public)
            .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature)
            .is_ok()
    }

    #[test]
    fn a_token_verifies_with_the_published_key_before_and_after_a_rotation() {
        let mut keys = Keys::default();
        let claims = json!({"sub": "someone"});
        let old = keys.sign(&claims, false).unwrap();
        assert!(verify(&old, &keys.jwks("iss").unwrap()));
        let kid = keys.rotate().unwrap();
        let new = keys.sign(&claims, false).unwrap();
        let jwks = keys.jwks("iss").unwrap();
        assert_eq!(
            jwks["keys"][0]["kid"], kid,
            "the signing key is listed first"
        );
        assert!(verify(&old, &jwks), "the replaced key stays published");
        assert!(verify(&new, &jwks));
        let forged = keys.sign(&claims, true).unwrap();
        assert!(
            !verify(&forged, &jwks),
            "an unpublished key is not in the JWKS"
        );
        let mut tampered = new.clone();
        tampered.insert(new.find('.').unwrap() + 2, 'x');
        assert!(!verify(&tampered, &jwks));
    }
}
