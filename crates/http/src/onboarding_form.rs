//! The new-user form (askama template `onboarding_form.html`), on the dashboard
//! at `/` and after a refused `POST /onboardings`: the organization first, then
//! its licenses as checkboxes with their free seats (read from the tenant when
//! the page is made, so it works without script), the manager and the copy-from
//! user by search, groups by search, and a plan panel. `/assets/console.js`
//! makes it live: the plan (`POST /api/onboardings/plan`) as you type, the
//! licenses of another organization, the searches. Inputs carry the API's field
//! names; errors sit beside their fields.

use std::collections::BTreeMap;

use askama::Template;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use onboard_domain::FieldError;

use crate::{HttpState, OrganizationSummary, csrf};

/// The progressive script of the console's forms, served from the binary.
const CONSOLE_JS: &str = include_str!("../assets/console.js");

/// `GET /assets/console.js`.
pub(crate) async fn console_js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        CONSOLE_JS,
    )
        .into_response()
}

/// Text inputs, in order: (field, label, search list).
const TEXT_FIELDS: &[(&str, &str, Option<&str>)] = &[
    ("first_name", "First name (required)", None),
    ("last_name", "Last name (required)", None),
    ("display_name", "Display name", None),
    ("job_title", "Job title", None),
    ("department", "Department", None),
    ("office_location", "Office location", None),
    ("mobile_phone", "Mobile phone", None),
    ("personal_email", "Personal e-mail", None),
    (
        "manager_email",
        "Manager (type a name or address)",
        Some("users"),
    ),
    (
        "usage_location",
        "Usage location (ISO country, e.g. US)",
        None,
    ),
    ("start_date", "Start date (YYYY-MM-DD)", None),
    (
        "licenses",
        "Other licenses (SKU part numbers, comma-separated)",
        None,
    ),
    ("groups", "Groups (display names, comma-separated)", None),
    (
        "copy_groups_from",
        "Copy groups from (type a name or address)",
        Some("users"),
    ),
    (
        "shared_mailboxes",
        "Shared mailboxes (addresses, comma-separated: FullAccess and SendAs)",
        None,
    ),
    ("ticket_id", "Existing PSA ticket", None),
];

struct Field {
    name: &'static str,
    label: &'static str,
    value: String,
    error: Option<String>,
    list: Option<String>,
    search: &'static str,
}

struct Select {
    name: &'static str,
    label: &'static str,
    options: &'static [(&'static str, &'static str)],
    value: String,
    error: Option<String>,
}

struct License {
    sku: String,
    name: String,
    free_seats: i64,
    checked: bool,
}

struct TemplateOption {
    name: String,
    selected: bool,
}

struct ErrorLine {
    input: String,
    field: String,
    message: String,
}

#[derive(Template)]
#[template(path = "onboarding_form.html")]
struct OnboardingForm<'a> {
    errors: Vec<ErrorLine>,
    csrf_field: &'static str,
    csrf: &'a str,
    organizations: &'a [OrganizationSummary],
    organization: String,
    organization_error: Option<String>,
    templates: Vec<TemplateOption>,
    template_error: Option<String>,
    fields: Vec<Field>,
    licenses: Vec<License>,
    licenses_error: Option<String>,
    selects: Vec<Select>,
    plan: Option<PlanView>,
}

/// The plan as the form's panel shows it when the page, not the script, made it
/// ("Show the plan" without JavaScript): the same words as `console.js`.
pub(crate) struct PlanView {
    /// (what, its lines).
    rows: Vec<(&'static str, Vec<String>)>,
    warnings: Vec<String>,
}

impl PlanView {
    /// `plan` in words, its times in `tz`.
    pub(crate) fn of(plan: &onboard_steps::plan::OnboardingPlan, tz: &jiff::tz::TimeZone) -> Self {
        use onboard_steps::plan::LicensePlanAction as A;
        let mut rows = vec![
            (
                "Username",
                vec![
                    plan.user_principal_name
                        .clone()
                        .unwrap_or_else(|| "none free (see the warnings)".into()),
                ],
            ),
            (
                "Approval",
                vec![
                    if plan.approval_required {
                        "needed before anything is created"
                    } else {
                        "not needed"
                    }
                    .into(),
                ],
            ),
            (
                "Start",
                vec![match plan
                    .scheduled_for
                    .as_deref()
                    .map(str::parse::<jiff::Timestamp>)
                {
                    Some(Ok(at)) => format!(
                        "waits until {}",
                        at.to_zoned(tz.clone()).strftime("%Y-%m-%d %H:%M %Z")
                    ),
                    Some(Err(_)) => format!(
                        "waits until {}",
                        plan.scheduled_for.clone().unwrap_or_default()
                    ),
                    None => "at once".into(),
                }],
            ),
        ];
        let licenses: Vec<String> = plan
            .licenses
            .iter()
            .map(|l| {
                let seats = l
                    .free_seats
                    .map_or("not in the tenant".to_owned(), |n| format!("{n} free"));
                let action = match l.action {
                    A::Assign => "assign a free seat",
                    A::Group => "give through the license group",
                    A::Purchase => "buy through the distributor",
                    A::ManualPurchase => "ask a technician to buy",
                };
                let group = l
                    .group
                    .as_ref()
                    .map(|g| format!(" ({g})"))
                    .unwrap_or_default();
                format!("{} ({seats}): {action}{group}", l.sku)
            })
            .collect();
        rows.push((
            "Licenses",
            if licenses.is_empty() {
                vec!["none".into()]
            } else {
                licenses
            },
        ));
        let groups: Vec<String> = plan
            .groups
            .iter()
            .map(|g| {
                format!(
                    "{}: {}",
                    g.name,
                    match (g.found, g.exchange) {
                        (false, _) => "not found",
                        (true, false) => "found",
                        (true, true) =>
                            "found; added through Exchange Online once the mailbox exists",
                    }
                )
            })
            .collect();
        rows.push((
            "Groups",
            if groups.is_empty() {
                vec!["none".into()]
            } else {
                groups
            },
        ));
        if let Some(copied) = &plan.copied_groups {
            rows.push((
                "Copied groups",
                vec![if copied.is_empty() {
                    "none".into()
                } else {
                    copied.join(", ")
                }],
            ));
        }
        if !plan.shared_mailboxes.is_empty() {
            rows.push((
                "Shared mailboxes",
                vec![format!(
                    "{}: FullAccess and SendAs, once the mailbox exists",
                    plan.shared_mailboxes.join(", ")
                )],
            ));
        }
        if let Some(mfa) = &plan.mfa {
            rows.push(("MFA", vec![mfa.trim_start_matches("MFA: ").to_owned()]));
        }
        PlanView {
            rows,
            warnings: plan.warnings.clone(),
        }
    }
}

/// Fields the form sends as lists (comma-separated in the page).
pub(crate) const LIST_FIELDS: &[&str] = &["licenses", "groups", "shared_mailboxes"];

/// A submitted form's pairs as one value per field: repeated list fields (the
/// license checkboxes next to the "other licenses" text) joined with commas.
pub(crate) fn form_values(pairs: Vec<(String, String)>) -> BTreeMap<String, String> {
    let mut values: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in pairs {
        match values.get_mut(&k) {
            Some(existing) if LIST_FIELDS.contains(&k.as_str()) => {
                if !v.trim().is_empty() {
                    if !existing.trim().is_empty() {
                        existing.push_str(", ");
                    }
                    existing.push_str(v.trim());
                }
            }
            _ => {
                values.insert(k, v);
            }
        }
    }
    values
}

/// The input that holds an API field: `licenses[1]` -> `licenses`.
fn input_of(field: &str) -> String {
    field.split('[').next().unwrap_or(field).to_owned()
}

/// The form with `values` filled in (after a refused submission) and `errors`
/// beside their fields.
pub(crate) async fn render(
    state: &HttpState,
    organizations: &[OrganizationSummary],
    values: &BTreeMap<String, String>,
    csrf: &str,
    errors: &[FieldError],
    plan: Option<PlanView>,
) -> String {
    let error_for = |input: &str| {
        errors
            .iter()
            .find(|e| input_of(&e.field) == input)
            .map(|e| e.message.clone())
    };
    let value = |k: &str| values.get(k).cloned().unwrap_or_default();
    let organization = values
        .get("organization")
        .cloned()
        .or_else(|| organizations.first().map(|o| o.id.clone()))
        .unwrap_or_default();

    // The licenses the form asked for, checked again; those the tenant has are
    // checkboxes, any other stays in the text input.
    let asked: Vec<String> = value("licenses")
        .split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    let (licenses, licenses_error) = match tenant_licenses(state, &organization).await {
        Ok(found) => (found, None),
        Err(why) => (Vec::new(), Some(why)),
    };
    let licenses: Vec<License> = licenses
        .into_iter()
        .map(|l| License {
            checked: asked.iter().any(|a| a.eq_ignore_ascii_case(&l.sku)),
            sku: l.sku,
            name: l.name,
            free_seats: l.free_seats,
        })
        .collect();
    let other_licenses: Vec<&str> = asked
        .iter()
        .filter(|a| !licenses.iter().any(|l| l.sku.eq_ignore_ascii_case(a)))
        .map(String::as_str)
        .collect();

    let chosen = value("template");
    let (names, templates_error) = match organization_templates(state, &organization).await {
        Ok(names) => (names, None),
        Err(why) => (Vec::new(), Some(why)),
    };
    let templates = names
        .into_iter()
        .map(|name| TemplateOption {
            selected: name == chosen.trim(),
            name,
        })
        .collect();

    let fields = TEXT_FIELDS
        .iter()
        .map(|(name, label, search)| Field {
            name,
            label,
            value: if *name == "licenses" {
                other_licenses.join(", ")
            } else {
                value(name)
            },
            error: error_for(name),
            list: search.map(|_| format!("{name}-options")),
            search: search.unwrap_or(""),
        })
        .collect();
    let select = |name: &'static str, label, options| Select {
        name,
        label,
        options,
        value: value(name),
        error: error_for(name),
    };
    let selects = vec![
        select(
            "license_purchase",
            "If no license is free",
            &[
                ("", "the organization's setting"),
                ("auto", "buy one"),
                ("manual", "ask a technician"),
            ],
        ),
        select(
            "send_credentials_to",
            "Send the credentials to",
            &[
                ("", "the organization's setting"),
                ("email", "the manager by e-mail"),
                ("sms", "SMS"),
                ("both", "both"),
                ("none", "nobody"),
            ],
        ),
    ];
    let form = OnboardingForm {
        errors: errors
            .iter()
            .map(|e| ErrorLine {
                input: input_of(&e.field),
                field: e.field.clone(),
                message: e.message.clone(),
            })
            .collect(),
        csrf_field: csrf::FIELD,
        csrf,
        organizations,
        organization_error: error_for("organization"),
        organization,
        templates,
        template_error: error_for("template").or(templates_error),
        fields,
        licenses,
        licenses_error,
        selects,
        plan,
    };
    form.render().unwrap_or_else(|e| {
        tracing::error!(error = %e, "rendering the onboarding form failed");
        String::from("<p class=\"err\">The form could not be shown; see the server log.</p>")
    })
}

/// The organization's template names, or why they cannot be shown.
async fn organization_templates(
    state: &HttpState,
    organization: &str,
) -> Result<Vec<String>, String> {
    if organization.is_empty() {
        return Ok(Vec::new());
    }
    onboard_steps::templates::list(&state.deps, organization)
        .await
        .map(|found| found.into_iter().map(|(name, _)| name).collect())
        .map_err(|e| {
            tracing::warn!(error = %e, "listing templates for the form failed");
            "the organization's templates cannot be listed now".to_owned()
        })
}

/// The tenant's licenses, or why they cannot be shown (the form still works).
async fn tenant_licenses(
    state: &HttpState,
    organization: &str,
) -> Result<Vec<onboard_steps::lookups::LicenseOption>, String> {
    if organization.is_empty() {
        return Ok(Vec::new());
    }
    let org = state
        .deps
        .connections
        .organization(organization)
        .await
        .map_err(|e| format!("the organization's licenses cannot be listed: {}", e.name()))?;
    onboard_steps::lookups::licenses(&state.deps, &org)
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "listing licenses for the form failed");
            "the tenant's licenses cannot be read now; type SKU part numbers below".to_owned()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checked_licenses_and_typed_ones_become_one_list() {
        let pairs = vec![
            ("licenses".to_owned(), "SPB".to_owned()),
            ("first_name".to_owned(), "Ada".to_owned()),
            ("licenses".to_owned(), "EXCHANGESTANDARD".to_owned()),
            ("licenses".to_owned(), " ".to_owned()),
        ];
        let values = form_values(pairs);
        assert_eq!(values["licenses"], "SPB, EXCHANGESTANDARD");
        assert_eq!(values["first_name"], "Ada");
    }
}
