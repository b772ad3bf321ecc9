//! Who may drive the server: the `Host` it answers to, requests from other
//! websites, and the body types `/api/*` takes. One middleware, [`protect`], in
//! front of every route of both runtimes.
//!
//! - **Host** ([`HostPolicy`]): a browser sends the name it resolved, so a page of
//!   `attacker.example` rebound to 127.0.0.1 arrives with `Host: attacker.example`
//!   and is refused (421) before it can read `/approvals` or `/sandbox/outbox`.
//! - **Other sites**: a state-changing request (anything but GET, HEAD, OPTIONS)
//!   whose `Sec-Fetch-Site` or `Origin` says it comes from another site is refused
//!   (403). The decision POST is the exception: a mail client may open a link's page
//!   from anywhere, and the link's signature is its authority.
//! - **`/api/*` takes JSON**: a body of another type is refused (415). Without
//!   this, a cross-site `fetch(..., {mode: "no-cors"})` with `text/plain` is a
//!   "simple request" that no preflight stops.
//! - **Logs** ([`request_span`]): a request's span records its path, never its
//!   query, where decision links carry their signature.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use serde_json::json;

use crate::decisions::DECISIONS_PREFIX;
use crate::error::problem;

/// The `Host` names a server answers to.
#[derive(Debug, Clone)]
pub enum HostPolicy {
    /// Any host: something in front routes by host already (API Gateway answers
    /// only the API's own domain names and mapped custom domains).
    Any,
    /// Only these host names (lowercase, without port).
    Only(Arc<BTreeSet<String>>),
}

/// The loopback names a server bound to loopback (or to every address) answers to:
/// no other site can make a browser resolve them elsewhere.
pub const LOOPBACK_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "[::1]"];

impl HostPolicy {
    /// Only `hosts` (names or IP literals, with or without a port; IPv6 literals
    /// in brackets or bare).
    pub fn only<I, S>(hosts: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        HostPolicy::Only(Arc::new(
            hosts
                .into_iter()
                .filter_map(|h| normalize_host(h.as_ref()))
                .collect(),
        ))
    }

    /// Whether `host` (a `Host` header or an origin's host, port allowed) is served.
    pub fn allows(&self, host: &str) -> bool {
        match self {
            HostPolicy::Any => true,
            HostPolicy::Only(names) => normalize_host(host).is_some_and(|h| names.contains(&h)),
        }
    }

    /// The names allowed, for an error message (none for [`HostPolicy::Any`]).
    fn names(&self) -> Vec<String> {
        match self {
            HostPolicy::Any => Vec::new(),
            HostPolicy::Only(names) => names.iter().cloned().collect(),
        }
    }
}

/// `host[:port]` as a lowercase host name without port and trailing dot; IPv6
/// literals in brackets. `None` for what cannot be a host.
pub fn normalize_host(text: &str) -> Option<String> {
    let text = text.trim().to_ascii_lowercase();
    if text.is_empty() || text.contains(['/', '@', ' ', '?', '#']) {
        return None;
    }
    let host = if let Some(rest) = text.strip_prefix('[') {
        let (inside, _) = rest.split_once(']')?;
        format!("[{inside}]")
    } else if text.matches(':').count() > 1 {
        // A bare IPv6 literal (as a configuration may write it).
        format!("[{text}]")
    } else {
        text.split(':').next().unwrap_or_default().to_owned()
    };
    let host = host.trim_end_matches('.').to_owned();
    (!host.is_empty()).then_some(host)
}

/// What [`protect`] checks against.
#[derive(Debug, Clone)]
pub struct Protection {
    /// The `Host` names served.
    pub hosts: HostPolicy,
    /// The public origin (`https://onboard.example.com`), which a reverse proxy's
    /// pages send as `Origin` while the `Host` it forwards may differ.
    pub public_origin: Option<String>,
}

/// Why [`protect`] refused a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No `Host` header: 400.
    NoHost,
    /// A `Host` this server does not answer to: 421.
    WrongHost(String),
    /// A state-changing request from another site: 403.
    CrossSite(String),
    /// `/api/*` with a body that is not JSON: 415.
    NotJson(String),
}

impl Refusal {
    fn status(&self) -> StatusCode {
        match self {
            Refusal::NoHost => StatusCode::BAD_REQUEST,
            Refusal::WrongHost(_) => StatusCode::MISDIRECTED_REQUEST,
            Refusal::CrossSite(_) => StatusCode::FORBIDDEN,
            Refusal::NotJson(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        }
    }

    fn into_response(self, protection: &Protection) -> Response {
        let status = self.status();
        let (title, detail) = match &self {
            Refusal::NoHost => (
                "Host header missing",
                "send a Host header naming this server".to_owned(),
            ),
            Refusal::WrongHost(host) => (
                "Unknown host",
                format!(
                    "this server does not answer to the host `{host}`; it answers to {} \
                     (add a name to server.allowed_hosts to serve it)",
                    protection
                        .hosts
                        .names()
                        .iter()
                        .map(|h| format!("`{h}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
            Refusal::CrossSite(from) => (
                "Refused: the request came from another website",
                format!(
                    "a page of {from} asked this server to change something; only Onboard's own pages may. \
                     Nothing was done"
                ),
            ),
            Refusal::NotJson(found) => (
                "Unsupported media type",
                format!(
                    "/api/* takes `application/json` (a batch also `text/csv`); this request's Content-Type is {found}. Nothing was done"
                ),
            ),
        };
        problem(status, title, json!({"detail": detail}))
    }
}

/// Whether a request of `method` may change something.
fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The checks of this module on a request's method, path and headers.
pub fn check(
    protection: &Protection,
    method: &Method,
    path: &str,
    authority: Option<&str>,
    headers: &HeaderMap,
) -> Result<(), Refusal> {
    let host = authority
        .map(str::to_owned)
        .or_else(|| {
            headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_owned)
        })
        .ok_or(Refusal::NoHost)?;
    if !protection.hosts.allows(&host) {
        return Err(Refusal::WrongHost(host));
    }
    if !changes_state(method) {
        return Ok(());
    }
    let decision_post = *method == Method::POST && path.starts_with(DECISIONS_PREFIX);
    if !decision_post {
        check_same_site(protection, &host, headers)?;
    }
    if path.starts_with("/api/") {
        check_json(headers, path.ends_with("/batch"))?;
    }
    Ok(())
}

/// Refuses what a browser says comes from another site. Clients that are not
/// browsers (curl, the PSA, tests) send neither header and pass.
fn check_same_site(
    protection: &Protection,
    host: &str,
    headers: &HeaderMap,
) -> Result<(), Refusal> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let origin = text("origin");
    if let Some(site) = text("sec-fetch-site") {
        // `none`: the person typed the address or followed a bookmark.
        if !site.eq_ignore_ascii_case("same-origin") && !site.eq_ignore_ascii_case("none") {
            return Err(Refusal::CrossSite(
                origin.unwrap_or("another site").to_owned(),
            ));
        }
    }
    let Some(origin) = origin else {
        return Ok(());
    };
    let ours = origin_authority(origin).is_some_and(|authority| {
        authority.eq_ignore_ascii_case(host) && protection.hosts.allows(&authority)
    }) || protection
        .public_origin
        .as_deref()
        .is_some_and(|public| public.eq_ignore_ascii_case(origin.trim_end_matches('/')));
    if ours {
        Ok(())
    } else {
        Err(Refusal::CrossSite(origin.to_owned()))
    }
}

/// The `host[:port]` of an origin such as `http://127.0.0.1:3000`; `None` for
/// `null` and anything that is not an http(s) origin.
fn origin_authority(origin: &str) -> Option<String> {
    let rest = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))?;
    let authority = rest.trim_end_matches('/');
    (!authority.is_empty() && !authority.contains('/')).then(|| authority.to_owned())
}

/// `/api/*` bodies are JSON: a `Content-Type` other than `application/json`
/// (parameters such as `charset` allowed) is refused, but for `text/csv` on a
/// batch. A body-less request without a type passes (`POST .../cancel`).
/// (`text/csv` is not a type a cross-site form can send, and the same-site
/// check has run before.)
fn check_json(headers: &HeaderMap, csv_too: bool) -> Result<(), Refusal> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        let empty = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_none_or(|v| v.trim() == "0")
            && !headers.contains_key(header::TRANSFER_ENCODING);
        return if empty {
            Ok(())
        } else {
            Err(Refusal::NotJson("missing".to_owned()))
        };
    };
    let text = value.to_str().unwrap_or_default();
    let essence = text.split(';').next().unwrap_or_default().trim();
    if essence.eq_ignore_ascii_case("application/json")
        || (csv_too && essence.eq_ignore_ascii_case("text/csv"))
    {
        Ok(())
    } else {
        Err(Refusal::NotJson(format!("`{}`", text.trim())))
    }
}

/// Middleware: [`check`] on every request; a refusal is answered here and logged once.
pub async fn protect(
    State(protection): State<Arc<Protection>>,
    request: Request,
    next: Next,
) -> Response {
    let authority = request.uri().authority().map(|a| a.as_str().to_owned());
    match check(
        &protection,
        request.method(),
        request.uri().path(),
        authority.as_deref(),
        request.headers(),
    ) {
        Ok(()) => next.run(request).await,
        Err(refusal) => {
            tracing::warn!(method = %request.method(), path = request.uri().path(), refusal = ?refusal, "request refused");
            refusal.into_response(&protection)
        }
    }
}

/// The span of a request in the logs: method and path, never the query (decision
/// links carry their signature there) nor headers (API keys, cookies).
pub fn request_span(request: &Request) -> tracing::Span {
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = request.uri().path(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn local() -> Protection {
        Protection {
            hosts: HostPolicy::only(["127.0.0.1", "localhost", "onboard.example.com"]),
            public_origin: Some("https://onboard.example.com".to_owned()),
        }
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).expect("header"));
        }
        h
    }

    #[test]
    fn hosts_are_compared_without_port_case_or_trailing_dot() {
        let p = HostPolicy::only(["LocalHost", "::1", "127.0.0.1:3000"]);
        assert!(p.allows("localhost:3000"));
        assert!(p.allows("localhost."));
        assert!(p.allows("[::1]:3000"));
        assert!(p.allows("127.0.0.1"));
        assert!(!p.allows("attacker.example"));
        assert!(!p.allows("127.0.0.1.attacker.example"));
        assert!(!p.allows(""));
    }

    #[test]
    fn a_rebound_host_is_refused_even_for_reading() {
        let h = headers(&[("host", "attacker.example:3000")]);
        assert_eq!(
            check(&local(), &Method::GET, "/approvals", None, &h),
            Err(Refusal::WrongHost("attacker.example:3000".to_owned()))
        );
        assert_eq!(
            check(&local(), &Method::GET, "/", None, &HeaderMap::new()),
            Err(Refusal::NoHost)
        );
    }

    #[test]
    fn another_site_cannot_change_anything_but_may_decide_by_link() {
        let from_attacker = headers(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "http://127.0.0.2:8000"),
            ("sec-fetch-site", "cross-site"),
            ("content-type", "application/x-www-form-urlencoded"),
        ]);
        assert!(matches!(
            check(
                &local(),
                &Method::POST,
                "/offboardings",
                None,
                &from_attacker
            ),
            Err(Refusal::CrossSite(_))
        ));
        assert!(
            check(
                &local(),
                &Method::POST,
                "/decisions/abc",
                None,
                &from_attacker
            )
            .is_ok()
        );
        // Reading is not refused (the browser keeps the answer from the other site).
        assert!(check(&local(), &Method::GET, "/", None, &from_attacker).is_ok());
        // A same-site page on another port is another origin too.
        let other_port = headers(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "http://127.0.0.1:8080"),
        ]);
        assert!(check(&local(), &Method::POST, "/onboardings", None, &other_port).is_err());
        let null = headers(&[("host", "127.0.0.1:3000"), ("origin", "null")]);
        assert!(check(&local(), &Method::POST, "/onboardings", None, &null).is_err());
    }

    #[test]
    fn our_own_pages_and_clients_without_browser_headers_pass() {
        let ours = headers(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "http://127.0.0.1:3000"),
            ("sec-fetch-site", "same-origin"),
        ]);
        assert!(check(&local(), &Method::POST, "/onboardings", None, &ours).is_ok());
        let proxied = headers(&[
            ("host", "localhost:3000"),
            ("origin", "https://onboard.example.com"),
        ]);
        assert!(check(&local(), &Method::POST, "/onboardings", None, &proxied).is_ok());
        let curl = headers(&[
            ("host", "localhost:3000"),
            ("content-type", "application/json"),
        ]);
        assert!(check(&local(), &Method::POST, "/api/onboardings", None, &curl).is_ok());
    }

    #[test]
    fn the_api_takes_json_only() {
        let typed = |t: &str| {
            headers(&[
                ("host", "localhost"),
                ("content-type", t),
                ("content-length", "2"),
            ])
        };
        assert_eq!(
            check(
                &local(),
                &Method::POST,
                "/api/offboardings",
                None,
                &typed("text/plain")
            ),
            Err(Refusal::NotJson("`text/plain`".to_owned()))
        );
        assert!(
            check(
                &local(),
                &Method::POST,
                "/api/onboardings",
                None,
                &typed("application/json; charset=utf-8")
            )
            .is_ok()
        );
        let untyped = headers(&[("host", "localhost"), ("content-length", "2")]);
        assert_eq!(
            check(&local(), &Method::POST, "/api/onboardings", None, &untyped),
            Err(Refusal::NotJson("missing".to_owned()))
        );
        let bodiless = headers(&[("host", "localhost"), ("content-length", "0")]);
        assert!(
            check(
                &local(),
                &Method::POST,
                "/api/onboardings/x/cancel",
                None,
                &bodiless
            )
            .is_ok()
        );
        // A batch may be CSV; nothing else may.
        assert!(
            check(
                &local(),
                &Method::POST,
                "/api/onboardings/batch",
                None,
                &typed("text/csv; charset=utf-8")
            )
            .is_ok()
        );
        assert_eq!(
            check(
                &local(),
                &Method::POST,
                "/api/onboardings",
                None,
                &typed("text/csv")
            ),
            Err(Refusal::NotJson("`text/csv`".to_owned()))
        );
        // Forms are not under /api/.
        assert!(
            check(
                &local(),
                &Method::POST,
                "/onboardings",
                None,
                &typed("application/x-www-form-urlencoded")
            )
            .is_ok()
        );
    }
}
