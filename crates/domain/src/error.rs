//! The one error type of this crate: every way a rule can refuse its input.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A problem with one field of a submitted form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// The form field, as named in the JSON body (`first_name`, `actions.hide_from_gal`, ...).
    pub field: String,
    /// What is wrong with it, lowercase, no trailing period.
    pub message: String,
}

impl FieldError {
    /// A field error for `field` saying `message`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Where a variable value came from, so an error can say where to fix it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VariableScope {
    /// The MSP-wide layer, shared by every organization.
    MspWide,
    /// The organization's own layer.
    Organization,
}

impl fmt::Display for VariableScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::MspWide => "msp-wide",
            Self::Organization => "organization",
        })
    }
}

/// Every error of `onboard-domain`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// A form had one or more bad fields; all of them are listed.
    #[error("invalid request: {}", join(errors))]
    InvalidRequest {
        /// Every bad field, in form order.
        errors: Vec<FieldError>,
    },

    /// An organization variable had a value of the wrong type or outside its range.
    #[error(
        "variable `{variable}` for organization `{organization}` has bad {scope} value {value}: {reason}"
    )]
    BadVariable {
        /// The canonical variable name.
        variable: String,
        /// The organization whose variables were being resolved.
        organization: String,
        /// The layer the bad value was set in.
        scope: VariableScope,
        /// The value as given (JSON text).
        value: String,
        /// Why it was refused.
        reason: String,
    },

    /// Several variables were bad; all of them are listed.
    #[error("bad variables: {}", join(errors))]
    BadVariables {
        /// One [`DomainError::BadVariable`] per bad value.
        errors: Vec<DomainError>,
    },

    /// A variable that another variable's value makes necessary is not set.
    #[error(
        "variable `{variable}` for organization `{organization}` must be set because {because}"
    )]
    MissingVariable {
        /// The canonical name of the variable that is missing.
        variable: String,
        /// The organization whose variables were used.
        organization: String,
        /// The setting that needs it (`require_approval_for_new_users is 1`).
        because: String,
    },

    /// A name part has no letter that can become part of a username.
    #[error(
        "cannot make a username from {part} `{value}`: it has no latin, greek or cyrillic letters; give an explicit `username`"
    )]
    NothingToTransliterate {
        /// Which part of the name (`first_name`, `last_name`).
        part: &'static str,
        /// The name as given.
        value: String,
    },

    /// An explicit username is not acceptable as a UPN local part.
    #[error("invalid username `{username}`: {reason}")]
    InvalidUsername {
        /// The username as given.
        username: String,
        /// Why it was refused.
        reason: String,
    },

    /// The username is taken and the collision strategy does not allow another.
    #[error("username `{username}` is already taken{hint}")]
    UsernameTaken {
        /// The taken username.
        username: String,
        /// What the technician can do, starting with `; ` (or empty).
        hint: String,
    },

    /// Every candidate username was taken.
    #[error("no free username from `{base}` after {tried} candidates; give an explicit `username`")]
    UsernamesExhausted {
        /// The base candidate of the format.
        base: String,
        /// How many candidates were tried.
        tried: usize,
    },

    /// A password policy outside what Entra ID accepts.
    #[error("invalid password policy: {0}")]
    PasswordPolicy(String),

    /// The operating system's random number generator failed.
    #[error("the operating system random number generator failed: {0}")]
    Randomness(String),
}

impl DomainError {
    /// The field errors of an [`DomainError::InvalidRequest`], or none.
    pub fn field_errors(&self) -> &[FieldError] {
        match self {
            Self::InvalidRequest { errors } => errors,
            _ => &[],
        }
    }
}

fn join<T: fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}
