//! Onboarding and offboarding forms: valid ones parse, bad ones list every bad field.

use jiff::Timestamp;
use onboard_domain::request::{OffboardingActions, parse_offboarding, parse_onboarding};
use onboard_domain::variables::{SendCredentialsTo, VariableLayer, Variables};
use onboard_domain::{DomainError, FieldError};
use serde_json::{Value as Json, json};

fn variables(org: Json) -> Variables {
    let org: VariableLayer = serde_json::from_value(org).expect("an object");
    Variables::resolve("contoso", &VariableLayer::new(), &org).expect("valid variables")
}

fn errors(result: Result<impl std::fmt::Debug, DomainError>) -> Vec<FieldError> {
    match result {
        Err(DomainError::InvalidRequest { errors }) => errors,
        other => panic!("expected an invalid request, got {other:?}"),
    }
}

fn fields(errors: &[FieldError]) -> Vec<&str> {
    errors.iter().map(|e| e.field.as_str()).collect()
}

fn ts(s: &str) -> Timestamp {
    s.parse().expect("timestamp")
}

#[test]
fn a_complete_onboarding_form_parses_into_typed_values() {
    let vars = variables(json!({"time_zone": "Europe/Berlin", "m365_usage_location": "DE"}));
    let form = json!({
        "organization": "contoso",
        "first_name": " José ",
        "middle_name": "María",
        "last_name": "Núñez",
        "job_title": "Accountant",
        "department": "Finance",
        "office_location": "Berlin",
        "mobile_phone": "030 12345678",
        "personal_email": "jose@example.org",
        "manager_email": "boss@contoso.com",
        "start_date": "2026-03-02",
        "licenses": ["o365_business_premium", "O365_BUSINESS_PREMIUM", "EMS"],
        "groups": ["Finance", "All Staff", "Finance"],
        "copy_groups_from": "ana@contoso.com",
        "ticket_id": 4711,
        "license_purchase": "manual",
        "send_credentials_to": "both",
        "email_domain": "contoso.com"
    });
    let r = parse_onboarding(&form, &vars).expect("valid");
    assert_eq!(r.name.first, "José");
    assert_eq!(r.name.middle.as_deref(), Some("María"));
    assert_eq!(r.display_name, "José Núñez");
    assert_eq!(r.usage_location.as_str(), "DE");
    assert_eq!(
        r.mobile_phone.as_ref().map(|p| p.as_str()),
        Some("+493012345678")
    );
    // A date is the start of the working day (09:00) in the organization's time zone (CET).
    let start = r.start_date.expect("start");
    assert_eq!(start.at, ts("2026-03-02T08:00:00Z"));
    assert_eq!(start.date.map(|d| d.to_string()), Some("2026-03-02".into()));
    assert_eq!(
        r.licenses.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        ["O365_BUSINESS_PREMIUM", "EMS"]
    );
    assert_eq!(r.groups, ["Finance", "All Staff"]);
    assert_eq!(r.ticket_id.as_ref().map(|t| t.as_str()), Some("4711"));
    assert_eq!(r.send_credentials_to, SendCredentialsTo::Both);
    assert_eq!(r.ignored_fields, ["email_domain"]);
}

#[test]
fn a_minimal_form_gets_its_defaults_from_the_variables() {
    let vars = variables(json!({}));
    let r = parse_onboarding(
        &json!({"organization": "contoso", "first_name": "Ana", "last_name": "Silva"}),
        &vars,
    )
    .expect("valid");
    assert_eq!(r.usage_location.as_str(), "US");
    assert_eq!(r.display_name, "Ana Silva");
    assert!(r.licenses.is_empty() && r.groups.is_empty());
    // The default channel is e-mail, but without a manager nobody can receive it.
    assert_eq!(r.send_credentials_to, SendCredentialsTo::Nobody);
    assert_eq!(r.start_date, None);
}

#[test]
fn every_bad_field_is_reported_at_once_and_named() {
    let vars = variables(json!({}));
    let form = json!({
        "first_name": 42,
        "last_name": "",
        "display_name": "x".repeat(300),
        "username": "jose nunez",
        "mobile_phone": "not a phone",
        "personal_email": "jose-at-example",
        "manager_email": "boss@",
        "usage_location": "Germany",
        "start_date": "next monday",
        "licenses": ["SPB", "Business Premium", 7],
        "groups": "Finance",
        "copy_groups_from": "ana",
        "ticket_id": {"id": 1},
        "license_purchase": "maybe",
        "send_credentials_to": "pigeon"
    });
    let errs = errors(parse_onboarding(&form, &vars));
    assert_eq!(
        fields(&errs),
        [
            "organization",
            "first_name",
            "last_name",
            "display_name",
            "username",
            "usage_location",
            "mobile_phone",
            "personal_email",
            "manager_email",
            "start_date",
            "licenses[1]",
            "licenses[2]",
            "groups",
            "copy_groups_from",
            "ticket_id",
            "license_purchase",
            "send_credentials_to",
        ]
    );
    assert!(
        errs.iter()
            .all(|e| !e.message.is_empty() && !e.message.ends_with('.')),
        "{errs:?}"
    );
    assert_eq!(errs[0].message, "is required");
    assert!(
        errs[9].message.contains("YYYY-MM-DD"),
        "{}",
        errs[9].message
    );
}

#[test]
fn an_rfc3339_start_date_is_an_instant() {
    let vars = variables(json!({"time_zone": "America/New_York"}));
    let r = parse_onboarding(
        &json!({"organization": "c", "first_name": "A", "last_name": "B", "start_date": "2026-07-01T13:30:00-04:00"}),
        &vars,
    )
    .expect("valid");
    assert_eq!(r.start_date.map(|s| s.at), Some(ts("2026-07-01T17:30:00Z")));
    assert_eq!(r.start_date.and_then(|s| s.date), None);
}

#[test]
fn creation_waits_only_when_scheduling_is_allowed_and_the_date_is_ahead() {
    let form = json!({"organization": "c", "first_name": "A", "last_name": "B", "start_date": "2026-03-02"});
    let now = ts("2026-02-01T00:00:00Z");
    let off = variables(json!({}));
    assert_eq!(
        parse_onboarding(&form, &off)
            .expect("valid")
            .scheduled_creation(&off, now),
        None
    );
    let on = variables(json!({"allow_scheduled_user_creation": 1}));
    let r = parse_onboarding(&form, &on).expect("valid");
    assert_eq!(
        r.scheduled_creation(&on, now),
        Some(ts("2026-03-02T09:00:00Z"))
    );
    assert_eq!(r.scheduled_creation(&on, ts("2026-03-03T00:00:00Z")), None);
}

#[test]
fn an_explicit_credential_channel_needs_its_recipient() {
    let vars = variables(json!({}));
    let errs = errors(parse_onboarding(
        &json!({"organization": "c", "first_name": "A", "last_name": "B", "send_credentials_to": "both"}),
        &vars,
    ));
    assert_eq!(
        fields(&errs),
        ["send_credentials_to", "send_credentials_to"]
    );
    assert_eq!(errs[0].message, "`both` needs a manager_email");
    assert_eq!(errs[1].message, "`both` needs a mobile_phone");
}

#[test]
fn send_sms_to_user_adds_sms_when_the_form_says_nothing() {
    let vars = variables(json!({"send_sms_to_user": 1}));
    let r = parse_onboarding(
        &json!({"organization": "c", "first_name": "A", "last_name": "B", "manager_email": "m@c.com", "mobile_phone": "+1 415 555 0132"}),
        &vars,
    )
    .expect("valid");
    assert_eq!(r.send_credentials_to, SendCredentialsTo::Both);
    assert_eq!(
        r.mobile_phone.map(|p| p.to_string()),
        Some("+14155550132".into())
    );
}

#[test]
fn a_body_that_is_not_an_object_is_refused() {
    let errs = errors(parse_onboarding(
        &json!(["organization"]),
        &variables(json!({})),
    ));
    assert_eq!(fields(&errs), ["body"]);
}

#[test]
fn an_offboarding_form_takes_the_organization_defaults_and_overrides_them() {
    let vars = variables(json!({"time_zone": "Europe/Berlin", "offboarding_hide_from_gal": 0}));
    let r = parse_offboarding(
        &json!({
            "organization": "contoso",
            "user_principal_name": "jdoe@contoso.com",
            "ticket_id": "T-12",
            "scheduled_at": "2026-03-31",
            "actions": {"remove_licenses": false, "offboarding_set_auto_reply": true},
            "delegate_to": "boss@contoso.com"
        }),
        &vars,
    )
    .expect("valid");
    assert_eq!(r.user_principal_name.as_str(), "jdoe@contoso.com");
    // A date is the end of that working day (17:00) in the organization's time zone (CEST).
    assert_eq!(
        r.scheduled_at.map(|s| s.at),
        Some(ts("2026-03-31T15:00:00Z"))
    );
    let defaults = OffboardingActions::from_variables(&vars);
    assert!(defaults.remove_licenses && !defaults.set_auto_reply && !defaults.hide_from_gal);
    assert!(!r.actions.remove_licenses);
    assert!(r.actions.set_auto_reply);
    assert!(!r.actions.hide_from_gal);
    assert!(r.actions.deactivate_user && r.actions.remove_groups);
}

#[test]
fn a_bad_offboarding_form_lists_every_problem() {
    let vars = variables(json!({}));
    let errs = errors(parse_offboarding(
        &json!({
            "user_principal_name": "jdoe",
            "scheduled_at": "tomorrow",
            "actions": {"remove_groups": "yes", "delete_everything": true},
            "delegate_to": "nobody"
        }),
        &vars,
    ));
    assert_eq!(
        fields(&errs),
        [
            "organization",
            "user_principal_name",
            "scheduled_at",
            "delegate_to",
            "actions.delete_everything",
            "actions.remove_groups"
        ]
    );
    assert!(
        errs[4]
            .message
            .starts_with("unknown action; expected one of deactivate_user"),
        "{}",
        errs[4].message
    );
}

#[test]
fn an_offboarding_that_would_do_nothing_is_refused() {
    let vars = variables(json!({}));
    let all_off: serde_json::Map<String, Json> = OffboardingActions::NAMES
        .iter()
        .map(|n| ((*n).to_owned(), json!(false)))
        .collect();
    let errs = errors(parse_offboarding(
        &json!({"organization": "c", "user_principal_name": "a@c.com", "actions": all_off}),
        &vars,
    ));
    assert_eq!(fields(&errs), ["actions"]);
}

#[test]
fn giving_seats_back_needs_the_licenses_removed() {
    let vars = variables(json!({}));
    let errs = errors(parse_offboarding(
        &json!({"organization": "c", "user_principal_name": "a@c.com",
                "actions": {"remove_licenses": false, "reduce_distributor_seats": true}}),
        &vars,
    ));
    assert_eq!(fields(&errs), ["actions.reduce_distributor_seats"]);
}

#[test]
fn the_user_cannot_be_their_own_delegate() {
    let vars = variables(json!({}));
    let errs = errors(parse_offboarding(
        &json!({"organization": "c", "user_principal_name": "a@c.com", "delegate_to": "A@c.com"}),
        &vars,
    ));
    assert_eq!(fields(&errs), ["delegate_to"]);
}

#[test]
fn validated_requests_survive_a_round_trip_through_json() {
    // Requests travel between workflow steps as JSON state.
    let vars = variables(json!({"time_zone": "Europe/Berlin"}));
    let on = parse_onboarding(
        &json!({"organization": "c", "first_name": "Zoë", "middle_name": "Ann", "last_name": "Brontë",
                "username": "zbronte", "mobile_phone": "+44 7911 123456", "manager_email": "m@c.com",
                "start_date": "2026-03-02", "licenses": ["SPB"], "ticket_id": "T1", "license_purchase": "auto"}),
        &vars,
    )
    .expect("valid");
    let back: onboard_domain::OnboardingRequest =
        serde_json::from_value(serde_json::to_value(&on).expect("serialize")).expect("deserialize");
    assert_eq!(back, on);

    let off = parse_offboarding(
        &json!({"organization": "c", "user_principal_name": "a@c.com", "scheduled_at": "2026-03-31T18:00:00+02:00"}),
        &vars,
    )
    .expect("valid");
    let back: onboard_domain::OffboardingRequest =
        serde_json::from_value(serde_json::to_value(&off).expect("serialize"))
            .expect("deserialize");
    assert_eq!(back, off);
}

#[test]
fn the_organization_can_be_read_before_the_variables_are_known() {
    use onboard_domain::request::organization_of;
    assert_eq!(
        organization_of(&json!({"organization": " contoso "})).ok(),
        Some("contoso")
    );
    assert_eq!(
        fields(&errors(organization_of(&json!({"organization": ""})))),
        ["organization"]
    );
    assert_eq!(
        fields(&errors(organization_of(&json!({"organization": 7})))),
        ["organization"]
    );
    assert_eq!(
        fields(&errors(organization_of(&json!([])))),
        ["organization"]
    );
}
