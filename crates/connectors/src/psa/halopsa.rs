//! HaloPSA over its REST API: OAuth client credentials (with tenant), array bodies on `/api/Tickets` and `/api/Actions`, private notes, statuses by name.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use reqwest::header::ACCEPT;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::{Mutex, OnceCell};

use super::{
    Named, NewTicket, Note, NoteKind, NoteOutcome, Psa, Ticket, TicketId, as_id, clip, finding,
    join, json_body, name_of, numeric_id, resolve, sanitize,
};
use crate::error::Error;
use crate::http::{HttpClient, create_once};

const SERVICE: &str = "halopsa";
/// Tickets per page when searching (`page_size`).
const PAGE_SIZE: usize = 50;
/// A runaway listing stops here.
const MAX_PAGES: usize = 200;
/// A token is renewed this long before it expires, so no call carries a stale one.
const EXPIRY_MARGIN: Duration = Duration::from_secs(60);

/// How to reach one HaloPSA instance.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HaloConfig {
    /// The instance, e.g. `https://acme.halopsa.com`; the API is under `/api/`.
    pub base_url: String,
    /// The authorisation server, when not `{base_url}/auth` (see `GET /api/authinfo`).
    #[serde(default)]
    pub auth_url: Option<String>,
    /// The tenant, required by Halo-hosted instances (`?tenant=` on the token call).
    #[serde(default)]
    pub tenant: Option<String>,
    /// The API application's client id.
    pub client_id: String,
    /// The API application's client secret.
    pub client_secret: SecretString,
    /// Space-separated scopes.
    #[serde(default = "default_scope")]
    pub scope: String,
    /// The action outcomes notes are posted with.
    #[serde(default)]
    pub outcomes: HaloNoteOutcomes,
}

fn default_scope() -> String {
    "all".into()
}

/// The `outcome` of each kind of note. Halo has no built-in resolution-note
/// type; a tenant with a closing action names it here.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HaloNoteOutcomes {
    /// Outcome of internal notes.
    pub internal: String,
    /// Outcome of the resolution note.
    pub resolution: String,
}

impl Default for HaloNoteOutcomes {
    fn default() -> Self {
        Self {
            internal: "Private Note".into(),
            resolution: "Private Note".into(),
        }
    }
}

#[derive(Debug)]
struct Token {
    value: SecretString,
    renew_at: Instant,
}

/// A HaloPSA client. The token is kept until shortly before it expires;
/// statuses, priorities and teams are fetched once.
#[derive(Debug)]
pub struct HaloPsa {
    http: HttpClient,
    config: HaloConfig,
    token: Mutex<Option<Token>>,
    statuses: OnceCell<Vec<Named>>,
    priorities: OnceCell<Vec<Named>>,
    teams: OnceCell<Vec<Named>>,
}

#[derive(Debug, Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct OAuthError {
    error: Option<String>,
    error_description: Option<String>,
}

impl HaloPsa {
    /// A client for the instance in `config`, calling through `http`.
    pub fn new(config: HaloConfig, http: HttpClient) -> Self {
        Self {
            http,
            config,
            token: Mutex::new(None),
            statuses: OnceCell::new(),
            priorities: OnceCell::new(),
            teams: OnceCell::new(),
        }
    }

    fn api(&self, path: &str) -> String {
        join(&join(&self.config.base_url, "api"), path)
    }

    /// A valid bearer token, fetched when there is none or it is about to expire.
    async fn token(&self) -> Result<SecretString, Error> {
        let mut slot = self.token.lock().await;
        if let Some(token) = slot.as_ref().filter(|t| Instant::now() < t.renew_at) {
            return Ok(token.value.clone());
        }
        let auth = self
            .config
            .auth_url
            .clone()
            .unwrap_or_else(|| join(&self.config.base_url, "auth"));
        let mut request = self.http.inner().post(join(&auth, "token"));
        if let Some(tenant) = &self.config.tenant {
            request = request.query(&[("tenant", tenant.as_str())]);
        }
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", self.config.client_id.as_str()),
            ("client_secret", self.config.client_secret.expose_secret()),
            ("scope", self.config.scope.as_str()),
        ];
        let response = self
            .http
            .send(request.form(&form).header(ACCEPT, "application/json"))
            .await?;
        let status = response.status();
        if !status.is_success() {
            let text = response.text().await.unwrap_or_default();
            let body: OAuthError = serde_json::from_str(&text).unwrap_or_default();
            let message = match (body.error, body.error_description) {
                (Some(error), Some(description)) => format!("{error}: {description}"),
                (Some(error), None) => error,
                _ => format!(
                    "token endpoint answered HTTP {}: {}",
                    status.as_u16(),
                    clip(&text, 200)
                ),
            };
            return Err(if status.is_client_error() {
                Error::Unauthorized {
                    service: SERVICE,
                    message,
                }
            } else {
                Error::Unavailable {
                    service: SERVICE,
                    status: status.as_u16(),
                    attempts: 1,
                }
            });
        }
        let answer: TokenAnswer =
            serde_json::from_str(&response.text().await.map_err(|source| Error::Transport {
                service: SERVICE,
                source: source.without_url(),
            })?)
            .map_err(|e| Error::Protocol {
                service: SERVICE,
                detail: format!("token answer: {e}"),
            })?;
        let lifetime = Duration::from_secs(answer.expires_in.unwrap_or(3600));
        let value = SecretString::from(answer.access_token);
        *slot = Some(Token {
            value: value.clone(),
            renew_at: Instant::now() + lifetime.saturating_sub(EXPIRY_MARGIN),
        });
        Ok(value)
    }

    /// Sends an API call with the bearer token; on a 401 the token is fetched
    /// anew once (it may have been revoked), then the 401 stands.
    async fn call(
        &self,
        build: impl Fn() -> RequestBuilder,
        what: &str,
    ) -> Result<Response, Error> {
        self.call_as(build, what, false).await
    }

    /// [`Self::call`]; `once`: a write that is not idempotent, sent with
    /// [`HttpClient::send_write`] so a lost answer is not followed by a resend.
    async fn call_as(
        &self,
        build: impl Fn() -> RequestBuilder,
        what: &str,
        once: bool,
    ) -> Result<Response, Error> {
        for fresh in [false, true] {
            if fresh {
                *self.token.lock().await = None;
            }
            let token = self.token().await?;
            let request = build()
                .bearer_auth(token.expose_secret())
                .header(ACCEPT, "application/json");
            let response = if once {
                self.http.send_write(request).await?
            } else {
                self.http.send(request).await?
            };
            if response.status() == StatusCode::UNAUTHORIZED && !fresh {
                continue;
            }
            return check(response, what).await;
        }
        Err(Error::Unauthorized {
            service: SERVICE,
            message: "the API refused a freshly issued token".into(),
        })
    }

    async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Value, Error> {
        let url = self.api(path);
        let response = self
            .call(
                || self.http.inner().request(Method::GET, &url).query(query),
                path,
            )
            .await?;
        json_body(SERVICE, response, path).await
    }

    async fn post_array(&self, path: &str, element: Value) -> Result<Value, Error> {
        self.post_array_as(path, element, false).await
    }

    /// `POST {path}` of one element, `once` as in [`Self::call_as`].
    async fn post_array_as(&self, path: &str, element: Value, once: bool) -> Result<Value, Error> {
        let url = self.api(path);
        let body = Value::Array(vec![element]);
        let response = self
            .call_as(|| self.http.inner().post(&url).json(&body), path, once)
            .await?;
        json_body(SERVICE, response, path).await
    }

    async fn named(&self, path: &str, key: &str) -> Result<Vec<Named>, Error> {
        let body = self.get(path, &[]).await?;
        let list = match &body {
            Value::Array(items) => items.as_slice(),
            other => other
                .get(key)
                .and_then(Value::as_array)
                .map_or(&[][..], Vec::as_slice),
        };
        Ok(list
            .iter()
            .filter_map(|item| {
                Some(Named {
                    id: item
                        .get("id")
                        .or_else(|| item.get("priorityid"))
                        .and_then(as_id)?,
                    name: item.get("name")?.as_str()?.to_owned(),
                })
            })
            .collect())
    }

    async fn statuses(&self) -> Result<&[Named], Error> {
        self.statuses
            .get_or_try_init(|| self.named("Status", "statuses"))
            .await
            .map(Vec::as_slice)
    }

    async fn priorities(&self) -> Result<&[Named], Error> {
        self.priorities
            .get_or_try_init(|| self.named("Priority", "priorities"))
            .await
            .map(Vec::as_slice)
    }

    async fn teams(&self) -> Result<&[Named], Error> {
        self.teams
            .get_or_try_init(|| self.named("Team", "teams"))
            .await
            .map(Vec::as_slice)
    }

    async fn ticket_from(&self, item: &Value) -> Result<Ticket, Error> {
        let id = item
            .get("id")
            .and_then(as_id)
            .and_then(|id| u64::try_from(id).ok())
            .ok_or_else(|| Error::Protocol {
                service: SERVICE,
                detail: "ticket without an id".into(),
            })?;
        let status = match item.get("status_id").and_then(as_id) {
            Some(status) => name_of(status, self.statuses().await?),
            None => String::new(),
        };
        let text = |field: &str| {
            item.get(field)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        Ok(Ticket {
            id: TicketId::from(id),
            summary: text("summary"),
            status,
            location: text("team"),
            company: item
                .get("client_id")
                .and_then(as_id)
                .map(|c| c.to_string())
                .unwrap_or_default(),
        })
    }

    /// Tickets whose summary contains `marker`, over every page of the search.
    async fn search(&self, marker: &str) -> Result<Vec<Value>, Error> {
        let mut found = Vec::new();
        for page in 1..=MAX_PAGES {
            let body = self
                .get(
                    "Tickets",
                    &[
                        ("pageinate", "true".into()),
                        ("page_size", PAGE_SIZE.to_string()),
                        ("page_no", page.to_string()),
                        ("search", marker.to_owned()),
                    ],
                )
                .await?;
            let tickets = body
                .get("tickets")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let count = tickets.len();
            found.extend(tickets.into_iter().filter(|t| {
                t.get("summary")
                    .and_then(Value::as_str)
                    .is_some_and(|s| s.contains(marker))
            }));
            let total = body
                .get("record_count")
                .and_then(Value::as_u64)
                .and_then(|n| usize::try_from(n).ok())
                .unwrap_or(0);
            if count < PAGE_SIZE || page * PAGE_SIZE >= total {
                return Ok(found);
            }
        }
        Err(Error::Protocol {
            service: SERVICE,
            detail: format!("ticket search: more than {MAX_PAGES} pages"),
        })
    }
}

/// The first ticket of a create/update answer: the object itself, an array of
/// them, or `{"tickets": [...]}` (clients in the wild meet all three).
fn first_ticket(answer: Value) -> Option<Value> {
    match answer {
        Value::Array(mut items) if !items.is_empty() => Some(items.swap_remove(0)),
        Value::Object(ref object) if object.contains_key("tickets") => object
            .get("tickets")
            .and_then(Value::as_array)
            .and_then(|items| items.first().cloned()),
        object @ Value::Object(_) => Some(object),
        _ => None,
    }
}

#[async_trait]
impl Psa for HaloPsa {
    fn name(&self) -> &'static str {
        SERVICE
    }

    async fn check_company(&self, company: &str) -> Result<Option<Error>, Error> {
        let clients = self.named("Client", "clients").await?;
        let known = company
            .trim()
            .parse::<i64>()
            .is_ok_and(|id| clients.iter().any(|c| c.id == id));
        Ok((!known).then(|| Error::UnknownName {
            service: SERVICE,
            kind: "client id (halo_psa_client_id)",
            name: company.to_owned(),
            valid: clients
                .iter()
                .map(|c| format!("{} ({})", c.id, c.name))
                .collect(),
        }))
    }

    async fn find_ticket(&self, id: &TicketId) -> Result<Option<Ticket>, Error> {
        let Some(id) = id.numeric() else {
            return Ok(None);
        };
        match self.get(&format!("Tickets/{id}"), &[]).await {
            Ok(item) => self.ticket_from(&item).await.map(Some),
            Err(Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn create_ticket(&self, new: &NewTicket) -> Result<Ticket, Error> {
        // Halo has no idempotency key: the summary carries ours, searched before creating.
        let marker = format!("[{}]", sanitize(&new.key));
        let marker = marker.as_str();
        let find = move || async move {
            match self.search(marker).await?.first() {
                Some(existing) => self.ticket_from(existing).await.map(Some),
                None => Ok(None),
            }
        };
        create_once(SERVICE, "ticket", find, move || {
            self.post_ticket(new, marker)
        })
        .await
    }

    async fn check_names(
        &self,
        location: &str,
        statuses: &[&str],
        priority: &str,
    ) -> Result<Vec<Error>, Error> {
        let mut found = Vec::new();
        finding(
            resolve(SERVICE, "team", location, self.teams().await?),
            &mut found,
        )?;
        for status in statuses {
            finding(
                resolve(SERVICE, "status", status, self.statuses().await?),
                &mut found,
            )?;
        }
        finding(
            resolve(SERVICE, "priority", priority, self.priorities().await?),
            &mut found,
        )?;
        Ok(found)
    }

    async fn set_status(&self, id: &TicketId, status: &str) -> Result<(), Error> {
        let number = numeric_id(SERVICE, id)?;
        let status_id = resolve(SERVICE, "status", status, self.statuses().await?)?;
        // The same endpoint updates when the element carries an id.
        self.post_array("Tickets", json!({"id": number, "status_id": status_id}))
            .await
            .map(drop)
    }

    async fn add_note(
        &self,
        id: &TicketId,
        kind: NoteKind,
        note: &Note,
    ) -> Result<NoteOutcome, Error> {
        let number = numeric_id(SERVICE, id)?;
        let find = move || async move {
            let actions = self
                .get("Actions", &[("ticket_id", number.to_string())])
                .await?;
            let already = actions
                .get("actions")
                .and_then(Value::as_array)
                .is_some_and(|list| {
                    list.iter().any(|a| {
                        a.get("note")
                            .and_then(Value::as_str)
                            .is_some_and(|text| note.is_in(text))
                    })
                });
            if already {
                tracing::info!(
                    psa = SERVICE,
                    ticket = number,
                    step = note.key.step(),
                    "note already on the ticket, not posted again"
                );
            }
            Ok(already.then_some(NoteOutcome::AlreadyPosted))
        };
        let outcome = match kind {
            NoteKind::Internal => &self.config.outcomes.internal,
            NoteKind::Resolution => &self.config.outcomes.resolution,
        };
        let action = json!({
            "ticket_id": number,
            "outcome": outcome,
            // Halo stores and shows notes as HTML: the text is escaped, its lines kept.
            "note": html_note(&note.body()),
            "hiddenfromuser": true,
            "sendemail": false,
        });
        let action = &action;
        let post = move || async move {
            self.post_array_as("Actions", action.clone(), true).await?;
            Ok(NoteOutcome::Posted)
        };
        create_once(SERVICE, "note", find, post).await
    }
}

impl HaloPsa {
    /// `POST Tickets`, sent once ([`HttpClient::send_write`]); the summary carries `marker`.
    async fn post_ticket(&self, new: &NewTicket, marker: &str) -> Result<Ticket, Error> {
        let client_id: u64 = new.company.trim().parse().map_err(|_| Error::Config {
            service: SERVICE,
            detail: format!(
                "company must be a Halo client id (a number), got '{}'",
                new.company
            ),
        })?;
        let team_id = resolve(SERVICE, "team", &new.location, self.teams().await?)?;
        let team = name_of(team_id, self.teams().await?);
        let status_id = resolve(SERVICE, "status", &new.status, self.statuses().await?)?;
        let priority_id = resolve(SERVICE, "priority", &new.priority, self.priorities().await?)?;
        let mut element = new.extra_fields.clone();
        element.extend([
            (
                "summary".to_owned(),
                json!(format!("{} {marker}", new.summary)),
            ),
            ("details".to_owned(), json!(new.description)),
            ("client_id".to_owned(), json!(client_id)),
            ("team".to_owned(), json!(team)),
            ("status_id".to_owned(), json!(status_id)),
            ("priority_id".to_owned(), json!(priority_id)),
        ]);
        let answer = self
            .post_array_as("Tickets", Value::Object(element), true)
            .await?;
        let created = first_ticket(answer).ok_or_else(|| Error::Protocol {
            service: SERVICE,
            detail: "create answered without a ticket".into(),
        })?;
        self.ticket_from(&created).await
    }
}

/// Plain note text as the HTML Halo shows: `<`, `>` and `&` escaped, line breaks
/// as `<br>`. The idempotency marker has none of those characters, so
/// [`Note::is_in`] still finds it in the stored note.
fn html_note(text: &str) -> String {
    html_escape::encode_text(text)
        .replace("\r\n", "\n")
        .replace('\n', "<br>")
}

/// Passes a success through; turns an error answer into our error.
async fn check(response: Response, what: &str) -> Result<Response, Error> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let text = response.text().await.unwrap_or_default();
    // Halo's error bodies vary: a JSON string, an object with a message, or text.
    let message = match serde_json::from_str::<Value>(&text) {
        Ok(Value::String(message)) => message,
        Ok(Value::Object(object)) => object
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("message") || k.eq_ignore_ascii_case("error"))
            .and_then(|(_, v)| v.as_str())
            .map_or_else(|| clip(&text, 200), str::to_owned),
        _ => clip(&text, 200),
    };
    Err(match status.as_u16() {
        401 => Error::Unauthorized {
            service: SERVICE,
            message: if message.is_empty() {
                "the API refused the access token".into()
            } else {
                message
            },
        },
        403 => Error::Forbidden {
            service: SERVICE,
            message,
        },
        404 => Error::NotFound {
            service: SERVICE,
            what: what.to_owned(),
        },
        code if code >= 500 => Error::Unavailable {
            service: SERVICE,
            status: code,
            attempts: 1,
        },
        code => Error::Rejected {
            service: SERVICE,
            status: code,
            code: "unknown".into(),
            message,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_created_ticket_is_read_from_an_object_an_array_or_a_tickets_wrapper() {
        let ticket = json!({"id": 5, "summary": "x"});

        assert_eq!(first_ticket(ticket.clone()), Some(ticket.clone()));
        assert_eq!(first_ticket(json!([ticket.clone()])), Some(ticket.clone()));
        assert_eq!(
            first_ticket(json!({"tickets": [ticket.clone()]})),
            Some(ticket)
        );
        assert_eq!(first_ticket(json!([])), None);
    }
}
