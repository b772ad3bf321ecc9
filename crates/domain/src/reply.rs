//! The automatic reply of an offboarded mailbox: its template (a variable's
//! value, checked when read) and what fills it.

/// The automatic reply of an offboarded mailbox, with placeholders filled in when
/// it is set: `{user_name}`, `{organization}`, `{manager_name}`, `{manager_email}`
/// (the delegate: the form's `delegate_to`, else the manager). Any other `{...}`
/// is refused when the variable is read, so a typo cannot reach a customer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct ReplyTemplate(String);

/// The placeholders a [`ReplyTemplate`] may use.
pub const REPLY_PLACEHOLDERS: &[&str] =
    &["user_name", "organization", "manager_name", "manager_email"];

impl std::str::FromStr for ReplyTemplate {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("is empty".into());
        }
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            let after = &rest[open + 1..];
            let close = after
                .find('}')
                .ok_or_else(|| "has a `{` without its `}`".to_owned())?;
            let name = &after[..close];
            if !REPLY_PLACEHOLDERS.contains(&name) {
                return Err(format!(
                    "uses the unknown placeholder `{{{name}}}`; known: {}",
                    REPLY_PLACEHOLDERS
                        .iter()
                        .map(|p| format!("{{{p}}}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            rest = &after[close + 1..];
        }
        Ok(Self(text.to_owned()))
    }
}

/// What fills a [`ReplyTemplate`]'s placeholders.
#[derive(Debug, Clone, Copy)]
pub struct ReplyContext<'a> {
    /// The offboarded user's display name.
    pub user_name: &'a str,
    /// The organization's name.
    pub organization: &'a str,
    /// The delegate's display name.
    pub manager_name: &'a str,
    /// The delegate's e-mail address.
    pub manager_email: &'a str,
}

impl ReplyTemplate {
    /// The template as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the text names the delegate (and so needs one).
    pub fn names_the_manager(&self) -> bool {
        self.0.contains("{manager_name}") || self.0.contains("{manager_email}")
    }

    /// The reply with every placeholder filled in.
    pub fn render(&self, context: &ReplyContext<'_>) -> String {
        self.0
            .replace("{user_name}", context.user_name)
            .replace("{organization}", context.organization)
            .replace("{manager_name}", context.manager_name)
            .replace("{manager_email}", context.manager_email)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_template_fills_its_placeholders_and_refuses_unknown_ones() {
        let template: ReplyTemplate =
            "{user_name} has left {organization}; write to {manager_name} <{manager_email}>."
                .parse()
                .unwrap();
        let text = template.render(&ReplyContext {
            user_name: "Alex Wilber",
            organization: "Contoso",
            manager_name: "Adele Vance",
            manager_email: "AdeleV@contoso.com",
        });

        assert_eq!(
            text,
            "Alex Wilber has left Contoso; write to Adele Vance <AdeleV@contoso.com>."
        );
        assert!(template.names_the_manager());
        let typo = "Write to {manager}.".parse::<ReplyTemplate>().unwrap_err();
        assert!(typo.contains("`{manager}`"), "{typo}");
        assert!("Write to {manager_name.".parse::<ReplyTemplate>().is_err());
        assert!(
            !"Gone."
                .parse::<ReplyTemplate>()
                .unwrap()
                .names_the_manager()
        );
    }
}
