//! CSRF tokens for the HTML forms: a random value in a `SameSite=Strict`,
//! `HttpOnly` cookie, and in each form a hidden `csrf_token` that is the HMAC of
//! that value under a key derived from the link-signing key.
//!
//! Another website can make a browser post a form here, but it can neither read
//! the cookie nor compute the token for it, and a cookie set by another port of
//! the same host (cookies ignore ports) is useless without the server's key. The
//! `Origin` / `Sec-Fetch-Site` check of [`crate::guard`] refuses such posts first;
//! this is the second lock, for browsers that send neither header.

use axum::http::{HeaderMap, HeaderValue};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cookie::{Cookie, SameSite};
use hmac::Mac as _;

use crate::HttpState;

/// The cookie's name.
pub const COOKIE: &str = "onboard_csrf";
/// The hidden field of every state-changing form.
pub const FIELD: &str = "csrf_token";

/// The random part: 32 bytes, base64url.
const NONCE_BYTES: usize = 32;

/// A form's token and, when the browser had no valid cookie yet, the
/// `Set-Cookie` header that gives it one.
#[derive(Debug)]
pub struct FormToken {
    /// The value of the hidden [`FIELD`].
    pub token: String,
    /// `Set-Cookie`, to send with the page.
    pub set_cookie: Option<HeaderValue>,
}

fn nonce_from(headers: &HeaderMap) -> Option<String> {
    crate::cookies::value(headers, COOKIE).filter(|v| {
        URL_SAFE_NO_PAD
            .decode(v)
            .is_ok_and(|b| b.len() == NONCE_BYTES)
    })
}

fn sign(state: &HttpState, nonce: &str) -> hmac::Hmac<sha2::Sha256> {
    let mut mac = state.deps.links.derived_key("csrf");
    mac.update(nonce.as_bytes());
    mac
}

/// The token for a form page, reusing the browser's cookie when it has one.
pub fn issue(state: &HttpState, headers: &HeaderMap) -> FormToken {
    let (nonce, fresh) = match nonce_from(headers) {
        Some(n) => (n, false),
        None => {
            let mut bytes = [0u8; NONCE_BYTES];
            // Without randomness no token can be trusted: a constant one would be
            // guessable, so the form is served with a token nothing will accept.
            if getrandom::fill(&mut bytes).is_err() {
                tracing::error!("no randomness for a CSRF cookie; the form cannot be submitted");
                return FormToken {
                    token: String::new(),
                    set_cookie: None,
                };
            }
            (URL_SAFE_NO_PAD.encode(bytes), true)
        }
    };
    let token = URL_SAFE_NO_PAD.encode(sign(state, &nonce).finalize().into_bytes());
    let set_cookie = fresh
        .then(|| {
            let secure = state.deps.links.public_url().scheme() == "https";
            let cookie = Cookie::build((COOKIE, nonce))
                .path("/")
                .http_only(true)
                .same_site(SameSite::Strict)
                .secure(secure)
                .build();
            HeaderValue::from_str(&cookie.to_string()).ok()
        })
        .flatten();
    FormToken { token, set_cookie }
}

/// Whether a submitted form's `token` belongs to the browser's cookie (compared
/// in constant time).
pub fn verify(state: &HttpState, headers: &HeaderMap, token: Option<&str>) -> bool {
    let (Some(nonce), Some(token)) = (nonce_from(headers), token) else {
        return false;
    };
    let Ok(tag) = URL_SAFE_NO_PAD.decode(token.trim()) else {
        return false;
    };
    sign(state, &nonce).verify_slice(&tag).is_ok()
}
