//! ConnectWise Manage over its REST API 3.0: Basic auth `company+public:private`, `clientId`, JSON Patch, `Link` paging.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;
use reqwest::header::{ACCEPT, HeaderMap, LINK};
use reqwest::{Method, RequestBuilder, Response};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::OnceCell;

use super::{
    Named, NewTicket, Note, NoteKind, NoteOutcome, Psa, Ticket, TicketId, clip, finding, join,
    json_body, numeric_id, resolve, sanitize,
};
use crate::error::Error;
use crate::http::{HttpClient, create_once};

const SERVICE: &str = "connectwise";
/// A runaway `Link` chain stops here rather than looping for ever.
const MAX_PAGES: usize = 1_000;

/// Where and how to reach a ConnectWise Manage site.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectWiseConfig {
    /// The API base with codebase, e.g.
    /// `https://api-na.myconnectwise.net/v4_6_release/apis/3.0`.
    pub base_url: String,
    /// The company id technicians sign in with.
    pub company_id: String,
    /// The API member's public key.
    pub public_key: String,
    /// The API member's private key.
    pub private_key: SecretString,
    /// The integration's `clientId` from developer.connectwise.com (mandatory since 2019).
    pub client_id: String,
    /// Records per page when listing (ConnectWise allows up to 1000).
    #[serde(default = "default_page_size")]
    pub page_size: u32,
}

fn default_page_size() -> u32 {
    100
}

/// A ConnectWise Manage client. Boards, priorities and each board's statuses
/// are fetched once and cached for the life of the client.
#[derive(Debug)]
pub struct ConnectWise {
    http: HttpClient,
    config: ConnectWiseConfig,
    boards: OnceCell<Vec<Named>>,
    priorities: OnceCell<Vec<Named>>,
    /// Statuses by board id: ConnectWise statuses belong to a board.
    statuses: Mutex<HashMap<i64, Vec<Named>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CwError {
    code: Option<String>,
    message: Option<String>,
    errors: Vec<CwValidation>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CwValidation {
    message: Option<String>,
    field: Option<String>,
}

impl ConnectWise {
    /// A client for the site in `config`, calling through `http`.
    pub fn new(config: ConnectWiseConfig, http: HttpClient) -> Self {
        Self {
            http,
            config,
            boards: OnceCell::new(),
            priorities: OnceCell::new(),
            statuses: Mutex::new(HashMap::new()),
        }
    }

    fn request(&self, method: Method, url: &str) -> RequestBuilder {
        self.http
            .inner()
            .request(method, url)
            .basic_auth(
                format!("{}+{}", self.config.company_id, self.config.public_key),
                Some(self.config.private_key.expose_secret()),
            )
            .header("clientId", &self.config.client_id)
            .header(ACCEPT, "application/json")
    }

    fn url(&self, path: &str) -> String {
        join(&self.config.base_url, path)
    }

    /// Every record of a list endpoint, following `Link: <...>; rel="next"`.
    async fn get_all(&self, path: &str, conditions: Option<&str>) -> Result<Vec<Value>, Error> {
        let page_size = self.config.page_size.clamp(1, 1000).to_string();
        let mut request = self
            .request(Method::GET, &self.url(path))
            .query(&[("page", "1"), ("pageSize", page_size.as_str())]);
        if let Some(conditions) = conditions {
            request = request.query(&[("conditions", conditions)]);
        }
        let mut items = Vec::new();
        for _ in 0..MAX_PAGES {
            let response = check(self.http.send(request).await?, path).await?;
            let next = next_link(response.headers());
            match json_body(SERVICE, response, path).await? {
                Value::Array(page) => items.extend(page),
                _ => {
                    return Err(Error::Protocol {
                        service: SERVICE,
                        detail: format!("{path}: expected a JSON array"),
                    });
                }
            }
            match next {
                // Never send the credentials to a host the base URL does not name.
                Some(url) if same_origin(&url, &self.config.base_url) => {
                    request = self.request(Method::GET, &url);
                }
                Some(_) => {
                    return Err(Error::Protocol {
                        service: SERVICE,
                        detail: format!("{path}: next-page link points to another host"),
                    });
                }
                None => return Ok(items),
            }
        }
        Err(Error::Protocol {
            service: SERVICE,
            detail: format!("{path}: more than {MAX_PAGES} pages"),
        })
    }

    async fn named(&self, path: &str) -> Result<Vec<Named>, Error> {
        Ok(self
            .get_all(path, None)
            .await?
            .iter()
            .filter_map(|item| {
                Some(Named {
                    id: item.get("id")?.as_i64()?,
                    name: item.get("name")?.as_str()?.to_owned(),
                })
            })
            .collect())
    }

    async fn boards(&self) -> Result<&[Named], Error> {
        self.boards
            .get_or_try_init(|| self.named("service/boards"))
            .await
            .map(Vec::as_slice)
    }

    async fn priorities(&self) -> Result<&[Named], Error> {
        self.priorities
            .get_or_try_init(|| self.named("service/priorities"))
            .await
            .map(Vec::as_slice)
    }

    /// The status id of `name` on board `board_id`.
    async fn status_id(&self, board_id: i64, name: &str) -> Result<i64, Error> {
        let cached = self
            .statuses
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&board_id)
            .cloned();
        let statuses = match cached {
            Some(statuses) => statuses,
            None => {
                let fetched = self
                    .named(&format!("service/boards/{board_id}/statuses"))
                    .await?;
                self.statuses
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(board_id, fetched.clone());
                fetched
            }
        };
        resolve(SERVICE, "status", name, &statuses)
    }

    async fn raw_ticket(&self, id: u64) -> Result<Option<Value>, Error> {
        let response = self
            .http
            .send(self.request(Method::GET, &self.url(&format!("service/tickets/{id}"))))
            .await?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let response = check(response, "service/tickets").await?;
        json_body(SERVICE, response, "ticket").await.map(Some)
    }

    /// `POST service/tickets`, sent once ([`HttpClient::send_write`]).
    async fn post_ticket(&self, new: &NewTicket, xref: &str) -> Result<Ticket, Error> {
        let board_id = resolve(SERVICE, "board", &new.location, self.boards().await?)?;
        let priority_id = resolve(SERVICE, "priority", &new.priority, self.priorities().await?)?;
        let status_id = self.status_id(board_id, &new.status).await?;
        let mut body = serde_json::Map::new();
        for (field, value) in &new.extra_fields {
            body.insert(field.clone(), value.clone());
        }
        let core = json!({
            "summary": new.summary.chars().take(100).collect::<String>(),
            "company": {"identifier": new.company},
            "board": {"id": board_id},
            "status": {"id": status_id},
            "priority": {"id": priority_id},
            "initialDescription": new.description,
            "externalXRef": xref,
        });
        if let Value::Object(core) = core {
            body.extend(core);
        }
        let response = self
            .http
            .send_write(
                self.request(Method::POST, &self.url("service/tickets"))
                    .json(&body),
            )
            .await?;
        let response = check(response, "service/tickets").await?;
        ticket_from(&json_body(SERVICE, response, "created ticket").await?)
    }
}

#[async_trait]
impl Psa for ConnectWise {
    fn name(&self) -> &'static str {
        SERVICE
    }

    async fn check_names(
        &self,
        location: &str,
        statuses: &[&str],
        priority: &str,
    ) -> Result<Vec<Error>, Error> {
        let mut found = Vec::new();
        let board = finding(
            resolve(SERVICE, "board", location, self.boards().await?),
            &mut found,
        )?;
        finding(
            resolve(SERVICE, "priority", priority, self.priorities().await?),
            &mut found,
        )?;
        // Statuses are per board: without the board there is nothing to look in.
        if let Some(board) = board {
            for status in statuses {
                finding(self.status_id(board, status).await, &mut found)?;
            }
        }
        Ok(found)
    }

    async fn check_company(&self, company: &str) -> Result<Option<Error>, Error> {
        let conditions = format!("identifier=\"{}\"", sanitize(company));
        let found = self.get_all("company/companies", Some(&conditions)).await?;
        Ok(found.is_empty().then(|| Error::UnknownName {
            service: SERVICE,
            kind: "company identifier (cw_manage_company_id)",
            name: company.to_owned(),
            valid: Vec::new(),
        }))
    }

    async fn find_ticket(&self, id: &TicketId) -> Result<Option<Ticket>, Error> {
        let Some(id) = id.numeric() else {
            return Ok(None);
        };
        self.raw_ticket(id)
            .await?
            .map(|t| ticket_from(&t))
            .transpose()
    }

    async fn create_ticket(&self, new: &NewTicket) -> Result<Ticket, Error> {
        // ConnectWise has no idempotency key; `externalXRef` (<= 100 chars) holds ours.
        let xref: String = sanitize(&new.key).chars().take(100).collect();
        let xref = xref.as_str();
        let find = move || async move {
            let existing = self
                .get_all("service/tickets", Some(&format!("externalXRef=\"{xref}\"")))
                .await?;
            existing.first().map(ticket_from).transpose()
        };
        create_once(SERVICE, "ticket", find, move || self.post_ticket(new, xref)).await
    }

    async fn set_status(&self, id: &TicketId, status: &str) -> Result<(), Error> {
        let number = numeric_id(SERVICE, id)?;
        let ticket = self
            .raw_ticket(number)
            .await?
            .ok_or_else(|| Error::NotFound {
                service: SERVICE,
                what: format!("ticket {number}"),
            })?;
        let board_id = ticket
            .pointer("/board/id")
            .and_then(Value::as_i64)
            .ok_or_else(|| Error::Protocol {
                service: SERVICE,
                detail: format!("ticket {number} has no board"),
            })?;
        let status_id = self.status_id(board_id, status).await?;
        let patch = json!([{"op": "replace", "path": "status", "value": {"id": status_id}}]);
        let response = self
            .http
            .send(
                self.request(
                    Method::PATCH,
                    &self.url(&format!("service/tickets/{number}")),
                )
                .json(&patch),
            )
            .await?;
        check(response, "service/tickets").await.map(drop)
    }

    async fn add_note(
        &self,
        id: &TicketId,
        kind: NoteKind,
        note: &Note,
    ) -> Result<NoteOutcome, Error> {
        let number = numeric_id(SERVICE, id)?;
        let path = format!("service/tickets/{number}/notes");
        let path = path.as_str();
        let find = move || async move {
            let existing = self.get_all(path, None).await?;
            let found = existing.iter().any(|n| {
                n.get("text")
                    .and_then(Value::as_str)
                    .is_some_and(|text| note.is_in(text))
            });
            if found {
                tracing::info!(
                    psa = SERVICE,
                    ticket = number,
                    step = note.key.step(),
                    "note already on the ticket, not posted again"
                );
            }
            Ok(found.then_some(NoteOutcome::AlreadyPosted))
        };
        create_once(SERVICE, "note", find, move || {
            self.post_note(path, kind, note)
        })
        .await
    }
}

impl ConnectWise {
    /// `POST service/tickets/{id}/notes`, sent once ([`HttpClient::send_write`]).
    async fn post_note(
        &self,
        path: &str,
        kind: NoteKind,
        note: &Note,
    ) -> Result<NoteOutcome, Error> {
        let (internal, resolution) = match kind {
            NoteKind::Internal => (true, false),
            NoteKind::Resolution => (false, true),
        };
        let body = json!({
            "text": note.body(),
            "detailDescriptionFlag": false,
            "internalAnalysisFlag": internal,
            "resolutionFlag": resolution,
            "customerUpdatedFlag": false,
            "processNotifications": false,
        });
        let response = self
            .http
            .send_write(self.request(Method::POST, &self.url(path)).json(&body))
            .await?;
        check(response, path).await?;
        Ok(NoteOutcome::Posted)
    }
}

/// Passes a success through; turns an error answer into our error, with
/// ConnectWise's own `code`, `message` and field errors.
async fn check(response: Response, path: &str) -> Result<Response, Error> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let text = response.text().await.unwrap_or_default();
    let body: CwError = serde_json::from_str(&text).unwrap_or_default();
    let mut message = body.message.clone().unwrap_or_else(|| clip(&text, 200));
    let details: Vec<String> = body
        .errors
        .iter()
        .map(|e| match (&e.message, &e.field) {
            (Some(m), Some(f)) => format!("{m} (field {f})"),
            (Some(m), None) => m.clone(),
            (None, Some(f)) => format!("field {f}"),
            (None, None) => String::new(),
        })
        .filter(|d| !d.is_empty())
        .collect();
    if !details.is_empty() {
        message = format!("{message}: {}", details.join("; "));
    }
    Err(match status.as_u16() {
        401 => Error::Unauthorized {
            service: SERVICE,
            message,
        },
        403 => Error::Forbidden {
            service: SERVICE,
            message,
        },
        404 => Error::NotFound {
            service: SERVICE,
            what: path.to_owned(),
        },
        code => Error::Rejected {
            service: SERVICE,
            status: code,
            code: body.code.unwrap_or_else(|| "unknown".into()),
            message,
        },
    })
}

fn ticket_from(value: &Value) -> Result<Ticket, Error> {
    let id = value
        .get("id")
        .and_then(Value::as_u64)
        .ok_or_else(|| Error::Protocol {
            service: SERVICE,
            detail: "ticket without an id".into(),
        })?;
    let text = |pointer: &str| {
        value
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    Ok(Ticket {
        id: TicketId::from(id),
        summary: text("/summary"),
        status: text("/status/name"),
        location: text("/board/name"),
        company: text("/company/identifier"),
    })
}

/// The `rel="next"` target of the `Link` headers, if any (RFC 8288).
fn next_link(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(LINK)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|value| {
            let mut rest = value;
            while let Some(open) = rest.find('<') {
                let after = &rest[open + 1..];
                let close = after.find('>')?;
                let target = &after[..close];
                let params_end = after[close..].find('<').map_or(after.len(), |i| close + i);
                let params = &after[close + 1..params_end];
                let is_next = params.split(';').any(|p| {
                    let p = p.trim().trim_end_matches(',').trim();
                    p.eq_ignore_ascii_case("rel=\"next\"") || p.eq_ignore_ascii_case("rel=next")
                });
                if is_next {
                    return Some(target.to_owned());
                }
                rest = &after[params_end..];
            }
            None
        })
}

/// Whether two absolute URLs share scheme, host and port.
fn same_origin(a: &str, b: &str) -> bool {
    fn origin(url: &str) -> Option<&str> {
        let scheme_end = url.find("://")? + 3;
        let host_end = url[scheme_end..]
            .find('/')
            .map_or(url.len(), |i| scheme_end + i);
        Some(&url[..host_end])
    }
    match (origin(a), origin(b)) {
        (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn the_next_link_is_found_among_next_and_last() {
        let mut headers = HeaderMap::new();
        headers.insert(
            LINK,
            HeaderValue::from_static(
                "<https://cw.example/apis/3.0/service/boards?page=3&pageSize=2>; rel=\"next\", \
                 <https://cw.example/apis/3.0/service/boards?page=9&pageSize=2>; rel=\"last\"",
            ),
        );

        assert_eq!(
            next_link(&headers).as_deref(),
            Some("https://cw.example/apis/3.0/service/boards?page=3&pageSize=2")
        );
    }

    #[test]
    fn the_last_page_has_no_next_link() {
        let mut headers = HeaderMap::new();
        headers.insert(
            LINK,
            HeaderValue::from_static("<https://cw.example/x?page=1>; rel=\"first\""),
        );

        assert_eq!(next_link(&headers), None);
        assert_eq!(next_link(&HeaderMap::new()), None);
    }

    #[test]
    fn links_to_another_host_are_not_the_same_origin() {
        assert!(same_origin(
            "http://127.0.0.1:4000/a?b=1",
            "http://127.0.0.1:4000/sandbox"
        ));
        assert!(!same_origin(
            "https://evil.example/a",
            "https://cw.example/a"
        ));
        assert!(!same_origin(
            "http://127.0.0.1:4001/a",
            "http://127.0.0.1:4000/a"
        ));
    }
}
