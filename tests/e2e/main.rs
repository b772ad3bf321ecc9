//! End-to-end scenarios of issues 8 (onboarding) and 9 (offboarding) against the real `onboard serve --sandbox
//! --virtual-clock`, driven only through HTTP; the sandbox's Graph tenant, PSA
//! tickets and outbox are read through the sandbox's own endpoints.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod actions;
mod api;
mod batch;
mod console;
mod destinations;
mod exchange;
mod helpers;
mod lost_answers;
mod mailbox_access;
mod mfa;
mod offboarding;
mod plan;
mod security;
mod sherweb;
mod sign_in;
mod templates;
mod workflow;
