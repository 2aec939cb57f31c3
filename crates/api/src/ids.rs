//! Identifiers that are strings or integers on the wire but must not be confused in code:
//! the store's global [`Revision`] (a `resourceVersion`) and an object's [`Uid`].

use std::fmt;
use std::str::FromStr;

/// One point in the store's single, monotonically increasing history. Every committed write
/// gets a new revision; `resourceVersion` on the wire is its decimal form.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Revision(pub u64);

impl Revision {
    pub const ZERO: Revision = Revision(0);

    pub fn next(self) -> Revision {
        Revision(self.0 + 1)
    }

    /// Parses a `resourceVersion` as sent by clients. An empty string means "unset" and is
    /// reported as `Ok(None)` so callers can apply their own default.
    pub fn parse_resource_version(text: &str) -> Result<Option<Revision>, InvalidRevision> {
        if text.is_empty() {
            return Ok(None);
        }
        text.parse().map(Some)
    }
}

impl fmt::Display for Revision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A `resourceVersion` that is not a decimal number.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid resource version: {0:?}")]
pub struct InvalidRevision(pub String);

impl FromStr for Revision {
    type Err = InvalidRevision;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        // Only plain decimal digits: "+1", " 1" and "0x1" are rejected like upstream's
        // strconv.ParseUint.
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(InvalidRevision(text.to_string()));
        }
        text.parse::<u64>()
            .map(Revision)
            .map_err(|_| InvalidRevision(text.to_string()))
    }
}

/// An object's `metadata.uid`: unique across the lifetime of the cluster, so a re-created
/// object with the same name is a different object.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Uid(pub String);

impl Uid {
    /// Formats 128 random bits as an RFC 4122 version-4 UUID, the form upstream uses.
    /// The caller supplies the bits so that pure code stays deterministic.
    pub fn from_random_bits(bits: u128) -> Uid {
        let mut b = bits.to_be_bytes();
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
        Uid(format!(
            "{}-{}-{}-{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Uid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for Uid {
    fn from(s: &str) -> Self {
        Uid(s.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revision_parsing_accepts_only_decimal_digits() {
        assert_eq!("42".parse::<Revision>(), Ok(Revision(42)));
        for bad in [
            "",
            "+1",
            " 1",
            "0x1",
            "-1",
            "1.0",
            "99999999999999999999999",
        ] {
            assert!(
                bad.parse::<Revision>().is_err(),
                "{bad:?} should be rejected"
            );
        }
        assert_eq!(Revision::parse_resource_version(""), Ok(None));
    }

    #[test]
    fn uid_from_random_bits_is_a_version_4_uuid() {
        let uid = Uid::from_random_bits(u128::MAX);
        assert_eq!(uid.0.len(), 36);
        assert_eq!(&uid.0[14..15], "4");
        assert!(matches!(&uid.0[19..20], "8" | "9" | "a" | "b"));
    }
}
