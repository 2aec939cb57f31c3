//! Typed API errors and their mapping to Kubernetes `Status` objects.
//!
//! Every failure that reaches a client is a [`ApiError`]; it carries the HTTP code, the
//! machine-readable reason and a message worded as upstream's, because kubectl prints the
//! message verbatim (`Error from server (NotFound): jobs.batch "x" not found`).

use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Status, StatusCause, StatusDetails};

use crate::validation::FieldError;

/// The `reason` field of a `Status`: what kind of failure this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StatusReason {
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    AlreadyExists,
    Conflict,
    Gone,
    Expired,
    Invalid,
    MethodNotAllowed,
    NotAcceptable,
    RequestEntityTooLarge,
    UnsupportedMediaType,
    TooManyRequests,
    InternalError,
    ServerTimeout,
    Timeout,
    ServiceUnavailable,
}

impl StatusReason {
    /// Every reason, in declaration order.
    pub const ALL: [StatusReason; 18] = [
        StatusReason::BadRequest,
        StatusReason::Unauthorized,
        StatusReason::Forbidden,
        StatusReason::NotFound,
        StatusReason::AlreadyExists,
        StatusReason::Conflict,
        StatusReason::Gone,
        StatusReason::Expired,
        StatusReason::Invalid,
        StatusReason::MethodNotAllowed,
        StatusReason::NotAcceptable,
        StatusReason::RequestEntityTooLarge,
        StatusReason::UnsupportedMediaType,
        StatusReason::TooManyRequests,
        StatusReason::InternalError,
        StatusReason::ServerTimeout,
        StatusReason::Timeout,
        StatusReason::ServiceUnavailable,
    ];

    /// The reason a `Status` names (`None` for a reason Corral does not know).
    pub fn parse(text: &str) -> Option<StatusReason> {
        StatusReason::ALL.into_iter().find(|r| r.as_str() == text)
    }

    /// The reason of a `Status` that names none, from its HTTP code (upstream
    /// `reasonForCode`); other 5xx codes are `InternalError`, other codes `BadRequest`.
    pub fn for_code(code: u16) -> StatusReason {
        match code {
            409 => StatusReason::Conflict,
            410 => StatusReason::Gone,
            504 => StatusReason::Timeout,
            c if c >= 500 && c != 503 => StatusReason::InternalError,
            c => StatusReason::ALL
                .into_iter()
                .find(|r| r.default_code() == c)
                .unwrap_or(StatusReason::BadRequest),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            StatusReason::BadRequest => "BadRequest",
            StatusReason::Unauthorized => "Unauthorized",
            StatusReason::Forbidden => "Forbidden",
            StatusReason::NotFound => "NotFound",
            StatusReason::AlreadyExists => "AlreadyExists",
            StatusReason::Conflict => "Conflict",
            StatusReason::Gone => "Gone",
            StatusReason::Expired => "Expired",
            StatusReason::Invalid => "Invalid",
            StatusReason::MethodNotAllowed => "MethodNotAllowed",
            StatusReason::NotAcceptable => "NotAcceptable",
            StatusReason::RequestEntityTooLarge => "RequestEntityTooLarge",
            StatusReason::UnsupportedMediaType => "UnsupportedMediaType",
            StatusReason::TooManyRequests => "TooManyRequests",
            StatusReason::InternalError => "InternalError",
            StatusReason::ServerTimeout => "ServerTimeout",
            StatusReason::Timeout => "Timeout",
            StatusReason::ServiceUnavailable => "ServiceUnavailable",
        }
    }

    /// The HTTP status code upstream pairs with this reason.
    pub fn default_code(self) -> u16 {
        match self {
            StatusReason::BadRequest => 400,
            StatusReason::Unauthorized => 401,
            StatusReason::Forbidden => 403,
            StatusReason::NotFound => 404,
            StatusReason::MethodNotAllowed => 405,
            StatusReason::NotAcceptable => 406,
            StatusReason::AlreadyExists | StatusReason::Conflict => 409,
            StatusReason::Gone | StatusReason::Expired => 410,
            StatusReason::RequestEntityTooLarge => 413,
            StatusReason::UnsupportedMediaType => 415,
            StatusReason::Invalid => 422,
            StatusReason::TooManyRequests => 429,
            StatusReason::InternalError => 500,
            StatusReason::ServiceUnavailable => 503,
            StatusReason::ServerTimeout | StatusReason::Timeout => 504,
        }
    }
}

/// A resource name qualified by its group, printed as upstream's `GroupResource`:
/// `jobs.batch`, or just `pods` for the core group.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct GroupResource {
    pub group: String,
    pub resource: String,
}

impl GroupResource {
    pub fn new(group: &str, resource: &str) -> Self {
        GroupResource {
            group: group.to_string(),
            resource: resource.to_string(),
        }
    }
}

impl fmt::Display for GroupResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.group.is_empty() {
            f.write_str(&self.resource)
        } else {
            write!(f, "{}.{}", self.resource, self.group)
        }
    }
}

/// A failed API request, ready to become a `Status` body.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub code: u16,
    pub reason: StatusReason,
    pub message: String,
    pub details: Option<ErrorDetails>,
}

/// `Status.details`: which object the error is about, and per-field causes for 422s.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ErrorDetails {
    pub name: String,
    pub group: String,
    pub kind: String,
    pub uid: String,
    pub causes: Vec<ErrorCause>,
    pub retry_after_seconds: Option<i32>,
}

/// One entry of `Status.details.causes`.
#[derive(Clone, Debug, PartialEq)]
pub struct ErrorCause {
    pub reason: String,
    pub message: String,
    pub field: String,
}

impl ApiError {
    pub fn new(reason: StatusReason, message: impl Into<String>) -> Self {
        ApiError {
            code: reason.default_code(),
            reason,
            message: message.into(),
            details: None,
        }
    }

    fn with_target(mut self, resource: &GroupResource, name: &str) -> Self {
        self.details = Some(ErrorDetails {
            name: name.to_string(),
            group: resource.group.clone(),
            kind: resource.resource.clone(),
            ..ErrorDetails::default()
        });
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusReason::BadRequest, message)
    }

    pub fn not_found(resource: &GroupResource, name: &str) -> Self {
        Self::new(
            StatusReason::NotFound,
            format!("{resource} \"{name}\" not found"),
        )
        .with_target(resource, name)
    }

    /// The 404 for a path the server does not serve at all.
    pub fn unknown_path() -> Self {
        Self::new(
            StatusReason::NotFound,
            "the server could not find the requested resource",
        )
    }

    pub fn already_exists(resource: &GroupResource, name: &str) -> Self {
        Self::new(
            StatusReason::AlreadyExists,
            format!("{resource} \"{name}\" already exists"),
        )
        .with_target(resource, name)
    }

    /// An optimistic-concurrency failure: the object changed since the client read it.
    pub fn conflict(resource: &GroupResource, name: &str, detail: &str) -> Self {
        Self::new(
            StatusReason::Conflict,
            format!("Operation cannot be fulfilled on {resource} \"{name}\": {detail}"),
        )
        .with_target(resource, name)
    }

    pub fn conflict_modified(resource: &GroupResource, name: &str) -> Self {
        Self::conflict(
            resource,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    pub fn forbidden(resource: &GroupResource, name: &str, reason: &str) -> Self {
        let message = if name.is_empty() {
            format!("{resource} is forbidden: {reason}")
        } else {
            format!("{resource} \"{name}\" is forbidden: {reason}")
        };
        Self::new(StatusReason::Forbidden, message).with_target(resource, name)
    }

    /// 410 for a watch or list that asks for a revision already compacted away.
    pub fn too_old_resource_version(requested: u64, oldest: u64) -> Self {
        Self::new(
            StatusReason::Expired,
            format!("too old resource version: {requested} ({oldest})"),
        )
    }

    /// A 422 built from field errors, worded as upstream's `NewInvalid`:
    /// `Job.batch "x" is invalid: spec.parallelism: Invalid value: -1: must be greater
    /// than or equal to 0`; several errors are printed as a bracketed list.
    pub fn invalid(kind: &str, group: &str, name: &str, errors: &[FieldError]) -> Self {
        let qualified_kind = if group.is_empty() {
            kind.to_string()
        } else {
            format!("{kind}.{group}")
        };
        let rendered: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        let summary = match rendered.len() {
            0 => String::new(),
            1 => rendered[0].clone(),
            _ => format!("[{}]", rendered.join(", ")),
        };
        let causes = errors
            .iter()
            .map(|e| ErrorCause {
                reason: e.kind.cause_reason().to_string(),
                message: e.body(),
                field: e.path.clone(),
            })
            .collect();
        ApiError {
            code: 422,
            reason: StatusReason::Invalid,
            message: format!("{qualified_kind} \"{name}\" is invalid: {summary}"),
            details: Some(ErrorDetails {
                name: name.to_string(),
                group: group.to_string(),
                kind: kind.to_string(),
                causes,
                ..ErrorDetails::default()
            }),
        }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        let message = message.into();
        Self::new(
            StatusReason::InternalError,
            format!("Internal error occurred: {message}"),
        )
        .with_causes(vec![ErrorCause {
            reason: String::new(),
            message,
            field: String::new(),
        }])
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusReason::MethodNotAllowed,
            "the server does not allow this method on the requested resource",
        )
    }

    pub fn with_causes(mut self, causes: Vec<ErrorCause>) -> Self {
        self.details
            .get_or_insert_with(ErrorDetails::default)
            .causes = causes;
        self
    }

    pub fn with_code(mut self, code: u16) -> Self {
        self.code = code;
        self
    }

    pub fn is_not_found(&self) -> bool {
        self.reason == StatusReason::NotFound
    }

    pub fn is_conflict(&self) -> bool {
        self.reason == StatusReason::Conflict
    }

    pub fn is_already_exists(&self) -> bool {
        self.reason == StatusReason::AlreadyExists
    }

    /// The `Status` object for the response body.
    pub fn to_status(&self) -> Status {
        Status {
            code: Some(i32::from(self.code)),
            message: Some(self.message.clone()),
            reason: Some(self.reason.as_str().to_string()),
            status: Some("Failure".to_string()),
            details: self.details.as_ref().map(|d| StatusDetails {
                name: non_empty(&d.name),
                group: non_empty(&d.group),
                kind: non_empty(&d.kind),
                uid: non_empty(&d.uid),
                retry_after_seconds: d.retry_after_seconds,
                causes: if d.causes.is_empty() {
                    None
                } else {
                    Some(
                        d.causes
                            .iter()
                            .map(|c| StatusCause {
                                reason: non_empty(&c.reason),
                                message: non_empty(&c.message),
                                field: non_empty(&c.field),
                            })
                            .collect(),
                    )
                },
            }),
            metadata: Default::default(),
        }
    }

    /// The JSON body: a `Status` with `kind` and `apiVersion`.
    pub fn to_json(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(self.to_status()).unwrap_or_default();
        if let Some(map) = value.as_object_mut() {
            map.insert("kind".into(), "Status".into());
            map.insert("apiVersion".into(), "v1".into());
            map.entry("metadata")
                .or_insert_with(|| serde_json::json!({}));
        }
        value
    }
}

fn non_empty(s: &str) -> Option<String> {
    if s.is_empty() {
        None
    } else {
        Some(s.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::{FieldError, FieldErrorType};

    #[test]
    fn not_found_is_worded_like_upstream() {
        let e = ApiError::not_found(&GroupResource::new("batch", "jobs"), "nope");
        assert_eq!(e.code, 404);
        assert_eq!(e.message, "jobs.batch \"nope\" not found");
        let json = e.to_json();
        assert_eq!(json["kind"], "Status");
        assert_eq!(json["details"]["kind"], "jobs");
        assert_eq!(json["details"]["group"], "batch");
        assert_eq!(json["status"], "Failure");
    }

    #[test]
    fn core_group_resources_print_without_a_group_suffix() {
        let e = ApiError::not_found(&GroupResource::new("", "pods"), "p");
        assert_eq!(e.message, "pods \"p\" not found");
    }

    #[test]
    fn invalid_lists_causes_and_brackets_several_errors() {
        let errors = vec![
            FieldError::new(
                "spec.template.spec.restartPolicy",
                FieldErrorType::NotSupported,
            )
            .value_str("Always")
            .detail("supported values: \"OnFailure\", \"Never\""),
            FieldError::new("spec.parallelism", FieldErrorType::Invalid)
                .value_int(-1)
                .detail("must be greater than or equal to 0"),
        ];
        let e = ApiError::invalid("Job", "batch", "x", &errors);
        assert_eq!(e.code, 422);
        assert_eq!(
            e.message,
            "Job.batch \"x\" is invalid: [spec.template.spec.restartPolicy: Unsupported value: \"Always\": supported values: \"OnFailure\", \"Never\", spec.parallelism: Invalid value: -1: must be greater than or equal to 0]"
        );
        let causes = &e.details.as_ref().unwrap().causes;
        assert_eq!(causes[0].reason, "FieldValueNotSupported");
        assert_eq!(causes[1].field, "spec.parallelism");
    }
}

#[cfg(test)]
mod reason_tests {
    use super::StatusReason;

    #[test]
    fn reasons_parse_back_and_codes_map_to_reasons() {
        for reason in StatusReason::ALL {
            assert_eq!(StatusReason::parse(reason.as_str()), Some(reason));
        }
        assert_eq!(StatusReason::parse("Bogus"), None);
        assert_eq!(StatusReason::for_code(404), StatusReason::NotFound);
        assert_eq!(StatusReason::for_code(409), StatusReason::Conflict);
        assert_eq!(StatusReason::for_code(410), StatusReason::Gone);
        assert_eq!(StatusReason::for_code(422), StatusReason::Invalid);
        assert_eq!(
            StatusReason::for_code(503),
            StatusReason::ServiceUnavailable
        );
        assert_eq!(StatusReason::for_code(504), StatusReason::Timeout);
        assert_eq!(StatusReason::for_code(502), StatusReason::InternalError);
        assert_eq!(StatusReason::for_code(418), StatusReason::BadRequest);
    }
}
