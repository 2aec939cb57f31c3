//! The `k8s\0` envelope: four magic bytes followed by a `runtime.Unknown` message
//! (`apimachinery/pkg/runtime/serializer/protobuf/protobuf.go`).
//!
//! `Unknown` is read with a small hand-written wire reader instead of `prost-reflect` so
//! that a body which ends early is reported as [`ProtobufError::Truncated`]: every
//! truncation of a valid body cuts through the envelope's own length prefixes, so checking
//! the envelope is enough to tell "cut short" from "garbage".

use crate::ProtobufError;

/// The four bytes every Kubernetes protobuf body starts with.
pub const MAGIC: [u8; 4] = *b"k8s\0";

/// The decoded `runtime.Unknown` of a body; `raw` borrows from the body.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Envelope<'a> {
    pub api_version: String,
    pub kind: String,
    pub raw: &'a [u8],
    pub content_encoding: String,
    pub content_type: String,
}

/// Splits off the magic bytes and parses the `runtime.Unknown` that follows.
pub(crate) fn parse(body: &[u8]) -> Result<Envelope<'_>, ProtobufError> {
    if body.len() < MAGIC.len() {
        return Err(if MAGIC.starts_with(body) {
            ProtobufError::Truncated
        } else {
            ProtobufError::BadMagic
        });
    }
    let (magic, rest) = body.split_at(MAGIC.len());
    if magic != MAGIC {
        return Err(ProtobufError::BadMagic);
    }
    let mut envelope = Envelope::default();
    let mut reader = WireReader::new(rest);
    while let Some((field, value)) = reader.next_field()? {
        match (field, value) {
            (1, WireValue::Bytes(bytes)) => parse_type_meta(bytes, &mut envelope)?,
            (2, WireValue::Bytes(bytes)) => envelope.raw = bytes,
            (3, WireValue::Bytes(bytes)) => {
                envelope.content_encoding = utf8(bytes, "contentEncoding")?
            }
            (4, WireValue::Bytes(bytes)) => envelope.content_type = utf8(bytes, "contentType")?,
            (1..=4, _) => {
                return Err(ProtobufError::Malformed(format!(
                    "runtime.Unknown field {field} has the wrong wire type"
                )));
            }
            _ => {} // unknown fields are skipped, as protobuf decoders do
        }
    }
    Ok(envelope)
}

fn parse_type_meta(bytes: &[u8], envelope: &mut Envelope<'_>) -> Result<(), ProtobufError> {
    let mut reader = WireReader::new(bytes);
    while let Some((field, value)) = reader.next_field()? {
        match (field, value) {
            (1, WireValue::Bytes(b)) => envelope.api_version = utf8(b, "typeMeta.apiVersion")?,
            (2, WireValue::Bytes(b)) => envelope.kind = utf8(b, "typeMeta.kind")?,
            (1 | 2, _) => {
                return Err(ProtobufError::Malformed(format!(
                    "runtime.TypeMeta field {field} has the wrong wire type"
                )));
            }
            _ => {}
        }
    }
    Ok(())
}

fn utf8(bytes: &[u8], what: &str) -> Result<String, ProtobufError> {
    String::from_utf8(bytes.to_vec())
        .map_err(|_| ProtobufError::Malformed(format!("{what} is not valid UTF-8")))
}

/// One field value as found on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WireValue<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
    Fixed32(u32),
}

/// A minimal protobuf wire-format reader over one message's bytes.
pub(crate) struct WireReader<'a> {
    buf: &'a [u8],
}

impl<'a> WireReader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }

    /// The next `(field number, value)`, `None` at the end of the message.
    pub(crate) fn next_field(&mut self) -> Result<Option<(u32, WireValue<'a>)>, ProtobufError> {
        if self.buf.is_empty() {
            return Ok(None);
        }
        let key = self.varint()?;
        let field = key >> 3;
        if field == 0 || field > u64::from(u32::MAX >> 3) {
            return Err(ProtobufError::Malformed(format!(
                "invalid field number {field}"
            )));
        }
        let field = u32::try_from(field)
            .map_err(|_| ProtobufError::Malformed("invalid field number".into()))?;
        let value = match key & 7 {
            0 => WireValue::Varint(self.varint()?),
            1 => WireValue::Fixed64(u64::from_le_bytes(self.fixed::<8>()?)),
            2 => {
                let len = usize::try_from(self.varint()?).map_err(|_| ProtobufError::Truncated)?;
                WireValue::Bytes(self.take(len)?)
            }
            5 => WireValue::Fixed32(u32::from_le_bytes(self.fixed::<4>()?)),
            wire_type => {
                return Err(ProtobufError::Malformed(format!(
                    "unsupported wire type {wire_type} for field {field}"
                )));
            }
        };
        Ok(Some((field, value)))
    }

    fn varint(&mut self) -> Result<u64, ProtobufError> {
        let mut value = 0u64;
        for index in 0..10 {
            let Some((&byte, rest)) = self.buf.split_first() else {
                return Err(ProtobufError::Truncated);
            };
            self.buf = rest;
            if index == 9 && byte > 1 {
                return Err(ProtobufError::Malformed("varint overflows 64 bits".into()));
            }
            value |= u64::from(byte & 0x7f) << (7 * index);
            if byte < 0x80 {
                return Ok(value);
            }
        }
        Err(ProtobufError::Malformed(
            "varint longer than 10 bytes".into(),
        ))
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], ProtobufError> {
        if len > self.buf.len() {
            return Err(ProtobufError::Truncated);
        }
        let (head, rest) = self.buf.split_at(len);
        self.buf = rest;
        Ok(head)
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N], ProtobufError> {
        let bytes = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }
}
