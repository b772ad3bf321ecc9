//! Decision links: approve / deny a new user, confirm / reject a license purchase.
//!
//! [`crate::request_approval::request_approval()`] and [`crate::onboarding::request_license_purchase::request_license_purchase()`] store the
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
//!
//! - `links`: [`LinkSigner`], [`Action`], [`DECISIONS_PATH`], [`verify_link`];
//! - `page`: [`describe_decision`], what the confirmation page shows;
//! - `decide`: [`decide`], [`decide_by_link`], [`resume`] and the callbacks' errors;
//! - `issue`: storing a decision and handing out its links, [`decision_links`], and expiring them.

mod decide;
mod issue;
mod links;
mod page;

pub use decide::*;
pub use issue::*;
pub use links::*;
pub use page::*;
