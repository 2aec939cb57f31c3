//! [`StoreError`]: every way a store operation can fail, as data, and its one mapping to a
//! Kubernetes `Status` ([`StoreError::to_api_error`]).
//!
//! Callers branch on the variant, never on the text. The messages that reach kubectl are
//! worded as upstream's storage layer words them, because kubectl prints them verbatim.

use corral_api::{ApiError, GroupResource, ObjectKey, ResourceKind, Revision, StatusReason};

/// The message upstream sends with a 410 for a continue token whose revision was compacted.
pub const CONTINUE_EXPIRED_MESSAGE: &str = "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.";

/// A failed store operation.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(ObjectKey),
    #[error("{0} already exists")]
    AlreadyExists(ObjectKey),
    /// Optimistic concurrency failed: the object changed since the caller read it.
    #[error("conflict on {key}: {message}")]
    Conflict { key: ObjectKey, message: String },
    /// A uid or resourceVersion precondition did not hold. `message` is upstream's
    /// `Precondition failed: UID in precondition: x, UID in object meta: y`.
    #[error("precondition failed on {key}: {message}")]
    PreconditionFailed { key: ObjectKey, message: String },
    /// The requested revision is older than the oldest one kept.
    #[error("too old resource version: {requested} ({compacted})")]
    Compacted {
        requested: Revision,
        compacted: Revision,
    },
    /// A continue token whose revision was compacted. `continue_token` resumes the same
    /// list after the same key at the latest revision (upstream puts it into the 410's
    /// `metadata.continue`).
    #[error("continue token too old: {requested} ({compacted})")]
    ContinueExpired {
        requested: Revision,
        compacted: Revision,
        continue_token: String,
    },
    /// The requested revision has not happened yet.
    #[error("too large resource version: {requested}, current: {current}")]
    FutureRevision {
        requested: Revision,
        current: Revision,
    },
    #[error("invalid continue token: {0}")]
    InvalidContinue(String),
    #[error("invalid key: {0}")]
    InvalidKey(String),
    /// A `resourceVersion` in an object or precondition that is not a decimal number.
    #[error("invalid resource version: {0}")]
    InvalidRevision(String),
    /// A field selector naming a field the kind does not support.
    #[error("{0}")]
    InvalidSelector(String),
    /// The caller's mutation (in `guaranteed_update`) refused the change.
    #[error("{0}")]
    Rejected(ApiError),
    #[error("cannot decode stored object: {0}")]
    Decode(String),
    #[error("storage I/O error: {0}")]
    Io(String),
    #[error("storage is corrupt: {0}")]
    Corrupt(String),
    /// A commit failed earlier; writes are refused until restart, reads still work.
    #[error("storage is read-only: {0}")]
    ReadOnly(String),
}

impl StoreError {
    /// True for both 410 flavours (compacted revision, expired continue token).
    pub fn is_compacted(&self) -> bool {
        matches!(
            self,
            StoreError::Compacted { .. } | StoreError::ContinueExpired { .. }
        )
    }

    /// The `Status` upstream returns for this failure, for `resource` (`jobs.batch`).
    pub fn to_api_error(&self, resource: &GroupResource) -> ApiError {
        match self {
            StoreError::NotFound(key) => ApiError::not_found(resource, &key.name),
            StoreError::AlreadyExists(key) => ApiError::already_exists(resource, &key.name),
            StoreError::Conflict { key, message } => {
                ApiError::conflict(resource, &key.name, message)
            }
            StoreError::PreconditionFailed { key, message } => {
                let detail = format!(
                    "StorageError: invalid object, Code: 4, Key: {}, ResourceVersion: 0, AdditionalErrorMsg: {message}",
                    registry_path(key)
                );
                ApiError::conflict(resource, &key.name, &detail)
            }
            StoreError::Compacted {
                requested,
                compacted,
            } => ApiError::too_old_resource_version(requested.0, compacted.0),
            StoreError::ContinueExpired { .. } => {
                ApiError::new(StatusReason::Expired, CONTINUE_EXPIRED_MESSAGE)
            }
            StoreError::FutureRevision { requested, current } => {
                too_large_resource_version(*requested, *current)
            }
            StoreError::InvalidContinue(message) => {
                ApiError::bad_request(format!("invalid continue token: {message}"))
            }
            StoreError::InvalidKey(message) => ApiError::bad_request(message.clone()),
            StoreError::InvalidRevision(text) => {
                ApiError::bad_request(format!("invalid resource version: {text}"))
            }
            StoreError::InvalidSelector(message) => ApiError::bad_request(message.clone()),
            StoreError::Rejected(error) => error.clone(),
            StoreError::Decode(message) | StoreError::Corrupt(message) => {
                ApiError::internal(message.clone())
            }
            StoreError::Io(message) => ApiError::internal(format!("storage I/O error: {message}")),
            StoreError::ReadOnly(message) => ApiError::new(
                StatusReason::ServiceUnavailable,
                format!("storage is read-only after a failed write: {message}"),
            ),
        }
    }
}

/// Upstream's 504 for a revision the store has not reached (`NewTooLargeResourceVersionError`).
fn too_large_resource_version(requested: Revision, current: Revision) -> ApiError {
    let mut error = ApiError::new(
        StatusReason::Timeout,
        format!("Too large resource version: {requested}, current: {current}"),
    )
    .with_causes(vec![corral_api::status::ErrorCause {
        reason: "ResourceVersionTooLarge".into(),
        message: "Too large resource version".into(),
        field: String::new(),
    }]);
    if let Some(details) = error.details.as_mut() {
        details.retry_after_seconds = Some(1);
    }
    error
}

/// The etcd key upstream would report for `key` in storage error messages
/// (`/registry/jobs/ns/name`; nodes are stored under `minions` for historical reasons).
pub fn registry_path(key: &ObjectKey) -> String {
    let prefix = match key.kind {
        ResourceKind::Node => "minions",
        other => other.plural(),
    };
    if key.namespace.is_empty() {
        format!("/registry/{prefix}/{}", key.name)
    } else {
        format!("/registry/{prefix}/{}/{}", key.namespace, key.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jobs() -> GroupResource {
        GroupResource::new("batch", "jobs")
    }

    #[test]
    fn precondition_failures_read_like_upstreams_storage_error() {
        let key = ObjectKey::new(ResourceKind::Job, "ns", "x");
        let error = StoreError::PreconditionFailed {
            key,
            message: "Precondition failed: UID in precondition: a, UID in object meta: b".into(),
        };
        let api = error.to_api_error(&jobs());
        assert_eq!(api.code, 409);
        assert_eq!(
            api.message,
            "Operation cannot be fulfilled on jobs.batch \"x\": StorageError: invalid object, Code: 4, Key: /registry/jobs/ns/x, ResourceVersion: 0, AdditionalErrorMsg: Precondition failed: UID in precondition: a, UID in object meta: b"
        );
    }

    #[test]
    fn compaction_errors_are_410_with_upstreams_wording() {
        let api = StoreError::Compacted {
            requested: Revision(5),
            compacted: Revision(100),
        }
        .to_api_error(&jobs());
        assert_eq!(api.code, 410);
        assert_eq!(api.message, "too old resource version: 5 (100)");
        let api = StoreError::ContinueExpired {
            requested: Revision(5),
            compacted: Revision(100),
            continue_token: "x".into(),
        }
        .to_api_error(&jobs());
        assert_eq!(api.code, 410);
        assert_eq!(api.reason, StatusReason::Expired);
        assert_eq!(api.message, CONTINUE_EXPIRED_MESSAGE);
    }

    #[test]
    fn io_failures_are_server_errors_and_bad_tokens_are_client_errors() {
        assert_eq!(
            StoreError::Io("disk".into()).to_api_error(&jobs()).code,
            500
        );
        assert_eq!(
            StoreError::ReadOnly("disk".into())
                .to_api_error(&jobs())
                .code,
            503
        );
        assert_eq!(
            StoreError::InvalidContinue("bad".into())
                .to_api_error(&jobs())
                .code,
            400
        );
        let api = StoreError::FutureRevision {
            requested: Revision(9),
            current: Revision(3),
        }
        .to_api_error(&jobs());
        assert_eq!(api.code, 504);
        assert_eq!(api.message, "Too large resource version: 9, current: 3");
    }
}
