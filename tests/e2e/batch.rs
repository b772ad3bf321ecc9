//! Batches (issue 21, CONTRACT.md §4): `POST /api/onboardings/batch` with a
//! CSV file, its dry run, its progress, and the same batch posted again.

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

/// A distinct alphabetic surname per row (names refuse digits).
fn surname(n: usize) -> String {
    let a = char::from(b'a' + u8::try_from(n / 26).unwrap());
    let b = char::from(b'a' + u8::try_from(n % 26).unwrap());
    format!("Bat{a}{b}")
}

/// 50 rows, of which rows 7, 23 and 41 are bad: no last name, a start date
/// that is not a date, an organization nobody serves.
fn fifty_rows() -> String {
    let mut csv =
        String::from("\u{feff}organization,first_name,last_name,job_title,start_date,groups\r\n");
    for row in 1..=50 {
        let last = surname(row);
        let line = match row {
            7 => "contoso,Rhea,,Clerk,,All Staff".to_owned(),
            23 => format!("contoso,Rhea,{last},Clerk,soon,All Staff"),
            41 => format!("nowhere,Rhea,{last},Clerk,,All Staff"),
            // A quoted cell with a comma, and two groups.
            _ => format!("contoso,Rhea,{last},\"Clerk, Front Desk\",,All Staff;Sales"),
        };
        csv.push_str(&line);
        csv.push_str("\r\n");
    }
    csv
}

async fn post_csv(app: &TestApp, query: &str, key: Option<&str>, csv: &str) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url(&format!("/api/onboardings/batch{query}")))
        .header("content-type", "text/csv; charset=utf-8")
        .body(csv.to_owned());
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    request.send().await.expect("POST batch")
}

fn rejected_rows(answer: &Value) -> Vec<(u64, Vec<String>)> {
    answer["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let fields = r["errors"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["field"].as_str().unwrap().to_owned())
                .collect();
            (r["row"].as_u64().unwrap(), fields)
        })
        .collect()
}

fn expect_three_bad_rows(answer: &Value) {
    let rejected = rejected_rows(answer);
    assert_eq!(
        rejected,
        vec![
            (7, vec!["last_name".to_owned()]),
            (23, vec!["start_date".to_owned()]),
            (41, vec!["organization".to_owned()]),
        ],
        "{answer}"
    );
    for r in answer["rejected"].as_array().unwrap() {
        for e in r["errors"].as_array().unwrap() {
            assert!(!e["message"].as_str().unwrap().is_empty(), "{r}");
        }
    }
}

async fn batch_users(app: &TestApp) -> Vec<Value> {
    app.users_named("rbat").await
}

#[tokio::test]
async fn a_csv_of_fifty_with_three_bad_rows_onboards_the_rest_once_and_again_starts_nothing() {
    let app = spawn_app().await;
    let csv = fifty_rows();

    // The dry run: every good row's plan, the bad rows' errors, nothing done.
    let res = post_csv(&app, "?dry_run=true", None, &csv).await;
    assert_eq!(res.status(), 200);
    let dry: Value = res.json().await.unwrap();
    assert_eq!(dry["plans"].as_array().unwrap().len(), 47, "{dry}");
    let first = &dry["plans"][0];
    assert_eq!(first["row"], 1);
    assert!(first["plan"].is_object(), "{first}");
    expect_three_bad_rows(&dry);
    assert!(batch_users(&app).await.is_empty());
    let tickets_before = app.cw_tickets().await.len();

    // The batch.
    let res = post_csv(&app, "", Some("term-2027"), &csv).await;
    assert_eq!(res.status(), 202);
    let answer: Value = res.json().await.unwrap();
    let batch_id = answer["batch_id"].as_str().unwrap().to_owned();
    let accepted = answer["accepted"].as_array().unwrap();
    assert_eq!(accepted.len(), 47, "{answer}");
    let rows: Vec<u64> = accepted
        .iter()
        .map(|a| a["row"].as_u64().unwrap())
        .collect();
    assert!(!rows.contains(&7) && !rows.contains(&23) && !rows.contains(&41));
    expect_three_bad_rows(&answer);

    // Progress: every row runs to the end.
    app.advance(60).await;
    let progress = app.get_json(&format!("/api/batches/{batch_id}")).await;
    assert_eq!(progress["finished"], true, "{progress}");
    assert_eq!(progress["counts"], json!({"completed": 47}), "{progress}");
    assert_eq!(progress["kind"], "onboarding");
    assert_eq!(progress["rejected"].as_array().unwrap().len(), 3);

    // One user per good row, with the row's cells.
    let users = batch_users(&app).await;
    assert_eq!(users.len(), 47, "{users:?}");
    let id = accepted[0]["id"].as_str().unwrap();
    let record = app.onboarding(id).await;
    assert_eq!(record["status"], "completed");
    let timeline = record["timeline"].as_array().unwrap();
    assert!(
        timeline
            .iter()
            .any(|e| e["message"] == format!("row 1 of batch {batch_id}")),
        "{record}"
    );
    let user = app
        .graph(&format!(
            "/users/{}?$select=jobTitle",
            record["user_principal_name"].as_str().unwrap()
        ))
        .await;
    assert_eq!(user["jobTitle"], "Clerk, Front Desk", "{user}");
    assert_eq!(app.cw_tickets().await.len(), tickets_before + 47);

    // The same batch again: the same answer, nothing new.
    let res = post_csv(&app, "", Some("term-2027"), &csv).await;
    assert_eq!(res.status(), 202);
    let again: Value = res.json().await.unwrap();
    assert_eq!(again, answer);
    app.advance(60).await;
    assert_eq!(batch_users(&app).await.len(), 47);
    assert_eq!(app.cw_tickets().await.len(), tickets_before + 47);

    // The same key with another file is refused.
    let other = csv.replace("Rhea", "Rhys");
    let res = post_csv(&app, "", Some("term-2027"), &other).await;
    assert_eq!(res.status(), 422);
    assert!(app.users_named("rbat").await.len() == 47);
}

#[tokio::test]
async fn a_batch_that_cannot_be_read_or_comes_from_another_site_starts_nothing() {
    let app = spawn_app().await;

    // An unknown column refuses the whole batch, naming it.
    let res = post_csv(
        &app,
        "",
        None,
        "organization,first_name,last_name,shoe_size\ncontoso,Rhea,Batzz,42\n",
    )
    .await;
    assert_eq!(res.status(), 400);
    let problem: Value = res.json().await.unwrap();
    assert!(problem.to_string().contains("shoe_size"), "{problem}");

    // Another website's page posting a CSV to the technician's server.
    let res = app
        .client
        .post(app.url("/api/onboardings/batch"))
        .header("content-type", "text/csv")
        .header("origin", "https://evil.example")
        .header("sec-fetch-site", "cross-site")
        .body("organization,first_name,last_name\ncontoso,Rhea,Batzy\n")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);

    // CSV is for batches only.
    let res = app
        .client
        .post(app.url("/api/onboardings"))
        .header("content-type", "text/csv")
        .body("organization,first_name,last_name\ncontoso,Rhea,Batzx\n")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415);

    // A JSON array is a batch too; an unknown batch is 404.
    let res = app
        .client
        .post(app.url("/api/onboardings/batch"))
        .json(&json!([{"organization": "contoso", "first_name": "Rhea", "last_name": "Batzw"}, {"organization": "contoso"}]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let answer: Value = res.json().await.unwrap();
    assert_eq!(answer["accepted"].as_array().unwrap().len(), 1, "{answer}");
    assert_eq!(answer["rejected"][0]["row"], 2, "{answer}");
    let res = app
        .client
        .get(app.url("/api/batches/no-such-batch"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert!(app.users_named("rbatzy").await.is_empty());
    assert!(app.users_named("rbatzx").await.is_empty());
}

/// Runs `onboard batch` against `app` (moving its clock while the command
/// waits for the runs); answers the exit code and stdout.
async fn onboard_batch(app: &TestApp, args: &[&str]) -> (i32, String) {
    use tokio::io::AsyncReadExt as _;
    let base = app.url("");
    let url: &[&str] = if args.contains(&"--url") {
        &[]
    } else {
        &["--url", &base]
    };
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_onboard"))
        .arg("batch")
        .args(args)
        .args(url)
        .args(["--poll-ms", "100"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn onboard batch");
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let read = tokio::spawn(async move {
        let (mut out, mut err) = (String::new(), String::new());
        let _ = stdout.read_to_string(&mut out).await;
        let _ = stderr.read_to_string(&mut err).await;
        (out, err)
    });
    let status = loop {
        // Not a sleep: the bound on each wait for the command to end, between
        // moves of the virtual clock that let waiting runs go on.
        match tokio::time::timeout(std::time::Duration::from_millis(200), child.wait()).await {
            Ok(status) => break status.unwrap(),
            Err(_) => app.advance(30).await,
        }
    };
    let (out, err) = read.await.unwrap();
    (status.code().unwrap_or(-1), format!("{out}{err}"))
}

#[tokio::test]
async fn onboard_batch_sends_a_file_shows_every_row_and_sent_again_starts_nothing() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("new-office.csv");
    std::fs::write(
        &file,
        "organization,first_name,last_name,groups\n\
         contoso,Cleo,Batcla,All Staff\n\
         contoso,Cleo,Batclb,All Staff;Sales\n\
         contoso,Cleo,,All Staff\n\
         contoso,Cleo,Batcld,\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();

    // The dry run starts nothing and names the bad row.
    let (code, out) = onboard_batch(&app, &[path, "--dry-run"]).await;
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("dry run: 3 rows would start, 1 rejected"),
        "{out}"
    );
    assert!(out.contains("cbatcla@contoso.com"), "{out}");
    assert!(out.contains("last_name"), "{out}");
    assert!(app.users_named("cbatcl").await.is_empty());

    // The batch: a bar, then every row's outcome; 1 because a row was rejected.
    let (code, out) = onboard_batch(&app, &[path]).await;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("3 accepted, 1 rejected"), "{out}");
    assert!(out.contains("3 rows: 3 completed; 1 rejected."), "{out}");
    assert!(out.contains("| last_name | is required"), "{out}");
    assert_eq!(app.users_named("cbatcl").await.len(), 3);

    // The same file again: the same batch, nothing twice.
    let (_, again) = onboard_batch(&app, &[path]).await;
    assert!(again.contains("3 rows: 3 completed"), "{again}");
    assert_eq!(app.users_named("cbatcl").await.len(), 3);

    // A server that is not there is a clear error, exit 2.
    let (code, out) = onboard_batch(&app, &[path, "--url", "http://127.0.0.1:9"]).await;
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("cannot reach http://127.0.0.1:9"), "{out}");
}
