//! The sign-in routes: `GET /auth/sign-in` sends a person to the issuer,
//! `GET /auth/callback` brings them back signed in, `POST /auth/sign-out` ends
//! the session (then the issuer's), `GET /auth/signed-out` says so, and
//! `GET /auth/account` shows who is signed in with which roles.
//!
//! None of them logs or shows the code, the ID token, the state or the nonce;
//! a refusal says what happened in words and offers to start again.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::session::Person;
use super::{SignIn, SignInError};
use crate::HttpState;
use crate::access::Console;
use crate::csrf;
use crate::pages::{esc, page};

/// Where sign-in starts.
pub const SIGN_IN_PATH: &str = "/auth/sign-in";
/// Where the issuer sends people back (the redirect URI to register).
pub const CALLBACK_PATH: &str = "/auth/callback";
/// Where the account page's form ends the session.
pub const SIGN_OUT_PATH: &str = "/auth/sign-out";
/// Where the issuer sends people after signing out.
pub const SIGNED_OUT_PATH: &str = "/auth/signed-out";
/// Who is signed in.
pub const ACCOUNT_PATH: &str = "/auth/account";

/// `?return_to=` of `/auth/sign-in`.
#[derive(Debug, Default, Deserialize)]
pub struct SignInQuery {
    return_to: Option<String>,
}

/// Only a path of this server is a place to come back to: an absolute URL or
/// `//host` would make the sign-in an open redirect.
fn safe_return(to: Option<&str>) -> String {
    match to {
        Some(p) if p.starts_with('/') && !p.starts_with("//") && !p.contains('\\') => p.to_owned(),
        _ => "/".to_owned(),
    }
}

fn sign_in_of(state: &HttpState) -> Result<&SignIn, Box<Response>> {
    match &state.console {
        Console::SignIn(s) => Ok(s),
        _ => Err(Box::new(
            (
                StatusCode::NOT_FOUND,
                page(
                    "Sign-in",
                    "<p>This server has no sign-in configured (<code>[server.sign_in]</code>): \
                     there is nothing to sign in to. <a href=\"/\">Open the console</a>.</p>",
                ),
            )
                .into_response(),
        )),
    }
}

fn try_again(status: StatusCode, what: &str) -> Response {
    (
        status,
        page(
            "Sign-in failed",
            &format!(
                "<p>{}</p><p>You are not signed in. <a href=\"{SIGN_IN_PATH}\">Try again</a>.</p>",
                esc(what)
            ),
        ),
    )
        .into_response()
}

fn public_path(state: &HttpState, path: &str) -> String {
    let base = state.deps.links.public_url().as_str().trim_end_matches('/');
    format!("{base}{path}")
}

/// `GET /auth/sign-in`: to the issuer, with the attempt sealed in a cookie.
pub async fn sign_in(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Query(q): Query<SignInQuery>,
) -> Response {
    let sign_in = match sign_in_of(&state) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let return_to = safe_return(q.return_to.as_deref());
    // The issuer sends people back to the public URL; cookies set on another
    // name of this server (localhost for 127.0.0.1) would not come with them.
    let public = state.deps.links.public_url();
    let asked_host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let public_host = public.host_str().map(|h| match public.port() {
        Some(p) => format!("{h}:{p}"),
        None => h.to_owned(),
    });
    if let (Some(asked), Some(public_host)) = (asked_host, public_host)
        && !asked.eq_ignore_ascii_case(&public_host)
    {
        let again = format!(
            "{}?{}",
            public_path(&state, SIGN_IN_PATH),
            serde_urlencoded::to_string([("return_to", return_to.as_str())]).unwrap_or_default()
        );
        return Redirect::to(&again).into_response();
    }
    let client = match sign_in.client().await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, issuer = %sign_in.issuer(), "the sign-in issuer cannot be read");
            return try_again(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("The sign-in service cannot be reached just now: {e}."),
            );
        }
    };
    let (url, pending) = client.begin(&public_path(&state, CALLBACK_PATH), &return_to);
    match sign_in.sessions.pending_cookie(&pending) {
        Ok(cookie) => ([(header::SET_COOKIE, cookie)], Redirect::to(url.as_str())).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a sign-in attempt could not be sealed");
            try_again(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The sign-in could not be started.",
            )
        }
    }
}

/// The issuer's answer at `/auth/callback`.
#[derive(Default, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

fn refusal_status(e: &SignInError) -> StatusCode {
    match e {
        SignInError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        SignInError::Malformed { .. } => StatusCode::BAD_GATEWAY,
        SignInError::StateMismatch => StatusCode::BAD_REQUEST,
        SignInError::Refused { .. } | SignInError::InvalidToken(_) => StatusCode::UNAUTHORIZED,
        SignInError::TenantNotAllowed { .. } => StatusCode::FORBIDDEN,
    }
}

/// `GET /auth/callback`: checks the answer against the attempt, starts the session.
pub async fn callback(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let sign_in = match sign_in_of(&state) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let clear = sign_in.sessions.clear_pending();
    let with_clear = |response: Response| {
        let mut response = response;
        response
            .headers_mut()
            .append(header::SET_COOKIE, clear.clone());
        response
    };
    if let Some(error) = q.error.as_deref() {
        let words = q.error_description.as_deref().unwrap_or_default();
        tracing::warn!(error, "the issuer did not sign a person in");
        // Entra's descriptions start with the AADSTS code; the first line says it.
        let first = words.lines().next().unwrap_or_default();
        return with_clear(try_again(
            StatusCode::UNAUTHORIZED,
            &format!("Microsoft did not sign you in ({error}): {first}"),
        ));
    }
    let Some(pending) = sign_in.sessions.pending(&headers) else {
        return with_clear(try_again(
            StatusCode::BAD_REQUEST,
            "This sign-in answer belongs to no sign-in started in this browser in the last \
             ten minutes (it expired, or the link was opened elsewhere).",
        ));
    };
    let (Some(code), Some(answer_state)) = (q.code.as_deref(), q.state.as_deref()) else {
        return with_clear(try_again(
            StatusCode::BAD_REQUEST,
            "The sign-in answer carries no code.",
        ));
    };
    let client = match sign_in.client().await {
        Ok(c) => c,
        Err(e) => return with_clear(try_again(refusal_status(&e), &e.to_string())),
    };
    let signed = match client.finish(&pending, code, answer_state).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "a sign-in was refused");
            let mut words = e.to_string();
            if let Some(first) = words.get(..1) {
                words = first.to_uppercase() + &words[1..];
            }
            return with_clear(try_again(refusal_status(&e), &format!("{words}.")));
        }
    };
    let roles = sign_in.roles.roles_of(&signed);
    let person = Person {
        name: signed.name,
        user_principal_name: signed.user_principal_name,
        object_id: signed.object_id,
        tenant_id: signed.tenant_id,
    };
    tracing::info!(
        user = %person.user_principal_name,
        tenant = %person.tenant_id,
        roles = ?roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        "signed in to the console"
    );
    match sign_in.sessions.start(person, roles).await {
        Ok(cookie) => {
            let mut response = Redirect::to(&pending.return_to).into_response();
            response.headers_mut().append(header::SET_COOKIE, cookie);
            with_clear(response)
        }
        Err(e) => {
            tracing::error!(error = %e, "a console session could not be stored");
            with_clear(try_again(
                StatusCode::SERVICE_UNAVAILABLE,
                "Your session could not be stored just now.",
            ))
        }
    }
}

/// `POST /auth/sign-out` (the account page's form): ends the session here, then
/// at the issuer, which sends the person back to `/auth/signed-out`.
pub async fn sign_out(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Form(mut values): Form<BTreeMap<String, String>>,
) -> Response {
    let sign_in = match sign_in_of(&state) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let token = values.remove(csrf::FIELD);
    if !csrf::verify(&state, &headers, token.as_deref()) {
        return crate::pages::csrf_refused(ACCOUNT_PATH);
    }
    let cookie: HeaderValue = match sign_in.sessions.end(&headers).await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "a console session could not be ended");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                page(
                    "Sign out",
                    "<p>Your session could not be ended just now; try again in a minute.</p>",
                ),
            )
                .into_response();
        }
    };
    let back = public_path(&state, SIGNED_OUT_PATH);
    let target = match sign_in.client().await {
        Ok(client) => client.sign_out_url(&back).map_or(back, |u| u.to_string()),
        Err(_) => back,
    };
    ([(header::SET_COOKIE, cookie)], Redirect::to(&target)).into_response()
}

/// `GET /auth/signed-out`.
pub async fn signed_out() -> Response {
    page(
        "Signed out",
        &format!(
            "<p>You are signed out of Onboard.</p><p><a href=\"{SIGN_IN_PATH}\">Sign in again</a></p>"
        ),
    )
    .into_response()
}

/// `GET /auth/account`: who is signed in, their roles, and the sign-out button.
pub async fn account(State(state): State<HttpState>, headers: HeaderMap) -> Response {
    let sign_in = match &state.console {
        Console::SignIn(s) => s,
        _ => {
            return page(
                "Your account",
                "<p>Nobody signs in to this console: it is open to whoever reaches this \
                 machine, and notes what is done as by <b>a technician</b>.</p>",
            )
            .into_response();
        }
    };
    let session = match sign_in.sessions.current(&headers).await {
        Ok(Some(s)) => s,
        Ok(None) => {
            return page(
                "Your account",
                &format!("<p>You are not signed in. <a href=\"{SIGN_IN_PATH}\">Sign in</a></p>"),
            )
            .into_response();
        }
        Err(e) => {
            tracing::error!(error = %e, "reading a console session failed");
            return try_again(
                StatusCode::SERVICE_UNAVAILABLE,
                "Your session could not be read just now.",
            );
        }
    };
    let roles = if session.roles.is_empty() {
        "none: ask whoever runs Onboard for an Onboard app role".to_owned()
    } else {
        session
            .roles
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let token = csrf::issue(&state, &headers);
    let body = format!(
        "<p>Signed in as <b id=\"person\">{}</b> (<span id=\"upn\">{}</span>), tenant <code>{}</code>.</p>\
         <p>Roles: <b id=\"roles\">{}</b></p>\
         <form method=\"post\" action=\"{SIGN_OUT_PATH}\">\
         <input type=\"hidden\" name=\"{}\" value=\"{}\">\
         <button type=\"submit\">Sign out</button></form>\
         <p><a href=\"/\">Back to the dashboard</a></p>",
        esc(&session.person.name),
        esc(&session.person.user_principal_name),
        esc(&session.person.tenant_id),
        esc(&roles),
        csrf::FIELD,
        esc(&token.token),
    );
    crate::pages::with_token(page("Your account", &body).into_response(), &token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_path_of_this_server_is_returned_to() {
        assert_eq!(
            safe_return(Some("/onboardings/ob-1?x=1")),
            "/onboardings/ob-1?x=1"
        );
        assert_eq!(safe_return(Some("https://evil.example/")), "/");
        assert_eq!(safe_return(Some("//evil.example/")), "/");
        assert_eq!(safe_return(Some("/\\evil.example")), "/");
        assert_eq!(safe_return(None), "/");
    }
}
