//! Contract tests: the Pax8 distributor and the purchase rule against the Pax8 simulator over a socket.

// Test code: a failed unwrap is a failed test (`allow-unwrap-in-tests` covers only `#[test]` bodies).
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::Method;
use onboard_connectors::Error;
use onboard_connectors::distributor::{
    Distributor, MemoryLedger, Pax8Distributor, Pax8Settings, PurchaseLedger, PurchaseOutcome,
    PurchaseRecord, PurchaseRequest, Reduction, ReductionRequest, SeatPolling, purchase_seats,
    reduce_seats,
};
use onboard_sandbox::faults::FaultSettings;
use onboard_sandbox::pax8::{
    self, Pax8, Pax8Company, Pax8Credentials, Pax8Product, Pax8Seed, Pax8Subscription,
    RecordingSeatHook,
};
use secrecy::SecretString;
use support::{RecordingSleeper, calm_after_first_wait, http, lose_first_answer, serve};

const CONTOSO: &str = "11111111-1111-1111-1111-111111111111";
const BUSINESS_PREMIUM: &str = "22222222-2222-2222-2222-222222222222";
const EXCHANGE: &str = "33333333-3333-3333-3333-333333333333";
const SUBSCRIPTION: &str = "44444444-4444-4444-4444-444444444444";

/// 205 companies, Contoso last, so finding it needs the second page (`page=1`).
fn seed(faults: FaultSettings) -> Pax8Seed {
    let mut companies: Vec<Pax8Company> = (0..204)
        .map(|i| Pax8Company {
            id: String::new(),
            name: format!("Customer {i:03}"),
            external_id: None,
            website: None,
            status: "Active".into(),
            microsoft_tenant: None,
        })
        .collect();
    companies.push(Pax8Company {
        id: CONTOSO.into(),
        name: "Contoso".into(),
        external_id: Some("contoso".into()),
        website: None,
        status: "Active".into(),
        microsoft_tenant: Some("contoso.onmicrosoft.com".into()),
    });
    Pax8Seed {
        clients: vec![Pax8Credentials {
            client_id: "pax8-client".into(),
            client_secret: "pax8-secret".into(),
        }],
        companies,
        products: vec![
            Pax8Product {
                id: BUSINESS_PREMIUM.into(),
                name: "Microsoft 365 Business Premium".into(),
                vendor_name: "Microsoft".into(),
                sku: "MST-CSP-M365-BP".into(),
                vendor_sku: Some("O365_BUSINESS_PREMIUM".into()),
                alt_vendor_sku: None,
                requires_commitment: false,
                sku_part_number: Some("O365_BUSINESS_PREMIUM".into()),
            },
            Pax8Product {
                id: EXCHANGE.into(),
                name: "Exchange Online (Plan 1)".into(),
                vendor_name: "Microsoft".into(),
                sku: "MST-CSP-EXO-P1".into(),
                vendor_sku: Some("EXCHANGESTANDARD".into()),
                alt_vendor_sku: None,
                requires_commitment: false,
                sku_part_number: Some("EXCHANGESTANDARD".into()),
            },
        ],
        subscriptions: vec![Pax8Subscription {
            id: SUBSCRIPTION.into(),
            company_id: CONTOSO.into(),
            product_id: BUSINESS_PREMIUM.into(),
            quantity: 10,
            status: "Active".into(),
            billing_term: "Monthly".into(),
            commitment_term: None,
            start_date: None,
        }],
        provisioning_delay_seconds: 300,
        faults,
        ..Pax8Seed::default()
    }
}

struct Fixture {
    sim: Pax8,
    hook: Arc<RecordingSeatHook>,
    base: String,
}

async fn fixture_with(faults: FaultSettings, wrap: impl FnOnce(Router) -> Router) -> Fixture {
    let hook = Arc::new(RecordingSeatHook::default());
    let sim = Pax8::new(seed(faults), hook.clone());
    let base = serve(Router::new().nest("/sandbox/pax8", wrap(pax8::router(sim.clone())))).await;
    Fixture {
        sim,
        hook,
        base: format!("{base}/sandbox/pax8"),
    }
}

async fn fixture() -> Fixture {
    fixture_with(FaultSettings::default(), |r| r).await
}

fn settings(base: &str, secret: &str) -> Pax8Settings {
    Pax8Settings {
        token_url: format!("{base}/oauth/token"),
        api_base: format!("{base}/v1"),
        ..Pax8Settings::new("pax8-client", SecretString::from(secret))
    }
}

fn client(base: &str, sleeper: Arc<RecordingSleeper>) -> Pax8Distributor {
    Pax8Distributor::new(http("pax8", sleeper), settings(base, "pax8-secret"))
}

fn request(onboarding_id: &str, sku: &str) -> PurchaseRequest {
    PurchaseRequest {
        onboarding_id: onboarding_id.into(),
        organization: "Contoso".into(),
        sku: sku.into(),
        seats: 1,
    }
}

/// Free seats in the "tenant": what the seat hook delivered for `sku`.
fn tenant_seats(
    hook: Arc<RecordingSeatHook>,
) -> impl Fn(String) -> std::future::Ready<Result<u32, Error>> {
    move |sku: String| {
        let added: i64 = hook
            .changes()
            .iter()
            .filter(|c| c.sku_part_number.as_deref() == Some(sku.as_str()))
            .map(|c| c.delta)
            .sum();
        std::future::ready(Ok(u32::try_from(added).unwrap_or(0)))
    }
}

#[tokio::test]
async fn the_customer_is_found_by_name_on_a_later_page_and_the_product_by_sku() {
    let f = fixture().await;
    let pax8 = client(&f.base, RecordingSleeper::new());

    let customer = pax8.find_customer("contoso").await.unwrap();
    let product = pax8.find_product("O365_BUSINESS_PREMIUM").await.unwrap();
    let subscriptions = pax8.subscriptions(&customer, &product).await.unwrap();

    assert_eq!(customer.id, CONTOSO);
    assert_eq!(product.id, BUSINESS_PREMIUM);
    assert_eq!(subscriptions.len(), 1);
    assert_eq!(subscriptions[0].quantity, 10);
    assert_eq!(f.sim.tokens_issued(), 1, "one token serves every call");
}

#[tokio::test]
async fn a_purchase_raises_the_subscription_and_the_seats_reach_the_tenant_after_the_delay() {
    let f = fixture().await;
    let sim = f.sim.clone();
    let sleeper = RecordingSleeper::advancing(move |d| {
        sim.advance(d);
    });
    let pax8 = client(&f.base, sleeper.clone());
    let ledger = MemoryLedger::default();

    let purchase = purchase_seats(&pax8, &ledger, &request("ob-1", "O365_BUSINESS_PREMIUM"))
        .await
        .unwrap();
    let before_wait = f.hook.changes().len();
    let polling = SeatPolling {
        interval: Duration::from_secs(60),
        timeout: Duration::from_secs(900),
    };
    let free = pax8
        .wait_for_seats(
            &tenant_seats(f.hook.clone()),
            "O365_BUSINESS_PREMIUM",
            1,
            polling,
            sleeper.as_ref(),
        )
        .await
        .unwrap();

    assert_eq!(
        purchase.outcome,
        PurchaseOutcome::Raised { from: 10, to: 11 }
    );
    assert_eq!(
        before_wait, 0,
        "seats must not appear before the provisioning delay"
    );
    assert_eq!(free, 1);
    assert_eq!(sleeper.waits().len(), 5, "300 s delay polled every 60 s");
    let change = &f.hook.changes()[0];
    assert_eq!(
        change.microsoft_tenant.as_deref(),
        Some("contoso.onmicrosoft.com")
    );
    assert_eq!(change.delta, 1);
    assert_eq!(change.quantity, 11);
    assert!(
        f.sim.orders().is_empty(),
        "an existing subscription is raised, not re-ordered"
    );
}

#[tokio::test]
async fn a_repeated_purchase_step_buys_the_seat_once() {
    let f = fixture().await;
    let pax8 = client(&f.base, RecordingSleeper::new());
    let ledger = MemoryLedger::default();
    let step = request("ob-2", "O365_BUSINESS_PREMIUM");

    let first = purchase_seats(&pax8, &ledger, &step).await.unwrap();
    let second = purchase_seats(&pax8, &ledger, &step).await.unwrap();

    assert_eq!(first.outcome, PurchaseOutcome::Raised { from: 10, to: 11 });
    assert_eq!(second.outcome, PurchaseOutcome::AlreadyDone);
    assert_eq!(f.sim.subscriptions()[0].quantity, 11);
}

#[tokio::test]
async fn two_onboardings_each_buy_their_own_seat() {
    let f = fixture().await;
    let pax8 = client(&f.base, RecordingSleeper::new());
    let ledger = MemoryLedger::default();

    purchase_seats(&pax8, &ledger, &request("ob-a", "O365_BUSINESS_PREMIUM"))
        .await
        .unwrap();
    purchase_seats(&pax8, &ledger, &request("ob-b", "O365_BUSINESS_PREMIUM"))
        .await
        .unwrap();

    assert_eq!(f.sim.subscriptions()[0].quantity, 12);
}

#[tokio::test]
async fn a_new_subscription_is_ordered_with_a_line_item_number_and_activates_after_the_delay() {
    let f = fixture().await;
    let pax8 = client(&f.base, RecordingSleeper::new());
    let ledger = MemoryLedger::default();

    let purchase = purchase_seats(&pax8, &ledger, &request("ob-3", "EXCHANGESTANDARD"))
        .await
        .unwrap();
    let pending = f
        .sim
        .subscriptions()
        .into_iter()
        .find(|s| s.product_id == EXCHANGE)
        .unwrap();
    let provisioned = f.sim.advance(Duration::from_secs(300));
    let active = f
        .sim
        .subscriptions()
        .into_iter()
        .find(|s| s.product_id == EXCHANGE)
        .unwrap();

    assert!(matches!(purchase.outcome, PurchaseOutcome::Ordered { .. }));
    let orders = f.sim.orders();
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].company_id, CONTOSO);
    let (product, line_number, quantity, subscription) = &orders[0].lines[0];
    assert_eq!(
        (product.as_str(), *line_number, *quantity),
        (EXCHANGE, 1, 1)
    );
    assert_eq!(
        purchase.subscription_id.as_deref(),
        Some(subscription.as_str())
    );
    assert_eq!(pending.status, "PendingAutomated");
    assert_eq!(provisioned, 1);
    assert_eq!(active.status, "Active");
    assert_eq!(
        f.hook.changes()[0].sku_part_number.as_deref(),
        Some("EXCHANGESTANDARD")
    );
}

#[tokio::test]
async fn an_order_whose_answer_was_lost_is_not_placed_again_by_the_retried_step() {
    let f = fixture_with(FaultSettings::default(), |router| {
        lose_first_answer(
            router,
            Method::POST,
            "/v1/orders",
            r#"{"type":"INTERNAL_SERVER_ERROR","message":"An unexpected error occurred","instance":"/v1/orders","status":500,"details":[]}"#,
        )
    })
    .await;
    let pax8 = client(&f.base, RecordingSleeper::new());
    let ledger = MemoryLedger::default();
    let step = request("ob-4", "EXCHANGESTANDARD");

    let first = purchase_seats(&pax8, &ledger, &step).await;
    let second = purchase_seats(&pax8, &ledger, &step).await.unwrap();

    assert!(
        matches!(
            first,
            Err(Error::Unavailable {
                status: 500,
                attempts: 1,
                ..
            })
        ),
        "{first:?}"
    );
    assert_eq!(second.outcome, PurchaseOutcome::AlreadyDone);
    assert_eq!(f.sim.orders().len(), 1, "exactly one order reached Pax8");
}

#[tokio::test]
async fn a_raise_whose_answer_was_lost_is_not_applied_twice() {
    let f = fixture_with(FaultSettings::default(), |router| {
        lose_first_answer(
            router,
            Method::PUT,
            SUBSCRIPTION,
            r#"{"type":"INTERNAL_SERVER_ERROR","message":"An unexpected error occurred","instance":"/v1/subscriptions","status":500,"details":[]}"#,
        )
    })
    .await;
    let pax8 = client(&f.base, RecordingSleeper::new());
    let ledger = MemoryLedger::default();

    let purchase = purchase_seats(&pax8, &ledger, &request("ob-5", "O365_BUSINESS_PREMIUM"))
        .await
        .unwrap();

    // The PUT is absolute: the client re-sent quantity 11 after the lost answer.
    assert_eq!(purchase.quantity, 11);
    assert_eq!(f.sim.subscriptions()[0].quantity, 11);
    assert_eq!(
        f.sim.pending_changes(),
        1,
        "one seat on its way to the tenant, not two"
    );
}

#[tokio::test]
async fn wrong_client_credentials_are_refused_with_pax8s_words() {
    let f = fixture().await;
    let pax8 = Pax8Distributor::new(
        http("pax8", RecordingSleeper::new()),
        settings(&f.base, "wrong-secret"),
    );

    let err = pax8.find_customer("Contoso").await.unwrap_err();

    assert!(
        matches!(
            err,
            Error::Unauthorized {
                service: "pax8",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("access_denied"), "{err}");
    assert!(!err.to_string().contains("wrong-secret"));
    assert_eq!(f.sim.tokens_issued(), 0);
}

#[tokio::test]
async fn the_legacy_audience_is_refused_where_only_the_current_one_is_accepted() {
    let f = fixture().await;
    let pax8 = Pax8Distributor::new(
        http("pax8", RecordingSleeper::new()),
        Pax8Settings {
            audience: "api://p8p.client".into(),
            ..settings(&f.base, "pax8-secret")
        },
    );

    let err = pax8.find_product("EXCHANGESTANDARD").await.unwrap_err();

    assert!(matches!(err, Error::Unauthorized { .. }), "{err}");
}

#[tokio::test]
async fn throttling_is_waited_out_with_retry_after() {
    let f = fixture_with(
        FaultSettings {
            throttle_rate: 1.0,
            retry_after_seconds: 7,
            ..FaultSettings::default()
        },
        |r| r,
    )
    .await;
    let sleeper = calm_after_first_wait(f.sim.faults().clone());
    let pax8 = client(&f.base, sleeper.clone());

    let customer = pax8.find_customer("Contoso").await.unwrap();

    assert_eq!(customer.id, CONTOSO);
    assert_eq!(sleeper.waits(), vec![Duration::from_secs(7)]);
    assert_eq!(f.sim.faults().injected(), 1);
}

#[tokio::test]
async fn persistent_server_errors_end_in_unavailable_and_buy_nothing() {
    let f = fixture_with(
        FaultSettings {
            error_rate: 1.0,
            error_status: 500,
            ..FaultSettings::default()
        },
        |r| r,
    )
    .await;
    let sleeper = RecordingSleeper::new();
    let pax8 = client(&f.base, sleeper.clone());
    let ledger = MemoryLedger::default();

    let err = purchase_seats(&pax8, &ledger, &request("ob-6", "O365_BUSINESS_PREMIUM"))
        .await
        .unwrap_err();

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
    assert_eq!(f.sim.subscriptions()[0].quantity, 10);
}

#[tokio::test]
async fn an_unknown_sku_is_not_found() {
    let f = fixture().await;
    let pax8 = client(&f.base, RecordingSleeper::new());

    let err = pax8.find_product("SPE_E5").await.unwrap_err();

    assert!(
        matches!(err, Error::NotFound { ref what, .. } if what.contains("SPE_E5")),
        "{err}"
    );
}

#[tokio::test]
async fn an_order_without_line_item_numbers_is_refused_by_the_simulator() {
    let f = fixture().await;
    let http = reqwest::Client::new();
    let token: serde_json::Value = http
        .post(format!("{}/oauth/token", f.base))
        .json(&serde_json::json!({
            "client_id": "pax8-client", "client_secret": "pax8-secret",
            "audience": "https://api.pax8.com", "grant_type": "client_credentials"
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    let response = http
        .post(format!("{}/v1/orders", f.base))
        .bearer_auth(token["access_token"].as_str().unwrap())
        .json(&serde_json::json!({
            "companyId": CONTOSO,
            "lineItems": [{"productId": EXCHANGE, "quantity": 1, "billingTerm": "Monthly"}]
        }))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 422);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["type"], "UNPROCESSABLE_ENTITY");
    assert_eq!(
        body["details"][0]["instance"],
        "lineItems[0].lineItemNumber"
    );
    assert!(f.sim.orders().is_empty());
}

#[tokio::test]
async fn a_step_that_stopped_after_recording_its_intent_completes_the_same_purchase() {
    let f = fixture().await;
    let pax8 = client(&f.base, RecordingSleeper::new());
    let ledger = MemoryLedger::default();
    let step = request("ob-8", "O365_BUSINESS_PREMIUM");
    // The first run wrote its intent (10 -> 11) and stopped before calling Pax8.
    ledger
        .put(
            &step.key(),
            &PurchaseRecord {
                subscription_id: Some(SUBSCRIPTION.into()),
                target_quantity: 11,
                order_id: None,
            },
        )
        .await
        .unwrap();

    let purchase = purchase_seats(&pax8, &ledger, &step).await.unwrap();

    assert_eq!(
        purchase.outcome,
        PurchaseOutcome::Raised { from: 10, to: 11 }
    );
    assert_eq!(
        f.sim.subscriptions()[0].quantity,
        11,
        "the recorded target, not one more"
    );
}

#[tokio::test]
async fn a_token_the_server_no_longer_accepts_is_renewed_once() {
    let f = fixture().await;
    let pax8 = client(&f.base, RecordingSleeper::new());
    pax8.find_product("EXCHANGESTANDARD").await.unwrap();

    // A day later on Pax8's clock the cached token is dead there.
    f.sim.advance(Duration::from_secs(86_401));
    let product = pax8.find_product("EXCHANGESTANDARD").await.unwrap();

    assert_eq!(product.id, EXCHANGE);
    assert_eq!(f.sim.tokens_issued(), 2);
}

#[test]
fn the_clients_debug_output_hides_the_client_secret() {
    let pax8 = client("http://127.0.0.1:9", RecordingSleeper::new());

    let shown = format!("{pax8:?}");

    assert!(!shown.contains("pax8-secret"), "{shown}");
    assert!(shown.contains("pax8-client"));
}

#[tokio::test]
async fn a_step_that_stopped_after_pax8_applied_its_raise_sends_nothing_more() {
    let f = fixture().await;
    let pax8 = client(&f.base, RecordingSleeper::new());
    let ledger = MemoryLedger::default();
    let step = request("ob-10", "O365_BUSINESS_PREMIUM");
    ledger
        .put(
            &step.key(),
            &PurchaseRecord {
                subscription_id: Some(SUBSCRIPTION.into()),
                target_quantity: 11,
                order_id: None,
            },
        )
        .await
        .unwrap();
    // The first run's raise reached Pax8, then the step died before recording success.
    let customer = pax8.find_customer("Contoso").await.unwrap();
    let product = pax8.find_product("O365_BUSINESS_PREMIUM").await.unwrap();
    let subscription = pax8
        .subscriptions(&customer, &product)
        .await
        .unwrap()
        .remove(0);
    pax8.set_quantity(&subscription, 11).await.unwrap();

    let purchase = purchase_seats(&pax8, &ledger, &step).await.unwrap();

    assert_eq!(purchase.outcome, PurchaseOutcome::AlreadyDone);
    assert_eq!(f.sim.subscriptions()[0].quantity, 11);
}

/// A distributor that stops the first caller of `subscriptions` right after its
/// read, until the test lets it go: the window in which two purchases of one SKU
/// both read the same quantity.
#[derive(Debug)]
struct HeldAfterRead {
    inner: Pax8Distributor,
    reads: std::sync::atomic::AtomicU32,
    read: tokio::sync::Notify,
    go: tokio::sync::Semaphore,
}

#[async_trait::async_trait]
impl Distributor for HeldAfterRead {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    async fn find_customer(
        &self,
        organization: &str,
    ) -> Result<onboard_connectors::distributor::Customer, Error> {
        self.inner.find_customer(organization).await
    }
    async fn find_product(
        &self,
        sku: &str,
    ) -> Result<onboard_connectors::distributor::Product, Error> {
        self.inner.find_product(sku).await
    }
    async fn subscriptions(
        &self,
        customer: &onboard_connectors::distributor::Customer,
        product: &onboard_connectors::distributor::Product,
    ) -> Result<Vec<onboard_connectors::distributor::Subscription>, Error> {
        let read = self.inner.subscriptions(customer, product).await;
        let n = self.reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.read.notify_one();
        if n == 0 {
            let _ = self.go.acquire().await.unwrap();
        }
        read
    }
    async fn set_quantity(
        &self,
        subscription: &onboard_connectors::distributor::Subscription,
        quantity: u32,
    ) -> Result<onboard_connectors::distributor::Subscription, Error> {
        self.inner.set_quantity(subscription, quantity).await
    }
    async fn order(
        &self,
        customer: &onboard_connectors::distributor::Customer,
        product: &onboard_connectors::distributor::Product,
        quantity: u32,
    ) -> Result<onboard_connectors::distributor::Order, Error> {
        self.inner.order(customer, product, quantity).await
    }
}

#[tokio::test]
async fn two_concurrent_purchases_of_one_sku_end_with_a_seat_each() {
    let f = fixture().await;
    let pax8 = Arc::new(HeldAfterRead {
        inner: client(&f.base, RecordingSleeper::new()),
        reads: 0.into(),
        read: tokio::sync::Notify::new(),
        go: tokio::sync::Semaphore::new(0),
    });
    let ledger = Arc::new(MemoryLedger::default());

    // A reads the quantity (10) and is held there.
    let first = tokio::spawn({
        let (pax8, ledger) = (pax8.clone(), ledger.clone());
        async move {
            purchase_seats(
                pax8.as_ref(),
                ledger.as_ref(),
                &request("ob-a", "O365_BUSINESS_PREMIUM"),
            )
            .await
        }
    });
    pax8.read.notified().await;
    // B runs meanwhile: it either buys against the quantity A read, or is
    // told to come back (the lease), as a step retry would.
    let second = purchase_seats(
        pax8.as_ref(),
        ledger.as_ref(),
        &request("ob-b", "O365_BUSINESS_PREMIUM"),
    )
    .await;
    pax8.go.add_permits(1);
    first.await.unwrap().unwrap();
    match second {
        Ok(_) => {}
        Err(e) if e.is_transient() => {
            purchase_seats(
                pax8.as_ref(),
                ledger.as_ref(),
                &request("ob-b", "O365_BUSINESS_PREMIUM"),
            )
            .await
            .unwrap();
        }
        Err(e) => panic!("{e}"),
    }

    assert_eq!(
        f.sim.subscriptions()[0].quantity,
        12,
        "two onboardings, two seats"
    );
}

/// Contoso's Exchange seats on a one-year new-commerce term that began when the simulator started.
async fn committed_fixture() -> Fixture {
    let hook = Arc::new(RecordingSeatHook::default());
    let mut seed = seed(FaultSettings::default());
    seed.subscriptions.push(Pax8Subscription {
        id: "55555555-5555-5555-5555-555555555555".into(),
        company_id: CONTOSO.into(),
        product_id: EXCHANGE.into(),
        quantity: 10,
        status: "Active".into(),
        billing_term: "Annual".into(),
        commitment_term: Some("1-Year".into()),
        start_date: None,
    });
    let start: jiff::Timestamp = "2026-03-02T09:00:00Z".parse().unwrap();
    let sim = Pax8::new(seed, hook.clone()).with_clock(move || start);
    let base = serve(Router::new().nest("/sandbox/pax8", pax8::router(sim.clone()))).await;
    Fixture {
        sim,
        hook,
        base: format!("{base}/sandbox/pax8"),
    }
}

fn reduction(offboarding_id: &str) -> ReductionRequest {
    ReductionRequest {
        offboarding_id: offboarding_id.into(),
        organization: "Contoso".into(),
        sku: "EXCHANGESTANDARD".into(),
        seats: 1,
    }
}

fn exchange_quantity(sim: &Pax8) -> u32 {
    sim.subscriptions()
        .iter()
        .find(|s| s.product_id == EXCHANGE)
        .unwrap()
        .quantity
}

#[tokio::test]
async fn a_decrease_within_the_168_hour_window_is_applied_and_after_it_the_seat_is_kept() {
    let f = committed_fixture().await;
    let pax8 = client(&f.base, RecordingSleeper::new());
    let ledger = MemoryLedger::default();
    let start: jiff::Timestamp = "2026-03-02T09:00:00Z".parse().unwrap();
    let day = |n: i64| start + jiff::SignedDuration::from_hours(24 * n);

    f.sim.advance(Duration::from_secs(2 * 86_400));
    let at_day_2 = reduce_seats(&pax8, &ledger, &reduction("off-1"), day(2))
        .await
        .unwrap();
    f.sim.advance(Duration::from_secs(7 * 86_400));
    let at_day_9 = reduce_seats(&pax8, &ledger, &reduction("off-2"), day(9))
        .await
        .unwrap();

    assert_eq!(at_day_2, Reduction::Lowered { from: 10, to: 9 });
    let Reduction::Kept {
        renews_at,
        scheduled,
        ..
    } = at_day_9
    else {
        panic!("{at_day_9:?}");
    };
    assert_eq!(renews_at, Some("2027-03-02T09:00:00Z".parse().unwrap()));
    assert!(!scheduled, "Pax8 has no scheduled decreases");
    assert_eq!(exchange_quantity(&f.sim), 9, "the day-9 seat is kept");
}

#[tokio::test]
async fn pax8_refuses_a_decrease_after_the_window_in_its_envelope() {
    let f = committed_fixture().await;
    let pax8 = client(&f.base, RecordingSleeper::new());
    let customer = pax8.find_customer("Contoso").await.unwrap();
    let product = pax8.find_product("EXCHANGESTANDARD").await.unwrap();
    f.sim.advance(Duration::from_secs(9 * 86_400));
    let subscription = pax8
        .subscriptions(&customer, &product)
        .await
        .unwrap()
        .remove(0);

    let lowered = pax8.set_quantity(&subscription, 9).await.unwrap_err();
    let raised = pax8.set_quantity(&subscription, 11).await.unwrap();

    assert!(
        matches!(&lowered, Error::Rejected { status: 422, message, .. } if message.contains("168 hours")),
        "{lowered}"
    );
    assert_eq!(raised.quantity, 11, "raising is always allowed");
}
