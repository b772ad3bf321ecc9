//! The console's pickers: an organization's licenses with their free seats, and
//! its groups and users by search (`GET /api/organizations/{id}/licenses`,
//! `/groups?search=`, `/users?search=`, CONTRACT.md §4). Read-only.

use onboard_connectors::graph::SubscribedSku;
use onboard_domain::license::product_name;
use serde::{Deserialize, Serialize};

use crate::deps::{Deps, Organization};
use crate::error::{Port, StepError};

/// How many matches a search answers: a picker shows the best few.
pub const SEARCH_LIMIT: u16 = 25;

/// One subscription of the tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenseOption {
    /// The SKU part number forms send in `licenses`.
    pub sku: String,
    /// Its product name ("Microsoft 365 Business Premium"), or the part number.
    pub name: String,
    /// Seats neither assigned nor suspended (`prepaidUnits.enabled - consumedUnits`, at least 0).
    pub free_seats: i64,
}

/// A group, as the picker shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupOption {
    /// The object id.
    pub id: String,
    /// The display name forms send in `groups`.
    pub display_name: String,
}

/// A user, as the picker shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserOption {
    /// The object id.
    pub id: String,
    /// The display name.
    pub display_name: String,
    /// The UPN forms send in `copy_groups_from`, `manager_email`, `user_principal_name`.
    pub user_principal_name: String,
    /// The primary mail, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mail: Option<String>,
}

fn graph(e: onboard_connectors::Error) -> StepError {
    StepError::connector(Port::Graph, e)
}

/// The tenant's subscriptions, by product name.
pub async fn licenses(
    deps: &Deps,
    organization: &Organization,
) -> Result<Vec<LicenseOption>, StepError> {
    let directory = deps.connections.directory(organization).await?;
    let skus = directory
        .subscribed_skus(&organization.tenant)
        .await
        .map_err(graph)?;
    let mut options: Vec<LicenseOption> = skus
        .iter()
        .map(|s: &SubscribedSku| LicenseOption {
            sku: s.sku_part_number.clone(),
            name: product_name(&s.sku_part_number)
                .map_or_else(|| s.sku_part_number.clone(), str::to_owned),
            free_seats: s.free_seats().max(0),
        })
        .collect();
    options.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(options)
}

/// Groups whose name starts with `search` (all of the first page when empty).
pub async fn groups(
    deps: &Deps,
    organization: &Organization,
    search: &str,
) -> Result<Vec<GroupOption>, StepError> {
    let directory = deps.connections.directory(organization).await?;
    let found = directory
        .search_groups(&organization.tenant, search, SEARCH_LIMIT)
        .await
        .map_err(graph)?;
    Ok(found
        .into_iter()
        .map(|g| GroupOption {
            display_name: g
                .display_name
                .clone()
                .unwrap_or_else(|| g.id.as_str().to_owned()),
            id: g.id.as_str().to_owned(),
        })
        .collect())
}

/// Users whose name, UPN or mail starts with `search`.
pub async fn users(
    deps: &Deps,
    organization: &Organization,
    search: &str,
) -> Result<Vec<UserOption>, StepError> {
    let directory = deps.connections.directory(organization).await?;
    let found = directory
        .search_users(&organization.tenant, search, SEARCH_LIMIT)
        .await
        .map_err(graph)?;
    Ok(found
        .into_iter()
        .map(|u| UserOption {
            id: u.id.as_str().to_owned(),
            display_name: u
                .display_name
                .clone()
                .unwrap_or_else(|| u.user_principal_name.clone()),
            user_principal_name: u.user_principal_name,
            mail: u.mail,
        })
        .collect())
}
