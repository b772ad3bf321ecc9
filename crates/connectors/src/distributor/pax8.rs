//! Pax8: client-credentials token, 0-based paging, subscriptions and orders.

use std::collections::HashMap;

use async_trait::async_trait;
use reqwest::{RequestBuilder, Response, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::wire::{TokenCache, read_json, vendor_time};
use super::{Commitment, Customer, Distributor, Order, Product, Subscription};
use crate::error::Error;
use crate::http::{HttpClient, Verdict};

const SERVICE: &str = "pax8";
/// Pax8's largest page.
const PAGE_SIZE: u32 = 200;
/// Stop paging after this many pages (200 000 items), whatever the server says.
const MAX_PAGES: u32 = 1000;
/// Where Pax8 is and who we are there.
#[derive(Debug, Clone)]
pub struct Pax8Settings {
    /// The token endpoint; Pax8's current one by default (the legacy
    /// `https://login.pax8.com/oauth/token` is what older clients use).
    pub token_url: String,
    /// The partner API base, `https://api.pax8.com/v1`.
    pub api_base: String,
    /// The token audience; the current partner value `https://api.pax8.com`
    /// (the legacy value was `api://p8p.client`).
    pub audience: String,
    /// The API client id.
    pub client_id: String,
    /// The API client secret.
    pub client_secret: SecretString,
    /// `billingTerm` of new orders.
    pub billing_term: String,
    /// `orderedByUserEmail` on orders (the MSP's purchasing contact), if any.
    pub ordered_by_email: Option<String>,
}

impl Pax8Settings {
    /// Pax8's production endpoints with these credentials.
    pub fn new(client_id: &str, client_secret: SecretString) -> Self {
        Self {
            token_url: "https://token-manager.pax8.com/oauth/token".into(),
            api_base: "https://api.pax8.com/v1".into(),
            audience: "https://api.pax8.com".into(),
            client_id: client_id.to_owned(),
            client_secret,
            billing_term: "Monthly".into(),
            ordered_by_email: None,
        }
    }
}

/// The Pax8 partner API.
#[derive(Debug)]
pub struct Pax8Distributor {
    http: HttpClient,
    settings: Pax8Settings,
    token: TokenCache,
    company_ids: HashMap<String, String>,
    product_ids: HashMap<String, String>,
}

#[derive(Debug, Deserialize)]
struct Page<T> {
    content: Vec<T>,
    page: PageInfo,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PageInfo {
    total_pages: u32,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CompanyJson {
    id: String,
    name: String,
    #[serde(default)]
    external_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProductJson {
    id: String,
    name: String,
    #[serde(default)]
    sku: Option<String>,
    #[serde(default)]
    vendor_sku: Option<String>,
    #[serde(default)]
    alt_vendor_sku: Option<String>,
    #[serde(default)]
    requires_commitment: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SubscriptionJson {
    id: String,
    company_id: String,
    product_id: String,
    quantity: u32,
    #[serde(default)]
    status: String,
    /// When the subscription began (third-party payloads: a date or a time).
    #[serde(default)]
    start_date: Option<String>,
    /// When the current commitment term began, when the answer says `[?]`.
    #[serde(default)]
    current_term_start_date: Option<String>,
    #[serde(default)]
    commitment_term_end_date: Option<String>,
}

impl From<SubscriptionJson> for Subscription {
    fn from(s: SubscriptionJson) -> Self {
        let renews_at = s.commitment_term_end_date.as_deref().and_then(vendor_time);
        let term_start = s
            .current_term_start_date
            .as_deref()
            .or(s.start_date.as_deref())
            .and_then(vendor_time);
        Subscription {
            id: s.id,
            customer_id: s.company_id,
            product_id: s.product_id,
            quantity: s.quantity,
            status: s.status,
            commitment: match (term_start, renews_at) {
                (Some(term_start), Some(renews_at)) => Some(Commitment {
                    term_start,
                    renews_at,
                }),
                _ => None,
            },
        }
    }
}

impl Pax8Distributor {
    /// A client with `settings`, using `http` for retries and timeouts.
    pub fn new(http: HttpClient, settings: Pax8Settings) -> Self {
        Self {
            http,
            settings,
            token: TokenCache::default(),
            company_ids: HashMap::new(),
            product_ids: HashMap::new(),
        }
    }

    /// Maps an organization to its Pax8 company id, skipping the lookup.
    pub fn with_company_id(mut self, organization: &str, id: &str) -> Self {
        self.company_ids
            .insert(organization.to_owned(), id.to_owned());
        self
    }

    /// Maps a Microsoft SKU part number to a Pax8 product id, skipping the search.
    pub fn with_product_id(mut self, sku: &str, id: &str) -> Self {
        self.product_ids.insert(sku.to_owned(), id.to_owned());
        self
    }

    /// A valid access token, fetched when missing or about to expire.
    async fn token(&self) -> Result<SecretString, Error> {
        self.token
            .get(SERVICE, &self.http, || {
                self.http
                    .inner()
                    .post(&self.settings.token_url)
                    .json(&json!({
                        "client_id": self.settings.client_id,
                        "client_secret": self.settings.client_secret.expose_secret(),
                        "audience": self.settings.audience,
                        "grant_type": "client_credentials",
                    }))
            })
            .await
    }

    /// Sends an API request with the bearer token; a 401 (token revoked or
    /// expired early) renews the token once.
    async fn call(
        &self,
        build: impl Fn(&reqwest::Client) -> RequestBuilder,
        classify: impl Fn(StatusCode) -> Verdict + Copy,
        what: impl FnOnce() -> String,
    ) -> Result<Response, Error> {
        self.call_as(build, Some(classify), what).await
    }

    /// [`Self::call`] for an order: sent once ([`crate::http::HttpClient::send_write`]);
    /// a lost answer is resolved by the purchase ledger's re-check
    /// (`distributor.rs`), never by a second order.
    async fn call_once(
        &self,
        build: impl Fn(&reqwest::Client) -> RequestBuilder,
        what: impl FnOnce() -> String,
    ) -> Result<Response, Error> {
        self.call_as(build, None::<fn(StatusCode) -> Verdict>, what)
            .await
    }

    /// `classify: None` sends a write that must not be repeated.
    async fn call_as(
        &self,
        build: impl Fn(&reqwest::Client) -> RequestBuilder,
        classify: Option<impl Fn(StatusCode) -> Verdict + Copy>,
        what: impl FnOnce() -> String,
    ) -> Result<Response, Error> {
        let mut renewed = false;
        loop {
            let token = self.token().await?;
            let request = build(self.http.inner()).bearer_auth(token.expose_secret());
            let response = match classify {
                Some(classify) => self.http.send_with(request, classify).await?,
                None => self.http.send_write(request).await?,
            };
            if response.status() == StatusCode::UNAUTHORIZED && !renewed {
                renewed = true;
                self.token.clear().await;
                continue;
            }
            return check(response, what).await;
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.settings.api_base.trim_end_matches('/'))
    }

    /// Every item of a paged list: `page` counts from 0.
    async fn all<T: DeserializeOwned>(
        &self,
        path: &str,
        filters: &[(&str, &str)],
    ) -> Result<Vec<T>, Error> {
        let mut items = Vec::new();
        let mut page = 0u32;
        loop {
            let url = self.url(path);
            let response = self
                .call(
                    |client| {
                        client
                            .get(&url)
                            .query(filters)
                            .query(&[("page", page), ("size", PAGE_SIZE)])
                    },
                    crate::http::transient_status,
                    || path.to_owned(),
                )
                .await?;
            let body: Page<T> = read_json(SERVICE, response).await?;
            items.extend(body.content);
            // Count pages ourselves: a server echoing a wrong `number` must
            // not keep us on one page forever.
            page += 1;
            if page >= body.page.total_pages || page >= MAX_PAGES {
                return Ok(items);
            }
        }
    }
}

/// The Pax8 error envelope as an [`Error`].
async fn check(response: Response, what: impl FnOnce() -> String) -> Result<Response, Error> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    // {"type","message","instance","status","details":[{"type","message","instance","status"}]}
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let code = body["type"].as_str().unwrap_or("unknown").to_owned();
    let mut message = body["message"].as_str().unwrap_or("no message").to_owned();
    let details: Vec<String> = body["details"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| {
            let text = d["message"].as_str()?;
            Some(match d["instance"].as_str() {
                Some(at) if !at.is_empty() => format!("{at}: {text}"),
                _ => text.to_owned(),
            })
        })
        .collect();
    if !details.is_empty() {
        message = format!("{message} ({})", details.join("; "));
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
            what: what(),
        },
        429 => Error::Throttled {
            service: SERVICE,
            attempts: 1,
            retry_after: None,
        },
        500..=599 => Error::Unavailable {
            service: SERVICE,
            status: status.as_u16(),
            attempts: 1,
        },
        other => Error::Rejected {
            service: SERVICE,
            status: other,
            code,
            message,
        },
    })
}

#[async_trait]
impl Distributor for Pax8Distributor {
    fn name(&self) -> &'static str {
        SERVICE
    }

    async fn find_customer(&self, organization: &str) -> Result<Customer, Error> {
        if let Some(id) = self.company_ids.get(organization) {
            let url = self.url(&format!("/companies/{id}"));
            let response = self
                .call(
                    |c| c.get(&url),
                    crate::http::transient_status,
                    || format!("company {id}"),
                )
                .await?;
            let company: CompanyJson = read_json(SERVICE, response).await?;
            return Ok(Customer {
                id: company.id,
                name: company.name,
            });
        }
        // Pax8 has no name filter on companies: page through them all.
        let wanted = organization.trim().to_lowercase();
        let companies: Vec<CompanyJson> = self.all("/companies", &[]).await?;
        let mut matching = companies.into_iter().filter(|c| {
            c.name.trim().to_lowercase() == wanted || c.external_id.as_deref() == Some(organization)
        });
        match (matching.next(), matching.next()) {
            (Some(company), None) => Ok(Customer {
                id: company.id,
                name: company.name,
            }),
            (None, _) => Err(Error::NotFound {
                service: SERVICE,
                what: format!("company '{organization}'"),
            }),
            (Some(_), Some(_)) => Err(Error::Config {
                service: SERVICE,
                detail: format!(
                    "more than one company matches '{organization}'; map it to a company id"
                ),
            }),
        }
    }

    async fn find_product(&self, sku: &str) -> Result<Product, Error> {
        let mapped = self.product_ids.get(sku);
        let products: Vec<ProductJson> = match mapped {
            Some(_) => {
                self.all("/products", &[("vendorName", "Microsoft")])
                    .await?
            }
            None => self.all("/products", &[("search", sku)]).await?,
        };
        let found = products.into_iter().find(|p| match mapped {
            Some(id) => &p.id == id,
            None => [&p.sku, &p.vendor_sku, &p.alt_vendor_sku]
                .into_iter()
                .flatten()
                .any(|s| s.eq_ignore_ascii_case(sku)),
        });
        found
            .map(|p| Product {
                id: p.id,
                name: p.name,
                requires_commitment: p.requires_commitment,
            })
            .ok_or_else(|| Error::NotFound {
                service: SERVICE,
                what: format!("product for SKU '{sku}'"),
            })
    }

    async fn subscriptions(
        &self,
        customer: &Customer,
        product: &Product,
    ) -> Result<Vec<Subscription>, Error> {
        let subscriptions: Vec<SubscriptionJson> = self
            .all(
                "/subscriptions",
                &[("companyId", &customer.id), ("productId", &product.id)],
            )
            .await?;
        Ok(subscriptions.into_iter().map(Subscription::from).collect())
    }

    async fn set_quantity(
        &self,
        subscription: &Subscription,
        quantity: u32,
    ) -> Result<Subscription, Error> {
        let url = self.url(&format!("/subscriptions/{}", subscription.id));
        // An absolute quantity: sending it again changes nothing, so every
        // transient answer may be retried.
        let response = self
            .call(
                |c| c.put(&url).json(&json!({ "quantity": quantity })),
                crate::http::transient_status,
                || format!("subscription {}", subscription.id),
            )
            .await?;
        let updated: SubscriptionJson = read_json(SERVICE, response).await?;
        Ok(updated.into())
    }

    async fn order(
        &self,
        customer: &Customer,
        product: &Product,
        quantity: u32,
    ) -> Result<Order, Error> {
        if product.requires_commitment {
            return Err(Error::Config {
                service: SERVICE,
                detail: format!(
                    "product '{}' needs a commitment term; order it by hand in Pax8",
                    product.name
                ),
            });
        }
        let mut body = json!({
            "companyId": customer.id,
            "orderedBy": "Pax8 Partner",
            "lineItems": [{
                "productId": product.id,
                "lineItemNumber": 1,
                "quantity": quantity,
                "billingTerm": self.settings.billing_term,
            }],
        });
        if let Some(email) = &self.settings.ordered_by_email {
            body["orderedByUserEmail"] = json!(email);
        }
        let url = self.url("/orders");
        let response = self
            .call_once(
                |c| c.post(&url).json(&body),
                || format!("company {}", customer.id),
            )
            .await?;
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Line {
            #[serde(default)]
            subscription_id: Option<String>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Placed {
            id: String,
            #[serde(default)]
            line_items: Vec<Line>,
        }
        let placed: Placed = read_json(SERVICE, response).await?;
        Ok(Order {
            id: placed.id,
            subscription_id: placed
                .line_items
                .into_iter()
                .find_map(|l| l.subscription_id),
        })
    }
}
