//! Decision links: approve / deny a new user, confirm / reject a license purchase.
//!
//! [`crate::request_approval()`] and [`crate::request_license_purchase()`] store the
//! workflow's task token as a store decision under a random id and hand out links
//! `{public_url}/decisions/{id}?action=approve&exp=<unix seconds>&sig=<HMAC>`,
//! signed with HMAC-SHA-256 over id, expiry and action ([`LinkSigner`]).
//!
//! The HTTP layer (local server or API Gateway) calls, for `GET` on a link,
//! [`verify_link`] (tampered 403, unknown 404, expired 410) then
//! [`describe_decision`] for the confirmation page; for `POST`, [`decide_by_link`]
//! (verify, then [`decide`]: 200, or 409 / 403 / 404 / 410). Deciding is
//! atomic through [`onboard_store::Store::decide`]; the winner resumes the
//! workflow through [`TaskCallbacks`] (`SendTaskSuccess`, or `SendTaskFailure`
//! with `Approval.Denied` / `License.PurchaseRejected`) and notes the ticket with
//! who decided; a second decision gets [`DecideError::AlreadyDecided`] with who and when.

use std::fmt;
use std::str::FromStr;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use jiff::{SignedDuration, Timestamp};
use onboard_store::{
    Decide, DecideOutcome, Decision, DecisionKind, DecisionState, NewDecision, RecordKind,
    RecordUpdate, StoreError,
};
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use url::Url;

use crate::context::{Onboarding, update};
use crate::deps::Deps;
use crate::error::StepError;
use crate::idempotency::{key, log_append, log_entries, recall, remember};
use crate::offboarding::Offboarding;

/// Shortest HMAC key accepted (bytes): as long as the hash.
pub const MIN_KEY_BYTES: usize = 32;

/// Signs and checks decision links.
#[derive(Clone)]
pub struct LinkSigner {
    public_url: Url,
    /// HMAC-SHA-256 keyed once; cloned for each signature. Never printed.
    mac: Hmac<Sha256>,
}

impl fmt::Debug for LinkSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LinkSigner")
            .field("public_url", &self.public_url.as_str())
            .field("key", &"[redacted]")
            .finish()
    }
}

impl LinkSigner {
    /// A signer for links under `public_url` (the server's or API Gateway's
    /// public base, e.g. `https://onboard.example.com`), with an HMAC key of at
    /// least [`MIN_KEY_BYTES`] bytes.
    pub fn new(public_url: &str, key: Vec<u8>) -> Result<Self, StepError> {
        let mut public_url = Url::parse(public_url.trim()).map_err(|e| {
            StepError::Config(format!("public_url `{public_url}` is not a url: {e}"))
        })?;
        if !matches!(public_url.scheme(), "http" | "https") {
            return Err(StepError::Config(
                "public_url must be an http(s) url".to_owned(),
            ));
        }
        if key.len() < MIN_KEY_BYTES {
            return Err(StepError::Config(format!(
                "the decision link key must be at least {MIN_KEY_BYTES} bytes"
            )));
        }
        if !public_url.path().ends_with('/') {
            let path = format!("{}/", public_url.path());
            public_url.set_path(&path);
        }
        let key = SecretSlice::from(key);
        let mac = <Hmac<Sha256> as Mac>::new_from_slice(key.expose_secret())
            .map_err(|e| StepError::Config(format!("the decision link key is refused: {e}")))?;
        Ok(Self { public_url, mac })
    }

    fn mac(&self) -> Hmac<Sha256> {
        self.mac.clone()
    }

    /// The public base of the links (`https://onboard.example.com/`).
    pub fn public_url(&self) -> &Url {
        &self.public_url
    }

    /// A key for another purpose of the same server (e.g. `csrf`), derived from
    /// the link key (HMAC of the purpose), so one configured secret serves both
    /// and neither can be computed from the other's outputs.
    pub fn derived_key(&self, purpose: &str) -> Hmac<Sha256> {
        let mut mac = self.mac();
        mac.update(format!("onboard derived key\n{purpose}").as_bytes());
        let key = mac.finalize().into_bytes();
        <Hmac<Sha256> as Mac>::new_from_slice(&key).unwrap_or_else(|_| self.mac())
    }

    /// What is signed: id, expiry, action and recipient, one per line (none of
    /// them can hold a newline: ids are base64url, the recipient an address).
    fn message(id: &str, expires: i64, action: Action, recipient: Option<&str>) -> String {
        format!(
            "{id}\n{expires}\n{}\n{}",
            action.as_str(),
            recipient.unwrap_or_default()
        )
    }

    fn signature(&self, id: &str, expires: i64, action: Action, recipient: Option<&str>) -> String {
        let mut mac = self.mac();
        mac.update(Self::message(id, expires, action, recipient).as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// The link that performs `action` on decision `id`, valid until `expires_at`:
    /// `{public_url}/decisions/{id}?action=..&exp=..[&to=..]&sig=..`. With a
    /// `recipient` (the approver the link was mailed to), the link says who
    /// decides: [`VerifiedLink::recipient`].
    pub fn link(
        &self,
        id: &str,
        action: Action,
        expires_at: Timestamp,
        recipient: Option<&str>,
    ) -> Url {
        let expires = expires_at.as_second();
        let mut url = self.public_url.clone();
        url.set_path(&format!("{}decisions/{id}", self.public_url.path()));
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("action", action.as_str())
                .append_pair("exp", &expires.to_string());
            if let Some(to) = recipient {
                query.append_pair("to", to);
            }
            query.append_pair("sig", &self.signature(id, expires, action, recipient));
        }
        url
    }

    /// Checks a link's signature in constant time; the action, expiry and
    /// recipient it signs.
    fn check(
        &self,
        id: &str,
        query: &LinkQuery,
    ) -> Result<(Action, i64, Option<String>), LinkError> {
        let action: Action = query.action.parse().map_err(|_| LinkError::Tampered)?;
        let expires: i64 = query.exp.trim().parse().map_err(|_| LinkError::Tampered)?;
        let recipient = query.to.as_deref().filter(|t| !t.is_empty());
        if recipient.is_some_and(|r| r.contains('\n')) {
            return Err(LinkError::Tampered);
        }
        let sig = URL_SAFE_NO_PAD
            .decode(query.sig.trim())
            .map_err(|_| LinkError::Tampered)?;
        let mut mac = self.mac();
        mac.update(Self::message(id, expires, action, recipient).as_bytes());
        mac.verify_slice(&sig).map_err(|_| LinkError::Tampered)?;
        Ok((action, expires, recipient.map(str::to_owned)))
    }
}

/// What a link does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Approve a new user.
    Approve,
    /// Deny a new user.
    Deny,
    /// Confirm a license was bought by hand.
    Confirm,
    /// Reject the license purchase.
    Reject,
}

impl Action {
    /// The name in links (`approve`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Approve => "approve",
            Action::Deny => "deny",
            Action::Confirm => "confirm",
            Action::Reject => "reject",
        }
    }

    /// The kind of decision this action decides.
    pub fn kind(self) -> DecisionKind {
        match self {
            Action::Approve | Action::Deny => DecisionKind::Approval,
            Action::Confirm | Action::Reject => DecisionKind::LicensePurchase,
        }
    }

    /// The state a decision moves to.
    pub fn state(self) -> DecisionState {
        match self {
            Action::Approve => DecisionState::Approved,
            Action::Deny => DecisionState::Denied,
            Action::Confirm => DecisionState::Confirmed,
            Action::Reject => DecisionState::Rejected,
        }
    }

    /// The actions of a kind: the positive one first.
    pub fn of(kind: DecisionKind) -> [Action; 2] {
        match kind {
            DecisionKind::Approval => [Action::Approve, Action::Deny],
            DecisionKind::LicensePurchase => [Action::Confirm, Action::Reject],
        }
    }

    /// A button label for the confirmation page.
    pub fn label(self) -> &'static str {
        match self {
            Action::Approve => "Approve",
            Action::Deny => "Deny",
            Action::Confirm => "Confirm license purchase",
            Action::Reject => "Reject license purchase",
        }
    }
}

impl FromStr for Action {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "approve" => Ok(Action::Approve),
            "deny" => Ok(Action::Deny),
            "confirm" => Ok(Action::Confirm),
            "reject" => Ok(Action::Reject),
            other => Err(format!("`{other}` is not a decision action")),
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The query of a decision link, as the HTTP layer received it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkQuery {
    /// `action`.
    #[serde(default)]
    pub action: String,
    /// `exp`: the expiry in Unix seconds.
    #[serde(default)]
    pub exp: String,
    /// `to`: the recipient the link was mailed to, when it names one.
    #[serde(default)]
    pub to: Option<String>,
    /// `sig`: the HMAC.
    #[serde(default)]
    pub sig: String,
}

impl LinkQuery {
    /// Reads the query of a link URL (the HTTP layer may also deserialize it).
    pub fn from_url(url: &Url) -> Self {
        let mut q = LinkQuery::default();
        for (k, v) in url.query_pairs() {
            match k.as_ref() {
                "action" => q.action = v.into_owned(),
                "exp" => q.exp = v.into_owned(),
                "to" => q.to = Some(v.into_owned()),
                "sig" => q.sig = v.into_owned(),
                _ => {}
            }
        }
        q
    }
}

/// Why a link cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The signature does not match (or the link is malformed): 403.
    #[error("this link is not valid: it was changed or is incomplete")]
    Tampered,
    /// No such decision: 404.
    #[error("this decision does not exist")]
    Unknown,
    /// The link expired, or the workflow stopped waiting: 410.
    #[error("this link expired at {expired_at}")]
    Expired {
        /// When it expired.
        expired_at: Timestamp,
    },
    /// The store failed: 503.
    #[error("the decision could not be read")]
    Store(#[source] StepError),
}

impl LinkError {
    /// The HTTP status to answer with.
    pub fn http_status(&self) -> u16 {
        match self {
            LinkError::Tampered => 403,
            LinkError::Unknown => 404,
            LinkError::Expired { .. } => 410,
            LinkError::Store(_) => 503,
        }
    }
}

/// A link whose signature, decision and expiry were checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedLink {
    /// The decision as it stands (it may already be decided: see [`Decision::state`]).
    pub decision: Decision,
    /// What the link does.
    pub action: Action,
    /// Whom the link was mailed to (signed), when it names someone: pass it to
    /// [`decide`] as `decided_by` unless the caller knows better.
    pub recipient: Option<String>,
}

/// Checks a decision link: signature (403), existence (404), expiry (410).
/// A link to an already decided decision verifies: the page says who decided,
/// and [`decide`] answers [`DecideError::AlreadyDecided`].
pub async fn verify_link(
    deps: &Deps,
    decision_id: &str,
    query: &LinkQuery,
) -> Result<VerifiedLink, LinkError> {
    let (action, expires, recipient) = deps.links.check(decision_id, query)?;
    let decision = deps
        .store
        .get_decision(decision_id)
        .await
        .map_err(|e| LinkError::Store(e.into()))?
        .ok_or(LinkError::Unknown)?;
    if decision.kind != action.kind() || decision.expires_at.as_second() != expires {
        return Err(LinkError::Tampered);
    }
    let expired = decision.state == DecisionState::Expired
        || (decision.state == DecisionState::Pending && deps.clock.now() >= decision.expires_at);
    if expired {
        return Err(LinkError::Expired {
            expired_at: decision.decided_at.unwrap_or(decision.expires_at),
        });
    }
    Ok(VerifiedLink {
        decision,
        action,
        recipient,
    })
}

/// What the confirmation page shows: what is decided, for whom, by when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DecisionPage {
    /// The decision id.
    pub decision_id: String,
    /// Approval or license purchase.
    pub kind: DecisionKind,
    /// Whether it decides an onboarding or an offboarding.
    pub record_kind: RecordKind,
    /// What the link's button does.
    pub action: Action,
    /// The button's label.
    pub action_label: &'static str,
    /// One sentence: "Approve the creation of Ana Silva for Contoso."
    pub question: String,
    /// The onboarding record.
    pub onboarding_id: String,
    /// The organization's id.
    pub organization: String,
    /// The new user's display name.
    pub display_name: String,
    /// The licenses concerned (license purchase only).
    pub licenses: Vec<String>,
    /// When the link expires.
    pub expires_at: Timestamp,
    /// Pending, or how it was decided.
    pub state: DecisionState,
    /// Who decided, once decided.
    pub decided_by: Option<String>,
    /// When, once decided.
    pub decided_at: Option<Timestamp>,
}

/// Builds the confirmation page of a verified link (it changes nothing: mail
/// scanners follow links).
pub async fn describe_decision(
    deps: &Deps,
    link: &VerifiedLink,
) -> Result<DecisionPage, LinkError> {
    let decision = &link.decision;
    let record = deps
        .store
        .get_record(&decision.record_id)
        .await
        .map_err(|e| LinkError::Store(e.into()))?
        .ok_or(LinkError::Unknown)?;
    let display_name = match record.kind {
        // An offboarding names its user by UPN.
        RecordKind::Offboarding => record
            .request
            .get("user_principal_name")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .trim()
            .to_owned(),
        RecordKind::Onboarding => display_name_of(&record.request),
    };
    let licenses: Vec<String> = match decision.kind {
        DecisionKind::Approval => Vec::new(),
        DecisionKind::LicensePurchase => record
            .request
            .get("licenses")
            .and_then(|l| l.as_array())
            .map(|l| {
                l.iter()
                    .filter_map(|s| s.as_str().map(|s| s.trim().to_ascii_uppercase()))
                    .collect()
            })
            .unwrap_or_default(),
    };
    let offboarding = record.kind == RecordKind::Offboarding;
    let question = match link.action {
        Action::Approve if offboarding => format!(
            "Approve offboarding {display_name} at {}? Sign-in and access will be removed.",
            record.organization
        ),
        Action::Deny if offboarding => format!(
            "Deny offboarding {display_name} at {}? The account will not be changed.",
            record.organization
        ),
        Action::Approve => format!(
            "Approve the creation of {display_name} for {}?",
            record.organization
        ),
        Action::Deny => format!(
            "Deny the creation of {display_name} for {}? No user will be created.",
            record.organization
        ),
        Action::Confirm => format!(
            "Confirm that {} was bought for {display_name} ({})? Onboard will assign it.",
            licenses.join(", "),
            record.organization
        ),
        Action::Reject => format!(
            "Reject buying {} for {display_name} ({})? Onboarding continues without it.",
            licenses.join(", "),
            record.organization
        ),
    };
    Ok(DecisionPage {
        decision_id: decision.id.clone(),
        kind: decision.kind,
        record_kind: record.kind,
        action: link.action,
        action_label: link.action.label(),
        question,
        onboarding_id: record.id,
        organization: record.organization,
        display_name,
        licenses,
        expires_at: decision.expires_at,
        state: decision.state,
        decided_by: decision.decided_by.clone(),
        decided_at: decision.decided_at,
    })
}

/// The display name a stored form gives: `display_name`, else `first last`.
pub(crate) fn display_name_of(form: &serde_json::Value) -> String {
    let text = |field: &str| {
        form.get(field)
            .and_then(|v| v.as_str())
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    text("display_name").unwrap_or_else(|| {
        [text("first_name"), text("last_name")]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ")
    })
}

/// A failure to resume a workflow.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct CallbackError {
    /// What went wrong.
    pub message: String,
    /// What it means for the decision (and the HTTP answer).
    pub kind: CallbackFailure,
    /// The cause.
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl CallbackError {
    /// A callback error saying `message`.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            kind: CallbackFailure::Failed,
            source: None,
        }
    }

    /// The same error, of `kind`.
    pub fn with_kind(mut self, kind: CallbackFailure) -> Self {
        self.kind = kind;
        self
    }
}

/// Why a callback failed, as far as a decision link's answer is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CallbackFailure {
    /// The runtime refused the callback for another reason: 502, [`resume`] may retry.
    #[default]
    Failed,
    /// The runtime could not be reached or is throttling: 503, try again later.
    Unavailable,
    /// The waiting task timed out before the decision reached it (Step Functions
    /// `TaskTimedOut`): 410, the workflow went on without it.
    TimedOut,
    /// The token no longer names a waiting task (`InvalidToken`, `TaskDoesNotExist`:
    /// resumed already, or the execution ended): 409.
    Closed,
}

impl CallbackFailure {
    /// Whether resuming again cannot help.
    pub fn is_final(self) -> bool {
        matches!(self, CallbackFailure::TimedOut | CallbackFailure::Closed)
    }
}

/// Resumes a task waiting for a token: the local server implements it with its
/// interpreter, the AWS API with `SendTaskSuccess` / `SendTaskFailure`.
#[async_trait]
pub trait TaskCallbacks: Send + Sync {
    /// Ends the waiting task successfully with `output` (no secret in it).
    async fn send_task_success(
        &self,
        task_token: &SecretString,
        output: serde_json::Value,
    ) -> Result<(), CallbackError>;

    /// Fails the waiting task with `error` (a [`StepError::name`]) and `cause`.
    async fn send_task_failure(
        &self,
        task_token: &SecretString,
        error: &str,
        cause: &str,
    ) -> Result<(), CallbackError>;
}

/// Why [`decide`] did not decide.
#[derive(Debug, thiserror::Error)]
pub enum DecideError {
    /// Someone decided first: 409, with who and when.
    #[error("already {} by {} at {}", .decision.state, .decision.decided_by.as_deref().unwrap_or("someone"), .decision.decided_at.map(|t| t.to_string()).unwrap_or_default())]
    AlreadyDecided {
        /// The decision as the winner left it.
        decision: Decision,
    },
    /// The decision expired before this click: 410.
    #[error("this decision expired at {}", .decision.expires_at)]
    Expired {
        /// The decision.
        decision: Decision,
    },
    /// No such decision: 404.
    #[error("this decision does not exist")]
    Unknown,
    /// The action does not fit the decision (approve a license purchase): 403.
    #[error("`{action}` does not decide a {kind} decision")]
    WrongAction {
        /// The action asked.
        action: Action,
        /// The decision's kind.
        kind: DecisionKind,
    },
    /// Decided, but the workflow could not be resumed: 502, 503, 410 or 409 by
    /// [`CallbackError::kind`]. [`resume`] retries.
    #[error("decided, but the workflow could not be resumed")]
    Resume(#[source] CallbackError),
    /// The store or the ticket failed: 503.
    #[error("the decision could not be recorded")]
    Step(#[source] StepError),
    /// The link itself is refused (403 tampered, 404 unknown, 410 expired).
    #[error(transparent)]
    Link(#[from] LinkError),
}

impl DecideError {
    /// The HTTP status to answer with.
    pub fn http_status(&self) -> u16 {
        match self {
            DecideError::AlreadyDecided { .. } => 409,
            DecideError::Expired { .. } => 410,
            DecideError::Unknown => 404,
            DecideError::WrongAction { .. } => 403,
            DecideError::Resume(e) => match e.kind {
                CallbackFailure::Failed => 502,
                CallbackFailure::Unavailable => 503,
                CallbackFailure::TimedOut => 410,
                CallbackFailure::Closed => 409,
            },
            DecideError::Step(_) => 503,
            DecideError::Link(e) => e.http_status(),
        }
    }
}

impl From<StepError> for DecideError {
    fn from(e: StepError) -> Self {
        DecideError::Step(e)
    }
}

impl From<StoreError> for DecideError {
    fn from(e: StoreError) -> Self {
        DecideError::Step(e.into())
    }
}

/// The output a resumed task gets (`$.approval` / `$.purchase`): no secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionOutput {
    /// `approved` or `confirmed`.
    pub decision: DecisionState,
    /// Who decided.
    pub decided_by: String,
    /// When.
    pub decided_at: Timestamp,
}

/// Decides `decision_id` with `action` for `decided_by` (an address or a name),
/// once: the winner resumes the workflow, then notes the ticket and the timeline
/// with who decided (a failure to note is logged, not returned: the decision
/// stands); later callers get [`DecideError::AlreadyDecided`].
#[tracing::instrument(skip_all, fields(decision_id = %decision_id, action = %action))]
pub async fn decide(
    deps: &Deps,
    callbacks: &dyn TaskCallbacks,
    decision_id: &str,
    action: Action,
    decided_by: &str,
) -> Result<Decision, DecideError> {
    let current = deps
        .store
        .get_decision(decision_id)
        .await?
        .ok_or(DecideError::Unknown)?;
    if current.kind != action.kind() {
        return Err(DecideError::WrongAction {
            action,
            kind: current.kind,
        });
    }
    let by = decided_by.trim();
    let by = if by.is_empty() { "someone" } else { by };
    let outcome = deps
        .store
        .decide(
            decision_id,
            Decide {
                to: action.state(),
                by: by.to_owned(),
                at: deps.clock.now(),
            },
        )
        .await?;
    let (decision, token) = match outcome {
        DecideOutcome::Decided {
            decision,
            task_token,
        } => (decision, task_token),
        DecideOutcome::AlreadyDecided(decision) => {
            return Err(DecideError::AlreadyDecided { decision });
        }
        DecideOutcome::Expired(decision) => return Err(DecideError::Expired { decision }),
        DecideOutcome::Unknown => return Err(DecideError::Unknown),
    };
    tracing::info!(state = %decision.state, "decision won");
    // The timeline and the ticket say who decided before the workflow goes on, so
    // the decision stands where it happened, before the steps it released. A
    // failure to note is logged, not returned: the decision is taken, and the
    // workflow must hear of it.
    if let Err(e) = record_decision_once(deps, &decision, action, by).await {
        tracing::error!(error = e.name(), cause = %e.cause(), "decided, but the ticket or the timeline could not say so");
    }
    send(deps, callbacks, &decision, &token).await?;
    Ok(decision)
}

/// What `POST` on a decision link does: [`verify_link`], then [`decide`] with the
/// link's action, by the link's signed recipient (or "an approver" / "a
/// technician" for a link that names nobody). A name the person typed on the page
/// is only an annotation beside that: anyone holding the link can type anything.
/// Every refusal carries its HTTP status ([`DecideError::http_status`]).
pub async fn decide_by_link(
    deps: &Deps,
    callbacks: &dyn TaskCallbacks,
    decision_id: &str,
    query: &LinkQuery,
    typed_name: Option<&str>,
) -> Result<Decision, DecideError> {
    let link = verify_link(deps, decision_id, query).await?;
    let by = decider(&link, typed_name);
    decide(deps, callbacks, decision_id, link.action, &by).await
}

/// Longest typed name kept as an annotation (characters).
const MAX_TYPED_NAME: usize = 120;

/// Who decides through `link`: its signed recipient, with what the person typed
/// (control characters dropped, shortened) as an annotation.
fn decider(link: &VerifiedLink, typed_name: Option<&str>) -> String {
    let signed = link.recipient.clone().unwrap_or_else(|| {
        match link.decision.kind {
            DecisionKind::Approval => "an approver",
            DecisionKind::LicensePurchase => "a technician",
        }
        .to_owned()
    });
    let typed: String = typed_name
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_TYPED_NAME)
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if typed.is_empty() || typed.eq_ignore_ascii_case(&signed) {
        signed
    } else {
        format!("{signed} (who typed the name \"{typed}\")")
    }
}

/// Resumes the workflow of a decided decision again (after [`DecideError::Resume`]).
/// Answers `Ok(false)` when it was resumed already or is still pending.
pub async fn resume(
    deps: &Deps,
    callbacks: &dyn TaskCallbacks,
    decision_id: &str,
) -> Result<bool, DecideError> {
    let decision = deps
        .store
        .get_decision(decision_id)
        .await?
        .ok_or(DecideError::Unknown)?;
    if matches!(
        decision.state,
        DecisionState::Pending | DecisionState::Expired
    ) {
        return Ok(false);
    }
    if recall::<bool>(deps.store.as_ref(), &resumed_key(&decision))
        .await?
        .is_some()
    {
        return Ok(false);
    }
    let token = deps
        .store
        .task_token(decision_id)
        .await?
        .ok_or(DecideError::Unknown)?;
    send(deps, callbacks, &decision, &token).await?;
    let action = match decision.state {
        DecisionState::Approved => Action::Approve,
        DecisionState::Denied => Action::Deny,
        DecisionState::Confirmed => Action::Confirm,
        _ => Action::Reject,
    };
    let by = decision.decided_by.clone().unwrap_or_default();
    if let Err(e) = record_decision_once(deps, &decision, action, &by).await {
        tracing::error!(error = e.name(), cause = %e.cause(), "resumed, but the ticket or the timeline could not say so");
    }
    Ok(true)
}

fn recorded_key(decision: &Decision) -> String {
    key(
        &decision.record_id,
        "decision",
        &format!("{}/recorded", decision.id),
    )
}

/// [`record_decision`] unless it was done already (a resume after a failed
/// callback would otherwise write the timeline line twice; the ticket note is
/// keyed and posts once anyway).
async fn record_decision_once(
    deps: &Deps,
    decision: &Decision,
    action: Action,
    by: &str,
) -> Result<(), StepError> {
    let marker = recorded_key(decision);
    if recall::<bool>(deps.store.as_ref(), &marker)
        .await?
        .is_some()
    {
        return Ok(());
    }
    record_decision(deps, decision, action, by).await?;
    remember(deps.store.as_ref(), &marker, &true, deps.clock.now()).await?;
    Ok(())
}

fn resumed_key(decision: &Decision) -> String {
    key(
        &decision.record_id,
        "decision",
        &format!("{}/resumed", decision.id),
    )
}

async fn send(
    deps: &Deps,
    callbacks: &dyn TaskCallbacks,
    decision: &Decision,
    token: &SecretString,
) -> Result<(), DecideError> {
    let by = decision.decided_by.clone().unwrap_or_default();
    let result = match decision.state {
        DecisionState::Approved | DecisionState::Confirmed => {
            let output = DecisionOutput {
                decision: decision.state,
                decided_by: by,
                decided_at: decision.decided_at.unwrap_or_else(|| deps.clock.now()),
            };
            let json = serde_json::to_value(&output)
                .map_err(|e| StepError::Internal(format!("cannot encode decision: {e}")))?;
            callbacks.send_task_success(token, json).await
        }
        DecisionState::Denied => {
            let error = StepError::ApprovalDenied { by };
            callbacks
                .send_task_failure(token, error.name(), &error.to_string())
                .await
        }
        DecisionState::Rejected => {
            let error = StepError::PurchaseRejected { by };
            callbacks
                .send_task_failure(token, error.name(), &error.to_string())
                .await
        }
        DecisionState::Pending | DecisionState::Expired => return Ok(()),
    };
    result.map_err(DecideError::Resume)?;
    remember(
        deps.store.as_ref(),
        &resumed_key(decision),
        &true,
        deps.clock.now(),
    )
    .await?;
    Ok(())
}

/// Notes the ticket and the timeline with who decided. The status is left to the
/// workflow's next step (it may already have run: the task was resumed first).
async fn record_decision(
    deps: &Deps,
    decision: &Decision,
    action: Action,
    by: &str,
) -> Result<(), StepError> {
    let record = deps.store.get_record(&decision.record_id).await?;
    if record.is_some_and(|r| r.kind == RecordKind::Offboarding) {
        let offboarding = Offboarding::load(deps, &decision.record_id).await?;
        let upn = offboarding.upn().to_owned();
        let text = match action {
            Action::Deny => onboard_domain::notes::offboarding_denied(&upn, Some(by)),
            _ => onboard_domain::notes::offboarding_approved(&upn, Some(by)),
        };
        offboarding
            .note(deps, &format!("decision-{}", decision.id), &text)
            .await?;
        return update(
            deps,
            offboarding.id(),
            "request_offboarding_approval",
            &format!("{} by {by}", decision.state),
            RecordUpdate::default(),
        )
        .await;
    }
    let onboarding = Onboarding::load(deps, &decision.record_id).await?;
    let name = onboarding.request.display_name.clone();
    let (step, text) = match action {
        Action::Approve => (
            "request_approval",
            onboard_domain::notes::approval_approved(&name, Some(by)),
        ),
        Action::Deny => (
            "request_approval",
            onboard_domain::notes::approval_denied(&name, Some(by)),
        ),
        Action::Confirm => (
            "request_license_purchase",
            onboard_domain::notes::license_purchase_confirmed(
                &onboarding.request.licenses,
                Some(by),
            ),
        ),
        Action::Reject => (
            "request_license_purchase",
            format!(
                "{by} rejected the purchase of {}.",
                onboarding
                    .request
                    .licenses
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
    };
    onboarding
        .note(deps, &format!("decision-{}", decision.id), &text)
        .await?;
    update(
        deps,
        onboarding.id(),
        step,
        &format!("{} by {by}", decision.state),
        RecordUpdate::default(),
    )
    .await
}

/// A decision issued to a waiting task, with its links.
#[derive(Debug, Clone)]
pub(crate) struct Issued {
    /// The decision.
    pub(crate) decision: Decision,
    /// The positive action's link (approve / confirm).
    pub(crate) yes: Url,
    /// The negative action's link (deny / reject).
    pub(crate) no: Url,
    /// Its position among the decisions of this kind for the record (0 first).
    pub(crate) generation: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct IssuedEntry {
    decision_id: String,
    generation: u32,
}

/// Stores `task_token` as a decision of `kind` for `onboarding_id`, once per token:
/// a repeated call with the same token finds the first decision. A new token (the
/// task was retried) supersedes every other pending decision of the kind for the
/// record, whose links then answer 410.
pub(crate) async fn issue(
    deps: &Deps,
    onboarding_id: &str,
    organization: &str,
    step: &str,
    kind: DecisionKind,
    task_token: &SecretString,
    timeout_seconds: u64,
) -> Result<Issued, StepError> {
    let token_hash = {
        let digest = Sha256::digest(task_token.expose_secret().as_bytes());
        URL_SAFE_NO_PAD.encode(&digest[..16])
    };
    let by_token = key(onboarding_id, step, &format!("token/{token_hash}"));
    let log = key(onboarding_id, step, "decisions");
    let store = deps.store.as_ref();
    let now = deps.clock.now();

    if let Some(entry) = recall::<IssuedEntry>(store, &by_token).await? {
        let decision = store
            .get_decision(&entry.decision_id)
            .await?
            .ok_or_else(|| {
                StepError::Internal(format!("decision {} vanished", entry.decision_id))
            })?;
        return Ok(links(deps, decision, entry.generation));
    }

    let seconds = i64::try_from(timeout_seconds)
        .map_err(|_| StepError::Config(format!("timeout {timeout_seconds}s is too long")))?;
    let expires_at = now
        .checked_add(SignedDuration::from_secs(seconds))
        .map_err(|_| StepError::Config(format!("timeout {timeout_seconds}s is too long")))?;
    let decision = store
        .create_decision(NewDecision {
            kind,
            record_id: onboarding_id.to_owned(),
            task_token: task_token.clone(),
            expires_at,
            created_at: now,
        })
        .await?;
    let generation = log_append(store, &log, &decision.id, now).await?;
    let entry = remember(
        store,
        &by_token,
        &IssuedEntry {
            decision_id: decision.id.clone(),
            generation,
        },
        now,
    )
    .await?;
    if entry.decision_id != decision.id {
        // A concurrent call with the same token won: ours is never shown.
        expire(deps, &decision.id, "superseded").await?;
        let winner = store
            .get_decision(&entry.decision_id)
            .await?
            .ok_or_else(|| {
                StepError::Internal(format!("decision {} vanished", entry.decision_id))
            })?;
        return Ok(links(deps, winner, entry.generation));
    }
    // Every other pending decision of this kind for the record is superseded: the
    // earlier attempts' (their links answer 410 now), and one a crash left behind
    // before it was remembered.
    let mut cursor = None;
    loop {
        let page = store
            .pending_decisions(organization, 100, cursor.as_ref())
            .await?;
        for old in &page.items {
            if old.record_id == onboarding_id && old.kind == kind && old.id != decision.id {
                expire(deps, &old.id, "superseded").await?;
            }
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    Ok(links(deps, decision, generation))
}

fn links(deps: &Deps, decision: Decision, generation: u32) -> Issued {
    let [yes, no] = decision_links(deps, &decision, None);
    Issued {
        yes: yes.1,
        no: no.1,
        decision,
        generation,
    }
}

/// The two links of a decision (approve and deny, or confirm and reject), for
/// `recipient` when given: what a mail, a ticket note or the pending-decisions
/// page of `onboard serve` shows.
pub fn decision_links(
    deps: &Deps,
    decision: &Decision,
    recipient: Option<&str>,
) -> [(Action, Url); 2] {
    Action::of(decision.kind).map(|action| {
        (
            action,
            deps.links
                .link(&decision.id, action, decision.expires_at, recipient),
        )
    })
}

/// Moves a pending decision to `expired` (by `timeout` or `superseded`); a decided
/// one stays as it is.
async fn expire(deps: &Deps, decision_id: &str, by: &str) -> Result<(), StepError> {
    deps.store
        .decide(
            decision_id,
            Decide {
                to: DecisionState::Expired,
                by: by.to_owned(),
                at: deps.clock.now(),
            },
        )
        .await?;
    Ok(())
}

/// Expires every pending decision `step` issued for `onboarding_id` (the workflow
/// stopped waiting), so late clicks answer 410.
pub(crate) async fn expire_all(
    deps: &Deps,
    onboarding_id: &str,
    step: &str,
) -> Result<(), StepError> {
    let log = key(onboarding_id, step, "decisions");
    let ids: Vec<String> = log_entries(deps.store.as_ref(), &log).await?;
    for id in ids {
        expire(deps, &id, "timeout").await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_callback_failure_answers_by_what_it_means_for_the_decision() {
        let status =
            |kind| DecideError::Resume(CallbackError::new("x").with_kind(kind)).http_status();
        assert_eq!(status(CallbackFailure::Failed), 502);
        assert_eq!(status(CallbackFailure::Unavailable), 503);
        assert_eq!(status(CallbackFailure::TimedOut), 410);
        assert_eq!(status(CallbackFailure::Closed), 409);
        assert_eq!(CallbackError::new("x").kind, CallbackFailure::Failed);
        assert!(CallbackFailure::Closed.is_final() && CallbackFailure::TimedOut.is_final());
        assert!(!CallbackFailure::Unavailable.is_final() && !CallbackFailure::Failed.is_final());
    }

    fn signer() -> LinkSigner {
        LinkSigner::new("https://onboard.example.com/base", vec![7u8; 32]).expect("signer")
    }

    fn query(url: &Url) -> LinkQuery {
        LinkQuery::from_url(url)
    }

    #[test]
    fn a_link_is_absolute_and_verifies_with_its_own_action_only() {
        let s = signer();
        let at: Timestamp = "2026-03-01T00:00:00Z".parse().expect("ts");
        let url = s.link("abc", Action::Approve, at, None);
        assert!(
            url.as_str()
                .starts_with("https://onboard.example.com/base/decisions/abc?action=approve&exp="),
            "{url}"
        );
        let q = query(&url);
        assert_eq!(
            s.check("abc", &q).expect("valid"),
            (Action::Approve, at.as_second(), None)
        );

        let mut deny = q.clone();
        deny.action = "deny".into();
        assert!(matches!(s.check("abc", &deny), Err(LinkError::Tampered)));
        let mut later = q.clone();
        later.exp = (at.as_second() + 1).to_string();
        assert!(matches!(s.check("abc", &later), Err(LinkError::Tampered)));
        assert!(matches!(s.check("abd", &q), Err(LinkError::Tampered)));
        let mut someone = q.clone();
        someone.to = Some("boss@contoso.com".into());
        assert!(matches!(s.check("abc", &someone), Err(LinkError::Tampered)));
    }

    #[test]
    fn a_link_for_a_recipient_names_them_and_cannot_be_given_to_another() {
        let s = signer();
        let at: Timestamp = "2026-03-01T00:00:00Z".parse().expect("ts");
        let url = s.link("abc", Action::Deny, at, Some("hr@contoso.com"));
        assert!(url.as_str().contains("&to=hr%40contoso.com&sig="), "{url}");
        let q = query(&url);
        assert_eq!(
            s.check("abc", &q).expect("valid"),
            (
                Action::Deny,
                at.as_second(),
                Some("hr@contoso.com".to_owned())
            )
        );
        let mut other = q.clone();
        other.to = Some("mallory@example.com".into());
        assert!(matches!(s.check("abc", &other), Err(LinkError::Tampered)));
        let mut nobody = q;
        nobody.to = None;
        assert!(matches!(s.check("abc", &nobody), Err(LinkError::Tampered)));
    }

    #[test]
    fn a_short_key_or_a_relative_url_is_refused() {
        assert!(LinkSigner::new("https://x.example", vec![1; 16]).is_err());
        assert!(LinkSigner::new("/decisions", vec![1; 32]).is_err());
        assert!(!format!("{:?}", signer()).contains("7, 7"));
    }
}
