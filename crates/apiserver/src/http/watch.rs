//! Watch responses: newline-delimited JSON `{"type": …, "object": …}` frames, one HTTP
//! chunk (or HTTP/2 data frame) per event, flushed as produced. With the Table `Accept`
//! each object is a one-row Table (column definitions on the first event only).

use std::convert::Infallible;

use axum::body::Body;
use bytes::Bytes;
use corral_printers::IncludeObject;

use super::negotiate::ObjectFormat;
use super::table::object_table;
use crate::service::{ServedObject, WatchItem, WatchObject, WatchStream};

/// Encodes one event as a frame.
pub fn frame(
    item: &WatchItem,
    stream: &WatchStream,
    format: ObjectFormat,
    include: IncludeObject,
    first: bool,
) -> Bytes {
    let resource = stream.resource();
    let object: Vec<u8> = match &item.object {
        WatchObject::Object(encoded) => {
            let served = ServedObject::encoded(resource, encoded.clone());
            match format {
                ObjectFormat::Table => {
                    match object_table(&served, include, jiff::Timestamp::now(), first) {
                        Ok(Some(table)) => serde_json::to_vec(&table).unwrap_or_default(),
                        Ok(None) => served.json().into_owned(),
                        Err(e) => serde_json::to_vec(&e.to_json()).unwrap_or_default(),
                    }
                }
                ObjectFormat::Json => served.json().into_owned(),
            }
        }
        WatchObject::Bookmark(revision) => serde_json::to_vec(&serde_json::json!({
            "kind": resource.kind,
            "apiVersion": resource.group_version(),
            "metadata": {"resourceVersion": revision.to_string()},
        }))
        .unwrap_or_default(),
        WatchObject::Error(error) => serde_json::to_vec(&error.to_json()).unwrap_or_default(),
    };
    let mut out = Vec::with_capacity(object.len() + 32);
    out.extend_from_slice(b"{\"type\":\"");
    out.extend_from_slice(item.event_type.as_str().as_bytes());
    out.extend_from_slice(b"\",\"object\":");
    out.extend_from_slice(&object);
    out.extend_from_slice(b"}\n");
    Bytes::from(out)
}

/// The streaming body of a watch.
pub fn body(stream: WatchStream, format: ObjectFormat, include: IncludeObject) -> Body {
    let frames = futures::stream::unfold((stream, true), move |(mut stream, first)| async move {
        let item = stream.next().await?;
        let bytes = frame(&item, &stream, format, include, first);
        Some((Ok::<Bytes, Infallible>(bytes), (stream, false)))
    });
    Body::from_stream(frames)
}

/// How often a watch of a computed collection (`holdings`, `webhookbreakers`) recomputes
/// it.
pub const COMPUTED_WATCH_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);

/// One frame of a computed object.
fn computed_frame(
    event_type: &str,
    resource: &'static corral_api::ResourceInfo,
    object: &serde_json::Value,
    format: ObjectFormat,
    include: IncludeObject,
    first: bool,
) -> Bytes {
    let object = match format {
        ObjectFormat::Table => {
            let mut table = corral_printers::print_value_table(
                resource,
                std::slice::from_ref(object),
                &corral_printers::PrintOptions {
                    now: jiff::Timestamp::now(),
                    include_object: include,
                },
            );
            if !first {
                table.column_definitions.clear();
            }
            serde_json::to_value(&table).unwrap_or_default()
        }
        ObjectFormat::Json => object.clone(),
    };
    let frame = serde_json::json!({"type": event_type, "object": object});
    let mut out = serde_json::to_vec(&frame).unwrap_or_default();
    out.push(b'\n');
    Bytes::from(out)
}

/// A watch of a computed collection: ADDED for every current object, then every
/// [`COMPUTED_WATCH_INTERVAL`] the differences (ADDED, MODIFIED, DELETED by namespace and
/// name) until `timeout` or shutdown.
pub fn computed_body(
    service: crate::service::ApiService,
    target: crate::service::Target,
    format: ObjectFormat,
    include: IncludeObject,
    timeout: std::time::Duration,
) -> Body {
    use std::collections::BTreeMap;
    type Seen = BTreeMap<(String, String), serde_json::Value>;
    let resource = target.resource;
    let deadline = tokio::time::Instant::now() + timeout;
    let key = |v: &serde_json::Value| {
        (
            v["metadata"]["namespace"]
                .as_str()
                .unwrap_or("")
                .to_string(),
            v["metadata"]["name"].as_str().unwrap_or("").to_string(),
        )
    };
    let state: (Seen, bool, bool) = (BTreeMap::new(), true, true);
    let frames = futures::stream::unfold(state, move |(mut seen, mut first, initial)| {
        let (service, target) = (service.clone(), target.clone());
        async move {
            if !initial {
                if tokio::time::Instant::now() >= deadline {
                    return None;
                }
                tokio::time::sleep_until(
                    (tokio::time::Instant::now() + COMPUTED_WATCH_INTERVAL).min(deadline),
                )
                .await;
            }
            let items = service.list_computed(&target).ok()?.items;
            let mut current: Seen = BTreeMap::new();
            for item in items {
                current.insert(key(&item), item);
            }
            let mut out = Vec::new();
            for (k, item) in &current {
                let event = match seen.get(k) {
                    None => Some("ADDED"),
                    Some(old) if old != item => Some("MODIFIED"),
                    Some(_) => None,
                };
                if let Some(event) = event {
                    out.extend_from_slice(&computed_frame(
                        event, resource, item, format, include, first,
                    ));
                    first = false;
                }
            }
            for (k, old) in &seen {
                if !current.contains_key(k) {
                    out.extend_from_slice(&computed_frame(
                        "DELETED", resource, old, format, include, first,
                    ));
                    first = false;
                }
            }
            seen = current;
            Some((
                Ok::<Bytes, Infallible>(Bytes::from(out)),
                (seen, first, false),
            ))
        }
    });
    Body::from_stream(frames)
}
