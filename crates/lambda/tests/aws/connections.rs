//! `StoreConnections` reads connector settings from the store: the organization's
//! scope before the MSP's, secrets resolved, a missing setting named.

use std::collections::BTreeMap;
use std::sync::Arc;

use onboard_domain::variables::{Distributor, Psa};
use onboard_lambda::StoreConnections;
use onboard_steps::{Connections, Organization, StepError};
use onboard_store::{ConnectorSettings, Scope, SecretRef, SqliteStore, Store};

use crate::LocalSecrets;

const TENANT: &str = "3fa85f64-5717-4562-b3fc-2c963f66afa6";

fn settings(
    connector: &str,
    plain: &[(&str, &str)],
    secrets: &[(&str, SecretRef)],
) -> ConnectorSettings {
    ConnectorSettings {
        connector: connector.to_owned(),
        settings: plain
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        secrets: secrets
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect::<BTreeMap<_, _>>(),
    }
}

struct Bed {
    _dir: tempfile::TempDir,
    store: Arc<SqliteStore>,
    connections: StoreConnections,
    secret_file: SecretRef,
}

async fn bed() -> Bed {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        SqliteStore::open_dir(&dir.path().join("data"))
            .await
            .unwrap(),
    );
    let path = dir.path().join("secret");
    std::fs::write(&path, "s3cr3t-value\n").unwrap();
    let connections = StoreConnections::new(store.clone(), Arc::new(LocalSecrets));
    store
        .put_connector(
            &Scope::Organization("contoso".into()),
            &settings(
                "organization",
                &[
                    ("tenant_id", TENANT),
                    ("domain", "contoso.com"),
                    ("name", "Contoso Ltd"),
                ],
                &[],
            ),
        )
        .await
        .unwrap();
    Bed {
        _dir: dir,
        store,
        connections,
        secret_file: SecretRef::File {
            path: path.display().to_string(),
        },
    }
}

fn config_message(result: Result<impl Sized, StepError>) -> String {
    match result {
        Err(e) => {
            assert_eq!(e.name(), "Config.Invalid", "{e}");
            e.to_string()
        }
        Ok(_) => panic!("expected a configuration error"),
    }
}

async fn contoso(bed: &Bed) -> Organization {
    bed.connections.organization("contoso").await.unwrap()
}

#[tokio::test]
async fn an_organization_is_read_from_its_scope() {
    let bed = bed().await;
    let org = contoso(&bed).await;
    assert_eq!(org.name, "Contoso Ltd");
    assert_eq!(org.domain, "contoso.com");
    assert_eq!(org.tenant.as_str(), TENANT);
    let unknown = bed.connections.organization("fabrikam").await.unwrap_err();
    assert_eq!(unknown.name(), "Request.Invalid");
}

#[tokio::test]
async fn the_organizations_psa_settings_override_the_msp_wide_ones() {
    let bed = bed().await;
    let org = contoso(&bed).await;
    let cw = |client_id: Option<&str>| {
        let mut plain = vec![
            (
                "base_url",
                "https://api-na.myconnectwise.net/v4_6_release/apis/3.0",
            ),
            ("company_id", "msp"),
            ("public_key", "pub"),
        ];
        if let Some(id) = client_id {
            plain.push(("client_id", id));
        }
        settings(
            "connectwise",
            &plain,
            &[("private_key", bed.secret_file.clone())],
        )
    };
    // MSP-wide settings lack client_id: refused, naming the field.
    bed.store
        .put_connector(&Scope::Msp, &cw(None))
        .await
        .unwrap();
    let message = config_message(bed.connections.psa(&org, Some(Psa::ConnectWise)).await);
    assert!(message.contains("client_id"), "{message}");
    assert!(!message.contains("s3cr3t"), "{message}");
    // The organization's complete settings win.
    bed.store
        .put_connector(
            &Scope::Organization("contoso".into()),
            &cw(Some("integration")),
        )
        .await
        .unwrap();
    assert!(
        bed.connections
            .psa(&org, Some(Psa::ConnectWise))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        bed.connections
            .psa(&org, Some(Psa::NoPsa))
            .await
            .unwrap()
            .is_none()
    );
    let message = config_message(bed.connections.psa(&org, Some(Psa::Autotask)).await);
    assert!(
        message.contains("connector `autotask` is not configured"),
        "{message}"
    );
}

#[tokio::test]
async fn an_unreadable_secret_is_named_not_shown() {
    let bed = bed().await;
    let org = contoso(&bed).await;
    let missing = SecretRef::File {
        path: "/nonexistent/onboard-secret".into(),
    };
    bed.store
        .put_connector(
            &Scope::Msp,
            &settings(
                "graph",
                &[("client_id", "app")],
                &[("client_secret", missing)],
            ),
        )
        .await
        .unwrap();
    let message = config_message(bed.connections.directory(&org).await);
    assert!(message.contains("client_secret"), "{message}");
    assert!(message.contains("/nonexistent/onboard-secret"), "{message}");
}

#[tokio::test]
async fn the_directory_is_built_from_the_msp_graph_settings() {
    let bed = bed().await;
    let org = contoso(&bed).await;
    let message = config_message(bed.connections.directory(&org).await);
    assert!(
        message.contains("connector `graph` is not configured"),
        "{message}"
    );
    bed.store
        .put_connector(
            &Scope::Msp,
            &settings(
                "graph",
                &[("client_id", "app")],
                &[("client_secret", bed.secret_file.clone())],
            ),
        )
        .await
        .unwrap();
    let first = bed.connections.directory(&org).await.unwrap();
    let second = bed.connections.directory(&org).await.unwrap();
    assert!(Arc::ptr_eq(&first, &second), "built once, then reused");
}

#[tokio::test]
async fn only_a_configured_pax8_is_a_distributor() {
    let bed = bed().await;
    let org = contoso(&bed).await;
    assert!(
        bed.connections
            .distributor(&org, Distributor::Pax8)
            .await
            .unwrap()
            .is_none()
    );
    bed.store
        .put_connector(
            &Scope::Msp,
            &settings(
                "pax8",
                &[("client_id", "p")],
                &[("client_secret", bed.secret_file.clone())],
            ),
        )
        .await
        .unwrap();
    assert!(
        bed.connections
            .distributor(&org, Distributor::Pax8)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        bed.connections
            .distributor(&org, Distributor::Sherweb)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn the_pax8_company_mapping_is_honoured_as_onboard_serve_honours_it() {
    // Issue 15: the Lambdas ignored `company_id`, so a customer whose Pax8 name
    // differs from the organization's could not be found on AWS.
    use onboard_sandbox::pax8::{
        self, Pax8, Pax8Company, Pax8Credentials, Pax8Seed, RecordingSeatHook,
    };
    let sim = Pax8::new(
        Pax8Seed {
            clients: vec![Pax8Credentials {
                client_id: "pax8-client".into(),
                client_secret: "s3cr3t-value".into(),
            }],
            companies: vec![Pax8Company {
                id: "c-77".into(),
                name: "Contoso Holdings LLC".into(),
                external_id: None,
                website: None,
                status: "Active".into(),
                microsoft_tenant: None,
            }],
            ..Pax8Seed::default()
        },
        Arc::new(RecordingSeatHook::default()),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, pax8::router(sim)).await.unwrap() });

    let bed = bed().await;
    let org = contoso(&bed).await;
    let token_url = format!("{base}/oauth/token");
    let api_base = format!("{base}/v1");
    let plain = [
        ("client_id", "pax8-client"),
        ("token_url", token_url.as_str()),
        ("api_base", api_base.as_str()),
    ];
    bed.store
        .put_connector(
            &Scope::Msp,
            &settings(
                "pax8",
                &plain,
                &[("client_secret", bed.secret_file.clone())],
            ),
        )
        .await
        .unwrap();
    let unmapped = bed
        .connections
        .distributor(&org, Distributor::Pax8)
        .await
        .unwrap()
        .unwrap();
    assert!(
        unmapped.find_customer(&org.name).await.is_err(),
        "no company is named Contoso Ltd"
    );

    let mut mapped = plain.to_vec();
    mapped.push(("company_id", "c-77"));
    bed.store
        .put_connector(
            &Scope::Organization("contoso".into()),
            &settings(
                "pax8",
                &mapped,
                &[("client_secret", bed.secret_file.clone())],
            ),
        )
        .await
        .unwrap();
    let distributor = bed
        .connections
        .distributor(&org, Distributor::Pax8)
        .await
        .unwrap()
        .unwrap();
    let customer = distributor.find_customer(&org.name).await.unwrap();
    assert_eq!(customer.id, "c-77");
}

#[tokio::test]
async fn a_hudu_company_id_that_is_not_a_number_is_named() {
    let bed = bed().await;
    let org = contoso(&bed).await;
    bed.store
        .put_connector(
            &Scope::Msp,
            &settings(
                "hudu",
                &[
                    ("base_url", "https://hudu.example"),
                    ("company_id", "seven"),
                ],
                &[("api_key", bed.secret_file.clone())],
            ),
        )
        .await
        .unwrap();
    let vars = onboard_domain::Variables::defaults().unwrap();
    let message = config_message(
        bed.connections
            .vault(
                &org,
                onboard_domain::variables::PasswordSaveLocation::Hudu,
                &vars,
            )
            .await,
    );
    assert!(
        message.contains("`company_id` is not a number"),
        "{message}"
    );
}
