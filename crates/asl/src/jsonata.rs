//! The JSONata query language (`QueryLanguage: "JSONata"`), over the `jsonata-rs` crate.
//!
//! "JSONata expressions are enclosed in `{%` `%}` delimiters": a string value that starts
//! with `{%` and ends with `%}` is an expression; every other value is a literal, and
//! objects and arrays are walked ([`Template`]). Expressions see the reserved variable
//! `$states` (`input`, `context`, and `result` / `errorOutput` where the field has them)
//! and the workflow variables by name. AWS adds functions to JSONata's library:
//! `$partition`, `$range`, `$hash`, `$random`, `$uuid`, `$parse`; `$uuid` and the
//! unseeded `$random()` come from the crate, the others are registered here.
//!
//! Choice where AWS's documentation is silent: the top-level `$` of an expression is
//! undefined (Step Functions provides no input document; use `$states.input`).

use crate::error::{Failure, names};
use bumpalo::Bump;
use jsonata_rs::{ArrayFlags, FunctionContext, JsonAta, Value as JValue};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// "States.QueryEvaluationError": a JSONata expression failed or gave no usable value.
pub const QUERY_EVALUATION_ERROR: &str = "States.QueryEvaluationError";

/// A JSONata expression, checked for syntax when the definition is parsed.
#[derive(Debug, Clone)]
pub struct Expr {
    src: String,
}

/// The outcome of an evaluation that failed: JSONata's error code and message.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalError {
    /// JSONata's error code (`T2001`, `D3001`, ...), or `ASL` for conversion problems.
    pub code: String,
    /// The message.
    pub message: String,
}

impl Expr {
    /// Parses an expression (the text between `{%` and `%}`).
    pub fn parse(src: &str) -> Result<Expr, String> {
        let arena = Bump::new();
        JsonAta::new(src, &arena)
            .map_err(|e| format!("invalid JSONata expression '{src}': {e}"))?;
        Ok(Expr {
            src: src.to_string(),
        })
    }

    /// The expression text.
    pub fn source(&self) -> &str {
        &self.src
    }

    /// Evaluates the expression with no input document and the given variable bindings;
    /// `Ok(None)` when the result is undefined.
    pub fn eval(&self, bindings: &Map<String, Value>) -> Result<Option<Value>, EvalError> {
        self.eval_with_input(None, bindings)
    }

    /// Evaluates with an input document (`$`), as JSONata's own test suite does.
    pub fn eval_with_input(
        &self,
        input: Option<&Value>,
        bindings: &Map<String, Value>,
    ) -> Result<Option<Value>, EvalError> {
        let arena = Bump::new();
        let j = JsonAta::new(&self.src, &arena).map_err(err)?;
        j.register_function("partition", 2, fn_partition);
        j.register_function("range", 3, fn_range);
        j.register_function("hash", 2, fn_hash);
        j.register_function("parse", 1, fn_parse);
        let b: HashMap<&str, &Value> = bindings.iter().map(|(k, v)| (k.as_str(), v)).collect();
        let input_text = input.map(|v| serde_json::to_string(v).unwrap_or_default());
        let out = j.evaluate(input_text.as_deref(), Some(&b)).map_err(err)?;
        to_json(out)
    }
}

fn err(e: jsonata_rs::Error) -> EvalError {
    EvalError {
        code: e.code().to_string(),
        message: e.to_string(),
    }
}

fn asl_err(message: impl Into<String>) -> EvalError {
    EvalError {
        code: "ASL".into(),
        message: message.into(),
    }
}

/// Converts a JSONata value to JSON; `None` for undefined. Undefined object members and
/// array items are dropped, as JSONata's own serialisation does.
pub fn to_json<'a>(v: &'a JValue<'a>) -> Result<Option<Value>, EvalError> {
    Ok(Some(match v {
        JValue::Undefined => return Ok(None),
        JValue::Null => Value::Null,
        JValue::Bool(b) => Value::Bool(*b),
        JValue::Number(n) => number(*n)?,
        JValue::String(s) => Value::String(s.to_string()),
        JValue::Array(..) | JValue::Range(_) => {
            let mut out = Vec::new();
            for m in v.members() {
                if let Some(x) = to_json(m)? {
                    out.push(x);
                }
            }
            Value::Array(out)
        }
        JValue::Object(_) => {
            let mut keys: Vec<_> = v.entries().collect();
            keys.sort_by(|a, b| a.0.cmp(b.0));
            let mut m = Map::new();
            for (k, x) in keys {
                if let Some(x) = to_json(x)? {
                    m.insert(k.to_string(), x);
                }
            }
            Value::Object(m)
        }
        _ => return Err(asl_err("a JSONata function or regex is not a JSON value")),
    }))
}

fn number(n: f64) -> Result<Value, EvalError> {
    if !n.is_finite() {
        return Err(EvalError {
            code: "D1001".into(),
            message: format!("Number out of range: {n}"),
        });
    }
    if n.fract() == 0.0 && n.abs() < 9.007_199_254_740_992e15 {
        #[allow(clippy::cast_possible_truncation)]
        return Ok(Value::from(n as i64));
    }
    Ok(serde_json::Number::from_f64(n)
        .map(Value::Number)
        .unwrap_or(Value::Null))
}

fn from_json<'a>(arena: &'a Bump, v: &Value) -> &'a JValue<'a> {
    match v {
        Value::Null => JValue::null(arena),
        Value::Bool(b) => JValue::bool(*b),
        Value::Number(n) => JValue::number(arena, n.as_f64().unwrap_or(0.0)),
        Value::String(s) => JValue::string(arena, s),
        Value::Array(a) => {
            let arr = JValue::array_with_capacity(arena, a.len(), ArrayFlags::empty());
            for x in a {
                arr.push(from_json(arena, x));
            }
            arr
        }
        Value::Object(m) => {
            let obj = JValue::object_with_capacity(arena, m.len());
            for (k, x) in m {
                obj.insert(k, from_json(arena, x));
            }
            obj
        }
    }
}

fn bad_arg(ctx: &FunctionContext<'_, '_>, index: usize) -> jsonata_rs::Error {
    jsonata_rs::Error::T0410ArgumentNotValid(ctx.char_index, index, ctx.name.to_string())
}

/// `$partition(array, size)`: "partitions a large array into chunks".
fn fn_partition<'a>(
    ctx: FunctionContext<'a, '_>,
    args: &[&'a JValue<'a>],
) -> jsonata_rs::Result<&'a JValue<'a>> {
    let (Some(arr), Some(size)) = (args.first(), args.get(1)) else {
        return Err(bad_arg(&ctx, 1));
    };
    if !arr.is_array() {
        return Err(bad_arg(&ctx, 1));
    }
    if !size.is_number() || !size.is_integer() || size.as_f64() < 1.0 {
        return Err(bad_arg(&ctx, 2));
    }
    let n = size.as_usize();
    let items: Vec<&'a JValue<'a>> = arr.members().collect();
    let out = JValue::array(ctx.arena, ArrayFlags::empty());
    for chunk in items.chunks(n) {
        let c = JValue::array_with_capacity(ctx.arena, chunk.len(), ArrayFlags::empty());
        for x in chunk {
            c.push(x);
        }
        out.push(c);
    }
    Ok(out)
}

/// `$range(start, end, step)`: "an array of values in a range", end inclusive (as
/// `States.ArrayRange`), at most 1,000 items.
fn fn_range<'a>(
    ctx: FunctionContext<'a, '_>,
    args: &[&'a JValue<'a>],
) -> jsonata_rs::Result<&'a JValue<'a>> {
    let nums: Vec<f64> = args
        .iter()
        .take(3)
        .enumerate()
        .map(|(i, a)| {
            if a.is_number() && a.is_integer() {
                Ok(a.as_f64())
            } else {
                Err(bad_arg(&ctx, i + 1))
            }
        })
        .collect::<Result<_, _>>()?;
    let [start, end, step] = nums[..] else {
        return Err(bad_arg(&ctx, args.len() + 1));
    };
    if step == 0.0 {
        return Err(bad_arg(&ctx, 3));
    }
    let out = JValue::array(ctx.arena, ArrayFlags::empty());
    let mut x = start;
    let mut count = 0;
    while (step > 0.0 && x <= end) || (step < 0.0 && x >= end) {
        count += 1;
        if count > 1000 {
            return Err(bad_arg(&ctx, 2));
        }
        out.push(JValue::number(ctx.arena, x));
        x += step;
    }
    Ok(out)
}

/// `$hash(value, algorithm)`: MD5, SHA-1, SHA-256, SHA-384 or SHA-512, as hex.
fn fn_hash<'a>(
    ctx: FunctionContext<'a, '_>,
    args: &[&'a JValue<'a>],
) -> jsonata_rs::Result<&'a JValue<'a>> {
    let (Some(v), Some(alg)) = (args.first(), args.get(1)) else {
        return Err(bad_arg(&ctx, 1));
    };
    if !v.is_string() {
        return Err(bad_arg(&ctx, 1));
    }
    if !alg.is_string() {
        return Err(bad_arg(&ctx, 2));
    }
    let hex =
        crate::intrinsics::hash_hex(&v.as_str(), &alg.as_str()).ok_or_else(|| bad_arg(&ctx, 2))?;
    Ok(JValue::string(ctx.arena, &hex))
}

/// `$parse(jsonString)`: "deserialize JSON text".
fn fn_parse<'a>(
    ctx: FunctionContext<'a, '_>,
    args: &[&'a JValue<'a>],
) -> jsonata_rs::Result<&'a JValue<'a>> {
    let Some(s) = args.first().filter(|s| s.is_string()) else {
        return Err(bad_arg(&ctx, 1));
    };
    let v: Value = serde_json::from_str(&s.as_str()).map_err(|_| bad_arg(&ctx, 1))?;
    Ok(from_json(ctx.arena, &v))
}

/// A JSON value whose strings may be `{% ... %}` expressions.
#[derive(Debug, Clone)]
pub enum Template {
    /// Copied as is.
    Literal(Value),
    /// An expression.
    Expr(Expr),
    /// An object with dynamic members.
    Object(Vec<(String, Template)>),
    /// An array with dynamic items.
    Array(Vec<Template>),
}

/// The expression inside `{% ... %}`, if `s` is one.
pub fn expression_text(s: &str) -> Option<&str> {
    s.strip_prefix("{%")?.strip_suffix("%}")
}

impl Template {
    /// Compiles a value; the error names the JSON pointer (relative to `v`) of the bad string.
    pub fn compile(v: &Value) -> Result<Template, (String, String)> {
        Ok(match v {
            Value::String(s) => match expression_text(s) {
                Some(e) => Template::Expr(Expr::parse(e).map_err(|m| (String::new(), m))?),
                None => Template::Literal(v.clone()),
            },
            Value::Object(m) => {
                let mut out = Vec::with_capacity(m.len());
                for (k, x) in m {
                    let t = Template::compile(x).map_err(|(p, e)| {
                        (format!("/{}{p}", crate::payload::escape_pointer(k)), e)
                    })?;
                    out.push((k.clone(), t));
                }
                if out.iter().all(|(_, t)| matches!(t, Template::Literal(_))) {
                    Template::Literal(v.clone())
                } else {
                    Template::Object(out)
                }
            }
            Value::Array(a) => {
                let mut out = Vec::with_capacity(a.len());
                for (i, x) in a.iter().enumerate() {
                    out.push(Template::compile(x).map_err(|(p, e)| (format!("/{i}{p}"), e))?);
                }
                if out.iter().all(|t| matches!(t, Template::Literal(_))) {
                    Template::Literal(v.clone())
                } else {
                    Template::Array(out)
                }
            }
            other => Template::Literal(other.clone()),
        })
    }

    /// Evaluates the template for the field `field`. An expression whose value is
    /// undefined is `States.QueryEvaluationError`, wherever it is written: a whole field,
    /// an object member or an array item. AWS names the place in the cause, with `/` before
    /// each object key and `[i]` for each array index (`'Arguments/Input/pushLocation'`);
    /// it does not drop the member. Undefined values *inside* one expression's result
    /// (`{% {"a": $missing} %}`) are dropped, as JSONata's own serialisation does.
    pub fn eval(&self, bindings: &Map<String, Value>, field: &str) -> Result<Value, Failure> {
        Ok(match self {
            Template::Literal(v) => v.clone(),
            Template::Expr(e) => e
                .eval(bindings)
                .map_err(|x| {
                    Failure::new(
                        QUERY_EVALUATION_ERROR,
                        format!(
                            "An error occurred while evaluating the JSONata expression '{}' of the field '{field}': {} ({})",
                            e.source().trim(),
                            x.message,
                            x.code
                        ),
                    )
                })?
                .ok_or_else(|| {
                    Failure::new(
                        QUERY_EVALUATION_ERROR,
                        format!(
                            "The JSONata expression '{}' specified for the field '{field}' returned nothing (undefined).",
                            e.source().trim()
                        ),
                    )
                })?,
            Template::Object(fields) => {
                let mut m = Map::with_capacity(fields.len());
                for (k, t) in fields {
                    m.insert(k.clone(), t.eval(bindings, &format!("{field}/{k}"))?);
                }
                Value::Object(m)
            }
            Template::Array(items) => {
                let mut a = Vec::with_capacity(items.len());
                for (i, t) in items.iter().enumerate() {
                    a.push(t.eval(bindings, &format!("{field}[{i}]"))?);
                }
                Value::Array(a)
            }
        })
    }
}

/// The bindings an expression sees: the workflow variables and `$states`.
pub fn bindings(vars: &Map<String, Value>, states: Value) -> Map<String, Value> {
    let mut b = vars.clone();
    b.insert("states".into(), states);
    b
}

/// Fails with `States.QueryEvaluationError` unless `v` has the wanted type.
pub fn expect<T>(
    v: Value,
    field: &str,
    what: &str,
    f: impl FnOnce(&Value) -> Option<T>,
) -> Result<T, Failure> {
    f(&v).ok_or_else(|| {
        Failure::new(
            QUERY_EVALUATION_ERROR,
            format!("The field '{field}' must evaluate to {what}, got {v}"),
        )
    })
}

/// `States.Runtime` is not used for JSONata failures; this names the error for callers.
pub fn is_query_error(f: &Failure) -> bool {
    f.error == QUERY_EVALUATION_ERROR || f.error == names::RUNTIME
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(src: &str, vars: Value) -> Option<Value> {
        let Value::Object(m) = vars else { panic!() };
        Expr::parse(src).unwrap().eval(&m).unwrap()
    }

    #[test]
    fn states_and_variables_are_bound() {
        let v = json!({"states": {"input": {"a": [1, 2, 3]}}, "x": 10});
        assert_eq!(ev("$sum($states.input.a) + $x", v), Some(json!(16)));
    }

    #[test]
    fn aws_functions() {
        let none = json!({});
        assert_eq!(
            ev("$partition([1,2,3,4,5], 2)", none.clone()),
            Some(json!([[1, 2], [3, 4], [5]]))
        );
        assert_eq!(
            ev("$range(0, 10, 5)", none.clone()),
            Some(json!([0, 5, 10]))
        );
        assert_eq!(
            ev("$parse('{\"a\": [1]}').a[0]", none.clone()),
            Some(json!(1))
        );
        assert_eq!(
            ev("$hash('input data', 'SHA-1')", none.clone()),
            Some(json!("aaff4a450a104cd177d28d18d74485e8cae074b7"))
        );
        let u = ev("$uuid()", none).unwrap();
        assert_eq!(u.as_str().map(str::len), Some(36));
    }

    #[test]
    fn templates_walk_values() {
        let t = Template::compile(
            &json!({"a": "{% 1 + 1 %}", "b": ["x", "{% 'y' %}"], "c": "plain {% 1 %}"}),
        )
        .unwrap();
        let b = bindings(&Map::new(), json!({"input": {}}));
        assert_eq!(
            t.eval(&b, "Output").unwrap(),
            json!({"a": 2, "b": ["x", "y"], "c": "plain {% 1 %}"})
        );
        // An undefined member or item fails the field, naming where it is written.
        let t = Template::compile(&json!({"a": {"b": ["x", "{% $nope %}"]}})).unwrap();
        let e = t.eval(&b, "Output").unwrap_err();
        assert_eq!(e.error, QUERY_EVALUATION_ERROR);
        assert!(
            e.cause
                .contains("'$nope' specified for the field 'Output/a/b[1]' returned nothing"),
            "{}",
            e.cause
        );
        assert!(Template::compile(&json!("{% 1 + %}")).is_err());
        let e = Template::compile(&json!("{% $nope %}"))
            .unwrap()
            .eval(&b, "Output")
            .unwrap_err();
        assert_eq!(e.error, QUERY_EVALUATION_ERROR);
    }
}
