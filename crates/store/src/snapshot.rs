//! The snapshot file format (version 1), its writer and its streaming reader, and
//! [`Store::snapshot`].
//!
//! ```text
//! offset  size  field
//! 0       16    magic "CORRAL-SNAPSHOT\n"
//! 16      4     format version, u32 little-endian (1)
//! 20      8     revision, u64 LE: the store revision the snapshot shows
//! 28      8     object count, u64 LE
//! 36      …     entries, in key order, each:
//!                 u8  kind name length, kind name (UTF-8, e.g. "Pod")
//!                 u16 LE namespace length, namespace ("" for cluster-scoped kinds)
//!                 u16 LE name length, name
//!                 u64 LE create revision, u64 LE mod revision
//!                 u32 LE value length, value (the object's JSON, resourceVersion = mod revision)
//! end-4   4     CRC-32 (IEEE), u32 LE, of every preceding byte
//! ```
//!
//! Kinds are stored by name, not by index, so adding kinds never invalidates old
//! snapshots. Readers check the magic, version, every length against the remaining input,
//! the count, the checksum, and that nothing follows the checksum.

use std::io::{Read, Write};

use corral_api::{ObjectKey, ResourceKind, Revision};

use crate::backend::StoredObject;
use crate::error::StoreError;
use crate::representation::Representation;
use crate::store::Store;
use crate::types::SnapshotInfo;

pub const SNAPSHOT_MAGIC: &[u8; 16] = b"CORRAL-SNAPSHOT\n";
pub const SNAPSHOT_FORMAT_VERSION: u32 = 1;

fn io_error(error: std::io::Error) -> StoreError {
    StoreError::Io(error.to_string())
}

/// Writes the format to `out`, computing the checksum as it goes.
struct ChecksumWriter<'a> {
    out: &'a mut dyn Write,
    hasher: crc32fast::Hasher,
    written: u64,
}

impl ChecksumWriter<'_> {
    fn put(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        self.out.write_all(bytes).map_err(io_error)?;
        self.hasher.update(bytes);
        self.written += bytes.len() as u64;
        Ok(())
    }
}

/// Writes a snapshot of `objects` (in key order) at `revision` to `out`.
pub fn write_snapshot<'a>(
    out: &mut dyn Write,
    revision: Revision,
    object_count: u64,
    objects: impl Iterator<Item = (ObjectKey, Revision, Revision, std::borrow::Cow<'a, [u8]>)>,
) -> Result<SnapshotInfo, StoreError> {
    let mut writer = ChecksumWriter {
        out,
        hasher: crc32fast::Hasher::new(),
        written: 0,
    };
    writer.put(SNAPSHOT_MAGIC)?;
    writer.put(&SNAPSHOT_FORMAT_VERSION.to_le_bytes())?;
    writer.put(&revision.0.to_le_bytes())?;
    writer.put(&object_count.to_le_bytes())?;
    let mut written_count = 0u64;
    for (key, create_revision, mod_revision, bytes) in objects {
        let kind = key.kind.kind_name().as_bytes();
        let too_long =
            |what: &str| StoreError::InvalidKey(format!("{key}: {what} too long for a snapshot"));
        writer.put(&[u8::try_from(kind.len()).map_err(|_| too_long("kind"))?])?;
        writer.put(kind)?;
        for part in [&key.namespace, &key.name] {
            let length = u16::try_from(part.len()).map_err(|_| too_long("name"))?;
            writer.put(&length.to_le_bytes())?;
            writer.put(part.as_bytes())?;
        }
        writer.put(&create_revision.0.to_le_bytes())?;
        writer.put(&mod_revision.0.to_le_bytes())?;
        let length = u32::try_from(bytes.len()).map_err(|_| too_long("value"))?;
        writer.put(&length.to_le_bytes())?;
        writer.put(&bytes)?;
        written_count += 1;
    }
    assert_eq!(
        written_count, object_count,
        "the snapshot header announced every object"
    );
    let checksum = writer.hasher.clone().finalize();
    writer
        .out
        .write_all(&checksum.to_le_bytes())
        .map_err(io_error)?;
    writer.out.flush().map_err(io_error)?;
    Ok(SnapshotInfo {
        revision,
        object_count,
        checksum,
        size_bytes: writer.written + 4,
    })
}

/// Reads the format from `input`, checking it as it goes.
struct ChecksumReader<'a> {
    input: &'a mut dyn Read,
    hasher: crc32fast::Hasher,
    read: u64,
}

fn corrupt(why: impl Into<String>) -> StoreError {
    StoreError::Corrupt(why.into())
}

impl ChecksumReader<'_> {
    fn exact(&mut self, length: usize, what: &str) -> Result<Vec<u8>, StoreError> {
        // `take` + `read_to_end` grows the buffer only as data arrives, so a corrupt
        // length cannot make us allocate more than the file holds.
        let mut buffer = Vec::new();
        (&mut self.input)
            .take(length as u64)
            .read_to_end(&mut buffer)
            .map_err(io_error)?;
        if buffer.len() != length {
            return Err(corrupt(format!(
                "snapshot is truncated: {what} at byte {} needs {length} bytes, {} left",
                self.read,
                buffer.len()
            )));
        }
        self.hasher.update(&buffer);
        self.read += length as u64;
        Ok(buffer)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], StoreError> {
        let bytes = self.exact(N, what)?;
        let mut array = [0u8; N];
        array.copy_from_slice(&bytes);
        Ok(array)
    }

    fn u64(&mut self, what: &str) -> Result<u64, StoreError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    fn string(&mut self, length: usize, what: &str) -> Result<String, StoreError> {
        String::from_utf8(self.exact(length, what)?)
            .map_err(|_| corrupt(format!("snapshot {what} is not UTF-8")))
    }

    fn entry(&mut self) -> Result<StoredObject, StoreError> {
        let kind_length = self.array::<1>("kind length")?[0];
        let kind_name = self.string(usize::from(kind_length), "kind")?;
        let kind = ResourceKind::ALL
            .iter()
            .copied()
            .find(|k| k.kind_name() == kind_name)
            .ok_or_else(|| corrupt(format!("snapshot names unknown kind {kind_name:?}")))?;
        let namespace_length = u16::from_le_bytes(self.array("namespace length")?);
        let namespace = self.string(usize::from(namespace_length), "namespace")?;
        let name_length = u16::from_le_bytes(self.array("name length")?);
        let name = self.string(usize::from(name_length), "name")?;
        let create_revision = Revision(self.u64("create revision")?);
        let mod_revision = Revision(self.u64("mod revision")?);
        let value_length = u32::from_le_bytes(self.array("value length")?);
        let bytes = self.exact(value_length as usize, "value")?;
        Ok(StoredObject {
            key: ObjectKey::new(kind, &namespace, &name),
            create_revision,
            mod_revision,
            bytes,
        })
    }
}

/// Reads a whole snapshot, handing each object to `visit` in file order. Everything
/// `visit` saw is only trustworthy once this returns `Ok` (the checksum comes last).
pub fn read_snapshot(
    input: &mut dyn Read,
    visit: &mut dyn FnMut(StoredObject) -> Result<(), StoreError>,
) -> Result<SnapshotInfo, StoreError> {
    let mut reader = ChecksumReader {
        input,
        hasher: crc32fast::Hasher::new(),
        read: 0,
    };
    let magic = reader.array::<16>("magic")?;
    if &magic != SNAPSHOT_MAGIC {
        return Err(corrupt("not a Corral snapshot (bad magic)"));
    }
    let version = u32::from_le_bytes(reader.array("format version")?);
    if version != SNAPSHOT_FORMAT_VERSION {
        return Err(corrupt(format!(
            "snapshot format version {version} is not supported (this build reads {SNAPSHOT_FORMAT_VERSION})"
        )));
    }
    let revision = Revision(reader.u64("revision")?);
    let object_count = reader.u64("object count")?;
    for _ in 0..object_count {
        let object = reader.entry()?;
        if object.mod_revision > revision || object.create_revision > object.mod_revision {
            return Err(corrupt(format!(
                "snapshot entry {} has inconsistent revisions",
                object.key
            )));
        }
        visit(object)?;
    }
    let computed = reader.hasher.clone().finalize();
    let mut stored = [0u8; 4];
    reader
        .input
        .read_exact(&mut stored)
        .map_err(|_| corrupt("snapshot is truncated: the checksum is missing"))?;
    let stored = u32::from_le_bytes(stored);
    if stored != computed {
        return Err(corrupt(format!(
            "snapshot checksum mismatch: file says {stored:08x}, content hashes to {computed:08x}"
        )));
    }
    let mut extra = [0u8; 1];
    if reader.input.read(&mut extra).map_err(io_error)? != 0 {
        return Err(corrupt("snapshot has trailing bytes after the checksum"));
    }
    Ok(SnapshotInfo {
        revision,
        object_count,
        checksum: stored,
        size_bytes: reader.read + 4,
    })
}

impl<R: Representation> Store<R> {
    /// Writes a consistent snapshot of the latest durable revision to `out`. The read lock
    /// is held only to copy references to the values; writing happens without it.
    pub fn snapshot(&self, out: &mut dyn Write) -> Result<SnapshotInfo, StoreError> {
        let (revision, entries) = {
            let state = self.state.read();
            let entries: Vec<_> = state
                .current
                .iter()
                .map(|(key, entry)| {
                    (
                        key.clone(),
                        entry.create_revision,
                        entry.mod_revision,
                        entry.value.clone(),
                    )
                })
                .collect();
            (state.revision, entries)
        };
        let objects = entries.iter().map(|(key, create, modified, value)| {
            (key.to_object_key(), *create, *modified, R::to_bytes(value))
        });
        write_snapshot(out, revision, entries.len() as u64, objects)
    }
}
