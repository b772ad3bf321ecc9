//! Issue 18 over HTTP: every route of `onboard_http::routes::table()` is walked
//! against a server with `[server.sign_in]` (the sandbox's issuer) and API keys,
//! signed out, as a viewer, as a person without a role, and with the key; each
//! answers as the need it states says. People sign in as a browser does: the
//! issuer's page is answered by picking who signs in.

use std::collections::BTreeMap;

use onboard_http::access::Need;
use onboard_http::sign_in::Role;
use reqwest::{Method, StatusCode, header};

use crate::helpers::{TestApp, spawn_app_with};

const KEY: &str = "e2e-sign-in-key-0123456789abcdef";

fn config() -> String {
    let sha: String = onboard_http::hash_api_key(KEY)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!(
        r#"
[server]
api_key_sha256 = ["{sha}"]

[server.sign_in]
issuer = "sandbox"

{}"#,
        crate::workflow::config("")
    )
}

/// The cookies one browser keeps.
#[derive(Default)]
struct Jar(BTreeMap<String, String>);

impl Jar {
    fn absorb(&mut self, response: &reqwest::Response) {
        for value in response.headers().get_all(header::SET_COOKIE) {
            let text = value.to_str().unwrap();
            let (pair, attributes) = text.split_once(';').unwrap_or((text, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() || attributes.contains("Max-Age=0") {
                self.0.remove(name);
            } else {
                self.0.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    fn header(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

fn location(response: &reqwest::Response) -> String {
    response.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned()
}

/// Signs `upn` in from `/`, as a browser following each redirect; the cookies.
async fn sign_in(app: &TestApp, upn: &str) -> Jar {
    let http = &app.client;
    let mut jar = Jar::default();
    let first = http.get(app.url("/")).send().await.unwrap();
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    let start = http.get(app.url(&location(&first))).send().await.unwrap();
    jar.absorb(&start);
    let authorize = location(&start);
    let page = http
        .get(&authorize)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let request = page
        .split("name=\"request\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the issuer's page carries the request")
        .to_owned();
    let login = format!(
        "{}/login",
        authorize
            .split('?')
            .next()
            .unwrap()
            .rsplit_once('/')
            .unwrap()
            .0
    );
    let back = http
        .post(&login)
        .form(&[("request", request.as_str()), ("login", upn)])
        .send()
        .await
        .unwrap();
    assert!(back.status().is_redirection(), "{}", back.status());
    let callback = http
        .get(location(&back))
        .header(header::COOKIE, jar.header())
        .send()
        .await
        .unwrap();
    jar.absorb(&callback);
    assert_eq!(callback.status(), StatusCode::SEE_OTHER, "{upn}");
    assert!(jar.0.contains_key("onboard_session"), "{upn}: {:?}", jar.0);
    jar
}

/// One request to a route of the table, as `who` (cookies, or the API key).
async fn call(
    app: &TestApp,
    method: &Method,
    path: &str,
    cookies: Option<&Jar>,
    key: bool,
) -> reqwest::Response {
    let mut request = app.client.request(method.clone(), app.url(path));
    if let Some(jar) = cookies {
        request = request.header(header::COOKIE, jar.header());
    }
    if key {
        request = request.bearer_auth(KEY);
    }
    if *method != Method::GET {
        request = if path.starts_with("/api/") {
            request
                .header(header::CONTENT_TYPE, "application/json")
                .body("{}")
        } else {
            request.form(&[("csrf_token", "none")])
        };
    }
    request.send().await.unwrap()
}

/// A role-guarded route, asked by a viewer and by a person without a role.
fn signed_in_answers(what: &str, role: Role, as_viewer: StatusCode, as_nobody: StatusCode) {
    assert_eq!(as_nobody, StatusCode::FORBIDDEN, "{what} without a role");
    if role == Role::Viewer {
        assert!(
            as_viewer != StatusCode::FORBIDDEN && as_viewer != StatusCode::UNAUTHORIZED,
            "{what} as viewer: {as_viewer}"
        );
    } else {
        assert_eq!(as_viewer, StatusCode::FORBIDDEN, "{what} as viewer");
    }
}

#[tokio::test]
async fn every_route_answers_as_the_need_it_states() {
    let app = spawn_app_with(&config()).await;
    let viewer = sign_in(&app, "vera@northwind-it.example").await;
    let nobody = sign_in(&app, "nia@northwind-it.example").await;
    let routes = onboard_http::routes::table();
    assert!(routes.len() > 40, "the table lists every route");
    for route in &routes {
        let path = route
            .path
            .replace("{id}", "no-such-id")
            .replace("{action}", "cancel")
            .replace("{name}", "no-such-template");
        let what = format!("{} {}", route.method, route.path);
        let anonymous = call(&app, &route.method, &path, None, false).await;
        let as_viewer = call(&app, &route.method, &path, Some(&viewer), false)
            .await
            .status();
        let as_nobody = call(&app, &route.method, &path, Some(&nobody), false)
            .await
            .status();
        match route.need {
            Need::Api(role) => {
                assert_eq!(
                    anonymous.status(),
                    StatusCode::UNAUTHORIZED,
                    "{what} signed out"
                );
                let keyed = call(&app, &route.method, &path, None, true).await.status();
                assert!(
                    keyed != StatusCode::UNAUTHORIZED && keyed != StatusCode::FORBIDDEN,
                    "{what} with the API key: {keyed}"
                );
                signed_in_answers(&what, role, as_viewer, as_nobody);
            }
            Need::Page(role) => {
                if route.method == Method::GET {
                    assert_eq!(
                        anonymous.status(),
                        StatusCode::SEE_OTHER,
                        "{what} signed out"
                    );
                    assert!(
                        location(&anonymous).starts_with("/auth/sign-in?return_to="),
                        "{what}"
                    );
                } else {
                    assert_eq!(
                        anonymous.status(),
                        StatusCode::UNAUTHORIZED,
                        "{what} signed out"
                    );
                }
                signed_in_answers(&what, role, as_viewer, as_nobody);
            }
            Need::Link | Need::Anyone => {
                // Its own check answers (a link's signature, a form's CSRF token),
                // never the sign-in's.
                let status = anonymous.status();
                let to_sign_in = status == StatusCode::SEE_OTHER
                    && location(&anonymous).starts_with("/auth/sign-in");
                assert!(
                    status != StatusCode::UNAUTHORIZED && !to_sign_in,
                    "{what} needs nothing, yet answered {status} signed out"
                );
            }
        }
    }
}

#[tokio::test]
async fn the_console_open_on_loopback_signs_nobody_in() {
    // The newcomer's default: no sign-in, no keys; the pages answer at once.
    let app = crate::helpers::spawn_app().await;
    let page = app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let sign_in = app
        .client
        .get(app.url("/auth/sign-in"))
        .send()
        .await
        .unwrap();
    assert_eq!(sign_in.status(), StatusCode::NOT_FOUND);
    assert!(
        sign_in
            .text()
            .await
            .unwrap()
            .contains("no sign-in configured")
    );
}
