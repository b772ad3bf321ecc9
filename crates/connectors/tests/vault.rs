//! Contract tests: the vault clients against the IT Glue, Hudu and Password Pusher simulators over a socket.

// Test code: a failed unwrap is a failed test (`allow-unwrap-in-tests` covers only `#[test]` bodies).
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use axum::Router;
use axum::http::Method;
use onboard_connectors::Error;
use onboard_connectors::vault::{
    HuduVault, ItGlueVault, PasswordVault, PwPushAuth, PwPushSettings, PwPushVault, VaultEntry,
};
use onboard_sandbox::faults::FaultSettings;
use onboard_sandbox::hudu::{self, Hudu, HuduApiKey, HuduCompany, HuduSeed};
use onboard_sandbox::itglue::{self, ItGlue, ItGlueApiKey, ItGlueOrganization, ItGlueSeed};
use onboard_sandbox::pwpush::{self, PwPush, PwPushSeed, PwPushUser};
use secrecy::SecretString;
use support::{RecordingSleeper, calm_after_first_wait, http, lose_first_answer, serve};

fn entry(onboarding_id: &str, password: &str) -> VaultEntry {
    VaultEntry {
        onboarding_id: onboarding_id.into(),
        organization: "Contoso".into(),
        title: "M365 - Jane Doe".into(),
        username: "jane.doe@contoso.example".into(),
        password: SecretString::from(password),
        url: Some("https://portal.office.com".into()),
        notes: Some("Created by Onboard".into()),
    }
}

// ---------------------------------------------------------------- IT Glue

fn itglue_sim(faults: FaultSettings) -> ItGlue {
    ItGlue::new(ItGlueSeed {
        api_keys: vec![ItGlueApiKey {
            key: "itg-key".into(),
            password_access: true,
        }],
        organizations: vec![
            ItGlueOrganization {
                id: 41,
                name: "Fabrikam".into(),
            },
            ItGlueOrganization {
                id: 42,
                name: "Contoso".into(),
            },
        ],
        faults,
        ..ItGlueSeed::default()
    })
}

async fn itglue_base(router: Router) -> String {
    let base = serve(Router::new().nest("/sandbox/itglue", router)).await;
    format!("{base}/sandbox/itglue")
}

fn itglue_client(base: &str, key: &str, sleeper: std::sync::Arc<RecordingSleeper>) -> ItGlueVault {
    ItGlueVault::new(http("itglue", sleeper), base, SecretString::from(key)).unwrap()
}

#[tokio::test]
async fn itglue_stores_the_password_under_the_organization_found_by_name() {
    let sim = itglue_sim(FaultSettings::default());
    let base = itglue_base(itglue::router(sim.clone())).await;
    let vault = itglue_client(&base, "itg-key", RecordingSleeper::new());

    let stored = vault.store(&entry("ob-1", "Pa55-word!")).await.unwrap();

    let passwords = sim.passwords();
    assert_eq!(passwords.len(), 1);
    let kept = &passwords[0];
    assert_eq!(kept.organization_id, 42);
    assert_eq!(kept.name, "M365 - Jane Doe");
    assert_eq!(kept.username.as_deref(), Some("jane.doe@contoso.example"));
    assert_eq!(kept.password, "Pa55-word!");
    assert_eq!(kept.url.as_deref(), Some("https://portal.office.com"));
    assert!(kept.notes.as_deref().unwrap().ends_with("[onboard:ob-1]"));
    assert_eq!(stored.destination, "itglue");
    assert_eq!(stored.reference, kept.id.to_string());
    assert!(
        stored
            .link
            .unwrap()
            .contains(&format!("/passwords/{}", kept.id))
    );
    assert!(!stored.updated_existing);
}

#[tokio::test]
async fn itglue_refuses_a_wrong_api_key_and_nothing_is_written() {
    let sim = itglue_sim(FaultSettings::default());
    let base = itglue_base(itglue::router(sim.clone())).await;
    let vault = itglue_client(&base, "wrong", RecordingSleeper::new());

    let err = vault.store(&entry("ob-1", "x")).await.unwrap_err();

    assert!(
        matches!(
            err,
            Error::Forbidden {
                service: "itglue",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("Password Access"), "{err}");
    assert!(sim.passwords().is_empty());
}

#[tokio::test]
async fn itglue_throttling_is_waited_out_with_retry_after_and_the_password_is_written_once() {
    let sim = itglue_sim(FaultSettings {
        throttle_rate: 1.0,
        retry_after_seconds: 2,
        ..FaultSettings::default()
    });
    let base = itglue_base(itglue::router(sim.clone())).await;
    let sleeper = calm_after_first_wait(sim.faults().clone());
    let vault = itglue_client(&base, "itg-key", sleeper.clone());

    vault.store(&entry("ob-1", "x")).await.unwrap();

    assert_eq!(sim.faults().injected(), 1);
    assert_eq!(sleeper.waits(), vec![Duration::from_secs(2)]);
    assert_eq!(sim.passwords().len(), 1);
}

#[tokio::test]
async fn itglue_server_errors_end_in_unavailable_after_the_retries() {
    let sim = itglue_sim(FaultSettings {
        error_rate: 1.0,
        error_status: 500,
        ..FaultSettings::default()
    });
    let base = itglue_base(itglue::router(sim.clone())).await;
    let sleeper = RecordingSleeper::new();
    let vault = itglue_client(&base, "itg-key", sleeper.clone());

    let err = vault.store(&entry("ob-1", "x")).await.unwrap_err();

    assert!(
        matches!(
            err,
            Error::Unavailable {
                status: 500,
                attempts: 4,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.is_transient());
    assert_eq!(sleeper.waits().len(), 3);
    assert!(sim.passwords().is_empty());
}

#[tokio::test]
async fn itglue_a_passing_server_error_on_a_read_is_retried_and_the_write_goes_through() {
    let sim = itglue_sim(FaultSettings {
        error_rate: 1.0,
        error_status: 500,
        ..FaultSettings::default()
    });
    let base = itglue_base(itglue::router(sim.clone())).await;
    let sleeper = calm_after_first_wait(sim.faults().clone());
    let vault = itglue_client(&base, "itg-key", sleeper.clone());

    vault.store(&entry("ob-1", "x")).await.unwrap();

    assert_eq!(sim.faults().injected(), 1);
    assert_eq!(sleeper.waits().len(), 1);
    assert_eq!(sim.passwords().len(), 1);
}

#[tokio::test]
async fn itglue_write_whose_answer_was_lost_is_found_again_by_the_retried_step() {
    let sim = itglue_sim(FaultSettings::default());
    let router = lose_first_answer(
        itglue::router(sim.clone()),
        Method::POST,
        "/relationships/passwords",
        r#"{"errors":[{"status":500,"title":"Internal Server Error"}]}"#,
    );
    let base = itglue_base(router).await;
    let vault = itglue_client(&base, "itg-key", RecordingSleeper::new());

    let first = vault.store(&entry("ob-7", "first")).await;
    let second = vault.store(&entry("ob-7", "second")).await.unwrap();

    assert!(
        matches!(first, Err(Error::Unavailable { status: 500, .. })),
        "{first:?}"
    );
    let passwords = sim.passwords();
    assert_eq!(
        passwords.len(),
        1,
        "the retried step must not write a second record"
    );
    assert_eq!(passwords[0].password, "second");
    assert!(second.updated_existing);
    assert_eq!(second.reference, passwords[0].id.to_string());
}

#[tokio::test]
async fn itglue_keeps_separate_records_for_separate_onboardings() {
    let sim = itglue_sim(FaultSettings::default());
    let base = itglue_base(itglue::router(sim.clone())).await;
    let vault = itglue_client(&base, "itg-key", RecordingSleeper::new());

    vault.store(&entry("ob-1", "a")).await.unwrap();
    vault.store(&entry("ob-2", "b")).await.unwrap();

    assert_eq!(sim.passwords().len(), 2);
}

#[tokio::test]
async fn itglue_reports_an_unknown_organization_as_not_found() {
    let sim = itglue_sim(FaultSettings::default());
    let base = itglue_base(itglue::router(sim)).await;
    let vault = itglue_client(&base, "itg-key", RecordingSleeper::new());
    let mut unknown = entry("ob-1", "x");
    unknown.organization = "Northwind".into();

    let err = vault.store(&unknown).await.unwrap_err();

    assert!(
        matches!(err, Error::NotFound { ref what, .. } if what.contains("Northwind")),
        "{err}"
    );
}

// ---------------------------------------------------------------- Hudu

fn hudu_sim(faults: FaultSettings) -> Hudu {
    Hudu::new(HuduSeed {
        api_keys: vec![HuduApiKey {
            key: "hudu-key".into(),
            password_access: true,
        }],
        companies: vec![HuduCompany {
            id: 12,
            name: "Contoso".into(),
        }],
        faults,
        ..HuduSeed::default()
    })
}

async fn hudu_base(router: Router) -> String {
    let base = serve(Router::new().nest("/sandbox/hudu", router)).await;
    format!("{base}/sandbox/hudu")
}

fn hudu_client(base: &str, key: &str, sleeper: std::sync::Arc<RecordingSleeper>) -> HuduVault {
    HuduVault::new(http("hudu", sleeper), base, SecretString::from(key)).unwrap()
}

#[tokio::test]
async fn hudu_stores_an_asset_password_for_the_company() {
    let sim = hudu_sim(FaultSettings::default());
    let base = hudu_base(hudu::router(sim.clone())).await;
    let vault = hudu_client(&base, "hudu-key", RecordingSleeper::new());

    let stored = vault.store(&entry("ob-1", "Pa55")).await.unwrap();

    let kept = sim.asset_passwords();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].company_id, 12);
    assert_eq!(kept[0].password, "Pa55");
    assert_eq!(
        kept[0].username.as_deref(),
        Some("jane.doe@contoso.example")
    );
    assert!(!kept[0].in_portal);
    assert_eq!(stored.destination, "hudu");
    assert_eq!(stored.reference, kept[0].id.to_string());
    assert!(
        stored
            .link
            .unwrap()
            .ends_with(&format!("/passwords/{}", kept[0].slug))
    );
}

#[tokio::test]
async fn hudu_refuses_a_wrong_api_key_as_unauthorized() {
    let sim = hudu_sim(FaultSettings::default());
    let base = hudu_base(hudu::router(sim.clone())).await;
    let vault = hudu_client(&base, "nope", RecordingSleeper::new());

    let err = vault.store(&entry("ob-1", "x")).await.unwrap_err();

    assert!(
        matches!(
            err,
            Error::Unauthorized {
                service: "hudu",
                ..
            }
        ),
        "{err}"
    );
    assert!(sim.asset_passwords().is_empty());
}

#[tokio::test]
async fn hudu_key_without_password_access_is_forbidden_and_says_so() {
    let sim = Hudu::new(HuduSeed {
        api_keys: vec![HuduApiKey {
            key: "no-passwords".into(),
            password_access: false,
        }],
        companies: vec![HuduCompany {
            id: 12,
            name: "Contoso".into(),
        }],
        ..HuduSeed::default()
    });
    let base = hudu_base(hudu::router(sim.clone())).await;
    let vault = hudu_client(&base, "no-passwords", RecordingSleeper::new());

    let err = vault.store(&entry("ob-1", "x")).await.unwrap_err();

    assert!(
        matches!(
            err,
            Error::Forbidden {
                service: "hudu",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("password access"), "{err}");
    assert!(sim.asset_passwords().is_empty());
}

#[tokio::test]
async fn hudu_throttling_is_retried_and_the_password_is_written_once() {
    let sim = hudu_sim(FaultSettings {
        throttle_rate: 1.0,
        retry_after_seconds: 1,
        ..FaultSettings::default()
    });
    let base = hudu_base(hudu::router(sim.clone())).await;
    let sleeper = calm_after_first_wait(sim.faults().clone());
    let vault = hudu_client(&base, "hudu-key", sleeper.clone());

    vault.store(&entry("ob-1", "x")).await.unwrap();

    assert_eq!(sim.faults().injected(), 1);
    assert_eq!(sleeper.waits(), vec![Duration::from_secs(1)]);
    assert_eq!(sim.asset_passwords().len(), 1);
}

#[tokio::test]
async fn hudu_server_errors_end_in_unavailable() {
    let sim = hudu_sim(FaultSettings {
        error_rate: 1.0,
        error_status: 500,
        ..FaultSettings::default()
    });
    let base = hudu_base(hudu::router(sim.clone())).await;
    let vault = hudu_client(&base, "hudu-key", RecordingSleeper::new());

    let err = vault.store(&entry("ob-1", "x")).await.unwrap_err();

    assert!(
        matches!(err, Error::Unavailable { status: 500, .. }),
        "{err}"
    );
    assert!(sim.asset_passwords().is_empty());
}

#[tokio::test]
async fn hudu_write_whose_answer_was_lost_is_not_written_twice() {
    let sim = hudu_sim(FaultSettings::default());
    let router = lose_first_answer(
        hudu::router(sim.clone()),
        Method::POST,
        "/asset_passwords",
        r#"{"error":"Internal Server Error"}"#,
    );
    let base = hudu_base(router).await;
    let vault = hudu_client(&base, "hudu-key", RecordingSleeper::new());

    let first = vault.store(&entry("ob-9", "first")).await;
    let second = vault.store(&entry("ob-9", "second")).await.unwrap();

    assert!(first.is_err());
    let kept = sim.asset_passwords();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].password, "second");
    assert!(second.updated_existing);
}

// ---------------------------------------------------------------- Password Pusher

fn pwpush_sim(allow_anonymous: bool, faults: FaultSettings) -> PwPush {
    PwPush::new(PwPushSeed {
        allow_anonymous,
        users: vec![PwPushUser {
            email: "tech@msp.example".into(),
            token: "pwp-token".into(),
        }],
        faults,
        ..PwPushSeed::default()
    })
}

async fn pwpush_base(router: Router) -> String {
    let base = serve(Router::new().nest("/sandbox/pwpush", router)).await;
    // A self-hosted `pwpush_url` as a user would paste it, trailing slash included.
    format!("{base}/sandbox/pwpush/")
}

fn pwpush_client(
    base: &str,
    auth: PwPushAuth,
    settings: PwPushSettings,
    sleeper: std::sync::Arc<RecordingSleeper>,
) -> PwPushVault {
    PwPushVault::new(http("pwpush", sleeper), base, auth, settings).unwrap()
}

#[tokio::test]
async fn pwpush_returns_a_one_time_link_that_yields_the_password_until_its_views_run_out() {
    let sim = pwpush_sim(true, FaultSettings::default());
    let base = pwpush_base(pwpush::router(sim.clone())).await;
    let settings = PwPushSettings {
        expire_after_days: 3,
        expire_after_views: 1,
        retrieval_step: false,
        ..PwPushSettings::default()
    };
    let vault = pwpush_client(
        &base,
        PwPushAuth::Anonymous,
        settings,
        RecordingSleeper::new(),
    );

    let stored = vault.store(&entry("ob-1", "Pa55-once")).await.unwrap();
    let link = stored.link.clone().unwrap();
    let first: serde_json::Value = reqwest::get(format!("{link}.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let second: serde_json::Value = reqwest::get(format!("{link}.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    assert_eq!(stored.destination, "pwpush");
    assert_eq!(link, format!("{}p/{}", base, stored.reference));
    assert_eq!(stored.expire_after_days, Some(3));
    assert_eq!(stored.expire_after_views, Some(1));
    assert_eq!(first["payload"], "Pa55-once");
    assert_eq!(second["expired"], true);
    assert!(second.get("payload").is_none());
    assert_eq!(sim.pushes()[0].owner, None);
}

#[tokio::test]
async fn pwpush_link_with_a_retrieval_step_survives_a_mail_scanner_following_it() {
    let sim = pwpush_sim(true, FaultSettings::default());
    let base = pwpush_base(pwpush::router(sim.clone())).await;
    let settings = PwPushSettings {
        expire_after_views: 1,
        ..PwPushSettings::default()
    };
    let vault = pwpush_client(
        &base,
        PwPushAuth::Anonymous,
        settings,
        RecordingSleeper::new(),
    );

    let stored = vault.store(&entry("ob-1", "Pa55-once")).await.unwrap();
    let link = stored.link.clone().unwrap();
    for _ in 0..3 {
        // A scanner fetches the page the mail links to.
        assert_eq!(reqwest::get(&link).await.unwrap().status(), 200);
    }
    let person: serde_json::Value = reqwest::get(format!("{base}p/{}.json", stored.reference))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    assert!(
        link.ends_with(&format!("/p/{}/r", stored.reference)),
        "{link}"
    );
    assert_eq!(person["payload"], "Pa55-once");
    assert!(sim.pushes()[0].retrieval_step);
}

#[tokio::test]
async fn pwpush_reports_the_expiry_the_instance_applied_when_asked_for_too_much() {
    let sim = pwpush_sim(true, FaultSettings::default());
    let base = pwpush_base(pwpush::router(sim)).await;
    let settings = PwPushSettings {
        expire_after_days: 120,
        expire_after_views: 500,
        ..PwPushSettings::default()
    };
    let vault = pwpush_client(
        &base,
        PwPushAuth::Anonymous,
        settings,
        RecordingSleeper::new(),
    );

    let stored = vault.store(&entry("ob-1", "x")).await.unwrap();

    assert_eq!(stored.expire_after_days, Some(7));
    assert_eq!(stored.expire_after_views, Some(5));
}

#[tokio::test]
async fn pwpush_authenticates_with_a_bearer_token_and_with_the_legacy_headers() {
    let sim = pwpush_sim(false, FaultSettings::default());
    let base = pwpush_base(pwpush::router(sim.clone())).await;
    let bearer = pwpush_client(
        &base,
        PwPushAuth::Bearer(SecretString::from("pwp-token")),
        PwPushSettings::default(),
        RecordingSleeper::new(),
    );
    let legacy = pwpush_client(
        &base,
        PwPushAuth::UserToken {
            email: "tech@msp.example".into(),
            token: SecretString::from("pwp-token"),
        },
        PwPushSettings::default(),
        RecordingSleeper::new(),
    );

    bearer.store(&entry("ob-1", "a")).await.unwrap();
    legacy.store(&entry("ob-2", "b")).await.unwrap();

    let pushes = sim.pushes();
    assert_eq!(pushes.len(), 2);
    assert!(
        pushes
            .iter()
            .all(|p| p.owner.as_deref() == Some("tech@msp.example"))
    );
}

#[tokio::test]
async fn pwpush_refuses_a_wrong_token_even_where_anonymous_pushes_are_allowed() {
    let sim = pwpush_sim(true, FaultSettings::default());
    let base = pwpush_base(pwpush::router(sim.clone())).await;
    let vault = pwpush_client(
        &base,
        PwPushAuth::Bearer(SecretString::from("stale")),
        PwPushSettings::default(),
        RecordingSleeper::new(),
    );

    let err = vault.store(&entry("ob-1", "x")).await.unwrap_err();

    assert!(
        matches!(
            err,
            Error::Unauthorized {
                service: "pwpush",
                ..
            }
        ),
        "{err}"
    );
    assert!(
        !err.to_string().contains("stale"),
        "errors must not carry the token: {err}"
    );
    assert_eq!(sim.created(), 0);
}

#[tokio::test]
async fn pwpush_without_a_token_is_refused_where_anonymous_pushes_are_off() {
    let sim = pwpush_sim(false, FaultSettings::default());
    let base = pwpush_base(pwpush::router(sim.clone())).await;
    let vault = pwpush_client(
        &base,
        PwPushAuth::Anonymous,
        PwPushSettings::default(),
        RecordingSleeper::new(),
    );

    let err = vault.store(&entry("ob-1", "x")).await.unwrap_err();

    assert!(matches!(err, Error::Unauthorized { .. }), "{err}");
    assert_eq!(sim.created(), 0);
}

#[tokio::test]
async fn pwpush_throttling_is_waited_out_and_one_push_is_made() {
    let sim = pwpush_sim(true, FaultSettings::default());
    sim.faults()
        .set(FaultSettings {
            throttle_rate: 1.0,
            retry_after_seconds: 5,
            ..FaultSettings::default()
        })
        .unwrap();
    let base = pwpush_base(pwpush::router(sim.clone())).await;
    let sleeper = calm_after_first_wait(sim.faults().clone());
    let vault = pwpush_client(
        &base,
        PwPushAuth::Anonymous,
        PwPushSettings::default(),
        sleeper.clone(),
    );

    let stored = vault.store(&entry("ob-1", "x")).await.unwrap();

    assert_eq!(sim.faults().injected(), 1);
    assert_eq!(sleeper.waits(), vec![Duration::from_secs(5)]);
    assert_eq!(sim.created(), 1);
    assert!(stored.link.is_some());
}

#[tokio::test]
async fn pwpush_server_error_on_create_is_not_resent_blindly() {
    let sim = pwpush_sim(
        true,
        FaultSettings {
            error_rate: 1.0,
            error_status: 500,
            ..FaultSettings::default()
        },
    );
    let base = pwpush_base(pwpush::router(sim.clone())).await;
    let sleeper = RecordingSleeper::new();
    let vault = pwpush_client(
        &base,
        PwPushAuth::Anonymous,
        PwPushSettings::default(),
        sleeper.clone(),
    );

    let err = vault.store(&entry("ob-1", "x")).await.unwrap_err();

    assert!(
        matches!(
            err,
            Error::Unavailable {
                status: 500,
                attempts: 1,
                ..
            }
        ),
        "{err}"
    );
    assert!(sleeper.waits().is_empty());
    assert_eq!(sim.faults().injected(), 1);
}

#[tokio::test]
async fn pwpush_push_whose_answer_was_lost_is_found_among_the_active_ones_not_pushed_again() {
    let sim = pwpush_sim(true, FaultSettings::default());
    let router = lose_first_answer(
        pwpush::router(sim.clone()),
        Method::POST,
        "/p.json",
        r#"{"error":"We're sorry, but something went wrong."}"#,
    );
    let base = pwpush_base(router).await;
    let vault = pwpush_client(
        &base,
        PwPushAuth::Bearer(SecretString::from("pwp-token")),
        PwPushSettings::default(),
        RecordingSleeper::new(),
    );

    let stored = vault.store(&entry("ob-1", "s3cret")).await.unwrap();

    assert_eq!(sim.created(), 1, "pushed once");
    let link = stored.link.unwrap();
    assert!(link.contains(&stored.reference), "{link}");
    // A second store (a retried step with a fresh password) is a new push, and
    // the first link, whose password no longer works, is expired.
    let again = vault.store(&entry("ob-1", "another")).await.unwrap();
    assert_eq!(sim.created(), 2);
    let live: Vec<String> = sim
        .pushes()
        .into_iter()
        .filter(|p| !p.deleted)
        .map(|p| p.url_token)
        .collect();
    assert_eq!(live, [again.reference]);
}

#[test]
fn pwpush_url_must_be_an_http_url() {
    let err = PwPushVault::new(
        http("pwpush", RecordingSleeper::new()),
        "pwpush.example",
        PwPushAuth::Anonymous,
        PwPushSettings::default(),
    )
    .unwrap_err();

    assert!(matches!(err, Error::Config { .. }));
    assert!(err.to_string().contains("pwpush_url"), "{err}");
}

#[test]
fn vault_clients_debug_output_hides_their_keys_and_tokens() {
    let itglue = itglue_client(
        "http://127.0.0.1:9",
        "itg-secret-key",
        RecordingSleeper::new(),
    );
    let pwpush = pwpush_client(
        "http://127.0.0.1:9",
        PwPushAuth::UserToken {
            email: "tech@msp.example".into(),
            token: SecretString::from("pwp-secret-token"),
        },
        PwPushSettings::default(),
        RecordingSleeper::new(),
    );

    let shown = format!("{itglue:?} {pwpush:?}");

    assert!(!shown.contains("itg-secret-key"), "{shown}");
    assert!(!shown.contains("pwp-secret-token"), "{shown}");
}
