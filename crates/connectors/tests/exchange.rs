//! The Exchange client against the Exchange Online simulator, over a real socket:
//! the token for outlook.office365.com, `InvokeCommand`, paging, errors, a mailbox
//! refused, throttling and lost answers.

#![allow(clippy::unwrap_used)] // Test code: a broken fixture should stop the test loudly.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use onboard_connectors::Error;
use onboard_connectors::exchange::{
    Exchange, ExchangeClient, ExchangeConfig, Forwarding, GroupMemberChange, MailboxUpdate,
};
use onboard_connectors::graph::{AppCredentials, TenantId};
use onboard_connectors::http::{RetryPolicy, Sleeper};
use onboard_sandbox::exchange::DistributionGroupSeed;
use onboard_sandbox::faults::FaultSettings;
use onboard_sandbox::{Sandbox, SandboxSeed};
use secrecy::SecretString;

#[derive(Debug, Default)]
struct NoSleep;

#[async_trait]
impl Sleeper for NoSleep {
    async fn sleep(&self, _: Duration) {}
}

const TENANT: &str = "3fa85f64-5717-4562-b3fc-2c963f66afa6";

async fn serve(seed: SandboxSeed) -> (Sandbox, String) {
    serve_on(seed, Arc::new(jiff::Timestamp::now)).await
}

/// [`serve`] on `clock`.
async fn serve_on(seed: SandboxSeed, clock: onboard_sandbox::SandboxClock) -> (Sandbox, String) {
    let sandbox = Sandbox::with_clock(&seed, clock).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = sandbox.router();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (sandbox, base)
}

fn client(base: &str, secret: &str) -> ExchangeClient {
    let mut config = ExchangeConfig::sandbox(
        base,
        AppCredentials {
            client_id: "sandbox-client".into(),
            client_secret: SecretString::from(secret.to_owned()),
        },
    )
    .unwrap();
    config.retry = RetryPolicy {
        max_attempts: 6,
        attempt_timeout: Duration::from_secs(5),
        ..RetryPolicy::default()
    };
    ExchangeClient::new(config)
        .unwrap()
        .with_sleeper(Arc::new(NoSleep))
}

fn tenant() -> TenantId {
    TenantId::new(TENANT).unwrap()
}

#[tokio::test]
async fn a_licensed_users_mailbox_is_read_converted_hidden_and_forwarded() {
    let (sandbox, base) = serve(SandboxSeed::default()).await;
    let exo = client(&base, "sandbox-secret");

    let before = exo
        .mailbox(&tenant(), "AlexW@contoso.com")
        .await
        .unwrap()
        .expect("a licensed user has a mailbox");
    exo.set_mailbox(
        &tenant(),
        "AlexW@contoso.com",
        &MailboxUpdate {
            shared: Some(true),
            hidden_from_address_lists: Some(true),
            forwarding: Some(Forwarding::External {
                to: "alex@example.org".into(),
                keep_copy: true,
            }),
        },
    )
    .await
    .unwrap();
    let after = exo
        .mailbox(&tenant(), "AlexW@contoso.com")
        .await
        .unwrap()
        .unwrap();

    assert!(!before.is_shared());
    assert!(after.is_shared());
    assert!(after.hidden_from_address_lists_enabled);
    assert_eq!(after.forwarding().as_deref(), Some("alex@example.org"));
    assert!(after.deliver_to_mailbox_and_forward);
    let calls = sandbox.exchange().calls();
    assert!(
        calls
            .iter()
            .all(|(_, anchor)| anchor.eq_ignore_ascii_case("AlexW@contoso.com")),
        "{calls:?}"
    );
}

#[tokio::test]
async fn full_access_is_granted_once_and_removed() {
    let (_sandbox, base) = serve(SandboxSeed::default()).await;
    let exo = client(&base, "sandbox-secret");
    let t = tenant();

    exo.add_full_access(&t, "AlexW@contoso.com", "AdeleV@contoso.com", false)
        .await
        .unwrap();
    exo.add_full_access(&t, "AlexW@contoso.com", "AdeleV@contoso.com", false)
        .await
        .unwrap();
    let granted = exo
        .mailbox_permissions(&t, "AlexW@contoso.com")
        .await
        .unwrap();
    exo.remove_full_access(&t, "AlexW@contoso.com", "AdeleV@contoso.com")
        .await
        .unwrap();
    let removed = exo
        .mailbox_permissions(&t, "AlexW@contoso.com")
        .await
        .unwrap();

    let count = |list: &[onboard_connectors::exchange::MailboxPermission]| {
        list.iter()
            .filter(|p| p.grants_full_access_to("AdeleV@contoso.com"))
            .count()
    };
    assert_eq!(count(&granted), 1);
    assert_eq!(count(&removed), 0);
}

#[tokio::test]
async fn an_unknown_mailbox_is_none_and_a_write_to_it_is_not_found() {
    let (_sandbox, base) = serve(SandboxSeed::default()).await;
    let exo = client(&base, "sandbox-secret");

    let read = exo.mailbox(&tenant(), "nobody@contoso.com").await.unwrap();
    let write = exo
        .set_mailbox(
            &tenant(),
            "nobody@contoso.com",
            &MailboxUpdate {
                hidden_from_address_lists: Some(true),
                ..MailboxUpdate::default()
            },
        )
        .await
        .unwrap_err();

    assert!(read.is_none());
    assert!(matches!(write, Error::NotFound { .. }), "{write:?}");
}

#[tokio::test]
async fn a_wrong_secret_is_refused_at_sign_in_and_names_exchange() {
    let (_sandbox, base) = serve(SandboxSeed::default()).await;
    let exo = client(&base, "wrong");

    let err = exo
        .mailbox(&tenant(), "AlexW@contoso.com")
        .await
        .unwrap_err();

    assert!(
        matches!(&err, Error::Unauthorized { service: "exchange", message } if message.contains("AADSTS7000215")),
        "{err:?}"
    );
    assert!(!err.to_string().contains("wrong"));
}

#[tokio::test]
async fn an_app_without_the_exchange_role_is_forbidden() {
    let mut seed = SandboxSeed::default();
    seed.graph.tenants[0].apps[0]
        .directory_roles
        .retain(|r| r != "Exchange Administrator");
    let (_sandbox, base) = serve(seed).await;
    let exo = client(&base, "sandbox-secret");

    let err = exo.probe(&tenant()).await.unwrap_err();

    assert!(
        matches!(&err, Error::Forbidden { message, .. } if message.contains("not allowed to call Get-Mailbox")),
        "{err:?}"
    );
}

#[tokio::test]
async fn distribution_group_members_are_added_and_removed_once_and_groups_found_by_get_recipient() {
    let mut seed = SandboxSeed::default();
    seed.exchange.distribution_groups = vec![DistributionGroupSeed {
        tenant: TENANT.into(),
        display_name: "Sales Team".into(),
        primary_smtp_address: "sales@contoso.com".into(),
        security: false,
        members: vec![],
    }];
    let (sandbox, base) = serve(seed).await;
    let exo = client(&base, "sandbox-secret");
    let t = tenant();

    let group = exo.recipient(&t, "Sales Team").await.unwrap().unwrap();
    let first = exo
        .add_distribution_group_member(&t, "sales@contoso.com", "AlexW@contoso.com")
        .await
        .unwrap();
    let second = exo
        .add_distribution_group_member(&t, "sales@contoso.com", "AlexW@contoso.com")
        .await
        .unwrap();

    assert!(group.is_distribution_group());
    assert_eq!(first, GroupMemberChange::Added);
    assert_eq!(second, GroupMemberChange::AlreadyMember);
    let state = sandbox.state("http://x");
    let sales = state["exchange"]["distribution_groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["DisplayName"] == "Sales Team")
        .unwrap();
    assert_eq!(sales["Members"], serde_json::json!(["AlexW@contoso.com"]));

    let removed = exo
        .remove_distribution_group_member(&t, "sales@contoso.com", "AlexW@contoso.com")
        .await
        .unwrap();
    let again = exo
        .remove_distribution_group_member(&t, "Sales Team", "AlexW@contoso.com")
        .await
        .unwrap();
    assert_eq!(removed, GroupMemberChange::Removed);
    assert_eq!(again, GroupMemberChange::NotAMember);
    let state = sandbox.state("http://x");
    let sales = state["exchange"]["distribution_groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["DisplayName"] == "Sales Team")
        .unwrap();
    assert_eq!(sales["Members"], serde_json::json!([]));
}

#[tokio::test]
async fn throttling_and_lost_answers_are_ridden_out() {
    let mut seed = SandboxSeed::default();
    seed.exchange.faults = FaultSettings {
        throttle_rate: 0.3,
        lost_answer_rate: 0.3,
        seed: 7,
        ..FaultSettings::default()
    };
    let (sandbox, base) = serve(seed).await;
    let exo = client(&base, "sandbox-secret");
    let t = tenant();

    for _ in 0..5 {
        exo.add_full_access(&t, "AlexW@contoso.com", "AdeleV@contoso.com", true)
            .await
            .unwrap();
        exo.set_mailbox(
            &t,
            "AlexW@contoso.com",
            &MailboxUpdate {
                hidden_from_address_lists: Some(true),
                ..MailboxUpdate::default()
            },
        )
        .await
        .unwrap();
    }

    let state = sandbox.state("http://x");
    let alex = state["exchange"]["mailboxes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["UserPrincipalName"] == "AlexW@contoso.com")
        .unwrap()
        .clone();
    assert_eq!(
        alex["FullAccess"],
        serde_json::json!(["AdeleV@contoso.com"])
    );
    assert_eq!(alex["HiddenFromAddressListsEnabled"], true);
    assert!(sandbox.exchange().faults().lost_answers() > 0);
}

#[tokio::test]
async fn listings_follow_next_links() {
    let mut seed = SandboxSeed::default();
    seed.exchange.page_size = 1;
    seed.exchange.distribution_groups = vec![DistributionGroupSeed {
        tenant: TENANT.into(),
        display_name: "All".into(),
        primary_smtp_address: "all@contoso.com".into(),
        security: true,
        members: vec!["AlexW@contoso.com".into(), "AdeleV@contoso.com".into()],
    }];
    let (_sandbox, base) = serve(seed).await;
    let exo = client(&base, "sandbox-secret");

    exo.add_full_access(&tenant(), "AlexW@contoso.com", "AdeleV@contoso.com", false)
        .await
        .unwrap();
    let again = exo
        .add_distribution_group_member(&tenant(), "All", "AdeleV@contoso.com")
        .await
        .unwrap();
    let permissions = exo
        .mailbox_permissions(&tenant(), "AlexW@contoso.com")
        .await
        .unwrap();

    assert_eq!(again, GroupMemberChange::AlreadyMember);
    // SELF and Adele, on pages of one.
    assert_eq!(permissions.len(), 2);
    assert!(
        permissions
            .iter()
            .any(|p| p.grants_full_access_to("AdeleV@contoso.com"))
    );
}

fn graph(base: &str) -> onboard_connectors::graph::GraphClient {
    let config = onboard_connectors::graph::GraphConfig::sandbox(
        base,
        AppCredentials {
            client_id: "sandbox-client".into(),
            client_secret: SecretString::from("sandbox-secret".to_owned()),
        },
    )
    .unwrap();
    onboard_connectors::graph::GraphClient::new(config).unwrap()
}

/// A user with no license in the demo tenant, a 60 GB mailbox once licensed.
fn seed_with_newcomer(delay: u32) -> SandboxSeed {
    let mut seed = SandboxSeed::default();
    seed.graph.tenants[0]
        .users
        .push(onboard_sandbox::graph::UserSeed {
            user_principal_name: "NewcomerN@contoso.com".into(),
            usage_location: Some("US".into()),
            ..onboard_sandbox::graph::UserSeed::default()
        });
    seed.exchange.mailbox_delay_calls = delay;
    seed.exchange
        .mailbox_sizes_gb
        .insert("NewcomerN@contoso.com".into(), 60.0);
    seed
}

const PREMIUM: &str = "f245ecc8-75af-4f8e-b61f-27d8114de5f3";

/// Gives the newcomer of [`seed_with_newcomer`] a license with Exchange; their user.
async fn license_newcomer(
    dir: &onboard_connectors::graph::GraphClient,
    t: &TenantId,
) -> onboard_connectors::graph::User {
    use onboard_connectors::graph::{Directory, LicenseToAdd};
    let user = dir.user(t, "NewcomerN@contoso.com").await.unwrap().unwrap();
    let license = LicenseToAdd {
        sku_id: PREMIUM.into(),
        disabled_plans: vec![],
    };
    dir.assign_licenses(t, &user.id, &[license], &[])
        .await
        .unwrap();
    user
}

#[tokio::test]
async fn a_newly_licensed_users_mailbox_appears_after_the_delay() {
    use onboard_connectors::graph::{Directory, LicenseToAdd};
    let (_sandbox, base) = serve(seed_with_newcomer(2)).await;
    let (exo, dir, t) = (client(&base, "sandbox-secret"), graph(&base), tenant());
    let user = dir
        .user(&t, "NewcomerN@contoso.com")
        .await
        .unwrap()
        .unwrap();
    let unlicensed = exo.mailbox(&t, "NewcomerN@contoso.com").await.unwrap();

    dir.assign_licenses(
        &t,
        &user.id,
        &[LicenseToAdd {
            sku_id: PREMIUM.into(),
            disabled_plans: vec![],
        }],
        &[],
    )
    .await
    .unwrap();
    let first = exo.mailbox(&t, "NewcomerN@contoso.com").await.unwrap();
    let second = exo.mailbox(&t, "NewcomerN@contoso.com").await.unwrap();
    let third = exo.mailbox(&t, "NewcomerN@contoso.com").await.unwrap();

    assert!(unlicensed.is_none());
    assert!(first.is_none() && second.is_none());
    assert!(third.is_some());
}

#[tokio::test]
async fn an_unlicensed_mailbox_over_50_gb_is_not_converted_and_awaits_deletion() {
    use onboard_connectors::graph::Directory;
    let (sandbox, base) = serve(seed_with_newcomer(0)).await;
    let (exo, dir, t) = (client(&base, "sandbox-secret"), graph(&base), tenant());
    let user = license_newcomer(&dir, &t).await;
    exo.mailbox(&t, "NewcomerN@contoso.com").await.unwrap();
    dir.assign_licenses(&t, &user.id, &[], &[PREMIUM.into()])
        .await
        .unwrap();
    let shared = MailboxUpdate {
        shared: Some(true),
        ..MailboxUpdate::default()
    };

    let refused = exo
        .set_mailbox(&t, "NewcomerN@contoso.com", &shared)
        .await
        .unwrap_err();

    assert!(
        matches!(&refused, Error::Rejected { message, .. } if message.contains("50 GB")),
        "{refused:?}"
    );
    let state = sandbox.state("http://x");
    let newcomer = state["exchange"]["mailboxes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["UserPrincipalName"] == "NewcomerN@contoso.com")
        .unwrap()
        .clone();
    assert_eq!(newcomer["RecipientTypeDetails"], "UserMailbox");
    assert_eq!(newcomer["WillBeDeleted"], true);
}

#[tokio::test]
async fn a_new_mailbox_is_no_recipient_until_minutes_after_its_license_on_the_sandbox_clock() {
    use std::sync::atomic::{AtomicI64, Ordering};
    let start = jiff::Timestamp::from_second(1_800_000_000).unwrap();
    let offset = Arc::new(AtomicI64::new(0));
    let clock = {
        let offset = offset.clone();
        Arc::new(move || start + jiff::SignedDuration::from_secs(offset.load(Ordering::SeqCst)))
    };
    let mut seed = seed_with_newcomer(0);
    seed.exchange.mailbox_delay_minutes = 30;
    let (_sandbox, base) = serve_on(seed, clock).await;
    let (exo, dir, t) = (client(&base, "sandbox-secret"), graph(&base), tenant());
    license_newcomer(&dir, &t).await;

    offset.store(29 * 60, Ordering::SeqCst);
    let early = exo.mailbox(&t, "NewcomerN@contoso.com").await.unwrap();
    let refused = exo
        .add_send_as(&t, "info@contoso.com", "NewcomerN@contoso.com")
        .await
        .unwrap_err();
    offset.store(30 * 60, Ordering::SeqCst);
    let ready = exo.mailbox(&t, "NewcomerN@contoso.com").await.unwrap();
    exo.add_send_as(&t, "info@contoso.com", "NewcomerN@contoso.com")
        .await
        .unwrap();

    assert!(early.is_none(), "29 minutes after the license");
    assert!(matches!(refused, Error::NotFound { .. }), "{refused:?}");
    assert!(ready.is_some(), "30 minutes after the license");
}
