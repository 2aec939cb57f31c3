//! The trace: every store mutation, in commit order. A 64-bit FNV-1a hash over each
//! mutation's time, revision, change, key, uid and the writing client is always kept (no
//! JSON involved) and printed at the end, so CI can compare two runs cheaply; with
//! `--trace` every mutation is also written as one JSON line with the whole object.

use std::io::Write;

use corral_core::{ChangeKind, ObjectEvent};

use crate::time::{SimTime, format_offset};

pub struct Trace {
    writer: Option<Box<dyn Write>>,
    hash: u64,
    pub mutations: u64,
    error: Option<String>,
}

impl std::fmt::Debug for Trace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trace")
            .field("hash", &self.hash)
            .field("mutations", &self.mutations)
            .finish()
    }
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0100_0000_01b3;

fn mix(hash: &mut u64, bytes: &[u8]) {
    for b in bytes {
        *hash ^= u64::from(*b);
        *hash = hash.wrapping_mul(FNV_PRIME);
    }
    *hash ^= 0xff;
    *hash = hash.wrapping_mul(FNV_PRIME);
}

fn change_name(change: ChangeKind) -> &'static str {
    match change {
        ChangeKind::Added => "ADDED",
        ChangeKind::Modified => "MODIFIED",
        ChangeKind::Deleted => "DELETED",
    }
}

impl Trace {
    pub fn new(writer: Option<Box<dyn Write>>) -> Trace {
        Trace {
            writer,
            hash: FNV_OFFSET,
            mutations: 0,
            error: None,
        }
    }

    pub fn hash(&self) -> u64 {
        self.hash
    }

    /// The first write error, if writing the trace failed.
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    pub fn record(&mut self, t: SimTime, event: &ObjectEvent, client: &str) {
        self.mutations += 1;
        let object = &event.object;
        let meta = object.meta();
        mix(&mut self.hash, &t.to_le_bytes());
        mix(&mut self.hash, &event.revision.0.to_le_bytes());
        mix(&mut self.hash, change_name(event.change).as_bytes());
        mix(&mut self.hash, object.kind().kind_name().as_bytes());
        mix(&mut self.hash, object.namespace().as_bytes());
        mix(&mut self.hash, object.name().as_bytes());
        mix(&mut self.hash, meta.uid.as_deref().unwrap_or("").as_bytes());
        mix(&mut self.hash, client.as_bytes());
        let Some(writer) = self.writer.as_mut() else {
            return;
        };
        let line = serde_json::json!({
            "t": format_offset(t),
            "rev": event.revision.0,
            "type": change_name(event.change),
            "kind": object.kind().kind_name(),
            "namespace": object.namespace(),
            "name": object.name(),
            "by": client,
            "object": object.to_value(),
        });
        let result = serde_json::to_writer(&mut *writer, &line)
            .map_err(|e| e.to_string())
            .and_then(|_| writer.write_all(b"\n").map_err(|e| e.to_string()));
        if let Err(e) = result {
            self.error.get_or_insert(e);
            self.writer = None;
        }
    }

    pub fn flush(&mut self) {
        if let Some(w) = self.writer.as_mut()
            && let Err(e) = w.flush()
        {
            self.error.get_or_insert(e.to_string());
        }
    }
}
