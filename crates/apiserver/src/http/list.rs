//! List responses, streamed: the stored JSON of each item is copied into ~64 KiB chunks
//! between the list header and footer, never re-encoded and never held twice.

use std::convert::Infallible;

use axum::body::Body;
use bytes::Bytes;
use corral_api::{Backing, ResourceInfo};
use serde_json::json;

use crate::service::{ListResult, ServedObject};

const CHUNK_BYTES: usize = 64 * 1024;

/// `apiVersion` of a resource's objects and lists.
fn api_version(resource: &ResourceInfo) -> String {
    match resource.backing {
        Backing::EventsV1View => "events.k8s.io/v1".to_string(),
        _ => resource.group_version(),
    }
}

fn header(resource: &ResourceInfo, page: &ListResult) -> Vec<u8> {
    let mut metadata = json!({"resourceVersion": page.revision.to_string()});
    if let Some(token) = &page.continue_token {
        metadata["continue"] = json!(token);
    }
    if let Some(remaining) = page.remaining_item_count {
        metadata["remainingItemCount"] = json!(remaining);
    }
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(b"{\"kind\":");
    out.extend_from_slice(
        &serde_json::to_vec(&format!("{}List", resource.kind)).unwrap_or_default(),
    );
    out.extend_from_slice(b",\"apiVersion\":");
    out.extend_from_slice(&serde_json::to_vec(&api_version(resource)).unwrap_or_default());
    out.extend_from_slice(b",\"metadata\":");
    out.extend_from_slice(&serde_json::to_vec(&metadata).unwrap_or_default());
    out.extend_from_slice(b",\"items\":[");
    out
}

/// Produces the chunks of one list.
struct Chunks {
    page: ListResult,
    next: usize,
    started: bool,
    finished: bool,
}

impl Iterator for Chunks {
    type Item = Result<Bytes, Infallible>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.finished {
            return None;
        }
        let mut out = if self.started {
            Vec::with_capacity(CHUNK_BYTES)
        } else {
            header(self.page.resource, &self.page)
        };
        self.started = true;
        while self.next < self.page.items.len() && out.len() < CHUNK_BYTES {
            if self.next > 0 {
                out.push(b',');
            }
            out.extend_from_slice(&self.page.item_json(self.next));
            self.next += 1;
        }
        if self.next >= self.page.items.len() {
            out.extend_from_slice(b"]}");
            self.finished = true;
        }
        Some(Ok(Bytes::from(out)))
    }
}

/// The streaming JSON body of a list page.
pub fn body(page: ListResult) -> Body {
    Body::from_stream(futures::stream::iter(Chunks {
        page,
        next: 0,
        started: false,
        finished: false,
    }))
}

/// A list of objects (the answer of a collection delete), in memory.
pub fn objects_body(resource: &ResourceInfo, objects: &[ServedObject]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(b"{\"kind\":");
    out.extend_from_slice(
        &serde_json::to_vec(&format!("{}List", resource.kind)).unwrap_or_default(),
    );
    out.extend_from_slice(b",\"apiVersion\":");
    out.extend_from_slice(&serde_json::to_vec(&api_version(resource)).unwrap_or_default());
    out.extend_from_slice(b",\"metadata\":{},\"items\":[");
    for (index, object) in objects.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        out.extend_from_slice(&object.json());
    }
    out.extend_from_slice(b"]}");
    out
}
