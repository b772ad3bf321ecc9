//! The one error type of the store, shared by both backends.

use std::path::PathBuf;

/// Everything a [`crate::Store`] call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An item with this id already exists (creating a record twice).
    #[error("{what} {id} already exists")]
    AlreadyExists {
        /// What kind of item: "record", ...
        what: &'static str,
        /// Its id.
        id: String,
    },
    /// The item the call needs does not exist.
    #[error("{what} {id} not found")]
    NotFound {
        /// What kind of item: "record", "decision", ...
        what: &'static str,
        /// Its id.
        id: String,
    },
    /// A change that expected the record in another status ([`crate::RecordUpdate::expect_status`]).
    #[error("record {id} is no longer `{expected}`")]
    StatusChanged {
        /// The record.
        id: String,
        /// The status the change expected.
        expected: crate::Status,
    },
    /// A paging cursor that this store did not hand out, or for another query.
    #[error("invalid paging cursor")]
    InvalidCursor,
    /// A call whose arguments contradict each other (e.g. deciding an approval "confirmed").
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The SQLite file was written by a newer Onboard: refuse rather than misread it.
    #[error(
        "database {path} has schema version {found}, newer than the {supported} this build knows: upgrade onboard, or restore a backup"
    )]
    NewerSchema {
        /// The database file.
        path: PathBuf,
        /// `PRAGMA user_version` found in the file.
        found: i64,
        /// The newest schema version this build can migrate to.
        supported: i64,
    },
    /// The file is not an Onboard SQLite database, or is damaged.
    #[error("database {path} is not a usable onboard database: {reason}")]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// What was wrong with it.
        reason: String,
        /// The SQLite error, when there was one.
        #[cfg(feature = "sqlite")]
        #[source]
        source: Option<rusqlite::Error>,
    },
    /// SQLite failed.
    #[cfg(feature = "sqlite")]
    #[error("sqlite failed")]
    Sqlite(#[from] rusqlite::Error),
    /// A file next to the database (the token key) could not be read or written.
    #[error("{path}: i/o failed")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A DynamoDB call failed (after the SDK's own retries).
    #[error("dynamodb {operation} failed")]
    DynamoDb {
        /// The API operation, e.g. "UpdateItem".
        operation: &'static str,
        /// The SDK error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A stored item or row does not have the shape this build writes.
    #[error("stored item is malformed: {0}")]
    Malformed(String),
    /// A JSON payload could not be encoded or decoded.
    #[error("json payload failed to encode or decode")]
    Json(#[from] serde_json::Error),
    /// The task token could not be sealed or opened (wrong key, or tampered ciphertext).
    #[error("task token could not be {0} with the configured key")]
    TokenCrypto(&'static str),
    /// The operating system's random number generator failed.
    #[error("the operating system's random number generator failed")]
    Randomness(#[source] getrandom::Error),
    /// The token key given in the configuration is not 32 bytes of base64.
    #[error("token key is invalid: {0}")]
    InvalidTokenKey(String),
    /// The blocking task running a SQLite call panicked or was cancelled.
    #[error("sqlite worker task failed")]
    Worker(#[from] tokio::task::JoinError),
}

impl StoreError {
    /// Whether the backend could not be reached or failed in passing (retry
    /// later), as opposed to a refusal of this call.
    pub fn is_unavailable(&self) -> bool {
        match self {
            #[cfg(feature = "sqlite")]
            StoreError::Sqlite(_) => true,
            StoreError::DynamoDb { .. }
            | StoreError::Io { .. }
            | StoreError::Worker(_)
            | StoreError::Randomness(_) => true,
            _ => false,
        }
    }

    /// Wraps an SDK error with the name of the operation that failed.
    #[cfg(feature = "dynamodb")]
    pub(crate) fn dynamo(
        operation: &'static str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        StoreError::DynamoDb {
            operation,
            source: Box::new(source),
        }
    }
}
