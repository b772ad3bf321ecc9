//! The one mapping from what went wrong to an HTTP answer: RFC 7807 problem JSON.
//!
//! Internal causes are logged once, here, with their chain; the client gets a
//! title and a status, never an internal message.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use onboard_domain::FieldError;
use serde_json::json;

/// An error answer of the HTTP API.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The form (or body) has bad fields: 400 with `errors`.
    #[error("invalid request")]
    Invalid(Vec<FieldError>),
    /// No such resource.
    #[error("not found")]
    NotFound(&'static str),
    /// The resource is not in a state the request applies to: 409 with the reason.
    #[error("conflict: {0}")]
    Conflict(String),
    /// `/api/*` without a valid API key.
    #[error("unauthorized")]
    Unauthorized,
    /// An `Idempotency-Key` sent again with another body: 422.
    #[error("idempotency key reused with a different body")]
    IdempotencyKeyReused,
    /// The workflow service cannot take the request now: 503 with `Retry-After`;
    /// the cause is logged, never shown.
    #[error("service unavailable")]
    Unavailable(String),
    /// The organization's settings cannot serve this request (`Config.Invalid`):
    /// 500 naming the setting. Such messages name settings, never their values.
    #[error("misconfigured: {0}")]
    Misconfigured(String),
    /// Anything else; the source is logged, never shown.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    /// An internal error from any error (or message).
    pub fn internal(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        ApiError::Internal(e.into())
    }

    /// One bad field.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        ApiError::Invalid(vec![FieldError::new(field, message)])
    }
}

impl From<onboard_store::StoreError> for ApiError {
    fn from(e: onboard_store::StoreError) -> Self {
        ApiError::internal(e)
    }
}

impl From<crate::RuntimeError> for ApiError {
    fn from(e: crate::RuntimeError) -> Self {
        match e {
            crate::RuntimeError::Unavailable(cause) => ApiError::Unavailable(cause),
            other => ApiError::internal(other),
        }
    }
}

/// An error and its sources, one line: `a: b: c`.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// A problem+json response.
pub fn problem(status: StatusCode, title: &str, extra: serde_json::Value) -> Response {
    let mut body = json!({
        "type": "about:blank",
        "title": title,
        "status": status.as_u16(),
    });
    if let (Some(b), serde_json::Value::Object(extra)) = (body.as_object_mut(), extra) {
        b.extend(extra);
    }
    let mut res = (status, body.to_string()).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    res
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Invalid(errors) => problem(
                StatusCode::BAD_REQUEST,
                "The request is invalid",
                json!({"detail": "one or more fields are invalid; nothing was started", "errors": errors}),
            ),
            ApiError::NotFound(what) => problem(
                StatusCode::NOT_FOUND,
                "Not found",
                json!({"detail": format!("no such {what}")}),
            ),
            ApiError::Conflict(why) => {
                problem(StatusCode::CONFLICT, "Conflict", json!({"detail": why}))
            }
            ApiError::Unauthorized => {
                let mut res = problem(
                    StatusCode::UNAUTHORIZED,
                    "Unauthorized",
                    json!({"detail": "send `Authorization: Bearer <api key>`"}),
                );
                res.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                res
            }
            ApiError::IdempotencyKeyReused => problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Idempotency-Key reused",
                json!({"detail": "this Idempotency-Key was first sent with a different body; \
                        send the same body again to get the first answer, or use a new key for a new request. \
                        Nothing was started",
                       "errors": [{"field": "Idempotency-Key", "message": "was used before with a different body"}]}),
            ),
            ApiError::Unavailable(cause) => {
                tracing::error!(error = %cause, "the workflow service is unavailable");
                let mut res = problem(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Service unavailable",
                    json!({"detail": "the workflow service cannot take the request now; send it again in a minute (with the same Idempotency-Key)"}),
                );
                res.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
                res
            }
            ApiError::Misconfigured(why) => {
                tracing::error!(error = %why, "request refused by the configuration");
                problem(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Onboard is not configured for this request",
                    json!({"detail": format!("{why}; nothing was started: fix the setting, then send the request again")}),
                )
            }
            ApiError::Internal(e) => {
                tracing::error!(error = chain(e.as_ref()), "request failed");
                problem(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal server error",
                    json!({"detail": "the server could not complete the request; see its log"}),
                )
            }
        }
    }
}
