//! Issue 19, item 1: MFA readiness against the sandbox's two demo tenants —
//! Contoso, protected by the Conditional Access policy "Require MFA for all
//! users" (Entra ID P1 through Business Premium), and Fabrikam, with no
//! protection at all and the Temporary Access Pass method off.

use serde_json::{Value, json};

use crate::helpers::{TestApp, settle_all, spawn_app, spawn_app_logged, spawn_app_with};
use crate::workflow::MSP_VARIABLES;

const PROTECTED: &str = "MFA: required by Conditional Access policy 'Require MFA for all users'";
const UNPROTECTED: &str = "MFA: no policy requires it for this user — consider security defaults";

/// The embedded sandbox variables (src/serve/default.toml), with `contoso` and
/// `fabrikam` declared so that each can take its own variables.
fn config(msp: &str, contoso: &str, fabrikam: &str) -> String {
    format!(
        r#"
[variables]
{MSP_VARIABLES}
{msp}

[organizations.contoso]
name = "Contoso"
domain = "contoso.com"

[organizations.contoso.variables]
{contoso}

[organizations.fabrikam]
name = "Fabrikam"
domain = "fabrikam.com"

[organizations.fabrikam.variables]
{fabrikam}
"#
    )
}

fn form(org: &str, first: &str, last: &str) -> Value {
    let manager = if org == "fabrikam" {
        "MeganB@fabrikam.com"
    } else {
        "AdeleV@contoso.com"
    };
    json!({"organization": org, "first_name": first, "last_name": last,
           "manager_email": manager})
}

fn timeline(rec: &Value) -> Vec<String> {
    rec["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Onboards `body` and moves the clock until it has ended; answers its record.
async fn run(app: &TestApp, body: Value) -> Value {
    let id = app.onboard(body).await;
    settle_all(
        &[app],
        "onboardings",
        std::slice::from_ref(&id),
        "completed",
    )
    .await;
    app.onboarding(&id).await
}

async fn notes_of(app: &TestApp, rec: &Value) -> Vec<String> {
    app.cw_notes(rec["ticket_id"].as_str().expect("a ticket"))
        .await
}

/// Users of `tenant` (a domain) whose UPN starts with `prefix`.
async fn users_in(app: &TestApp, tenant: &str, prefix: &str) -> Vec<Value> {
    app.graph_in(tenant, "/users?$top=999&$select=id,userPrincipalName")
        .await["value"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|u| {
            u["userPrincipalName"]
                .as_str()
                .is_some_and(|s| s.to_ascii_lowercase().starts_with(prefix))
        })
        .collect()
}

async fn plan(app: &TestApp, body: &Value) -> Value {
    let res = app
        .client
        .post(app.url("/api/onboardings/plan"))
        .json(body)
        .send()
        .await
        .expect("POST plan");
    assert_eq!(res.status(), 200);
    res.json().await.expect("json")
}

#[tokio::test]
async fn a_user_of_the_protected_demo_tenant_is_told_mfa_is_required_by_its_policy() {
    let app = spawn_app().await;

    let rec = run(&app, form("contoso", "Mia", "Protected")).await;

    assert_eq!(rec["status"], "completed", "{rec}");
    let timeline = timeline(&rec);
    assert_eq!(
        timeline.iter().filter(|m| m.as_str() == PROTECTED).count(),
        1,
        "{timeline:#?}"
    );
    assert!(!timeline.iter().any(|m| m.contains("warning: MFA")));
    let notes = notes_of(&app, &rec).await;
    let completion = notes
        .iter()
        .find(|n| n.contains("is complete"))
        .expect("a completion note");
    assert!(
        completion.contains(&format!("- {PROTECTED}")),
        "{completion}"
    );
}

#[tokio::test]
async fn in_the_unprotected_demo_tenant_warn_notes_it_and_the_user_is_created() {
    let app = spawn_app().await;

    let rec = run(&app, form("fabrikam", "Noah", "Open")).await;

    assert_eq!(rec["status"], "completed", "{rec}");
    assert_eq!(rec["organization"], "fabrikam");
    assert!(
        rec["user_principal_name"]
            .as_str()
            .unwrap()
            .ends_with("@fabrikam.com"),
        "{rec}"
    );
    assert_eq!(users_in(&app, "fabrikam.com", "nopen").await.len(), 1);
    let timeline = timeline(&rec);
    assert!(
        timeline
            .iter()
            .any(|m| m.as_str() == format!("warning: {UNPROTECTED}")),
        "{timeline:#?}"
    );
    let notes = notes_of(&app, &rec).await;
    let warned: Vec<&String> = notes
        .iter()
        .filter(|n| n.contains(&format!("Warning: {UNPROTECTED}")))
        .collect();
    assert_eq!(warned.len(), 1, "{notes:#?}");
    assert!(
        notes
            .iter()
            .any(|n| n.contains("is complete") && n.contains(&format!("- {UNPROTECTED}"))),
        "{notes:#?}"
    );
}

#[tokio::test]
async fn require_refuses_an_unprotected_user_before_anything_is_created() {
    let app = spawn_app_with(&config("", "", r#"mfa_readiness = "require""#)).await;
    let before = app.get_json("/sandbox/state").await;
    let tickets_before = app.cw_tickets().await.len();

    let id = app.onboard(form("fabrikam", "Rita", "Refused")).await;
    settle_all(&[&app], "onboardings", std::slice::from_ref(&id), "failed").await;
    let rec = app.onboarding(&id).await;

    assert_eq!(rec["status"], "failed", "{rec}");
    let text = rec.to_string();
    assert!(text.contains("mfa_readiness is require"), "{rec}");
    assert!(text.contains(UNPROTECTED), "{rec}");
    assert!(rec["ticket_id"].is_null(), "{rec}");
    assert!(users_in(&app, "fabrikam.com", "rrefused").await.is_empty());
    assert_eq!(app.cw_tickets().await.len(), tickets_before);
    // Nothing at all changed in the tenant, the PSA, the vaults or Pax8.
    let after = app.get_json("/sandbox/state").await;
    for service in ["graph", "connectwise", "itglue", "hudu", "pwpush", "pax8"] {
        assert_eq!(before[service], after[service], "{service} changed");
    }

    // The same variable lets a protected tenant's user through.
    let app = spawn_app_with(&config("", r#"mfa_readiness = "require""#, "")).await;
    let rec = run(&app, form("contoso", "Rob", "Required")).await;
    assert_eq!(rec["status"], "completed", "{rec}");
    assert!(timeline(&rec).iter().any(|m| m == PROTECTED), "{rec}");
}

#[tokio::test]
async fn ignore_reads_nothing_and_says_nothing() {
    let app = spawn_app_logged(Some(&config(r#"mfa_readiness = "ignore""#, "", ""))).await;

    let rec = run(&app, form("fabrikam", "Ian", "Ignored")).await;

    assert_eq!(rec["status"], "completed", "{rec}");
    assert!(!rec.to_string().contains("MFA"), "{rec}");
    let notes = notes_of(&app, &rec).await;
    assert!(!notes.iter().any(|n| n.contains("MFA")), "{notes:#?}");
    let log = app.log();
    // The server logs the paths it serves, the simulators' included.
    assert!(
        log.contains("/sandbox/graph/v1.0/users"),
        "no request paths logged"
    );
    assert!(
        !log.contains("identitySecurityDefaultsEnforcementPolicy")
            && !log.contains("conditionalAccess"),
        "the policies were read"
    );
}

#[tokio::test]
async fn the_registration_group_is_added_once_through_retries_and_lost_answers() {
    let app = spawn_app_logged(Some(&config(r#"mfa_registration_group = "Sales""#, "", ""))).await;
    app.faults(
        "graph",
        json!({"lost_answer_rate": 0.5, "throttle_rate": 0.1, "retry_after_seconds": 0, "seed": 19}),
    )
    .await;
    app.faults(
        "connectwise",
        json!({"lost_answer_rate": 0.3, "retry_after_seconds": 0, "seed": 19}),
    )
    .await;

    let mut ids = Vec::new();
    for first in ["Reg", "Regi", "Regis"] {
        // "Sales" both by the variable and by the form: one membership.
        let mut body = form("contoso", first, "Group");
        body["groups"] = json!(["All Staff", "Sales"]);
        ids.push(app.onboard(body).await);
    }
    settle_all(&[&app], "onboardings", &ids, "completed").await;
    app.faults("graph", json!({})).await;
    app.faults("connectwise", json!({})).await;

    let state = app.get_json("/sandbox/state").await;
    assert!(
        state["faults"]["graph"]["lost_answers"]
            .as_u64()
            .unwrap_or(0)
            >= 1,
        "no Graph answer was lost; the test proves nothing: {}",
        state["faults"]
    );
    for id in &ids {
        let rec = app.onboarding(id).await;
        assert_eq!(rec["status"], "completed", "{rec}");
        let upn = rec["user_principal_name"].as_str().unwrap();
        let users = app
            .graph(&format!(
                "/users?$filter=userPrincipalName eq '{upn}'&$select=id"
            ))
            .await;
        let user_id = users["value"][0]["id"].as_str().unwrap().to_owned();
        let groups: Vec<String> = app.graph(&format!("/users/{user_id}/memberOf")).await["value"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|g| g["displayName"].as_str().map(str::to_owned))
            .collect();
        assert_eq!(
            groups.iter().filter(|g| g.as_str() == "Sales").count(),
            1,
            "{upn}: {groups:?}"
        );
        assert!(groups.iter().any(|g| g == "All Staff"), "{groups:?}");
        // One groups note, naming Sales once, and no note twice.
        let notes = notes_of(&app, &rec).await;
        let mut seen = std::collections::HashSet::new();
        for n in &notes {
            assert!(seen.insert(n.clone()), "duplicate note: {n}");
        }
        let groups_notes: Vec<&String> = notes
            .iter()
            .filter(|n| n.starts_with(&format!("Added {upn} to")))
            .collect();
        assert_eq!(groups_notes.len(), 1, "{notes:#?}");
        assert_eq!(groups_notes[0].matches("Sales").count(), 1, "{notes:#?}");
    }
}

#[tokio::test]
async fn a_temporary_access_pass_goes_only_where_the_method_policy_allows_it_else_a_password() {
    let app = spawn_app_with(&config(
        r#"credential_delivery = "temporary_access_pass""#,
        "",
        "",
    ))
    .await;

    // Contoso: the method is enabled for all users.
    let rec = run(&app, form("contoso", "Tao", "Pass")).await;
    assert_eq!(rec["status"], "completed", "{rec}");
    let notes = notes_of(&app, &rec).await;
    assert!(
        !notes.iter().any(|n| n.contains("cannot be issued")),
        "{notes:#?}"
    );
    let mail = app.outbox().await;
    assert!(
        mail.iter().any(|m| m["body"]
            .as_str()
            .unwrap_or_default()
            .contains("Temporary Access Pass")),
        "{mail:#?}"
    );

    // Fabrikam: the method is off, so a password instead, said once.
    let rec = run(&app, form("fabrikam", "Pia", "Word")).await;
    assert_eq!(rec["status"], "completed", "{rec}");
    let upn = rec["user_principal_name"].as_str().unwrap().to_owned();
    let notes = notes_of(&app, &rec).await;
    let fallback: Vec<&String> = notes
        .iter()
        .filter(|n| n.contains("A Temporary Access Pass cannot be issued"))
        .collect();
    assert_eq!(fallback.len(), 1, "{notes:#?}");
    assert!(fallback[0].contains(&upn), "{}", fallback[0]);
    assert!(fallback[0].contains("disabled"), "{}", fallback[0]);
    assert!(
        fallback[0].contains("a password is delivered instead"),
        "{}",
        fallback[0]
    );
    let timeline = timeline(&rec);
    assert_eq!(
        timeline
            .iter()
            .filter(|m| m.starts_with("Temporary Access Pass not available"))
            .count(),
        1,
        "{timeline:#?}"
    );
    let mail = app.outbox().await;
    let last = mail.last().expect("the credentials mail");
    let body = last["body"].as_str().unwrap_or_default();
    assert!(body.contains(&upn), "{last}");
    assert!(body.to_ascii_lowercase().contains("password"), "{last}");
    assert!(!body.contains("Temporary Access Pass of"), "{last}");
}

#[tokio::test]
async fn the_plan_shows_the_mfa_outcome_and_what_require_would_do() {
    let app = spawn_app_with(&config("", "", r#"mfa_readiness = "require""#)).await;

    let protected = plan(&app, &form("contoso", "Ada", "Plan")).await;
    assert_eq!(protected["mfa"], PROTECTED, "{protected}");
    assert!(
        !protected["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap_or_default().contains("MFA")),
        "{protected}"
    );
    // The existing fields are all still there.
    for k in [
        "user_principal_name",
        "approval_required",
        "scheduled_for",
        "licenses",
        "groups",
        "warnings",
    ] {
        assert!(protected.get(k).is_some(), "{k}: {protected}");
    }

    let refused = plan(&app, &form("fabrikam", "Ada", "Plan")).await;
    assert_eq!(refused["mfa"], UNPROTECTED, "{refused}");
    let warnings: Vec<&str> = refused["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with("the run would stop at Validate")
                && w.contains("mfa_readiness is require")),
        "{warnings:?}"
    );

    // Under the default (`warn`), the unprotected outcome is a warning.
    let app = spawn_app().await;
    let warned = plan(&app, &form("fabrikam", "Ada", "Plan")).await;
    assert_eq!(warned["mfa"], UNPROTECTED, "{warned}");
    assert!(
        warned["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w == UNPROTECTED),
        "{warned}"
    );
}
