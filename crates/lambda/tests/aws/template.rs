//! `template.yaml` agrees with `statemachine/*.asl.json`, `functions/*`,
//! `onboard_steps::FUNCTIONS` and `docs/dynamodb.md`.

use std::collections::BTreeSet;

use serde_norway::Value;

use crate::{kebab, root};

fn template() -> Value {
    let text = std::fs::read_to_string(root().join("template.yaml")).unwrap();
    // SAM's short forms (!Ref, !GetAtt, !Sub) parse as tagged values.
    serde_norway::from_str(&text).unwrap()
}

fn resources(template: &Value) -> &serde_norway::Mapping {
    template["Resources"].as_mapping().unwrap()
}

fn of_type<'a>(template: &'a Value, kind: &str) -> Vec<(&'a str, &'a Value)> {
    resources(template)
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some(kind))
        .map(|(name, r)| (name.as_str().unwrap(), r))
        .collect()
}

/// `!Tag value` -> (tag, value); anything else -> None.
fn tagged(value: &Value) -> Option<(String, &Value)> {
    match value {
        Value::Tagged(t) => Some((t.tag.to_string(), &t.value)),
        _ => None,
    }
}

/// Every `${Name}` in a definition.
fn placeholders(definition: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = definition;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let end = after.find('}').unwrap();
        found.insert(after[..end].to_owned());
        rest = &after[end..];
    }
    found
}

fn state_machine_files() -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(root().join("statemachine"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".asl.json"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    files
}

#[test]
fn every_placeholder_has_a_substitution_a_function_and_an_invoke_permission() {
    let template = template();
    let machines = of_type(&template, "AWS::Serverless::StateMachine");
    for file in state_machine_files() {
        let uri = format!("statemachine/{file}");
        let (name, machine) = machines
            .iter()
            .find(|(_, m)| m["Properties"]["DefinitionUri"].as_str() == Some(uri.as_str()))
            .unwrap_or_else(|| panic!("no state machine resource deploys {uri}"));
        let props = &machine["Properties"];
        let definition = std::fs::read_to_string(root().join(&uri)).unwrap();
        let substitutions = props["DefinitionSubstitutions"].as_mapping().unwrap();
        let invokable: BTreeSet<String> = props["Policies"]
            .as_sequence()
            .unwrap()
            .iter()
            .filter_map(|p| p.get("LambdaInvokePolicy"))
            .map(|p| {
                let (tag, target) = tagged(&p["FunctionName"]).unwrap();
                assert_eq!(tag, "!Ref");
                target.as_str().unwrap().to_owned()
            })
            .collect();
        for placeholder in placeholders(&definition) {
            let value = substitutions.get(placeholder.as_str()).unwrap_or_else(|| {
                panic!("{name}: no DefinitionSubstitution for ${{{placeholder}}}")
            });
            let function = placeholder
                .strip_suffix("FunctionArn")
                .unwrap_or_else(|| panic!("{uri}: ${{{placeholder}}} is not a function ARN"));
            let resource = format!("{function}Function");
            let (tag, target) = tagged(value).unwrap();
            assert_eq!(tag, "!GetAtt", "{placeholder}");
            assert_eq!(target.as_str(), Some(format!("{resource}.Arn").as_str()));
            assert_eq!(
                resources(&template)[resource.as_str()]["Type"].as_str(),
                Some("AWS::Serverless::Function"),
                "{placeholder} names no function resource {resource}"
            );
            assert!(
                invokable.contains(&resource),
                "{name} may not invoke {resource}"
            );
        }
        // Nothing substituted that the definition does not use.
        let used = placeholders(&definition);
        for key in substitutions.keys() {
            assert!(
                used.contains(key.as_str().unwrap()),
                "{name}: unused {key:?}"
            );
        }
    }
}

/// Functions that serve no state of the state machines: the HTTP API and the
/// scheduled approval reminders.
const NOT_STEPS: [&str; 2] = ["Api", "RemindApprovers"];

#[test]
fn every_function_resource_is_a_package_under_functions_serving_its_step() {
    let template = template();
    let functions = of_type(&template, "AWS::Serverless::Function");
    let mut served = BTreeSet::new();
    let mut others = BTreeSet::new();
    for (resource, function) in &functions {
        let step = resource
            .strip_suffix("Function")
            .unwrap_or_else(|| panic!("{resource}: a function resource is named <Step>Function"));
        let package = kebab(step);
        assert_eq!(
            function["Properties"]["CodeUri"].as_str(),
            Some(format!("functions/{package}").as_str()),
            "{resource}"
        );
        assert_eq!(
            function["Metadata"]["BuildMethod"].as_str(),
            Some("rust-cargolambda")
        );
        assert_eq!(
            function["Metadata"]["BuildProperties"]["Binary"].as_str(),
            Some(package.as_str())
        );
        let dir = root().join("functions").join(&package);
        let manifest: toml::Table =
            toml::from_str(&std::fs::read_to_string(dir.join("Cargo.toml")).unwrap()).unwrap();
        assert_eq!(manifest["package"]["name"].as_str(), Some(package.as_str()));
        let main = std::fs::read_to_string(dir.join("src/main.rs")).unwrap();
        assert!(
            main.contains(&format!("const FUNCTION: &str = \"{step}\";")),
            "functions/{package} does not serve {step}"
        );
        if NOT_STEPS.contains(&step) {
            others.insert(step);
            continue;
        }
        assert!(
            onboard_steps::FUNCTIONS.contains(&step),
            "{step} is no step"
        );
        served.insert(step.to_owned());
    }
    assert_eq!(
        others,
        NOT_STEPS.into(),
        "the api and reminder functions are deployed"
    );
    let steps: BTreeSet<String> = onboard_steps::FUNCTIONS
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    assert_eq!(
        served, steps,
        "every step has exactly one function resource"
    );
    // And no package under functions/ without a resource.
    for entry in std::fs::read_dir(root().join("functions")).unwrap() {
        let package = entry.unwrap().file_name().into_string().unwrap();
        assert!(
            steps
                .iter()
                .map(String::as_str)
                .chain(NOT_STEPS)
                .any(|s| kebab(s) == package),
            "functions/{package} has no function resource"
        );
    }
}

#[test]
fn the_table_has_the_keys_indexes_and_ttl_of_docs_dynamodb() {
    let template = template();
    let tables = of_type(&template, "AWS::DynamoDB::Table");
    assert_eq!(tables.len(), 1);
    let props = &tables[0].1["Properties"];
    assert_eq!(props["BillingMode"].as_str(), Some("PAY_PER_REQUEST"));
    assert_eq!(
        props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"].as_bool(),
        Some(true)
    );
    assert_eq!(
        props["TimeToLiveSpecification"]["AttributeName"].as_str(),
        Some("ttl")
    );
    assert_eq!(
        props["TimeToLiveSpecification"]["Enabled"].as_bool(),
        Some(true)
    );
    let keys = |schema: &Value| -> Vec<(String, String)> {
        schema
            .as_sequence()
            .unwrap()
            .iter()
            .map(|k| {
                (
                    k["AttributeName"].as_str().unwrap().to_owned(),
                    k["KeyType"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let pair = |h: &str, r: &str| {
        vec![
            (h.to_owned(), "HASH".to_owned()),
            (r.to_owned(), "RANGE".to_owned()),
        ]
    };
    assert_eq!(keys(&props["KeySchema"]), pair("pk", "sk"));
    let indexes = props["GlobalSecondaryIndexes"].as_sequence().unwrap();
    for (index, (h, r)) in [
        ("gsi1", ("gsi1pk", "gsi1sk")),
        ("gsi2", ("gsi2pk", "gsi2sk")),
        ("gsi3", ("gsi2pk", "gsi1sk")),
    ] {
        let gsi = indexes
            .iter()
            .find(|g| g["IndexName"].as_str() == Some(index))
            .unwrap_or_else(|| panic!("no index {index}"));
        assert_eq!(keys(&gsi["KeySchema"]), pair(h, r));
        assert_eq!(gsi["Projection"]["ProjectionType"].as_str(), Some("ALL"));
    }
}

#[test]
fn functions_that_send_mail_or_sms_and_only_those_may() {
    // The steps that notify (crates/steps: mail.rs callers; SMS only when delivering credentials).
    let mail: BTreeSet<&str> = [
        // The API: resending a pending approval (crates/steps/src/actions.rs).
        "Api",
        "RemindApprovers",
        "RequestApproval",
        "RequestLicensePurchase",
        "DeliverCredentials",
        "Complete",
        "HandleFailure",
        "RequestOffboardingApproval",
        "CompleteOffboarding",
        "HandleOffboardingFailure",
    ]
    .into();
    let template = template();
    for (resource, function) in of_type(&template, "AWS::Serverless::Function") {
        let step = resource.strip_suffix("Function").unwrap();
        let policies = function["Properties"]["Policies"].as_sequence().unwrap();
        let ses = policies.iter().any(|p| p.get("SESCrudPolicy").is_some());
        let sns = policies.iter().any(|p| {
            p.get("Statement")
                .and_then(Value::as_sequence)
                .is_some_and(|s| {
                    s.iter()
                        .any(|st| st["Action"].as_str() == Some("sns:Publish"))
                })
        });
        assert_eq!(ses, mail.contains(step), "{resource}: SES");
        assert_eq!(sns, step == "DeliverCredentials", "{resource}: SNS");
        assert!(
            policies
                .iter()
                .any(|p| p.get("DynamoDBCrudPolicy").is_some()),
            "{resource}: table access"
        );
    }
}

#[test]
fn placeholders_are_found() {
    assert_eq!(
        placeholders(r#"{"A": "${XFunctionArn}", "B": "${Y}"}"#),
        ["XFunctionArn".to_owned(), "Y".to_owned()].into()
    );
}

/// The resource named `name`.
fn resource<'a>(template: &'a Value, name: &str) -> &'a Value {
    resources(template)
        .get(name)
        .unwrap_or_else(|| panic!("no resource {name}"))
}

#[test]
fn the_http_api_routes_the_api_behind_the_chosen_authorizer_and_decisions_publicly() {
    let template = template();
    let routes: Vec<(&str, &Value)> = of_type(&template, "AWS::ApiGatewayV2::Route");
    let route = |key: &str| {
        routes
            .iter()
            .find(|(_, r)| r["Properties"]["RouteKey"].as_str() == Some(key))
            .unwrap_or_else(|| panic!("no route {key}"))
            .1
    };
    // /api/*: IAM, JWT or (ApiKey) none at the gateway, by the ApiAuth parameter.
    let api = &route("ANY /api/{proxy+}")["Properties"];
    let (tag, choice) = tagged(&api["AuthorizationType"]).unwrap();
    assert_eq!(tag, "!If");
    let choice = choice.as_sequence().unwrap();
    assert_eq!(choice[0].as_str(), Some("IsIamAuth"));
    assert_eq!(choice[1].as_str(), Some("AWS_IAM"));
    let (_, inner) = tagged(&choice[2]).unwrap();
    let inner = inner.as_sequence().unwrap();
    assert_eq!(
        (inner[0].as_str(), inner[1].as_str(), inner[2].as_str()),
        (Some("IsJwtAuth"), Some("JWT"), Some("NONE"))
    );
    let allowed: Vec<&str> = template["Parameters"]["ApiAuth"]["AllowedValues"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(allowed, ["IAM", "JWT", "ApiKey"]);
    // Decision links: public, their signature is their authority.
    for key in ["GET /decisions/{id}", "POST /decisions/{id}"] {
        assert_eq!(
            route(key)["Properties"]["AuthorizationType"].as_str(),
            Some("NONE"),
            "{key}"
        );
    }
    // The console: public at the gateway only with SignInIssuer (the function checks
    // each page's role against the session); without it, no such route exists.
    for key in ["GET /", "ANY /{proxy+}"] {
        let console = route(key);
        assert_eq!(console["Condition"].as_str(), Some("HasConsole"), "{key}");
        assert_eq!(
            console["Properties"]["AuthorizationType"].as_str(),
            Some("NONE"),
            "{key}"
        );
    }
    let (tag, _) = tagged(&template["Conditions"]["HasConsole"]).unwrap();
    assert_eq!(tag, "!Not", "the console is off unless SignInIssuer is set");
    for (name, r) in &routes {
        let public = r["Properties"]["AuthorizationType"].as_str() == Some("NONE");
        let key = r["Properties"]["RouteKey"].as_str().unwrap_or_default();
        assert!(
            !public
                || key.starts_with("GET /decisions/")
                || key.starts_with("POST /decisions/")
                || r["Condition"].as_str() == Some("HasConsole"),
            "{name} ({key}) is public at the gateway without being a decision link or the console"
        );
    }
    // Every route reaches the api function through one payload v2 integration.
    let integration = &resource(&template, "HttpApiIntegration")["Properties"];
    assert_eq!(integration["PayloadFormatVersion"].as_str(), Some("2.0"));
    let (_, target) = tagged(&integration["IntegrationUri"]).unwrap();
    assert_eq!(target.as_str(), Some("ApiFunction.Arn"));
    for (name, r) in &routes {
        let (_, target) = tagged(&r["Properties"]["Target"]).unwrap();
        assert_eq!(
            target.as_str(),
            Some("integrations/${HttpApiIntegration}"),
            "{name}"
        );
    }
    // The function is told which mode is on (ApiKey: it checks the key hashes itself).
    let env = &resource(&template, "ApiFunction")["Properties"]["Environment"]["Variables"];
    for (variable, parameter) in [
        ("ONBOARD_API_AUTH", "ApiAuth"),
        ("ONBOARD_API_KEY_SHA256", "ApiKeySha256"),
        ("ONBOARD_SIGN_IN_ISSUER", "SignInIssuer"),
        ("ONBOARD_SIGN_IN_CLIENT_ID", "SignInClientId"),
        ("ONBOARD_SIGN_IN_ALLOWED_TENANTS", "SignInAllowedTenants"),
        ("ONBOARD_SIGN_IN_ROLES", "SignInRoles"),
    ] {
        let (tag, target) = tagged(&env[variable]).unwrap();
        assert_eq!((tag.as_str(), target.as_str()), ("!Ref", Some(parameter)));
    }
}

#[test]
fn the_api_function_may_start_both_machines_resume_tasks_and_read_their_histories_and_nothing_more()
{
    let template = template();
    let api = &resource(&template, "ApiFunction")["Properties"];
    let env = &api["Environment"]["Variables"];
    for (variable, machine) in [
        (
            "ONBOARD_ONBOARDING_STATE_MACHINE_ARN",
            "OnboardingStateMachine",
        ),
        (
            "ONBOARD_OFFBOARDING_STATE_MACHINE_ARN",
            "OffboardingStateMachine",
        ),
    ] {
        let (tag, target) = tagged(&env[variable]).unwrap();
        assert_eq!((tag.as_str(), target.as_str()), ("!Ref", Some(machine)));
    }
    let policies = api["Policies"].as_sequence().unwrap();
    let started: BTreeSet<String> = policies
        .iter()
        .filter_map(|p| p.get("StepFunctionsExecutionPolicy"))
        .map(|p| {
            let (tag, target) = tagged(&p["StateMachineName"]).unwrap();
            assert_eq!(tag, "!GetAtt");
            target.as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(
        started,
        [
            "OffboardingStateMachine.Name".to_owned(),
            "OnboardingStateMachine.Name".to_owned()
        ]
        .into()
    );
    let actions: BTreeSet<&str> = policies
        .iter()
        .filter_map(|p| p.get("Statement").and_then(Value::as_sequence))
        .flatten()
        .flat_map(|st| match &st["Action"] {
            Value::Sequence(list) => list.iter().filter_map(Value::as_str).collect(),
            other => other.as_str().into_iter().collect::<Vec<_>>(),
        })
        .collect();
    assert_eq!(
        actions,
        [
            "secretsmanager:GetSecretValue",
            "states:GetExecutionHistory",
            "states:SendTaskFailure",
            "states:SendTaskSuccess"
        ]
        .into()
    );
    // The run page's picture reads the executions of its own two machines, no other.
    let history: Vec<String> = policies
        .iter()
        .filter_map(|p| p.get("Statement").and_then(Value::as_sequence))
        .flatten()
        .filter(|st| st["Action"].as_str() == Some("states:GetExecutionHistory"))
        .flat_map(|st| st["Resource"].as_sequence().cloned().unwrap_or_default())
        .map(|r| {
            let (tag, target) = tagged(&r).unwrap();
            assert_eq!(tag, "!Sub");
            target.as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(history.len(), 2, "{history:?}");
    for (arn, machine) in history
        .iter()
        .zip(["OnboardingStateMachine", "OffboardingStateMachine"])
    {
        assert!(
            arn.ends_with(&format!(":execution:${{{machine}.Name}}:*")),
            "{arn}"
        );
    }
    // SES only to mail fresh links on `POST /api/onboardings/{id}/resend`, from the sender identity.
    let ses: Vec<&Value> = policies
        .iter()
        .filter_map(|p| p.get("SESCrudPolicy"))
        .collect();
    assert_eq!(ses.len(), 1);
    assert_eq!(tagged(&ses[0]["IdentityName"]).unwrap().0, "!Ref");
}

#[test]
fn approval_reminders_run_on_the_schedule_parameter() {
    let template = template();
    let function = &resource(&template, "RemindApproversFunction")["Properties"];
    let schedule = &function["Events"]["Schedule"];
    assert_eq!(schedule["Type"].as_str(), Some("Schedule"));
    let (tag, target) = tagged(&schedule["Properties"]["Schedule"]).unwrap();
    assert_eq!(
        (tag.as_str(), target.as_str()),
        ("!Ref", Some("ReminderSchedule"))
    );
    assert!(
        template["Parameters"]["ReminderSchedule"]["Default"]
            .as_str()
            .unwrap()
            .starts_with("rate(")
    );
}

/// The variables `template.yaml` gives function `name`: the Globals' and its own.
fn environment(template: &Value, function: &Value) -> BTreeSet<String> {
    let names = |env: &Value| -> Vec<String> {
        env["Variables"]
            .as_mapping()
            .map(|vars| {
                vars.keys()
                    .map(|k| k.as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut all: BTreeSet<String> = names(&template["Globals"]["Function"]["Environment"])
        .into_iter()
        .collect();
    all.extend(names(&function["Properties"]["Environment"]));
    all
}

#[test]
fn events_env_json_names_exactly_the_variables_the_template_gives_each_function() {
    let template = template();
    let text = std::fs::read_to_string(root().join("events/env.json")).unwrap();
    let env: serde_json::Value = serde_json::from_str(&text).unwrap();
    let env = env.as_object().unwrap();
    let shared: BTreeSet<String> = env["Parameters"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let functions = of_type(&template, "AWS::Serverless::Function");
    for key in env.keys().filter(|k| *k != "Parameters") {
        assert!(
            functions.iter().any(|(name, _)| name == key),
            "events/env.json: `{key}` is not a function of template.yaml"
        );
    }
    for (name, function) in &functions {
        let mut given = shared.clone();
        if let Some(own) = env.get(*name) {
            given.extend(own.as_object().unwrap().keys().cloned());
        }
        assert_eq!(
            given,
            environment(&template, function),
            "events/env.json gives {name} other variables than template.yaml"
        );
    }
}
