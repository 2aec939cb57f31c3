//! Goal: no input makes `decode` panic, and damaged bodies yield typed errors.
//!
//! Method: proptest feeds arbitrary bytes (bare and behind the `k8s\0` magic) and
//! single-byte mutations of the captured kubectl bodies; every prefix of every captured
//! body is decoded exhaustively. Shrunk failures are pinned by proptest in
//! `proptest-regressions/`.

use std::path::Path;

use corral_protobuf::{MAGIC, ProtobufError, decode};
use proptest::prelude::*;

fn fixtures() -> Vec<Vec<u8>> {
    let mut bodies = Vec::new();
    for version in ["1.32", "1.33"] {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata")
            .join(format!("kubectl-{version}"));
        let mut paths: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        paths.sort();
        for path in paths {
            if path.extension().is_some_and(|ext| ext == "pb") {
                bodies.push(std::fs::read(path).unwrap());
            }
        }
    }
    assert!(!bodies.is_empty());
    bodies
}

/// A successful decode always carries the envelope's type in the object.
fn check_ok_shape(body: &[u8]) {
    if let Ok(decoded) = decode(body) {
        assert_eq!(decoded.object["kind"], decoded.kind.as_str());
        assert_eq!(decoded.object["apiVersion"], decoded.api_version.as_str());
    }
}

#[test]
fn every_prefix_of_a_kubectl_body_is_truncated_or_a_shorter_valid_body() {
    for body in fixtures() {
        for len in 0..body.len() {
            match decode(&body[..len]) {
                Ok(_) | Err(ProtobufError::Truncated) => {}
                // Cut right after the magic: an empty envelope names no kind.
                Err(ProtobufError::UnknownKind { api_version, kind })
                    if api_version.is_empty() && kind.is_empty() => {}
                Err(other) => panic!("prefix of {len}/{} bytes: unexpected {other}", body.len()),
            }
        }
        assert!(decode(&body).is_ok());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        check_ok_shape(&bytes);
    }

    #[test]
    fn arbitrary_envelopes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let mut body = MAGIC.to_vec();
        body.extend(bytes);
        check_ok_shape(&body);
    }

    #[test]
    fn mutated_kubectl_bodies_never_panic(index in any::<prop::sample::Index>(), position in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let bodies = fixtures();
        let mut body = bodies[index.index(bodies.len())].clone();
        let at = position.index(body.len());
        body[at] = byte;
        check_ok_shape(&body);
        // Decoding is a pure function of the bytes.
        prop_assert_eq!(decode(&body), decode(&body));
    }
}
