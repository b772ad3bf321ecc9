//! The [`Directory`] port, call by call, over the client's transport.

use async_trait::async_trait;
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use onboard_domain::mfa::{ConditionalAccessPolicy, TapPolicy};

use super::super::{
    AuthenticationMethod, AutomaticReplies, Deletion, Directory, Group, LicenseAssignmentState,
    LicenseDetail, LicenseToAdd, MailboxChange, MembershipChange, NewUser, ObjectId,
    PasswordPolicies, SERVICE, SubscribedSku, TapRequest, TemporaryAccessPass, TenantId, User,
    UserUpdate,
};
use super::wire::{authentication_method, conditional_access_policy, profile_into, tap_policy};
use super::{GROUP_SELECT, GraphClient, OnNotFound, USER_SELECT, literal, parse, user_what};
use crate::error::Error;

#[async_trait]
impl Directory for GraphClient {
    async fn user(&self, tenant: &TenantId, id_or_upn: &str) -> Result<Option<User>, Error> {
        let url = self.url_with(&["users", id_or_upn], &[("$select", USER_SELECT)])?;
        match self
            .call(
                tenant,
                "get_user",
                Method::GET,
                url,
                None,
                OnNotFound::Answer,
            )
            .await?
        {
            Ok(body) => parse("user", &body).map(Some),
            Err(f) if f.status == StatusCode::NOT_FOUND => Ok(None),
            Err(f) => Err(f.into_error(|| user_what(id_or_upn))),
        }
    }

    async fn find_users_by_address(
        &self,
        tenant: &TenantId,
        address: &str,
    ) -> Result<Vec<User>, Error> {
        let address = address.trim();
        let filter = format!(
            "userPrincipalName eq {a} or mail eq {a} or proxyAddresses/any(x:x eq {smtp})",
            a = literal(address),
            smtp = literal(&format!("smtp:{address}")),
        );
        let url = self.url_with(
            &["users"],
            &[("$filter", &filter), ("$select", USER_SELECT)],
        )?;
        self.all_pages(
            tenant,
            "find_users_by_address",
            url,
            OnNotFound::Answer,
            || "users".into(),
        )
        .await
    }

    async fn search_users(
        &self,
        tenant: &TenantId,
        text: &str,
        top: u16,
    ) -> Result<Vec<User>, Error> {
        let t = literal(text.trim());
        let filter = format!(
            "startswith(displayName,{t}) or startswith(givenName,{t}) or startswith(surname,{t}) \
             or startswith(userPrincipalName,{t}) or startswith(mail,{t})"
        );
        let top = top.clamp(1, 999).to_string();
        let url = self.url_with(
            &["users"],
            &[
                ("$filter", &filter),
                ("$select", USER_SELECT),
                ("$top", &top),
            ],
        )?;
        self.first_page(tenant, "search_users", url, || "users".into())
            .await
    }

    async fn find_users_by_upn_prefix(
        &self,
        tenant: &TenantId,
        prefix: &str,
    ) -> Result<Vec<User>, Error> {
        let filter = format!("startswith(userPrincipalName,{})", literal(prefix));
        let url = self.url_with(
            &["users"],
            &[
                ("$filter", &filter),
                ("$select", USER_SELECT),
                ("$top", "999"),
            ],
        )?;
        self.all_pages(
            tenant,
            "find_users_by_upn_prefix",
            url,
            OnNotFound::Answer,
            || "users".into(),
        )
        .await
    }

    async fn create_user(&self, tenant: &TenantId, user: &NewUser) -> Result<User, Error> {
        let mut body = Map::new();
        body.insert("accountEnabled".into(), json!(user.account_enabled));
        body.insert("displayName".into(), json!(user.display_name));
        body.insert("mailNickname".into(), json!(user.mail_nickname));
        body.insert("userPrincipalName".into(), json!(user.user_principal_name));
        body.insert(
            "passwordProfile".into(),
            json!({
                "forceChangePasswordNextSignIn": user.force_change_password_next_sign_in,
                "password": user.password.expose_secret(),
            }),
        );
        if let Some(location) = &user.usage_location {
            body.insert("usageLocation".into(), json!(location));
        }
        if let Some(policies) = user.password_policies {
            body.insert("passwordPolicies".into(), json!(policies.to_graph()));
        }
        profile_into(&user.profile, &mut body);
        if !user.extension_attributes.is_empty() {
            body.insert(
                "onPremisesExtensionAttributes".into(),
                json!(user.extension_attributes),
            );
        }
        let body = Value::Object(body);
        let url = self.url(&["users"])?;
        let answer = self
            .call_write(tenant, "create_user", url, &body)
            .await?
            .map_err(|f| f.into_error(|| user_what(&user.user_principal_name)))?;
        let mut created: User = parse("created user", &answer)?;
        // The 201 carries Graph's small default property set; fill in what we just set.
        created
            .mail_nickname
            .get_or_insert_with(|| user.mail_nickname.clone());
        created.account_enabled.get_or_insert(user.account_enabled);
        if created.usage_location.is_none() {
            created.usage_location.clone_from(&user.usage_location);
        }
        if created.password_policies.is_none() {
            created.password_policies = user.password_policies.map(PasswordPolicies::to_graph);
        }
        Ok(created)
    }

    async fn update_user(
        &self,
        tenant: &TenantId,
        user: &ObjectId,
        update: &UserUpdate,
    ) -> Result<(), Error> {
        let mut body = Map::new();
        if let Some(name) = &update.display_name {
            body.insert("displayName".into(), json!(name));
        }
        if let Some(location) = &update.usage_location {
            body.insert("usageLocation".into(), json!(location));
        }
        profile_into(&update.profile, &mut body);
        if body.is_empty() {
            return Ok(());
        }
        self.patch_user(tenant, "update_user", user, &Value::Object(body))
            .await
    }

    async fn set_manager(
        &self,
        tenant: &TenantId,
        user: &ObjectId,
        manager: &ObjectId,
    ) -> Result<(), Error> {
        let url = self.url(&["users", user.as_str(), "manager", "$ref"])?;
        // The documented body names the manager as `.../users/{id}`.
        let body = json!({ "@odata.id": self.url(&["users", manager.as_str()])?.to_string() });
        self.call(
            tenant,
            "set_manager",
            Method::PUT,
            url,
            Some(&body),
            OnNotFound::AwaitReplication,
        )
        .await?
        .map(drop)
        .map_err(|f| f.into_error(|| format!("user '{user}' or manager '{manager}'")))
    }

    async fn manager(&self, tenant: &TenantId, user: &ObjectId) -> Result<Option<User>, Error> {
        let url = self.url_with(
            &["users", user.as_str(), "manager"],
            &[("$select", USER_SELECT)],
        )?;
        match self
            .call(
                tenant,
                "get_manager",
                Method::GET,
                url,
                None,
                OnNotFound::Answer,
            )
            .await?
        {
            Ok(body) => parse("manager", &body).map(Some),
            // "Resource 'manager' does not exist ...": the user has none.
            Err(f) if f.status == StatusCode::NOT_FOUND && f.message.contains("'manager'") => {
                Ok(None)
            }
            Err(f) => Err(f.into_error(|| user_what(user.as_str()))),
        }
    }

    async fn remove_manager(&self, tenant: &TenantId, user: &ObjectId) -> Result<(), Error> {
        let url = self.url(&["users", user.as_str(), "manager", "$ref"])?;
        match self
            .call(
                tenant,
                "remove_manager",
                Method::DELETE,
                url,
                None,
                OnNotFound::Answer,
            )
            .await?
        {
            Ok(_) => Ok(()),
            Err(f) if f.status == StatusCode::NOT_FOUND && f.message.contains("'manager'") => {
                Ok(())
            }
            Err(f) => Err(f.into_error(|| user_what(user.as_str()))),
        }
    }

    async fn reset_password(
        &self,
        tenant: &TenantId,
        user: &ObjectId,
        password: &SecretString,
        force_change_next_sign_in: bool,
    ) -> Result<(), Error> {
        let body = json!({
            "passwordProfile": {
                "forceChangePasswordNextSignIn": force_change_next_sign_in,
                "password": password.expose_secret(),
            }
        });
        self.patch_user(tenant, "reset_password", user, &body).await
    }

    async fn set_password_policies(
        &self,
        tenant: &TenantId,
        user: &ObjectId,
        policies: PasswordPolicies,
    ) -> Result<(), Error> {
        let body = json!({ "passwordPolicies": policies.to_graph() });
        self.patch_user(tenant, "set_password_policies", user, &body)
            .await
    }

    async fn set_account_enabled(
        &self,
        tenant: &TenantId,
        user: &ObjectId,
        enabled: bool,
    ) -> Result<(), Error> {
        let body = json!({ "accountEnabled": enabled });
        self.patch_user(tenant, "set_account_enabled", user, &body)
            .await
    }

    async fn revoke_sign_in_sessions(
        &self,
        tenant: &TenantId,
        user: &ObjectId,
    ) -> Result<(), Error> {
        let url = self.url(&["users", user.as_str(), "revokeSignInSessions"])?;
        // Documented 204, answered 200 {"value": true}: any 2xx is success.
        self.call(
            tenant,
            "revoke_sign_in_sessions",
            Method::POST,
            url,
            None,
            OnNotFound::AwaitReplication,
        )
        .await?
        .map(drop)
        .map_err(|f| f.into_error(|| user_what(user.as_str())))
    }

    async fn create_temporary_access_pass(
        &self,
        tenant: &TenantId,
        user: &ObjectId,
        request: &TapRequest,
    ) -> Result<TemporaryAccessPass, Error> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Answer {
            id: String,
            temporary_access_pass: String,
            #[serde(default)]
            start_date_time: Option<String>,
            lifetime_in_minutes: u32,
            #[serde(default)]
            is_usable_once: bool,
        }
        let mut body = Map::new();
        if let Some(start) = request.start {
            body.insert("startDateTime".into(), json!(start.to_string()));
        }
        if let Some(minutes) = request.lifetime_minutes {
            body.insert("lifetimeInMinutes".into(), json!(minutes));
        }
        if let Some(once) = request.usable_once {
            body.insert("isUsableOnce".into(), json!(once));
        }
        let url = self.url(&[
            "users",
            user.as_str(),
            "authentication",
            "temporaryAccessPassMethods",
        ])?;
        let answer = self
            .call(
                tenant,
                "create_temporary_access_pass",
                Method::POST,
                url,
                Some(&Value::Object(body)),
                OnNotFound::AwaitReplication,
            )
            .await?
            .map_err(|f| f.into_error(|| user_what(user.as_str())))?;
        let answer: Answer = parse("temporary access pass", &answer)?;
        Ok(TemporaryAccessPass {
            id: answer.id,
            pass: SecretString::from(answer.temporary_access_pass),
            start: answer.start_date_time.and_then(|s| s.parse().ok()),
            lifetime_minutes: answer.lifetime_in_minutes,
            usable_once: answer.is_usable_once,
        })
    }

    async fn member_of(&self, tenant: &TenantId, user: &ObjectId) -> Result<Vec<Group>, Error> {
        let url = self.url(&["users", user.as_str(), "memberOf"])?;
        let objects: Vec<Value> = self
            .all_pages(
                tenant,
                "member_of",
                url,
                OnNotFound::AwaitReplication,
                || user_what(user.as_str()),
            )
            .await?;
        objects
            .into_iter()
            .filter(|o| {
                o.get("@odata.type").and_then(Value::as_str) == Some("#microsoft.graph.group")
            })
            .map(|o| {
                serde_json::from_value(o).map_err(|e| Error::Protocol {
                    service: SERVICE,
                    detail: format!("memberOf group: {e}"),
                })
            })
            .collect()
    }

    async fn license_details(
        &self,
        tenant: &TenantId,
        user: &ObjectId,
    ) -> Result<Vec<LicenseDetail>, Error> {
        let url = self.url(&["users", user.as_str(), "licenseDetails"])?;
        self.all_pages(
            tenant,
            "license_details",
            url,
            OnNotFound::AwaitReplication,
            || user_what(user.as_str()),
        )
        .await
    }

    async fn license_assignment_states(
        &self,
        tenant: &TenantId,
        user: &ObjectId,
    ) -> Result<Vec<LicenseAssignmentState>, Error> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Answer {
            #[serde(default)]
            license_assignment_states: Vec<LicenseAssignmentState>,
        }
        let url = self.url_with(
            &["users", user.as_str()],
            &[("$select", "licenseAssignmentStates")],
        )?;
        let body = self
            .call(
                tenant,
                "license_assignment_states",
                Method::GET,
                url,
                None,
                OnNotFound::AwaitReplication,
            )
            .await?
            .map_err(|f| f.into_error(|| user_what(user.as_str())))?;
        Ok(parse::<Answer>("license assignment states", &body)?.license_assignment_states)
    }

    async fn subscribed_skus(&self, tenant: &TenantId) -> Result<Vec<SubscribedSku>, Error> {
        let url = self.url(&["subscribedSkus"])?;
        self.all_pages(tenant, "subscribed_skus", url, OnNotFound::Answer, || {
            "subscribed skus".into()
        })
        .await
    }

    async fn assign_licenses(
        &self,
        tenant: &TenantId,
        user: &ObjectId,
        add: &[LicenseToAdd],
        remove: &[String],
    ) -> Result<(), Error> {
        // Both arrays are required, empty or not.
        let body = json!({
            "addLicenses": add
                .iter()
                .map(|l| json!({"skuId": l.sku_id, "disabledPlans": l.disabled_plans}))
                .collect::<Vec<_>>(),
            "removeLicenses": remove,
        });
        let url = self.url(&["users", user.as_str(), "assignLicense"])?;
        self.call(
            tenant,
            "assign_licenses",
            Method::POST,
            url,
            Some(&body),
            OnNotFound::AwaitReplication,
        )
        .await?
        .map(drop)
        .map_err(|f| f.into_error(|| user_what(user.as_str())))
    }

    async fn find_groups_by_name(
        &self,
        tenant: &TenantId,
        display_name: &str,
    ) -> Result<Vec<Group>, Error> {
        let filter = format!("displayName eq {}", literal(display_name));
        let url = self.url_with(
            &["groups"],
            &[("$filter", &filter), ("$select", GROUP_SELECT)],
        )?;
        self.all_pages(
            tenant,
            "find_groups_by_name",
            url,
            OnNotFound::Answer,
            || "groups".into(),
        )
        .await
    }

    async fn search_groups(
        &self,
        tenant: &TenantId,
        text: &str,
        top: u16,
    ) -> Result<Vec<Group>, Error> {
        let t = literal(text.trim());
        let filter = format!("startswith(displayName,{t}) or startswith(mail,{t})");
        let top = top.clamp(1, 999).to_string();
        let url = self.url_with(
            &["groups"],
            &[
                ("$filter", &filter),
                ("$select", GROUP_SELECT),
                ("$top", &top),
            ],
        )?;
        self.first_page(tenant, "search_groups", url, || "groups".into())
            .await
    }

    async fn group(&self, tenant: &TenantId, id: &ObjectId) -> Result<Option<Group>, Error> {
        let url = self.url_with(&["groups", id.as_str()], &[("$select", GROUP_SELECT)])?;
        match self
            .call(
                tenant,
                "get_group",
                Method::GET,
                url,
                None,
                OnNotFound::Answer,
            )
            .await?
        {
            Ok(body) => parse("group", &body).map(Some),
            Err(f) if f.status == StatusCode::NOT_FOUND => Ok(None),
            Err(f) => Err(f.into_error(|| format!("group '{id}'"))),
        }
    }

    async fn add_group_member(
        &self,
        tenant: &TenantId,
        group: &Group,
        user: &ObjectId,
    ) -> Result<MembershipChange, Error> {
        if let Some(reason) = group.membership_skip_reason() {
            tracing::info!(tenant = %tenant, group = %group.id, %reason, "group membership not written");
            return Ok(MembershipChange::Skipped(reason));
        }
        let url = self.url(&["groups", group.id.as_str(), "members", "$ref"])?;
        let body = json!({ "@odata.id": self.directory_object(user)? });
        match self
            .call(
                tenant,
                "add_group_member",
                Method::POST,
                url,
                Some(&body),
                OnNotFound::AwaitReplication,
            )
            .await?
        {
            Ok(_) => Ok(MembershipChange::Added),
            Err(f) if f.is_already_member() => Ok(MembershipChange::AlreadyMember),
            Err(f) => Err(f.into_error(|| format!("group '{}' or user '{user}'", group.id))),
        }
    }

    async fn remove_group_member(
        &self,
        tenant: &TenantId,
        group: &Group,
        user: &ObjectId,
    ) -> Result<MembershipChange, Error> {
        if let Some(reason) = group.membership_skip_reason() {
            tracing::info!(tenant = %tenant, group = %group.id, %reason, "group membership not written");
            return Ok(MembershipChange::Skipped(reason));
        }
        let url = self.member_ref_url(&group.id, user)?;
        match self
            .call(
                tenant,
                "remove_group_member",
                Method::DELETE,
                url,
                None,
                OnNotFound::Answer,
            )
            .await?
        {
            Ok(_) => Ok(MembershipChange::Removed),
            // A 404 naming the group means the group is gone; otherwise the
            // user is not (or no longer) a member.
            Err(f)
                if f.status == StatusCode::NOT_FOUND && !f.message.contains(group.id.as_str()) =>
            {
                Ok(MembershipChange::NotAMember)
            }
            Err(f) => Err(f.into_error(|| format!("group '{}'", group.id))),
        }
    }

    async fn authentication_methods(
        &self,
        tenant: &TenantId,
        user: &ObjectId,
    ) -> Result<Vec<AuthenticationMethod>, Error> {
        let url = self.url(&["users", user.as_str(), "authentication", "methods"])?;
        let raw: Vec<Value> = self
            .all_pages(
                tenant,
                "authentication_methods",
                url,
                OnNotFound::AwaitReplication,
                || user_what(user.as_str()),
            )
            .await?;
        raw.iter().map(authentication_method).collect()
    }

    async fn delete_authentication_method(
        &self,
        tenant: &TenantId,
        user: &ObjectId,
        method: &AuthenticationMethod,
    ) -> Result<Deletion, Error> {
        let Some(collection) = method.collection() else {
            return Err(Error::Rejected {
                service: SERVICE,
                status: 405,
                code: "NotDeletable".into(),
                message: format!(
                    "graph v1.0 cannot delete a {} authentication method",
                    method.kind
                ),
            });
        };
        let url = self.url(&[
            "users",
            user.as_str(),
            "authentication",
            collection,
            method.id.as_str(),
        ])?;
        match self
            .call(
                tenant,
                "delete_authentication_method",
                Method::DELETE,
                url,
                None,
                OnNotFound::Answer,
            )
            .await?
        {
            Ok(_) => Ok(Deletion::Deleted),
            Err(f) if f.status == StatusCode::NOT_FOUND => Ok(Deletion::AlreadyGone),
            Err(f) => Err(f.into_error(|| format!("{} method of {}", method.kind, user))),
        }
    }

    async fn security_defaults_enabled(&self, tenant: &TenantId) -> Result<bool, Error> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Policy {
            is_enabled: bool,
        }
        let url = self.url(&["policies", "identitySecurityDefaultsEnforcementPolicy"])?;
        let body = self
            .call(
                tenant,
                "security_defaults",
                Method::GET,
                url,
                None,
                OnNotFound::Answer,
            )
            .await?
            .map_err(|f| f.into_error(|| "the security defaults policy".into()))?;
        parse::<Policy>("security defaults policy", &body).map(|p| p.is_enabled)
    }

    async fn conditional_access_policies(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<ConditionalAccessPolicy>, Error> {
        let url = self.url(&["identity", "conditionalAccess", "policies"])?;
        let raw: Vec<Value> = self
            .all_pages(
                tenant,
                "conditional_access_policies",
                url,
                OnNotFound::Answer,
                || "conditional access policies".into(),
            )
            .await?;
        raw.iter().map(conditional_access_policy).collect()
    }

    async fn temporary_access_pass_policy(&self, tenant: &TenantId) -> Result<TapPolicy, Error> {
        let url = self.url(&[
            "policies",
            "authenticationMethodsPolicy",
            "authenticationMethodConfigurations",
            "TemporaryAccessPass",
        ])?;
        let body = self
            .call(
                tenant,
                "temporary_access_pass_policy",
                Method::GET,
                url,
                None,
                OnNotFound::Answer,
            )
            .await?
            .map_err(|f| f.into_error(|| "the Temporary Access Pass method policy".into()))?;
        let raw: Value = parse("temporary access pass policy", &body)?;
        Ok(tap_policy(&raw))
    }

    async fn set_automatic_replies(
        &self,
        tenant: &TenantId,
        user: &ObjectId,
        replies: &AutomaticReplies,
    ) -> Result<MailboxChange, Error> {
        let setting = json!({
            "status": "alwaysEnabled",
            "externalAudience": replies.external_audience.to_graph(),
            "internalReplyMessage": replies.internal_message,
            "externalReplyMessage": replies.external_message,
        });
        self.patch_automatic_replies(tenant, user, setting).await
    }

    async fn switch_off_automatic_replies(
        &self,
        tenant: &TenantId,
        user: &ObjectId,
    ) -> Result<MailboxChange, Error> {
        self.patch_automatic_replies(tenant, user, json!({"status": "disabled"}))
            .await
    }
}
