//! Signing and checking the links: [`LinkSigner`], the actions, and [`verify_link`].

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use jiff::Timestamp;
use onboard_store::{Decision, DecisionKind, DecisionState};
use secrecy::{ExposeSecret, SecretSlice};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use url::Url;

use crate::deps::Deps;
use crate::error::StepError;

/// Where decision links live, under the public URL: `{public_url}/decisions/{id}?...`.
/// The HTTP routes and the signer both take it from here.
pub const DECISIONS_PATH: &str = "/decisions/";

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
        url.set_path(&format!(
            "{}{}{id}",
            self.public_url.path(),
            DECISIONS_PATH.trim_start_matches('/')
        ));
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
    /// [`decide`](super::decide) as `decided_by` unless the caller knows better.
    pub recipient: Option<String>,
}

/// Checks a decision link: signature (403), existence (404), expiry (410).
/// A link to an already decided decision verifies: the page says who decided,
/// and [`decide`](super::decide) answers [`DecideError::AlreadyDecided`](super::DecideError::AlreadyDecided).
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

#[cfg(test)]
mod tests {
    use super::*;

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
