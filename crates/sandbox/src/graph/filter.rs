//! The slice of OData `$filter` Graph accepts on users and groups without advanced queries.
//!
//! Supported: `prop eq 'text'`, `prop eq true|false`, `startswith(prop,'text')`,
//! `proxyAddresses/any(x:x eq 'smtp:a@b.com')`, joined with `and` / `or` and
//! parentheses. String comparison is case-insensitive, as in the directory.
//! Anything else (`ne`, `endswith`, `not`, `$count`...) needs
//! `ConsistencyLevel: eventual` on the real service, which the simulator does
//! not model: it answers `Request_UnsupportedQuery` naming the property.

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Filter {
    /// `prop eq 'text'`.
    Eq(String, Literal),
    /// `startswith(prop,'text')`.
    StartsWith(String, String),
    /// `prop/any(x:x eq 'text')`.
    AnyEq(String, String),
    /// Both.
    And(Box<Filter>, Box<Filter>),
    /// Either.
    Or(Box<Filter>, Box<Filter>),
}

/// A literal on the right of `eq`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Literal {
    /// `'text'` with `''` unescaped.
    Text(String),
    /// `true` / `false`.
    Bool(bool),
}

/// Why a filter was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FilterError {
    /// Well-formed but not supported for this property.
    Unsupported(String),
    /// Not a filter at all.
    Syntax,
}

/// A property's value as the filter sees it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Field<'a> {
    /// A string property (absent = null, never equal).
    Text(Option<&'a str>),
    /// A boolean property.
    Bool(bool),
    /// A collection of strings (`proxyAddresses`).
    List(&'a [String]),
}

impl Filter {
    /// Parses `source`, accepting only the properties `supported` names (exact case
    /// as Graph documents them; matching is case-insensitive like the service).
    pub(crate) fn parse(source: &str, supported: &[&str]) -> Result<Filter, FilterError> {
        let tokens = tokenize(source)?;
        let mut parser = Parser {
            tokens,
            at: 0,
            supported,
        };
        let filter = parser.or()?;
        if parser.at != parser.tokens.len() {
            return Err(FilterError::Syntax);
        }
        Ok(filter)
    }

    /// Whether an object matches, reading properties through `field`.
    pub(crate) fn matches<'a>(&self, field: &impl Fn(&str) -> Field<'a>) -> bool {
        match self {
            Filter::Eq(property, literal) => match (field(property), literal) {
                (Field::Text(Some(value)), Literal::Text(text)) => value.eq_ignore_ascii_case(text),
                (Field::Bool(value), Literal::Bool(wanted)) => value == *wanted,
                _ => false,
            },
            Filter::StartsWith(property, prefix) => match field(property) {
                Field::Text(Some(value)) => value
                    .get(..prefix.len())
                    .is_some_and(|head| head.eq_ignore_ascii_case(prefix)),
                _ => false,
            },
            Filter::AnyEq(property, text) => match field(property) {
                Field::List(values) => values.iter().any(|v| v.eq_ignore_ascii_case(text)),
                _ => false,
            },
            Filter::And(a, b) => a.matches(field) && b.matches(field),
            Filter::Or(a, b) => a.matches(field) || b.matches(field),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Text(String),
    Open,
    Close,
    Comma,
    Colon,
    Slash,
}

fn tokenize(source: &str) -> Result<Vec<Token>, FilterError> {
    let mut tokens = Vec::new();
    let mut chars = source.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            ' ' | '\t' => {
                chars.next();
            }
            '(' | ')' | ',' | ':' | '/' => {
                chars.next();
                tokens.push(match c {
                    '(' => Token::Open,
                    ')' => Token::Close,
                    ',' => Token::Comma,
                    ':' => Token::Colon,
                    _ => Token::Slash,
                });
            }
            '\'' => {
                chars.next();
                let mut text = String::new();
                loop {
                    match chars.next() {
                        Some('\'') if chars.peek() == Some(&'\'') => {
                            chars.next();
                            text.push('\'');
                        }
                        Some('\'') => break,
                        Some(other) => text.push(other),
                        None => return Err(FilterError::Syntax),
                    }
                }
                tokens.push(Token::Text(text));
            }
            _ => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_alphanumeric() || matches!(c, '_' | '.' | '@' | '-' | '$') {
                        word.push(c);
                        chars.next();
                    } else {
                        break;
                    }
                }
                if word.is_empty() {
                    return Err(FilterError::Syntax);
                }
                tokens.push(Token::Word(word));
            }
        }
    }
    Ok(tokens)
}

struct Parser<'s> {
    tokens: Vec<Token>,
    at: usize,
    supported: &'s [&'s str],
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn expect(&mut self, wanted: &Token) -> Result<(), FilterError> {
        if self.next().as_ref() == Some(wanted) {
            Ok(())
        } else {
            Err(FilterError::Syntax)
        }
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    fn or(&mut self) -> Result<Filter, FilterError> {
        let mut left = self.and()?;
        while self.keyword("or") {
            self.at += 1;
            let right = self.and()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter, FilterError> {
        let mut left = self.term()?;
        while self.keyword("and") {
            self.at += 1;
            let right = self.term()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    /// The supported spelling of `name`, or `Unsupported(name)`.
    fn property(&self, name: &str) -> Result<String, FilterError> {
        self.supported
            .iter()
            .find(|p| p.eq_ignore_ascii_case(name))
            .map(|p| (*p).to_owned())
            .ok_or_else(|| FilterError::Unsupported(name.to_owned()))
    }

    fn term(&mut self) -> Result<Filter, FilterError> {
        match self.next() {
            Some(Token::Open) => {
                let inner = self.or()?;
                self.expect(&Token::Close)?;
                Ok(inner)
            }
            Some(Token::Word(function)) if self.peek() == Some(&Token::Open) => {
                self.at += 1;
                let Some(Token::Word(name)) = self.next() else {
                    return Err(FilterError::Syntax);
                };
                if !function.eq_ignore_ascii_case("startswith") {
                    return Err(FilterError::Unsupported(name));
                }
                let property = self.property(&name)?;
                self.expect(&Token::Comma)?;
                let Some(Token::Text(prefix)) = self.next() else {
                    return Err(FilterError::Syntax);
                };
                self.expect(&Token::Close)?;
                Ok(Filter::StartsWith(property, prefix))
            }
            Some(Token::Word(name)) if self.peek() == Some(&Token::Slash) => {
                // `proxyAddresses/any(x:x eq 'value')`
                self.at += 1;
                let property = self.property(&name)?;
                if !self.keyword("any") {
                    return Err(FilterError::Unsupported(name));
                }
                self.at += 1;
                self.expect(&Token::Open)?;
                let Some(Token::Word(var)) = self.next() else {
                    return Err(FilterError::Syntax);
                };
                self.expect(&Token::Colon)?;
                if self.next() != Some(Token::Word(var)) {
                    return Err(FilterError::Syntax);
                }
                if !self.keyword("eq") {
                    return Err(FilterError::Unsupported(name));
                }
                self.at += 1;
                let Some(Token::Text(text)) = self.next() else {
                    return Err(FilterError::Syntax);
                };
                self.expect(&Token::Close)?;
                Ok(Filter::AnyEq(property, text))
            }
            Some(Token::Word(name)) => {
                let Some(Token::Word(op)) = self.next() else {
                    return Err(FilterError::Syntax);
                };
                if !op.eq_ignore_ascii_case("eq") {
                    return Err(FilterError::Unsupported(name));
                }
                let property = self.property(&name)?;
                let literal = match self.next() {
                    Some(Token::Text(text)) => Literal::Text(text),
                    Some(Token::Word(w)) if w == "true" => Literal::Bool(true),
                    Some(Token::Word(w)) if w == "false" => Literal::Bool(false),
                    _ => return Err(FilterError::Syntax),
                };
                Ok(Filter::Eq(property, literal))
            }
            _ => Err(FilterError::Syntax),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const USER: &[&str] = &[
        "userPrincipalName",
        "mail",
        "proxyAddresses",
        "accountEnabled",
    ];

    fn user<'a>(upn: &'a str, proxies: &'a [String]) -> impl Fn(&str) -> Field<'a> {
        move |p| match p {
            "userPrincipalName" => Field::Text(Some(upn)),
            "mail" => Field::Text(None),
            "proxyAddresses" => Field::List(proxies),
            "accountEnabled" => Field::Bool(true),
            _ => Field::Text(None),
        }
    }

    #[test]
    fn eq_is_case_insensitive_and_unescapes_doubled_quotes() {
        let filter = Filter::parse("userPrincipalName eq 'O''Brien@Contoso.com'", USER).unwrap();

        assert!(filter.matches(&user("o'brien@contoso.com", &[])));
        assert!(!filter.matches(&user("obrien@contoso.com", &[])));
    }

    #[test]
    fn or_joins_upn_mail_and_proxy_address_clauses() {
        let proxies = vec![
            "SMTP:a@contoso.com".to_owned(),
            "smtp:jd@contoso.com".to_owned(),
        ];
        let filter = Filter::parse(
            "userPrincipalName eq 'jd@contoso.com' or mail eq 'jd@contoso.com' or proxyAddresses/any(x:x eq 'smtp:jd@contoso.com')",
            USER,
        )
        .unwrap();

        assert!(filter.matches(&user("a@contoso.com", &proxies)));
        assert!(!filter.matches(&user("a@contoso.com", &[])));
    }

    #[test]
    fn startswith_matches_a_prefix() {
        let filter = Filter::parse("startswith(userPrincipalName,'jdoe')", USER).unwrap();

        assert!(filter.matches(&user("JDoe2@contoso.com", &[])));
        assert!(!filter.matches(&user("jd@contoso.com", &[])));
    }

    #[test]
    fn advanced_operators_and_unknown_properties_are_unsupported_by_name() {
        assert_eq!(
            Filter::parse("endswith(mail,'@contoso.com')", USER),
            Err(FilterError::Unsupported("mail".into()))
        );
        assert_eq!(
            Filter::parse("mail ne 'x'", USER),
            Err(FilterError::Unsupported("mail".into()))
        );
        assert_eq!(
            Filter::parse("jobTitle eq 'x'", USER),
            Err(FilterError::Unsupported("jobTitle".into()))
        );
        assert_eq!(Filter::parse("mail eq", USER), Err(FilterError::Syntax));
    }
}
