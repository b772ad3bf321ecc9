//! Reading the request's cookies, for the CSRF token and the sessions.

use axum::http::{HeaderMap, header};
use cookie::Cookie;

/// The value of the cookie `name` the request sends, if any and not empty.
pub(crate) fn value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name && !c.value().is_empty())
        .map(|c| c.value().to_owned())
}
