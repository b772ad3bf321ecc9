//! The schemas of the bodies `/api/*` takes and answers, and the responses every
//! operation may give. The handlers name them in their `#[utoipa::path]`s.

#![allow(dead_code)] // The structs exist only for their schemas.

use utoipa::ToSchema;

/// A run's status (CONTRACT.md §2, §4).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub(crate) enum RunStatus {
    PendingApproval,
    Scheduled,
    Running,
    WaitingLicensePurchase,
    Completed,
    Denied,
    ApprovalTimedOut,
    Failed,
    Cancelled,
}

/// How a request ended for its licenses.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub(crate) enum LicenseOutcome {
    Assigned,
    Purchased,
    PurchaseConfirmed,
    PurchaseRejected,
    PurchaseTimedOut,
    NoneRequested,
}

/// The new-user form (`POST /api/onboardings`, `/plan`). Fields not listed are
/// ignored, with a warning in the plan.
#[derive(ToSchema)]
pub(crate) struct OnboardingForm {
    /// An organization id of `GET /api/organizations`.
    organization: String,
    first_name: String,
    last_name: String,
    display_name: Option<String>,
    job_title: Option<String>,
    department: Option<String>,
    office_location: Option<String>,
    mobile_phone: Option<String>,
    personal_email: Option<String>,
    manager_email: Option<String>,
    /// ISO 3166 country code; default from the organization's variables.
    usage_location: Option<String>,
    /// `YYYY-MM-DD` or RFC 3339.
    start_date: Option<String>,
    /// SKU part numbers, e.g. `O365_BUSINESS_PREMIUM`.
    licenses: Option<Vec<String>>,
    /// Group display names.
    groups: Option<Vec<String>>,
    /// A UPN whose groups the new user gets.
    copy_groups_from: Option<String>,
    /// Shared mailboxes (addresses) the new user gets FullAccess and SendAs to.
    shared_mailboxes: Option<Vec<String>>,
    ticket_id: Option<String>,
    /// `auto` or `manual`.
    license_purchase: Option<String>,
    /// `email`, `sms`, `both` or `none`.
    send_credentials_to: Option<String>,
    /// A template of the organization (`GET /api/organizations/{id}/templates`):
    /// its fields fill those this form leaves empty.
    template: Option<String>,
}

/// The offboarding form (`POST /api/offboardings`, `/plan`).
#[derive(ToSchema)]
pub(crate) struct OffboardingForm {
    organization: String,
    user_principal_name: String,
    ticket_id: Option<String>,
    /// RFC 3339, or a date meaning the end of that working day.
    scheduled_at: Option<String>,
    /// Booleans overriding the organization's offboarding variables.
    #[schema(value_type = Option<Object>)]
    actions: Option<serde_json::Value>,
    /// A UPN; default the manager.
    delegate_to: Option<String>,
}

/// A request accepted: the run started.
#[derive(ToSchema)]
pub(crate) struct Accepted {
    id: String,
    status: RunStatus,
}

/// One bad field.
#[derive(ToSchema)]
pub(crate) struct FieldProblem {
    field: String,
    message: String,
}

/// An error answer (RFC 7807, `application/problem+json`).
#[derive(ToSchema)]
pub(crate) struct Problem {
    #[schema(rename = "type")]
    kind: String,
    title: String,
    status: u16,
    detail: Option<String>,
    /// With 400 (and 422): each bad field.
    errors: Option<Vec<FieldProblem>>,
}

/// One timeline entry.
#[derive(ToSchema)]
pub(crate) struct TimelineEntry {
    /// RFC 3339.
    at: String,
    step: String,
    message: String,
}

/// An onboarding (`GET /api/onboardings/{id}`).
#[derive(ToSchema)]
pub(crate) struct Onboarding {
    id: String,
    status: RunStatus,
    organization: String,
    user_principal_name: Option<String>,
    ticket_id: Option<String>,
    license_outcome: Option<LicenseOutcome>,
    timeline: Vec<TimelineEntry>,
}

/// An offboarding (`GET /api/offboardings/{id}`).
#[derive(ToSchema)]
pub(crate) struct Offboarding {
    id: String,
    status: RunStatus,
    organization: String,
    user_principal_name: Option<String>,
    ticket_id: Option<String>,
    timeline: Vec<TimelineEntry>,
    /// What was removed (groups, licenses, manager, enabled), to restore a rehire.
    #[schema(value_type = Option<Object>)]
    removed: Option<serde_json::Value>,
}

/// One run in a listing.
#[derive(ToSchema)]
pub(crate) struct RunItem {
    id: String,
    /// `onboarding` or `offboarding`.
    kind: String,
    status: RunStatus,
    organization: String,
    display_name: Option<String>,
    user_principal_name: Option<String>,
    created_at: String,
    updated_at: String,
    /// `approval`, `license_purchase` or `start_date`, while it waits.
    waiting_for: Option<String>,
    waiting_until: Option<String>,
}

/// A page of runs, newest first.
#[derive(ToSchema)]
pub(crate) struct RunList {
    items: Vec<RunItem>,
    /// The `cursor` of the next page; null on the last.
    next_cursor: Option<String>,
}

/// A new date for a scheduled run (`PATCH`).
#[derive(ToSchema)]
pub(crate) struct NewDate {
    /// `YYYY-MM-DD` or RFC 3339.
    start_date: Option<String>,
    /// Offboardings: RFC 3339, or a date meaning the end of that working day.
    scheduled_at: Option<String>,
}

/// What the run would do about one license.
#[derive(ToSchema)]
pub(crate) struct PlannedLicense {
    sku: String,
    free_seats: Option<i64>,
    /// `assign`, `group`, `purchase` or `manual_purchase`.
    action: String,
    group: Option<String>,
}

/// One requested group.
#[derive(ToSchema)]
pub(crate) struct PlannedGroup {
    name: String,
    found: bool,
    /// A distribution list or mail-enabled security group: added through
    /// Exchange Online once the new mailbox exists.
    exchange: bool,
}

/// The plan of an onboarding: nothing is created, sent or ticketed.
#[derive(ToSchema)]
pub(crate) struct OnboardingPlan {
    user_principal_name: Option<String>,
    approval_required: bool,
    scheduled_for: Option<String>,
    licenses: Vec<PlannedLicense>,
    groups: Vec<PlannedGroup>,
    copied_groups: Option<Vec<String>>,
    /// Shared mailboxes the user would get FullAccess and SendAs to.
    shared_mailboxes: Vec<String>,
    warnings: Vec<String>,
    /// The MFA readiness outcome in words; null when `mfa_readiness = ignore`.
    mfa: Option<String>,
}

/// What an offboarding would remove.
#[derive(ToSchema)]
pub(crate) struct OffboardingPreview {
    user_principal_name: String,
    found: bool,
    approval_required: bool,
    scheduled_for: Option<String>,
    actions: Vec<String>,
    groups: Vec<String>,
    groups_kept: Vec<String>,
    licenses: Vec<String>,
    authentication_methods: Vec<String>,
    manager: Option<String>,
    warnings: Vec<String>,
}

/// A template's fields (`PUT .../templates/{name}`): each the new-user form's
/// field of that name, filled into a form that names the template wherever it
/// leaves the field empty. Any other field is refused.
#[derive(ToSchema)]
pub(crate) struct TemplateFields {
    /// What the template is for.
    description: Option<String>,
    department: Option<String>,
    job_title: Option<String>,
    office_location: Option<String>,
    /// ISO 3166 country code.
    usage_location: Option<String>,
    manager_email: Option<String>,
    /// SKU part numbers.
    licenses: Option<Vec<String>>,
    /// Group display names.
    groups: Option<Vec<String>>,
    /// Shared mailbox addresses.
    shared_mailboxes: Option<Vec<String>>,
}

/// A template and its name.
#[derive(ToSchema)]
pub(crate) struct NamedTemplate {
    name: String,
    template: TemplateFields,
}

/// `POST .../templates`: a template made from an existing user.
#[derive(ToSchema)]
pub(crate) struct TemplateFromUser {
    /// Letters, digits, spaces, `-`, `_`, `.`; at most 64.
    name: String,
    /// The user's UPN or address.
    from_user: String,
}

/// An organization forms may name.
#[derive(ToSchema)]
pub(crate) struct Organization {
    id: String,
    name: String,
    domain: String,
}

/// A license of the tenant.
#[derive(ToSchema)]
pub(crate) struct LicenseOption {
    sku: String,
    name: String,
    free_seats: i64,
}

/// A group found by search.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub(crate) struct GroupOption {
    id: String,
    display_name: String,
}

/// A user found by search.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub(crate) struct UserOption {
    id: String,
    display_name: String,
    user_principal_name: String,
    mail: Option<String>,
}

/// The responses every operation may give besides its own.
#[derive(utoipa::IntoResponses)]
pub(crate) enum Common {
    /// `/api/*` without a valid API key, when the server requires one.
    #[response(status = 401, content_type = "application/problem+json")]
    Unauthorized(Problem),
    /// A body that is not JSON.
    #[response(status = 415, content_type = "application/problem+json")]
    Unsupported(Problem),
    /// The workflow service cannot take the request now; try again (`Retry-After`).
    #[response(status = 503, content_type = "application/problem+json")]
    Unavailable(Problem),
}
