//! Graph's and Entra sign-in's own error bodies, word for word where the fact sheet quotes them.
//!
//! Messages marked `[?]` are not in `reference/api-facts.md`; they are the
//! closest wording known and should be checked against a live tenant.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::faults::Fault;

/// One Graph error answer: `{"error":{"code","message","innerError",["details"]}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GraphError {
    pub(crate) status: StatusCode,
    pub(crate) code: &'static str,
    pub(crate) message: String,
    /// `(target, code)` pairs for `details`, e.g. `("userPrincipalName", "ObjectConflict")`.
    pub(crate) details: Vec<(String, &'static str)>,
}

impl GraphError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: Vec::new(),
        }
    }

    /// 400 `Request_BadRequest` with `message`.
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "Request_BadRequest", message)
    }

    /// 404 for an id or UPN that names nothing (or has not replicated yet).
    pub(crate) fn not_found(key: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "Request_ResourceNotFound",
            format!(
                "Resource '{key}' does not exist or one of its queried reference-property objects are not present."
            ),
        )
    }

    /// 400 with an `ObjectConflict` detail: another object already holds `property`'s value.
    pub(crate) fn conflict(property: &str) -> Self {
        let mut error = Self::bad_request(format!(
            "Another object with the same value for property {property} already exists."
        ));
        error.details.push((property.to_owned(), "ObjectConflict"));
        error
    }

    /// 400: the password breaks the Entra complexity rules.
    pub(crate) fn weak_password() -> Self {
        Self::bad_request(
            "The specified password does not comply with password complexity requirements. Please provide a different password.",
        )
    }

    /// 400: a property of `resource` (e.g. `User`) has a value Graph refuses.
    pub(crate) fn invalid_property(property: &str, resource: &str) -> Self {
        Self::bad_request(format!(
            "Invalid value specified for property '{property}' of resource '{resource}'."
        ))
    }

    /// 400: `passwordProfile.password` missing at creation. [?]
    pub(crate) fn password_required() -> Self {
        Self::bad_request(
            "Property passwordProfile.password value is required but is empty or missing.",
        )
    }

    /// 400: the UPN's domain is not one of the tenant's verified domains. [?]
    pub(crate) fn unverified_domain() -> Self {
        Self::bad_request(
            "The domain portion of the userPrincipalName property is invalid. You must use one of the verified domain names in your organization.",
        )
    }

    /// 400: the user is already a member of the group.
    pub(crate) fn already_member() -> Self {
        Self::bad_request(
            "One or more added object references already exist for the following modified properties: 'members'.",
        )
    }

    /// 400: `assignLicense` before the user has a `usageLocation`.
    pub(crate) fn no_usage_location() -> Self {
        Self::bad_request("License assignment cannot be done for user with invalid usage location.")
    }

    /// 400: every seat of the SKU is consumed.
    pub(crate) fn no_free_seats(sku_id: &str) -> Self {
        Self::bad_request(format!(
            "Subscription with SKU {sku_id} does not have any available licenses."
        ))
    }

    /// 400: removing directly a license the user holds through a group.
    pub(crate) fn inherited_license() -> Self {
        Self::bad_request(
            "User license is inherited from a group membership and it cannot be removed directly from the user.",
        )
    }

    /// 400: a `skuId` the tenant has no subscription for. [?]
    pub(crate) fn unknown_sku(sku_id: &str) -> Self {
        Self::bad_request(format!(
            "License {sku_id} does not correspond to a valid company License."
        ))
    }

    /// 400: removing a SKU the user does not hold. [?]
    pub(crate) fn license_not_held() -> Self {
        Self::bad_request("User does not have a corresponding license.")
    }

    /// 400: a `skuId` that is not a GUID.
    pub(crate) fn not_a_guid() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Cannot convert a primitive value to the expected type 'Edm.Guid'. See the inner exception for more details.",
        )
    }

    /// 400: writing the membership of a group, or the sign-in, password or profile of a
    /// user, synchronised from on-premises AD. [?]
    pub(crate) fn synced_object() -> Self {
        Self::bad_request(
            "Unable to update the specified properties for on-premises mastered Directory Sync objects or objects currently undergoing migration.",
        )
    }

    /// 400: writing the membership of a distribution list or mail-enabled
    /// security group (microsoftgraph/microsoft-graph-docs-contrib#7341).
    pub(crate) fn mail_list_membership() -> Self {
        Self::bad_request("Cannot Update a mail-enabled security groups and or distribution list.")
    }

    /// 400: writing the membership of a dynamic group, which its rule owns. [?]
    pub(crate) fn dynamic_membership() -> Self {
        Self::bad_request(
            "Insufficient privileges to complete the operation. Group membership is managed by a dynamic membership rule.",
        )
    }

    /// 403: the application lacks the permission or directory role.
    pub(crate) fn forbidden() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        )
    }

    /// 403: a premium (Entra ID P1) feature on a tenant without it (fact sheet §14).
    pub(crate) fn non_premium_tenant() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
            "Tenant does not have a SKU required for this feature (Entra ID P1 or P2).",
        )
    }

    /// 400: a `$filter` clause Graph does not support without advanced queries.
    pub(crate) fn unsupported_filter(property: &str, resource: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "Request_UnsupportedQuery",
            format!(
                "Unsupported or invalid query filter clause specified for property '{property}' of resource '{resource}'."
            ),
        )
    }

    /// 400: a `$filter` that does not parse. [?]
    pub(crate) fn invalid_filter() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Invalid filter clause",
        )
    }

    /// 400: `$top` outside 1..=999.
    pub(crate) fn page_size(raw: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "Request_BadRequest",
            format!("Invalid page size specified: '{raw}'. Must be between 1 and 999 inclusive."),
        )
    }

    /// 400: `$select` names a property the type does not have. [?]
    pub(crate) fn unknown_select(property: &str, type_name: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            format!(
                "Could not find a property named '{property}' on type 'microsoft.graph.{type_name}'."
            ),
        )
    }

    /// 400: a PATCH body property the type does not declare. [?]
    pub(crate) fn undeclared_property(property: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "Request_BadRequest",
            format!(
                "Property '{property}' does not exist as a declared property or extension property."
            ),
        )
    }

    /// 400: the body is not JSON. [?]
    pub(crate) fn unreadable_body() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.",
        )
    }

    /// 400: a path segment Graph has no resource for.
    pub(crate) fn unknown_segment(segment: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            format!("Resource not found for the segment '{segment}'."),
        )
    }

    /// 404: the user has no Exchange Online mailbox Graph can reach (no Exchange
    /// license, inactive, soft-deleted or on-premises): the mail and mailbox
    /// settings APIs answer this.
    pub(crate) fn no_mailbox() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "MailboxNotEnabledForRESTAPI",
            "The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
        )
    }

    /// 400: deleting the mobile number while an alternate mobile number remains
    /// (phoneauthenticationmethod-delete: "A user can't have an alternateMobile
    /// number without a mobile number"). Wording [?].
    pub(crate) fn mobile_before_alternate() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "badRequest",
            "A user can't have an alternateMobile number without a mobile number: delete the alternateMobile number first.",
        )
    }

    /// 400: a mailbox setting with a value the type does not allow. [?]
    pub(crate) fn invalid_mailbox_setting(property: &str, value: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "ErrorInvalidRequest",
            format!("The value '{value}' is not valid for property '{property}'."),
        )
    }

    /// 401: no bearer token, or one the simulator did not issue or that expired. [?]
    pub(crate) fn unauthenticated(message: &str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            message,
        )
    }

    /// The body as Graph writes it.
    pub(crate) fn body(&self) -> Value {
        let mut error = json!({
            "code": self.code,
            "message": self.message,
            "innerError": inner_error(),
        });
        if !self.details.is_empty() {
            error["details"] = self
                .details
                .iter()
                .map(|(target, code)| json!({"target": target, "code": code}))
                .collect();
        }
        json!({ "error": error })
    }
}

impl IntoResponse for GraphError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body())).into_response()
    }
}

impl GraphError {
    /// The directory's 429 (its `Retry-After` and throttle headers are the caller's to add).
    pub(crate) fn throttled(retry_after_seconds: u64) -> Self {
        GraphError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "Request_ThrottledTemporarily",
            format!(
                "Your request is throttled temporarily. Please try after {retry_after_seconds} seconds."
            ),
        )
    }
}

/// Graph's `innerError`: when, and the ids support would ask for.
fn inner_error() -> Value {
    let date = jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%S")
        .to_string();
    let request_id = uuid::Uuid::new_v4().to_string();
    json!({
        "date": date,
        "request-id": request_id,
        "client-request-id": request_id,
    })
}

/// The body of an injected fault, in Graph's directory flavour.
pub(crate) fn fault_body(fault: Fault) -> Response {
    let error = match fault {
        Fault::Throttle {
            retry_after_seconds,
        } => {
            let mut error = GraphError::throttled(retry_after_seconds).into_response();
            error.headers_mut().insert(
                "x-ms-throttle-information",
                axum::http::HeaderValue::from_static("ResourceUnitLimitExceeded"),
            );
            return error;
        }
        Fault::ServerError(status) if status == StatusCode::SERVICE_UNAVAILABLE => GraphError::new(
            status,
            "serviceNotAvailable",
            "Service is unavailable. Try again later.",
        ),
        Fault::ServerError(status) => GraphError::new(
            status,
            "generalException",
            "An unspecified error has occurred.",
        ),
    };
    error.into_response()
}

/// An Entra sign-in (token endpoint) error: `AADSTS<code>` in `error_description`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SignInError {
    pub(crate) status: StatusCode,
    /// The OAuth error, e.g. `invalid_client`.
    pub(crate) error: &'static str,
    /// The AADSTS number.
    pub(crate) aadsts: u32,
    /// The text after `AADSTS<code>: `.
    pub(crate) text: String,
}

impl SignInError {
    fn new(status: StatusCode, error: &'static str, aadsts: u32, text: impl Into<String>) -> Self {
        Self {
            status,
            error,
            aadsts,
            text: text.into(),
        }
    }

    /// The tenant in the path is neither a known id nor a verified domain.
    pub(crate) fn unknown_tenant(tenant: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            90002,
            format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."
            ),
        )
    }

    /// No application with this client id in the tenant.
    pub(crate) fn unknown_client(client_id: &str, tenant: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            format!(
                "Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
            ),
        )
    }

    /// The secret does not match the application's.
    pub(crate) fn wrong_secret(client_id: &str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000215,
            format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."
            ),
        )
    }

    /// A body field the flow requires is absent.
    pub(crate) fn missing(parameter: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            format!("The request body must contain the following parameter: '{parameter}'."),
        )
    }

    /// A grant type other than `client_credentials`.
    pub(crate) fn unsupported_grant(grant: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            format!("The app requested an unsupported grant type '{grant}'."),
        )
    }

    /// A scope without the `/.default` suffix.
    pub(crate) fn scope_not_default(scope: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            1002012,
            format!(
                "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
            ),
        )
    }

    /// A `/.default` scope of a resource other than Microsoft Graph.
    pub(crate) fn unknown_resource(resource: &str, tenant: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_resource",
            500011,
            format!(
                "The resource principal named {resource} was not found in the tenant named {tenant}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant."
            ),
        )
    }

    /// The body as the token endpoint writes it.
    pub(crate) fn body(&self) -> Value {
        let now = jiff::Timestamp::now();
        let timestamp = now.strftime("%Y-%m-%d %H:%M:%SZ").to_string();
        let trace_id = uuid::Uuid::new_v4().to_string();
        let correlation_id = uuid::Uuid::new_v4().to_string();
        let description = format!(
            "AADSTS{}: {}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {timestamp}",
            self.aadsts, self.text
        );
        json!({
            "error": self.error,
            "error_description": description,
            "error_codes": [self.aadsts],
            "timestamp": timestamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": format!("https://login.microsoftonline.com/error?code={}", self.aadsts),
        })
    }
}

impl IntoResponse for SignInError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body())).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_conflict_names_the_property_in_message_and_details() {
        let body = GraphError::conflict("userPrincipalName").body();

        assert_eq!(body["error"]["code"], "Request_BadRequest");
        assert_eq!(
            body["error"]["message"],
            "Another object with the same value for property userPrincipalName already exists."
        );
        assert_eq!(
            body["error"]["details"],
            json!([{"target": "userPrincipalName", "code": "ObjectConflict"}])
        );
        assert!(body["error"]["innerError"]["request-id"].is_string());
    }

    #[test]
    fn errors_without_details_have_no_details_field() {
        let body = GraphError::not_found("x@contoso.com").body();

        assert!(body["error"].get("details").is_none());
        assert_eq!(
            body["error"]["message"],
            "Resource 'x@contoso.com' does not exist or one of its queried reference-property objects are not present."
        );
    }

    #[test]
    fn sign_in_errors_carry_the_aadsts_code_first_in_the_description() {
        let body = SignInError::wrong_secret("app").body();

        assert_eq!(body["error"], "invalid_client");
        assert_eq!(body["error_codes"], json!([7000215]));
        let description = body["error_description"].as_str().unwrap();
        assert!(description.starts_with("AADSTS7000215: Invalid client secret provided."));
        assert!(description.contains("\r\nTrace ID: "));
        assert!(description.contains("\r\nCorrelation ID: "));
    }
}
