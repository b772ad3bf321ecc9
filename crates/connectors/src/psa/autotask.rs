//! Autotask PSA over its REST API v1.0: integration-code headers, zone discovery, PATCH with the id in the body, filter queries, picklists.
//!
//! Status, priority, queue, note type and note publish values are integers
//! that differ per tenant; they are read by label from
//! `Tickets/entityInformation/fields` and `TicketNotes/entityInformation/fields`
//! once and cached, never hard-coded.
//!
//! Autotask reports a refused write (a missing required field, a bad picklist
//! value) as HTTP 500 with `{"errors": [...]}`. A write answered 500 with such
//! messages is therefore a [`Error::Rejected`] and is not sent again; a 500
//! without them is [`Error::Unavailable`] (transient), and the workflow
//! retries the step, which is safe because creates and notes are idempotent.

use std::collections::HashMap;

use async_trait::async_trait;
use reqwest::header::{ACCEPT, HeaderValue};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::OnceCell;

use super::{
    Named, NewTicket, Note, NoteKind, NoteOutcome, Psa, Ticket, TicketId, as_id, clip, finding,
    join, json_body, name_of, numeric_id, resolve, sanitize,
};
use crate::error::Error;
use crate::http::{HttpClient, Verdict, create_once, transient_status};

const SERVICE: &str = "autotask";
/// Autotask returns at most 500 records per page.
const MAX_RECORDS: u32 = 500;
/// A runaway `nextPageUrl` chain stops here.
const MAX_PAGES: usize = 200;

/// How to reach one Autotask tenant.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutotaskConfig {
    /// The tracking identifier of the integration (`ApiIntegrationCode`).
    pub integration_code: String,
    /// The API-only user's name (`UserName`, an e-mail address).
    pub username: String,
    /// The API user's secret (`Secret`).
    pub secret: SecretString,
    /// The zone's REST root, e.g. `https://webservices5.autotask.net/atservicesrest/`.
    /// When absent it is discovered from [`AutotaskConfig::discovery_url`].
    #[serde(default)]
    pub zone_url: Option<String>,
    /// Where zones are discovered (`.../atservicesrest/`); the `v1.0/zoneInformation`
    /// call there needs no credentials.
    #[serde(default = "default_discovery_url")]
    pub discovery_url: String,
    /// Picklist labels of the notes this client writes.
    #[serde(default)]
    pub notes: AutotaskNoteLabels,
    /// Records per query page (`MaxRecords`, at most 500).
    #[serde(default = "default_page_size")]
    pub page_size: u32,
}

fn default_page_size() -> u32 {
    MAX_RECORDS
}

fn default_discovery_url() -> String {
    "https://webservices.autotask.net/atservicesrest/".into()
}

/// The `noteType` and `publish` picklist labels used for each kind of note,
/// as the tenant names them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AutotaskNoteLabels {
    /// Note type of internal notes.
    pub internal_note_type: String,
    /// Publish setting of internal notes.
    pub internal_publish: String,
    /// Note type of the resolution note.
    pub resolution_note_type: String,
    /// Publish setting of the resolution note.
    pub resolution_publish: String,
}

impl Default for AutotaskNoteLabels {
    fn default() -> Self {
        Self {
            internal_note_type: "Task Notes".into(),
            internal_publish: "Internal Only".into(),
            resolution_note_type: "Task Summary".into(),
            resolution_publish: "All Autotask Users".into(),
        }
    }
}

/// Active picklist values by field name (lower-cased).
#[derive(Debug, Default)]
struct Picklists(HashMap<String, Vec<Named>>);

impl Picklists {
    fn field(&self, name: &str) -> &[Named] {
        self.0
            .get(&name.to_ascii_lowercase())
            .map_or(&[], Vec::as_slice)
    }
}

/// An Autotask client. The zone and the picklists are fetched once.
#[derive(Debug)]
pub struct Autotask {
    http: HttpClient,
    config: AutotaskConfig,
    zone: OnceCell<String>,
    ticket_fields: OnceCell<Picklists>,
    note_fields: OnceCell<Picklists>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct AtErrors {
    errors: Vec<String>,
}

/// Whether a request changes data (its 500s may be refusals, see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Read,
    /// An update: sending it twice does no harm.
    Write,
    /// A create: sent once ([`HttpClient::send_write_with`]).
    Create,
}

impl Autotask {
    /// A client for the tenant in `config`, calling through `http`.
    pub fn new(config: AutotaskConfig, http: HttpClient) -> Self {
        Self {
            http,
            config,
            zone: OnceCell::new(),
            ticket_fields: OnceCell::new(),
            note_fields: OnceCell::new(),
        }
    }

    /// The zone's `.../v1.0/` root.
    async fn root(&self) -> Result<&str, Error> {
        self.zone
            .get_or_try_init(|| async {
                let zone = match &self.config.zone_url {
                    Some(url) => url.clone(),
                    None => self.discover_zone().await?,
                };
                Ok::<_, Error>(join(&zone, "v1.0/"))
            })
            .await
            .map(String::as_str)
    }

    async fn discover_zone(&self) -> Result<String, Error> {
        let url = join(&self.config.discovery_url, "v1.0/zoneInformation");
        let request = self
            .http
            .inner()
            .get(url)
            .query(&[("user", self.config.username.as_str())])
            .header(ACCEPT, "application/json");
        let response = check(
            self.http.send(request).await?,
            Kind::Read,
            "zoneInformation",
        )
        .await?;
        let body = json_body(SERVICE, response, "zoneInformation").await?;
        body.get("url")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| Error::Protocol {
                service: SERVICE,
                detail: "zoneInformation without a url".into(),
            })
    }

    fn request(&self, method: Method, url: &str) -> Result<RequestBuilder, Error> {
        let mut secret =
            HeaderValue::from_str(self.config.secret.expose_secret()).map_err(|_| {
                Error::Config {
                    service: SERVICE,
                    detail: "secret contains characters a header cannot carry".into(),
                }
            })?;
        secret.set_sensitive(true);
        Ok(self
            .http
            .inner()
            .request(method, url)
            .header("ApiIntegrationCode", &self.config.integration_code)
            .header("UserName", &self.config.username)
            .header("Secret", secret)
            .header(ACCEPT, "application/json"))
    }

    async fn send(
        &self,
        request: RequestBuilder,
        kind: Kind,
        what: &str,
    ) -> Result<Response, Error> {
        let response = match kind {
            Kind::Read => self.http.send(request).await?,
            // Autotask answers a refused create with 500 and its errors: an answer.
            Kind::Create => self.http.send_write_with(request, &[502, 504]).await?,
            Kind::Write => {
                self.http
                    .send_with(request, |status| {
                        if status == StatusCode::INTERNAL_SERVER_ERROR {
                            Verdict::Done
                        } else {
                            transient_status(status)
                        }
                    })
                    .await?
            }
        };
        check(response, kind, what).await
    }

    async fn get(&self, path: &str) -> Result<Value, Error> {
        let url = join(self.root().await?, path);
        let response = self
            .send(self.request(Method::GET, &url)?, Kind::Read, path)
            .await?;
        json_body(SERVICE, response, path).await
    }

    /// Every record of `POST {entity}/query` with `filter`, following `nextPageUrl`.
    async fn query(&self, entity: &str, filter: Value) -> Result<Vec<Value>, Error> {
        let root = self.root().await?.to_owned();
        let what = format!("{entity}/query");
        let page_size = self.config.page_size.clamp(1, MAX_RECORDS);
        let body = json!({"MaxRecords": page_size, "filter": filter});
        let mut request = self.request(Method::POST, &join(&root, &what))?.json(&body);
        let mut items = Vec::new();
        for _ in 0..MAX_PAGES {
            let response = self.send(request, Kind::Read, &what).await?;
            let page = json_body(SERVICE, response, &what).await?;
            if let Some(found) = page.get("items").and_then(Value::as_array) {
                items.extend(found.iter().cloned());
            }
            match page
                .pointer("/pageDetails/nextPageUrl")
                .and_then(Value::as_str)
            {
                Some(next) if next.starts_with(root.trim_end_matches("v1.0/")) => {
                    request = self.request(Method::GET, next)?;
                }
                Some(_) => {
                    return Err(Error::Protocol {
                        service: SERVICE,
                        detail: format!("{what}: nextPageUrl points outside the zone"),
                    });
                }
                None => return Ok(items),
            }
        }
        Err(Error::Protocol {
            service: SERVICE,
            detail: format!("{what}: more than {MAX_PAGES} pages"),
        })
    }

    async fn picklists(&self, entity: &str) -> Result<Picklists, Error> {
        let info = self
            .get(&format!("{entity}/entityInformation/fields"))
            .await?;
        let fields = info
            .get("fields")
            .and_then(Value::as_array)
            .ok_or_else(|| Error::Protocol {
                service: SERVICE,
                detail: format!("{entity}/entityInformation/fields without fields"),
            })?;
        let mut lists = HashMap::new();
        for field in fields {
            let Some(name) = field.get("name").and_then(Value::as_str) else {
                continue;
            };
            let Some(values) = field.get("picklistValues").and_then(Value::as_array) else {
                continue;
            };
            let named = values
                .iter()
                .filter(|v| v.get("isActive").and_then(Value::as_bool).unwrap_or(true))
                .filter_map(|v| {
                    Some(Named {
                        id: as_id(v.get("value")?)?,
                        name: v.get("label")?.as_str()?.to_owned(),
                    })
                })
                .collect();
            lists.insert(name.to_ascii_lowercase(), named);
        }
        Ok(Picklists(lists))
    }

    async fn ticket_fields(&self) -> Result<&Picklists, Error> {
        self.ticket_fields
            .get_or_try_init(|| self.picklists("Tickets"))
            .await
    }

    async fn note_fields(&self) -> Result<&Picklists, Error> {
        self.note_fields
            .get_or_try_init(|| self.picklists("TicketNotes"))
            .await
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
        let fields = self.ticket_fields().await?;
        let label = |field: &str| {
            item.get(field)
                .and_then(as_id)
                .map(|value| name_of(value, fields.field(field)))
                .unwrap_or_default()
        };
        Ok(Ticket {
            id: TicketId::from(id),
            summary: item
                .get("title")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            status: label("status"),
            location: label("queueID"),
            company: item
                .get("companyID")
                .and_then(as_id)
                .map(|c| c.to_string())
                .unwrap_or_default(),
        })
    }

    async fn fetch_ticket(&self, id: u64) -> Result<Option<Value>, Error> {
        match self.get(&format!("Tickets/{id}")).await {
            Ok(body) => Ok(body.get("item").filter(|item| !item.is_null()).cloned()),
            Err(Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[async_trait]
impl Psa for Autotask {
    fn name(&self) -> &'static str {
        SERVICE
    }

    async fn find_ticket(&self, id: &TicketId) -> Result<Option<Ticket>, Error> {
        let Some(id) = id.numeric() else {
            return Ok(None);
        };
        match self.fetch_ticket(id).await? {
            Some(item) => self.ticket_from(&item).await.map(Some),
            None => Ok(None),
        }
    }

    async fn create_ticket(&self, new: &NewTicket) -> Result<Ticket, Error> {
        // Autotask has no idempotency key: the title carries ours, searched before creating.
        let marker = format!("[{}]", sanitize(&new.key));
        let marker = marker.as_str();
        let find = move || async move {
            let existing = self
                .query(
                    "Tickets",
                    json!([{"op": "contains", "field": "title", "value": marker}]),
                )
                .await?;
            match existing.first() {
                Some(item) => self.ticket_from(item).await.map(Some),
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
        let fields = self.ticket_fields().await?;
        let mut found = Vec::new();
        finding(
            resolve(SERVICE, "queue", location, fields.field("queueID")),
            &mut found,
        )?;
        for status in statuses {
            finding(
                resolve(SERVICE, "status", status, fields.field("status")),
                &mut found,
            )?;
        }
        finding(
            resolve(SERVICE, "priority", priority, fields.field("priority")),
            &mut found,
        )?;
        Ok(found)
    }

    async fn check_company(&self, company: &str) -> Result<Option<Error>, Error> {
        let unknown = || Error::UnknownName {
            service: SERVICE,
            kind: "company id (autotask_company_id)",
            name: company.to_owned(),
            valid: Vec::new(),
        };
        let Ok(id) = company.trim().parse::<u64>() else {
            return Ok(Some(unknown()));
        };
        let found = self
            .query(
                "Companies",
                json!([{"op": "eq", "field": "id", "value": id}]),
            )
            .await?;
        Ok(found.is_empty().then(unknown))
    }

    async fn set_status(&self, id: &TicketId, status: &str) -> Result<(), Error> {
        let number = numeric_id(SERVICE, id)?;
        let fields = self.ticket_fields().await?;
        let value = resolve(SERVICE, "status", status, fields.field("status"))?;
        let url = join(self.root().await?, "Tickets");
        // PATCH carries the id in the body, never in the path.
        self.send(
            self.request(Method::PATCH, &url)?
                .json(&json!({"id": number, "status": value})),
            Kind::Write,
            "Tickets",
        )
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
            let existing = self
                .query(
                    "TicketNotes",
                    json!([
                        {"op": "eq", "field": "ticketID", "value": number},
                        {"op": "contains", "field": "description", "value": note.key.marker()},
                    ]),
                )
                .await?;
            if !existing.is_empty() {
                tracing::info!(
                    psa = SERVICE,
                    ticket = number,
                    step = note.key.step(),
                    "note already on the ticket, not posted again"
                );
            }
            Ok((!existing.is_empty()).then_some(NoteOutcome::AlreadyPosted))
        };
        create_once(SERVICE, "note", find, move || {
            self.post_note(number, kind, note)
        })
        .await
    }
}

impl Autotask {
    /// `POST Tickets/{id}/Notes`, sent once.
    async fn post_note(
        &self,
        number: u64,
        kind: NoteKind,
        note: &Note,
    ) -> Result<NoteOutcome, Error> {
        let labels = &self.config.notes;
        let (note_type, publish) = match kind {
            NoteKind::Internal => (&labels.internal_note_type, &labels.internal_publish),
            NoteKind::Resolution => (&labels.resolution_note_type, &labels.resolution_publish),
        };
        let fields = self.note_fields().await?;
        let note_type = resolve(SERVICE, "note type", note_type, fields.field("noteType"))?;
        let publish = resolve(
            SERVICE,
            "note publish setting",
            publish,
            fields.field("publish"),
        )?;
        let path = format!("Tickets/{number}/Notes");
        let url = join(self.root().await?, &path);
        let body = json!({
            "ticketID": number,
            "title": format!("Onboard: {}", note.key.step()),
            "description": note.body(),
            "noteType": note_type,
            "publish": publish,
        });
        self.send(
            self.request(Method::POST, &url)?.json(&body),
            Kind::Create,
            &path,
        )
        .await?;
        Ok(NoteOutcome::Posted)
    }
}

impl Autotask {
    /// `POST Tickets`, sent once; the title carries `marker`.
    async fn post_ticket(&self, new: &NewTicket, marker: &str) -> Result<Ticket, Error> {
        let company: u64 = new.company.trim().parse().map_err(|_| Error::Config {
            service: SERVICE,
            detail: format!(
                "company must be an Autotask company id (a number), got '{}'",
                new.company
            ),
        })?;
        let fields = self.ticket_fields().await?;
        let queue = resolve(SERVICE, "queue", &new.location, fields.field("queueID"))?;
        let status = resolve(SERVICE, "status", &new.status, fields.field("status"))?;
        let priority = resolve(SERVICE, "priority", &new.priority, fields.field("priority"))?;
        let room = 255usize.saturating_sub(marker.chars().count() + 1);
        let title = format!(
            "{} {marker}",
            new.summary.chars().take(room).collect::<String>()
        );
        let mut body = new.extra_fields.clone();
        body.extend([
            ("companyID".to_owned(), json!(company)),
            ("title".to_owned(), json!(title)),
            ("description".to_owned(), json!(new.description)),
            ("status".to_owned(), json!(status)),
            ("priority".to_owned(), json!(priority)),
            ("queueID".to_owned(), json!(queue)),
        ]);
        let url = join(self.root().await?, "Tickets");
        let response = self
            .send(
                self.request(Method::POST, &url)?.json(&body),
                Kind::Create,
                "Tickets",
            )
            .await?;
        let created = json_body(SERVICE, response, "created ticket").await?;
        let item_id = created
            .get("itemId")
            .and_then(as_id)
            .and_then(|id| u64::try_from(id).ok())
            .ok_or_else(|| Error::Protocol {
                service: SERVICE,
                detail: "create answered without itemId".into(),
            })?;
        let item = self
            .fetch_ticket(item_id)
            .await?
            .ok_or_else(|| Error::Protocol {
                service: SERVICE,
                detail: format!("created ticket {item_id} cannot be read back"),
            })?;
        self.ticket_from(&item).await
    }
}

/// Passes a success through; turns an error answer into our error with
/// Autotask's `errors` messages.
async fn check(response: Response, kind: Kind, what: &str) -> Result<Response, Error> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let text = response.text().await.unwrap_or_default();
    let errors = serde_json::from_str::<AtErrors>(&text)
        .map(|e| e.errors)
        .unwrap_or_default();
    let message = if errors.is_empty() {
        clip(&text, 200)
    } else {
        errors.join("; ")
    };
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
            what: what.to_owned(),
        },
        500 if kind != Kind::Read && !errors.is_empty() => Error::Rejected {
            service: SERVICE,
            status: 500,
            code: "errors".into(),
            message,
        },
        code if code >= 500 => Error::Unavailable {
            service: SERVICE,
            status: code,
            attempts: 1,
        },
        code => Error::Rejected {
            service: SERVICE,
            status: code,
            code: "errors".into(),
            message,
        },
    })
}
