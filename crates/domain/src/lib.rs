//! Onboard's pure rules of onboarding.
//!
//! This crate does no I/O and has no async code: everything here is a function of its
//! arguments (time is passed in as `now`, never read), so every other crate can call it
//! and every rule can be tested with a table. It depends on no other Onboard crate.
//! The only reach outside is [`password::generate_password`], which reads the operating
//! system's CSPRNG; [`password::generate_password_with`] takes the generator instead.
//!
//! - [`request`]: onboarding and offboarding forms parsed into validated requests,
//!   every bad field reported at once.
//! - [`variables`]: every organization variable with its default, type and aliases;
//!   layered resolution (built-in defaults <- MSP-wide <- organization).
//! - [`username`]: usernames from names: formats, transliteration, limits, collisions.
//! - [`password`]: password generation and a password type that never prints itself.
//! - [`license`]: the license decision per requested SKU.
//! - [`notes`]: the text of every ticket note.
//! - [`plan`]: what a run will do (approval, schedule, settings), decided up front.
//! - [`values`]: small validated values (e-mail address, country code, time zone).
//! - [`error`]: [`DomainError`], the one error type.

#![warn(missing_docs)]

#[macro_use]
pub mod values;
pub mod error;
pub mod license;
pub mod notes;
pub mod password;
pub mod plan;
pub mod request;
pub mod username;
pub mod variables;

pub use error::{DomainError, FieldError};
pub use license::{LicensePlan, SkuPartNumber, decide_licenses};
pub use password::{Password, generate_password};
pub use plan::{plan_offboarding, plan_onboarding};
pub use request::{OffboardingRequest, OnboardingRequest, parse_offboarding, parse_onboarding};
pub use username::{Username, UsernameChoice, choose_username};
pub use variables::{VariableLayer, Variables};
