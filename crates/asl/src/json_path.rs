//! JSONPath as Step Functions uses it: parse once, select nodes, and set a reference path.
//!
//! "A Path is a string, beginning with `$`, used to identify components with a JSON
//! text. The syntax is that of JsonPath." A *reference path* is one "whose syntax is
//! limited in such a way that it can identify only a single node": no wildcards,
//! filters, slices, unions or recursive descent.

use serde_json::{Map, Value};
use std::fmt;

/// What a path starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Root {
    /// `$`: the state's (effective) input.
    Input,
    /// `$$`: the context object.
    Context,
    /// `$name`: a workflow variable.
    Variable(String),
}

/// One step of a path.
#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Name(String),
    Index(i64),
    Wildcard,
    Descend(Option<String>),
    Union(Vec<UnionItem>),
    Slice(Option<i64>, Option<i64>, Option<i64>),
    Filter(Filter),
    Length,
}

#[derive(Debug, Clone, PartialEq)]
enum UnionItem {
    Name(String),
    Index(i64),
}

#[derive(Debug, Clone, PartialEq)]
enum Filter {
    Exists(Vec<Segment>),
    Compare(Vec<Segment>, CmpOp, Value),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A parsed JSONPath.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonPath {
    text: String,
    root: Root,
    segments: Vec<Segment>,
}

/// Why a path did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathSyntaxError(pub String);

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl JsonPath {
    /// Parses a path; `$`, `$$` and `$name` roots are accepted.
    pub fn parse(text: &str) -> Result<Self, PathSyntaxError> {
        let err = |m: &str| PathSyntaxError(format!("invalid JSONPath '{text}': {m}"));
        let mut p = Cursor {
            s: text.as_bytes(),
            i: 0,
        };
        if !p.eat(b'$') {
            return Err(err("a path must begin with '$'"));
        }
        let root = if p.eat(b'$') {
            Root::Context
        } else if p
            .peek()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
        {
            let start = p.i;
            while p
                .peek()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
            {
                p.i += 1;
            }
            Root::Variable(text[start..p.i].to_string())
        } else {
            Root::Input
        };
        let segments = parse_segments(&mut p, text, false).map_err(|m| err(&m))?;
        if p.i != p.s.len() {
            return Err(err(&format!("unexpected character at offset {}", p.i)));
        }
        Ok(JsonPath {
            text: text.to_string(),
            root,
            segments,
        })
    }

    /// The text the path was parsed from.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The root the path starts from.
    pub fn root(&self) -> &Root {
        &self.root
    }

    /// True when the path is `$` (or `$$`) alone.
    pub fn is_root(&self) -> bool {
        self.segments.is_empty()
    }

    /// True when the path can only ever select one node (Jayway's "definite" path).
    pub fn is_definite(&self) -> bool {
        self.segments
            .iter()
            .all(|s| matches!(s, Segment::Name(_) | Segment::Index(_) | Segment::Length))
    }

    /// True when this is a reference path: names and non-negative indexes only.
    pub fn is_reference(&self) -> bool {
        self.segments.iter().all(|s| match s {
            Segment::Name(_) => true,
            Segment::Index(i) => *i >= 0,
            _ => false,
        })
    }

    /// Evaluates the path against `root`: `None` when a definite path finds nothing; an
    /// indefinite path always answers an array of its matches. Walks references and
    /// copies only what it selects.
    pub fn select(&self, root: &Value) -> Option<Value> {
        let (segs, length) = match self.segments.split_last() {
            Some((Segment::Length, rest)) => (rest, true),
            _ => (&self.segments[..], false),
        };
        let mut nodes: Vec<&Value> = vec![root];
        for seg in segs {
            nodes = apply(seg, &nodes);
            if nodes.is_empty() {
                break;
            }
        }
        if length {
            let lens: Vec<Value> = nodes.iter().filter_map(|v| length_of(v)).collect();
            return if self.is_definite() {
                lens.into_iter().next()
            } else {
                Some(Value::Array(lens))
            };
        }
        if self.is_definite() {
            nodes.first().map(|v| (*v).clone())
        } else {
            Some(Value::Array(nodes.into_iter().cloned().collect()))
        }
    }

    /// Writes `value` at this reference path inside `target`, creating missing objects.
    /// Fails when a node on the way is not an object (or an array for an index).
    pub fn set(&self, target: Value, value: Value) -> Result<Value, String> {
        fn go(node: Value, segs: &[Segment], value: Value) -> Result<Value, String> {
            let Some((first, rest)) = segs.split_first() else {
                return Ok(value);
            };
            match (first, node) {
                (Segment::Name(n), Value::Object(mut m)) => {
                    let child = m.shift_remove_entry(n);
                    let (key, existing) = match child {
                        Some((k, v)) => (k, v),
                        None => (n.clone(), Value::Object(Map::new())),
                    };
                    let existing = if rest.is_empty() {
                        Value::Null
                    } else {
                        existing
                    };
                    let new = go(existing, rest, value)?;
                    m.insert(key, new);
                    Ok(Value::Object(m))
                }
                (Segment::Index(i), Value::Array(mut a)) => {
                    let idx = usize::try_from(*i).map_err(|_| "negative index".to_string())?;
                    if idx >= a.len() {
                        return Err(format!("index {i} is out of bounds"));
                    }
                    let existing = std::mem::take(&mut a[idx]);
                    a[idx] = go(existing, rest, value)?;
                    Ok(Value::Array(a))
                }
                (Segment::Name(n), other) => {
                    Err(format!("cannot set field '{n}' on a {}", type_name(&other)))
                }
                (_, other) => Err(format!("cannot set a path step on a {}", type_name(&other))),
            }
        }
        if !self.is_reference() {
            return Err(format!("'{}' is not a reference path", self.text));
        }
        go(target, &self.segments, value)
    }
}

/// The JSON type's name, for messages.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn length_of(v: &Value) -> Option<Value> {
    match v {
        Value::Array(a) => Some(Value::from(a.len())),
        Value::Object(m) => Some(Value::from(m.len())),
        Value::String(s) => Some(Value::from(s.chars().count())),
        _ => None,
    }
}

fn apply<'v>(seg: &Segment, nodes: &[&'v Value]) -> Vec<&'v Value> {
    let mut out = Vec::new();
    for node in nodes.iter().copied() {
        match seg {
            Segment::Name(n) => {
                if let Some(v) = node.as_object().and_then(|m| m.get(n)) {
                    out.push(v);
                }
            }
            Segment::Index(i) => {
                if let Some(v) = node.as_array().and_then(|a| index(a, *i)) {
                    out.push(v);
                }
            }
            Segment::Wildcard => match node {
                Value::Object(m) => out.extend(m.values()),
                Value::Array(a) => out.extend(a.iter()),
                _ => {}
            },
            Segment::Descend(name) => descend(node, name.as_deref(), &mut out),
            Segment::Union(items) => {
                for it in items {
                    match (it, node) {
                        (UnionItem::Name(n), Value::Object(m)) => {
                            if let Some(v) = m.get(n) {
                                out.push(v);
                            }
                        }
                        (UnionItem::Index(i), Value::Array(a)) => {
                            if let Some(v) = index(a, *i) {
                                out.push(v);
                            }
                        }
                        _ => {}
                    }
                }
            }
            Segment::Slice(start, end, step) => {
                if let Value::Array(a) = node {
                    out.extend(slice(a, *start, *end, *step));
                }
            }
            Segment::Filter(f) => match node {
                Value::Array(a) => out.extend(a.iter().filter(|v| filter(f, v))),
                Value::Object(m) => out.extend(m.values().filter(|v| filter(f, v))),
                _ => {}
            },
            // `length()` mid-path selects nothing further.
            Segment::Length => {}
        }
    }
    out
}

fn index(a: &[Value], i: i64) -> Option<&Value> {
    let len = i64::try_from(a.len()).ok()?;
    let j = if i < 0 { len + i } else { i };
    if j < 0 {
        return None;
    }
    a.get(usize::try_from(j).ok()?)
}

fn slice(a: &[Value], start: Option<i64>, end: Option<i64>, step: Option<i64>) -> Vec<&Value> {
    let len = i64::try_from(a.len()).unwrap_or(i64::MAX);
    let norm = |x: i64| if x < 0 { (len + x).max(0) } else { x.min(len) };
    let step = step.unwrap_or(1);
    if step <= 0 {
        return Vec::new();
    }
    let s = start.map(norm).unwrap_or(0);
    let e = end.map(norm).unwrap_or(len);
    let mut out = Vec::new();
    let mut i = s;
    while i < e {
        if let Some(v) = usize::try_from(i).ok().and_then(|u| a.get(u)) {
            out.push(v);
        }
        i += step;
    }
    out
}

fn descend<'v>(node: &'v Value, name: Option<&str>, out: &mut Vec<&'v Value>) {
    match node {
        Value::Object(m) => {
            for (k, v) in m {
                if name.is_none_or(|n| n == k) {
                    out.push(v);
                }
            }
            for v in m.values() {
                descend(v, name, out);
            }
        }
        Value::Array(a) => {
            if name.is_none() {
                out.extend(a.iter());
            }
            for v in a {
                descend(v, name, out);
            }
        }
        _ => {}
    }
}

fn filter(f: &Filter, v: &Value) -> bool {
    let pick = |segs: &[Segment]| -> Option<Value> {
        let mut nodes = vec![v];
        for s in segs {
            if let Segment::Length = s {
                return nodes.first().and_then(|n| length_of(n));
            }
            nodes = apply(s, &nodes);
        }
        nodes.first().map(|n| (*n).clone())
    };
    match f {
        Filter::Exists(segs) => pick(segs).is_some(),
        Filter::Compare(segs, op, lit) => {
            let Some(x) = pick(segs) else { return false };
            let ord = match (&x, lit) {
                (Value::Number(a), Value::Number(b)) => a
                    .as_f64()
                    .zip(b.as_f64())
                    .and_then(|(a, b)| a.partial_cmp(&b)),
                (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
                _ => None,
            };
            match op {
                CmpOp::Eq => ord.map_or(x == *lit, |o| o.is_eq()),
                CmpOp::Ne => ord.map_or(x != *lit, |o| o.is_ne()),
                CmpOp::Lt => ord.is_some_and(|o| o.is_lt()),
                CmpOp::Le => ord.is_some_and(|o| o.is_le()),
                CmpOp::Gt => ord.is_some_and(|o| o.is_gt()),
                CmpOp::Ge => ord.is_some_and(|o| o.is_ge()),
            }
        }
        Filter::And(a, b) => filter(a, v) && filter(b, v),
        Filter::Or(a, b) => filter(a, v) || filter(b, v),
    }
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn skip_ws(&mut self) {
        while self.peek().is_some_and(|c| c == b' ') {
            self.i += 1;
        }
    }
}

fn parse_segments(p: &mut Cursor<'_>, text: &str, in_filter: bool) -> Result<Vec<Segment>, String> {
    let mut segs = Vec::new();
    loop {
        match p.peek() {
            Some(b'.') => {
                p.i += 1;
                if p.eat(b'.') {
                    if p.eat(b'*') {
                        segs.push(Segment::Descend(None));
                    } else {
                        let n = name(p, text, in_filter)?;
                        segs.push(Segment::Descend(Some(n)));
                    }
                } else if p.eat(b'*') {
                    segs.push(Segment::Wildcard);
                } else if p.peek() == Some(b'[') {
                    continue;
                } else {
                    let n = name(p, text, in_filter)?;
                    if n == "length" && p.s[p.i..].starts_with(b"()") {
                        p.i += 2;
                        segs.push(Segment::Length);
                    } else {
                        segs.push(Segment::Name(n));
                    }
                }
            }
            Some(b'[') => {
                p.i += 1;
                p.skip_ws();
                segs.push(bracket(p, text)?);
                p.skip_ws();
                if !p.eat(b']') {
                    return Err("expected ']'".into());
                }
            }
            _ => return Ok(segs),
        }
    }
}

fn name(p: &mut Cursor<'_>, text: &str, in_filter: bool) -> Result<String, String> {
    let start = p.i;
    while let Some(c) = p.peek() {
        let stop = c == b'.'
            || c == b'['
            || (in_filter && (c == b' ' || c == b')' || b"=!<>&|".contains(&c)));
        if stop {
            break;
        }
        p.i += 1;
    }
    if p.i == start {
        return Err(format!("empty field name at offset {start}"));
    }
    Ok(text[start..p.i].to_string())
}

fn quoted(p: &mut Cursor<'_>, text: &str) -> Result<String, String> {
    let q = p.peek().ok_or("unterminated string")?;
    p.i += 1;
    let mut out = String::new();
    let mut start = p.i;
    loop {
        match p.peek() {
            None => return Err("unterminated string".into()),
            Some(b'\\') => {
                out.push_str(&text[start..p.i]);
                p.i += 1;
                let c = p.peek().ok_or("unterminated string")?;
                out.push(c as char);
                p.i += 1;
                start = p.i;
            }
            Some(c) if c == q => {
                out.push_str(&text[start..p.i]);
                p.i += 1;
                return Ok(out);
            }
            Some(_) => p.i += 1,
        }
    }
}

fn int(p: &mut Cursor<'_>, text: &str) -> Option<i64> {
    let start = p.i;
    if p.peek() == Some(b'-') {
        p.i += 1;
    }
    while p.peek().is_some_and(|c| c.is_ascii_digit()) {
        p.i += 1;
    }
    let n = text[start..p.i].parse().ok();
    if n.is_none() {
        p.i = start;
    }
    n
}

fn bracket(p: &mut Cursor<'_>, text: &str) -> Result<Segment, String> {
    match p.peek() {
        Some(b'*') => {
            p.i += 1;
            Ok(Segment::Wildcard)
        }
        Some(b'?') => {
            p.i += 1;
            p.skip_ws();
            if !p.eat(b'(') {
                return Err("expected '(' after '?'".into());
            }
            let f = filter_expr(p, text)?;
            p.skip_ws();
            if !p.eat(b')') {
                return Err("expected ')' closing the filter".into());
            }
            Ok(Segment::Filter(f))
        }
        Some(b'\'') | Some(b'"') => {
            let mut items = vec![UnionItem::Name(quoted(p, text)?)];
            p.skip_ws();
            while p.eat(b',') {
                p.skip_ws();
                items.push(UnionItem::Name(quoted(p, text)?));
                p.skip_ws();
            }
            if items.len() == 1 {
                let Some(UnionItem::Name(n)) = items.pop() else {
                    return Err("internal".into());
                };
                Ok(Segment::Name(n))
            } else {
                Ok(Segment::Union(items))
            }
        }
        _ => {
            let first = int(p, text);
            p.skip_ws();
            if p.peek() == Some(b':') {
                p.i += 1;
                let end = int(p, text);
                let step = if p.eat(b':') { int(p, text) } else { None };
                return Ok(Segment::Slice(first, end, step));
            }
            let first =
                first.ok_or("expected an index, a quoted name, '*', a slice or a filter")?;
            let mut items = vec![UnionItem::Index(first)];
            while p.eat(b',') {
                p.skip_ws();
                items.push(UnionItem::Index(int(p, text).ok_or("expected an index")?));
                p.skip_ws();
            }
            if items.len() == 1 {
                Ok(Segment::Index(first))
            } else {
                Ok(Segment::Union(items))
            }
        }
    }
}

fn filter_expr(p: &mut Cursor<'_>, text: &str) -> Result<Filter, String> {
    let mut left = filter_term(p, text)?;
    loop {
        p.skip_ws();
        if p.s[p.i..].starts_with(b"&&") {
            p.i += 2;
            left = Filter::And(Box::new(left), Box::new(filter_term(p, text)?));
        } else if p.s[p.i..].starts_with(b"||") {
            p.i += 2;
            left = Filter::Or(Box::new(left), Box::new(filter_term(p, text)?));
        } else {
            return Ok(left);
        }
    }
}

fn filter_term(p: &mut Cursor<'_>, text: &str) -> Result<Filter, String> {
    p.skip_ws();
    if !p.eat(b'@') {
        return Err("a filter term must start with '@'".into());
    }
    let segs = parse_segments(p, text, true)?;
    p.skip_ws();
    let ops: [(&[u8], CmpOp); 6] = [
        (b"==", CmpOp::Eq),
        (b"!=", CmpOp::Ne),
        (b"<=", CmpOp::Le),
        (b">=", CmpOp::Ge),
        (b"<", CmpOp::Lt),
        (b">", CmpOp::Gt),
    ];
    for (tok, op) in ops {
        if p.s[p.i..].starts_with(tok) {
            p.i += tok.len();
            p.skip_ws();
            let lit = literal(p, text)?;
            return Ok(Filter::Compare(segs, op, lit));
        }
    }
    Ok(Filter::Exists(segs))
}

fn literal(p: &mut Cursor<'_>, text: &str) -> Result<Value, String> {
    match p.peek() {
        Some(b'\'') | Some(b'"') => Ok(Value::String(quoted(p, text)?)),
        _ => {
            let start = p.i;
            while p
                .peek()
                .is_some_and(|c| c.is_ascii_alphanumeric() || b"-+.".contains(&c))
            {
                p.i += 1;
            }
            serde_json::from_str(&text[start..p.i])
                .map_err(|_| "invalid filter literal".to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sel(path: &str, v: Value) -> Option<Value> {
        JsonPath::parse(path).unwrap().select(&v)
    }

    #[test]
    fn definite_paths_select_one_node() {
        assert_eq!(sel("$.a.b[1]", json!({"a":{"b":[1,2]}})), Some(json!(2)));
        assert_eq!(sel("$['a b']", json!({"a b": 3})), Some(json!(3)));
        assert_eq!(sel("$.a[-1]", json!({"a":[1,2,3]})), Some(json!(3)));
        assert_eq!(sel("$.x", json!({})), None);
    }

    #[test]
    fn indefinite_paths_answer_arrays() {
        let v = json!({"items":[{"p":1,"n":"a"},{"p":5,"n":"b"}]});
        assert_eq!(sel("$.items[*].n", v.clone()), Some(json!(["a", "b"])));
        assert_eq!(sel("$.items[?(@.p > 2)].n", v.clone()), Some(json!(["b"])));
        assert_eq!(sel("$..n", v.clone()), Some(json!(["a", "b"])));
        assert_eq!(sel("$.items[0:1].p", v), Some(json!([1])));
    }

    #[test]
    fn set_creates_missing_objects_and_refuses_non_objects() {
        let p = JsonPath::parse("$.a.b").unwrap();
        assert_eq!(
            p.set(json!({"x":1}), json!(2)).unwrap(),
            json!({"x":1,"a":{"b":2}})
        );
        assert!(p.set(json!("s"), json!(2)).is_err());
    }

    #[test]
    fn roots_are_recognised() {
        assert_eq!(
            JsonPath::parse("$$.Execution.Id").unwrap().root(),
            &Root::Context
        );
        assert_eq!(
            JsonPath::parse("$v.x").unwrap().root(),
            &Root::Variable("v".into())
        );
        assert!(JsonPath::parse("a.b").is_err());
        assert!(JsonPath::parse("$.a[").is_err());
    }
}
