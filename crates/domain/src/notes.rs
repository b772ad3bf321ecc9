//! The text of every ticket note the workflows write, one function per note.
//!
//! Notes carry the same information as the original product's, in Onboard's words.
//! No function here puts a secret in its text, except [`credentials_in_ticket`], which
//! does so only when the organization opted in and returns a `SecretString`.

use std::fmt::Write as _;

use jiff::Timestamp;
use secrecy::SecretString;
use url::Url;

use crate::license::{Assignment, DirectBecause, ManualPurchaseReason, SkuPartNumber};
use crate::password::Password;
use crate::request::{OffboardingActions, OnboardingRequest};
use crate::username::UsernameChoice;
use crate::values::{EmailAddress, TimeZoneName};
use crate::variables::{CredentialDelivery, Distributor, PasswordSaveLocation, SendCredentialsTo};

/// `2026-03-02 09:00 CET (Europe/Berlin)`.
fn local_time(at: Timestamp, tz: &TimeZoneName) -> String {
    let zoned = at.to_zoned(tz.zone().clone());
    format!("{} ({})", zoned.strftime("%Y-%m-%d %H:%M %Z"), tz.name())
}

fn sku_list(skus: &[SkuPartNumber]) -> String {
    skus.iter()
        .map(SkuPartNumber::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

fn email_list(addresses: &[EmailAddress]) -> String {
    addresses
        .iter()
        .map(EmailAddress::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why Passportal cannot hold a password, with the sources (fact sheet §13).
pub const PASSPORTAL_NO_PASSWORD_API: &str = "Passportal has no public API that writes passwords: \
N-able documents only authentication and documents for it \
(documentation.n-able.com/passportal/userguide/Content/api/api_authorization.htm), and Hudu's \
Passportal migration (github.com/Hudu-Technologies-Inc/Hudu-PassPortal-Migration) notes \
passwords are not exposed through the API";

/// The technician's note when `onboarding_password_save_location` names
/// Passportal and a fallback took the password.
pub fn passportal_fallback(upn: &str, stored_in: &[&str]) -> String {
    format!(
        "The first password of {upn} was not stored in Passportal. {PASSPORTAL_NO_PASSWORD_API}. \
         It was stored in {} instead (the next destinations in onboarding_password_save_location); \
         copy it into Passportal by hand if it must live there.",
        stored_in.join(", ")
    )
}

/// The technician's note when `credential_delivery = temporary_access_pass` and
/// the tenant's Temporary Access Pass method policy does not let the user have
/// one (`why`, from [`crate::mfa::tap_unavailable`]): a password went instead.
pub fn tap_fallback(upn: &str, why: &str) -> String {
    format!(
        "A Temporary Access Pass cannot be issued to {upn}: {why}; a password is delivered instead. \
         Enable the Temporary Access Pass method for the user (Entra admin center, Protection, \
         Authentication methods, Temporary Access Pass) to give new users a pass."
    )
}

/// The onboarding has started: what was asked.
pub fn onboarding_started(request: &OnboardingRequest) -> String {
    let mut note = format!(
        "Onboard started onboarding {} for {}.",
        request.display_name, request.organization
    );
    let mut line = |label: &str, value: Option<String>| {
        if let Some(value) = value {
            let _ = write!(note, "\n{label}: {value}");
        }
    };
    line("Job title", request.job_title.clone());
    line("Department", request.department.clone());
    line(
        "Manager",
        request.manager_email.as_ref().map(ToString::to_string),
    );
    line(
        "Start date",
        request.start_date.map(|s| match s.date {
            Some(date) => date.to_string(),
            None => s.at.to_string(),
        }),
    );
    line(
        "Licenses",
        (!request.licenses.is_empty()).then(|| sku_list(&request.licenses)),
    );
    line(
        "Groups",
        (!request.groups.is_empty()).then(|| request.groups.join(", ")),
    );
    line(
        "Copy groups from",
        request.copy_groups_from.as_ref().map(ToString::to_string),
    );
    note
}

/// Approval was requested from `approvers`, with a deadline.
pub fn approval_requested(
    display_name: &str,
    approvers: &[EmailAddress],
    expires_at: Timestamp,
    tz: &TimeZoneName,
) -> String {
    format!(
        "Approval to create {display_name} was requested from {}. Nothing is created until someone approves. \
         Without an answer by {} the request is closed.",
        email_list(approvers),
        local_time(expires_at, tz)
    )
}

/// The request was approved.
pub fn approval_approved(display_name: &str, approver: Option<&str>) -> String {
    match approver {
        Some(who) => {
            format!("{who} approved the creation of {display_name}. Onboarding continues.")
        }
        None => format!("The creation of {display_name} was approved. Onboarding continues."),
    }
}

/// The request was denied: nothing is created.
pub fn approval_denied(display_name: &str, approver: Option<&str>) -> String {
    let who = approver.unwrap_or("The approver");
    format!(
        "{who} denied the creation of {display_name}. No user was created and this request is closed."
    )
}

/// Nobody answered the approval request in time: nothing is created.
pub fn approval_timed_out(display_name: &str, waited_hours: u32) -> String {
    format!(
        "Nobody approved or denied the creation of {display_name} within {waited_hours} hours. \
         No user was created and this request is closed; submit it again to retry."
    )
}

/// User creation waits for the start date.
pub fn scheduled_until(display_name: &str, at: Timestamp, tz: &TimeZoneName) -> String {
    format!(
        "{display_name} will be created on {}, the start date. Onboard waits until then.",
        local_time(at, tz)
    )
}

/// The user was created.
pub fn user_created(
    display_name: &str,
    user_principal_name: &str,
    username: &UsernameChoice,
) -> String {
    let mut note = format!(
        "Created {display_name} as {user_principal_name} ({}).",
        username.reason
    );
    if username.truncated {
        note.push_str(" The name was shortened to fit the 64-character limit.");
    }
    let _ = write!(note, "\nsAMAccountName: {}", username.sam_account_name);
    note
}

/// A license was assigned.
pub fn license_assigned(
    user_principal_name: &str,
    sku: &SkuPartNumber,
    assignment: &Assignment,
) -> String {
    match assignment {
        Assignment::Direct {
            because: DirectBecause::MethodIsDirect,
        } => {
            format!("Assigned the {sku} license to {user_principal_name}.")
        }
        Assignment::Direct {
            because: DirectBecause::NoGroupForSku,
        } => format!(
            "Assigned the {sku} license to {user_principal_name} directly: no license group is configured for {sku} (license_groups)."
        ),
        Assignment::Group { group } => {
            format!("Added {user_principal_name} to the license group {group}, which grants {sku}.")
        }
    }
}

/// A seat was bought through the distributor.
pub fn license_purchased(sku: &SkuPartNumber, distributor: Distributor, quantity: u32) -> String {
    let seats = if quantity == 1 { "seat" } else { "seats" };
    format!(
        "No {sku} seat was free, so Onboard bought {quantity} {seats} through {}.",
        distributor_name(distributor)
    )
}

/// A seat came free before the one an onboarding was to buy was bought.
pub fn license_seat_came_free(sku: &SkuPartNumber, distributor: Distributor) -> String {
    format!(
        "A {sku} seat came free in the tenant before Onboard bought one, so nothing was bought through {}.",
        distributor_name(distributor)
    )
}

fn distributor_name(distributor: Distributor) -> &'static str {
    match distributor {
        Distributor::Pax8 => "Pax8",
        Distributor::Sherweb => "Sherweb",
        Distributor::IngramMicro => "Ingram Micro",
        Distributor::Arrow => "ArrowSphere",
        Distributor::TdSynnex => "TD SYNNEX",
    }
}

/// A technician must buy a license: why, and the Confirm and Reject links.
pub fn license_purchase_needed(
    organization_name: &str,
    skus: &[SkuPartNumber],
    reason: ManualPurchaseReason,
    confirm_url: &Url,
    reject_url: &Url,
    expires_at: Timestamp,
    tz: &TimeZoneName,
) -> String {
    format!(
        "{organization_name} needs a license that has no free seat: {}. It has to be bought by hand because {reason}.\n\
         \n\
         Buy the license, then open this link to confirm; Onboard will assign it and continue:\n\
         Confirm license purchase: {confirm_url}\n\
         \n\
         If you will not buy it now, open this link; Onboard continues without the license and it must be assigned by hand later:\n\
         Reject license purchase: {reject_url}\n\
         \n\
         The links expire at {}; then Onboard continues without the license.",
        sku_list(skus),
        local_time(expires_at, tz)
    )
}

/// The technician confirmed the purchase.
pub fn license_purchase_confirmed(skus: &[SkuPartNumber], confirmed_by: Option<&str>) -> String {
    let who = confirmed_by.map(|w| format!(" by {w}")).unwrap_or_default();
    format!(
        "The manual purchase of {} was confirmed{who}. Onboard now assigns the license.",
        sku_list(skus)
    )
}

/// The technician rejected the purchase.
pub fn license_purchase_rejected(user_principal_name: &str, skus: &[SkuPartNumber]) -> String {
    format!(
        "The purchase of {} was rejected, so no license was bought. Onboarding continues; \
         assign the license to {user_principal_name} by hand later.",
        sku_list(skus)
    )
}

/// Nobody confirmed or rejected the purchase in time.
pub fn license_purchase_timed_out(user_principal_name: &str, skus: &[SkuPartNumber]) -> String {
    format!(
        "Nobody confirmed or rejected the purchase of {} within 24 hours, so the request timed out. \
         Onboarding continues without the license; assign it to {user_principal_name} by hand.",
        sku_list(skus)
    )
}

/// Groups were added (and some could not be found).
pub fn groups_added(
    user_principal_name: &str,
    added: &[String],
    not_found: &[String],
    copied_from: Option<&str>,
) -> String {
    let mut note = match (added.is_empty(), copied_from) {
        (true, _) => format!("Added {user_principal_name} to no group."),
        (false, Some(from)) => format!(
            "Added {user_principal_name} to {} group(s), copied from {from}: {}.",
            added.len(),
            added.join(", ")
        ),
        (false, None) => format!(
            "Added {user_principal_name} to {} group(s): {}.",
            added.len(),
            added.join(", ")
        ),
    };
    if !not_found.is_empty() {
        let _ = write!(
            note,
            "\nNot found, so not added (check the names and add by hand): {}.",
            not_found.join(", ")
        );
    }
    note
}

fn location_name(location: PasswordSaveLocation) -> &'static str {
    match location {
        PasswordSaveLocation::Psa => "this ticket (internal note)",
        PasswordSaveLocation::ItGlue => "IT Glue",
        PasswordSaveLocation::Hudu => "Hudu",
        PasswordSaveLocation::Passportal => "Passportal",
        PasswordSaveLocation::PwPush => "a Password Pusher link",
    }
}

/// Where the first credentials were stored and sent. Never contains the secret.
pub fn credentials_stored(
    user_principal_name: &str,
    delivery: CredentialDelivery,
    stored_in: &[PasswordSaveLocation],
    sent: SendCredentialsTo,
) -> String {
    let what = match delivery {
        CredentialDelivery::Password => "password",
        CredentialDelivery::TemporaryAccessPass => "Temporary Access Pass",
    };
    let mut note = if stored_in.is_empty() {
        format!("The first {what} of {user_principal_name} was not stored anywhere.")
    } else {
        format!(
            "The first {what} of {user_principal_name} was stored in {}.",
            stored_in
                .iter()
                .map(|l| location_name(*l))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    note.push(' ');
    note.push_str(match sent {
        SendCredentialsTo::Email => "It was sent to the manager by e-mail.",
        SendCredentialsTo::Sms => "It was sent to the user's mobile phone by SMS.",
        SendCredentialsTo::Both => {
            "It was sent to the manager by e-mail and to the user's mobile phone by SMS."
        }
        SendCredentialsTo::Nobody => "It was not sent to anyone; hand it over in person.",
    });
    note
}

/// The internal note that carries the password itself, only when the organization set
/// `store_password_in_ticket`; `None` otherwise. A `SecretString`, so it is not logged.
pub fn credentials_in_ticket(
    user_principal_name: &str,
    password: &Password,
    store_password_in_ticket: bool,
) -> Option<SecretString> {
    store_password_in_ticket.then(|| {
        SecretString::from(format!(
            "First password of {user_principal_name}: {}\nThe user must change it at first sign-in if the organization requires it.",
            password.expose()
        ))
    })
}

/// The onboarding completed.
pub fn onboarding_completed(
    display_name: &str,
    user_principal_name: &str,
    summary: &[String],
) -> String {
    let mut note = format!("Onboarding of {display_name} ({user_principal_name}) is complete.");
    for line in summary {
        let _ = write!(note, "\n- {line}");
    }
    note
}

/// A step failed: what failed and what a technician must do.
pub fn failed(step: &str, what_failed: &str, technician_action: &str) -> String {
    format!(
        "Onboard stopped at step {step}: {what_failed}.\nWhat to do: {technician_action}.\n\
         Nothing after this step was done."
    )
}

/// An offboarding has started: which actions will run.
pub fn offboarding_started(
    user_principal_name: &str,
    actions: &OffboardingActions,
    scheduled: Option<(Timestamp, &TimeZoneName)>,
) -> String {
    let mut json = serde_json::to_value(actions).unwrap_or_default();
    let on: Vec<String> = OffboardingActions::NAMES
        .iter()
        .filter(|n| json.get_mut(**n).and_then(|v| v.as_bool()) == Some(true))
        .map(|n| n.replace('_', " "))
        .collect();
    let when = match scheduled {
        Some((at, tz)) => format!(" It will run on {}.", local_time(at, tz)),
        None => String::new(),
    };
    format!(
        "Onboard started offboarding {user_principal_name}.{when}\nActions: {}.",
        on.join(", ")
    )
}

/// Approval to offboard was requested from `approvers`, with a deadline.
pub fn offboarding_approval_requested(
    user_principal_name: &str,
    approvers: &[EmailAddress],
    expires_at: Timestamp,
    tz: &TimeZoneName,
) -> String {
    format!(
        "Approval to offboard {user_principal_name} was requested from {}. Nothing is changed until someone approves. \
         Without an answer by {} the request is closed.",
        email_list(approvers),
        local_time(expires_at, tz)
    )
}

/// The offboarding was approved.
pub fn offboarding_approved(user_principal_name: &str, approver: Option<&str>) -> String {
    let who = approver.unwrap_or("The approver");
    format!("{who} approved the offboarding of {user_principal_name}. Offboarding continues.")
}

/// The offboarding was denied: nothing is changed.
pub fn offboarding_denied(user_principal_name: &str, approver: Option<&str>) -> String {
    let who = approver.unwrap_or("The approver");
    format!(
        "{who} denied the offboarding of {user_principal_name}. The account was not changed and this request is closed."
    )
}

/// Nobody answered the offboarding approval in time: nothing is changed.
pub fn offboarding_approval_timed_out(user_principal_name: &str, waited_hours: u32) -> String {
    format!(
        "Nobody approved or denied the offboarding of {user_principal_name} within {waited_hours} hours. \
         The account was not changed and this request is closed; submit it again to retry."
    )
}

/// An offboarding completed.
pub fn offboarding_completed(user_principal_name: &str, summary: &[String]) -> String {
    let mut note = format!("Offboarding of {user_principal_name} is complete.");
    for line in summary {
        let _ = write!(note, "\n- {line}");
    }
    note
}

/// A technician cancelled a waiting run (`kind`: `onboarding` or `offboarding`).
pub fn run_cancelled(kind: &str, by: &str, waited_for: &str) -> String {
    format!(
        "Onboard: the {kind} was cancelled by {by} while it waited for {waited_for}. \
         Nothing more happens in the tenant; start a new {kind} if it is needed after all."
    )
}

/// `by` sent the pending approval again with fresh links.
pub fn approval_resent(approvers: &[String], by: &str) -> String {
    format!(
        "Onboard: {by} sent the approval request again to {}. The earlier links no longer work.",
        approvers.join(", ")
    )
}

/// `by` moved the date a scheduled run waits for (`when` as people read it).
pub fn run_rescheduled(kind: &str, when: &str, by: &str) -> String {
    format!("Onboard: {by} moved the {kind}'s date: it now runs at {when}.")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::username::{Username, UsernameReason};
    use secrecy::ExposeSecret;

    fn berlin() -> TimeZoneName {
        "Europe/Berlin".parse().expect("zone")
    }

    fn at(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    fn skus(list: &[&str]) -> Vec<SkuPartNumber> {
        list.iter().map(|s| s.parse().expect("sku")).collect()
    }

    #[test]
    fn the_purchase_note_says_why_and_carries_both_links() {
        let confirm = Url::parse("https://onboard.example.com/decisions/abc?sig=1&action=confirm")
            .expect("url");
        let reject = Url::parse("https://onboard.example.com/decisions/abc?sig=1&action=reject")
            .expect("url");
        let note = license_purchase_needed(
            "Contoso Ltd",
            &skus(&["O365_BUSINESS_PREMIUM"]),
            ManualPurchaseReason::NoDistributorMapped,
            &confirm,
            &reject,
            at("2026-03-03T08:00:00Z"),
            &berlin(),
        );
        assert!(
            note.starts_with(
                "Contoso Ltd needs a license that has no free seat: O365_BUSINESS_PREMIUM."
            ),
            "{note}"
        );
        assert!(
            note.contains("because the organization is not mapped to a license distributor"),
            "{note}"
        );
        assert!(
            note.contains(&format!("Confirm license purchase: {confirm}")),
            "{note}"
        );
        assert!(
            note.contains(&format!("Reject license purchase: {reject}")),
            "{note}"
        );
        assert!(
            note.contains("2026-03-03 09:00 CET (Europe/Berlin)"),
            "{note}"
        );
        assert!(note.find("Confirm").expect("confirm") < note.find("Reject").expect("reject"));
    }

    #[test]
    fn each_manual_trigger_reads_differently() {
        let texts: Vec<String> = [
            ManualPurchaseReason::ChosenInForm,
            ManualPurchaseReason::AutoPurchaseDisabled,
            ManualPurchaseReason::NoDistributorMapped,
        ]
        .iter()
        .map(ToString::to_string)
        .collect();
        assert_eq!(texts[0], "the request asked for a manual purchase");
        assert_eq!(
            texts[1],
            "automatic license purchase is turned off for the organization"
        );
        assert_ne!(texts[1], texts[2]);
    }

    #[test]
    fn the_timeout_and_reject_notes_say_the_license_must_be_assigned_by_hand() {
        let s = skus(&["SPB"]);
        let timed_out = license_purchase_timed_out("ana@contoso.com", &s);
        assert!(
            timed_out.contains("within 24 hours") && timed_out.contains("timed out"),
            "{timed_out}"
        );
        assert!(timed_out.contains("by hand"), "{timed_out}");
        let rejected = license_purchase_rejected("ana@contoso.com", &s);
        assert!(
            rejected.contains("rejected") && rejected.contains("ana@contoso.com"),
            "{rejected}"
        );
        let confirmed = license_purchase_confirmed(&s, Some("tech@msp.com"));
        assert_eq!(
            confirmed,
            "The manual purchase of SPB was confirmed by tech@msp.com. Onboard now assigns the license."
        );
    }

    #[test]
    fn credentials_notes_name_the_destination_and_never_the_secret_unless_opted_in() {
        let note = credentials_stored(
            "ana@contoso.com",
            CredentialDelivery::Password,
            &[PasswordSaveLocation::ItGlue, PasswordSaveLocation::PwPush],
            SendCredentialsTo::Email,
        );
        assert_eq!(
            note,
            "The first password of ana@contoso.com was stored in IT Glue, a Password Pusher link. It was sent to the manager by e-mail."
        );
        let password = Password::new("Maple-Harbor-Tulip-Quartz-47");
        assert!(credentials_in_ticket("ana@contoso.com", &password, false).is_none());
        let secret = credentials_in_ticket("ana@contoso.com", &password, true).expect("opted in");
        assert!(
            secret
                .expose_secret()
                .contains("Maple-Harbor-Tulip-Quartz-47")
        );
        assert!(
            !format!("{secret:?}").contains("Maple"),
            "a SecretString does not print"
        );
        let tap = credentials_stored(
            "ana@contoso.com",
            CredentialDelivery::TemporaryAccessPass,
            &[],
            SendCredentialsTo::Nobody,
        );
        assert!(
            tap.contains("Temporary Access Pass") && tap.contains("not stored anywhere"),
            "{tap}"
        );
    }

    #[test]
    fn approval_notes_cover_request_answer_and_timeout() {
        let approvers = [
            "hr@contoso.com".parse().expect("email"),
            "it@contoso.com".parse().expect("email"),
        ];
        let asked = approval_requested(
            "Ana Silva",
            &approvers,
            at("2026-07-01T10:00:00Z"),
            &berlin(),
        );
        assert!(
            asked.contains("hr@contoso.com, it@contoso.com")
                && asked.contains("2026-07-01 12:00 CEST"),
            "{asked}"
        );
        assert_eq!(
            approval_approved("Ana Silva", Some("hr@contoso.com")),
            "hr@contoso.com approved the creation of Ana Silva. Onboarding continues."
        );
        assert!(approval_denied("Ana Silva", None).contains("No user was created"));
        assert!(approval_timed_out("Ana Silva", 72).contains("within 72 hours"));
    }

    #[test]
    fn the_user_created_note_says_why_the_username() {
        let choice = UsernameChoice {
            username: Username::parse("jmdoe").expect("valid"),
            sam_account_name: "jmdoe".into(),
            reason: UsernameReason::MiddleInitialAfterCollision {
                taken: "jdoe".into(),
            },
            truncated: false,
        };
        assert_eq!(
            user_created("John Doe", "jmdoe@contoso.com", &choice),
            "Created John Doe as jmdoe@contoso.com (jdoe was taken, so the middle initial was added).\nsAMAccountName: jmdoe"
        );
    }

    #[test]
    fn the_other_notes_carry_their_facts() {
        let s: SkuPartNumber = "SPB".parse().expect("sku");
        assert_eq!(
            license_assigned(
                "a@c.com",
                &s,
                &Assignment::Group {
                    group: "Lic BP".into()
                }
            ),
            "Added a@c.com to the license group Lic BP, which grants SPB."
        );
        assert!(
            license_assigned(
                "a@c.com",
                &s,
                &Assignment::Direct {
                    because: DirectBecause::NoGroupForSku
                }
            )
            .contains("no license group")
        );
        assert_eq!(
            license_purchased(&s, Distributor::Pax8, 1),
            "No SPB seat was free, so Onboard bought 1 seat through Pax8."
        );
        let groups = groups_added(
            "a@c.com",
            &["Finance".into()],
            &["Ghost".into()],
            Some("b@c.com"),
        );
        assert!(
            groups.contains("copied from b@c.com: Finance")
                && groups.contains("Not found")
                && groups.contains("Ghost"),
            "{groups}"
        );
        assert!(
            scheduled_until("Ana", at("2026-03-02T08:00:00Z"), &berlin())
                .contains("2026-03-02 09:00 CET")
        );
        let failed_note = failed(
            "CreateUser",
            "Graph refused the user: the domain is not verified",
            "verify contoso.com in Entra ID and run the onboarding again",
        );
        assert!(
            failed_note.contains("CreateUser") && failed_note.contains("What to do: verify"),
            "{failed_note}"
        );
        assert!(
            onboarding_completed("Ana", "a@c.com", &["license SPB assigned".into()])
                .ends_with("\n- license SPB assigned")
        );
        let actions = OffboardingActions {
            deactivate_user: true,
            revoke_sessions: true,
            reset_password: false,
            remove_auth_methods: false,
            remove_groups: false,
            remove_licenses: false,
            set_manager_as_delegate: false,
            forward_mail_to_manager: false,
            set_auto_reply: false,
            hide_from_gal: true,
            reduce_distributor_seats: false,
            convert_to_shared: false,
        };
        assert_eq!(
            offboarding_started("a@c.com", &actions, None),
            "Onboard started offboarding a@c.com.\nActions: deactivate user, revoke sessions, hide from gal."
        );
        assert!(
            offboarding_completed("a@c.com", &[])
                .starts_with("Offboarding of a@c.com is complete.")
        );
    }
}
