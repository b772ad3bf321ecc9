//! Every key the DynamoDB store writes, in one place (`docs/dynamodb.md` lists them):
//! partition keys `<KIND>#<id>`, the fixed sort keys of single items, and the
//! index keys that list records by status, organization and pending decision.

use jiff::Timestamp;

use crate::model::{RecordKind, Scope, Status};

/// The sort key of a record item (its partition key is [`record_key`]).
pub(super) const RECORD_SK: &str = "REC";
/// The sort key of a decision item.
pub(super) const DECISION_SK: &str = "DEC";
/// The sort key of a remembered idempotent result.
pub(super) const IDEMPOTENCY_SK: &str = "IDEM";
/// The sort key of a scope's variables.
pub(super) const VARIABLES_SK: &str = "VARS";
/// The sort-key prefix of a record's timeline events.
pub(super) const EVENT_PREFIX: &str = "EV#";
/// The key prefix of connector settings.
pub(super) const CONNECTOR_PREFIX: &str = "CONN#";
/// The sort-key prefix of a scope's templates.
pub(super) const TEMPLATE_PREFIX: &str = "TPL#";

/// Escapes `%` and `#` so a value can sit between `#` separators in a key.
pub(super) fn key_part(value: &str) -> String {
    value.replace('%', "%25").replace('#', "%23")
}

/// A record's partition key.
pub(super) fn record_key(id: &str) -> String {
    format!("REC#{id}")
}

/// A decision's partition key.
pub(super) fn decision_key(id: &str) -> String {
    format!("DEC#{id}")
}

/// A seat pool's reservations' partition key.
pub(super) fn reservation_pk(pool: &str) -> String {
    format!("RESERVE#{}", key_part(pool))
}

/// The index key of records of `kind` in `status`.
pub(super) fn status_pk(kind: RecordKind, status: Status) -> String {
    format!("STATUS#{kind}#{status}")
}

/// The index key of an organization's records of `kind`.
pub(super) fn org_pk(kind: RecordKind, organization: &str) -> String {
    format!("ORG#{kind}#{}", key_part(organization))
}

/// The index key of an organization's pending decisions.
pub(super) fn pending_pk(organization: &str) -> String {
    format!("PENDING#{}", key_part(organization))
}

/// A timeline event's sort key, in time order.
pub(super) fn event_sk(at: Timestamp, unique: &str) -> String {
    // Nanoseconds, so events written in one microsecond still sort by time.
    format!("{EVENT_PREFIX}{:025}#{unique}", at.as_nanosecond().max(0))
}

/// A record's newest-first sort key, `<created_us>#<id>` (its `gsi1sk`).
pub(super) fn recent_key(created_us: i64, id: &str) -> String {
    format!("{:020}#{id}", created_us.max(0))
}

/// A remembered idempotent result's partition key (the key as the steps make it).
pub(super) fn idempotency_pk(key: &str) -> String {
    format!("IDEM#{key}")
}

/// A lease's partition key.
pub(super) fn lease_pk(name: &str) -> String {
    format!("LEASE#{}", key_part(name))
}

/// A console session's partition key (the id is a hash already).
pub(super) fn session_pk(id: &str) -> String {
    format!("SESSION#{}", key_part(id))
}

/// A console session's sort key.
pub(super) const SESSION_SK: &str = "SESSION";

/// A scope's variables' partition key.
pub(super) fn variables_pk(scope: &Scope) -> String {
    format!("VARS#{}", scope.key())
}

/// A scope's connectors' partition key.
pub(super) fn connectors_pk(scope: &Scope) -> String {
    format!("{CONNECTOR_PREFIX}{}", scope.key())
}

/// A scope's templates' partition key.
pub(super) fn templates_pk(scope: &Scope) -> String {
    format!("TEMPLATES#{}", scope.key())
}

/// A template's sort key.
pub(super) fn template_sk(name: &str) -> String {
    format!("{TEMPLATE_PREFIX}{}", key_part(name))
}

/// A connector's sort key (and its `gsi1pk`, listing every scope's settings of it).
pub(super) fn connector_sk(connector: &str) -> String {
    format!("{CONNECTOR_PREFIX}{connector}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_parts_cannot_forge_a_separator() {
        assert_eq!(key_part("a#b%c"), "a%23b%25c");
        assert_eq!(
            org_pk(RecordKind::Onboarding, "x#y"),
            "ORG#onboarding#x%23y"
        );
    }

    #[test]
    fn events_sort_by_time() {
        let early = event_sk("2026-01-01T00:00:00Z".parse().unwrap(), "b");
        let late = event_sk("2026-01-01T00:00:00.000000001Z".parse().unwrap(), "a");
        assert!(early < late);
        assert!(early.starts_with(EVENT_PREFIX));
    }
}
