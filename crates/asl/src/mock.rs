//! AWS Step Functions Local mock configuration files, as a [`Dispatcher`].
//!
//! Format: `StateMachines -> <machine> -> TestCases -> <case> -> <state> -> <response>`
//! and `MockedResponses -> <response> -> "0" | "1-2" | ... -> Return <json> |
//! Throw {Error, Cause}`. The n-th invocation of a state (retries included, counted from
//! 0) takes the response whose key covers n.

use crate::dispatcher::{Dispatcher, TaskOutcome, TaskRequest};
use crate::error::{Error, Failure, names};
use crate::payload::escape_pointer;
use async_trait::async_trait;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Mutex;

/// One mocked answer.
#[derive(Debug, Clone, PartialEq)]
pub enum MockResponse {
    /// `Return`: the task's result.
    Return(Value),
    /// `Throw`: the task's error.
    Throw(Failure),
}

/// A parsed mock configuration file.
#[derive(Debug, Clone, Default)]
pub struct MockConfig {
    machines: HashMap<String, HashMap<String, HashMap<String, String>>>,
    responses: HashMap<String, Vec<(u64, u64, MockResponse)>>,
}

fn err(pointer: String, message: impl Into<String>) -> Error {
    Error::MockConfig {
        pointer,
        message: message.into(),
    }
}

impl MockConfig {
    /// Parses and checks a mock configuration file.
    pub fn parse(text: &str) -> Result<MockConfig, Error> {
        let v: Value =
            serde_json::from_str(text).map_err(|e| err(String::new(), format!("not JSON: {e}")))?;
        let root = v
            .as_object()
            .ok_or_else(|| err(String::new(), "the file must hold a JSON object"))?;
        let mut cfg = MockConfig::default();
        if let Some(rs) = root.get("MockedResponses") {
            let rs = rs
                .as_object()
                .ok_or_else(|| err("/MockedResponses".into(), "must be an object"))?;
            for (name, steps) in rs {
                let ptr = format!("/MockedResponses/{}", escape_pointer(name));
                let steps = steps
                    .as_object()
                    .ok_or_else(|| err(ptr.clone(), "must be an object of invocation indexes"))?;
                let mut list = Vec::new();
                for (key, resp) in steps {
                    let kptr = format!("{ptr}/{}", escape_pointer(key));
                    let (lo, hi) = parse_range(key).ok_or_else(|| {
                        err(
                            kptr.clone(),
                            format!("'{key}' is not an invocation index like \"0\" or \"1-2\""),
                        )
                    })?;
                    let o = resp.as_object().ok_or_else(|| {
                        err(kptr.clone(), "must be an object with Return or Throw")
                    })?;
                    let r = match (o.get("Return"), o.get("Throw")) {
                        (Some(r), None) => MockResponse::Return(r.clone()),
                        (None, Some(t)) => {
                            let s = |k: &str| {
                                t.get(k)
                                    .and_then(Value::as_str)
                                    .unwrap_or_default()
                                    .to_string()
                            };
                            if !t.is_object() {
                                return Err(err(
                                    format!("{kptr}/Throw"),
                                    "Throw must be an object {Error, Cause}",
                                ));
                            }
                            MockResponse::Throw(Failure::new(s("Error"), s("Cause")))
                        }
                        _ => return Err(err(kptr, "must have exactly one of Return or Throw")),
                    };
                    list.push((lo, hi, r));
                }
                list.sort_by_key(|(lo, _, _)| *lo);
                cfg.responses.insert(name.clone(), list);
            }
        }
        if let Some(ms) = root.get("StateMachines") {
            let ms = ms
                .as_object()
                .ok_or_else(|| err("/StateMachines".into(), "must be an object"))?;
            for (m, mv) in ms {
                let mptr = format!("/StateMachines/{}", escape_pointer(m));
                let tcs = mv
                    .get("TestCases")
                    .and_then(Value::as_object)
                    .ok_or_else(|| {
                        err(
                            format!("{mptr}/TestCases"),
                            "TestCases is required and must be an object",
                        )
                    })?;
                let mut cases = HashMap::new();
                for (c, cv) in tcs {
                    let cptr = format!("{mptr}/TestCases/{}", escape_pointer(c));
                    let co = cv.as_object().ok_or_else(|| {
                        err(
                            cptr.clone(),
                            "a test case must map state names to mocked response names",
                        )
                    })?;
                    let mut states = HashMap::new();
                    for (st, rv) in co {
                        let sptr = format!("{cptr}/{}", escape_pointer(st));
                        let r = rv
                            .as_str()
                            .ok_or_else(|| err(sptr.clone(), "must name a mocked response"))?;
                        if !cfg.responses.contains_key(r) {
                            return Err(err(
                                sptr,
                                format!(
                                    "the mocked response '{r}' is not defined in MockedResponses"
                                ),
                            ));
                        }
                        states.insert(st.clone(), r.to_string());
                    }
                    cases.insert(c.clone(), states);
                }
                cfg.machines.insert(m.clone(), cases);
            }
        }
        Ok(cfg)
    }

    /// A dispatcher for one test case of one state machine.
    pub fn dispatcher(
        &self,
        state_machine: &str,
        test_case: &str,
    ) -> Result<MockDispatcher, Error> {
        let cases = self.machines.get(state_machine).ok_or_else(|| {
            err(
                "/StateMachines".into(),
                format!("no state machine named '{state_machine}'"),
            )
        })?;
        let states = cases.get(test_case).ok_or_else(|| {
            err(
                format!("/StateMachines/{}/TestCases", escape_pointer(state_machine)),
                format!("no test case named '{test_case}'"),
            )
        })?;
        let mut map = HashMap::new();
        for (st, r) in states {
            map.insert(
                st.clone(),
                self.responses.get(r).cloned().unwrap_or_default(),
            );
        }
        Ok(MockDispatcher {
            test_case: Some(test_case.to_string()),
            states: map,
            calls: Mutex::default(),
        })
    }
}

fn parse_range(k: &str) -> Option<(u64, u64)> {
    match k.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
            (a <= b).then_some((a, b))
        }
        None => {
            let n = k.trim().parse().ok()?;
            Some((n, n))
        }
    }
}

/// Answers Tasks from a mock test case; a Task without a mock fails with
/// `States.TaskFailed` naming the state.
#[derive(Debug, Default)]
pub struct MockDispatcher {
    test_case: Option<String>,
    states: HashMap<String, Vec<(u64, u64, MockResponse)>>,
    calls: Mutex<HashMap<(String, String), u64>>,
}

impl MockDispatcher {
    /// A dispatcher with no mocks: every Task fails.
    pub fn empty() -> Self {
        MockDispatcher::default()
    }
}

#[async_trait]
impl Dispatcher for MockDispatcher {
    async fn dispatch(&self, req: TaskRequest) -> TaskOutcome {
        let n = {
            let mut g = match self.calls.lock() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            let c = g
                .entry((req.execution_arn.clone(), req.state_name.clone()))
                .or_insert(0);
            let n = *c;
            *c += 1;
            n
        };
        let Some(list) = self.states.get(&req.state_name) else {
            let why = match &self.test_case {
                Some(tc) => format!(
                    "The Task state '{}' has no mocked response in test case '{tc}' (resource '{}')",
                    req.state_name, req.resource
                ),
                None => format!(
                    "The Task state '{}' cannot run: no mock configuration was given and no dispatcher serves resource '{}'",
                    req.state_name, req.resource
                ),
            };
            return TaskOutcome::Failed(Failure::new(names::TASK_FAILED, why));
        };
        match list.iter().find(|(lo, hi, _)| *lo <= n && n <= *hi) {
            Some((_, _, MockResponse::Return(v))) => TaskOutcome::Succeeded(v.clone()),
            Some((_, _, MockResponse::Throw(f))) => TaskOutcome::Failed(f.clone()),
            None => TaskOutcome::Failed(Failure::new(
                names::TASK_FAILED,
                format!(
                    "The Task state '{}' was invoked {} time(s) but its mocked response covers fewer invocations",
                    req.state_name,
                    n + 1
                ),
            )),
        }
    }
}
