//! An organization's templates: listing them, filling a form that names one
//! (`template`), and making one from an existing user ("same as Bob").

use onboard_connectors::graph::SkipReason;
use onboard_domain::template::{Template, check_name};
use onboard_domain::{DomainError, FieldError};
use onboard_store::{Scope, StoredTemplate};
use serde_json::Value;

use crate::deps::{Deps, Organization};
use crate::error::{Port, StepError};

/// The form field that names a template.
pub const FIELD: &str = "template";

fn refused(field: &str, message: impl Into<String>) -> StepError {
    StepError::InvalidRequest(DomainError::InvalidRequest {
        errors: vec![FieldError::new(field, message)],
    })
}

fn scope(organization: &str) -> Scope {
    Scope::Organization(organization.to_owned())
}

/// One stored template, checked; a body the store holds that no longer reads
/// (a hand-edited table item) is a configuration error naming it.
fn checked(organization: &str, stored: &StoredTemplate) -> Result<Template, StepError> {
    Template::parse(&stored.body).map_err(|e| {
        StepError::Config(format!(
            "organization `{organization}`: template `{}`: {e}",
            stored.name
        ))
    })
}

/// The organization's templates, by name.
pub async fn list(deps: &Deps, organization: &str) -> Result<Vec<(String, Template)>, StepError> {
    deps.store
        .templates(&scope(organization))
        .await?
        .iter()
        .map(|stored| Ok((stored.name.clone(), checked(organization, stored)?)))
        .collect()
}

/// Template `name` of the organization; `None` when it has none of that name.
pub async fn get(
    deps: &Deps,
    organization: &str,
    name: &str,
) -> Result<Option<Template>, StepError> {
    match deps.store.template(&scope(organization), name).await? {
        Some(stored) => Ok(Some(checked(organization, &stored)?)),
        None => Ok(None),
    }
}

/// `form` filled from the template it names in `template` (for the fields it
/// leaves empty), or `form` itself when it names none. An unknown template is a
/// bad `template` field that lists the organization's templates.
pub async fn fill(deps: &Deps, organization: &str, form: &Value) -> Result<Value, StepError> {
    let name = match form.get(FIELD) {
        None | Some(Value::Null) => return Ok(form.clone()),
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(form.clone()),
        Some(Value::String(s)) => s.trim(),
        Some(_) => return Err(refused(FIELD, "expected a string")),
    };
    match get(deps, organization, name).await {
        Ok(Some(template)) => Ok(template.fill(form)),
        Ok(None) => {
            let names: Vec<String> = deps
                .store
                .templates(&scope(organization))
                .await?
                .into_iter()
                .map(|t| format!("`{}`", t.name))
                .collect();
            let known = if names.is_empty() {
                "it has none".to_owned()
            } else {
                format!("it has {}", names.join(", "))
            };
            Err(refused(
                FIELD,
                format!("organization `{organization}` has no template `{name}` ({known})"),
            ))
        }
        // The form is fine; the organization's template is not: say which.
        Err(StepError::Config(why)) => Err(refused(FIELD, format!("cannot be used: {why}"))),
        Err(other) => Err(other),
    }
}

/// Stores `template` as `name` of the organization (replacing one of that name).
pub async fn put(
    deps: &Deps,
    organization: &str,
    name: &str,
    template: &Template,
) -> Result<String, StepError> {
    let name = check_name(name).map_err(|e| refused(&e.field, e.message))?;
    deps.store
        .put_template(
            &scope(organization),
            &StoredTemplate {
                name: name.to_owned(),
                body: template.to_body(),
            },
        )
        .await?;
    Ok(name.to_owned())
}

/// Deletes template `name` of the organization; `false` when it had none.
pub async fn delete(deps: &Deps, organization: &str, name: &str) -> Result<bool, StepError> {
    Ok(deps
        .store
        .delete_template(&scope(organization), name)
        .await?)
}

fn graph(e: onboard_connectors::Error) -> StepError {
    StepError::connector(Port::Graph, e)
}

/// A template of what `user` (a UPN or address) has: department, job title,
/// office, usage location and manager, the groups a new member can be added to
/// (not dynamic or on-premises ones), and the licenses assigned to them directly
/// (a license that only comes with a group comes with the group again). Reads
/// only; an unknown user is a bad `from_user` field.
pub async fn from_user(
    deps: &Deps,
    organization: &Organization,
    user: &str,
) -> Result<Template, StepError> {
    const FROM: &str = "from_user";
    let directory = deps.connections.directory(organization).await?;
    let tenant = &organization.tenant;
    let found = directory
        .find_users_by_address(tenant, user.trim())
        .await
        .map_err(graph)?
        .into_iter()
        .next()
        .ok_or_else(|| {
            refused(
                FROM,
                format!(
                    "no user `{}` in organization `{}`",
                    user.trim(),
                    organization.id
                ),
            )
        })?;
    let (groups, licenses, states, manager) = futures::try_join!(
        directory.member_of(tenant, &found.id),
        directory.license_details(tenant, &found.id),
        directory.license_assignment_states(tenant, &found.id),
        directory.manager(tenant, &found.id),
    )
    .map_err(graph)?;

    let mut body = serde_json::Map::new();
    let mut put = |field: &str, value: Option<&str>| {
        if let Some(v) = value.filter(|v| !v.trim().is_empty()) {
            body.insert(field.to_owned(), Value::String(v.to_owned()));
        }
    };
    put("department", found.department.as_deref());
    put("job_title", found.job_title.as_deref());
    put("office_location", found.office_location.as_deref());
    put("usage_location", found.usage_location.as_deref());
    put(
        "manager_email",
        manager.as_ref().map(|m| m.user_principal_name.as_str()),
    );
    put(
        "description",
        Some(&format!(
            "made from {} ({})",
            found.display_name.as_deref().unwrap_or("a user"),
            found.user_principal_name
        )),
    );
    let groups: Vec<Value> = groups
        .iter()
        .filter(|g| {
            !matches!(
                g.membership_skip_reason(),
                Some(SkipReason::DynamicMembership | SkipReason::SyncedFromOnPremises)
            )
        })
        .filter_map(|g| g.display_name.clone().map(Value::String))
        .collect();
    let direct = |sku_id: &str| {
        let mut by = states.iter().filter(|s| s.sku_id == sku_id).peekable();
        // No states at all (an older answer): count it as direct.
        by.peek().is_none() || by.any(|s| s.assigned_by_group.is_none())
    };
    let licenses: Vec<Value> = licenses
        .iter()
        .filter(|l| direct(&l.sku_id))
        .map(|l| Value::String(l.sku_part_number.clone()))
        .collect();
    body.insert("groups".to_owned(), Value::Array(groups));
    body.insert("licenses".to_owned(), Value::Array(licenses));
    // What Graph holds passed Graph's own limits, but not necessarily ours (a
    // usage location Graph keeps in lower case, a longer title): say which.
    Template::parse(&Value::Object(body)).map_err(|e| {
        let why = e
            .field_errors()
            .iter()
            .map(|f| format!("{}: {}", f.field, f.message))
            .collect::<Vec<_>>()
            .join("; ");
        refused(
            FROM,
            format!(
                "`{}` cannot be made a template: {why}",
                found.user_principal_name
            ),
        )
    })
}
