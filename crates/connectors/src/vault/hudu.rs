//! Hudu: asset passwords under the company, `{"asset_password": {...}}` bodies.

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

const SERVICE: &str = "hudu";
/// Hudu's fixed page size: a shorter page is the last one.
const PAGE_SIZE: usize = 25;

/// Stores passwords in Hudu (`x-api-key` with password access).
#[derive(Debug, Clone)]
pub struct HuduVault {
    http: HttpClient,
    base: String,
    api_key: SecretString,
    company_ids: HashMap<String, u64>,
}

#[derive(Debug, Deserialize)]
struct Company {
    id: u64,
    name: String,
}

#[derive(Debug, Deserialize)]
struct AssetPassword {
    id: u64,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    slug: Option<String>,
}

impl HuduVault {
    /// A client for the Hudu instance at `base` (e.g. `https://acme.huducloud.com`;
    /// the client adds `/api/v1`).
    pub fn new(http: HttpClient, base: &str, api_key: SecretString) -> Result<Self, Error> {
        Ok(Self {
            http,
            base: base_url(SERVICE, "hudu base URL", base)?,
            api_key,
            company_ids: HashMap::new(),
        })
    }

    /// Maps an organization name to its Hudu company id, skipping the lookup.
    pub fn with_company_id(mut self, name: &str, id: u64) -> Self {
        self.company_ids.insert(name.to_owned(), id);
        self
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.base)
    }

    fn request(&self, builder: RequestBuilder) -> RequestBuilder {
        builder.header("x-api-key", self.api_key.expose_secret())
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
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let message = body["error"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_owned());
        let message = if status.as_u16() == 403 {
            format!("{message}; the API key needs password access")
        } else {
            message
        };
        Err(failure(SERVICE, status, "unknown".into(), message, what))
    }

    async fn company_id(&self, name: &str) -> Result<u64, Error> {
        if let Some(id) = self.company_ids.get(name) {
            return Ok(*id);
        }
        let request = self.request(
            self.http
                .inner()
                .get(self.url("/companies"))
                .query(&[("name", name)]),
        );
        let response = self.http.send(request).await?;
        let response = self.check(response, || format!("company '{name}'")).await?;
        #[derive(Deserialize)]
        struct Companies {
            companies: Vec<Company>,
        }
        let found: Companies = read_json(SERVICE, response).await?;
        let mut exact = found.companies.into_iter().filter(|c| c.name == name);
        match (exact.next(), exact.next()) {
            (Some(one), None) => Ok(one.id),
            (None, _) => Err(Error::NotFound {
                service: SERVICE,
                what: format!("company '{name}'"),
            }),
            (Some(_), Some(_)) => Err(Error::Config {
                service: SERVICE,
                detail: format!(
                    "more than one company is named '{name}'; map it to an id explicitly"
                ),
            }),
        }
    }

    async fn find_existing(
        &self,
        company_id: u64,
        entry: &VaultEntry,
    ) -> Result<Option<AssetPassword>, Error> {
        let wanted = marker(&entry.onboarding_id);
        // Bounded: 1000 pages of 25 is far beyond one company's passwords.
        for page in 1u32..=1000 {
            let request = self.request(
                self.http
                    .inner()
                    .get(self.url("/asset_passwords"))
                    .query(&[
                        ("company_id", company_id.to_string()),
                        ("name", entry.title.clone()),
                    ])
                    .query(&[("page", page)]),
            );
            let response = self.http.send(request).await?;
            let response = self
                .check(response, || format!("company {company_id}"))
                .await?;
            #[derive(Deserialize)]
            struct List {
                asset_passwords: Vec<AssetPassword>,
            }
            let list: List = read_json(SERVICE, response).await?;
            let short = list.asset_passwords.len() < PAGE_SIZE;
            if let Some(found) = list.asset_passwords.into_iter().find(|p| {
                p.description
                    .as_deref()
                    .is_some_and(|d| d.contains(&wanted))
            }) {
                return Ok(Some(found));
            }
            if short {
                break;
            }
        }
        Ok(None)
    }

    fn stored(&self, record: &AssetPassword, updated_existing: bool) -> StoredSecret {
        StoredSecret {
            destination: SERVICE,
            reference: record.id.to_string(),
            link: record
                .slug
                .as_ref()
                .map(|slug| format!("{}/passwords/{slug}", self.base)),
            expire_after_days: None,
            expire_after_views: None,
            updated_existing,
        }
    }
}

#[async_trait]
impl PasswordVault for HuduVault {
    fn destination(&self) -> &'static str {
        SERVICE
    }

    async fn check_organization(&self, organization: &str) -> Result<(), Error> {
        let id = self.company_id(organization).await?;
        self.find_existing(id, &super::probe_entry(organization))
            .await
            .map(drop)
    }

    #[tracing::instrument(skip_all, fields(vault = SERVICE, onboarding_id = %entry.onboarding_id))]
    async fn store(&self, entry: &VaultEntry) -> Result<StoredSecret, Error> {
        let company_id = self.company_id(&entry.organization).await?;
        let mut fields = json!({
            "name": entry.title,
            "company_id": company_id,
            "username": entry.username,
            "password": entry.password.expose_secret(),
            "description": notes_with_marker(entry.notes.as_deref(), &entry.onboarding_id),
            "in_portal": false,
        });
        if let Some(url) = &entry.url {
            fields["url"] = json!(url);
        }
        let body = json!({ "asset_password": fields });
        #[derive(Deserialize)]
        struct Wrapped {
            asset_password: AssetPassword,
        }
        if let Some(existing) = self.find_existing(company_id, entry).await? {
            let request = self.request(
                self.http
                    .inner()
                    .put(self.url(&format!("/asset_passwords/{}", existing.id)))
                    .json(&body),
            );
            let response = self.http.send(request).await?;
            let response = self
                .check(response, || format!("asset password {}", existing.id))
                .await?;
            let updated: Wrapped = read_json(SERVICE, response).await?;
            tracing::info!(
                service = SERVICE,
                reference = updated.asset_password.id,
                "updated the password an earlier attempt stored"
            );
            return Ok(self.stored(&updated.asset_password, true));
        }
        let request = self.request(
            self.http
                .inner()
                .post(self.url("/asset_passwords"))
                .json(&body),
        );
        let response = self.http.send_write(request).await?;
        let response = self
            .check(response, || format!("company {company_id}"))
            .await?;
        let created: Wrapped = read_json(SERVICE, response).await?;
        Ok(self.stored(&created.asset_password, false))
    }
}
