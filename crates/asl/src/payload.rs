//! Payload templates (`Parameters`, `ResultSelector`, `ItemSelector`) and path resolution.
//!
//! "If any field within a Payload Template (however deeply nested) has a name ending with
//! the characters `.$`, its value is transformed according to rules below and the field is
//! renamed to strip the `.$` suffix."

use crate::error::Failure;
use crate::intrinsics::Intrinsic;
use crate::json_path::{JsonPath, Root};
use serde_json::{Map, Value};

/// What paths resolve against: the state's input, the context object and the variables.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    /// `$`.
    pub input: &'a Value,
    /// `$$`.
    pub context: &'a Value,
    /// `$name` variables visible to the state.
    pub vars: &'a Map<String, Value>,
}

impl Scope<'_> {
    /// Resolves a path: `None` when a definite path selects nothing.
    pub fn select(&self, path: &JsonPath) -> Option<Value> {
        match path.root() {
            Root::Input => path.select(self.input),
            Root::Context => path.select(self.context),
            Root::Variable(name) => self.vars.get(name).and_then(|v| path.select(v)),
        }
    }

    /// Resolves a path or fails with `States.Runtime` naming the field, as AWS does:
    /// "The JSONPath '$.x' specified for the field 'x.$' could not be found in the input".
    pub fn select_for(&self, path: &JsonPath, field: &str) -> Result<Value, Failure> {
        self.select(path).ok_or_else(|| {
            let whence = match path.root() {
                Root::Input => format!("the input '{}'", compact(self.input)),
                Root::Context => format!("the context '{}'", compact(self.context)),
                Root::Variable(v) => format!("the variable '${v}'"),
            };
            Failure::runtime(format!(
                "The JSONPath '{path}' specified for the field '{field}' could not be found in {whence}"
            ))
        })
    }
}

/// A JSON value as compact text, for causes.
pub fn compact(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// A compiled payload template.
#[derive(Debug, Clone)]
pub enum Template {
    /// A value copied as is.
    Literal(Value),
    /// An object whose fields may be dynamic.
    Object(Vec<(String, Template)>),
    /// An array whose items may hold dynamic objects.
    Array(Vec<Template>),
    /// A `.$` field holding a path; the string is the field name with its `.$`.
    Path(JsonPath, String),
    /// A `.$` field holding an intrinsic function call.
    Intrinsic(Intrinsic, String),
}

impl Template {
    /// Compiles a template; the error names the JSON pointer (relative to `v`) of the bad field.
    pub fn compile(v: &Value) -> Result<Template, (String, String)> {
        match v {
            Value::Object(m) => {
                let mut fields = Vec::with_capacity(m.len());
                let mut seen = std::collections::HashSet::new();
                for (k, val) in m {
                    let ptr = format!("/{}", escape_pointer(k));
                    if let Some(stripped) = k.strip_suffix(".$") {
                        let Value::String(s) = val else {
                            return Err((
                                ptr,
                                format!(
                                    "the value of '{k}' must be a string holding a path or an intrinsic function"
                                ),
                            ));
                        };
                        let t = if s.starts_with('$') {
                            Template::Path(
                                JsonPath::parse(s).map_err(|e| (ptr.clone(), e.0))?,
                                k.clone(),
                            )
                        } else if s.starts_with("States.") {
                            Template::Intrinsic(
                                Intrinsic::parse(s).map_err(|e| (ptr.clone(), e))?,
                                k.clone(),
                            )
                        } else {
                            return Err((
                                ptr,
                                format!(
                                    "the value of '{k}' must be a JSONPath or an intrinsic function, got '{s}'"
                                ),
                            ));
                        };
                        if !seen.insert(stripped.to_string()) {
                            return Err((ptr, format!("the field '{stripped}' is given twice")));
                        }
                        fields.push((stripped.to_string(), t));
                    } else {
                        if !seen.insert(k.clone()) {
                            return Err((ptr, format!("the field '{k}' is given twice")));
                        }
                        let t =
                            Template::compile(val).map_err(|(p, m)| (format!("{ptr}{p}"), m))?;
                        fields.push((k.clone(), t));
                    }
                }
                Ok(Template::Object(fields))
            }
            Value::Array(a) => {
                let mut items = Vec::with_capacity(a.len());
                for (i, val) in a.iter().enumerate() {
                    items.push(Template::compile(val).map_err(|(p, m)| (format!("/{i}{p}"), m))?);
                }
                Ok(Template::Array(items))
            }
            other => Ok(Template::Literal(other.clone())),
        }
    }

    /// True when evaluating the template reads the context object (`$$`).
    pub fn uses_context(&self) -> bool {
        match self {
            Template::Literal(_) => false,
            Template::Object(fields) => fields.iter().any(|(_, t)| t.uses_context()),
            Template::Array(items) => items.iter().any(Template::uses_context),
            Template::Path(p, _) => matches!(p.root(), Root::Context),
            Template::Intrinsic(f, _) => f.uses_context(),
        }
    }

    /// Evaluates the template in `scope`.
    pub fn eval(&self, scope: &Scope<'_>) -> Result<Value, Failure> {
        match self {
            Template::Literal(v) => Ok(v.clone()),
            Template::Object(fields) => {
                let mut m = Map::with_capacity(fields.len());
                for (k, t) in fields {
                    m.insert(k.clone(), t.eval(scope)?);
                }
                Ok(Value::Object(m))
            }
            Template::Array(items) => items
                .iter()
                .map(|t| t.eval(scope))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            Template::Path(p, field) => scope.select_for(p, field),
            Template::Intrinsic(f, field) => f.eval(scope).map_err(|e| {
                Failure::runtime(format!(
                    "The value for the field '{field}' must be a valid intrinsic function: {}",
                    e.cause
                ))
            }),
        }
    }
}

/// Escapes a key for a JSON pointer (RFC 6901).
pub fn escape_pointer(k: &str) -> String {
    k.replace('~', "~0").replace('/', "~1")
}
