//! Sherweb: client-credentials token plus subscription key, subscriptions by
//! customer, amendments to an absolute quantity, orders, tracking (fact sheet §11).
//!
//! Every call carries `Authorization: Bearer` and `Ocp-Apim-Subscription-Key`.
//! Sherweb sells its own SKUs: a Microsoft `skuPartNumber` is mapped to one by
//! the `skus` setting (`SPB=<sherweb sku>,...`), or is used as it is.
//!
//! Sherweb has no idempotency key. An amendment names the absolute new total,
//! so it is resent freely; an order is sent once ([`crate::http::create_once`]):
//! after a lost answer the customer's subscriptions are read again, and a
//! subscription of the SKU means the order went through. The purchase ledger
//! (`distributor.rs`) does the same across step retries.
//!
//! Orders and amendments are asynchronous (`requestTrackingId`): the tracking
//! is read once after the write, and a `Failure` or `Canceled` is the port's
//! rejection; a request still `Pending`/`Processing` is accepted, and the seat
//! wait in the tenant is what waits for it to finish. Sherweb documents no way
//! to schedule a decrease for the renewal (`renewalConfiguration.scheduledQuantity`
//! is only read), so [`Distributor::schedule_quantity`] answers `false`.

use std::collections::HashMap;

use async_trait::async_trait;
use reqwest::{RequestBuilder, Response, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};

use super::wire::{TokenCache, read_json, vendor_time};
use super::{Commitment, Customer, Distributor, Order, Product, Subscription};
use crate::error::Error;
use crate::http::HttpClient;

const SERVICE: &str = "sherweb";
/// The subscription key header of Sherweb's API gateway (Azure API Management).
pub const SUBSCRIPTION_KEY_HEADER: &str = "Ocp-Apim-Subscription-Key";

/// Where Sherweb is and who we are there.
#[derive(Debug, Clone)]
pub struct SherwebSettings {
    /// The token endpoint, `https://api.sherweb.com/auth/oidc/connect/token`.
    pub token_url: String,
    /// The service-provider API base, `https://api.sherweb.com/service-provider/v1`.
    pub api_base: String,
    /// The token scope, `service-provider`.
    pub scope: String,
    /// The API client id (Cumulus → Security → APIs).
    pub client_id: String,
    /// The API client secret.
    pub client_secret: SecretString,
    /// The API gateway subscription key.
    pub subscription_key: SecretString,
    /// `orderedBy` on orders.
    pub ordered_by: String,
}

impl SherwebSettings {
    /// Sherweb's production endpoints with these credentials.
    pub fn new(
        client_id: &str,
        client_secret: SecretString,
        subscription_key: SecretString,
    ) -> Self {
        Self {
            token_url: "https://api.sherweb.com/auth/oidc/connect/token".into(),
            api_base: "https://api.sherweb.com/service-provider/v1".into(),
            scope: "service-provider".into(),
            client_id: client_id.to_owned(),
            client_secret,
            subscription_key,
            ordered_by: "Onboard".into(),
        }
    }
}

/// The Sherweb service-provider API.
#[derive(Debug)]
pub struct SherwebDistributor {
    http: HttpClient,
    settings: SherwebSettings,
    token: TokenCache,
    customer_ids: HashMap<String, String>,
    skus: HashMap<String, String>,
}

#[derive(Debug, Deserialize)]
struct Items<T> {
    items: Vec<T>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CustomerJson {
    id: String,
    display_name: String,
    #[serde(default)]
    suspended_on: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RenewalJson {
    #[serde(default)]
    renewal_date: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CommitmentJson {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    term_end_date: Option<String>,
    #[serde(default)]
    renewal_configuration: Option<RenewalJson>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SubscriptionJson {
    id: String,
    #[serde(default)]
    sku: String,
    quantity: u32,
    #[serde(default)]
    purchase_date: Option<String>,
    #[serde(default)]
    commitment_term: Option<CommitmentJson>,
    /// Not in the models we read; kept when an answer has it `[?]`.
    #[serde(default)]
    status: Option<String>,
}

/// The length of a commitment term type (`Monthly`, `Annual`, `Biennial`, `Triennial`).
fn term_length(kind: &str) -> Option<jiff::Span> {
    match kind {
        "Monthly" => Some(jiff::Span::new().months(1)),
        "Annual" => Some(jiff::Span::new().years(1)),
        "Biennial" => Some(jiff::Span::new().years(2)),
        "Triennial" => Some(jiff::Span::new().years(3)),
        _ => None,
    }
}

impl SubscriptionJson {
    fn into_subscription(self, customer_id: &str) -> Subscription {
        let commitment = self.commitment_term.as_ref().and_then(|c| {
            let renews_at = c
                .term_end_date
                .as_deref()
                .or(c
                    .renewal_configuration
                    .as_ref()
                    .and_then(|r| r.renewal_date.as_deref()))
                .and_then(vendor_time)?;
            // The current term began one term before it ends; a first term
            // never began before the purchase.
            let start = renews_at
                .to_zoned(jiff::tz::TimeZone::UTC)
                .checked_sub(term_length(&c.kind)?)
                .ok()?
                .timestamp();
            let purchased = self.purchase_date.as_deref().and_then(vendor_time);
            let term_start = purchased.map_or(start, |p| p.max(start));
            Some(Commitment {
                term_start,
                renews_at,
            })
        });
        Subscription {
            id: self.id,
            customer_id: customer_id.to_owned(),
            product_id: self.sku,
            quantity: self.quantity,
            status: self.status.unwrap_or_else(|| "Active".into()),
            commitment,
        }
    }
}

impl SherwebDistributor {
    /// A client with `settings`, using `http` for retries and timeouts.
    pub fn new(http: HttpClient, settings: SherwebSettings) -> Self {
        Self {
            http,
            settings,
            token: TokenCache::default(),
            customer_ids: HashMap::new(),
            skus: HashMap::new(),
        }
    }

    /// Maps an organization to its Sherweb customer id, skipping the lookup.
    pub fn with_customer_id(mut self, organization: &str, id: &str) -> Self {
        self.customer_ids
            .insert(organization.to_owned(), id.to_owned());
        self
    }

    /// Maps a Microsoft SKU part number to the Sherweb SKU that sells it.
    pub fn with_sku(mut self, part_number: &str, sherweb_sku: &str) -> Self {
        self.skus
            .insert(part_number.to_ascii_uppercase(), sherweb_sku.to_owned());
        self
    }

    /// A valid access token, fetched when missing or about to expire.
    async fn token(&self) -> Result<SecretString, Error> {
        self.token
            .get(SERVICE, &self.http, || {
                self.http.inner().post(&self.settings.token_url).form(&[
                    ("client_id", self.settings.client_id.as_str()),
                    ("client_secret", self.settings.client_secret.expose_secret()),
                    ("scope", self.settings.scope.as_str()),
                    ("grant_type", "client_credentials"),
                ])
            })
            .await
    }

    /// Sends an API request with the token and the subscription key; a 401
    /// renews the token once. `once`: a write that must not be repeated.
    async fn call(
        &self,
        build: impl Fn(&reqwest::Client) -> RequestBuilder,
        once: bool,
        what: impl FnOnce() -> String,
    ) -> Result<Response, Error> {
        let mut renewed = false;
        loop {
            let token = self.token().await?;
            let request = build(self.http.inner())
                .bearer_auth(token.expose_secret())
                .header(
                    SUBSCRIPTION_KEY_HEADER,
                    self.settings.subscription_key.expose_secret(),
                );
            let response = if once {
                self.http.send_write(request).await?
            } else {
                self.http
                    .send_with(request, crate::http::transient_status)
                    .await?
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

    async fn subscription_details(
        &self,
        customer_id: &str,
    ) -> Result<Vec<SubscriptionJson>, Error> {
        let url = self.url("/billing/subscriptions/details");
        let response = self
            .call(
                |c| c.get(&url).query(&[("customerId", customer_id)]),
                false,
                || format!("customer {customer_id}"),
            )
            .await?;
        let body: Items<SubscriptionJson> = read_json(SERVICE, response).await?;
        Ok(body.items)
    }

    /// Reads the tracking of an asynchronous request once: a failed or
    /// cancelled request is refused; anything else goes on.
    async fn check_tracking(&self, tracking_id: &str) -> Result<(), Error> {
        let url = self.url(&format!("/tracking/{tracking_id}"));
        let response = self
            .call(|c| c.get(&url), false, || format!("tracking {tracking_id}"))
            .await?;
        // The tracking body's shape is not documented where we could read it
        // `[?]`: a `status` word, and a `message` when there is one.
        let body: Value = read_json(SERVICE, response).await?;
        let status = body["status"].as_str().unwrap_or("Pending");
        match status {
            "Failure" | "Canceled" | "Cancelled" => Err(Error::Rejected {
                service: SERVICE,
                status: 200,
                code: status.to_owned(),
                message: body["message"]
                    .as_str()
                    .unwrap_or("the request did not complete")
                    .to_owned(),
            }),
            _ => {
                tracing::debug!(service = SERVICE, tracking_id, status, "tracking read");
                Ok(())
            }
        }
    }
}

/// Sherweb's RFC 7807 problem details as an [`Error`]: the problem `type` (the
/// last segment of its URI, e.g. `CommitmentTermViolations`) is the code.
async fn check(response: Response, what: impl FnOnce() -> String) -> Result<Response, Error> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    // {"type","title","status","detail","instance"}
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let code = body["type"]
        .as_str()
        .map(|t| {
            t.rsplit(['/', '#'])
                .next()
                .unwrap_or(t)
                .trim_end_matches("ProblemDetails")
                .to_owned()
        })
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| "unknown".into());
    let message = match (body["title"].as_str(), body["detail"].as_str()) {
        (Some(title), Some(detail)) if !detail.is_empty() => format!("{title}: {detail}"),
        (Some(title), _) => title.to_owned(),
        (None, Some(detail)) => detail.to_owned(),
        // Azure API Management answers a missing or wrong key with `message`.
        _ => body["message"]
            .as_str()
            .map_or_else(|| format!("HTTP {}", status.as_u16()), str::to_owned),
    };
    Err(match (status.as_u16(), code.as_str()) {
        (401, _) => Error::Unauthorized {
            service: SERVICE,
            message,
        },
        (403, _) => Error::Forbidden {
            service: SERVICE,
            message,
        },
        (404, _) | (_, "CustomerNotFound" | "SkusNotFound") => Error::NotFound {
            service: SERVICE,
            what: what(),
        },
        (429, _) => Error::Throttled {
            service: SERVICE,
            attempts: 1,
            retry_after: None,
        },
        (500..=599, _) => Error::Unavailable {
            service: SERVICE,
            status: status.as_u16(),
            attempts: 1,
        },
        (other, _) => Error::Rejected {
            service: SERVICE,
            status: other,
            code,
            message,
        },
    })
}

#[async_trait]
impl Distributor for SherwebDistributor {
    fn name(&self) -> &'static str {
        SERVICE
    }

    async fn find_customer(&self, organization: &str) -> Result<Customer, Error> {
        let mapped = self.customer_ids.get(organization);
        let url = self.url("/customers");
        let response = self
            .call(|c| c.get(&url), false, || "customers".into())
            .await?;
        let customers: Items<CustomerJson> = read_json(SERVICE, response).await?;
        let wanted = organization.trim().to_lowercase();
        let mut matching = customers.items.into_iter().filter(|c| match mapped {
            Some(id) => c.id.eq_ignore_ascii_case(id),
            None => c.display_name.trim().to_lowercase() == wanted,
        });
        match (matching.next(), matching.next()) {
            (Some(c), None) if c.suspended_on.is_some() => Err(Error::Rejected {
                service: SERVICE,
                status: 0,
                code: "CustomerSuspended".into(),
                message: format!("customer '{}' is suspended", c.display_name),
            }),
            (Some(c), None) => Ok(Customer {
                id: c.id,
                name: c.display_name,
            }),
            (None, _) => Err(Error::NotFound {
                service: SERVICE,
                what: match mapped {
                    Some(id) => format!("customer {id}"),
                    None => format!("customer '{organization}'"),
                },
            }),
            (Some(_), Some(_)) => Err(Error::Config {
                service: SERVICE,
                detail: format!(
                    "more than one customer is named '{organization}'; map it to a customer id"
                ),
            }),
        }
    }

    async fn find_product(&self, sku: &str) -> Result<Product, Error> {
        let sherweb_sku = self
            .skus
            .get(&sku.to_ascii_uppercase())
            .cloned()
            .unwrap_or_else(|| sku.to_owned());
        // Whether the customer may buy it is answered by the order itself
        // (`SkusNotFound`, `UnpurchasableProductForCustomer`).
        Ok(Product {
            id: sherweb_sku.clone(),
            name: sherweb_sku,
            requires_commitment: false,
        })
    }

    async fn subscriptions(
        &self,
        customer: &Customer,
        product: &Product,
    ) -> Result<Vec<Subscription>, Error> {
        Ok(self
            .subscription_details(&customer.id)
            .await?
            .into_iter()
            .filter(|s| s.sku.eq_ignore_ascii_case(&product.id))
            .map(|s| s.into_subscription(&customer.id))
            .collect())
    }

    async fn set_quantity(
        &self,
        subscription: &Subscription,
        quantity: u32,
    ) -> Result<Subscription, Error> {
        let url = self.url("/billing/subscriptions/amendments");
        let body = json!({
            "subscriptionAmendmentParameters": [
                {"subscriptionId": subscription.id, "newQuantity": quantity}
            ]
        });
        // The absolute new total: sending it again changes nothing, so it is
        // retried like a read.
        let response = self
            .call(
                |c| {
                    c.post(&url)
                        .query(&[("customerId", subscription.customer_id.as_str())])
                        .json(&body)
                },
                false,
                || format!("subscription {}", subscription.id),
            )
            .await?;
        let answer: Value = if response.status() == StatusCode::NO_CONTENT {
            Value::Null
        } else {
            read_json(SERVICE, response).await.unwrap_or(Value::Null)
        };
        if let Some(tracking) = answer["trackingId"]["requestTrackingId"].as_str() {
            self.check_tracking(tracking).await?;
        }
        Ok(Subscription {
            quantity,
            ..subscription.clone()
        })
    }

    async fn order(
        &self,
        customer: &Customer,
        product: &Product,
        quantity: u32,
    ) -> Result<Order, Error> {
        let url = self.url("/orders");
        let body = json!({
            "cartItems": [{"sku": product.id, "quantity": quantity}],
            "orderedBy": self.settings.ordered_by,
        });
        let find = || async {
            Ok(self
                .subscriptions(customer, product)
                .await?
                .into_iter()
                .find(Subscription::is_live)
                .map(|s| Order {
                    id: "unknown".into(),
                    subscription_id: Some(s.id),
                }))
        };
        // `find` first: a subscription of the SKU means an earlier order whose
        // answer was lost went through.
        let order = crate::http::create_once(SERVICE, "order", find, || async {
            let response = self
                .call(
                    |c| {
                        c.post(&url)
                            .query(&[("customerId", customer.id.as_str())])
                            .json(&body)
                    },
                    true,
                    || format!("customer {}", customer.id),
                )
                .await?;
            #[derive(Deserialize)]
            #[serde(rename_all = "camelCase")]
            struct Placed {
                request_tracking_id: String,
            }
            let placed: Placed = read_json(SERVICE, response).await?;
            Ok(Order {
                id: placed.request_tracking_id,
                subscription_id: None,
            })
        })
        .await?;
        if order.subscription_id.is_none() {
            self.check_tracking(&order.id).await?;
        }
        Ok(order)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commitment_term_starts_one_term_before_it_ends() {
        let s = SubscriptionJson {
            id: "s".into(),
            sku: "X".into(),
            quantity: 1,
            purchase_date: Some("2024-01-10T00:00:00Z".into()),
            commitment_term: Some(CommitmentJson {
                kind: "Annual".into(),
                term_end_date: Some("2026-01-10".into()),
                renewal_configuration: None,
            }),
            status: None,
        }
        .into_subscription("c");
        let c = s.commitment.unwrap();
        assert_eq!(c.term_start.to_string(), "2025-01-10T00:00:00Z");
        assert_eq!(c.renews_at.to_string(), "2026-01-10T00:00:00Z");
        assert_eq!(s.status, "Active");
    }

    #[test]
    fn a_first_term_begins_at_the_purchase() {
        let s = SubscriptionJson {
            id: "s".into(),
            sku: "X".into(),
            quantity: 1,
            purchase_date: Some("2025-03-01T12:00:00Z".into()),
            commitment_term: Some(CommitmentJson {
                kind: "Annual".into(),
                term_end_date: Some("2026-03-01T00:00:00Z".into()),
                renewal_configuration: None,
            }),
            status: None,
        }
        .into_subscription("c");
        assert_eq!(
            s.commitment.unwrap().term_start.to_string(),
            "2025-03-01T12:00:00Z"
        );
    }
}
