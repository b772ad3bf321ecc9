//! [`GraphClient`]: the [`Directory`] port over Microsoft Graph v1.0 with reqwest.

use std::sync::Arc;

use async_trait::async_trait;
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use url::Url;

use onboard_domain::mfa::{ConditionalAccessPolicy, PolicyState, TapPolicy, UserConditions};

use super::errors::Failure;
use super::token::{AppCredentials, Clock, TokenCache};
use super::{
    AuthenticationMethod, AutomaticReplies, Deletion, Directory, Group, LicenseAssignmentState,
    LicenseDetail, LicenseToAdd, MailboxChange, MembershipChange, NewUser, ObjectId,
    PasswordPolicies, Profile, SERVICE, SubscribedSku, TapRequest, TemporaryAccessPass, TenantId,
    User, UserUpdate, mask_email, mask_phone,
};
use crate::error::Error;
use crate::http::{HttpClient, RetryPolicy, Sleeper, Verdict, transient_status};

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

fn profile_into(profile: &Profile, body: &mut Map<String, Value>) {
    let strings = [
        ("givenName", &profile.given_name),
        ("surname", &profile.surname),
        ("jobTitle", &profile.job_title),
        ("department", &profile.department),
        ("officeLocation", &profile.office_location),
        ("mobilePhone", &profile.mobile_phone),
        ("employeeId", &profile.employee_id),
        ("companyName", &profile.company_name),
    ];
    for (name, value) in strings {
        if let Some(value) = value {
            body.insert(name.into(), json!(value));
        }
    }
    if let Some(phones) = &profile.business_phones {
        body.insert("businessPhones".into(), json!(phones));
    }
}

/// The ids of a string array at `key` of `raw` (missing: none).
fn ids(raw: &Value, key: &str) -> Vec<String> {
    raw.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// A `conditionalAccessPolicy` as MFA readiness reads it (fact sheet §14).
fn conditional_access_policy(raw: &Value) -> Result<ConditionalAccessPolicy, Error> {
    let text = |key: &str| raw.get(key).and_then(Value::as_str);
    let state = text("state").ok_or_else(|| Error::Protocol {
        service: SERVICE,
        detail: "conditional access policy without a state".into(),
    })?;
    let grant = raw.get("grantControls").unwrap_or(&Value::Null);
    let requires_mfa = ids(grant, "builtInControls")
        .iter()
        .any(|c| c.eq_ignore_ascii_case("mfa"))
        || grant
            .pointer("/authenticationStrength/requirementsSatisfied")
            .and_then(Value::as_str)
            .is_some_and(|r| r.split(',').any(|r| r.trim().eq_ignore_ascii_case("mfa")));
    let users = raw.pointer("/conditions/users").unwrap_or(&Value::Null);
    Ok(ConditionalAccessPolicy {
        display_name: text("displayName")
            .or_else(|| text("id"))
            .unwrap_or("(unnamed)")
            .to_owned(),
        state: PolicyState::from_graph(state),
        requires_mfa,
        users: UserConditions {
            include_users: ids(users, "includeUsers"),
            exclude_users: ids(users, "excludeUsers"),
            include_groups: ids(users, "includeGroups"),
            exclude_groups: ids(users, "excludeGroups"),
            include_roles: ids(users, "includeRoles"),
            exclude_roles: ids(users, "excludeRoles"),
        },
    })
}

/// A `temporaryAccessPassAuthenticationMethodConfiguration`: its state and targets.
fn tap_policy(raw: &Value) -> TapPolicy {
    let targets = |key: &str| -> Vec<String> {
        raw.get(key)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.get("id").and_then(Value::as_str))
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    TapPolicy {
        enabled: raw.get("state").and_then(Value::as_str) == Some("enabled"),
        include_targets: targets("includeTargets"),
        exclude_targets: targets("excludeTargets"),
    }
}

/// An authentication method as Graph lists it, masked on the way in: the phone
/// number and e-mail address are read here and never leave in full.
fn authentication_method(raw: &Value) -> Result<AuthenticationMethod, Error> {
    let text = |name: &str| raw.get(name).and_then(Value::as_str).map(str::to_owned);
    let odata = text("@odata.type").ok_or_else(|| Error::Protocol {
        service: SERVICE,
        detail: "authentication method without @odata.type".into(),
    })?;
    let kind = odata
        .trim_start_matches("#microsoft.graph.")
        .trim_end_matches("AuthenticationMethod")
        .to_owned();
    let id = text("id").ok_or_else(|| Error::Protocol {
        service: SERVICE,
        detail: format!("{kind} authentication method without an id"),
    })?;
    let detail = match kind.as_str() {
        "phone" => text("phoneNumber").map(|n| mask_phone(&n)),
        "email" => text("emailAddress").map(|a| mask_email(&a)),
        _ => text("displayName"),
    };
    Ok(AuthenticationMethod {
        id,
        phone_type: if kind == "phone" {
            text("phoneType")
        } else {
            None
        },
        kind,
        detail,
    })
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

#[async_trait]
impl Directory for GraphClient {
    async fn user(&self, tenant: &TenantId, id_or_upn: &str) -> Result<Option<User>, Error> {
        let url = self.url_with(&["users", id_or_upn], &[("$select", USER_SELECT)])?;
        match self
            .call(
                tenant,
                "get_user",
                Method::GET,
                url,
                None,
                OnNotFound::Answer,
            )
            .await?
        {
            Ok(body) => parse("user", &body).map(Some),
            Err(f) if f.status == StatusCode::NOT_FOUND => Ok(None),
            Err(f) => Err(f.into_error(|| user_what(id_or_upn))),
        }
    }

    async fn find_users_by_address(
        &self,
        tenant: &TenantId,
        address: &str,
    ) -> Result<Vec<User>, Error> {
        let address = address.trim();
        let filter = format!(
            "userPrincipalName eq {a} or mail eq {a} or proxyAddresses/any(x:x eq {smtp})",
            a = literal(address),
            smtp = literal(&format!("smtp:{address}")),
        );
        let url = self.url_with(
            &["users"],
            &[("$filter", &filter), ("$select", USER_SELECT)],
        )?;
        self.all_pages(
            tenant,
            "find_users_by_address",
            url,
            OnNotFound::Answer,
            || "users".into(),
        )
        .await
    }

    async fn search_users(
        &self,
        tenant: &TenantId,
        text: &str,
        top: u16,
    ) -> Result<Vec<User>, Error> {
        let t = literal(text.trim());
        let filter = format!(
            "startswith(displayName,{t}) or startswith(givenName,{t}) or startswith(surname,{t}) \
             or startswith(userPrincipalName,{t}) or startswith(mail,{t})"
        );
        let top = top.clamp(1, 999).to_string();
        let url = self.url_with(
            &["users"],
            &[
                ("$filter", &filter),
                ("$select", USER_SELECT),
                ("$top", &top),
            ],
        )?;
        self.first_page(tenant, "search_users", url, || "users".into())
            .await
    }

    async fn find_users_by_upn_prefix(
        &self,
        tenant: &TenantId,
        prefix: &str,
    ) -> Result<Vec<User>, Error> {
        let filter = format!("startswith(userPrincipalName,{})", literal(prefix));
        let url = self.url_with(
            &["users"],
            &[
                ("$filter", &filter),
                ("$select", USER_SELECT),
                ("$top", "999"),
            ],
        )?;
        self.all_pages(
            tenant,
            "find_users_by_upn_prefix",
            url,
            OnNotFound::Answer,
            || "users".into(),
        )
        .await
    }

    async fn create_user(&self, tenant: &TenantId, user: &NewUser) -> Result<User, Error> {
        let mut body = Map::new();
        body.insert("accountEnabled".into(), json!(user.account_enabled));
        body.insert("displayName".into(), json!(user.display_name));
        body.insert("mailNickname".into(), json!(user.mail_nickname));
        body.insert("userPrincipalName".into(), json!(user.user_principal_name));
        body.insert(
            "passwordProfile".into(),
            json!({
                "forceChangePasswordNextSignIn": user.force_change_password_next_sign_in,
                "password": user.password.expose_secret(),
            }),
        );
        if let Some(location) = &user.usage_location {
            body.insert("usageLocation".into(), json!(location));
        }
        if let Some(policies) = user.password_policies {
            body.insert("passwordPolicies".into(), json!(policies.to_graph()));
        }
        profile_into(&user.profile, &mut body);
        if !user.extension_attributes.is_empty() {
            body.insert(
                "onPremisesExtensionAttributes".into(),
                json!(user.extension_attributes),
            );
        }
        let body = Value::Object(body);
        let url = self.url(&["users"])?;
        let answer = self
            .call_write(tenant, "create_user", url, &body)
            .await?
            .map_err(|f| f.into_error(|| user_what(&user.user_principal_name)))?;
        let mut created: User = parse("created user", &answer)?;
        // The 201 carries Graph's small default property set; fill in what we just set.
        created
            .mail_nickname
            .get_or_insert_with(|| user.mail_nickname.clone());
        created.account_enabled.get_or_insert(user.account_enabled);
        if created.usage_location.is_none() {
            created.usage_location.clone_from(&user.usage_location);
        }
        if created.password_policies.is_none() {
            created.password_policies = user.password_policies.map(PasswordPolicies::to_graph);
        }
        Ok(created)
    }

    async fn update_user(
        &self,
        tenant: &TenantId,
        user: &ObjectId,
        update: &UserUpdate,
    ) -> Result<(), Error> {
        let mut body = Map::new();
        if let Some(name) = &update.display_name {
            body.insert("displayName".into(), json!(name));
        }
        if let Some(location) = &update.usage_location {
            body.insert("usageLocation".into(), json!(location));
        }
        profile_into(&update.profile, &mut body);
        if body.is_empty() {
            return Ok(());
        }
        self.patch_user(tenant, "update_user", user, &Value::Object(body))
            .await
    }

    async fn set_manager(
        &self,
        tenant: &TenantId,
        user: &ObjectId,
        manager: &ObjectId,
    ) -> Result<(), Error> {
        let url = self.url(&["users", user.as_str(), "manager", "$ref"])?;
        // The documented body names the manager as `.../users/{id}`.
        let body = json!({ "@odata.id": self.url(&["users", manager.as_str()])?.to_string() });
        self.call(
            tenant,
            "set_manager",
            Method::PUT,
            url,
            Some(&body),
            OnNotFound::AwaitReplication,
        )
        .await?
        .map(drop)
        .map_err(|f| f.into_error(|| format!("user '{user}' or manager '{manager}'")))
    }

    async fn manager(&self, tenant: &TenantId, user: &ObjectId) -> Result<Option<User>, Error> {
        let url = self.url_with(
            &["users", user.as_str(), "manager"],
            &[("$select", USER_SELECT)],
        )?;
        match self
            .call(
                tenant,
                "get_manager",
                Method::GET,
                url,
                None,
                OnNotFound::Answer,
            )
            .await?
        {
            Ok(body) => parse("manager", &body).map(Some),
            // "Resource 'manager' does not exist ...": the user has none.
            Err(f) if f.status == StatusCode::NOT_FOUND && f.message.contains("'manager'") => {
                Ok(None)
            }
            Err(f) => Err(f.into_error(|| user_what(user.as_str()))),
        }
    }

    async fn remove_manager(&self, tenant: &TenantId, user: &ObjectId) -> Result<(), Error> {
        let url = self.url(&["users", user.as_str(), "manager", "$ref"])?;
        match self
            .call(
                tenant,
                "remove_manager",
                Method::DELETE,
                url,
                None,
                OnNotFound::Answer,
            )
            .await?
        {
            Ok(_) => Ok(()),
            Err(f) if f.status == StatusCode::NOT_FOUND && f.message.contains("'manager'") => {
                Ok(())
            }
            Err(f) => Err(f.into_error(|| user_what(user.as_str()))),
        }
    }

    async fn reset_password(
        &self,
        tenant: &TenantId,
        user: &ObjectId,
        password: &SecretString,
        force_change_next_sign_in: bool,
    ) -> Result<(), Error> {
        let body = json!({
            "passwordProfile": {
                "forceChangePasswordNextSignIn": force_change_next_sign_in,
                "password": password.expose_secret(),
            }
        });
        self.patch_user(tenant, "reset_password", user, &body).await
    }

    async fn set_password_policies(
        &self,
        tenant: &TenantId,
        user: &ObjectId,
        policies: PasswordPolicies,
    ) -> Result<(), Error> {
        let body = json!({ "passwordPolicies": policies.to_graph() });
        self.patch_user(tenant, "set_password_policies", user, &body)
            .await
    }

    async fn set_account_enabled(
        &self,
        tenant: &TenantId,
        user: &ObjectId,
        enabled: bool,
    ) -> Result<(), Error> {
        let body = json!({ "accountEnabled": enabled });
        self.patch_user(tenant, "set_account_enabled", user, &body)
            .await
    }

    async fn revoke_sign_in_sessions(
        &self,
        tenant: &TenantId,
        user: &ObjectId,
    ) -> Result<(), Error> {
        let url = self.url(&["users", user.as_str(), "revokeSignInSessions"])?;
        // Documented 204, answered 200 {"value": true}: any 2xx is success.
        self.call(
            tenant,
            "revoke_sign_in_sessions",
            Method::POST,
            url,
            None,
            OnNotFound::AwaitReplication,
        )
        .await?
        .map(drop)
        .map_err(|f| f.into_error(|| user_what(user.as_str())))
    }

    async fn create_temporary_access_pass(
        &self,
        tenant: &TenantId,
        user: &ObjectId,
        request: &TapRequest,
    ) -> Result<TemporaryAccessPass, Error> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Answer {
            id: String,
            temporary_access_pass: String,
            #[serde(default)]
            start_date_time: Option<String>,
            lifetime_in_minutes: u32,
            #[serde(default)]
            is_usable_once: bool,
        }
        let mut body = Map::new();
        if let Some(start) = request.start {
            body.insert("startDateTime".into(), json!(start.to_string()));
        }
        if let Some(minutes) = request.lifetime_minutes {
            body.insert("lifetimeInMinutes".into(), json!(minutes));
        }
        if let Some(once) = request.usable_once {
            body.insert("isUsableOnce".into(), json!(once));
        }
        let url = self.url(&[
            "users",
            user.as_str(),
            "authentication",
            "temporaryAccessPassMethods",
        ])?;
        let answer = self
            .call(
                tenant,
                "create_temporary_access_pass",
                Method::POST,
                url,
                Some(&Value::Object(body)),
                OnNotFound::AwaitReplication,
            )
            .await?
            .map_err(|f| f.into_error(|| user_what(user.as_str())))?;
        let answer: Answer = parse("temporary access pass", &answer)?;
        Ok(TemporaryAccessPass {
            id: answer.id,
            pass: SecretString::from(answer.temporary_access_pass),
            start: answer.start_date_time.and_then(|s| s.parse().ok()),
            lifetime_minutes: answer.lifetime_in_minutes,
            usable_once: answer.is_usable_once,
        })
    }

    async fn member_of(&self, tenant: &TenantId, user: &ObjectId) -> Result<Vec<Group>, Error> {
        let url = self.url(&["users", user.as_str(), "memberOf"])?;
        let objects: Vec<Value> = self
            .all_pages(
                tenant,
                "member_of",
                url,
                OnNotFound::AwaitReplication,
                || user_what(user.as_str()),
            )
            .await?;
        objects
            .into_iter()
            .filter(|o| {
                o.get("@odata.type").and_then(Value::as_str) == Some("#microsoft.graph.group")
            })
            .map(|o| {
                serde_json::from_value(o).map_err(|e| Error::Protocol {
                    service: SERVICE,
                    detail: format!("memberOf group: {e}"),
                })
            })
            .collect()
    }

    async fn license_details(
        &self,
        tenant: &TenantId,
        user: &ObjectId,
    ) -> Result<Vec<LicenseDetail>, Error> {
        let url = self.url(&["users", user.as_str(), "licenseDetails"])?;
        self.all_pages(
            tenant,
            "license_details",
            url,
            OnNotFound::AwaitReplication,
            || user_what(user.as_str()),
        )
        .await
    }

    async fn license_assignment_states(
        &self,
        tenant: &TenantId,
        user: &ObjectId,
    ) -> Result<Vec<LicenseAssignmentState>, Error> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Answer {
            #[serde(default)]
            license_assignment_states: Vec<LicenseAssignmentState>,
        }
        let url = self.url_with(
            &["users", user.as_str()],
            &[("$select", "licenseAssignmentStates")],
        )?;
        let body = self
            .call(
                tenant,
                "license_assignment_states",
                Method::GET,
                url,
                None,
                OnNotFound::AwaitReplication,
            )
            .await?
            .map_err(|f| f.into_error(|| user_what(user.as_str())))?;
        Ok(parse::<Answer>("license assignment states", &body)?.license_assignment_states)
    }

    async fn subscribed_skus(&self, tenant: &TenantId) -> Result<Vec<SubscribedSku>, Error> {
        let url = self.url(&["subscribedSkus"])?;
        self.all_pages(tenant, "subscribed_skus", url, OnNotFound::Answer, || {
            "subscribed skus".into()
        })
        .await
    }

    async fn assign_licenses(
        &self,
        tenant: &TenantId,
        user: &ObjectId,
        add: &[LicenseToAdd],
        remove: &[String],
    ) -> Result<(), Error> {
        // Both arrays are required, empty or not.
        let body = json!({
            "addLicenses": add
                .iter()
                .map(|l| json!({"skuId": l.sku_id, "disabledPlans": l.disabled_plans}))
                .collect::<Vec<_>>(),
            "removeLicenses": remove,
        });
        let url = self.url(&["users", user.as_str(), "assignLicense"])?;
        self.call(
            tenant,
            "assign_licenses",
            Method::POST,
            url,
            Some(&body),
            OnNotFound::AwaitReplication,
        )
        .await?
        .map(drop)
        .map_err(|f| f.into_error(|| user_what(user.as_str())))
    }

    async fn find_groups_by_name(
        &self,
        tenant: &TenantId,
        display_name: &str,
    ) -> Result<Vec<Group>, Error> {
        let filter = format!("displayName eq {}", literal(display_name));
        let url = self.url_with(
            &["groups"],
            &[("$filter", &filter), ("$select", GROUP_SELECT)],
        )?;
        self.all_pages(
            tenant,
            "find_groups_by_name",
            url,
            OnNotFound::Answer,
            || "groups".into(),
        )
        .await
    }

    async fn search_groups(
        &self,
        tenant: &TenantId,
        text: &str,
        top: u16,
    ) -> Result<Vec<Group>, Error> {
        let t = literal(text.trim());
        let filter = format!("startswith(displayName,{t}) or startswith(mail,{t})");
        let top = top.clamp(1, 999).to_string();
        let url = self.url_with(
            &["groups"],
            &[
                ("$filter", &filter),
                ("$select", GROUP_SELECT),
                ("$top", &top),
            ],
        )?;
        self.first_page(tenant, "search_groups", url, || "groups".into())
            .await
    }

    async fn group(&self, tenant: &TenantId, id: &ObjectId) -> Result<Option<Group>, Error> {
        let url = self.url_with(&["groups", id.as_str()], &[("$select", GROUP_SELECT)])?;
        match self
            .call(
                tenant,
                "get_group",
                Method::GET,
                url,
                None,
                OnNotFound::Answer,
            )
            .await?
        {
            Ok(body) => parse("group", &body).map(Some),
            Err(f) if f.status == StatusCode::NOT_FOUND => Ok(None),
            Err(f) => Err(f.into_error(|| format!("group '{id}'"))),
        }
    }

    async fn add_group_member(
        &self,
        tenant: &TenantId,
        group: &Group,
        user: &ObjectId,
    ) -> Result<MembershipChange, Error> {
        if let Some(reason) = group.membership_skip_reason() {
            tracing::info!(tenant = %tenant, group = %group.id, %reason, "group membership not written");
            return Ok(MembershipChange::Skipped(reason));
        }
        let url = self.url(&["groups", group.id.as_str(), "members", "$ref"])?;
        let body = json!({ "@odata.id": self.directory_object(user)? });
        match self
            .call(
                tenant,
                "add_group_member",
                Method::POST,
                url,
                Some(&body),
                OnNotFound::AwaitReplication,
            )
            .await?
        {
            Ok(_) => Ok(MembershipChange::Added),
            Err(f) if f.is_already_member() => Ok(MembershipChange::AlreadyMember),
            Err(f) => Err(f.into_error(|| format!("group '{}' or user '{user}'", group.id))),
        }
    }

    async fn remove_group_member(
        &self,
        tenant: &TenantId,
        group: &Group,
        user: &ObjectId,
    ) -> Result<MembershipChange, Error> {
        if let Some(reason) = group.membership_skip_reason() {
            tracing::info!(tenant = %tenant, group = %group.id, %reason, "group membership not written");
            return Ok(MembershipChange::Skipped(reason));
        }
        let url = self.member_ref_url(&group.id, user)?;
        match self
            .call(
                tenant,
                "remove_group_member",
                Method::DELETE,
                url,
                None,
                OnNotFound::Answer,
            )
            .await?
        {
            Ok(_) => Ok(MembershipChange::Removed),
            // A 404 naming the group means the group is gone; otherwise the
            // user is not (or no longer) a member.
            Err(f)
                if f.status == StatusCode::NOT_FOUND && !f.message.contains(group.id.as_str()) =>
            {
                Ok(MembershipChange::NotAMember)
            }
            Err(f) => Err(f.into_error(|| format!("group '{}'", group.id))),
        }
    }

    async fn authentication_methods(
        &self,
        tenant: &TenantId,
        user: &ObjectId,
    ) -> Result<Vec<AuthenticationMethod>, Error> {
        let url = self.url(&["users", user.as_str(), "authentication", "methods"])?;
        let raw: Vec<Value> = self
            .all_pages(
                tenant,
                "authentication_methods",
                url,
                OnNotFound::AwaitReplication,
                || user_what(user.as_str()),
            )
            .await?;
        raw.iter().map(authentication_method).collect()
    }

    async fn delete_authentication_method(
        &self,
        tenant: &TenantId,
        user: &ObjectId,
        method: &AuthenticationMethod,
    ) -> Result<Deletion, Error> {
        let Some(collection) = method.collection() else {
            return Err(Error::Rejected {
                service: SERVICE,
                status: 405,
                code: "NotDeletable".into(),
                message: format!(
                    "graph v1.0 cannot delete a {} authentication method",
                    method.kind
                ),
            });
        };
        let url = self.url(&[
            "users",
            user.as_str(),
            "authentication",
            collection,
            method.id.as_str(),
        ])?;
        match self
            .call(
                tenant,
                "delete_authentication_method",
                Method::DELETE,
                url,
                None,
                OnNotFound::Answer,
            )
            .await?
        {
            Ok(_) => Ok(Deletion::Deleted),
            Err(f) if f.status == StatusCode::NOT_FOUND => Ok(Deletion::AlreadyGone),
            Err(f) => Err(f.into_error(|| format!("{} method of {}", method.kind, user))),
        }
    }

    async fn security_defaults_enabled(&self, tenant: &TenantId) -> Result<bool, Error> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Policy {
            is_enabled: bool,
        }
        let url = self.url(&["policies", "identitySecurityDefaultsEnforcementPolicy"])?;
        let body = self
            .call(
                tenant,
                "security_defaults",
                Method::GET,
                url,
                None,
                OnNotFound::Answer,
            )
            .await?
            .map_err(|f| f.into_error(|| "the security defaults policy".into()))?;
        parse::<Policy>("security defaults policy", &body).map(|p| p.is_enabled)
    }

    async fn conditional_access_policies(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<ConditionalAccessPolicy>, Error> {
        let url = self.url(&["identity", "conditionalAccess", "policies"])?;
        let raw: Vec<Value> = self
            .all_pages(
                tenant,
                "conditional_access_policies",
                url,
                OnNotFound::Answer,
                || "conditional access policies".into(),
            )
            .await?;
        raw.iter().map(conditional_access_policy).collect()
    }

    async fn temporary_access_pass_policy(&self, tenant: &TenantId) -> Result<TapPolicy, Error> {
        let url = self.url(&[
            "policies",
            "authenticationMethodsPolicy",
            "authenticationMethodConfigurations",
            "TemporaryAccessPass",
        ])?;
        let body = self
            .call(
                tenant,
                "temporary_access_pass_policy",
                Method::GET,
                url,
                None,
                OnNotFound::Answer,
            )
            .await?
            .map_err(|f| f.into_error(|| "the Temporary Access Pass method policy".into()))?;
        let raw: Value = parse("temporary access pass policy", &body)?;
        Ok(tap_policy(&raw))
    }

    async fn set_automatic_replies(
        &self,
        tenant: &TenantId,
        user: &ObjectId,
        replies: &AutomaticReplies,
    ) -> Result<MailboxChange, Error> {
        let setting = json!({
            "status": "alwaysEnabled",
            "externalAudience": replies.external_audience.to_graph(),
            "internalReplyMessage": replies.internal_message,
            "externalReplyMessage": replies.external_message,
        });
        self.patch_automatic_replies(tenant, user, setting).await
    }

    async fn switch_off_automatic_replies(
        &self,
        tenant: &TenantId,
        user: &ObjectId,
    ) -> Result<MailboxChange, Error> {
        self.patch_automatic_replies(tenant, user, json!({"status": "disabled"}))
            .await
    }
}

#[cfg(test)]
mod tests {
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
