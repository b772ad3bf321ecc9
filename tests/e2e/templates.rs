//! Templates (issue 21): a form's `template` fills what it leaves
//! empty; a template made from an existing user; bad templates and unknown
//! names refused by field.

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app, spawn_app_with};

const TEMPLATES: &str = "/api/organizations/contoso/templates";

async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = app.client.request(method, app.url(path));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let res = request.send().await.expect("request");
    let status = res.status().as_u16();
    let body = res.json().await.unwrap_or(Value::Null);
    (status, body)
}

fn fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| e["field"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

async fn graph_user(app: &TestApp, upn: &str) -> Value {
    app.graph(&format!(
        "/users/{upn}?$select=jobTitle,department,usageLocation,assignedLicenses"
    ))
    .await
}

async fn group_names(app: &TestApp, upn: &str) -> Vec<String> {
    app.graph(&format!("/users/{upn}/memberOf")).await["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|g| g["displayName"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn a_template_fills_what_the_form_leaves_empty_and_the_form_wins() {
    let app = spawn_app().await;
    let (status, stored) = send(
        &app,
        reqwest::Method::PUT,
        &format!("{TEMPLATES}/sales%20rep"),
        Some(json!({
            "description": "A new sales rep",
            "department": "Sales",
            "job_title": "Account Executive",
            "usage_location": "GB",
            "licenses": ["O365_BUSINESS_PREMIUM"],
            "groups": ["Sales"]
        })),
    )
    .await;
    assert_eq!(status, 200, "{stored}");
    assert_eq!(stored["name"], "sales rep");

    // The plan already shows what the template brings.
    let form = json!({
        "organization": "contoso",
        "first_name": "Tamsin",
        "last_name": "Reyes",
        "job_title": "Senior Account Executive",
        "template": "sales rep"
    });
    let (status, plan) = send(
        &app,
        reqwest::Method::POST,
        "/api/onboardings/plan",
        Some(form.clone()),
    )
    .await;
    assert_eq!(status, 200, "{plan}");
    assert!(
        plan["groups"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["name"] == "Sales"),
        "{plan}"
    );

    // A batch row names it the same way (its CSV column `template`).
    let res = app
        .client
        .post(app.url("/api/onboardings/batch?dry_run=true"))
        .header("content-type", "text/csv")
        .body("organization,first_name,last_name,template\ncontoso,Tamsin,Reyes,sales rep\n")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let dry: Value = res.json().await.unwrap();
    assert!(
        dry["plans"][0]["plan"]["groups"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["name"] == "Sales"),
        "{dry}"
    );

    let id = app.onboard(form).await;
    app.advance(60).await;
    let record = app.onboarding(&id).await;
    assert_eq!(record["status"], "completed", "{record}");
    let upn = record["user_principal_name"].as_str().unwrap().to_owned();
    let user = graph_user(&app, &upn).await;
    assert_eq!(user["department"], "Sales", "{user}");
    assert_eq!(
        user["jobTitle"], "Senior Account Executive",
        "the form's own value wins"
    );
    assert_eq!(user["usageLocation"], "GB");
    assert_eq!(
        user["assignedLicenses"].as_array().unwrap().len(),
        1,
        "{user}"
    );
    assert!(group_names(&app, &upn).await.contains(&"Sales".to_owned()));

    // The template changed later does not change an accepted run's form.
    let (status, _) = send(
        &app,
        reqwest::Method::DELETE,
        &format!("{TEMPLATES}/sales%20rep"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(app.onboarding(&id).await["status"], "completed");
    let (status, _) = send(
        &app,
        reqwest::Method::GET,
        &format!("{TEMPLATES}/sales%20rep"),
        None,
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn an_unknown_template_or_a_bad_one_is_refused_by_field_and_nothing_starts() {
    let app = spawn_app().await;
    let users_before = app.users().await.len();

    let (status, problem) = send(
        &app,
        reqwest::Method::POST,
        "/api/onboardings",
        Some(json!({
            "organization": "contoso",
            "first_name": "Nadia",
            "last_name": "Okafor",
            "template": "nurse"
        })),
    )
    .await;
    assert_eq!(status, 400, "{problem}");
    assert_eq!(fields(&problem), ["template"]);
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("no template `nurse`"),
        "{problem}"
    );

    // Every bad field of a template is named; nothing is stored.
    let (status, problem) = send(
        &app,
        reqwest::Method::PUT,
        &format!("{TEMPLATES}/nurse"),
        Some(json!({"grups": ["Ward 3"], "licenses": ["not a sku"], "usage_location": "Narnia"})),
    )
    .await;
    assert_eq!(status, 400, "{problem}");
    assert_eq!(
        fields(&problem),
        ["usage_location", "licenses[0]", "grups"],
        "{problem}"
    );
    let (status, listed) = send(&app, reqwest::Method::GET, TEMPLATES, None).await;
    assert_eq!((status, listed), (200, json!([])));
    let (status, problem) = send(
        &app,
        reqwest::Method::PUT,
        &format!("{TEMPLATES}/a%2Fb"),
        Some(json!({"department": "Ward"})),
    )
    .await;
    assert_eq!(status, 400, "{problem}");
    assert_eq!(fields(&problem), ["name"]);
    assert_eq!(app.users().await.len(), users_before);
}

#[tokio::test]
async fn a_template_made_from_an_existing_user_has_their_groups_licenses_and_manager() {
    let app = spawn_app().await;
    let (status, made) = send(
        &app,
        reqwest::Method::POST,
        TEMPLATES,
        Some(json!({"name": "like alex", "from_user": "AlexW@contoso.com"})),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    let template = &made["template"];
    assert_eq!(template["groups"], json!(["All Staff", "Sales"]), "{made}");
    assert_eq!(template["licenses"], json!(["O365_BUSINESS_PREMIUM"]));
    assert_eq!(template["manager_email"], "AdeleV@contoso.com");
    assert_eq!(template["usage_location"], "US");
    assert!(
        template["description"]
            .as_str()
            .unwrap()
            .contains("AlexW@contoso.com")
    );

    // The name is taken now; an unknown user is a bad field.
    let (status, problem) = send(
        &app,
        reqwest::Method::POST,
        TEMPLATES,
        Some(json!({"name": "like alex", "from_user": "AlexW@contoso.com"})),
    )
    .await;
    assert_eq!(status, 409, "{problem}");
    let (status, problem) = send(
        &app,
        reqwest::Method::POST,
        TEMPLATES,
        Some(json!({"name": "ghost", "from_user": "nobody@contoso.com"})),
    )
    .await;
    assert_eq!(status, 400, "{problem}");
    assert_eq!(fields(&problem), ["from_user"]);
    let (status, problem) = send(&app, reqwest::Method::POST, TEMPLATES, Some(json!({}))).await;
    assert_eq!(status, 400, "{problem}");
    assert_eq!(fields(&problem), ["name", "from_user"]);

    // A form naming it onboards a user like Alex.
    let id = app
        .onboard(json!({
            "organization": "contoso",
            "first_name": "Imogen",
            "last_name": "Achebe",
            "template": "like alex"
        }))
        .await;
    app.advance(60).await;
    let record = app.onboarding(&id).await;
    assert_eq!(record["status"], "completed", "{record}");
    let upn = record["user_principal_name"].as_str().unwrap().to_owned();
    let groups = group_names(&app, &upn).await;
    assert!(
        groups.contains(&"All Staff".to_owned()) && groups.contains(&"Sales".to_owned()),
        "{groups:?}"
    );
    let manager = app.graph(&format!("/users/{upn}/manager")).await;
    assert_eq!(
        manager["userPrincipalName"], "AdeleV@contoso.com",
        "{manager}"
    );
}

#[tokio::test]
async fn the_configuration_files_templates_are_served() {
    let config = format!(
        "{}\n[organizations.contoso.templates.\"front desk\"]\ndepartment = \"Reception\"\ngroups = [\"All Staff\"]\n",
        crate::workflow::config("")
    );
    let app = spawn_app_with(&config).await;
    let (status, listed) = send(&app, reqwest::Method::GET, TEMPLATES, None).await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(
        listed,
        json!([{"name": "front desk", "template": {"department": "Reception", "groups": ["All Staff"]}}])
    );
}
