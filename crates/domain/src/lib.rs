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
//! - [`template`]: an organization's named templates, filled into a form that names one.
//! - [`batch`]: a batch of forms (CSV or a JSON array) read into one form per row.
//! - [`variables`]: every organization variable with its default, type and aliases;
//!   layered resolution (built-in defaults <- MSP-wide <- organization).
//! - [`username`]: a person's name, and usernames from it: formats, transliteration, limits, collisions.
//! - [`password`]: password generation and a password type that never prints itself.
//! - [`license`]: the license decision per requested SKU, and the license groups it may use.
//! - [`mfa`]: MFA readiness: which policies make a new user use MFA, whether a TAP can be issued.
//! - [`notes`]: the text of every ticket note.
//! - [`reply`]: the offboarded mailbox's automatic reply: its template and what fills it.
//! - [`plan`]: what a run will do (approval, schedule, settings), decided up front.
//! - [`values`]: small validated values (e-mail address, country code, time zone).
//! - [`error`]: [`DomainError`], the one error type.
//!
//! # Example: from a form to a username and a license plan
//!
//! ```
//! use std::collections::BTreeMap;
//! use onboard_domain::license::{LicenseInputs, LicenseAction, decide_licenses};
//! use onboard_domain::{Variables, VariableLayer, choose_username, parse_onboarding};
//! use serde_json::json;
//!
//! let msp: VariableLayer = serde_json::from_value(json!({"time_zone": "Europe/Berlin"}))?;
//! let org: VariableLayer = serde_json::from_value(json!({"user_name_format": "first.last"}))?;
//! let vars = Variables::resolve("contoso", &msp, &org)?;
//!
//! let form = json!({"organization": "contoso", "first_name": "José", "last_name": "Núñez",
//!                   "licenses": ["SPB"]});
//! let request = parse_onboarding(&form, &vars)?;
//!
//! let choice = choose_username(&request.name, request.username.as_ref(), &vars.username_rules(), ["jose.nunez"])?;
//! assert_eq!(choice.username.as_str(), "jose.nunez2");
//!
//! let plan = decide_licenses(&LicenseInputs {
//!     requested: &request.licenses,
//!     free_seats: &BTreeMap::new(),
//!     method: vars.m365_license_assignment_method,
//!     groups: &vars.license_groups,
//!     auto_purchase_enabled: vars.auto_purchase_license_if_none_available,
//!     purchase_choice: request.license_purchase,
//!     distributor_mapped: vars.microsoft_licensing_distributor.is_some(),
//! });
//! assert!(matches!(plan.items()[0].action, LicenseAction::ManualPurchase { .. }));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

#[macro_use]
pub mod values;
pub mod batch;
pub mod error;
pub mod license;
pub mod mfa;
pub mod notes;
pub mod password;
pub mod plan;
pub mod reply;
pub mod request;
pub mod template;
pub mod username;
pub mod variables;

pub use error::{DomainError, FieldError};
pub use license::{LicensePlan, SkuPartNumber, decide_licenses};
pub use password::{Password, generate_password};
pub use plan::{plan_offboarding, plan_onboarding};
pub use request::{OffboardingRequest, OnboardingRequest, parse_offboarding, parse_onboarding};
pub use username::{Username, UsernameChoice, choose_username};
pub use variables::{VariableLayer, Variables};
