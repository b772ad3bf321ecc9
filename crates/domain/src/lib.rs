//! Onboard's pure rules of onboarding.
//!
//! This crate does no I/O and has no async code: everything here is a function
//! of its arguments, so every other crate can call it and every rule can be
//! tested with a table.

#![warn(missing_docs)]
