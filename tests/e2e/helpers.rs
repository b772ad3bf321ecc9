//! `spawn_app()`: the real `onboard serve --sandbox --virtual-clock` on a free port with
//! a temporary data directory, and typed helpers that drive it only through HTTP.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use base64::Engine as _;
use serde_json::{Value, json};

/// The demo tenant's app registration and the simulators' default credentials
/// (the sandbox's own, documented in crates/sandbox/examples/sandbox.toml).
const TENANT: &str = "contoso.com";
const GRAPH_CLIENT: (&str, &str) = ("sandbox-client", "sandbox-secret");
const CW: (&str, &str, &str, &str) = (
    "onboard",
    "sandbox-public",
    "sandbox-private",
    "onboard-sandbox",
);

/// A running server.
pub(crate) struct TestApp {
    pub(crate) base: String,
    pub(crate) client: reqwest::Client,
    child: Option<Child>,
    data: PathBuf,
    config: Option<PathBuf>,
    /// Where the server's stderr (its log) goes, unless ONBOARD_TEST_LOG shows it.
    log: PathBuf,
    /// `ONBOARD_LOG` for the server (`None`: its default).
    log_level: Option<&'static str>,
    _dir: tempfile::TempDir,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Starts the server with the embedded sandbox defaults.
pub(crate) async fn spawn_app() -> TestApp {
    spawn(None).await
}

/// Starts the server with this configuration file text (plus `--sandbox`).
pub(crate) async fn spawn_app_with(config: &str) -> TestApp {
    spawn(Some(config)).await
}

/// Starts the server with this configuration (or the embedded defaults) and
/// `ONBOARD_LOG=debug`, its log kept for [`TestApp::log`].
pub(crate) async fn spawn_app_logged(config: Option<&str>) -> TestApp {
    spawn_with(config, Some("debug"), "127.0.0.1:0").await
}

async fn spawn(config: Option<&str>) -> TestApp {
    spawn_with(config, None, "127.0.0.1:0").await
}

async fn spawn_with(config: Option<&str>, log_level: Option<&'static str>, addr: &str) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let log = dir.path().join("server.log");
    let config_path = config.map(|text| {
        let p = dir.path().join("onboard.toml");
        std::fs::write(&p, text).expect("write config");
        p
    });
    let (child, base) = start(&data, config_path.as_deref(), addr, &log, log_level);
    TestApp {
        base,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        child: Some(child),
        data,
        config: config_path,
        log,
        log_level,
        _dir: dir,
    }
}

/// Runs `onboard serve` and reads the address it prints on its first line.
fn start(
    data: &Path,
    config: Option<&Path>,
    addr: &str,
    log: &Path,
    log_level: Option<&str>,
) -> (Child, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_onboard"));
    cmd.arg("serve")
        .arg("--sandbox")
        .arg("--virtual-clock")
        .arg("--addr")
        .arg(addr)
        .arg("--data")
        .arg(data)
        .stdout(Stdio::piped())
        // Secrets referenced by spawn_app_against's configuration (env:NAME).
        .env("ONBOARD_TEST_GRAPH_SECRET", GRAPH_CLIENT.1)
        .env("ONBOARD_TEST_CW_PRIVATE_KEY", CW.2);
    if let Some(c) = config {
        cmd.arg("--config").arg(c);
    }
    if let Some(level) = log_level {
        cmd.env("ONBOARD_LOG", level);
    }
    if std::env::var_os("ONBOARD_TEST_LOG").is_none() {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("open the server log");
        cmd.stderr(Stdio::from(file));
    }
    let mut child = cmd.spawn().expect("spawn onboard serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read the bound address");
    let base = line
        .trim()
        .strip_prefix("onboard listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
        .to_owned();
    (child, base)
}

impl TestApp {
    /// Kills the server with SIGKILL (no shutdown at all).
    pub(crate) fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().expect("kill -9");
            let _ = c.wait();
        }
    }

    /// Starts the server again on the same data directory, at the same address
    /// (decision links carry it).
    pub(crate) fn restart(&mut self) {
        self.kill9();
        let addr = self.base.trim_start_matches("http://").to_owned();
        let (child, base) = start(
            &self.data,
            self.config.as_deref(),
            &addr,
            &self.log,
            self.log_level,
        );
        self.child = Some(child);
        self.base = base;
        // Pooled connections died with the old process.
        self.client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
    }

    /// How many executions the data directory's SQLite file holds: (all, running).
    /// Only while the server is stopped (`kill9`), so nothing writes meanwhile.
    pub(crate) async fn executions_on_disk(&self) -> (u64, u64) {
        assert!(self.child.is_none(), "stop the server first");
        let store = onboard_store::SqliteStore::open_dir(&self.data)
            .await
            .expect("open the data directory");
        store.executions().count().await.expect("count executions")
    }

    /// What the server logged so far (empty with ONBOARD_TEST_LOG, which shows it instead).
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The data directory.
    pub(crate) fn data_dir(&self) -> &Path {
        &self.data
    }

    /// The form page at `path` as a browser gets it: its CSRF token and the
    /// cookie it is bound to (`name=value`).
    pub(crate) async fn form_token(&self, path: &str) -> (String, String) {
        let res = self
            .client
            .get(self.url(path))
            .send()
            .await
            .expect("GET form");
        assert_eq!(res.status(), 200);
        let cookie = res
            .headers()
            .get("set-cookie")
            .expect("the form page sets its CSRF cookie")
            .to_str()
            .expect("cookie")
            .split(';')
            .next()
            .unwrap_or_default()
            .to_owned();
        let html = res.text().await.expect("html");
        let at = html
            .find("name=\"csrf_token\" value=\"")
            .expect("a csrf_token field")
            + "name=\"csrf_token\" value=\"".len();
        let token = html[at..at + html[at..].find('"').expect("end")].to_owned();
        (token, cookie)
    }

    /// Submits the HTML form of page `form_path` to `post_path` with `fields`, as
    /// a browser does: with the page's CSRF token and cookie.
    pub(crate) async fn submit_form(
        &self,
        form_path: &str,
        post_path: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        let (token, cookie) = self.form_token(form_path).await;
        let mut fields = fields.to_vec();
        fields.push(("csrf_token", &token));
        self.client
            .post(self.url(post_path))
            .header("cookie", cookie)
            .form(&fields)
            .send()
            .await
            .expect("POST form")
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub(crate) async fn post_onboarding(&self, form: &Value) -> reqwest::Response {
        self.client
            .post(self.url("/api/onboardings"))
            .json(form)
            .send()
            .await
            .expect("POST /api/onboardings")
    }

    pub(crate) async fn post_onboarding_with_key(
        &self,
        form: &Value,
        key: &str,
    ) -> reqwest::Response {
        self.client
            .post(self.url("/api/onboardings"))
            .header("Idempotency-Key", key)
            .json(form)
            .send()
            .await
            .expect("POST /api/onboardings")
    }

    /// Starts an onboarding that must be accepted; answers its id.
    pub(crate) async fn onboard(&self, form: Value) -> String {
        let res = self.post_onboarding(&form).await;
        let status = res.status();
        let body: Value = res.json().await.expect("json");
        assert_eq!(status, 202, "{body}");
        body["id"].as_str().expect("id").to_owned()
    }

    pub(crate) async fn onboarding(&self, id: &str) -> Value {
        let res = self
            .client
            .get(self.url(&format!("/api/onboardings/{id}")))
            .send()
            .await
            .expect("GET onboarding");
        assert_eq!(res.status(), 200);
        res.json().await.expect("json")
    }

    pub(crate) async fn status(&self, id: &str) -> String {
        self.onboarding(id).await["status"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Moves the virtual clock; answers when everything due has run.
    pub(crate) async fn advance(&self, seconds: u64) {
        let res = self
            .client
            .post(self.url("/sandbox/clock"))
            .json(&json!({"advance_seconds": seconds}))
            .send()
            .await
            .expect("POST /sandbox/clock");
        assert_eq!(
            res.status(),
            200,
            "{}",
            res.text().await.unwrap_or_default()
        );
    }

    pub(crate) async fn outbox(&self) -> Vec<Value> {
        self.get_json("/sandbox/outbox")
            .await
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    pub(crate) async fn get_json(&self, path: &str) -> Value {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("GET")
            .json()
            .await
            .expect("json")
    }

    /// The server's (virtual) time, from `GET /sandbox/clock`.
    pub(crate) async fn now(&self) -> jiff::Timestamp {
        self.get_json("/sandbox/clock").await["now"]
            .as_str()
            .expect("the clock's `now`")
            .parse()
            .expect("an RFC 3339 time")
    }

    /// Sets a simulator's faults through `PUT /sandbox/faults/{service}`.
    pub(crate) async fn faults(&self, service: &str, settings: Value) {
        let res = self
            .client
            .put(self.url(&format!("/sandbox/faults/{service}")))
            .json(&settings)
            .send()
            .await
            .expect("PUT faults");
        assert!(
            res.status().is_success(),
            "{}",
            res.text().await.unwrap_or_default()
        );
    }

    async fn graph_token(&self, tenant: &str) -> String {
        let res: Value = self
            .client
            .post(self.url(&format!("/sandbox/graph/login/{tenant}/oauth2/v2.0/token")))
            .form(&[
                ("client_id", GRAPH_CLIENT.0),
                ("client_secret", GRAPH_CLIENT.1),
                ("grant_type", "client_credentials"),
                ("scope", "https://graph.microsoft.com/.default"),
            ])
            .send()
            .await
            .expect("token")
            .json()
            .await
            .expect("token json");
        res["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    /// `GET /sandbox/graph/v1.0{path}` as the demo tenant's app; `value` of a collection.
    pub(crate) async fn graph(&self, path: &str) -> Value {
        self.graph_in(TENANT, path).await
    }

    /// `GET /sandbox/graph/v1.0{path}` as the app of the sandbox tenant `tenant`
    /// (a domain, e.g. `fabrikam.com`: every demo tenant has the same app).
    pub(crate) async fn graph_in(&self, tenant: &str, path: &str) -> Value {
        let token = self.graph_token(tenant).await;
        let res = self
            .client
            .get(self.url(&format!("/sandbox/graph/v1.0{path}")))
            .bearer_auth(token)
            .send()
            .await
            .expect("graph");
        let status = res.status();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        if status == 404 {
            return Value::Null;
        }
        assert!(status.is_success(), "graph {path}: {status} {body}");
        body
    }

    /// Every user of the demo tenant.
    pub(crate) async fn users(&self) -> Vec<Value> {
        self.graph("/users?$top=999&$select=id,userPrincipalName,displayName,passwordPolicies,assignedLicenses,proxyAddresses,mail")
            .await["value"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Users whose UPN starts with `prefix`.
    pub(crate) async fn users_named(&self, prefix: &str) -> Vec<Value> {
        self.users()
            .await
            .into_iter()
            .filter(|u| {
                u["userPrincipalName"]
                    .as_str()
                    .is_some_and(|s| s.to_ascii_lowercase().starts_with(prefix))
            })
            .collect()
    }

    fn cw_request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let auth =
            base64::engine::general_purpose::STANDARD.encode(format!("{}+{}:{}", CW.0, CW.1, CW.2));
        self.client
            .request(
                method,
                self.url(&format!("/sandbox/connectwise/v4_6_release/apis/3.0{path}")),
            )
            .header("Authorization", format!("Basic {auth}"))
            .header("clientId", CW.3)
    }

    /// The ConnectWise tickets.
    pub(crate) async fn cw_tickets(&self) -> Vec<Value> {
        self.cw_request(reqwest::Method::GET, "/service/tickets?pageSize=1000")
            .send()
            .await
            .expect("cw tickets")
            .json::<Value>()
            .await
            .expect("json")
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    pub(crate) async fn cw_ticket(&self, id: &str) -> Value {
        self.cw_request(reqwest::Method::GET, &format!("/service/tickets/{id}"))
            .send()
            .await
            .expect("cw ticket")
            .json()
            .await
            .expect("json")
    }

    /// A ConnectWise ticket's notes' texts, oldest first.
    pub(crate) async fn cw_notes(&self, ticket: &str) -> Vec<String> {
        let notes: Value = self
            .cw_request(
                reqwest::Method::GET,
                &format!("/service/tickets/{ticket}/notes?pageSize=1000&orderBy=id asc"),
            )
            .send()
            .await
            .expect("cw notes")
            .json()
            .await
            .expect("json");
        notes
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|n| n["text"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// The decision links (absolute URLs under /decisions/) in a text.
    pub(crate) fn links_in(text: &str) -> Vec<String> {
        text.split(|c: char| {
            c.is_whitespace() || c == '<' || c == '>' || c == '"' || c == ')' || c == '('
        })
        .filter(|w| w.contains("/decisions/") && w.starts_with("http"))
        .map(str::to_owned)
        .collect()
    }

    /// The decision link with `action=<action>` in the outbox.
    pub(crate) async fn outbox_link(&self, action: &str) -> Option<String> {
        self.outbox()
            .await
            .iter()
            .rev()
            .flat_map(|m| Self::links_in(m["body"].as_str().unwrap_or_default()))
            .find(|l| l.contains(&format!("action={action}")))
    }

    /// As a technician would in the Pax8 portal: raises the demo tenant's Business
    /// Premium subscription by one seat (provisioned after the simulator's delay).
    pub(crate) async fn pax8_buy_premium_seat(&self) {
        let token: Value = self
            .client
            .post(self.url("/sandbox/pax8/oauth/token"))
            .json(
                &json!({"client_id": "sandbox-pax8-client", "client_secret": "sandbox-pax8-secret",
                          "audience": "https://api.pax8.com", "grant_type": "client_credentials"}),
            )
            .send()
            .await
            .expect("pax8 token")
            .json()
            .await
            .expect("json");
        let token = token["access_token"].as_str().expect("access_token");
        let res = self
            .client
            .put(self.url("/sandbox/pax8/v1/subscriptions/e5b7a9c1-4f6b-4d8e-8a3c-5f7b9d1e3a4c"))
            .bearer_auth(token)
            .json(&json!({"quantity": 3}))
            .send()
            .await
            .expect("pax8 put");
        assert!(
            res.status().is_success(),
            "{}",
            res.text().await.unwrap_or_default()
        );
    }

    pub(crate) async fn post_link(&self, link: &str) -> reqwest::Response {
        self.client.post(link).send().await.expect("POST link")
    }
}

/// A second server whose connectors reach `sandbox`'s simulators over HTTP (as a
/// self-hosted server reaches real services), so it can be killed and restarted
/// while the tenant, the tickets and the distributor keep their state.
pub(crate) async fn spawn_app_against(sandbox: &TestApp, org_variables: &str) -> TestApp {
    let b = &sandbox.base;
    spawn_app_with(&format!(
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
client_id = "{gc}"
client_secret = "env:ONBOARD_TEST_GRAPH_SECRET"

[connectors.connectwise]
base_url = "{b}/sandbox/connectwise/v4_6_release/apis/3.0"
company_id = "{cw0}"
public_key = "{cw1}"
private_key = "env:ONBOARD_TEST_CW_PRIVATE_KEY"
client_id = "{cw3}"

[organizations.contoso]
name = "Contoso"
domain = "contoso.com"

[organizations.contoso.variables]
{org_variables}
"#,
        gc = GRAPH_CLIENT.0,
        cw0 = CW.0,
        cw1 = CW.1,
        cw3 = CW.3,
    ))
    .await
}

/// Runs `onboard serve` with `args` (and `config` as its file, if any) when it is
/// expected to refuse to start; answers its exit code and stderr.
pub(crate) fn serve_refusal(args: &[&str], config: Option<&str>) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_onboard"));
    cmd.arg("serve")
        .args(args)
        .arg("--data")
        .arg(dir.path().join("data"))
        .env_remove("ONBOARD_TEST_UNSET_SECRET");
    if let Some(text) = config {
        let p = dir.path().join("onboard.toml");
        std::fs::write(&p, text).expect("write config");
        cmd.arg("--config").arg(p);
    }
    let out = cmd.output().expect("run onboard serve");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Posts `bodies` to `path` at once with their Idempotency-Keys and kills the
/// server once `kill_after` have been accepted; restarts it and posts every one
/// again (answered from its key, or accepted now). Answers the ids in order.
pub(crate) async fn submit_through_a_kill(
    app: &mut TestApp,
    path: &str,
    bodies: &[(String, Value)],
    kill_after: usize,
) -> Vec<String> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for (key, body) in bodies {
        let request = app
            .client
            .post(app.url(path))
            .header("Idempotency-Key", key)
            .json(body);
        let tx = tx.clone();
        tokio::spawn(async move {
            let _ = tx.send(request.send().await.map(|r| r.status().as_u16()).ok());
        });
    }
    drop(tx);
    let mut accepted = 0;
    while let Some(answer) = rx.recv().await {
        accepted += usize::from(answer == Some(202));
        if accepted == kill_after {
            break;
        }
    }
    app.kill9();
    app.restart();
    let mut ids = Vec::new();
    for (key, body) in bodies {
        let res = app
            .client
            .post(app.url(path))
            .header("Idempotency-Key", key)
            .json(body)
            .send()
            .await
            .unwrap();
        let status = res.status();
        let answer: Value = res.json().await.unwrap_or_default();
        assert_eq!(status, 202, "{key}: {answer}");
        ids.push(answer["id"].as_str().unwrap().to_owned());
    }
    ids
}

/// Moves the clocks of `apps` (the first holds the records; the others are
/// simulators in other processes) until every record at `kind`
/// (`onboardings`, `offboardings`) is `done`.
pub(crate) async fn settle_all(apps: &[&TestApp], kind: &str, ids: &[String], done: &str) {
    let app = apps[0];
    for _ in 0..60 {
        let mut open = 0;
        for id in ids {
            let rec = app.get_json(&format!("/api/{kind}/{id}")).await;
            if rec["status"] != done {
                open += 1;
            }
        }
        if open == 0 {
            return;
        }
        for clock in apps {
            clock.advance(120).await;
        }
    }
    for id in ids {
        let rec = app.get_json(&format!("/api/{kind}/{id}")).await;
        assert_eq!(rec["status"], done, "{rec}");
    }
}
