//! The HTML pages: the onboarding form at `/`, the offboarding form at `/offboard`
//! (a run's own page is [`crate::run_page`]'s; the decision pages and the pending
//! approvals, [`crate::decisions`]').
//!
//! Plain HTML forms, no script: they post `application/x-www-form-urlencoded`,
//! turned here into the same JSON form the API takes.

use std::collections::BTreeMap;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use onboard_domain::FieldError;
use serde_json::{Map, Value};

use crate::access::Actor;
use crate::error::ApiError;
use crate::{HttpState, OrganizationSummary, api, csrf};

/// Escapes text for HTML.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole page around `body`.
pub fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{t} · Onboard</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem}}\
         label{{display:block;margin:.6rem 0 .2rem}}input,select{{width:100%;padding:.3rem}}\
         button{{margin-top:1rem;padding:.5rem 1.2rem}}.err,.field-error{{color:#a00}}.field-error{{margin:.2rem 0}}\
         [aria-invalid=true]{{border:2px solid #a00}}td,th{{text-align:left;padding:.2rem .6rem}}</style>\
         </head><body><h1>{t}</h1>{body}</body></html>",
        t = esc(title)
    ))
}

/// The `<option>`s of the organization select, `selected` chosen.
fn organization_options(
    organizations: &[OrganizationSummary],
    selected: Option<&String>,
) -> String {
    let mut options = String::new();
    for o in organizations {
        let chosen = if selected == Some(&o.id) {
            " selected"
        } else {
            ""
        };
        options.push_str(&format!(
            "<option value=\"{}\"{chosen}>{} ({})</option>",
            esc(&o.id),
            esc(&o.name),
            esc(&o.domain)
        ));
    }
    options
}

/// What a form page shows besides its inputs: the CSRF token, and after a refused
/// submission the field errors.
struct FormContext<'a> {
    csrf: &'a str,
    errors: &'a [FieldError],
}

impl FormContext<'_> {
    /// The message of the first error on `input` (an input's name; list items
    /// such as `licenses[1]` belong to their list's input).
    fn error_for(&self, input: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|e| input_of(&e.field) == input)
            .map(|e| e.message.as_str())
    }

    /// The list of every error above the form, for a screen reader to announce.
    fn summary(&self) -> String {
        if self.errors.is_empty() {
            return String::new();
        }
        let mut list = String::from(
            "<div class=\"err\" role=\"alert\"><p>Nothing was started: please correct these fields.</p><ul>",
        );
        for fe in self.errors {
            list.push_str(&format!(
                "<li><a href=\"#{}\">{}</a>: {}</li>",
                esc(&input_of(&fe.field)),
                esc(&fe.field),
                esc(&fe.message)
            ));
        }
        list.push_str("</ul></div>");
        list
    }

    fn hidden(&self) -> String {
        format!(
            "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
            csrf::FIELD,
            esc(self.csrf)
        )
    }
}

/// The input that holds an API field: `licenses[1]` -> `licenses`,
/// `actions.remove_groups` -> `action.remove_groups`.
fn input_of(field: &str) -> String {
    let base = field.split('[').next().unwrap_or(field);
    match base.strip_prefix("actions.") {
        Some(action) => format!("action.{action}"),
        None => base.to_owned(),
    }
}

/// An input's error, placed right after it and tied to it for screen readers.
fn error_after(field: &str, error: Option<&str>) -> (String, String) {
    match error {
        Some(message) => (
            format!(
                " aria-invalid=\"true\" aria-describedby=\"{}-error\"",
                esc(field)
            ),
            format!(
                "<p class=\"field-error\" id=\"{}-error\">{}</p>",
                esc(field),
                esc(message)
            ),
        ),
        None => (String::new(), String::new()),
    }
}

/// A labelled text input with its value and error.
fn text_input(field: &str, label: &str, value: &str, error: Option<&str>) -> String {
    let (attrs, after) = error_after(field, error);
    format!(
        "<label for=\"{f}\">{label}</label><input id=\"{f}\" name=\"{f}\" value=\"{}\"{attrs}>{after}",
        esc(value),
        f = esc(field),
    )
}

/// A labelled select with `selected` chosen and its error.
fn select_input(
    field: &str,
    label: &str,
    options: &[(&str, &str)],
    selected: Option<&str>,
    error: Option<&str>,
) -> String {
    let (attrs, after) = error_after(field, error);
    let mut s = format!(
        "<label for=\"{f}\">{label}</label><select id=\"{f}\" name=\"{f}\"{attrs}>",
        f = esc(field)
    );
    for (v, text) in options {
        let sel = if selected == Some(*v) {
            " selected"
        } else {
            ""
        };
        s.push_str(&format!(
            "<option value=\"{}\"{sel}>{}</option>",
            esc(v),
            esc(text)
        ));
    }
    s.push_str("</select>");
    s.push_str(&after);
    s
}

fn organization_select(
    organizations: &[OrganizationSummary],
    values: &BTreeMap<String, String>,
    ctx: &FormContext<'_>,
) -> String {
    let (attrs, after) = error_after("organization", ctx.error_for("organization"));
    format!(
        "<label for=\"organization\">Organization</label><select id=\"organization\" name=\"organization\"{attrs}>{}</select>{after}",
        organization_options(organizations, values.get("organization"))
    )
}

/// A form page with its CSRF cookie set when the browser had none.
fn form_response(status: StatusCode, title: &str, body: &str, token: &csrf::FormToken) -> Response {
    with_token((status, page(title, body)).into_response(), token)
}

/// A page carrying a form: its CSRF cookie set when the browser had none, never cached.
pub(crate) fn with_token(mut res: Response, token: &csrf::FormToken) -> Response {
    if let Some(cookie) = &token.set_cookie {
        res.headers_mut().append(header::SET_COOKIE, cookie.clone());
    }
    // A form carrying a token is for this browser only.
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    res
}

/// The answer to a form posted without a valid token: nothing is started.
pub(crate) fn csrf_refused(form_path: &str) -> Response {
    (
        StatusCode::FORBIDDEN,
        page(
            "Form refused",
            &format!(
                "<p>This form was refused: it did not come from Onboard's own page in this \
                 browser, or the page is too old. Nothing was started.</p>\
                 <p><a href=\"{}\">Reload the form</a> and submit it again.</p>",
                esc(form_path)
            ),
        ),
    )
        .into_response()
}

/// Takes the CSRF field out of a submitted form; whether it was valid.
fn take_token(
    state: &HttpState,
    headers: &HeaderMap,
    values: &mut BTreeMap<String, String>,
) -> bool {
    let token = values.remove(csrf::FIELD);
    csrf::verify(state, headers, token.as_deref())
}

/// `GET /`: the dashboard ([`crate::dashboard`]) with the onboarding form below it;
/// `?fragment=runs` answers the runs section alone (the page's live refresh).
pub async fn form_page(
    State(state): State<HttpState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let fragment = raw
        .as_deref()
        .is_some_and(|q| q.split('&').any(|p| p == "fragment=runs"));
    if fragment {
        return match crate::dashboard::runs_fragment(&state, raw.as_deref()).await {
            Ok(html) => Html(html).into_response(),
            Err(e) => e.into_response(),
        };
    }
    let token = csrf::issue(&state, &headers);
    let ctx = FormContext {
        csrf: &token.token,
        errors: &[],
    };
    let orgs = match state.runtime.organizations().await {
        Ok(orgs) => orgs,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let form =
        crate::onboarding_form::render(&state, &orgs, &BTreeMap::new(), ctx.csrf, ctx.errors, None)
            .await;
    match crate::dashboard::render(&state, raw.as_deref(), &orgs, &form).await {
        Ok(html) => with_token(Html(html).into_response(), &token),
        Err(ApiError::Invalid(errors)) => {
            // A bad filter in the address bar: say so on the page.
            let list: String = errors
                .iter()
                .map(|e| format!("<li>{}: {}</li>", esc(&e.field), esc(&e.message)))
                .collect();
            (
                StatusCode::BAD_REQUEST,
                page(
                    "Bad filter",
                    &format!("<ul class=\"err\" role=\"alert\">{list}</ul><p><a href=\"/\">Show every run</a></p>"),
                ),
            )
                .into_response()
        }
        Err(e) => e.into_response(),
    }
}

/// The urlencoded form as the API's JSON form: blank fields left out, lists split.
fn to_json_form(values: &BTreeMap<String, String>) -> Value {
    let mut form = Map::new();
    for (k, v) in values {
        let v = v.trim();
        if v.is_empty() {
            continue;
        }
        if crate::onboarding_form::LIST_FIELDS.contains(&k.as_str()) {
            let items: Vec<Value> = v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Value::String(s.to_owned()))
                .collect();
            form.insert(k.clone(), Value::Array(items));
        } else {
            form.insert(k.clone(), Value::String(v.to_owned()));
        }
    }
    Value::Object(form)
}

/// `POST /onboardings/plan`: the form's "Show the plan" without script: the form
/// again with what was typed, and the plan beside it (or the field errors).
/// Nothing is created, sent or ticketed.
pub async fn plan_form(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let mut values = crate::onboarding_form::form_values(pairs);
    if !take_token(&state, &headers, &mut values) {
        return csrf_refused("/");
    }
    let form = to_json_form(&values);
    let (status, plan, errors) = match crate::plan::onboarding_plan(&state, &form).await {
        Ok(plan) => {
            let tz = match values.get("organization") {
                Some(org) => match state.runtime.variables(org).await {
                    Ok(Some(v)) => v.time_zone.zone().clone(),
                    _ => jiff::tz::TimeZone::UTC,
                },
                None => jiff::tz::TimeZone::UTC,
            };
            (
                StatusCode::OK,
                Some(crate::onboarding_form::PlanView::of(&plan, &tz)),
                Vec::new(),
            )
        }
        Err(ApiError::Invalid(errors)) => (StatusCode::BAD_REQUEST, None, errors),
        Err(e) => return e.into_response(),
    };
    let token = csrf::issue(&state, &headers);
    let orgs = organizations(&state).await;
    let body =
        crate::onboarding_form::render(&state, &orgs, &values, &token.token, &errors, plan).await;
    form_response(status, "New user", &body, &token)
}

/// `POST /onboardings`: the HTML form's submission.
pub async fn submit_form(
    State(state): State<HttpState>,
    Extension(actor): Extension<Actor>,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let mut values = crate::onboarding_form::form_values(pairs);
    if !take_token(&state, &headers, &mut values) {
        return csrf_refused("/");
    }
    match api::accept_onboarding(&state, &actor, None, to_json_form(&values)).await {
        Ok(answer) => {
            let id = answer.get("id").and_then(Value::as_str).unwrap_or_default();
            Redirect::to(&format!("/onboardings/{}", esc(id))).into_response()
        }
        Err(e) => match api::field_errors(&e) {
            Some(errors) => {
                let token = csrf::issue(&state, &headers);
                let ctx = FormContext {
                    csrf: &token.token,
                    errors,
                };
                let orgs = organizations(&state).await;
                let body = crate::onboarding_form::render(
                    &state, &orgs, &values, ctx.csrf, ctx.errors, None,
                )
                .await;
                form_response(StatusCode::BAD_REQUEST, "New user", &body, &token)
            }
            None => e.into_response(),
        },
    }
}

fn offboarding_form_html(
    organizations: &[OrganizationSummary],
    values: &BTreeMap<String, String>,
    ctx: &FormContext<'_>,
) -> String {
    let value = |k: &str| values.get(k).map_or("", String::as_str);
    let mut inputs = String::new();
    for (field, label) in [
        ("user_principal_name", "User (UPN, required)"),
        ("ticket_id", "Existing PSA ticket"),
        (
            "scheduled_at",
            "When (RFC 3339, or YYYY-MM-DD for the end of that working day; empty: now)",
        ),
        ("delegate_to", "Delegate to (a UPN; default the manager)"),
    ] {
        let input = text_input(field, label, value(field), ctx.error_for(field));
        if matches!(field, "user_principal_name" | "delegate_to") {
            // Found by search in the tenant (`/assets/console.js`); typed without script.
            inputs.push_str(&input.replacen(
                "<input ",
                &format!(
                    "<input list=\"{field}-options\" autocomplete=\"off\" data-search=\"users\" "
                ),
                1,
            ));
            inputs.push_str(&format!("<datalist id=\"{field}-options\"></datalist>"));
        } else {
            inputs.push_str(&input);
        }
    }
    let mut actions = String::new();
    // Every action the API knows, so the form cannot drift from it.
    for action in onboard_domain::request::OffboardingActions::NAMES {
        let name = format!("action.{action}");
        actions.push_str(&select_input(
            &name,
            &action.replace('_', " "),
            &[
                ("", "the organization's setting"),
                ("true", "yes"),
                ("false", "no"),
            ],
            values.get(&name).map(String::as_str),
            ctx.error_for(&name),
        ));
    }
    format!(
        "{}<form method=\"post\" action=\"/offboardings\" id=\"offboarding-form\" data-plan=\"/api/offboardings/plan\">{}{}\
         {inputs}<h2>Actions</h2>{actions}<button type=\"submit\">Start offboarding</button></form>\
         <section id=\"preview\" aria-live=\"polite\" aria-labelledby=\"preview-heading\">\
         <h2 id=\"preview-heading\">What will be removed</h2><div id=\"preview-body\">\
         <p>A preview shows here once the user is named (it needs JavaScript; the form works without it).</p></div></section>\
         <p><a href=\"/\">Onboard a user</a> · <a href=\"/approvals\">Pending approvals</a></p>\
         <script src=\"/assets/console.js\" defer></script>",
        ctx.summary(),
        ctx.hidden(),
        organization_select(organizations, values, ctx),
    )
}

/// `GET /offboard`: the offboarding form.
pub async fn offboarding_form_page(State(state): State<HttpState>, headers: HeaderMap) -> Response {
    let token = csrf::issue(&state, &headers);
    let ctx = FormContext {
        csrf: &token.token,
        errors: &[],
    };
    match state.runtime.organizations().await {
        Ok(orgs) => form_response(
            StatusCode::OK,
            "Offboard a user",
            &offboarding_form_html(&orgs, &BTreeMap::new(), &ctx),
            &token,
        ),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// The urlencoded offboarding form as the API's JSON form: blank fields left out,
/// `action.NAME` selects gathered into `actions`.
fn to_offboarding_json_form(values: &BTreeMap<String, String>) -> Value {
    let mut form = Map::new();
    let mut actions = Map::new();
    for (k, v) in values {
        let v = v.trim();
        if v.is_empty() {
            continue;
        }
        if let Some(action) = k.strip_prefix("action.") {
            let on = match v {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                // Left for the API to refuse with a field error.
                other => Value::String(other.to_owned()),
            };
            actions.insert(action.to_owned(), on);
        } else {
            form.insert(k.clone(), Value::String(v.to_owned()));
        }
    }
    if !actions.is_empty() {
        form.insert("actions".into(), Value::Object(actions));
    }
    Value::Object(form)
}

/// `POST /offboardings`: the HTML offboarding form's submission.
pub async fn submit_offboarding_form(
    State(state): State<HttpState>,
    Extension(actor): Extension<Actor>,
    headers: HeaderMap,
    Form(mut values): Form<BTreeMap<String, String>>,
) -> Response {
    if !take_token(&state, &headers, &mut values) {
        return csrf_refused("/offboard");
    }
    match api::accept_offboarding(&state, &actor, None, to_offboarding_json_form(&values)).await {
        Ok(answer) => {
            let id = answer.get("id").and_then(Value::as_str).unwrap_or_default();
            Redirect::to(&format!("/offboardings/{}", esc(id))).into_response()
        }
        Err(e) => match api::field_errors(&e) {
            Some(errors) => {
                let token = csrf::issue(&state, &headers);
                let ctx = FormContext {
                    csrf: &token.token,
                    errors,
                };
                let body = offboarding_form_html(&organizations(&state).await, &values, &ctx);
                form_response(StatusCode::BAD_REQUEST, "Offboard a user", &body, &token)
            }
            None => e.into_response(),
        },
    }
}

/// The organizations for a form shown again with its errors (none if they cannot be read:
/// the errors matter more than the list).
async fn organizations(state: &HttpState) -> Vec<OrganizationSummary> {
    state.runtime.organizations().await.unwrap_or_else(|e| {
        tracing::error!(error = %e, "listing organizations failed");
        Vec::new()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_html_form_becomes_the_api_form() {
        let values: BTreeMap<String, String> = [
            ("organization", "contoso"),
            ("first_name", " Ada "),
            ("licenses", "SPB, O365_BUSINESS_PREMIUM,"),
            ("job_title", ""),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(
            to_json_form(&values),
            json!({"organization": "contoso", "first_name": "Ada",
                   "licenses": ["SPB", "O365_BUSINESS_PREMIUM"]})
        );
    }

    #[test]
    fn the_html_offboarding_form_becomes_the_api_form() {
        let values: BTreeMap<String, String> = [
            ("organization", "contoso"),
            ("user_principal_name", " ada@contoso.example "),
            ("scheduled_at", ""),
            ("action.remove_groups", "false"),
            ("action.reset_password", "true"),
            ("action.revoke_sessions", ""),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(
            to_offboarding_json_form(&values),
            json!({"organization": "contoso", "user_principal_name": "ada@contoso.example",
                   "actions": {"remove_groups": false, "reset_password": true}})
        );
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
