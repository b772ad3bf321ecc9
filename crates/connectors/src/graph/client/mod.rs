//! [`GraphClient`]: the [`Directory`] port over Microsoft Graph v1.0 with reqwest.

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use url::Url;

use super::errors::Failure;
use super::token::{AppCredentials, Clock, TokenCache};
use super::{MailboxChange, ObjectId, SERVICE, TenantId};
use crate::error::Error;
use crate::http::{HttpClient, RetryPolicy, Sleeper, Verdict, transient_status};

mod directory;
mod wire;

/// User properties the client reads (Graph returns a smaller set by default).
const USER_SELECT: &str = "id,userPrincipalName,displayName,givenName,surname,jobTitle,department,\
officeLocation,mobilePhone,businessPhones,mail,mailNickname,proxyAddresses,usageLocation,\
accountEnabled,passwordPolicies,onPremisesSyncEnabled,onPremisesExtensionAttributes";

/// Group properties the client reads: enough to decide whether membership may be written.
const GROUP_SELECT: &str = "id,displayName,description,groupTypes,mailEnabled,mail,securityEnabled,\
membershipRule,onPremisesSyncEnabled";

/// No listing the workflow makes is this long; a server looping its
/// `@odata.nextLink` is stopped here.
const MAX_PAGES: usize = 1_000;

/// Where and as whom the client signs in and calls Graph.
#[derive(Debug, Clone)]
pub struct GraphConfig {
    /// The sign-in authority, e.g. `https://login.microsoftonline.com`; the
    /// token endpoint is `{authority}/{tenant}/oauth2/v2.0/token`.
    pub authority: Url,
    /// Graph's service root, e.g. `https://graph.microsoft.com/v1.0`.
    pub graph: Url,
    /// The client-credentials scope, e.g. `https://graph.microsoft.com/.default`.
    pub scope: String,
    /// The app registration used for every tenant without its own.
    pub credentials: AppCredentials,
    /// Timeouts and retries of every call.
    pub retry: RetryPolicy,
}

fn parse_url(name: &str, value: &str) -> Result<Url, Error> {
    Url::parse(value).map_err(|e| Error::Config {
        service: SERVICE,
        detail: format!("{name} '{value}' is not a url: {e}"),
    })
}

impl GraphConfig {
    /// Endpoints of one cloud.
    pub fn new(
        authority: &str,
        graph: &str,
        scope: &str,
        credentials: AppCredentials,
    ) -> Result<Self, Error> {
        Ok(Self {
            authority: parse_url("authority", authority)?,
            graph: parse_url("graph url", graph)?,
            scope: scope.to_owned(),
            credentials,
            retry: Self::default_retry(),
        })
    }

    /// Graph's retry policy: the shared default with more attempts, because
    /// Graph throttles bursts routinely and says exactly how long to wait.
    pub fn default_retry() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 8,
            ..RetryPolicy::default()
        }
    }

    /// The global cloud.
    pub fn global(credentials: AppCredentials) -> Result<Self, Error> {
        Self::new(
            "https://login.microsoftonline.com",
            "https://graph.microsoft.com/v1.0",
            "https://graph.microsoft.com/.default",
            credentials,
        )
    }

    /// US Government L4 (GCC High).
    pub fn us_government(credentials: AppCredentials) -> Result<Self, Error> {
        Self::new(
            "https://login.microsoftonline.us",
            "https://graph.microsoft.us/v1.0",
            "https://graph.microsoft.us/.default",
            credentials,
        )
    }

    /// Microsoft Azure operated by 21Vianet (China).
    pub fn china(credentials: AppCredentials) -> Result<Self, Error> {
        Self::new(
            "https://login.chinacloudapi.cn",
            "https://microsoftgraph.chinacloudapi.cn/v1.0",
            "https://microsoftgraph.chinacloudapi.cn/.default",
            credentials,
        )
    }

    /// The local simulator served at `base` (e.g. `http://127.0.0.1:3000`):
    /// `{base}/sandbox/graph/login` and `{base}/sandbox/graph/v1.0`.
    pub fn sandbox(base: &str, credentials: AppCredentials) -> Result<Self, Error> {
        let base = base.trim_end_matches('/');
        Self::new(
            &format!("{base}/sandbox/graph/login"),
            &format!("{base}/sandbox/graph/v1.0"),
            "https://graph.microsoft.com/.default",
            credentials,
        )
    }
}

/// The Graph implementation of [`Directory`].
#[derive(Debug)]
pub struct GraphClient {
    http: HttpClient,
    graph: Url,
    tokens: TokenCache,
}

/// What a 404 means for a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OnNotFound {
    /// An answer: the object does not exist.
    Answer,
    /// Maybe replication: the id came from Graph, so retry with backoff first.
    AwaitReplication,
}

/// Graph's transient answers: the shared ones, plus 409, which the directory
/// answers for `Directory_ConcurrencyViolation` ("retry after a short delay").
fn graph_transient(status: StatusCode) -> Verdict {
    if status == StatusCode::CONFLICT {
        Verdict::Retry
    } else {
        transient_status(status)
    }
}

/// Retries 404 as well: right after creation a user can be missing from the
/// replica that serves the next call.
fn replication_tolerant(status: StatusCode) -> Verdict {
    if status == StatusCode::NOT_FOUND {
        Verdict::Retry
    } else {
        graph_transient(status)
    }
}

/// Graph's success body, or its refusal.
type Reply = Result<Vec<u8>, Failure>;

fn parse<T: DeserializeOwned>(what: &str, body: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(body).map_err(|e| Error::Protocol {
        service: SERVICE,
        detail: format!("{what}: {e}"),
    })
}

/// An OData string literal: quoted, with single quotes doubled.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn user_what(key: &str) -> String {
    format!("user '{key}'")
}

#[derive(Deserialize)]
struct Page<T> {
    value: Vec<T>,
    #[serde(rename = "@odata.nextLink", default)]
    next_link: Option<String>,
}

impl GraphClient {
    /// A client for `config`; no network until the first call.
    pub fn new(config: GraphConfig) -> Result<Self, Error> {
        let http = HttpClient::new(SERVICE, config.retry)?;
        let tokens = TokenCache::new(
            http.clone(),
            config.authority,
            config.scope,
            config.credentials,
        );
        Ok(Self {
            http,
            graph: config.graph,
            tokens,
        })
    }

    /// Replaces how waits between attempts are spent (tests record them).
    pub fn with_sleeper(mut self, sleeper: Arc<dyn Sleeper>) -> Self {
        self.http = self.http.with_sleeper(sleeper);
        self.tokens.set_http(self.http.clone());
        self
    }

    /// Replaces the clock token lifetimes are measured on (tests).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.tokens.set_clock(clock);
        self
    }

    /// Uses another app registration for one tenant.
    pub fn with_tenant_credentials(
        mut self,
        tenant: TenantId,
        credentials: AppCredentials,
    ) -> Self {
        self.tokens.set_tenant_credentials(tenant, credentials);
        self
    }

    /// `{graph}/{segments...}`, each segment percent-encoded (a UPN's `#`,
    /// a `/` in an id), so no argument can change the path's shape.
    fn url(&self, segments: &[&str]) -> Result<Url, Error> {
        if segments
            .iter()
            .any(|s| s.is_empty() || *s == "." || *s == "..")
        {
            return Err(Error::Config {
                service: SERVICE,
                detail: "an empty or dot path segment in a graph url".into(),
            });
        }
        let mut url = self.graph.clone();
        url.path_segments_mut()
            .map_err(|()| Error::Config {
                service: SERVICE,
                detail: "the graph url cannot have a path".into(),
            })?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    fn url_with(&self, segments: &[&str], query: &[(&str, &str)]) -> Result<Url, Error> {
        let mut url = self.url(segments)?;
        url.query_pairs_mut().extend_pairs(query);
        Ok(url)
    }

    /// `DELETE` target that removes a membership: always ends in `/$ref`.
    /// Without it the same path addresses the user object and deletes it.
    fn member_ref_url(&self, group: &ObjectId, user: &ObjectId) -> Result<Url, Error> {
        self.url(&["groups", group.as_str(), "members", user.as_str(), "$ref"])
    }

    /// The `@odata.id` of a directory object for `$ref` bodies.
    fn directory_object(&self, id: &ObjectId) -> Result<String, Error> {
        Ok(self.url(&["directoryObjects", id.as_str()])?.to_string())
    }

    /// One call: token, send with retries, one token refresh on 401, and the
    /// body or Graph's refusal. Logs the operation and status, never the URL
    /// query, headers or bodies.
    async fn call(
        &self,
        tenant: &TenantId,
        op: &'static str,
        method: Method,
        url: Url,
        body: Option<&Value>,
        on_not_found: OnNotFound,
    ) -> Result<Reply, Error> {
        self.call_as(tenant, op, method, url, body, Some(on_not_found))
            .await
    }

    /// [`Self::call`] for a write that must not be sent twice (creating a user):
    /// [`HttpClient::send_write`], so a lost answer comes back as an error the
    /// caller resolves by reading, instead of a second POST.
    async fn call_write(
        &self,
        tenant: &TenantId,
        op: &'static str,
        url: Url,
        body: &Value,
    ) -> Result<Reply, Error> {
        self.call_as(tenant, op, Method::POST, url, Some(body), None)
            .await
    }

    /// `on_not_found: None` sends the request as a write that must not be repeated.
    async fn call_as(
        &self,
        tenant: &TenantId,
        op: &'static str,
        method: Method,
        url: Url,
        body: Option<&Value>,
        on_not_found: Option<OnNotFound>,
    ) -> Result<Reply, Error> {
        let mut refreshed = false;
        loop {
            let token = self.tokens.get(tenant).await?;
            let mut request = self
                .http
                .inner()
                .request(method.clone(), url.clone())
                .bearer_auth(token.expose_secret());
            if let Some(body) = body {
                request = request.json(body);
            }
            let sent = match on_not_found {
                Some(OnNotFound::Answer) => self.http.send_with(request, graph_transient).await,
                Some(OnNotFound::AwaitReplication) => {
                    self.http.send_with(request, replication_tolerant).await
                }
                None => self.http.send_write(request).await,
            };
            let response = match sent {
                Ok(response) => response,
                Err(Error::Unavailable {
                    status: 404,
                    attempts,
                    ..
                }) => {
                    tracing::debug!(tenant = %tenant, op, attempts, "graph object still missing after replication retries");
                    return Ok(Err(Failure {
                        status: StatusCode::NOT_FOUND,
                        code: "Request_ResourceNotFound".into(),
                        message: "not found after waiting for replication".into(),
                        conflict: None,
                    }));
                }
                Err(e) => return Err(e),
            };
            let status = response.status();
            if status == StatusCode::UNAUTHORIZED && !refreshed {
                // A token can be revoked before it expires (key rollover,
                // consent change): fetch a new one, once.
                tracing::debug!(tenant = %tenant, op, "graph refused the token, fetching a new one");
                self.tokens.invalidate(tenant, &token).await;
                refreshed = true;
                continue;
            }
            let bytes = response.bytes().await.map_err(|source| Error::Transport {
                service: SERVICE,
                source: source.without_url(),
            })?;
            tracing::debug!(tenant = %tenant, op, status = status.as_u16(), "graph call");
            return Ok(if status.is_success() {
                Ok(bytes.to_vec())
            } else {
                Err(Failure::parse(status, &bytes))
            });
        }
    }

    /// Every page of a collection, following `@odata.nextLink` only on Graph's own origin
    /// (the token must not travel to another host).
    async fn all_pages<T: DeserializeOwned>(
        &self,
        tenant: &TenantId,
        op: &'static str,
        first: Url,
        on_not_found: OnNotFound,
        what: impl Fn() -> String,
    ) -> Result<Vec<T>, Error> {
        let mut items = Vec::new();
        let mut next = Some(first);
        let mut pages = 0;
        while let Some(url) = next.take() {
            pages += 1;
            if pages > MAX_PAGES {
                return Err(Error::Protocol {
                    service: SERVICE,
                    detail: format!("{op}: more than {MAX_PAGES} pages"),
                });
            }
            let body = self
                .call(tenant, op, Method::GET, url, None, on_not_found)
                .await?
                .map_err(|f| f.into_error(&what))?;
            let page: Page<T> = parse(op, &body)?;
            items.extend(page.value);
            if let Some(link) = page.next_link {
                let url = Url::parse(&link).map_err(|e| Error::Protocol {
                    service: SERVICE,
                    detail: format!("{op}: @odata.nextLink is not a url: {e}"),
                })?;
                if url.origin() != self.graph.origin() {
                    return Err(Error::Protocol {
                        service: SERVICE,
                        detail: format!("{op}: @odata.nextLink leaves the graph host"),
                    });
                }
                next = Some(url);
            }
        }
        Ok(items)
    }

    /// The first page of a listing only (a search box shows the best few, never all).
    async fn first_page<T: DeserializeOwned>(
        &self,
        tenant: &TenantId,
        op: &'static str,
        url: Url,
        what: impl Fn() -> String,
    ) -> Result<Vec<T>, Error> {
        let body = self
            .call(tenant, op, Method::GET, url, None, OnNotFound::Answer)
            .await?
            .map_err(|f| f.into_error(&what))?;
        let page: Page<T> = parse(op, &body)?;
        Ok(page.value)
    }

    /// `PATCH /users/{id}` with `body`, waiting out replication.
    async fn patch_user(
        &self,
        tenant: &TenantId,
        op: &'static str,
        user: &ObjectId,
        body: &Value,
    ) -> Result<(), Error> {
        let url = self.url(&["users", user.as_str()])?;
        self.call(
            tenant,
            op,
            Method::PATCH,
            url,
            Some(body),
            OnNotFound::AwaitReplication,
        )
        .await?
        .map(drop)
        .map_err(|f| f.into_error(|| user_what(user.as_str())))
    }
}

/// What the app may do in a tenant, as read by [`GraphClient::app_access`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppAccess {
    /// The application permissions granted (the token's `roles` claim).
    pub permissions: Vec<String>,
    /// The directory roles of the app's service principal (display names), or
    /// why they could not be read (the app lacks `Application.Read.All`).
    pub directory_roles: Result<Vec<String>, String>,
}

impl GraphClient {
    /// Read-only preflight (`onboard check`): signs in with the client
    /// credentials, reads the granted application permissions from the access
    /// token's `roles` claim, and the service principal's directory roles with
    /// `GET /servicePrincipals/{oid}/memberOf` (`oid` from the same token).
    /// Changes nothing. A refused sign-in is [`Error::Unauthorized`].
    pub async fn app_access(&self, tenant: &TenantId) -> Result<AppAccess, Error> {
        let token = self.tokens.get(tenant).await?;
        let claims = jwt_claims(token.expose_secret()).ok_or_else(|| Error::Protocol {
            service: SERVICE,
            detail: "the access token is not a JWT with a JSON payload".into(),
        })?;
        let permissions: Vec<String> = claims
            .get("roles")
            .and_then(Value::as_array)
            .map(|r| {
                r.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let Some(oid) = claims.get("oid").and_then(Value::as_str) else {
            return Ok(AppAccess {
                permissions,
                directory_roles: Err("the access token names no service principal (oid)".into()),
            });
        };
        let url = self.url(&["servicePrincipals", oid, "memberOf"])?;
        let objects: Result<Vec<Value>, Error> = self
            .all_pages(
                tenant,
                "service_principal_member_of",
                url,
                OnNotFound::Answer,
                || format!("service principal {oid}"),
            )
            .await;
        let directory_roles = match objects {
            Ok(objects) => Ok(objects
                .iter()
                .filter(|o| {
                    o.get("@odata.type").and_then(Value::as_str)
                        == Some("#microsoft.graph.directoryRole")
                })
                .filter_map(|o| o.get("displayName").and_then(Value::as_str))
                .map(str::to_owned)
                .collect()),
            Err(Error::Forbidden { .. }) => {
                Err("cannot read the app's directory roles: grant Application.Read.All".into())
            }
            Err(e) => return Err(e),
        };
        Ok(AppAccess {
            permissions,
            directory_roles,
        })
    }
}

/// The claims of a JWT (its middle, base64url part), unverified: the token came
/// from the token endpoint over TLS; only its contents are read.
fn jwt_claims(token: &str) -> Option<serde_json::Map<String, Value>> {
    use base64::Engine as _;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(m) => Some(m),
        _ => None,
    }
}

impl GraphClient {
    /// `PATCH /users/{id}/mailboxSettings` with this `automaticRepliesSetting`.
    async fn patch_automatic_replies(
        &self,
        tenant: &TenantId,
        user: &ObjectId,
        setting: Value,
    ) -> Result<MailboxChange, Error> {
        let url = self.url(&["users", user.as_str(), "mailboxSettings"])?;
        let body = json!({ "automaticRepliesSetting": setting });
        match self
            .call(
                tenant,
                "set_automatic_replies",
                Method::PATCH,
                url,
                Some(&body),
                OnNotFound::Answer,
            )
            .await?
        {
            Ok(_) => Ok(MailboxChange::Set),
            // Exchange's answer for a user whose mailbox Graph cannot reach: none
            // (no Exchange license), inactive, soft-deleted or on-premises.
            Err(f) if f.code == "MailboxNotEnabledForRESTAPI" => {
                Ok(MailboxChange::NoMailbox(f.message))
            }
            Err(f) => Err(f.into_error(|| user_what(user.as_str()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use secrecy::SecretString;

    use super::*;

    fn client() -> GraphClient {
        let credentials = AppCredentials {
            client_id: "app".into(),
            client_secret: SecretString::from("secret"),
        };
        GraphClient::new(GraphConfig::global(credentials).unwrap()).unwrap()
    }

    #[test]
    fn the_member_removal_url_always_ends_in_ref() {
        let client = client();

        let url = client
            .member_ref_url(&ObjectId::new("g-1"), &ObjectId::new("u-1"))
            .unwrap();

        assert_eq!(
            url.as_str(),
            "https://graph.microsoft.com/v1.0/groups/g-1/members/u-1/$ref"
        );
    }

    #[test]
    fn path_segments_are_encoded_so_arguments_cannot_reshape_the_path() {
        let client = client();

        let url = client.url(&["users", "o'brien#ext#@contoso.com"]).unwrap();
        let sneaky = client.url(&["users", "a/../../groups"]).unwrap();

        assert_eq!(
            url.as_str(),
            "https://graph.microsoft.com/v1.0/users/o'brien%23ext%23@contoso.com"
        );
        assert_eq!(
            sneaky.as_str(),
            "https://graph.microsoft.com/v1.0/users/a%2F..%2F..%2Fgroups"
        );
        assert!(client.url(&["users", ".."]).is_err());
    }

    #[test]
    fn odata_literals_double_single_quotes() {
        assert_eq!(literal("O'Brien"), "'O''Brien'");
    }

    #[test]
    fn the_sandbox_config_mirrors_the_real_paths_under_sandbox_graph() {
        let credentials = AppCredentials {
            client_id: "app".into(),
            client_secret: SecretString::from("secret"),
        };

        let config = GraphConfig::sandbox("http://127.0.0.1:3000/", credentials).unwrap();

        assert_eq!(
            config.authority.as_str(),
            "http://127.0.0.1:3000/sandbox/graph/login"
        );
        assert_eq!(
            config.graph.as_str(),
            "http://127.0.0.1:3000/sandbox/graph/v1.0"
        );
        assert_eq!(config.scope, "https://graph.microsoft.com/.default");
    }
}
