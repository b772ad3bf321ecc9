//! [`ExchangeClient`]: the [`Exchange`] port over Exchange Online's `InvokeCommand`.

use async_trait::async_trait;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use url::Url;

use super::errors::Failure;
use super::{
    Exchange, GroupMemberChange, Mailbox, MailboxPermission, MailboxUpdate, Recipient, SERVICE,
};
use crate::error::Error;
use crate::graph::token::TokenCache;
use crate::graph::{AppCredentials, TenantId};
use crate::http::{HttpClient, RetryPolicy, Sleeper, create_once};

/// No cmdlet the workflow sends lists this many pages; a server looping its
/// `@odata.nextLink` is stopped here.
const MAX_PAGES: usize = 100;

/// The anchor of a call that names no mailbox (CIPP's `New-ExoRequest.ps1`).
const SYSTEM_MAILBOX: &str = "APP:SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}";

/// Where and as whom the client signs in and calls Exchange Online.
#[derive(Debug, Clone)]
pub struct ExchangeConfig {
    /// The sign-in authority (`https://login.microsoftonline.com`).
    pub authority: Url,
    /// The admin API root (`https://outlook.office365.com/adminapi/beta`); calls go
    /// to `{endpoint}/{tenant}/InvokeCommand`.
    pub endpoint: Url,
    /// The client-credentials scope (`https://outlook.office365.com/.default`).
    pub scope: String,
    /// The organization's Graph app registration.
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

impl ExchangeConfig {
    /// The default admin API root of the global cloud.
    pub const GLOBAL_ENDPOINT: &'static str = "https://outlook.office365.com/adminapi/beta";
    /// The client-credentials scope of the global cloud.
    pub const GLOBAL_SCOPE: &'static str = "https://outlook.office365.com/.default";

    /// Endpoints of one cloud.
    pub fn new(
        authority: &str,
        endpoint: &str,
        scope: &str,
        credentials: AppCredentials,
    ) -> Result<Self, Error> {
        Ok(Self {
            authority: parse_url("authority", authority)?,
            endpoint: parse_url("exchange url", endpoint)?,
            scope: scope.to_owned(),
            credentials,
            retry: RetryPolicy::default(),
        })
    }

    /// The global cloud.
    pub fn global(credentials: AppCredentials) -> Result<Self, Error> {
        Self::new(
            "https://login.microsoftonline.com",
            Self::GLOBAL_ENDPOINT,
            Self::GLOBAL_SCOPE,
            credentials,
        )
    }

    /// The local simulator served at `base`: sign-in at `{base}/sandbox/graph/login`
    /// (the tenant's one authority), the API at `{base}/sandbox/exchange/adminapi/beta`.
    pub fn sandbox(base: &str, credentials: AppCredentials) -> Result<Self, Error> {
        let base = base.trim_end_matches('/');
        Self::new(
            &format!("{base}/sandbox/graph/login"),
            &format!("{base}/sandbox/exchange/adminapi/beta"),
            Self::GLOBAL_SCOPE,
            credentials,
        )
    }
}

/// The Exchange Online implementation of [`Exchange`].
#[derive(Debug)]
pub struct ExchangeClient {
    http: HttpClient,
    endpoint: Url,
    tokens: TokenCache,
}

/// Whether a cmdlet may be sent again after its answer was lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resend {
    /// A read, or a write of absolute values: sending it twice sets them once.
    Idempotent,
    /// A write that adds or removes an entry: after a lost answer the caller
    /// reads whether it was applied before sending it again ([`create_once`]).
    AfterARead,
}

/// Cmdlets answer `{"value": [...], "@odata.nextLink"?}`.
#[derive(serde::Deserialize)]
struct Page {
    #[serde(default)]
    value: Vec<Value>,
    #[serde(rename = "@odata.nextLink", default)]
    next_link: Option<String>,
}

fn parse<T: DeserializeOwned>(what: &str, value: Value) -> Result<T, Error> {
    serde_json::from_value(value).map_err(|e| Error::Protocol {
        service: SERVICE,
        detail: format!("{what}: {e}"),
    })
}

impl ExchangeClient {
    /// A client for `config`; no network until the first call.
    pub fn new(config: ExchangeConfig) -> Result<Self, Error> {
        let http = HttpClient::new(SERVICE, config.retry)?;
        let tokens = TokenCache::new(
            http.clone(),
            config.authority,
            config.scope,
            config.credentials,
        );
        Ok(Self {
            http,
            endpoint: config.endpoint,
            tokens,
        })
    }

    /// Replaces how waits between attempts are spent (tests).
    pub fn with_sleeper(mut self, sleeper: std::sync::Arc<dyn Sleeper>) -> Self {
        self.http = self.http.with_sleeper(sleeper);
        self.tokens.set_http(self.http.clone());
        self
    }

    fn invoke_url(&self, tenant: &TenantId) -> Result<Url, Error> {
        let mut url = self.endpoint.clone();
        url.path_segments_mut()
            .map_err(|()| Error::Config {
                service: SERVICE,
                detail: "the exchange url cannot have a path".into(),
            })?
            .pop_if_empty()
            .extend([tenant.as_str(), "InvokeCommand"]);
        Ok(url)
    }

    /// Runs one cmdlet and answers every page of its output, or Exchange's refusal.
    ///
    /// `X-AnchorMailbox` routes the call to the mailbox's server: the target's UPN,
    /// else the tenant's system mailbox (§15). A next page is fetched only on the
    /// endpoint's own origin (the token must not travel to another host), by
    /// POSTing the same body to it as CIPP does.
    ///
    /// `send` says whether a lost answer may be followed by the same cmdlet:
    /// reads and absolute `Set-Mailbox` values may; the permission and member
    /// writes may not (the caller reads what they did first, issue #15's rule).
    async fn invoke(
        &self,
        tenant: &TenantId,
        cmdlet: &str,
        parameters: Map<String, Value>,
        send: Resend,
    ) -> Result<Result<Vec<Value>, Failure>, Error> {
        // Mailbox cmdlets are anchored on their mailbox; the others (recipients,
        // groups) on the system mailbox.
        let anchor = parameters
            .get("Identity")
            .and_then(Value::as_str)
            .filter(|i| i.contains('@') && cmdlet.contains("Mailbox"))
            .map_or_else(|| format!("{SYSTEM_MAILBOX}@{tenant}"), str::to_owned);
        let anchor = HeaderValue::from_str(&anchor).map_err(|_| Error::Config {
            service: SERVICE,
            detail: format!("identity '{anchor}' cannot be sent as X-AnchorMailbox"),
        })?;
        let body = serde_json::to_vec(&json!({
            "CmdletInput": {"CmdletName": cmdlet, "Parameters": parameters}
        }))
        .map_err(|e| Error::Protocol {
            service: SERVICE,
            detail: format!("cannot encode the {cmdlet} request: {e}"),
        })?;
        let mut url = self.invoke_url(tenant)?;
        let mut values = Vec::new();
        let mut refreshed = false;
        let mut pages = 0;
        loop {
            let token = self.tokens.get(tenant).await?;
            let request = self
                .http
                .inner()
                .post(url.clone())
                .bearer_auth(token.expose_secret())
                .header(
                    CONTENT_TYPE,
                    HeaderValue::from_static("application/json; charset=utf-8"),
                )
                .header("X-AnchorMailbox", anchor.clone())
                .header("Prefer", "odata.maxpagesize=1000")
                .body(body.clone());
            let response = match send {
                Resend::Idempotent => self.http.send(request).await?,
                Resend::AfterARead => self.http.send_write(request).await?,
            };
            let status = response.status();
            let bytes = response.bytes().await.map_err(|source| Error::Transport {
                service: SERVICE,
                source: source.without_url(),
            })?;
            tracing::debug!(tenant = %tenant, cmdlet, status = status.as_u16(), "exchange call");
            if !status.is_success() {
                let failure = Failure::parse(status, &bytes);
                if status == StatusCode::UNAUTHORIZED && !refreshed && !failure.is_role_missing() {
                    // A token can be revoked before it expires: fetch a new one, once.
                    self.tokens.invalidate(tenant, &token).await;
                    refreshed = true;
                    continue;
                }
                return Ok(Err(failure));
            }
            let page: Page = serde_json::from_slice(&bytes).map_err(|e| Error::Protocol {
                service: SERVICE,
                detail: format!("{cmdlet} answer: {e}"),
            })?;
            values.extend(page.value);
            pages += 1;
            let Some(next) = page.next_link else {
                return Ok(Ok(values));
            };
            let next = Url::parse(&next).map_err(|e| Error::Protocol {
                service: SERVICE,
                detail: format!("{cmdlet} next link is not a url: {e}"),
            })?;
            if next.origin() != self.endpoint.origin() {
                return Err(Error::Protocol {
                    service: SERVICE,
                    detail: format!("{cmdlet} next link points to another host"),
                });
            }
            if pages >= MAX_PAGES {
                return Err(Error::Protocol {
                    service: SERVICE,
                    detail: format!("{cmdlet} answered more than {MAX_PAGES} pages"),
                });
            }
            url = next;
        }
    }

    /// A cmdlet whose refusal is an error (`what` names the object for a not-found).
    async fn run(
        &self,
        tenant: &TenantId,
        cmdlet: &str,
        parameters: Map<String, Value>,
        what: impl FnOnce() -> String,
    ) -> Result<Vec<Value>, Error> {
        self.invoke(tenant, cmdlet, parameters, Resend::Idempotent)
            .await?
            .map_err(|f| f.into_error(what))
    }

    /// A read whose not-found is an answer.
    async fn find(
        &self,
        tenant: &TenantId,
        cmdlet: &str,
        identity: &str,
    ) -> Result<Option<Value>, Error> {
        match self
            .invoke(tenant, cmdlet, identity_only(identity), Resend::Idempotent)
            .await?
        {
            Ok(values) => Ok(values.into_iter().next()),
            Err(f) if f.is_not_found() => Ok(None),
            Err(f) => Err(f.into_error(|| format!("'{identity}'"))),
        }
    }

    /// Whether `user` holds FullAccess on `identity`'s mailbox.
    async fn holds_full_access(
        &self,
        tenant: &TenantId,
        identity: &str,
        user: &str,
    ) -> Result<bool, Error> {
        Ok(self
            .mailbox_permissions(tenant, identity)
            .await?
            .iter()
            .any(|p| p.grants_full_access_to(user)))
    }

    /// Checks the app can call Exchange Online for `tenant` by reading one mailbox
    /// (`Get-Mailbox -ResultSize 1`). Changes nothing.
    pub async fn probe(&self, tenant: &TenantId) -> Result<(), Error> {
        let mut parameters = Map::new();
        parameters.insert("ResultSize".into(), json!(1));
        self.run(tenant, "Get-Mailbox", parameters, || "any mailbox".into())
            .await
            .map(|_| ())
    }
}

impl ExchangeClient {
    /// `Add-` or `Remove-DistributionGroupMember`: sent again after a lost answer
    /// (no read first), since the resend's "already a member" / "isn't a member"
    /// says the first one was applied.
    async fn change_member(
        &self,
        tenant: &TenantId,
        group: &str,
        member: &str,
        add: bool,
    ) -> Result<GroupMemberChange, Error> {
        let mut parameters = identity_only(group);
        parameters.insert("Member".into(), json!(member));
        parameters.insert("BypassSecurityGroupManagerCheck".into(), json!(true));
        let cmdlet = if add {
            "Add-DistributionGroupMember"
        } else {
            parameters.insert("Confirm".into(), json!(false));
            "Remove-DistributionGroupMember"
        };
        match self
            .invoke(tenant, cmdlet, parameters, Resend::Idempotent)
            .await?
        {
            Ok(_) if add => Ok(GroupMemberChange::Added),
            Ok(_) => Ok(GroupMemberChange::Removed),
            Err(f) if add && f.is_already_member() => Ok(GroupMemberChange::AlreadyMember),
            Err(f) if !add && f.is_not_a_member() => Ok(GroupMemberChange::NotAMember),
            Err(f) => Err(f.into_error(|| format!("group '{group}' or member '{member}'"))),
        }
    }
}

fn identity_only(identity: &str) -> Map<String, Value> {
    let mut parameters = Map::new();
    parameters.insert("Identity".into(), json!(identity));
    parameters
}

fn mailbox_what(identity: &str) -> impl FnOnce() -> String + '_ {
    move || format!("mailbox '{identity}'")
}

#[async_trait]
impl Exchange for ExchangeClient {
    async fn mailbox(&self, tenant: &TenantId, identity: &str) -> Result<Option<Mailbox>, Error> {
        self.find(tenant, "Get-Mailbox", identity)
            .await?
            .map(|v| parse("Get-Mailbox answer", v))
            .transpose()
    }

    async fn set_mailbox(
        &self,
        tenant: &TenantId,
        identity: &str,
        update: &MailboxUpdate,
    ) -> Result<(), Error> {
        let mut parameters = identity_only(identity);
        update.parameters(&mut parameters);
        self.run(tenant, "Set-Mailbox", parameters, mailbox_what(identity))
            .await
            .map(|_| ())
    }

    async fn mailbox_permissions(
        &self,
        tenant: &TenantId,
        identity: &str,
    ) -> Result<Vec<MailboxPermission>, Error> {
        self.run(
            tenant,
            "Get-MailboxPermission",
            identity_only(identity),
            mailbox_what(identity),
        )
        .await?
        .into_iter()
        .map(|v| parse("Get-MailboxPermission answer", v))
        .collect()
    }

    async fn add_full_access(
        &self,
        tenant: &TenantId,
        identity: &str,
        user: &str,
        automapping: bool,
    ) -> Result<(), Error> {
        let holds = || async {
            Ok(self
                .holds_full_access(tenant, identity, user)
                .await?
                .then_some(()))
        };
        let add = || async {
            // CIPP's `Set-CIPPMailboxPermission.ps1`, parameter names as it spells them.
            let mut parameters = identity_only(identity);
            parameters.insert("user".into(), json!(user));
            parameters.insert("accessRights".into(), json!(["FullAccess"]));
            parameters.insert("automapping".into(), json!(automapping));
            parameters.insert("InheritanceType".into(), json!("all"));
            match self
                .invoke(
                    tenant,
                    "Add-MailboxPermission",
                    parameters,
                    Resend::AfterARead,
                )
                .await?
            {
                Ok(_) => Ok(()),
                Err(f) if f.is_already_granted() => Ok(()),
                Err(f) => Err(f.into_error(|| format!("mailbox '{identity}' or user '{user}'"))),
            }
        };
        create_once(SERVICE, "FullAccess permission", holds, add).await
    }

    async fn remove_full_access(
        &self,
        tenant: &TenantId,
        identity: &str,
        user: &str,
    ) -> Result<(), Error> {
        let gone =
            || async { Ok((!self.holds_full_access(tenant, identity, user).await?).then_some(())) };
        let remove = || async {
            let mut parameters = identity_only(identity);
            parameters.insert("user".into(), json!(user));
            parameters.insert("accessRights".into(), json!(["FullAccess"]));
            parameters.insert("Confirm".into(), json!(false));
            self.invoke(
                tenant,
                "Remove-MailboxPermission",
                parameters,
                Resend::AfterARead,
            )
            .await?
            .map(|_| ())
            .map_err(|f| f.into_error(|| format!("mailbox '{identity}' or user '{user}'")))
        };
        create_once(SERVICE, "FullAccess removal", gone, remove).await
    }

    async fn add_send_as(
        &self,
        tenant: &TenantId,
        identity: &str,
        trustee: &str,
    ) -> Result<(), Error> {
        // Like FullAccess: never resent blindly; Get-RecipientPermission decides.
        let holds = || async {
            let entries = self
                .run(
                    tenant,
                    "Get-RecipientPermission",
                    identity_only(identity),
                    mailbox_what(identity),
                )
                .await?;
            Ok(entries
                .iter()
                .any(|e| {
                    e.get("Trustee")
                        .and_then(Value::as_str)
                        .is_some_and(|t| t.eq_ignore_ascii_case(trustee))
                        && e.get("AccessRights")
                            .and_then(Value::as_array)
                            .is_some_and(|r| {
                                r.iter()
                                    .filter_map(Value::as_str)
                                    .any(|r| r.eq_ignore_ascii_case("SendAs"))
                            })
                })
                .then_some(()))
        };
        let add = || async {
            let mut parameters = identity_only(identity);
            parameters.insert("Trustee".into(), json!(trustee));
            parameters.insert("accessRights".into(), json!(["SendAs"]));
            parameters.insert("Confirm".into(), json!(false));
            self.invoke(
                tenant,
                "Add-RecipientPermission",
                parameters,
                Resend::AfterARead,
            )
            .await?
            .map(|_| ())
            .map_err(|f| f.into_error(|| format!("recipient '{identity}' or trustee '{trustee}'")))
        };
        create_once(SERVICE, "SendAs permission", holds, add).await
    }

    async fn recipient(
        &self,
        tenant: &TenantId,
        identity: &str,
    ) -> Result<Option<Recipient>, Error> {
        self.find(tenant, "Get-Recipient", identity)
            .await?
            .map(|v| parse("Get-Recipient answer", v))
            .transpose()
    }

    async fn add_distribution_group_member(
        &self,
        tenant: &TenantId,
        group: &str,
        member: &str,
    ) -> Result<GroupMemberChange, Error> {
        // A resend after a lost answer answers "already a member": done.
        self.change_member(tenant, group, member, true).await
    }

    async fn remove_distribution_group_member(
        &self,
        tenant: &TenantId,
        group: &str,
        member: &str,
    ) -> Result<GroupMemberChange, Error> {
        // A resend after a lost answer answers "isn't a member": done.
        self.change_member(tenant, group, member, false).await
    }
}
