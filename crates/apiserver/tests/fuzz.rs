//! Goal: no request body, patch or selector, however malformed, makes the pipeline panic or
//! answer with a server error; rejected writes store nothing.
//! Method: proptest over random bytes and random JSON documents, fed to the decoder, the
//! create pipeline and the three patch types against a stored Job (service level, no HTTP,
//! so thousands of cases run in seconds).

use std::sync::Arc;

use corral_api::resource::find_resource;
use corral_apiserver::ApiService;
use corral_apiserver::service::{
    BodyFormat, DecodedBody, FieldValidation, ListOptions, Part, Target, UserInfo, WriteOptions,
    decode_body,
};
use corral_patch::PatchType;
use corral_store::{JsonBytes, MemoryBackend, Store, StoreConfig};
use proptest::prelude::*;
use serde_json::{Value, json};

fn service() -> ApiService {
    let store = Arc::new(
        Store::<JsonBytes>::open(Box::new(MemoryBackend), StoreConfig::default()).unwrap(),
    );
    let service = ApiService::new(store);
    service.ensure_system_namespaces().unwrap();
    service
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn jobs() -> Target {
    Target::collection(
        find_resource("batch", "v1", "jobs").unwrap(),
        Some("default"),
    )
}

fn strict() -> WriteOptions {
    WriteOptions {
        field_validation: FieldValidation::Strict,
        ..WriteOptions::default()
    }
}

/// Arbitrary JSON, biased towards object shapes a Job body has.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "[a-zA-Z0-9$./-]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("metadata".to_string()),
                    Just("spec".to_string()),
                    Just("name".to_string()),
                    Just("template".to_string()),
                    Just("containers".to_string()),
                    Just("$patch".to_string()),
                    "[a-zA-Z]{1,8}"
                ],
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn client_error(code: u16) -> bool {
    (400..500).contains(&code)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic_the_decoders(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        for format in [BodyFormat::Json, BodyFormat::Yaml, BodyFormat::Protobuf] {
            if let Err(e) = decode_body(format, &bytes) {
                prop_assert!(client_error(e.code), "{format:?}: {}", e.message);
            }
        }
    }

    #[test]
    fn random_job_bodies_are_created_or_rejected_with_4xx(mut body in json_value(), named in any::<bool>()) {
        let service = service();
        let rt = runtime();
        if named && body.is_object() {
            body["apiVersion"] = json!("batch/v1");
            body["kind"] = json!("Job");
            body["metadata"] = json!({"name": "fuzz"});
        }
        let result = rt.block_on(service.create(&UserInfo::system("fuzz"), &jobs(), DecodedBody::from_value(body), &strict()));
        let listed = service.list(&jobs(), &ListOptions::default()).unwrap().items.len();
        match result {
            Ok(_) => prop_assert_eq!(listed, 1),
            Err(e) => {
                prop_assert!(client_error(e.code), "{} {}", e.code, e.message);
                prop_assert_eq!(listed, 0);
            }
        }
    }

    #[test]
    fn random_patches_apply_or_fail_with_4xx_and_change_nothing(
        patch in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..128),
            json_value().prop_map(|v| serde_json::to_vec(&v).unwrap()),
        ],
        kind in 0usize..3,
    ) {
        let service = service();
        let rt = runtime();
        let user = UserInfo::system("fuzz");
        let job = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "p"},
            "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": "busybox"}]}}}});
        let created = rt.block_on(service.create(&user, &jobs(), DecodedBody::from_value(job), &strict())).unwrap();
        let before = created.object.json().into_owned();
        let target = Target::object(find_resource("batch", "v1", "jobs").unwrap(), Some("default"), "p");
        let patch_type = [PatchType::Json, PatchType::Merge, PatchType::StrategicMerge][kind];
        let result = rt.block_on(service.patch(&user, &target, Part::Main, patch_type, patch, &strict()));
        if let Err(e) = result {
            prop_assert!(client_error(e.code), "{:?}: {} {}", patch_type, e.code, e.message);
            let after = service.get(&target).unwrap().json().into_owned();
            prop_assert_eq!(after, before);
        }
    }

    #[test]
    fn random_selectors_are_accepted_or_400(labels in ".{0,24}", fields in ".{0,24}") {
        let service = service();
        let options = ListOptions { label_selector: labels, field_selector: fields, ..ListOptions::default() };
        if let Err(e) = service.list(&jobs(), &options) {
            prop_assert_eq!(e.code, 400);
        }
    }
}
