//! [`LocalRuntime`]: the HTTP layer's [`Runtime`] on the embedded interpreter.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use onboard_asl::Engine;
use onboard_domain::{VariableLayer, Variables};
use onboard_http::{ExecutionPath, OrganizationSummary, Runtime, RuntimeError};
use onboard_steps::TaskCallbacks;
use onboard_store::RecordKind;

use super::runtime::EngineCallbacks;
use crate::config::Organization;

/// The interpreter, the registered state machines and the configured organizations.
pub(crate) struct LocalRuntime {
    pub(crate) engine: Arc<Engine>,
    /// The ARN of the registered onboarding state machine.
    pub(crate) onboarding_machine: String,
    /// The ARN of the registered offboarding state machine.
    pub(crate) offboarding_machine: String,
    pub(crate) organizations: Arc<BTreeMap<String, Organization>>,
    pub(crate) msp_variables: Arc<VariableLayer>,
    /// How long a submit waits for the workflow to park before answering
    /// (`None`: until it parks, as with the virtual clock, so answers are deterministic).
    pub(crate) answer_within: Option<Duration>,
    pub(crate) callbacks: EngineCallbacks,
}

impl LocalRuntime {
    /// Starts (or continues) a record's workflow in the background.
    pub(crate) fn spawn_start(&self, kind: RecordKind, id: &str) -> tokio::task::JoinHandle<()> {
        let engine = self.engine.clone();
        let machine = match kind {
            RecordKind::Onboarding => self.onboarding_machine.clone(),
            RecordKind::Offboarding => self.offboarding_machine.clone(),
        };
        let input = onboard_steps::intake::start_input(kind, id);
        let id = id.to_owned();
        tokio::spawn(async move {
            match engine.start_execution(&machine, Some(&id), input).await {
                Ok(_) | Err(onboard_asl::Error::ExecutionAlreadyExists(_)) => {}
                Err(e) => {
                    tracing::error!(record_id = %id, error = %e, "starting the workflow failed")
                }
            }
        })
    }
}

#[async_trait]
impl Runtime for LocalRuntime {
    async fn start(&self, kind: RecordKind, id: &str) -> Result<(), RuntimeError> {
        // The execution runs on in the background; a failure to start is logged and
        // the record is started again at the next start-up (orphans).
        let handle = self.spawn_start(kind, id);
        match self.answer_within {
            None => {
                let _ = handle.await;
            }
            Some(limit) => {
                let _ = tokio::time::timeout(limit, handle).await;
            }
        }
        Ok(())
    }

    fn callbacks(&self) -> &dyn TaskCallbacks {
        &self.callbacks
    }

    async fn organizations(&self) -> Result<Vec<OrganizationSummary>, RuntimeError> {
        Ok(self
            .organizations
            .values()
            .map(|o| OrganizationSummary {
                id: o.id.clone(),
                name: o.name.clone(),
                domain: o.domain.clone(),
            })
            .collect())
    }

    async fn variables(&self, organization: &str) -> Result<Option<Variables>, RuntimeError> {
        let Some(org) = self.organizations.get(organization) else {
            return Ok(None);
        };
        Variables::resolve(&org.id, &self.msp_variables, &org.variables)
            .map(Some)
            .map_err(|e| {
                RuntimeError::Internal(format!("resolving the organization's variables: {e}"))
            })
    }

    async fn execution_path(
        &self,
        kind: RecordKind,
        id: &str,
    ) -> Result<Option<ExecutionPath>, RuntimeError> {
        let machine = match kind {
            RecordKind::Onboarding => &self.onboarding_machine,
            RecordKind::Offboarding => &self.offboarding_machine,
        };
        let arn = onboard_http::execution_arn(machine, id);
        let record = match self.engine.describe_execution(&arn).await {
            Ok(record) => record,
            Err(onboard_asl::Error::ExecutionDoesNotExist(_)) => return Ok(None),
            Err(e) => {
                return Err(RuntimeError::Internal(format!(
                    "reading execution {id}: {e}"
                )));
            }
        };
        let entered = record
            .history
            .iter()
            .filter(|e| e.kind.ends_with("StateEntered"))
            .filter_map(|e| {
                e.details
                    .get("stateEnteredEventDetails")
                    .and_then(|d| d.get("name"))
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_owned)
            })
            .collect();
        Ok(Some(ExecutionPath {
            entered,
            running: record.status == onboard_asl::execution::ExecutionStatus::Running,
        }))
    }
}
