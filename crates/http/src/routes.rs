//! Every route both runtimes serve, each with the [`Need`] it states: the router
//! is built from this one table ([`table`]), so a route cannot exist without a
//! need, and [`crate::access::enforce`] checks it in front of the handler.

use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{MethodFilter, MethodRouter, on};

use crate::access::Need;
use crate::sign_in::Role::{Admin, Approver, Technician, Viewer};
use crate::sign_in::routes as auth;
use crate::{
    HttpState, actions, api, batch, batch_page, decisions, lookups, onboarding_form, openapi,
    organizations_page, pages, plan, run_page, runs, templates,
};

/// One route: its method and path, what it needs, its handler.
pub struct Route {
    /// The method.
    pub method: Method,
    /// The path, with `{id}` parameters as axum writes them.
    pub path: &'static str,
    /// What a request needs to reach the handler.
    pub need: Need,
    pub(crate) handler: MethodRouter<HttpState>,
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} ({:?})", self.method, self.path, self.need)
    }
}

fn r<H, T>(method: Method, path: &'static str, need: Need, handler: H) -> Route
where
    H: Handler<T, HttpState>,
    T: 'static,
{
    let filter = MethodFilter::try_from(method.clone()).unwrap_or(MethodFilter::GET);
    Route {
        method,
        path,
        need,
        handler: on(filter, handler),
    }
}

/// The decision links' path: `DECISIONS_PREFIX` and the id (a test holds the two together).
const DECISION_LINK: &str = "/decisions/{id}";

/// Every route, in the order a reader finds them: the API, the decision links,
/// the sign-in, then the console's pages.
pub fn table() -> Vec<Route> {
    use Method as M;
    use Need::{Anyone, Api, Link, Page};
    vec![
        // The JSON API (CONTRACT.md §2, §4).
        r(
            M::POST,
            "/api/onboardings",
            Api(Technician),
            api::create_onboarding,
        ),
        r(
            M::GET,
            "/api/onboardings",
            Api(Viewer),
            runs::list_onboardings,
        ),
        r(
            M::POST,
            "/api/onboardings/batch",
            Api(Technician),
            batch::create_onboarding_batch,
        ),
        r(
            M::POST,
            "/api/offboardings/batch",
            Api(Technician),
            batch::create_offboarding_batch,
        ),
        r(M::GET, "/api/batches/{id}", Api(Viewer), batch::get_batch),
        r(
            M::POST,
            "/api/onboardings/plan",
            Api(Technician),
            plan::plan_onboarding,
        ),
        r(
            M::POST,
            "/api/offboardings/plan",
            Api(Technician),
            plan::plan_offboarding,
        ),
        r(
            M::GET,
            "/api/organizations/{id}/licenses",
            Api(Technician),
            lookups::licenses,
        ),
        r(
            M::GET,
            "/api/organizations/{id}/groups",
            Api(Technician),
            lookups::groups,
        ),
        r(
            M::GET,
            "/api/organizations/{id}/users",
            Api(Technician),
            lookups::users,
        ),
        r(
            M::GET,
            "/api/organizations/{id}/templates",
            Api(Technician),
            templates::list_templates,
        ),
        // Making one from a user reads the directory only, as the pickers do;
        // replacing and deleting change what every later form gets.
        r(
            M::POST,
            "/api/organizations/{id}/templates",
            Api(Technician),
            templates::create_template_from_user,
        ),
        r(
            M::GET,
            "/api/organizations/{id}/templates/{name}",
            Api(Technician),
            templates::get_template,
        ),
        r(
            M::PUT,
            "/api/organizations/{id}/templates/{name}",
            Api(Admin),
            templates::put_template,
        ),
        r(
            M::DELETE,
            "/api/organizations/{id}/templates/{name}",
            Api(Admin),
            templates::delete_template,
        ),
        r(
            M::GET,
            "/api/onboardings/{id}",
            Api(Viewer),
            api::get_onboarding,
        ),
        r(
            M::PATCH,
            "/api/onboardings/{id}",
            Api(Technician),
            actions::patch_onboarding,
        ),
        r(
            M::POST,
            "/api/onboardings/{id}/cancel",
            Api(Technician),
            actions::cancel_onboarding,
        ),
        r(
            M::POST,
            "/api/onboardings/{id}/resend",
            Api(Technician),
            actions::resend_onboarding,
        ),
        r(
            M::POST,
            "/api/offboardings",
            Api(Technician),
            api::create_offboarding,
        ),
        r(
            M::GET,
            "/api/offboardings",
            Api(Viewer),
            runs::list_offboardings,
        ),
        r(
            M::GET,
            "/api/offboardings/{id}",
            Api(Viewer),
            api::get_offboarding,
        ),
        r(
            M::PATCH,
            "/api/offboardings/{id}",
            Api(Technician),
            actions::patch_offboarding,
        ),
        r(
            M::POST,
            "/api/offboardings/{id}/cancel",
            Api(Technician),
            actions::cancel_offboarding,
        ),
        r(
            M::POST,
            "/api/offboardings/{id}/resend",
            Api(Technician),
            actions::resend_offboarding,
        ),
        r(
            M::POST,
            "/api/offboardings/{id}/restore",
            Api(Technician),
            actions::restore_offboarding,
        ),
        r(
            M::GET,
            "/api/organizations",
            Api(Viewer),
            api::organizations,
        ),
        r(
            M::GET,
            "/api/openapi.json",
            Api(Viewer),
            openapi::openapi_json,
        ),
        // Decision links: the signature is their authority.
        r(M::GET, DECISION_LINK, Link, decisions::confirmation_page),
        r(M::POST, DECISION_LINK, Link, decisions::decide),
        // Signing in and out.
        r(M::GET, auth::SIGN_IN_PATH, Anyone, auth::sign_in),
        r(M::GET, auth::CALLBACK_PATH, Anyone, auth::callback),
        r(M::POST, auth::SIGN_OUT_PATH, Anyone, auth::sign_out),
        r(M::GET, auth::SIGNED_OUT_PATH, Anyone, auth::signed_out),
        r(M::GET, auth::ACCOUNT_PATH, Anyone, auth::account),
        // The console.
        r(M::GET, "/", Page(Viewer), pages::form_page),
        r(
            M::GET,
            "/assets/console.js",
            Anyone,
            onboarding_form::console_js,
        ),
        r(
            M::POST,
            "/onboardings",
            Page(Technician),
            pages::submit_form,
        ),
        r(
            M::POST,
            "/onboardings/plan",
            Page(Technician),
            pages::plan_form,
        ),
        r(
            M::GET,
            "/onboardings/{id}",
            Page(Viewer),
            run_page::onboarding_page,
        ),
        r(
            M::POST,
            "/onboardings/{id}/{action}",
            Page(Technician),
            run_page::onboarding_action,
        ),
        r(
            M::GET,
            "/offboard",
            Page(Viewer),
            pages::offboarding_form_page,
        ),
        r(
            M::POST,
            "/offboardings",
            Page(Technician),
            pages::submit_offboarding_form,
        ),
        r(
            M::GET,
            "/offboardings/{id}",
            Page(Viewer),
            run_page::offboarding_page,
        ),
        r(
            M::POST,
            "/offboardings/{id}/{action}",
            Page(Technician),
            run_page::offboarding_action,
        ),
        r(M::GET, "/approvals", Page(Viewer), decisions::pending_page),
        r(
            M::POST,
            "/approvals/{id}/approve",
            Page(Approver),
            decisions::approve_in_console,
        ),
        r(
            M::POST,
            "/approvals/{id}/deny",
            Page(Approver),
            decisions::deny_in_console,
        ),
        r(
            M::POST,
            "/approvals/{id}/confirm",
            Page(Technician),
            decisions::confirm_in_console,
        ),
        r(
            M::POST,
            "/approvals/{id}/reject",
            Page(Technician),
            decisions::reject_in_console,
        ),
        r(
            M::GET,
            "/batches/new",
            Page(Viewer),
            batch_page::upload_page,
        ),
        r(
            M::POST,
            "/batches/plan",
            Page(Technician),
            batch_page::plan_batch,
        ),
        r(
            M::POST,
            "/batches",
            Page(Technician),
            batch_page::start_batch,
        ),
        r(
            M::GET,
            "/batches/{id}",
            Page(Viewer),
            batch_page::progress_page,
        ),
        r(
            M::GET,
            "/organizations",
            Page(Admin),
            organizations_page::list,
        ),
        r(
            M::GET,
            "/organizations/{id}",
            Page(Admin),
            organizations_page::one,
        ),
        r(
            M::POST,
            "/organizations/{id}/templates",
            Page(Admin),
            organizations_page::make_template,
        ),
    ]
}

/// Whether a route is part of the console (routed only when the console is).
pub fn is_console(route: &Route) -> bool {
    match route.need {
        Need::Page(_) => true,
        Need::Anyone => true,
        Need::Api(_) | Need::Link => false,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn every_route_is_listed_once_and_states_what_it_needs() {
        let routes = table();
        let mut seen = BTreeSet::new();
        for route in &routes {
            assert!(
                seen.insert((route.method.to_string(), route.path)),
                "{route:?} is listed twice"
            );
            let api = route.path.starts_with("/api/");
            match route.need {
                Need::Api(_) => assert!(api, "{route:?}: only /api/* takes API keys"),
                Need::Page(_) => assert!(!api, "{route:?}: /api/* is not a page"),
                Need::Link => assert!(route.path.starts_with(decisions::DECISIONS_PREFIX)),
                Need::Anyone => assert!(
                    route.path.starts_with("/auth/") || route.path.starts_with("/assets/"),
                    "{route:?}: only the sign-in and the script are open to anyone"
                ),
            }
            // Anything that changes something needs more than a viewer.
            if route.method != Method::GET
                && let Some(role) = route.need.role()
            {
                assert_ne!(
                    role, Viewer,
                    "{route:?} changes something with the viewer role"
                );
            }
        }
        assert_eq!(
            DECISION_LINK,
            format!("{}{{id}}", decisions::DECISIONS_PREFIX),
            "the decision route and the signer's path agree"
        );
    }
}
