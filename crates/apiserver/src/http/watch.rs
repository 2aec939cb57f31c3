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
