//! Who may use which route: every route of [`crate::routes`] states a [`Need`],
//! and [`enforce`] checks it before the handler runs, giving the handler the
//! [`Actor`] it acts for.
//!
//! - `/api/*` ([`Need::Api`]): a machine with an API key (`Authorization:
//!   Bearer`), or a console user holding the role (the console's script calls the
//!   pickers and the plan). Open only where the console is open to everyone
//!   ([`Console::Local`]) or something in front authorizes (AWS without sign-in).
//! - Console pages ([`Need::Page`]): a console user holding the role. Signed
//!   out, a `GET` is sent to sign in and comes back; a form post is told to sign
//!   in again (its form is not replayed).
//! - Decision links ([`Need::Link`]): their signature is their authority.
//! - [`Need::Anyone`]: the sign-in routes and the console's script.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::json;

use crate::HttpState;
use crate::error::{ApiError, problem};
use crate::pages::{esc, page};
use crate::sign_in::{Person, Role, Roles, SignIn};

/// What a route needs of whoever asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// A decision link: the signature in its query.
    Link,
    /// Nothing: the sign-in routes, the console's script.
    Anyone,
    /// `/api/*`: an API key, or a console user with this role.
    Api(Role),
    /// A console page: a console user with this role.
    Page(Role),
}

impl Need {
    /// The role needed, if any.
    pub fn role(self) -> Option<Role> {
        match self {
            Need::Api(r) | Need::Page(r) => Some(r),
            Need::Link | Need::Anyone => None,
        }
    }
}

/// How the console (the HTML pages) is served.
#[derive(Clone, Default)]
pub enum Console {
    /// Not routed (AWS without sign-in: API Gateway's authorizer guards `/api/*`).
    #[default]
    Off,
    /// Routed, but closed: API keys are required and no sign-in is configured,
    /// so a browser has no way in. Pages answer 403 saying so.
    Closed,
    /// Open to whoever reaches the server: loopback without API keys, the
    /// newcomer's default. Everyone is the local technician, with every role.
    Local,
    /// Served to people signed in through the configured issuer.
    SignIn(Arc<SignIn>),
}

impl Console {
    /// Whether the pages are routed.
    pub fn routed(&self) -> bool {
        !matches!(self, Console::Off)
    }

    /// The sign-in, when configured.
    pub fn sign_in(&self) -> Option<&Arc<SignIn>> {
        match self {
            Console::SignIn(s) => Some(s),
            _ => None,
        }
    }
}

/// Who a request acts for, as handlers note it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A person signed in to the console.
    Person {
        /// Who.
        person: Person,
        /// Their roles.
        roles: Roles,
    },
    /// Whoever uses an open console or API (loopback, nobody signed in).
    Local,
    /// A machine with an API key.
    ApiKey,
}

impl Actor {
    /// How the timeline and the ticket name who did something.
    pub fn label(&self) -> String {
        match self {
            Actor::Person { person, .. } => person.label(),
            // Nobody is named on an open console or a shared API key; "a technician"
            // is what the notes said before sign-in existed.
            Actor::Local | Actor::ApiKey => "a technician".to_owned(),
        }
    }

    /// The signed-in person, if any.
    pub fn person(&self) -> Option<&Person> {
        match self {
            Actor::Person { person, .. } => Some(person),
            _ => None,
        }
    }

    /// Whether this actor holds `role` (machines and the open console hold every role).
    pub fn allows(&self, role: Role) -> bool {
        match self {
            Actor::Person { roles, .. } => roles.allows(role),
            Actor::Local | Actor::ApiKey => true,
        }
    }
}

/// The bearer key of a request, if it sends one.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
}

/// Middleware: checks `need` for the request and hands the handler its [`Actor`].
pub async fn enforce(
    State((state, need)): State<(HttpState, Need)>,
    mut request: Request,
    next: Next,
) -> Response {
    let actor = match need {
        Need::Link | Need::Anyone => Ok(Actor::Local),
        Need::Api(role) => api_actor(&state, request.headers(), role).await,
        Need::Page(role) => {
            let (method, uri) = (request.method().clone(), request.uri().clone());
            page_actor(&state, request.headers(), &method, &uri, role).await
        }
    };
    match actor {
        Ok(actor) => {
            request.extensions_mut().insert(actor);
            next.run(request).await
        }
        Err(refusal) => *refusal,
    }
}

async fn api_actor(
    state: &HttpState,
    headers: &HeaderMap,
    role: Role,
) -> Result<Actor, Box<Response>> {
    if state.keys.upstream {
        return Ok(Actor::ApiKey);
    }
    // Where no key is configured a bearer means nothing (as before sign-in existed).
    if let Some(key) = bearer(headers)
        && state.keys.required()
    {
        return if state.keys.accepts(key) {
            Ok(Actor::ApiKey)
        } else {
            Err(Box::new(ApiError::Unauthorized.into_response()))
        };
    }
    match &state.console {
        Console::SignIn(sign_in) => match sign_in.sessions.current(headers).await {
            Ok(Some(session)) if session.roles.allows(role) => Ok(Actor::Person {
                person: session.person,
                roles: session.roles,
            }),
            Ok(Some(session)) => Err(Box::new(problem(
                StatusCode::FORBIDDEN,
                "Forbidden",
                json!({"detail": format!(
                    "{} is signed in without the {role} role this needs",
                    session.person.name
                )}),
            ))),
            Ok(None) => Err(Box::new(ApiError::Unauthorized.into_response())),
            Err(e) => Err(Box::new(ApiError::internal(e).into_response())),
        },
        _ if state.keys.required() => Err(Box::new(ApiError::Unauthorized.into_response())),
        _ => Ok(Actor::Local),
    }
}

async fn page_actor(
    state: &HttpState,
    headers: &HeaderMap,
    method: &Method,
    uri: &Uri,
    role: Role,
) -> Result<Actor, Box<Response>> {
    let sign_in = match &state.console {
        Console::Local => return Ok(Actor::Local),
        Console::Off | Console::Closed => return Err(Box::new(closed_page())),
        Console::SignIn(s) => s,
    };
    let session = match sign_in.sessions.current(headers).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "reading a console session failed");
            return Err(Box::new(
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    page(
                        "Try again",
                        "<p>Your session could not be read just now; reload the page in a minute.</p>",
                    ),
                )
                    .into_response(),
            ));
        }
    };
    let Some(session) = session else {
        return Err(Box::new(signed_out(method, uri)));
    };
    if !session.roles.allows(role) {
        return Err(Box::new(forbidden_page(
            &session.person,
            &session.roles,
            role,
        )));
    }
    Ok(Actor::Person {
        person: session.person,
        roles: session.roles,
    })
}

/// Signed out: a page view goes to sign in and comes back; a form post is told so.
fn signed_out(method: &Method, uri: &Uri) -> Response {
    let here = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    if matches!(*method, Method::GET | Method::HEAD) {
        let target = format!(
            "{}?{}",
            crate::sign_in::routes::SIGN_IN_PATH,
            serde_urlencoded::to_string([("return_to", here.as_str())]).unwrap_or_default()
        );
        return Redirect::to(&target).into_response();
    }
    (
        StatusCode::UNAUTHORIZED,
        page(
            "Signed out",
            &format!(
                "<p>You are not signed in (or your session ended), so nothing was done.</p>\
                 <p><a href=\"{}\">Sign in</a> and send the form again.</p>",
                esc(crate::sign_in::routes::SIGN_IN_PATH)
            ),
        ),
    )
        .into_response()
}

/// What a role lets a person do, in the 403 page's words.
fn role_does(role: Role) -> &'static str {
    match role {
        Role::Viewer => "see the dashboards",
        Role::Technician => "submit onboardings and offboardings, and resend, move or cancel them",
        Role::Approver => "decide approvals",
        Role::Admin => "change organizations and settings",
    }
}

fn forbidden_page(person: &Person, roles: &Roles, needed: Role) -> Response {
    let held = if roles.is_empty() {
        "no Onboard role".to_owned()
    } else {
        let names: Vec<&str> = roles.iter().map(Role::as_str).collect();
        format!("the role {}", names.join(", "))
    };
    let body = format!(
        "<p>You are signed in as <b>{}</b> ({}), with {held}.</p>\
         <p>This page is for people who {}: it needs the <b>{needed}</b> role. \
         Nothing was done.</p>\
         <p>Ask whoever runs Onboard for your MSP to give you the <code>{}</code> app role \
         (in Entra ID: Enterprise applications → Onboard → Users and groups), then sign in again.</p>\
         <p><a href=\"/\">Back to the dashboard</a> · <a href=\"{}\">Your account</a></p>",
        esc(&person.name),
        esc(&person.user_principal_name),
        role_does(needed),
        needed.default_app_role(),
        crate::sign_in::routes::ACCOUNT_PATH,
    );
    (StatusCode::FORBIDDEN, page("Not allowed", &body)).into_response()
}

fn closed_page() -> Response {
    (
        StatusCode::FORBIDDEN,
        page(
            "Use the API",
            "<p>This server requires API keys and has no sign-in configured, so the console is off. \
             Use <code>POST /api/onboardings</code> with an API key, or configure \
             <code>[server.sign_in]</code> to let people sign in with Microsoft.</p>",
        ),
    )
        .into_response()
}
