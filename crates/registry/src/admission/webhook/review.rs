//! AdmissionReview bodies: the request the API server POSTs
//! (`request/admissionreview.go`, `CreateV1AdmissionReview`), the verification of the
//! response (`VerifyAdmissionResponse`), and the rejection built from a response's status
//! (`errors/statuserror.go`, `ToStatusErr`).

use std::collections::BTreeMap;

use corral_api::status::{ErrorCause, ErrorDetails};
use corral_api::validation::go_quote;
use corral_api::{ApiError, StatusReason};
use serde_json::{Map, Value, json};

use crate::admission::request::AdmissionRequest;

/// Which AdmissionReview version a webhook gets: the first of its
/// `admissionReviewVersions` Corral knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReviewVersion {
    V1,
    V1beta1,
}

impl ReviewVersion {
    pub fn pick(versions: &[String]) -> Option<ReviewVersion> {
        versions.iter().find_map(|v| match v.as_str() {
            "v1" => Some(ReviewVersion::V1),
            "v1beta1" => Some(ReviewVersion::V1beta1),
            _ => None,
        })
    }

    fn api_version(self) -> &'static str {
        match self {
            ReviewVersion::V1 => "admission.k8s.io/v1",
            ReviewVersion::V1beta1 => "admission.k8s.io/v1beta1",
        }
    }
}

/// The `request` part of an AdmissionReview.
pub fn build(
    version: ReviewVersion,
    uid: &str,
    request: &AdmissionRequest,
    namespace: &str,
    object: Option<Value>,
    old_object: Option<Value>,
) -> Value {
    let info = request.resource;
    let gvk = json!({"group": info.group, "version": info.version, "kind": info.kind});
    let gvr = json!({"group": info.group, "version": info.version, "resource": info.resource});
    let mut r = Map::new();
    r.insert("uid".into(), uid.into());
    r.insert("kind".into(), gvk.clone());
    r.insert("resource".into(), gvr.clone());
    if !request.subresource().is_empty() {
        r.insert("subResource".into(), request.subresource().into());
    }
    r.insert("requestKind".into(), gvk);
    r.insert("requestResource".into(), gvr);
    if !request.subresource().is_empty() {
        r.insert("requestSubResource".into(), request.subresource().into());
    }
    if !request.name.is_empty() {
        r.insert("name".into(), request.name.clone().into());
    }
    if !namespace.is_empty() {
        r.insert("namespace".into(), namespace.into());
    }
    r.insert("operation".into(), request.operation.as_str().into());
    r.insert("userInfo".into(), request.user.to_review_json());
    r.insert("object".into(), object.unwrap_or(Value::Null));
    r.insert("oldObject".into(), old_object.unwrap_or(Value::Null));
    r.insert("dryRun".into(), request.dry_run.into());
    let options = request
        .operation
        .options_kind()
        .map_or(Value::Null, |kind| {
            let mut o = Map::new();
            o.insert("kind".into(), kind.into());
            o.insert("apiVersion".into(), "meta.k8s.io/v1".into());
            if request.dry_run {
                o.insert("dryRun".into(), json!(["All"]));
            }
            if let Some(manager) = &request.field_manager {
                o.insert("fieldManager".into(), manager.clone().into());
            }
            Value::Object(o)
        });
    r.insert("options".into(), options);
    json!({
        "kind": "AdmissionReview",
        "apiVersion": version.api_version(),
        "request": Value::Object(r),
    })
}

/// A verified response.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReviewResponse {
    pub allowed: bool,
    pub patch: Option<Vec<u8>>,
    pub patch_type: Option<String>,
    pub status: Option<Value>,
    pub warnings: Vec<String>,
    pub audit_annotations: BTreeMap<String, String>,
}

/// Why a response is unusable; both are call failures (subject to `failurePolicy`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResponseError {
    /// The body does not decode as an AdmissionReview (`failed to call webhook: …`).
    Decode(String),
    /// It decodes but breaks the protocol (`received invalid webhook response: …`).
    Invalid(String),
}

impl ResponseError {
    pub fn describe(&self) -> String {
        match self {
            ResponseError::Decode(m) => format!("failed to call webhook: {m}"),
            ResponseError::Invalid(m) => format!("received invalid webhook response: {m}"),
        }
    }
}

fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn type_error(value: &Value, field: &str, go: &str) -> ResponseError {
    ResponseError::Decode(format!(
        "json: cannot unmarshal {} into Go struct field AdmissionReview.response.{field} of type {go}",
        go_type(value)
    ))
}

fn string_list(value: Option<&Value>, field: &str) -> Result<Vec<String>, ResponseError> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| type_error(i, field, "string"))
            })
            .collect(),
        Some(other) => Err(type_error(other, field, "[]string")),
    }
}

/// Upstream `VerifyAdmissionResponse`.
pub fn verify(
    body: &Value,
    version: ReviewVersion,
    uid: &str,
    mutating: bool,
) -> Result<ReviewResponse, ResponseError> {
    let Some(top) = body.as_object() else {
        return Err(ResponseError::Decode(format!(
            "json: cannot unmarshal {} into Go value of type v1.AdmissionReview",
            go_type(body)
        )));
    };
    let response = match top.get("response") {
        None | Some(Value::Null) => {
            return Err(ResponseError::Invalid("webhook response was absent".into()));
        }
        Some(Value::Object(r)) => r,
        Some(other) => return Err(type_error(other, "response", "v1.AdmissionResponse")),
    };
    let field_str = |name: &str| -> Result<Option<String>, ResponseError> {
        match response.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(type_error(other, name, "string")),
        }
    };
    let allowed = match response.get("allowed") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => return Err(type_error(other, "allowed", "bool")),
    };
    let patch = match field_str("patch")? {
        None => None,
        Some(text) => Some(
            serde_json::from_value::<k8s_openapi::ByteString>(Value::String(text))
                .map_err(|_| ResponseError::Decode("illegal base64 data in response.patch".into()))?
                .0,
        ),
    };
    let patch = patch.filter(|p| !p.is_empty());
    let patch_type = field_str("patchType")?;
    let status = match response.get("status") {
        None | Some(Value::Null) => None,
        Some(s @ Value::Object(_)) => Some(s.clone()),
        Some(other) => return Err(type_error(other, "status", "v1.Status")),
    };
    let warnings = string_list(response.get("warnings"), "warnings")?;
    let mut audit_annotations = BTreeMap::new();
    match response.get("auditAnnotations") {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (k, v) in map {
                let v = v
                    .as_str()
                    .ok_or_else(|| type_error(v, "auditAnnotations", "string"))?;
                audit_annotations.insert(k.clone(), v.to_string());
            }
        }
        Some(other) => return Err(type_error(other, "auditAnnotations", "map[string]string")),
    }
    let mut out = ReviewResponse {
        allowed,
        patch,
        patch_type: None,
        status,
        warnings,
        audit_annotations,
    };
    match version {
        ReviewVersion::V1 => {
            let got_uid = field_str("uid")?.unwrap_or_default();
            if got_uid != uid {
                return Err(ResponseError::Invalid(format!(
                    "expected response.uid={}, got {}",
                    go_quote(uid),
                    go_quote(&got_uid)
                )));
            }
            let api_version = top.get("apiVersion").and_then(Value::as_str).unwrap_or("");
            let kind = top.get("kind").and_then(Value::as_str).unwrap_or("");
            if api_version != "admission.k8s.io/v1" || kind != "AdmissionReview" {
                let (group, v) = api_version.rsplit_once('/').unwrap_or(("", api_version));
                return Err(ResponseError::Invalid(format!(
                    "expected webhook response of admission.k8s.io/v1, Kind=AdmissionReview, got {group}/{v}, Kind={kind}"
                )));
            }
            if mutating {
                match (&out.patch, &patch_type) {
                    (Some(_), None) => {
                        return Err(ResponseError::Invalid(
                            "webhook returned response.patch but not response.patchType".into(),
                        ));
                    }
                    (None, Some(_)) => {
                        return Err(ResponseError::Invalid(
                            "webhook returned response.patchType but not response.patch".into(),
                        ));
                    }
                    (_, Some(t)) if t.is_empty() => {
                        return Err(ResponseError::Invalid(
                            "webhook returned invalid response.patchType of \"\"".into(),
                        ));
                    }
                    _ => out.patch_type = patch_type,
                }
            } else if out.patch.is_some() {
                return Err(ResponseError::Invalid(
                    "validating webhook may not return response.patch".into(),
                ));
            } else if patch_type.is_some() {
                return Err(ResponseError::Invalid(
                    "validating webhook may not return response.patchType".into(),
                ));
            }
        }
        ReviewVersion::V1beta1 => {
            if mutating && out.patch.is_some() {
                out.patch_type = Some("JSONPatch".into());
            } else {
                out.patch = None;
            }
        }
    }
    Ok(out)
}

/// Upstream `ToStatusErr`: the webhook's status with `admission webhook "<name>" denied
/// the request: <message>`; codes below 400 become 400. A status without a reason gets
/// the reason of its code (upstream leaves it empty; Corral's errors always carry one).
pub fn to_status_err(webhook: &str, status: Option<&Value>) -> ApiError {
    let empty = Map::new();
    let status = status.and_then(Value::as_object).unwrap_or(&empty);
    let text = |k: &str| {
        status
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let code = status
        .get("code")
        .and_then(Value::as_u64)
        .map(|c| c.min(999) as u16)
        .filter(|c| *c >= 400)
        .unwrap_or(400);
    let (message, reason_text) = (text("message"), text("reason"));
    let denied_by = format!("admission webhook {} denied the request", go_quote(webhook));
    let message = if !message.is_empty() {
        format!("{denied_by}: {message}")
    } else if !reason_text.is_empty() {
        format!("{denied_by}: {reason_text}")
    } else {
        format!("{denied_by} without explanation")
    };
    let reason = StatusReason::parse(&reason_text).unwrap_or_else(|| StatusReason::for_code(code));
    let details = status.get("details").and_then(Value::as_object).map(|d| {
        let field = |k: &str| d.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        ErrorDetails {
            name: field("name"),
            group: field("group"),
            kind: field("kind"),
            uid: field("uid"),
            causes: d
                .get("causes")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|c| {
                    let f = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                    ErrorCause {
                        reason: f("reason"),
                        message: f("message"),
                        field: f("field"),
                    }
                })
                .collect(),
            retry_after_seconds: d
                .get("retryAfterSeconds")
                .and_then(Value::as_i64)
                .map(|v| v as i32),
        }
    });
    ApiError {
        code,
        reason,
        message,
        details,
    }
}
