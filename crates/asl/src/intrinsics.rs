//! Intrinsic functions (`States.Format`, `States.Array`, ...): parse once, evaluate per use.
//!
//! "Intrinsic Functions ... are constructs that look like functions in programming
//! languages and can be used to help Payload Builders process the data going to and
//! from Task Resources."

use crate::error::Failure;
use crate::json_path::{JsonPath, type_name};
use crate::payload::{Scope, compact};
use base64::Engine as _;
use serde_json::{Map, Value};

/// A parsed intrinsic function call.
#[derive(Debug, Clone)]
pub struct Intrinsic {
    func: Func,
    args: Vec<Arg>,
}

#[derive(Debug, Clone)]
enum Arg {
    Literal(Value),
    /// A quoted string: raw (escapes kept, for the States.Format template) and cooked.
    Str(String, String),
    Path(JsonPath),
    Call(Intrinsic),
}

macro_rules! funcs {
    ($($v:ident = $n:literal),* $(,)?) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        enum Func { $($v),* }
        impl Func {
            fn from_name(s: &str) -> Option<Func> { match s { $($n => Some(Func::$v),)* _ => None } }
            fn name(self) -> &'static str { match self { $(Func::$v => $n),* } }
        }
    };
}

funcs! {
    Format = "States.Format", StringToJson = "States.StringToJson", JsonToString = "States.JsonToString",
    Array = "States.Array", ArrayPartition = "States.ArrayPartition", ArrayContains = "States.ArrayContains",
    ArrayRange = "States.ArrayRange", ArrayGetItem = "States.ArrayGetItem", ArrayLength = "States.ArrayLength",
    ArrayUnique = "States.ArrayUnique", Base64Encode = "States.Base64Encode", Base64Decode = "States.Base64Decode",
    Hash = "States.Hash", JsonMerge = "States.JsonMerge", MathRandom = "States.MathRandom", MathAdd = "States.MathAdd",
    StringSplit = "States.StringSplit", Uuid = "States.UUID",
}

impl Intrinsic {
    /// Parses `States.Name(arg, ...)`; arguments are string literals in single quotes,
    /// numbers, booleans, `null`, paths, or nested calls.
    pub fn parse(text: &str) -> Result<Intrinsic, String> {
        let mut p = P {
            s: text.as_bytes(),
            t: text,
            i: 0,
        };
        let f = p.call()?;
        p.ws();
        if p.i != p.s.len() {
            return Err(format!(
                "unexpected text after the function call at offset {} in '{text}'",
                p.i
            ));
        }
        f.check_arity()?;
        Ok(f)
    }

    fn check_arity(&self) -> Result<(), String> {
        let n = self.args.len();
        let ok = match self.func {
            Func::Format => n >= 1,
            Func::Array => true,
            Func::Uuid => n == 0,
            Func::StringToJson
            | Func::JsonToString
            | Func::ArrayLength
            | Func::ArrayUnique
            | Func::Base64Encode
            | Func::Base64Decode => n == 1,
            Func::ArrayPartition
            | Func::ArrayContains
            | Func::ArrayGetItem
            | Func::Hash
            | Func::MathAdd
            | Func::StringSplit => n == 2,
            Func::MathRandom => n == 2 || n == 3,
            Func::ArrayRange | Func::JsonMerge => n == 3,
        };
        if !ok {
            return Err(format!(
                "{} does not take {n} argument(s)",
                self.func.name()
            ));
        }
        for a in &self.args {
            if let Arg::Call(c) = a {
                c.check_arity()?;
            }
        }
        Ok(())
    }

    /// True when an argument reads the context object (`$$`).
    pub fn uses_context(&self) -> bool {
        self.args.iter().any(|a| match a {
            Arg::Path(p) => matches!(p.root(), crate::json_path::Root::Context),
            Arg::Call(c) => c.uses_context(),
            _ => false,
        })
    }

    /// Evaluates the call; failures are `States.Runtime` with a cause naming the function.
    pub fn eval(&self, scope: &Scope<'_>) -> Result<Value, Failure> {
        let mut vals = Vec::with_capacity(self.args.len());
        for (i, a) in self.args.iter().enumerate() {
            vals.push(match a {
                Arg::Literal(v) => v.clone(),
                Arg::Str(raw, _) if i == 0 && self.func == Func::Format => {
                    Value::String(raw.clone())
                }
                Arg::Str(_, cooked) => Value::String(cooked.clone()),
                Arg::Path(p) => scope.select_for(p, self.func.name())?,
                Arg::Call(c) => c.eval(scope)?,
            });
        }
        let name = self.func.name();
        self.apply(vals)
            .map_err(|m| Failure::runtime(format!("{name}: {m}")))
    }

    fn apply(&self, a: Vec<Value>) -> Result<Value, String> {
        match self.func {
            Func::Format => format(&a),
            Func::StringToJson => {
                let s = string(&a[0])?;
                if s.trim().is_empty() {
                    return Ok(Value::Null);
                }
                serde_json::from_str(s).map_err(|e| format!("the argument is not valid JSON: {e}"))
            }
            Func::JsonToString => Ok(Value::String(compact(&a[0]))),
            Func::Array => Ok(Value::Array(a)),
            Func::ArrayPartition => {
                let arr = array(&a[0])?;
                let n = int(&a[1])?;
                if n <= 0 {
                    return Err("the chunk size must be a positive integer".into());
                }
                let n = usize::try_from(n).map_err(|_| "chunk size too large")?;
                Ok(Value::Array(
                    arr.chunks(n).map(|c| Value::Array(c.to_vec())).collect(),
                ))
            }
            Func::ArrayContains => Ok(Value::Bool(array(&a[0])?.iter().any(|v| json_eq(v, &a[1])))),
            Func::ArrayRange => {
                let (start, end, step) = (int(&a[0])?, int(&a[1])?, int(&a[2])?);
                if step == 0 {
                    return Err("the step must not be 0".into());
                }
                let mut out = Vec::new();
                let mut i = start;
                while (step > 0 && i <= end) || (step < 0 && i >= end) {
                    out.push(Value::from(i));
                    if out.len() > 1000 {
                        return Err("the range may hold at most 1000 items".into());
                    }
                    i += step;
                }
                Ok(Value::Array(out))
            }
            Func::ArrayGetItem => {
                let arr = array(&a[0])?;
                let i = int(&a[1])?;
                usize::try_from(i)
                    .ok()
                    .and_then(|i| arr.get(i))
                    .cloned()
                    .ok_or_else(|| {
                        format!(
                            "index {i} is out of bounds for an array of {} items",
                            arr.len()
                        )
                    })
            }
            Func::ArrayLength => Ok(Value::from(array(&a[0])?.len())),
            Func::ArrayUnique => {
                let mut out: Vec<Value> = Vec::new();
                for v in array(&a[0])? {
                    if !out.iter().any(|o| json_eq(o, v)) {
                        out.push(v.clone());
                    }
                }
                Ok(Value::Array(out))
            }
            Func::Base64Encode => {
                let s = string(&a[0])?;
                limit(s)?;
                Ok(Value::String(
                    base64::engine::general_purpose::STANDARD.encode(s),
                ))
            }
            Func::Base64Decode => {
                let s = string(&a[0])?;
                limit(s)?;
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(s)
                    .map_err(|e| format!("invalid base64: {e}"))?;
                String::from_utf8(bytes)
                    .map(Value::String)
                    .map_err(|_| "the decoded data is not UTF-8".into())
            }
            Func::Hash => {
                let data = match &a[0] {
                    Value::String(s) => s.clone(),
                    other => compact(other),
                };
                limit(&data)?;
                let alg = string(&a[1])?;
                Ok(Value::String(hash(alg, data.as_bytes())?))
            }
            Func::JsonMerge => {
                let (Value::Object(l), Value::Object(r)) = (&a[0], &a[1]) else {
                    return Err("both arguments must be JSON objects".into());
                };
                if a[2] != Value::Bool(false) {
                    return Err(
                        "only shallow merge is supported: the third argument must be false".into(),
                    );
                }
                let mut m: Map<String, Value> = l.clone();
                for (k, v) in r {
                    m.insert(k.clone(), v.clone());
                }
                Ok(Value::Object(m))
            }
            Func::MathRandom => {
                use rand::{Rng, SeedableRng};
                let (start, end) = (rounded(&a[0])?, rounded(&a[1])?);
                if start >= end {
                    return Err("the start must be less than the end".into());
                }
                let n = if let Some(seed) = a.get(2) {
                    rand::rngs::StdRng::seed_from_u64(int(seed)? as u64).random_range(start..end)
                } else {
                    rand::rng().random_range(start..end)
                };
                Ok(Value::from(n))
            }
            Func::MathAdd => {
                let (x, y) = (rounded(&a[0])?, rounded(&a[1])?);
                x.checked_add(y)
                    .map(Value::from)
                    .ok_or_else(|| "integer overflow".into())
            }
            Func::StringSplit => {
                let s = string(&a[0])?;
                let d = string(&a[1])?;
                let parts = s
                    .split(|c: char| d.contains(c))
                    .filter(|p| !p.is_empty())
                    .map(|p| Value::String(p.to_string()));
                Ok(Value::Array(parts.collect()))
            }
            Func::Uuid => Ok(Value::String(uuid::Uuid::new_v4().to_string())),
        }
    }
}

fn limit(s: &str) -> Result<(), String> {
    if s.chars().count() > 10_000 {
        return Err("the input may be at most 10,000 characters".into());
    }
    Ok(())
}

/// The hex digest of `data` with a `States.Hash` / `$hash` algorithm name.
pub(crate) fn hash_hex(data: &str, alg: &str) -> Option<String> {
    hash(alg, data.as_bytes()).ok()
}

fn hash(alg: &str, data: &[u8]) -> Result<String, String> {
    use sha2::Digest;
    let bytes: Vec<u8> = match alg {
        "MD5" => md5::Md5::digest(data).to_vec(),
        "SHA-1" => sha1::Sha1::digest(data).to_vec(),
        "SHA-256" => sha2::Sha256::digest(data).to_vec(),
        "SHA-384" => sha2::Sha384::digest(data).to_vec(),
        "SHA-512" => sha2::Sha512::digest(data).to_vec(),
        other => {
            return Err(format!(
                "unsupported hash algorithm '{other}' (MD5, SHA-1, SHA-256, SHA-384, SHA-512)"
            ));
        }
    };
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// JSON equality where 1 and 1.0 are the same number.
pub(crate) fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

fn string(v: &Value) -> Result<&str, String> {
    v.as_str()
        .ok_or_else(|| format!("expected a string, got a {}", type_name(v)))
}

fn array(v: &Value) -> Result<&Vec<Value>, String> {
    v.as_array()
        .ok_or_else(|| format!("expected an array, got a {}", type_name(v)))
}

fn int(v: &Value) -> Result<i64, String> {
    if let Some(i) = v.as_i64() {
        return Ok(i);
    }
    match v.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(f as i64),
        _ => Err(format!("expected an integer, got {}", compact(v))),
    }
}

/// An integer argument of `States.MathAdd` / `States.MathRandom`: AWS documents that a
/// non-integer value "will round it off to the nearest integer" (halves round up, as
/// Java's `Math.round` does: 1.5 -> 2, -1.5 -> -1).
fn rounded(v: &Value) -> Result<i64, String> {
    if let Some(i) = v.as_i64() {
        return Ok(i);
    }
    match v.as_f64() {
        Some(f) if f.is_finite() && f.abs() < 9.0e15 => Ok((f + 0.5).floor() as i64),
        _ => Err(format!("expected a number, got {}", compact(v))),
    }
}

fn format(a: &[Value]) -> Result<Value, String> {
    let tpl = string(&a[0])?;
    let mut out = String::new();
    let mut args = a[1..].iter();
    let mut chars = tpl.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(n) => out.push(n),
                None => out.push('\\'),
            },
            '{' if chars.peek() == Some(&'}') => {
                chars.next();
                let v = args
                    .next()
                    .ok_or("the template has more '{}' than arguments")?;
                match v {
                    Value::String(s) => out.push_str(s),
                    Value::Object(_) | Value::Array(_) => {
                        return Err("arguments must be strings, numbers, booleans or null".into());
                    }
                    other => out.push_str(&compact(other)),
                }
            }
            other => out.push(other),
        }
    }
    if args.next().is_some() {
        return Err("the template has fewer '{}' than arguments".into());
    }
    Ok(Value::String(out))
}

struct P<'a> {
    s: &'a [u8],
    t: &'a str,
    i: usize,
}

impl P<'_> {
    fn ws(&mut self) {
        while self.s.get(self.i).is_some_and(|c| c.is_ascii_whitespace()) {
            self.i += 1;
        }
    }

    fn call(&mut self) -> Result<Intrinsic, String> {
        self.ws();
        let start = self.i;
        while self
            .s
            .get(self.i)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'.')
        {
            self.i += 1;
        }
        let name = &self.t[start..self.i];
        let func =
            Func::from_name(name).ok_or_else(|| format!("unknown intrinsic function '{name}'"))?;
        self.ws();
        if self.s.get(self.i) != Some(&b'(') {
            return Err(format!("expected '(' after {name}"));
        }
        self.i += 1;
        let mut args = Vec::new();
        self.ws();
        if self.s.get(self.i) == Some(&b')') {
            self.i += 1;
            return Ok(Intrinsic { func, args });
        }
        loop {
            args.push(self.arg()?);
            self.ws();
            match self.s.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b')') => {
                    self.i += 1;
                    return Ok(Intrinsic { func, args });
                }
                _ => return Err(format!("expected ',' or ')' in the arguments of {name}")),
            }
        }
    }

    fn arg(&mut self) -> Result<Arg, String> {
        self.ws();
        match self.s.get(self.i) {
            Some(b'\'') => {
                self.i += 1;
                let mut raw = String::new();
                let mut cooked = String::new();
                loop {
                    let rest = &self.t[self.i..];
                    let mut it = rest.chars();
                    match it.next() {
                        None => return Err("unterminated string literal".into()),
                        Some('\\') => {
                            let n = it.next().ok_or("unterminated string literal")?;
                            // The quote escape is resolved in both forms; others stay in the
                            // raw form so States.Format can tell `\{` from a placeholder.
                            if n != '\'' {
                                raw.push('\\');
                            }
                            raw.push(n);
                            cooked.push(n);
                            self.i += 1 + n.len_utf8();
                        }
                        Some('\'') => {
                            self.i += 1;
                            return Ok(Arg::Str(raw, cooked));
                        }
                        Some(c) => {
                            raw.push(c);
                            cooked.push(c);
                            self.i += c.len_utf8();
                        }
                    }
                }
            }
            Some(b'$') => {
                let start = self.i;
                let mut depth = 0i32;
                let mut quote: Option<u8> = None;
                while let Some(&c) = self.s.get(self.i) {
                    if let Some(q) = quote {
                        if c == q {
                            quote = None;
                        }
                    } else if c == b'\'' || c == b'"' {
                        quote = Some(c);
                    } else if c == b'[' || c == b'(' {
                        depth += 1;
                    } else if c == b']' || (c == b')' && depth > 0) {
                        depth -= 1;
                    } else if depth == 0 && (c == b',' || c == b')' || c.is_ascii_whitespace()) {
                        break;
                    }
                    self.i += 1;
                }
                JsonPath::parse(&self.t[start..self.i])
                    .map(Arg::Path)
                    .map_err(|e| e.0)
            }
            Some(b'S') => Ok(Arg::Call(self.call()?)),
            _ => {
                let start = self.i;
                while self
                    .s
                    .get(self.i)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || b"-+.".contains(c))
                {
                    self.i += 1;
                }
                let lit = &self.t[start..self.i];
                serde_json::from_str::<Value>(lit)
                    .ok()
                    .filter(|v| !v.is_object() && !v.is_array() && !v.is_string())
                    .map(Arg::Literal)
                    .ok_or_else(|| format!("invalid argument '{lit}' at offset {start}"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(expr: &str, input: Value) -> Result<Value, Failure> {
        let ctx = json!({});
        let vars = Map::new();
        Intrinsic::parse(expr).unwrap().eval(&Scope {
            input: &input,
            context: &ctx,
            vars: &vars,
        })
    }

    #[test]
    fn format_substitutes_and_unescapes() {
        assert_eq!(
            run("States.Format('Hello, {}! \\{x\\}', $.n)", json!({"n":"W"})).unwrap(),
            json!("Hello, W! {x}")
        );
        assert_eq!(
            run("States.Format('{} {}', 1, true)", json!({})).unwrap(),
            json!("1 true")
        );
        assert!(run("States.Format('{} {}', 1)", json!({})).is_err());
    }

    #[test]
    fn hash_matches_known_digests() {
        assert_eq!(
            run("States.Hash('input data', 'SHA-1')", json!({})).unwrap(),
            json!("aaff4a450a104cd177d28d18d74485e8cae074b7")
        );
        assert_eq!(
            run("States.Hash('', 'MD5')", json!({})).unwrap(),
            json!("d41d8cd98f00b204e9800998ecf8427e")
        );
    }

    #[test]
    fn nested_calls_and_arrays() {
        assert_eq!(
            run("States.ArrayLength(States.ArrayRange(1, 9, 2))", json!({})).unwrap(),
            json!(5)
        );
        assert_eq!(
            run(
                "States.ArrayPartition(States.Array(1,2,3,4,5), 2)",
                json!({})
            )
            .unwrap(),
            json!([[1, 2], [3, 4], [5]])
        );
        assert_eq!(
            run("States.StringSplit('a,b,,c', ',')", json!({})).unwrap(),
            json!(["a", "b", "c"])
        );
    }

    #[test]
    fn bad_calls_do_not_parse() {
        assert!(Intrinsic::parse("States.Nope(1)").is_err());
        assert!(Intrinsic::parse("States.UUID(1)").is_err());
        assert!(Intrinsic::parse("States.Array(1").is_err());
    }
}
