//! An organization's named templates ("a new sales rep at Contoso"): the fields a
//! new user of that kind gets, filled into a form that names the template in
//! `template` wherever the form leaves the field empty.
//!
//! A template is checked as the form's fields are (the same lengths, SKU part
//! numbers, addresses), and an unknown field is an error naming it, so a typo in
//! `[organizations.X.templates.NAME]` fails at start-up instead of silently
//! doing nothing.

use serde::Serialize;
use serde_json::{Map, Value as Json};

use crate::error::{DomainError, FieldError};
use crate::license::SkuPartNumber;
use crate::request::{Form, MAX_DEPARTMENT, MAX_JOB_TITLE, MAX_OFFICE, group_name};
use crate::values::{CountryCode, EmailAddress};

/// The longest template name.
pub const MAX_NAME: usize = 64;

/// The fields a template may set: each one the onboarding form's field of the
/// same name, but `description`, which says what the template is for.
pub const TEMPLATE_FIELDS: &[&str] = &[
    "description",
    "department",
    "job_title",
    "office_location",
    "usage_location",
    "manager_email",
    "licenses",
    "groups",
    "shared_mailboxes",
];

/// A checked template.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Template {
    /// What the template is for, shown in the console.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Department.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    /// Job title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_title: Option<String>,
    /// Office location.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub office_location: Option<String>,
    /// License country.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage_location: Option<CountryCode>,
    /// The manager's address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manager_email: Option<EmailAddress>,
    /// SKUs, without repeats.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub licenses: Vec<SkuPartNumber>,
    /// Groups by display name, without repeats.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// Shared mailboxes by address, without repeats.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub shared_mailboxes: Vec<EmailAddress>,
}

impl Template {
    /// Checks a template's body (a JSON object of [`TEMPLATE_FIELDS`]); every bad
    /// or unknown field is reported at once, by its name.
    pub fn parse(body: &Json) -> Result<Template, DomainError> {
        let mut form = Form::new(body)?;
        let template = Template {
            description: form.text("description", 512),
            department: form.text("department", MAX_DEPARTMENT),
            job_title: form.text("job_title", MAX_JOB_TITLE),
            office_location: form.text("office_location", MAX_OFFICE),
            usage_location: form.parsed("usage_location", |s| s.parse::<CountryCode>()),
            manager_email: form.parsed("manager_email", str::parse::<EmailAddress>),
            licenses: form.list("licenses", str::parse::<SkuPartNumber>),
            groups: form.list("groups", group_name),
            shared_mailboxes: form.list("shared_mailboxes", str::parse::<EmailAddress>),
        };
        for field in form.ignored(TEMPLATE_FIELDS) {
            form.error(
                &field,
                format!(
                    "is not a template field (they are {})",
                    TEMPLATE_FIELDS.join(", ")
                ),
            );
        }
        form.finish(Some(template))
    }

    /// The template as a JSON object, without its empty fields (what the store keeps).
    pub fn to_body(&self) -> Json {
        serde_json::to_value(self).unwrap_or_else(|_| Json::Object(Map::new()))
    }

    /// `form` with this template's fields wherever it leaves them empty (absent,
    /// `null`, blank, or an empty list): a field the form gives wins, whole. The
    /// description is not a form field and is not copied.
    pub fn fill(&self, form: &Json) -> Json {
        let Json::Object(given) = form else {
            return form.clone();
        };
        let mut filled = given.clone();
        let Json::Object(body) = self.to_body() else {
            return form.clone();
        };
        for (field, value) in body {
            if field == "description" {
                continue;
            }
            let empty = match given.get(&field) {
                None | Some(Json::Null) => true,
                Some(Json::String(s)) => s.trim().is_empty(),
                Some(Json::Array(items)) => items.is_empty(),
                Some(_) => false,
            };
            if empty {
                filled.insert(field, value);
            }
        }
        Json::Object(filled)
    }
}

/// Checks a template's name: 1 to [`MAX_NAME`] letters, digits, spaces, `-`,
/// `_` and `.`, trimmed.
pub fn check_name(name: &str) -> Result<&str, FieldError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(FieldError::new("name", "is required"));
    }
    if name.chars().count() > MAX_NAME {
        return Err(FieldError::new(
            "name",
            format!("is longer than {MAX_NAME} characters"),
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.')))
    {
        return Err(FieldError::new(
            "name",
            format!(
                "`{bad}` is not allowed: a template name is letters, digits, spaces, `-`, `_` and `.`"
            ),
        ));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use super::*;

    fn errors(body: Json) -> Vec<(String, String)> {
        match Template::parse(&body) {
            Err(DomainError::InvalidRequest { errors }) => {
                errors.into_iter().map(|e| (e.field, e.message)).collect()
            }
            other => panic!("expected field errors, got {other:?}"),
        }
    }

    #[test]
    fn a_template_reads_every_field_and_drops_repeats() {
        let t = Template::parse(&json!({
            "description": "A sales rep",
            "department": " Sales ",
            "job_title": "Account Executive",
            "usage_location": "gb",
            "manager_email": "Dana@Contoso.com",
            "licenses": ["SPB", "SPB"],
            "groups": ["Sales", "All staff", "Sales"],
            "shared_mailboxes": ["sales@contoso.com"]
        }))
        .unwrap();
        assert_eq!(t.department.as_deref(), Some("Sales"));
        assert_eq!(t.usage_location.unwrap().as_str(), "GB");
        assert_eq!(t.licenses.len(), 1);
        assert_eq!(t.groups, ["Sales", "All staff"]);
        assert_eq!(
            Template::parse(&t.to_body()).unwrap(),
            t,
            "the stored body reads back as the same template"
        );
    }

    #[test]
    fn every_bad_or_unknown_field_is_named() {
        let found = errors(json!({
            "department": "x".repeat(65),
            "licenses": ["not a sku!"],
            "manager_email": "nobody",
            "grups": ["Sales"],
            "first_name": "Ana"
        }));
        let fields: Vec<&str> = found.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            [
                "department",
                "manager_email",
                "licenses[0]",
                "first_name",
                "grups"
            ]
        );
        assert!(found[3].1.contains("not a template field"), "{found:?}");
        assert_eq!(errors(json!(["Sales"]))[0].0, "body");
    }

    #[test]
    fn a_template_fills_only_what_the_form_leaves_empty() {
        let t = Template::parse(&json!({
            "description": "not a form field",
            "department": "Sales",
            "job_title": "Rep",
            "groups": ["Sales"],
            "licenses": ["SPB"]
        }))
        .unwrap();
        let form = json!({
            "organization": "contoso",
            "first_name": "Ana",
            "job_title": "Senior Rep",
            "department": " ",
            "groups": [],
            "licenses": ["O365_BUSINESS_PREMIUM"],
            "template": "sales"
        });
        let filled = t.fill(&form);
        assert_eq!(filled["job_title"], "Senior Rep", "the form's value wins");
        assert_eq!(filled["department"], "Sales", "a blank field is filled");
        assert_eq!(
            filled["groups"],
            json!(["Sales"]),
            "an empty list is filled"
        );
        assert_eq!(
            filled["licenses"],
            json!(["O365_BUSINESS_PREMIUM"]),
            "a given list wins whole"
        );
        assert!(filled.get("description").is_none());
        assert_eq!(filled["first_name"], "Ana");
    }

    #[test]
    fn names_are_checked() {
        assert_eq!(check_name(" Sales rep 2.0 ").unwrap(), "Sales rep 2.0");
        assert!(check_name("").is_err());
        assert!(check_name("a/b").unwrap_err().message.contains("`/`"));
        assert!(check_name(&"a".repeat(65)).is_err());
    }
}
