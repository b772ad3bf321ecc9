//! Choice rules as a pure function of the state's input.
//!
//! "A Choice state ... evaluates the Choice Rules in order and transitions to the Next
//! state of the first rule that matches." Comparisons of mismatched types are simply
//! false: "if the Variable ... is not of the type the comparator expects, the rule does
//! not match" — but a Variable that does not exist is an error (`States.Runtime`), except
//! under `IsPresent`.

use crate::error::Failure;
use crate::intrinsics::json_eq;
use crate::json_path::JsonPath;
use crate::payload::Scope;
use serde_json::Value;
use std::cmp::Ordering;

/// A (possibly compound) Choice rule.
#[derive(Debug, Clone)]
pub enum ChoiceRule {
    /// All must match.
    And(Vec<ChoiceRule>),
    /// Any must match.
    Or(Vec<ChoiceRule>),
    /// Must not match.
    Not(Box<ChoiceRule>),
    /// A comparison on `Variable`.
    Compare(Comparison),
}

/// `Variable` + operator + operand.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// `Variable`.
    pub variable: JsonPath,
    /// The comparison operator.
    pub operator: Operator,
    /// The literal, or a path for the `*Path` forms.
    pub operand: Operand,
}

/// The right-hand side of a comparison.
#[derive(Debug, Clone)]
pub enum Operand {
    /// A literal.
    Value(Value),
    /// A path (`StringEqualsPath`, ...).
    Path(JsonPath),
}

/// Every comparison operator; the `*Path` forms share the operator with a path operand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Operator {
    StringEquals,
    StringLessThan,
    StringGreaterThan,
    StringLessThanEquals,
    StringGreaterThanEquals,
    StringMatches,
    NumericEquals,
    NumericLessThan,
    NumericGreaterThan,
    NumericLessThanEquals,
    NumericGreaterThanEquals,
    BooleanEquals,
    TimestampEquals,
    TimestampLessThan,
    TimestampGreaterThan,
    TimestampLessThanEquals,
    TimestampGreaterThanEquals,
    IsNull,
    IsPresent,
    IsNumeric,
    IsString,
    IsBoolean,
    IsTimestamp,
}

impl Operator {
    /// Reads a rule's field name: the operator and whether it is the `*Path` form.
    pub fn from_field(name: &str) -> Option<(Operator, bool)> {
        use Operator::*;
        let (base, is_path) = match name.strip_suffix("Path") {
            Some(b) if !b.starts_with("Is") && b != "StringMatches" => (b, true),
            _ => (name, false),
        };
        let op = match base {
            "StringEquals" => StringEquals,
            "StringLessThan" => StringLessThan,
            "StringGreaterThan" => StringGreaterThan,
            "StringLessThanEquals" => StringLessThanEquals,
            "StringGreaterThanEquals" => StringGreaterThanEquals,
            "StringMatches" => StringMatches,
            "NumericEquals" => NumericEquals,
            "NumericLessThan" => NumericLessThan,
            "NumericGreaterThan" => NumericGreaterThan,
            "NumericLessThanEquals" => NumericLessThanEquals,
            "NumericGreaterThanEquals" => NumericGreaterThanEquals,
            "BooleanEquals" => BooleanEquals,
            "TimestampEquals" => TimestampEquals,
            "TimestampLessThan" => TimestampLessThan,
            "TimestampGreaterThan" => TimestampGreaterThan,
            "TimestampLessThanEquals" => TimestampLessThanEquals,
            "TimestampGreaterThanEquals" => TimestampGreaterThanEquals,
            "IsNull" => IsNull,
            "IsPresent" => IsPresent,
            "IsNumeric" => IsNumeric,
            "IsString" => IsString,
            "IsBoolean" => IsBoolean,
            "IsTimestamp" => IsTimestamp,
            _ => return None,
        };
        Some((op, is_path))
    }

    /// Checks a literal operand's type at validation time.
    pub fn check_operand(self, v: &Value) -> Result<(), String> {
        use Operator::*;
        let ok = match self {
            StringEquals
            | StringLessThan
            | StringGreaterThan
            | StringLessThanEquals
            | StringGreaterThanEquals
            | StringMatches => v.is_string(),
            NumericEquals
            | NumericLessThan
            | NumericGreaterThan
            | NumericLessThanEquals
            | NumericGreaterThanEquals => v.is_number(),
            BooleanEquals | IsNull | IsPresent | IsNumeric | IsString | IsBoolean | IsTimestamp => {
                v.is_boolean()
            }
            TimestampEquals
            | TimestampLessThan
            | TimestampGreaterThan
            | TimestampLessThanEquals
            | TimestampGreaterThanEquals => v.as_str().and_then(parse_timestamp).is_some(),
        };
        if ok {
            Ok(())
        } else {
            Err(format!("the operand of {self:?} has the wrong type: {v}"))
        }
    }
}

/// Parses the RFC 3339 profile AWS accepts: uppercase `T`, and `Z` or a numeric offset.
pub fn parse_timestamp(s: &str) -> Option<jiff::Timestamp> {
    let b = s.as_bytes();
    if b.len() < 20 || b.get(10) != Some(&b'T') {
        return None;
    }
    let tail_ok = s.ends_with('Z') || {
        let t = &b[b.len() - 6..];
        (t[0] == b'+' || t[0] == b'-') && t[3] == b':'
    };
    if !tail_ok {
        return None;
    }
    s.parse::<jiff::Timestamp>().ok()
}

/// Evaluates a rule against the state's effective input.
pub fn evaluate(rule: &ChoiceRule, scope: &Scope<'_>) -> Result<bool, Failure> {
    match rule {
        ChoiceRule::And(rs) => {
            for r in rs {
                if !evaluate(r, scope)? {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        ChoiceRule::Or(rs) => {
            for r in rs {
                if evaluate(r, scope)? {
                    return Ok(true);
                }
            }
            Ok(false)
        }
        ChoiceRule::Not(r) => Ok(!evaluate(r, scope)?),
        ChoiceRule::Compare(c) => compare(c, scope),
    }
}

fn invalid_path(p: &JsonPath) -> Failure {
    Failure::runtime(format!(
        "Invalid path '{p}': The choice state's condition path references an invalid value."
    ))
}

fn compare(c: &Comparison, scope: &Scope<'_>) -> Result<bool, Failure> {
    use Operator::*;
    let var = scope.select(&c.variable);
    if c.operator == IsPresent {
        let want = operand(c, scope)?.as_bool().unwrap_or(true);
        return Ok(var.is_some() == want);
    }
    let var = var.ok_or_else(|| invalid_path(&c.variable))?;
    let rhs = operand(c, scope)?;
    let ord = |a: Option<Ordering>, f: fn(Ordering) -> bool| a.is_some_and(f);
    Ok(match c.operator {
        StringEquals => var.is_string() && var == rhs,
        StringLessThan => ord(str_cmp(&var, &rhs), |o| o.is_lt()),
        StringGreaterThan => ord(str_cmp(&var, &rhs), |o| o.is_gt()),
        StringLessThanEquals => ord(str_cmp(&var, &rhs), |o| o.is_le()),
        StringGreaterThanEquals => ord(str_cmp(&var, &rhs), |o| o.is_ge()),
        StringMatches => match (var.as_str(), rhs.as_str()) {
            (Some(s), Some(p)) => string_matches(s, p),
            _ => false,
        },
        NumericEquals => ord(num_cmp(&var, &rhs), |o| o.is_eq()),
        NumericLessThan => ord(num_cmp(&var, &rhs), |o| o.is_lt()),
        NumericGreaterThan => ord(num_cmp(&var, &rhs), |o| o.is_gt()),
        NumericLessThanEquals => ord(num_cmp(&var, &rhs), |o| o.is_le()),
        NumericGreaterThanEquals => ord(num_cmp(&var, &rhs), |o| o.is_ge()),
        BooleanEquals => var.is_boolean() && rhs.is_boolean() && var == rhs,
        TimestampEquals => ord(ts_cmp(&var, &rhs), |o| o.is_eq()),
        TimestampLessThan => ord(ts_cmp(&var, &rhs), |o| o.is_lt()),
        TimestampGreaterThan => ord(ts_cmp(&var, &rhs), |o| o.is_gt()),
        TimestampLessThanEquals => ord(ts_cmp(&var, &rhs), |o| o.is_le()),
        TimestampGreaterThanEquals => ord(ts_cmp(&var, &rhs), |o| o.is_ge()),
        IsNull => var.is_null() == truth(&rhs),
        IsNumeric => var.is_number() == truth(&rhs),
        IsString => var.is_string() == truth(&rhs),
        IsBoolean => var.is_boolean() == truth(&rhs),
        IsTimestamp => var.as_str().and_then(parse_timestamp).is_some() == truth(&rhs),
        IsPresent => true,
    })
}

fn truth(v: &Value) -> bool {
    v.as_bool().unwrap_or(false)
}

fn operand(c: &Comparison, scope: &Scope<'_>) -> Result<Value, Failure> {
    match &c.operand {
        Operand::Value(v) => Ok(v.clone()),
        Operand::Path(p) => scope.select(p).ok_or_else(|| invalid_path(p)),
    }
}

fn str_cmp(a: &Value, b: &Value) -> Option<Ordering> {
    Some(a.as_str()?.cmp(b.as_str()?))
}

fn num_cmp(a: &Value, b: &Value) -> Option<Ordering> {
    if !(a.is_number() && b.is_number()) {
        return None;
    }
    if json_eq(a, b) {
        return Some(Ordering::Equal);
    }
    a.as_f64()?.partial_cmp(&b.as_f64()?)
}

fn ts_cmp(a: &Value, b: &Value) -> Option<Ordering> {
    Some(parse_timestamp(a.as_str()?)?.cmp(&parse_timestamp(b.as_str()?)?))
}

/// `StringMatches`: "`*` matches zero or more characters; `\*` a literal star, `\\` a
/// literal backslash."
pub fn string_matches(s: &str, pattern: &str) -> bool {
    #[derive(PartialEq)]
    enum T {
        Star,
        Ch(char),
    }
    let mut toks = Vec::new();
    let mut it = pattern.chars();
    while let Some(c) = it.next() {
        match c {
            '\\' => toks.push(T::Ch(it.next().unwrap_or('\\'))),
            '*' => toks.push(T::Star),
            c => toks.push(T::Ch(c)),
        }
    }
    let s: Vec<char> = s.chars().collect();
    // Iterative wildcard matching with backtracking to the last star.
    let (mut i, mut j) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        match toks.get(j) {
            Some(T::Ch(c)) if *c == s[i] => {
                i += 1;
                j += 1;
            }
            Some(T::Star) => {
                star = Some((j, i));
                j += 1;
            }
            _ => match star {
                Some((sj, si)) => {
                    j = sj + 1;
                    i = si + 1;
                    star = Some((sj, si + 1));
                }
                None => return false,
            },
        }
    }
    toks[j..].iter().all(|t| *t == T::Star)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_matches_wildcards_and_escapes() {
        assert!(string_matches("log-2024.txt", "log-*.txt"));
        assert!(string_matches("a*b", "a\\*b"));
        assert!(!string_matches("axb", "a\\*b"));
        assert!(string_matches("", "*"));
        assert!(!string_matches("abc", "*d"));
        assert!(string_matches("a\\b", "a\\\\b"));
    }

    #[test]
    fn timestamps_follow_the_aws_profile() {
        assert!(parse_timestamp("2016-03-14T01:59:00Z").is_some());
        assert!(parse_timestamp("2016-03-14T01:59:00.123+01:00").is_some());
        assert!(parse_timestamp("2016-03-14t01:59:00Z").is_none());
        assert!(parse_timestamp("2016-03-14").is_none());
    }
}
