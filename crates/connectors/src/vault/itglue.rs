//! IT Glue: passwords as JSON:API `passwords` under the organization.

use std::collections::HashMap;

use async_trait::async_trait;
use reqwest::{RequestBuilder, Response};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    PasswordVault, StoredSecret, VaultEntry, base_url, failure, marker, notes_with_marker,
    read_json,
};
use crate::error::Error;
use crate::http::HttpClient;

const SERVICE: &str = "itglue";
const JSON_API: &str = "application/vnd.api+json";

/// Stores passwords in IT Glue (`x-api-key` with Password Access).
#[derive(Debug, Clone)]
pub struct ItGlueVault {
    http: HttpClient,
    base: String,
    api_key: SecretString,
    organization_ids: HashMap<String, String>,
    password_category_id: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct Document<T> {
    data: T,
}

#[derive(Debug, Deserialize)]
struct Resource {
    id: String,
    #[serde(default)]
    attributes: Value,
}

impl ItGlueVault {
    /// A client for the IT Glue API at `base` (`https://api.itglue.com`, or the
    /// EU/AU hosts), using `http` for retries and timeouts.
    pub fn new(http: HttpClient, base: &str, api_key: SecretString) -> Result<Self, Error> {
        Ok(Self {
            http,
            base: base_url(SERVICE, "itglue base URL", base)?,
            api_key,
            organization_ids: HashMap::new(),
            password_category_id: None,
        })
    }

    /// Maps an organization name to its IT Glue id, skipping the lookup by name.
    pub fn with_organization_id(mut self, name: &str, id: &str) -> Self {
        self.organization_ids.insert(name.to_owned(), id.to_owned());
        self
    }

    /// Files new passwords under this `password-category-id`.
    pub fn with_password_category(mut self, id: u64) -> Self {
        self.password_category_id = Some(id);
        self
    }

    fn request(&self, builder: RequestBuilder) -> RequestBuilder {
        builder
            .header("x-api-key", self.api_key.expose_secret())
            .header("accept", JSON_API)
    }

    async fn check(
        &self,
        response: Response,
        what: impl FnOnce() -> String,
    ) -> Result<Response, Error> {
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        // JSON:API: {"errors":[{"status","title","detail","source":{"pointer"}}]}
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let first = &body["errors"][0];
        let title = first["title"].as_str().unwrap_or("unknown").to_owned();
        let mut message = first["detail"].as_str().unwrap_or(&title).to_owned();
        if let Some(pointer) = first["source"]["pointer"].as_str() {
            message = format!("{message} ({pointer})");
        }
        if status.as_u16() == 403 {
            message = format!("{message}; check the API key and that it has Password Access");
        }
        Err(failure(SERVICE, status, title, message, what))
    }

    /// The organization's IT Glue id: the explicit mapping, or the one
    /// organization with exactly this name.
    async fn organization_id(&self, name: &str) -> Result<String, Error> {
        if let Some(id) = self.organization_ids.get(name) {
            return Ok(id.clone());
        }
        let request = self.request(
            self.http
                .inner()
                .get(format!("{}/organizations", self.base))
                .query(&[("filter[name]", name), ("page[size]", "2")]),
        );
        let response = self.http.send(request).await?;
        let response = self
            .check(response, || format!("organization '{name}'"))
            .await?;
        let found: Document<Vec<Resource>> = read_json(SERVICE, response).await?;
        match found.data.as_slice() {
            [one] => Ok(one.id.clone()),
            [] => Err(Error::NotFound {
                service: SERVICE,
                what: format!("organization '{name}'"),
            }),
            _ => Err(Error::Config {
                service: SERVICE,
                detail: format!(
                    "more than one organization is named '{name}'; map it to an id explicitly"
                ),
            }),
        }
    }

    /// A password of this organization with the entry's title and marker.
    async fn find_existing(
        &self,
        org_id: &str,
        entry: &VaultEntry,
    ) -> Result<Option<Resource>, Error> {
        let wanted = marker(&entry.onboarding_id);
        let mut page = 1u32;
        loop {
            let request = self.request(
                self.http
                    .inner()
                    .get(format!(
                        "{}/organizations/{org_id}/relationships/passwords",
                        self.base
                    ))
                    .query(&[("filter[name]", entry.title.as_str())])
                    .query(&[("page[number]", page), ("page[size]", 1000)]),
            );
            let response = self.http.send(request).await?;
            let response = self
                .check(response, || format!("organization {org_id}"))
                .await?;
            let body: Value = read_json(SERVICE, response).await?;
            let resources: Vec<Resource> =
                serde_json::from_value(body["data"].clone()).map_err(|e| Error::Protocol {
                    service: SERVICE,
                    detail: format!("unreadable password list: {e}"),
                })?;
            if let Some(found) = resources.into_iter().find(|r| {
                r.attributes["notes"]
                    .as_str()
                    .is_some_and(|notes| notes.contains(&wanted))
            }) {
                return Ok(Some(found));
            }
            match body["meta"]["next-page"].as_u64() {
                Some(next) if next > u64::from(page) => page += 1,
                _ => return Ok(None),
            }
        }
    }

    fn attributes(&self, entry: &VaultEntry) -> Value {
        let mut attributes = json!({
            "name": entry.title,
            "username": entry.username,
            "password": entry.password.expose_secret(),
            "notes": notes_with_marker(entry.notes.as_deref(), &entry.onboarding_id),
        });
        if let Some(url) = &entry.url {
            attributes["url"] = json!(url);
        }
        if let Some(category) = self.password_category_id {
            attributes["password-category-id"] = json!(category);
        }
        attributes
    }

    fn stored(resource: &Resource, updated_existing: bool) -> StoredSecret {
        StoredSecret {
            destination: SERVICE,
            reference: resource.id.clone(),
            link: resource.attributes["resource-url"]
                .as_str()
                .map(str::to_owned),
            expire_after_days: None,
            expire_after_views: None,
            updated_existing,
        }
    }
}

#[async_trait]
impl PasswordVault for ItGlueVault {
    fn destination(&self) -> &'static str {
        SERVICE
    }

    async fn check_organization(&self, organization: &str) -> Result<(), Error> {
        let id = self.organization_id(organization).await?;
        self.find_existing(&id, &super::probe_entry(organization))
            .await
            .map(drop)
    }

    #[tracing::instrument(skip_all, fields(vault = SERVICE, onboarding_id = %entry.onboarding_id))]
    async fn store(&self, entry: &VaultEntry) -> Result<StoredSecret, Error> {
        let org_id = self.organization_id(&entry.organization).await?;
        let body = json!({"data": {"type": "passwords", "attributes": self.attributes(entry)}});
        if let Some(existing) = self.find_existing(&org_id, entry).await? {
            // An earlier attempt got through: bring its password up to date.
            let request = self.request(
                self.http
                    .inner()
                    .patch(format!("{}/passwords/{}", self.base, existing.id))
                    .header("content-type", JSON_API)
                    .body(body.to_string()),
            );
            let response = self.http.send(request).await?;
            let response = self
                .check(response, || format!("password {}", existing.id))
                .await?;
            let updated: Document<Resource> = read_json(SERVICE, response).await?;
            tracing::info!(service = SERVICE, reference = %updated.data.id, "updated the password an earlier attempt stored");
            return Ok(Self::stored(&updated.data, true));
        }
        let request = self.request(
            self.http
                .inner()
                .post(format!(
                    "{}/organizations/{org_id}/relationships/passwords",
                    self.base
                ))
                .header("content-type", JSON_API)
                .body(body.to_string()),
        );
        let response = self.http.send_write(request).await?;
        let response = self
            .check(response, || format!("organization {org_id}"))
            .await?;
        let created: Document<Resource> = read_json(SERVICE, response).await?;
        Ok(Self::stored(&created.data, false))
    }
}
