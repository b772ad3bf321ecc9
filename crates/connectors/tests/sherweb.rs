//! Contract tests: the Sherweb distributor and the shared purchase and
//! reduction rules against the Sherweb simulator over a socket.

// Test code: a failed unwrap is a failed test (`allow-unwrap-in-tests` covers only `#[test]` bodies).
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::{Arc, Mutex};

use axum::Router;
use onboard_connectors::Error;
use onboard_connectors::distributor::{
    Distributor, MemoryLedger, PurchaseOutcome, PurchaseRequest, Reduction, ReductionRequest,
    SherwebDistributor, SherwebSettings, purchase_seats, reduce_seats,
};
use onboard_sandbox::faults::FaultSettings;
use onboard_sandbox::pax8::RecordingSeatHook;
use onboard_sandbox::sherweb::{
    self, Sherweb, SherwebCatalogItem, SherwebClient, SherwebCustomer, SherwebSeed,
};
use secrecy::SecretString;
use support::{RecordingSleeper, http, serve};

const CONTOSO: &str = "0c9a8e52-7f1b-4d3e-9a6c-5b2e1f4d8a70";

fn seed() -> SherwebSeed {
    SherwebSeed {
        clients: vec![SherwebClient {
            client_id: "sw-client".into(),
            client_secret: "sw-secret".into(),
        }],
        subscription_keys: vec!["sw-key".into()],
        customers: vec![
            SherwebCustomer {
                id: "9d0f8a1e-0000-4000-8000-000000000001".into(),
                display_name: "Fabrikam".into(),
                microsoft_tenant: None,
            },
            SherwebCustomer {
                id: CONTOSO.into(),
                display_name: "Contoso".into(),
                microsoft_tenant: Some("contoso.onmicrosoft.com".into()),
            },
        ],
        catalog: vec![SherwebCatalogItem {
            sku: "MS-NCE-M365BP-ANNUAL".into(),
            name: "Microsoft 365 Business Premium".into(),
            commitment_term: Some("Annual".into()),
            sku_part_number: Some("SPB".into()),
        }],
        ..SherwebSeed::default()
    }
}

struct Fixture {
    sim: Sherweb,
    hook: Arc<RecordingSeatHook>,
    now: Arc<Mutex<jiff::Timestamp>>,
    base: String,
}

impl Fixture {
    fn advance_hours(&self, hours: i64) {
        let mut now = self.now.lock().unwrap();
        *now = now
            .checked_add(jiff::SignedDuration::from_hours(hours))
            .unwrap();
    }
}

async fn fixture() -> Fixture {
    let hook = Arc::new(RecordingSeatHook::default());
    let now = Arc::new(Mutex::new(jiff::Timestamp::now()));
    let clock = now.clone();
    let sim = Sherweb::new(seed(), hook.clone()).with_clock(move || *clock.lock().unwrap());
    let base = serve(Router::new().nest("/sandbox/sherweb", sherweb::router(sim.clone()))).await;
    Fixture {
        sim,
        hook,
        now,
        base: format!("{base}/sandbox/sherweb"),
    }
}

fn settings(base: &str, key: &str) -> SherwebSettings {
    SherwebSettings {
        token_url: format!("{base}/auth/oidc/connect/token"),
        api_base: format!("{base}/service-provider/v1"),
        ..SherwebSettings::new(
            "sw-client",
            SecretString::from("sw-secret"),
            SecretString::from(key.to_owned()),
        )
    }
}

fn client(base: &str) -> SherwebDistributor {
    SherwebDistributor::new(
        http("sherweb", RecordingSleeper::new()),
        settings(base, "sw-key"),
    )
    .with_sku("SPB", "MS-NCE-M365BP-ANNUAL")
}

fn request(onboarding_id: &str) -> PurchaseRequest {
    PurchaseRequest {
        onboarding_id: onboarding_id.into(),
        organization: "Contoso".into(),
        sku: "SPB".into(),
        seats: 1,
    }
}

fn reduction(offboarding_id: &str) -> ReductionRequest {
    ReductionRequest {
        offboarding_id: offboarding_id.into(),
        organization: "Contoso".into(),
        sku: "SPB".into(),
        seats: 1,
    }
}

#[tokio::test]
async fn a_missing_product_is_ordered_once_and_reaches_the_tenant_after_its_tracking_completes() {
    let f = fixture().await;
    let sw = client(&f.base);
    let ledger = MemoryLedger::default();

    let bought = purchase_seats(&sw, &ledger, &request("ob-1"))
        .await
        .unwrap();
    let again = purchase_seats(&sw, &ledger, &request("ob-1"))
        .await
        .unwrap();

    assert!(
        matches!(bought.outcome, PurchaseOutcome::Ordered { .. }),
        "{bought:?}"
    );
    assert_eq!(again.outcome, PurchaseOutcome::AlreadyDone);
    let requests = f.sim.requests();
    assert_eq!(requests.len(), 1, "one order: {requests:?}");
    assert_eq!(requests[0].kind, "Order");
    assert!(f.hook.changes().is_empty(), "not provisioned yet");
    f.advance_hours(1);
    assert_eq!(f.sim.provision_due(), 1);
    let changes = f.hook.changes();
    assert_eq!(changes[0].sku_part_number.as_deref(), Some("SPB"));
    assert_eq!(changes[0].delta, 1);
    assert_eq!(f.sim.state_json()["requests"][0]["status"], "Success");
}

#[tokio::test]
async fn an_order_whose_answer_is_lost_every_time_is_placed_once() {
    let f = fixture().await;
    let sw = client(&f.base);
    // The token is a POST too: fetch it before every write loses its answer.
    sw.find_customer("Contoso").await.unwrap();
    f.sim
        .faults()
        .set(FaultSettings {
            lost_answer_rate: 1.0,
            seed: 3,
            ..FaultSettings::default()
        })
        .unwrap();
    let ledger = MemoryLedger::default();

    let first = purchase_seats(&sw, &ledger, &request("ob-lost")).await;
    f.sim.faults().set(FaultSettings::default()).unwrap();
    let second = purchase_seats(&sw, &ledger, &request("ob-lost"))
        .await
        .unwrap();

    assert!(
        first.is_ok(),
        "the lost answer was resolved by a read: {first:?}"
    );
    assert_eq!(second.outcome, PurchaseOutcome::AlreadyDone);
    assert_eq!(
        f.sim.requests().len(),
        1,
        "exactly one order reached Sherweb"
    );
    assert_eq!(f.sim.subscriptions().len(), 1);
    assert!(f.sim.faults().lost_answers() >= 1);
}

#[tokio::test]
async fn a_second_onboarding_amends_the_subscription_to_an_absolute_total() {
    let f = fixture().await;
    let sw = client(&f.base);
    let ledger = MemoryLedger::default();
    purchase_seats(&sw, &ledger, &request("ob-1"))
        .await
        .unwrap();

    let raised = purchase_seats(&sw, &ledger, &request("ob-2"))
        .await
        .unwrap();

    assert_eq!(raised.outcome, PurchaseOutcome::Raised { from: 1, to: 2 });
    assert_eq!(f.sim.subscriptions()[0].quantity, 2);
    assert_eq!(f.sim.requests()[1].kind, "Amendment");
    assert_eq!(
        f.sim.requests()[1].lines[0].2,
        2,
        "newQuantity is the total"
    );
}

#[tokio::test]
async fn a_decrease_within_the_window_is_applied_and_after_it_the_seat_is_kept() {
    let f = fixture().await;
    let sw = client(&f.base);
    let ledger = MemoryLedger::default();
    purchase_seats(&sw, &ledger, &request("ob-1"))
        .await
        .unwrap();
    purchase_seats(&sw, &ledger, &request("ob-2"))
        .await
        .unwrap();
    f.advance_hours(24);
    let now = *f.now.lock().unwrap();

    let lowered = reduce_seats(&sw, &ledger, &reduction("off-1"), now)
        .await
        .unwrap();
    f.advance_hours(24 * 8);
    let later = *f.now.lock().unwrap();
    let kept = reduce_seats(&sw, &ledger, &reduction("off-2"), later)
        .await
        .unwrap();

    assert_eq!(lowered, Reduction::Lowered { from: 2, to: 1 });
    match kept {
        Reduction::Kept {
            renews_at,
            scheduled,
            reason,
        } => {
            assert!(!scheduled, "Sherweb documents no scheduled decrease");
            assert!(renews_at.is_some());
            assert!(reason.contains("168 h"), "{reason}");
        }
        other => panic!("expected the seat kept, got {other:?}"),
    }
    assert_eq!(f.sim.subscriptions()[0].quantity, 1);
}

#[tokio::test]
async fn sherweb_refuses_a_late_decrease_with_its_commitment_problem() {
    let f = fixture().await;
    let sw = client(&f.base);
    let ledger = MemoryLedger::default();
    purchase_seats(&sw, &ledger, &request("ob-1"))
        .await
        .unwrap();
    f.advance_hours(24 * 8);
    let customer = sw.find_customer("Contoso").await.unwrap();
    let product = sw.find_product("SPB").await.unwrap();
    let subscription = sw
        .subscriptions(&customer, &product)
        .await
        .unwrap()
        .remove(0);

    let err = sw.set_quantity(&subscription, 0).await.unwrap_err();

    match err {
        Error::Rejected { code, message, .. } => {
            assert_eq!(code, "CommitmentTermViolations");
            assert!(message.contains("commitment"), "{message}");
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[tokio::test]
async fn a_wrong_subscription_key_is_refused_in_the_gateways_words() {
    let f = fixture().await;
    let sw = SherwebDistributor::new(
        http("sherweb", RecordingSleeper::new()),
        settings(&f.base, "not-the-key"),
    );

    let err = sw.find_customer("Contoso").await.unwrap_err();

    match err {
        Error::Unauthorized { message, .. } => {
            assert!(message.contains("invalid subscription key"), "{message}");
        }
        other => panic!("expected unauthorized, got {other:?}"),
    }
}

#[tokio::test]
async fn a_sku_sherweb_does_not_sell_is_not_found() {
    let f = fixture().await;
    let sw = client(&f.base);
    let ledger = MemoryLedger::default();
    let mut step = request("ob-x");
    step.sku = "VISIOCLIENT".into();

    let err = purchase_seats(&sw, &ledger, &step).await.unwrap_err();

    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    assert!(f.sim.requests().is_empty());
}

#[test]
fn the_clients_debug_output_hides_its_secrets() {
    let text = format!("{:?}", client("http://127.0.0.1:1"));
    assert!(!text.contains("sw-secret"), "{text}");
    assert!(!text.contains("sw-key"), "{text}");
}
