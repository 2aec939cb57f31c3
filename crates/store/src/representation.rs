//! [`Representation`]: how stored values live in memory, and its two implementations.
//!
//! - [`JsonBytes`] (the API server): each version is one shared allocation,
//!   [`EncodedObject`], holding a small selector index (labels and selectable field
//!   values) followed by the object's JSON. Lists, watch events and history share it by
//!   reference count and stream the JSON without re-encoding; memory stays near the
//!   encoded size.
//! - [`TypedArc`] (the simulator): `Arc<KubeObject>`, so the hot path never touches JSON.
//!
//! Layout of an [`EncodedObject`]: `format (1 byte), kind (1), json offset (u32 LE),
//! label count, labels (key, value)…, field count, field values…, json`, where counts and
//! string lengths are LEB128 varints and field values follow
//! `corral_api::fields::selectable_fields(kind)` order.

use std::borrow::Cow;
use std::sync::Arc;

use corral_api::fields::{field_value, selectable_fields};
use corral_api::{FieldSelector, KubeObject, LabelSelector, ResourceKind};

use crate::error::StoreError;
use crate::selection::{fields_match, label_digest, labels_match};

/// How values live in memory. One store implementation serves every representation.
pub trait Representation: Send + Sync + 'static {
    type Value: Clone + PartialEq + std::fmt::Debug + Send + Sync + 'static;

    /// Encodes an object that already carries its final `resourceVersion`.
    fn encode(object: &KubeObject) -> Self::Value;

    /// Like [`Representation::encode`], for callers that own the object (saves a deep
    /// copy for [`TypedArc`]).
    fn encode_owned(object: KubeObject) -> Self::Value {
        Self::encode(&object)
    }

    fn decode(value: &Self::Value) -> Result<Arc<KubeObject>, StoreError>;

    /// JSON bytes, for durable backends, snapshots and HTTP.
    fn to_bytes(value: &Self::Value) -> Cow<'_, [u8]>;

    fn from_bytes(kind: ResourceKind, bytes: &[u8]) -> Result<Self::Value, StoreError>;

    fn matches(value: &Self::Value, labels: &LabelSelector, fields: &FieldSelector) -> bool;

    /// The label digest (see `selection`); all bits set means "unknown, always check".
    fn label_digest(value: &Self::Value) -> u64 {
        let _ = value;
        u64::MAX
    }
}

/// Pre-encoded JSON plus a compact selector index ([`EncodedObject`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct JsonBytes;

/// `Arc<KubeObject>`: no JSON on the simulator's hot path.
#[derive(Clone, Copy, Debug, Default)]
pub struct TypedArc;

const ENCODED_FORMAT: u8 = 1;
const HEADER_LENGTH: usize = 6;

/// One stored version in the [`JsonBytes`] representation: selector index and JSON in a
/// single shared allocation.
#[derive(Clone, PartialEq, Eq)]
pub struct EncodedObject(Arc<[u8]>);

impl std::fmt::Debug for EncodedObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncodedObject")
            .field("json", &String::from_utf8_lossy(self.json()))
            .finish()
    }
}

fn push_varint(buffer: &mut Vec<u8>, mut value: usize) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            buffer.push(byte);
            return;
        }
        buffer.push(byte | 0x80);
    }
}

fn push_str(buffer: &mut Vec<u8>, text: &str) {
    push_varint(buffer, text.len());
    buffer.extend_from_slice(text.as_bytes());
}

/// A bounds-checked reader over the index part; `None` on malformed input, never a panic.
struct IndexReader<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> IndexReader<'a> {
    fn varint(&mut self) -> Option<usize> {
        let mut value: usize = 0;
        for shift in (0..usize::BITS).step_by(7) {
            let byte = *self.bytes.get(self.position)?;
            self.position += 1;
            value |= usize::from(byte & 0x7f).checked_shl(shift)?;
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }

    fn string(&mut self) -> Option<&'a str> {
        let length = self.varint()?;
        let end = self.position.checked_add(length)?;
        let text = std::str::from_utf8(self.bytes.get(self.position..end)?).ok()?;
        self.position = end;
        Some(text)
    }
}

impl EncodedObject {
    /// Packs `object` with its already-encoded `json`.
    pub fn pack(object: &KubeObject, json: &[u8]) -> EncodedObject {
        let mut buffer = Vec::with_capacity(json.len() + 96);
        buffer.extend_from_slice(&[
            ENCODED_FORMAT,
            crate::key::kind_byte(object.kind()),
            0,
            0,
            0,
            0,
        ]);
        let labels = object.meta().labels.as_ref();
        push_varint(&mut buffer, labels.map_or(0, |l| l.len()));
        for (key, value) in labels.into_iter().flatten() {
            push_str(&mut buffer, key);
            push_str(&mut buffer, value);
        }
        let fields = selectable_fields(object.kind());
        push_varint(&mut buffer, fields.len());
        for field in fields {
            push_str(&mut buffer, &field_value(object, field).unwrap_or_default());
        }
        let offset = u32::try_from(buffer.len()).unwrap_or(u32::MAX);
        buffer[2..HEADER_LENGTH].copy_from_slice(&offset.to_le_bytes());
        buffer.extend_from_slice(json);
        EncodedObject(Arc::from(buffer))
    }

    fn json_offset(&self) -> usize {
        let mut offset = [0u8; 4];
        if let Some(bytes) = self.0.get(2..HEADER_LENGTH) {
            offset.copy_from_slice(bytes);
        }
        (u32::from_le_bytes(offset) as usize).min(self.0.len())
    }

    /// The object's JSON, exactly as encoded.
    pub fn json(&self) -> &[u8] {
        &self.0[self.json_offset()..]
    }

    pub fn kind(&self) -> Option<ResourceKind> {
        ResourceKind::ALL.get(usize::from(*self.0.get(1)?)).copied()
    }

    /// Total bytes of the shared allocation (index and JSON).
    pub fn allocated_len(&self) -> usize {
        self.0.len()
    }

    fn reader(&self) -> IndexReader<'_> {
        IndexReader {
            bytes: &self.0[..self.json_offset()],
            position: HEADER_LENGTH,
        }
    }

    /// The labels, in key order.
    pub fn labels(&self) -> impl Iterator<Item = (&str, &str)> {
        let mut reader = self.reader();
        let count = reader.varint().unwrap_or(0);
        (0..count).map_while(move |_| Some((reader.string()?, reader.string()?)))
    }

    fn label(&self, key: &str) -> Option<&str> {
        self.labels().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// The value of a selectable field, as upstream's field set renders it.
    pub fn field(&self, name: &str) -> Option<&str> {
        let index = selectable_fields(self.kind()?)
            .iter()
            .position(|f| *f == name)?;
        let mut reader = self.reader();
        let labels = reader.varint()?;
        for _ in 0..labels * 2 {
            reader.string()?;
        }
        let count = reader.varint()?;
        if index >= count {
            return None;
        }
        for _ in 0..index {
            reader.string()?;
        }
        reader.string()
    }
}

impl Representation for JsonBytes {
    type Value = EncodedObject;

    fn encode(object: &KubeObject) -> EncodedObject {
        EncodedObject::pack(object, &object.to_json_vec())
    }

    fn decode(value: &EncodedObject) -> Result<Arc<KubeObject>, StoreError> {
        let kind = value
            .kind()
            .ok_or_else(|| StoreError::Decode("encoded object has an unknown kind".into()))?;
        KubeObject::from_json_slice(kind, value.json())
            .map(Arc::new)
            .map_err(|e| StoreError::Decode(e.to_string()))
    }

    fn to_bytes(value: &EncodedObject) -> Cow<'_, [u8]> {
        Cow::Borrowed(value.json())
    }

    fn from_bytes(kind: ResourceKind, bytes: &[u8]) -> Result<EncodedObject, StoreError> {
        let object = KubeObject::from_json_slice(kind, bytes)
            .map_err(|e| StoreError::Decode(e.to_string()))?;
        // Keep the bytes exactly as stored rather than re-encoding the parsed object:
        // what clients read back must be what was written.
        Ok(EncodedObject::pack(&object, bytes))
    }

    fn matches(value: &EncodedObject, labels: &LabelSelector, fields: &FieldSelector) -> bool {
        labels_match(labels, |key| value.label(key))
            && fields_match(fields, |name| value.field(name))
    }

    fn label_digest(value: &EncodedObject) -> u64 {
        label_digest(value.labels())
    }
}

impl Representation for TypedArc {
    type Value = Arc<KubeObject>;

    fn encode(object: &KubeObject) -> Arc<KubeObject> {
        Arc::new(object.clone())
    }

    fn encode_owned(object: KubeObject) -> Arc<KubeObject> {
        Arc::new(object)
    }

    fn decode(value: &Arc<KubeObject>) -> Result<Arc<KubeObject>, StoreError> {
        Ok(Arc::clone(value))
    }

    fn to_bytes(value: &Arc<KubeObject>) -> Cow<'_, [u8]> {
        Cow::Owned(value.to_json_vec())
    }

    fn from_bytes(kind: ResourceKind, bytes: &[u8]) -> Result<Arc<KubeObject>, StoreError> {
        KubeObject::from_json_slice(kind, bytes)
            .map(Arc::new)
            .map_err(|e| StoreError::Decode(e.to_string()))
    }

    fn matches(value: &Arc<KubeObject>, labels: &LabelSelector, fields: &FieldSelector) -> bool {
        let object_labels = value.meta().labels.as_ref();
        labels_match(labels, |key| {
            object_labels.and_then(|l| l.get(key)).map(String::as_str)
        }) && fields.matches(|name| field_value(value, name))
    }

    fn label_digest(value: &Arc<KubeObject>) -> u64 {
        let labels = value.meta().labels.iter().flatten();
        label_digest(labels.map(|(k, v)| (k.as_str(), v.as_str())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_api::k8s_openapi::api::core::v1::{Pod, PodSpec};
    use corral_api::k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn pod() -> KubeObject {
        Pod {
            metadata: ObjectMeta {
                name: Some("p".into()),
                namespace: Some("ns".into()),
                labels: Some([("app".to_string(), "web".to_string())].into()),
                ..Default::default()
            },
            spec: Some(PodSpec {
                node_name: Some("n1".into()),
                ..Default::default()
            }),
            ..Default::default()
        }
        .into()
    }

    #[test]
    fn encoded_objects_keep_json_labels_and_fields() {
        let object = pod();
        let encoded = JsonBytes::encode(&object);
        assert_eq!(encoded.json(), object.to_json_vec().as_slice());
        assert_eq!(encoded.labels().collect::<Vec<_>>(), vec![("app", "web")]);
        assert_eq!(encoded.field("spec.nodeName"), Some("n1"));
        assert_eq!(encoded.field("status.phase"), Some(""));
        assert_eq!(encoded.field("spec.bogus"), None);
        assert_eq!(*JsonBytes::decode(&encoded).unwrap(), object);
    }

    #[test]
    fn both_representations_match_selectors_alike() {
        let object = pod();
        let json = JsonBytes::encode(&object);
        let typed = TypedArc::encode(&object);
        for (labels, fields) in [
            ("app=web", "spec.nodeName=n1"),
            ("app=web", "spec.nodeName!=n1"),
            ("app notin (web)", ""),
            ("", "metadata.name=p,metadata.namespace=ns"),
            ("", "status.phase="),
        ] {
            let labels = LabelSelector::parse(labels).unwrap();
            let fields = FieldSelector::parse(fields).unwrap();
            assert_eq!(
                JsonBytes::matches(&json, &labels, &fields),
                TypedArc::matches(&typed, &labels, &fields)
            );
        }
    }

    #[test]
    fn malformed_stored_bytes_are_decode_errors() {
        assert!(matches!(
            JsonBytes::from_bytes(ResourceKind::Pod, b"{not json"),
            Err(StoreError::Decode(_))
        ));
        assert!(TypedArc::from_bytes(ResourceKind::Pod, b"[]").is_err());
    }
}
