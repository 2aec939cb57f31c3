//! The pipeline's vocabulary: who asks ([`UserInfo`]), what is addressed ([`Target`]), how
//! ([`WriteOptions`], [`ListOptions`], [`DeleteRequest`]) and what comes back
//! ([`ServedObject`], [`WriteResult`], [`ListResult`]). No HTTP types: the HTTP front and
//! in-process callers build these alike.

use std::borrow::Cow;

use bytes::Bytes;
use std::sync::Arc;

use corral_api::{ApiError, Backing, KubeObject, ObjectKey, ResourceInfo, Revision};
use corral_core::{Preconditions, Propagation};
use corral_store::{EncodedObject, JsonBytes, Representation};
use serde_json::Value;

use super::events_view;

/// An authenticated (or anonymous) caller, as upstream's `user.Info`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserInfo {
    pub name: String,
    pub uid: String,
    pub groups: Vec<String>,
}

impl UserInfo {
    pub const ANONYMOUS: &'static str = "system:anonymous";

    pub fn new(name: &str, groups: &[&str]) -> UserInfo {
        UserInfo {
            name: name.to_string(),
            uid: String::new(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
        }
    }

    /// The identity of requests without credentials.
    pub fn anonymous() -> UserInfo {
        UserInfo::new(Self::ANONYMOUS, &["system:unauthenticated"])
    }

    /// The identity in-process components use.
    pub fn system(component: &str) -> UserInfo {
        UserInfo::new(&format!("system:{component}"), &["system:masters"])
    }

    pub fn is_anonymous(&self) -> bool {
        self.name == Self::ANONYMOUS
    }
}

/// `fieldValidation`: what to do with unknown or duplicated fields in a body.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FieldValidation {
    Ignore,
    /// Store, and report each problem as a warning (upstream's default for clients that
    /// send no directive).
    #[default]
    Warn,
    Strict,
}

impl FieldValidation {
    /// Parses the query parameter (empty = default). `None` for an unknown value.
    pub fn parse(text: &str) -> Option<FieldValidation> {
        match text {
            "" | "Warn" => Some(FieldValidation::Warn),
            "Ignore" => Some(FieldValidation::Ignore),
            "Strict" => Some(FieldValidation::Strict),
            _ => None,
        }
    }
}

/// Which part of an object a request addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    Main,
    Status,
    /// `namespaces/{name}/finalize`: only `spec.finalizers` changes.
    Finalize,
}

/// Options shared by create, update and patch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteOptions {
    pub dry_run: bool,
    pub field_validation: FieldValidation,
    pub field_manager: Option<String>,
}

impl WriteOptions {
    /// Options of in-process writers: typed objects have no unknown fields to report.
    pub fn internal() -> WriteOptions {
        WriteOptions {
            field_validation: FieldValidation::Ignore,
            ..WriteOptions::default()
        }
    }
}

/// The resource (and optionally namespace and name) a request addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub resource: &'static ResourceInfo,
    /// `None` for cluster-scoped resources and for lists across all namespaces.
    pub namespace: Option<String>,
    pub name: Option<String>,
}

impl Target {
    pub fn collection(resource: &'static ResourceInfo, namespace: Option<&str>) -> Target {
        Target {
            resource,
            namespace: namespace.filter(|n| !n.is_empty()).map(str::to_string),
            name: None,
        }
    }

    pub fn object(resource: &'static ResourceInfo, namespace: Option<&str>, name: &str) -> Target {
        Target {
            name: Some(name.to_string()),
            ..Target::collection(resource, namespace)
        }
    }

    /// The store key of the named object; `None` without a name or for virtual resources.
    pub fn key(&self) -> Option<ObjectKey> {
        let kind = self.resource.stored_kind()?;
        let name = self.name.as_deref()?;
        let namespace = if kind.namespaced() {
            self.namespace.as_deref().unwrap_or("")
        } else {
            ""
        };
        Some(ObjectKey::new(kind, namespace, name))
    }

    pub fn name_or_empty(&self) -> &str {
        self.name.as_deref().unwrap_or("")
    }
}

/// A body decoded to JSON, with what strict validation needs to know about its text.
#[derive(Clone, Debug, PartialEq)]
pub struct DecodedBody {
    pub value: Value,
    /// Paths of fields that appeared twice in one JSON object (`spec.template`).
    pub duplicate_fields: Vec<String>,
}

impl DecodedBody {
    pub fn from_value(value: Value) -> DecodedBody {
        DecodedBody {
            value,
            duplicate_fields: Vec::new(),
        }
    }
}

/// What a response carries: a stored object (streamed as its stored JSON bytes) or a
/// computed value (reviews, converted views).
#[derive(Clone, Debug, PartialEq)]
pub enum ServedBody {
    Encoded(EncodedObject),
    Value(Value),
}

/// One object as a resource serves it.
#[derive(Clone, Debug, PartialEq)]
pub struct ServedObject {
    pub resource: &'static ResourceInfo,
    pub body: ServedBody,
}

impl ServedObject {
    pub fn encoded(resource: &'static ResourceInfo, encoded: EncodedObject) -> ServedObject {
        ServedObject {
            resource,
            body: ServedBody::Encoded(encoded),
        }
    }

    /// The JSON the client receives (the stored bytes as they are, unless the resource is
    /// a converted view).
    pub fn json(&self) -> Cow<'_, [u8]> {
        match (&self.body, self.resource.backing) {
            (ServedBody::Encoded(encoded), Backing::EventsV1View) => {
                match JsonBytes::decode(encoded) {
                    Ok(object) => Cow::Owned(events_view::to_events_v1_bytes(&object)),
                    Err(_) => Cow::Borrowed(encoded.json()),
                }
            }
            (ServedBody::Encoded(encoded), _) => Cow::Borrowed(encoded.json()),
            (ServedBody::Value(value), _) => {
                Cow::Owned(serde_json::to_vec(value).unwrap_or_default())
            }
        }
    }

    /// The JSON as a `Bytes` body; stored objects are shared, not copied.
    pub fn to_bytes(&self) -> Bytes {
        match (&self.body, self.resource.backing) {
            (ServedBody::Encoded(encoded), backing) if backing != Backing::EventsV1View => {
                Bytes::from_owner(StoredJson(encoded.clone()))
            }
            _ => Bytes::from(self.json().into_owned()),
        }
    }

    /// The stored object (for printers); `None` for computed values.
    pub fn object(&self) -> Result<Option<Arc<KubeObject>>, ApiError> {
        match &self.body {
            ServedBody::Encoded(encoded) => JsonBytes::decode(encoded)
                .map(Some)
                .map_err(|e| e.to_api_error(&self.resource.group_resource())),
            ServedBody::Value(_) => Ok(None),
        }
    }
}

/// The JSON part of a stored object, as a `Bytes` owner.
struct StoredJson(EncodedObject);

impl AsRef<[u8]> for StoredJson {
    fn as_ref(&self) -> &[u8] {
        self.0.json()
    }
}

/// The result of create, update and patch.
#[derive(Clone, Debug, PartialEq)]
pub struct WriteResult {
    pub object: ServedObject,
    /// True when the write created the object (201).
    pub created: bool,
    /// False for a no-op (same resourceVersion, no watch event).
    pub changed: bool,
    /// `Warning` headers to send.
    pub warnings: Vec<String>,
}

/// `DeleteOptions` as a request carries them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeleteRequest {
    pub dry_run: bool,
    pub grace_period_seconds: Option<i64>,
    pub propagation: Option<Propagation>,
    pub preconditions: Preconditions,
}

/// The result of a delete.
#[derive(Clone, Debug, PartialEq)]
pub struct DeleteResult {
    /// The last state if deleted, else the object as marked for deletion.
    pub object: ServedObject,
    pub deleted: bool,
    pub warnings: Vec<String>,
}

/// `resourceVersionMatch`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum VersionMatch {
    #[default]
    Unset,
    NotOlderThan,
    Exact,
}

/// The query of a list or watch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListOptions {
    pub label_selector: String,
    pub field_selector: String,
    pub limit: Option<usize>,
    pub continue_token: Option<String>,
    pub resource_version: Option<String>,
    pub resource_version_match: VersionMatch,
    /// Watch only: close the stream after this long.
    pub timeout_seconds: Option<u64>,
    /// Watch only: send BOOKMARK events.
    pub allow_bookmarks: bool,
}

/// One page of a list.
#[derive(Clone, Debug, PartialEq)]
pub struct ListResult {
    pub resource: &'static ResourceInfo,
    pub items: Vec<EncodedObject>,
    pub revision: Revision,
    pub continue_token: Option<String>,
    pub remaining_item_count: Option<u64>,
}

impl ListResult {
    /// The items' JSON as the resource serves it.
    pub fn item_json(&self, index: usize) -> Cow<'_, [u8]> {
        let encoded = &self.items[index];
        if self.resource.backing == Backing::EventsV1View
            && let Ok(object) = JsonBytes::decode(encoded)
        {
            return Cow::Owned(events_view::to_events_v1_bytes(&object));
        }
        Cow::Borrowed(encoded.json())
    }

    /// The decoded items (for printers).
    pub fn objects(&self) -> Result<Vec<Arc<KubeObject>>, ApiError> {
        self.items
            .iter()
            .map(|e| {
                JsonBytes::decode(e).map_err(|e| e.to_api_error(&self.resource.group_resource()))
            })
            .collect()
    }
}
