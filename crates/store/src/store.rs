//! The `Store` port: everything the workflow must remember, behind one async trait.

use async_trait::async_trait;
use secrecy::SecretString;

use crate::StoreError;
use crate::model::{
    ConnectorSettings, Cursor, Decide, DecideOutcome, Decision, NewDecision, NewRecord, Page,
    RecentFilter, Record, RecordFilter, RecordKind, RecordUpdate, Scope, StoredTemplate,
    TimelineEvent, Variables,
};

/// Durable state of onboardings and offboardings. Both backends pass the same
/// conformance suite (`tests/conformance`), so callers cannot tell them apart.
///
/// Every write that returns `Ok` is durable (SQLite: committed with
/// `synchronous=FULL`; DynamoDB: acknowledged by the service).
#[async_trait]
pub trait Store: Send + Sync {
    // Records.

    /// Stores a new record. `AlreadyExists` when the id is taken.
    async fn create_record(&self, record: NewRecord) -> Result<Record, StoreError>;

    /// The record with this id, of either kind.
    async fn get_record(&self, id: &str) -> Result<Option<Record>, StoreError>;

    /// Applies `update` (and appends its event, if any) in one atomic change,
    /// setting `updated_at` to `at`. `NotFound` when there is no such record.
    async fn update_record(
        &self,
        id: &str,
        update: RecordUpdate,
        at: jiff::Timestamp,
    ) -> Result<(), StoreError>;

    /// One page (at most `limit` items, `limit` >= 1) of the records of `kind` matching `filter`.
    async fn list_records(
        &self,
        kind: RecordKind,
        filter: &RecordFilter,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> Result<Page<Record>, StoreError>;

    /// One page of the records of `kind` matching `filter`, newest first
    /// (by creation time, then id, both descending): what a dashboard shows.
    async fn list_recent(
        &self,
        kind: RecordKind,
        filter: &RecentFilter,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> Result<Page<Record>, StoreError>;

    // Timeline.

    /// Appends one event to a record's timeline and sets its `updated_at` to
    /// the event's time, atomically. `NotFound` when there is no such record.
    async fn append_event(&self, record_id: &str, event: TimelineEvent) -> Result<(), StoreError>;

    /// A record's whole timeline, oldest first (ties in append order on SQLite).
    async fn timeline(&self, record_id: &str) -> Result<Vec<TimelineEvent>, StoreError>;

    // Decisions.

    /// Stores a pending decision under a fresh random id, its task token
    /// sealed. `NotFound` when the record does not exist.
    async fn create_decision(&self, decision: NewDecision) -> Result<Decision, StoreError>;

    /// The decision with this id (without its token).
    async fn get_decision(&self, id: &str) -> Result<Option<Decision>, StoreError>;

    /// Moves a decision out of `pending`, once: of any number of concurrent
    /// callers exactly one gets [`DecideOutcome::Decided`] (with the task
    /// token); the others get [`DecideOutcome::AlreadyDecided`] with the
    /// winner's decision. `InvalidArgument` when `decide.to` does not fit the
    /// decision's kind.
    async fn decide(&self, id: &str, decide: Decide) -> Result<DecideOutcome, StoreError>;

    /// The task token of a decision, e.g. to resume again after a crash that
    /// followed a won [`Store::decide`].
    async fn task_token(&self, id: &str) -> Result<Option<SecretString>, StoreError>;

    /// One page of an organization's pending decisions, soonest expiry first.
    async fn pending_decisions(
        &self,
        organization: &str,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> Result<Page<Decision>, StoreError>;

    // Step idempotency.

    /// Stores `result` under `key` unless a result is already there, and
    /// returns the stored result: the first writer's, whoever asks.
    /// The entry may be removed after `keep_until` (DynamoDB TTL).
    async fn put_step_result(
        &self,
        key: &str,
        result: serde_json::Value,
        keep_until: jiff::Timestamp,
    ) -> Result<serde_json::Value, StoreError>;

    /// The result stored under `key`, if any.
    async fn step_result(&self, key: &str) -> Result<Option<serde_json::Value>, StoreError>;

    // Leases.

    /// Takes the lease `name` for `holder` until `expires_at`, when nobody
    /// holds it, its holder's lease has expired (`expires_at` of the old lease
    /// is at or before `now`: a crashed holder blocks others only until then),
    /// or `holder` already holds it (taking it again extends it). A
    /// conditional write: of any number of concurrent callers at most one
    /// gets `true` while the lease is live.
    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: jiff::Timestamp,
        expires_at: jiff::Timestamp,
    ) -> Result<bool, StoreError>;

    /// Gives the lease `name` back, if `holder` still holds it; `false` when
    /// it held nothing (expired and taken by another, or never taken).
    async fn release_lease(&self, name: &str, holder: &str) -> Result<bool, StoreError>;

    // Reservations.

    /// Holds a place for `holder` in `pool` until `expires_at` (holding it
    /// again moves the expiry). A pool counts claims that outlive the step
    /// that made them, e.g. the seats of a SKU bought for onboardings that
    /// have not assigned them yet.
    async fn reserve(
        &self,
        pool: &str,
        holder: &str,
        expires_at: jiff::Timestamp,
    ) -> Result<(), StoreError>;

    /// Gives `holder`'s place in `pool` back; `false` when it held none.
    async fn release_reservation(&self, pool: &str, holder: &str) -> Result<bool, StoreError>;

    /// The holders of `pool`'s places that are live at `now` (expiring after
    /// it), in holder order. Expired places are not listed, whether or not
    /// they are removed yet.
    async fn reservations(
        &self,
        pool: &str,
        now: jiff::Timestamp,
    ) -> Result<Vec<String>, StoreError>;

    // Console sessions.

    /// Creates or replaces the console session `id` with `data` until
    /// `expires_at`, and forgets sessions that expired by `now`. The id is a hash
    /// of the cookie's secret, never the secret: a copy of the store gives no
    /// session.
    async fn put_session(
        &self,
        id: &str,
        data: &serde_json::Value,
        now: jiff::Timestamp,
        expires_at: jiff::Timestamp,
    ) -> Result<(), StoreError>;

    /// The data of session `id` while it is live at `now` (expiring after it).
    async fn session(
        &self,
        id: &str,
        now: jiff::Timestamp,
    ) -> Result<Option<serde_json::Value>, StoreError>;

    /// Ends session `id`; `false` when there was none.
    async fn delete_session(&self, id: &str) -> Result<bool, StoreError>;

    // Configuration.

    /// The variables set in `scope` (only that scope: merging
    /// defaults <- MSP-wide <- organization is the domain's job).
    async fn variables(&self, scope: &Scope) -> Result<Variables, StoreError>;

    /// Replaces all the variables of `scope`.
    async fn put_variables(&self, scope: &Scope, variables: &Variables) -> Result<(), StoreError>;

    /// One connector's settings in `scope`.
    async fn connector(
        &self,
        scope: &Scope,
        connector: &str,
    ) -> Result<Option<ConnectorSettings>, StoreError>;

    /// All connectors' settings in `scope`, by name.
    async fn connectors(&self, scope: &Scope) -> Result<Vec<ConnectorSettings>, StoreError>;

    /// One connector's settings in every scope that has it: MSP-wide first, then
    /// organizations by id (e.g. every organization's `organization` item, to list them).
    async fn connector_in_all_scopes(
        &self,
        connector: &str,
    ) -> Result<Vec<(Scope, ConnectorSettings)>, StoreError>;

    /// Creates or replaces one connector's settings in `scope`.
    async fn put_connector(
        &self,
        scope: &Scope,
        settings: &ConnectorSettings,
    ) -> Result<(), StoreError>;

    /// The templates of `scope`, by name (the store keeps their bodies as given:
    /// checking them is the domain's job).
    async fn templates(&self, scope: &Scope) -> Result<Vec<StoredTemplate>, StoreError>;

    /// Template `name` of `scope`.
    async fn template(
        &self,
        scope: &Scope,
        name: &str,
    ) -> Result<Option<StoredTemplate>, StoreError>;

    /// Creates or replaces a template of `scope`.
    async fn put_template(
        &self,
        scope: &Scope,
        template: &StoredTemplate,
    ) -> Result<(), StoreError>;

    /// Deletes template `name` of `scope`; `false` when there was none.
    async fn delete_template(&self, scope: &Scope, name: &str) -> Result<bool, StoreError>;
}

/// Checks a page size: at least 1, at most 1,000.
pub(crate) fn check_limit(limit: u32) -> Result<u32, StoreError> {
    if (1..=1000).contains(&limit) {
        Ok(limit)
    } else {
        Err(StoreError::InvalidArgument(format!(
            "page size {limit} is outside 1..=1000"
        )))
    }
}
