//! `onboard check`, the real binary over real sockets: it passes on the sandbox
//! and names each seeded misconfiguration (organization, connector, problem).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_onboard");

/// `onboard serve --sandbox` on a free port; killed on drop.
struct Server {
    base: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_sandbox() -> Server {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut child = Command::new(BIN)
        .args(["serve", "--sandbox", "--addr", "127.0.0.1:0", "--data"])
        .arg(dir.path().join("data"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start onboard serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read the bound address");
    let base = line
        .trim()
        .strip_prefix("onboard listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {line}"))
        .to_owned();
    Server {
        base,
        child,
        _dir: dir,
    }
}

/// Runs `onboard check` (with this configuration text, if any) and its secrets in the environment.
fn check(config: Option<&str>, env: &[(&str, &str)]) -> (Output, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut cmd = Command::new(BIN);
    cmd.arg("check").current_dir(dir.path());
    if let Some(text) = config {
        let path = dir.path().join("onboard.toml");
        std::fs::write(&path, text).expect("write config");
        cmd.arg("--config").arg(Path::new(&path));
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run onboard check");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (out, stdout)
}

/// A configuration for the Contoso organization against a running sandbox.
fn against(server: &Server, org_variables: &str) -> String {
    let b = &server.base;
    let company = if org_variables.contains("cw_manage_company_id") {
        ""
    } else {
        "cw_manage_company_id = \"Contoso\""
    };
    format!(
        r#"
[variables]
time_zone = "UTC"
default_psa = "connectwise"
default_ticket_location = "Service Desk"
default_ticket_status = "In Progress"
ticket_status_waiting_input = "Waiting Customer"
ticket_status_workflow_complete = "Completed"
default_priority = "Priority 3 - Normal Response"
send_from_address = "onboarding@msp.example"

[connectors.graph]
authority = "{b}/sandbox/graph/login"
graph_url = "{b}/sandbox/graph/v1.0"
client_id = "sandbox-client"
client_secret = "env:ONBOARD_TEST_GRAPH_SECRET"

[connectors.connectwise]
base_url = "{b}/sandbox/connectwise/v4_6_release/apis/3.0"
company_id = "onboard"
public_key = "sandbox-public"
private_key = "env:ONBOARD_TEST_CW_PRIVATE_KEY"
client_id = "onboard-sandbox"

[organizations.contoso]
name = "Contoso"
domain = "contoso.com"

[organizations.contoso.connectors.graph]
tenant_id = "contoso.com"

[organizations.contoso.variables]
{company}
{org_variables}
"#
    )
}

/// The table rows naming this organization and connector.
fn rows<'a>(table: &'a str, organization: &str, connector: &str) -> Vec<&'a str> {
    table
        .lines()
        .filter(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            cells.first() == Some(&organization) && cells.get(1) == Some(&connector)
        })
        .collect()
}

#[test]
fn check_without_a_configuration_passes_on_the_sandbox() {
    let (out, table) = check(None, &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{table}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(table.contains("ORGANIZATION"), "{table}");
    for connector in ["graph", "connectwise", "pax8"] {
        assert!(
            !rows(&table, "contoso", connector).is_empty(),
            "{connector}: {table}"
        );
    }
    assert!(!table.contains("PROBLEM"), "{table}");
}

#[test]
fn a_wrong_graph_secret_is_named_with_its_organization() {
    let server = spawn_sandbox();
    let (out, table) = check(
        Some(&against(&server, "")),
        &[
            ("ONBOARD_TEST_GRAPH_SECRET", "not-the-secret-7781"),
            ("ONBOARD_TEST_CW_PRIVATE_KEY", "sandbox-private"),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{table}");
    let graph = rows(&table, "contoso", "graph").join("\n");
    assert!(graph.contains("PROBLEM"), "{table}");
    assert!(graph.contains("credentials rejected"), "{table}");
    assert!(
        !table.contains("not-the-secret-7781"),
        "a secret was printed: {table}"
    );
    // The PSA, on its own credentials, still passes.
    let cw = rows(&table, "contoso", "connectwise").join("\n");
    assert!(!cw.contains("PROBLEM"), "{table}");
}

#[test]
fn a_psa_status_that_does_not_exist_is_named() {
    let server = spawn_sandbox();
    let (out, table) = check(
        Some(&against(
            &server,
            r#"ticket_status_workflow_complete = "Done And Dusted""#,
        )),
        &[
            ("ONBOARD_TEST_GRAPH_SECRET", "sandbox-secret"),
            ("ONBOARD_TEST_CW_PRIVATE_KEY", "sandbox-private"),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{table}");
    let cw = rows(&table, "contoso", "connectwise").join("\n");
    assert!(cw.contains("Done And Dusted"), "{table}");
    let graph = rows(&table, "contoso", "graph").join("\n");
    assert!(!graph.contains("PROBLEM"), "{table}");
}

#[test]
fn a_psa_company_that_does_not_exist_is_named() {
    let server = spawn_sandbox();
    let (out, table) = check(
        // No ConnectWise company of the demo is called Northwind.
        Some(&against(&server, r#"cw_manage_company_id = "Northwind""#)),
        &[
            ("ONBOARD_TEST_GRAPH_SECRET", "sandbox-secret"),
            ("ONBOARD_TEST_CW_PRIVATE_KEY", "sandbox-private"),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{table}");
    let customer = rows(&table, "contoso", "connectwise")
        .into_iter()
        .find(|l| l.contains("customer"))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(
        customer.contains("PROBLEM") && customer.contains("Northwind"),
        "{table}"
    );
}

#[test]
fn a_missing_directory_role_is_named() {
    // The sandbox, in-process, with an app that holds its permissions but no role.
    let config = r#"
[server]
sandbox = true

[variables]
time_zone = "UTC"
default_psa = "connectwise"
default_ticket_location = "Service Desk"
default_ticket_status = "In Progress"
default_priority = "Priority 3 - Normal Response"
send_from_address = "onboarding@msp.example"

[[sandbox.graph.tenants]]
id = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
domains = ["contoso.com", "contoso.onmicrosoft.com"]
display_name = "Contoso"

[[sandbox.graph.tenants.apps]]
client_id = "sandbox-client"
client_secret = "sandbox-secret"
directory_roles = []

# No Pax8 customer maps to this smaller tenant.
[sandbox.pax8]
companies = []
"#;
    let (out, table) = check(Some(config), &[]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{table}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let graph = rows(&table, "contoso", "graph");
    let role = graph
        .iter()
        .find(|l| l.contains("directory role"))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(
        role.contains("PROBLEM") && role.contains("User Administrator"),
        "{table}"
    );
}

#[test]
fn an_unreadable_configuration_exits_2() {
    let (out, _) = check(Some("[server]\nport = 3\n"), &[]);
    assert_eq!(out.status.code(), Some(2));
}
