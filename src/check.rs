//! `onboard check`: a read-only preflight of every connector the configuration enables.
//!
//! It resolves the organizations and their connectors exactly as `onboard serve`
//! does ([`app::resolve_connectors`], [`LocalConnections`]) and asks each service
//! only questions that change nothing: a Graph token and the app's permissions
//! and directory roles, the PSA's board/status/priority names, the vault's and
//! distributor's customer, the SMTP relay's greeting and sign-in. Without
//! `--config` it checks the embedded sandbox configuration against simulators
//! started in-process on a loopback port.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use onboard_connectors::graph::AppAccess;
use onboard_domain::Variables;
use onboard_domain::variables::{CredentialDelivery, MfaReadiness, PasswordSaveLocation, Psa};
use onboard_steps::{Connections as _, StepError};

use crate::serve::app::{self, Resolved};
use crate::serve::connections::LocalConnections;
use crate::serve::{load_config, runtime};
use crate::table::Table;

/// `onboard check`.
#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// The configuration file (default: the embedded sandbox configuration).
    #[arg(long)]
    config: Option<PathBuf>,
}

/// One line of the table: what was checked and what came of it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Finding {
    organization: String,
    connector: &'static str,
    check: String,
    /// `None`: it would work; `Some`: the problem.
    problem: Option<String>,
}

/// An application permission the workflow needs, met by any of `any_of`
/// (the least privileged first: the one README lists).
struct Need {
    what: &'static str,
    any_of: &'static [&'static str],
}

const USERS: Need = Need {
    what: "create and update users",
    any_of: &["User.ReadWrite.All", "Directory.ReadWrite.All"],
};
const GROUPS: Need = Need {
    what: "find groups",
    any_of: &[
        "Group.Read.All",
        "Group.ReadWrite.All",
        "Directory.Read.All",
        "Directory.ReadWrite.All",
    ],
};
const MEMBERS: Need = Need {
    what: "add and remove group members",
    any_of: &[
        "GroupMember.ReadWrite.All",
        "Group.ReadWrite.All",
        "Directory.ReadWrite.All",
    ],
};
const LICENSES: Need = Need {
    what: "assign licenses",
    any_of: &[
        "LicenseAssignment.ReadWrite.All",
        "User.ReadWrite.All",
        "Directory.ReadWrite.All",
    ],
};
const SKUS: Need = Need {
    what: "read subscriptions and free seats",
    any_of: &[
        "Organization.Read.All",
        "Organization.ReadWrite.All",
        "LicenseAssignment.Read.All",
        "LicenseAssignment.ReadWrite.All",
        "Directory.Read.All",
        "Directory.ReadWrite.All",
    ],
};
const AUTH_METHODS: Need = Need {
    what: "issue Temporary Access Passes and remove authentication methods",
    any_of: &["UserAuthenticationMethod.ReadWrite.All"],
};
const POLICIES: Need = Need {
    what: "read security defaults, Conditional Access and the Temporary Access Pass policy (MFA readiness; read-only)",
    any_of: &["Policy.Read.All"],
};
const MAILBOX: Need = Need {
    what: "set automatic replies",
    any_of: &["MailboxSettings.ReadWrite"],
};

/// Directory roles that let an app reset an existing user's password.
const PASSWORD_ROLES: &[&str] = &[
    "User Administrator",
    "Privileged Authentication Administrator",
    "Global Administrator",
];

/// What the organization's variables enable, as permissions.
fn needs(variables: &Variables) -> Vec<&'static Need> {
    let mut out = vec![&USERS, &GROUPS, &MEMBERS, &LICENSES, &SKUS];
    if variables.credential_delivery == CredentialDelivery::TemporaryAccessPass
        || variables.offboarding_remove_auth_methods
    {
        out.push(&AUTH_METHODS);
    }
    if variables.mfa_readiness != MfaReadiness::Ignore
        || variables.credential_delivery == CredentialDelivery::TemporaryAccessPass
    {
        out.push(&POLICIES);
    }
    if variables.offboarding_set_auto_reply {
        out.push(&MAILBOX);
    }
    out
}

/// The Graph findings of one organization from what the app holds.
fn graph_findings(org: &str, variables: &Variables, access: &AppAccess) -> Vec<Finding> {
    let finding = |check: String, problem: Option<String>| Finding {
        organization: org.to_owned(),
        connector: "graph",
        check,
        problem,
    };
    let mut out = vec![finding("sign in".into(), None)];
    let held = |p: &str| access.permissions.iter().any(|h| h.eq_ignore_ascii_case(p));
    for need in needs(variables) {
        let problem = (!need.any_of.iter().any(|p| held(p))).then(|| {
            format!(
                "the app lacks the application permission {} (or one of {}), needed to {}",
                need.any_of[0],
                need.any_of[1..].join(", "),
                need.what
            )
        });
        let problem = problem.map(|p| p.replace(" (or one of )", ""));
        out.push(finding(format!("permission {}", need.any_of[0]), problem));
    }
    let role = match &access.directory_roles {
        Ok(roles)
            if roles
                .iter()
                .any(|r| PASSWORD_ROLES.iter().any(|w| r.eq_ignore_ascii_case(w))) =>
        {
            None
        }
        Ok(_) => Some(format!(
            "the app does not hold the directory role {} (or {}), needed to reset passwords",
            PASSWORD_ROLES[0],
            PASSWORD_ROLES[1..].join(" or ")
        )),
        Err(why) => Some(why.clone()),
    };
    out.push(finding(
        format!("directory role {}", PASSWORD_ROLES[0]),
        role,
    ));
    out
}

/// An Exchange Online refusal, naming what the app registration needs when it
/// is one of access.
fn exchange_problem(e: &onboard_connectors::Error) -> String {
    use onboard_connectors::Error;
    let text = e.to_string();
    match e {
        Error::Unauthorized { .. } | Error::Forbidden { .. }
            if !text.contains("Exchange.ManageAsApp") =>
        {
            format!(
                "{text} (the app registration needs the Exchange.ManageAsApp application \
                 permission of Office 365 Exchange Online and the Exchange Administrator role)"
            )
        }
        _ => text,
    }
}

/// A connector error as a problem: its message, which names no secret.
fn problem(e: &StepError) -> String {
    e.to_string()
}

/// Checks every organization's connectors and the mail relay.
async fn check_all(
    config: &crate::config::Config,
    resolved: Resolved,
    connections: &LocalConnections,
    outbox: bool,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for (org, entry) in &resolved.orgs {
        let id = org.id.as_str();
        let variables = match Variables::resolve(id, &config.msp_variables, &org.variables) {
            Ok(v) => v,
            Err(e) => {
                out.push(Finding {
                    organization: id.to_owned(),
                    connector: "variables",
                    check: "resolve".into(),
                    problem: Some(e.to_string()),
                });
                continue;
            }
        };
        let steps_org = &entry.organization;

        // Graph.
        match connections.graph_client(id) {
            Err(e) => out.push(Finding {
                organization: id.to_owned(),
                connector: "graph",
                check: "settings".into(),
                problem: Some(problem(&e)),
            }),
            Ok(client) => match client.app_access(&steps_org.tenant).await {
                Ok(access) => out.extend(graph_findings(id, &variables, &access)),
                Err(e) => out.push(Finding {
                    organization: id.to_owned(),
                    connector: "graph",
                    check: "sign in".into(),
                    problem: Some(e.to_string()),
                }),
            },
        }

        // Exchange Online, when the organization has the connector.
        match connections.exchange_client(id) {
            Ok(None) => {}
            Err(e) => out.push(Finding {
                organization: id.to_owned(),
                connector: "exchange",
                check: "settings".into(),
                problem: Some(problem(&e)),
            }),
            Ok(Some(client)) => out.push(Finding {
                organization: id.to_owned(),
                connector: "exchange",
                check: "sign in (outlook.office365.com), Get-Mailbox".into(),
                problem: client
                    .probe(&steps_org.tenant)
                    .await
                    .err()
                    .map(|e| exchange_problem(&e)),
            }),
        }

        // The PSA.
        if let Some(kind) = variables.default_psa.filter(|k| *k != Psa::NoPsa) {
            out.extend(check_psa(id, &variables, connections, steps_org, kind).await);
        }

        // Vaults.
        for location in variables.password_save_locations() {
            if location == PasswordSaveLocation::Psa {
                continue;
            }
            let name = format!("{location:?}").to_ascii_lowercase();
            let finding = match connections.vault(steps_org, location, &variables).await {
                Err(e) => Some(problem(&e)),
                Ok(vault) => vault
                    .check_organization(&steps_org.name)
                    .await
                    .err()
                    .map(|e| e.to_string()),
            };
            out.push(Finding {
                organization: id.to_owned(),
                connector: vault_name(&name),
                check: format!("organization {}", steps_org.name),
                problem: finding,
            });
        }

        // The distributor.
        if let Some(distributor) = variables.microsoft_licensing_distributor {
            let name = format!("{distributor:?}").to_ascii_lowercase();
            let finding = match connections.distributor(steps_org, distributor).await {
                Err(e) => Some(problem(&e)),
                Ok(None) => Some(format!(
                    "microsoft_licensing_distributor is {name} but connectors.{name} is not \
                     configured (or not supported by onboard serve)"
                )),
                Ok(Some(d)) => d
                    .find_customer(&steps_org.name)
                    .await
                    .err()
                    .map(|e| e.to_string()),
            };
            out.push(Finding {
                organization: id.to_owned(),
                connector: distributor_name(&name),
                check: format!("customer {}", steps_org.name),
                problem: finding,
            });
        }
    }

    // Mail: the sandbox outbox, or the SMTP relay serve would send through.
    let smtp_configured = config.msp_connectors.iter().any(|c| c.connector == "smtp");
    let mail = if outbox && !smtp_configured {
        Finding {
            organization: "(msp)".into(),
            connector: "mail",
            check: "sandbox outbox".into(),
            problem: None,
        }
    } else {
        let problem = match runtime::smtp_mailer(&resolved.msp_tables) {
            Err(e) => Some(format!("{e:#}")),
            Ok(mailer) => mailer.check().await.err().map(|e| e.to_string()),
        };
        Finding {
            organization: "(msp)".into(),
            connector: "smtp",
            check: "connect, EHLO, AUTH, QUIT".into(),
            problem,
        }
    };
    out.push(mail);
    out
}

fn vault_name(name: &str) -> &'static str {
    match name {
        "itglue" => "itglue",
        "hudu" => "hudu",
        "pwpush" => "pwpush",
        "passportal" => "passportal",
        _ => "vault",
    }
}

fn distributor_name(name: &str) -> &'static str {
    match name {
        "pax8" => "pax8",
        "sherweb" => "sherweb",
        _ => "distributor",
    }
}

/// The PSA's names: the board (queue, team), every status Onboard moves
/// tickets to, and the priority.
async fn check_psa(
    id: &str,
    variables: &Variables,
    connections: &LocalConnections,
    org: &onboard_steps::Organization,
    kind: Psa,
) -> Vec<Finding> {
    let connector = match kind {
        Psa::ConnectWise => "connectwise",
        Psa::Autotask => "autotask",
        Psa::HaloPsa => "halopsa",
        Psa::NoPsa => "psa",
    };
    let finding = |check: String, problem: Option<String>| Finding {
        organization: id.to_owned(),
        connector,
        check,
        problem,
    };
    let mut missing = Vec::new();
    let location = variables.default_ticket_location.as_deref();
    let priority = variables.default_priority.as_deref();
    if location.is_none() {
        missing.push("default_ticket_location");
    }
    if priority.is_none() {
        missing.push("default_priority");
    }
    if variables.default_ticket_status.is_none() {
        missing.push("default_ticket_status");
    }
    if !missing.is_empty() {
        return vec![finding(
            "names".into(),
            Some(format!("{} not set", missing.join(", "))),
        )];
    }
    let statuses: Vec<&str> = [
        &variables.default_ticket_status,
        &variables.ticket_status_waiting_input,
        &variables.ticket_status_workflow_complete,
    ]
    .into_iter()
    .filter_map(|s| s.as_deref())
    .collect();
    let psa = match connections.psa(org, Some(kind)).await {
        Ok(Some(p)) => p,
        Ok(None) => return Vec::new(),
        Err(e) => return vec![finding("settings".into(), Some(problem(&e)))],
    };
    let mut out = Vec::new();
    let customer = match onboard_steps::ensure_ticket::company(variables) {
        Err(e) => Some(problem(&e)),
        Ok(company) => match psa.check_company(company).await {
            Ok(unknown) => unknown.map(|e| e.to_string()),
            Err(e) => Some(e.to_string()),
        },
    };
    out.push(finding("customer".into(), customer));
    let check = "board, status and priority names".to_owned();
    let names = match psa
        .check_names(
            location.unwrap_or_default(),
            &statuses,
            priority.unwrap_or_default(),
        )
        .await
    {
        Err(e) => vec![finding("sign in".into(), Some(e.to_string()))],
        Ok(unknown) if unknown.is_empty() => {
            vec![finding("sign in".into(), None), finding(check, None)]
        }
        Ok(unknown) => {
            let mut out = vec![finding("sign in".into(), None)];
            out.extend(
                unknown
                    .iter()
                    .map(|e| finding(check.clone(), Some(e.to_string()))),
            );
            out
        }
    };
    // Signing in comes first in the table, the customer after it.
    let mut names = names.into_iter();
    out.splice(0..0, names.next());
    out.extend(names);
    out
}

/// The findings as a table: organization | connector | check | result.
fn table(findings: &[Finding]) -> String {
    let mut table = Table::new(["ORGANIZATION", "CONNECTOR", "CHECK", "RESULT"]);
    for f in findings {
        table.row([
            f.organization.clone(),
            f.connector.to_owned(),
            f.check.clone(),
            f.problem
                .as_ref()
                .map_or_else(|| "ok".to_owned(), |p| format!("PROBLEM: {p}")),
        ]);
    }
    table.to_string()
}

/// Runs `onboard check`: 0 when everything would work, 1 when something would
/// not, 2 when the configuration cannot be read.
pub(crate) fn run(args: CheckArgs) -> ExitCode {
    crate::serve::init_tracing();
    let (config, from_file) = match load_config(args.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let sandbox_on = config.sandbox || !from_file;
    match rt.block_on(check(&config, sandbox_on)) {
        Ok(findings) => {
            print!("{}", table(&findings));
            let problems: Vec<&Finding> = findings.iter().filter(|f| f.problem.is_some()).collect();
            if problems.is_empty() {
                println!("\nall checks passed");
                ExitCode::SUCCESS
            } else {
                eprintln!("{} problem(s):", problems.len());
                for f in problems {
                    eprintln!(
                        "  {} / {}: {}",
                        f.organization,
                        f.connector,
                        f.problem.as_deref().unwrap_or_default()
                    );
                }
                ExitCode::FAILURE
            }
        }
        // A configuration serve would refuse at start-up (a missing tenant id...).
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Starts the sandbox when on, resolves the connectors as serve does, and checks them.
async fn check(config: &crate::config::Config, sandbox_on: bool) -> anyhow::Result<Vec<Finding>> {
    let mut sandbox_task = None;
    let mut base = String::from("http://127.0.0.1");
    let seed = config.sandbox_seed.clone().unwrap_or_default();
    if sandbox_on {
        let sb = onboard_sandbox::Sandbox::new(&seed)
            .map_err(|e| anyhow::anyhow!("[sandbox]: the seed cannot start the simulators: {e}"))?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        base = format!("http://{}", listener.local_addr()?);
        let router = sb.router();
        sandbox_task = Some(tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        }));
    }
    let resolved = app::resolve_connectors(config, sandbox_on.then_some(&seed), &base)?;
    let connections = Arc::new(app::local_connections(
        &resolved.orgs,
        resolved.msp_tables.clone(),
        sandbox_on,
    ));
    let findings = check_all(config, resolved, &connections, sandbox_on).await;
    if let Some(t) = sandbox_task {
        t.abort();
    }
    Ok(findings)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn access(permissions: &[&str], roles: &[&str]) -> AppAccess {
        AppAccess {
            permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
            directory_roles: Ok(roles.iter().map(|r| (*r).to_owned()).collect()),
        }
    }

    #[test]
    fn a_missing_role_is_named() {
        let v = Variables::defaults().unwrap();
        let all = [
            "User.ReadWrite.All",
            "Group.Read.All",
            "GroupMember.ReadWrite.All",
            "UserAuthenticationMethod.ReadWrite.All",
            "Organization.Read.All",
            "Policy.Read.All",
        ];
        let f = graph_findings("contoso", &v, &access(&all, &[]));
        let role = f.iter().find(|f| f.check.contains("role")).unwrap();
        assert!(
            role.problem
                .as_deref()
                .unwrap()
                .contains("User Administrator"),
            "{role:?}"
        );
        let f = graph_findings("contoso", &v, &access(&all, &["User Administrator"]));
        assert!(f.iter().all(|f| f.problem.is_none()), "{f:?}");
    }

    #[test]
    fn auto_replies_need_mailbox_settings() {
        let mut v = Variables::defaults().unwrap();
        v.offboarding_set_auto_reply = true;
        let f = graph_findings(
            "contoso",
            &v,
            &access(&["Directory.ReadWrite.All"], &["User Administrator"]),
        );
        let bad: Vec<_> = f.iter().filter(|f| f.problem.is_some()).collect();
        assert!(
            bad.iter().any(|f| f
                .problem
                .as_deref()
                .unwrap()
                .contains("MailboxSettings.ReadWrite")),
            "{bad:?}"
        );
    }

    #[test]
    fn mfa_readiness_needs_policy_read_all_unless_ignored() {
        let mut v = Variables::defaults().unwrap();
        let held = access(&["Directory.ReadWrite.All"], &["User Administrator"]);
        let policy_row = |f: &[Finding]| {
            f.iter()
                .find(|f| f.check == "permission Policy.Read.All")
                .map(|f| f.problem.clone())
        };

        let f = graph_findings("contoso", &v, &held);
        let problem = policy_row(&f).expect("a Policy.Read.All row").unwrap();
        assert!(problem.contains("MFA readiness"), "{problem}");

        v.mfa_readiness = MfaReadiness::Ignore;
        v.offboarding_remove_auth_methods = false;
        let f = graph_findings("contoso", &v, &held);
        assert_eq!(policy_row(&f), None, "{f:?}");

        v.credential_delivery = CredentialDelivery::TemporaryAccessPass;
        let f = graph_findings("contoso", &v, &held);
        assert!(policy_row(&f).is_some_and(|p| p.is_some()), "{f:?}");

        let f = graph_findings(
            "contoso",
            &v,
            &access(
                &[
                    "Directory.ReadWrite.All",
                    "UserAuthenticationMethod.ReadWrite.All",
                    "Policy.Read.All",
                ],
                &["User Administrator"],
            ),
        );
        assert_eq!(policy_row(&f), Some(None), "{f:?}");
    }
}
