//! Goal: the field rules of `json` and `presence` hold for shapes the captured kubectl
//! fixtures do not contain (set times, binary data, named ports, embedded raw objects,
//! maps of string lists, renamed fields, unknown fields, envelope variants).
//!
//! Method: build the messages with `prost-reflect` from field values, encode them, wrap
//! them in the `k8s\0` envelope, decode, and compare with the JSON Go would print.

use std::collections::HashMap;

use prost::Message as _;
use prost_reflect::{DynamicMessage, MapKey, Value};
use serde_json::json;

use crate::{MAGIC, ProtobufError, decode, json::message_json, pool};

const META: &str = "k8s.io.apimachinery.pkg.apis.meta.v1.";
const CORE: &str = "k8s.io.api.core.v1.";

/// A message of type `name` with `fields` set.
fn msg(name: &str, fields: Vec<(&str, Value)>) -> DynamicMessage {
    let descriptor = pool()
        .get_message_by_name(name)
        .unwrap_or_else(|| panic!("no message {name}"));
    let mut message = DynamicMessage::new(descriptor);
    for (field, value) in fields {
        message.set_field_by_name(field, value);
    }
    message
}

fn m(name: &str, fields: Vec<(&str, Value)>) -> Value {
    Value::Message(msg(name, fields))
}

fn s(text: &str) -> Value {
    Value::String(text.to_owned())
}

fn string_map(entries: &[(&str, &str)]) -> Value {
    Value::Map(
        entries
            .iter()
            .map(|(k, v)| (MapKey::String((*k).to_owned()), s(v)))
            .collect::<HashMap<_, _>>(),
    )
}

/// The `k8s\0` body for `object` as (apiVersion, kind), with optional extra envelope fields.
fn envelope(
    api_version: &str,
    kind: &str,
    raw: Vec<u8>,
    content_encoding: &str,
    content_type: &str,
) -> Vec<u8> {
    let unknown = msg(
        "k8s.io.apimachinery.pkg.runtime.Unknown",
        vec![
            (
                "typeMeta",
                m(
                    "k8s.io.apimachinery.pkg.runtime.TypeMeta",
                    vec![("apiVersion", s(api_version)), ("kind", s(kind))],
                ),
            ),
            ("raw", Value::Bytes(raw.into())),
            ("contentEncoding", s(content_encoding)),
            ("contentType", s(content_type)),
        ],
    );
    let mut body = MAGIC.to_vec();
    body.extend(unknown.encode_to_vec());
    body
}

fn body(api_version: &str, kind: &str, object: &DynamicMessage) -> Vec<u8> {
    envelope(api_version, kind, object.encode_to_vec(), "", "")
}

fn object_meta(name: &str) -> Value {
    // kubectl always sends creationTimestamp as an empty Time message.
    m(
        &format!("{META}ObjectMeta"),
        vec![
            ("name", s(name)),
            ("creationTimestamp", m(&format!("{META}Time"), vec![])),
        ],
    )
}

#[test]
fn set_times_print_as_rfc3339_and_empty_times_as_null() {
    let meta = m(
        &format!("{META}ObjectMeta"),
        vec![
            ("name", s("j")),
            ("generation", Value::I64(0)),
            (
                "creationTimestamp",
                m(
                    &format!("{META}Time"),
                    vec![
                        ("seconds", Value::I64(1_714_557_600)),
                        ("nanos", Value::I32(5)),
                    ],
                ),
            ),
            ("deletionTimestamp", m(&format!("{META}Time"), vec![])),
            ("labels", string_map(&[("app", "a")])),
            (
                "ownerReferences",
                Value::List(vec![m(
                    &format!("{META}OwnerReference"),
                    vec![
                        ("apiVersion", s("batch/v1")),
                        ("kind", s("CronJob")),
                        ("name", s("cj")),
                        ("uid", s("u")),
                        ("controller", Value::Bool(false)),
                    ],
                )]),
            ),
            (
                "managedFields",
                Value::List(vec![m(
                    &format!("{META}ManagedFieldsEntry"),
                    vec![
                        ("manager", s("kubectl")),
                        ("operation", s("Update")),
                        (
                            "time",
                            m(&format!("{META}Time"), vec![("seconds", Value::I64(0))]),
                        ),
                        ("fieldsType", s("FieldsV1")),
                        (
                            "fieldsV1",
                            m(
                                &format!("{META}FieldsV1"),
                                vec![(
                                    "Raw",
                                    Value::Bytes(br#"{"f:metadata":{}}"#.to_vec().into()),
                                )],
                            ),
                        ),
                    ],
                )]),
            ),
        ],
    );
    let job = msg("k8s.io.api.batch.v1.Job", vec![("metadata", meta)]);
    let decoded = decode(&body("batch/v1", "Job", &job)).unwrap();
    assert_eq!(
        decoded.object,
        json!({
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": {
                "name": "j",
                "creationTimestamp": "2024-05-01T10:00:00Z",
                "deletionTimestamp": null,
                "labels": {"app": "a"},
                "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob", "name": "cj", "uid": "u", "controller": false}],
                "managedFields": [{"manager": "kubectl", "operation": "Update", "time": "1970-01-01T00:00:00Z",
                                   "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {}}}]
            }
        })
    );
}

#[test]
fn bytes_are_base64_and_pointer_bools_keep_false() {
    let secret = msg(
        &format!("{CORE}Secret"),
        vec![
            ("metadata", object_meta("s")),
            ("immutable", Value::Bool(false)),
            (
                "data",
                Value::Map(HashMap::from([
                    (
                        MapKey::String("bin".into()),
                        Value::Bytes(vec![0u8, 255, 1].into()),
                    ),
                    (
                        MapKey::String("empty".into()),
                        Value::Bytes(Vec::new().into()),
                    ),
                ])),
            ),
            ("stringData", string_map(&[("plain", "text")])),
            ("type", s("")),
        ],
    );
    let decoded = decode(&body("v1", "Secret", &secret)).unwrap();
    assert_eq!(
        decoded.object,
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "creationTimestamp": null},
               "immutable": false, "data": {"bin": "AP8B", "empty": ""}, "stringData": {"plain": "text"}})
    );
}

#[test]
fn int_or_string_and_quantities_print_as_go_does() {
    let intstr = |fields| m("k8s.io.apimachinery.pkg.util.intstr.IntOrString", fields);
    let quantity = |text: Option<&str>| {
        m(
            "k8s.io.apimachinery.pkg.api.resource.Quantity",
            text.map(|t| vec![("string", s(t))]).unwrap_or_default(),
        )
    };
    let probe = m(
        &format!("{CORE}Probe"),
        vec![(
            "handler",
            m(
                &format!("{CORE}ProbeHandler"),
                vec![(
                    "httpGet",
                    m(
                        &format!("{CORE}HTTPGetAction"),
                        vec![(
                            "port",
                            intstr(vec![("type", Value::I64(1)), ("strVal", s("http"))]),
                        )],
                    ),
                )],
            ),
        )],
    );
    let container = m(
        &format!("{CORE}Container"),
        vec![
            ("name", s("c")),
            ("livenessProbe", probe),
            (
                "resources",
                m(
                    &format!("{CORE}ResourceRequirements"),
                    vec![(
                        "limits",
                        Value::Map(HashMap::from([(
                            MapKey::String("cpu".into()),
                            quantity(Some("500m")),
                        )])),
                    )],
                ),
            ),
        ],
    );
    let volume = m(
        &format!("{CORE}Volume"),
        vec![
            ("name", s("scratch")),
            (
                "volumeSource",
                m(
                    &format!("{CORE}VolumeSource"),
                    vec![(
                        "emptyDir",
                        m(
                            &format!("{CORE}EmptyDirVolumeSource"),
                            vec![("sizeLimit", quantity(None))],
                        ),
                    )],
                ),
            ),
        ],
    );
    let pod = msg(
        &format!("{CORE}Pod"),
        vec![
            ("metadata", object_meta("p")),
            (
                "spec",
                m(
                    &format!("{CORE}PodSpec"),
                    vec![
                        ("containers", Value::List(vec![container])),
                        ("volumes", Value::List(vec![volume])),
                    ],
                ),
            ),
        ],
    );
    let decoded = decode(&body("v1", "Pod", &pod)).unwrap();
    assert_eq!(
        decoded.object["spec"],
        json!({
            "containers": [{"name": "c", "livenessProbe": {"httpGet": {"port": "http"}}, "resources": {"limits": {"cpu": "500m"}}}],
            "volumes": [{"name": "scratch", "emptyDir": {"sizeLimit": "0"}}]
        })
    );
    let tcp = msg(
        &format!("{CORE}TCPSocketAction"),
        vec![("port", intstr(vec![("intVal", Value::I32(8080))]))],
    );
    assert_eq!(message_json(&tcp, 0).unwrap(), json!({"port": 8080}));
    let impossible = msg(
        "k8s.io.apimachinery.pkg.util.intstr.IntOrString",
        vec![("type", Value::I64(7))],
    );
    assert!(matches!(
        message_json(&impossible, 0),
        Err(ProtobufError::Malformed(_))
    ));
}

#[test]
fn delete_options_keep_pointer_zeros_in_any_group_version() {
    let options = msg(
        &format!("{META}DeleteOptions"),
        vec![
            ("gracePeriodSeconds", Value::I64(0)),
            (
                "preconditions",
                m(
                    &format!("{META}Preconditions"),
                    vec![("uid", s("u1")), ("resourceVersion", s(""))],
                ),
            ),
            ("propagationPolicy", s("Foreground")),
            ("dryRun", Value::List(vec![s("All")])),
        ],
    );
    for api_version in ["v1", "batch/v1", "meta.k8s.io/v1"] {
        let decoded = decode(&body(api_version, "DeleteOptions", &options)).unwrap();
        assert_eq!(
            decoded.object,
            json!({"apiVersion": api_version, "kind": "DeleteOptions", "gracePeriodSeconds": 0,
                   "preconditions": {"uid": "u1", "resourceVersion": ""}, "propagationPolicy": "Foreground", "dryRun": ["All"]})
        );
    }
}

#[test]
fn extra_values_are_string_lists_and_bound_object_uid_is_renamed() {
    let extra = |items: Vec<Value>| {
        m(
            "k8s.io.api.authorization.v1.ExtraValue",
            if items.is_empty() {
                vec![]
            } else {
                vec![("items", Value::List(items))]
            },
        )
    };
    let review = msg(
        "k8s.io.api.authorization.v1.SubjectAccessReview",
        vec![(
            "spec",
            m(
                "k8s.io.api.authorization.v1.SubjectAccessReviewSpec",
                vec![
                    ("user", s("alice")),
                    ("groups", Value::List(vec![s("dev")])),
                    (
                        "extra",
                        Value::Map(HashMap::from([
                            (MapKey::String("scopes".into()), extra(vec![s("a"), s("b")])),
                            (MapKey::String("none".into()), extra(vec![])),
                        ])),
                    ),
                ],
            ),
        )],
    );
    let decoded = decode(&body(
        "authorization.k8s.io/v1",
        "SubjectAccessReview",
        &review,
    ))
    .unwrap();
    assert_eq!(
        decoded.object["spec"],
        json!({"user": "alice", "groups": ["dev"], "extra": {"scopes": ["a", "b"], "none": null}})
    );
    assert!(
        decoded.object.get("status").is_none(),
        "an absent status stays absent"
    );

    let request = msg(
        "k8s.io.api.authentication.v1.TokenRequest",
        vec![(
            "spec",
            m(
                "k8s.io.api.authentication.v1.TokenRequestSpec",
                vec![
                    ("expirationSeconds", Value::I64(0)),
                    (
                        "boundObjectRef",
                        m(
                            "k8s.io.api.authentication.v1.BoundObjectReference",
                            vec![("kind", s("Pod")), ("name", s("p")), ("uID", s("u"))],
                        ),
                    ),
                ],
            ),
        )],
    );
    let decoded = decode(&body("authentication.k8s.io/v1", "TokenRequest", &request)).unwrap();
    assert_eq!(
        decoded.object["spec"],
        json!({"audiences": null, "expirationSeconds": 0, "boundObjectRef": {"kind": "Pod", "name": "p", "uid": "u"}})
    );
}

#[test]
fn evictions_carry_their_delete_options() {
    let eviction = msg(
        "k8s.io.api.policy.v1.Eviction",
        vec![
            (
                "metadata",
                m(
                    &format!("{META}ObjectMeta"),
                    vec![("name", s("p")), ("namespace", s("ns"))],
                ),
            ),
            ("deleteOptions", m(&format!("{META}DeleteOptions"), vec![])),
        ],
    );
    let decoded = decode(&body("policy/v1", "Eviction", &eviction)).unwrap();
    assert_eq!(
        decoded.object,
        json!({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "p", "namespace": "ns"}, "deleteOptions": {}})
    );
}

#[test]
fn raw_extensions_embed_json_or_nested_bodies() {
    let raw = |bytes: Vec<u8>| {
        msg(
            "k8s.io.apimachinery.pkg.runtime.RawExtension",
            vec![("raw", Value::Bytes(bytes.into()))],
        )
    };
    assert_eq!(
        message_json(&raw(br#"{"a":[1,2]}"#.to_vec()), 0).unwrap(),
        json!({"a": [1, 2]})
    );
    assert_eq!(
        message_json(&raw(Vec::new()), 0).unwrap(),
        serde_json::Value::Null
    );
    assert!(matches!(
        message_json(&raw(b"{".to_vec()), 0),
        Err(ProtobufError::Malformed(_))
    ));
    let namespace = msg(
        &format!("{CORE}Namespace"),
        vec![("metadata", object_meta("ns"))],
    );
    let nested = body("v1", "Namespace", &namespace);
    assert_eq!(
        message_json(&raw(nested.clone()), 0).unwrap(),
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns", "creationTimestamp": null}})
    );
    // A body nested in itself beyond the bound is refused, not followed.
    assert!(matches!(
        message_json(&raw(nested), 8),
        Err(ProtobufError::Malformed(_))
    ));
}

#[test]
fn micro_times_durations_and_verbs_print_as_go_does() {
    let micro = msg(
        &format!("{META}MicroTime"),
        vec![
            ("seconds", Value::I64(1_714_557_600)),
            ("nanos", Value::I32(123_456_789)),
        ],
    );
    assert_eq!(
        message_json(&micro, 0).unwrap(),
        json!("2024-05-01T10:00:00.123456Z")
    );
    assert_eq!(
        message_json(&msg(&format!("{META}MicroTime"), vec![]), 0).unwrap(),
        serde_json::Value::Null
    );
    let duration = msg(
        &format!("{META}Duration"),
        vec![("duration", Value::I64(90_000_000_000))],
    );
    assert_eq!(message_json(&duration, 0).unwrap(), json!("1m30s"));
    let verbs = msg(
        &format!("{META}Verbs"),
        vec![("items", Value::List(vec![s("get"), s("list")]))],
    );
    assert_eq!(message_json(&verbs, 0).unwrap(), json!(["get", "list"]));
    let far = msg(
        &format!("{META}Time"),
        vec![("seconds", Value::I64(i64::MAX))],
    );
    assert!(matches!(
        message_json(&far, 0),
        Err(ProtobufError::Malformed(_))
    ));
}

#[test]
fn unknown_fields_are_ignored() {
    let namespace = msg(
        &format!("{CORE}Namespace"),
        vec![("metadata", object_meta("ns"))],
    );
    let mut raw = namespace.encode_to_vec();
    raw.extend([0xf8, 0x06, 0x01]); // field 111, varint 1
    let decoded = decode(&envelope("v1", "Namespace", raw, "", "")).unwrap();
    assert_eq!(
        decoded.object,
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns", "creationTimestamp": null}})
    );
}

#[test]
fn envelope_variants_are_honoured_or_refused() {
    let decoded = decode(&envelope(
        "v1",
        "ConfigMap",
        br#"{"data":{"a":"b"}}"#.to_vec(),
        "",
        "application/json",
    ))
    .unwrap();
    assert_eq!(
        decoded.object,
        json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "b"}})
    );
    let namespace = msg(&format!("{CORE}Namespace"), vec![]);
    assert!(
        decode(&envelope(
            "v1",
            "Namespace",
            namespace.encode_to_vec(),
            "",
            "application/vnd.kubernetes.protobuf"
        ))
        .is_ok()
    );
    assert_eq!(
        decode(&envelope("v1", "Namespace", Vec::new(), "gzip", "")),
        Err(ProtobufError::ContentEncodingUnsupported("gzip".into()))
    );
    assert!(matches!(
        decode(&envelope(
            "v1",
            "Namespace",
            Vec::new(),
            "",
            "application/yaml"
        )),
        Err(ProtobufError::Malformed(_))
    ));
    assert!(matches!(
        decode(&envelope(
            "v1",
            "ConfigMap",
            b"[1]".to_vec(),
            "",
            "application/json"
        )),
        Err(ProtobufError::Malformed(_))
    ));
    assert_eq!(
        decode(&envelope("apps/v1", "Deployment", Vec::new(), "", "")),
        Err(ProtobufError::UnknownKind {
            api_version: "apps/v1".into(),
            kind: "Deployment".into()
        })
    );
    // A string field holding invalid UTF-8 is malformed, not a panic.
    assert!(matches!(
        decode(&envelope(
            "v1",
            "Namespace",
            vec![0x0a, 0x03, 0x0a, 0x01, 0xff],
            "",
            ""
        )),
        Err(ProtobufError::Malformed(_))
    ));
}

#[test]
fn bad_magic_and_truncation_are_told_apart() {
    assert_eq!(decode(b""), Err(ProtobufError::Truncated));
    assert_eq!(decode(b"k8s"), Err(ProtobufError::Truncated));
    assert_eq!(decode(b"{}"), Err(ProtobufError::BadMagic));
    assert_eq!(decode(br#"{"kind":"Job"}"#), Err(ProtobufError::BadMagic));
    let namespace = msg(
        &format!("{CORE}Namespace"),
        vec![("metadata", object_meta("ns"))],
    );
    let full = body("v1", "Namespace", &namespace);
    assert_eq!(
        decode(&full[..full.len() - 1]),
        Err(ProtobufError::Truncated)
    );
    assert_eq!(
        decode(&MAGIC),
        Err(ProtobufError::UnknownKind {
            api_version: String::new(),
            kind: String::new()
        })
    );
}

#[test]
fn every_supported_kind_has_a_message_and_decodes_when_empty() {
    for (api_version, kind) in crate::supported_kinds() {
        let name = crate::kinds::message_for(api_version, kind).unwrap();
        assert!(
            pool().get_message_by_name(&name).is_some(),
            "{api_version} {kind}: no message {name}"
        );
        let decoded = decode(&envelope(api_version, kind, Vec::new(), "", "")).unwrap();
        assert_eq!(decoded.object["kind"], json!(kind));
    }
}

#[test]
fn presence_tables_are_sorted_and_name_real_fields() {
    use crate::presence::{self, Policy};
    use prost_reflect::Kind;
    let tables = [
        (CORE.trim_end_matches('.'), presence::CORE_FIELDS),
        ("k8s.io.api.batch.v1", presence::BATCH_FIELDS),
        (META.trim_end_matches('.'), presence::META_FIELDS),
        (
            "k8s.io.api.authorization.v1",
            presence::AUTHORIZATION_FIELDS,
        ),
        (
            "k8s.io.api.authentication.v1",
            presence::AUTHENTICATION_FIELDS,
        ),
        ("k8s.io.api.policy.v1", presence::POLICY_FIELDS),
        ("k8s.io.api.rbac.v1", presence::RBAC_FIELDS),
    ];
    for (package, table) in tables {
        for pair in table.windows(2) {
            assert!(
                (pair[0].0, pair[0].1) < (pair[1].0, pair[1].1),
                "{package}: {:?} is out of order",
                pair[1]
            );
        }
        for (message, field, policy) in table {
            let name = format!("{package}.{message}");
            let descriptor = pool()
                .get_message_by_name(&name)
                .unwrap_or_else(|| panic!("no message {name}"));
            let field = descriptor
                .get_field_by_name(field)
                .unwrap_or_else(|| panic!("no field {name}.{field}"));
            let is_message = matches!(field.kind(), Kind::Message(_)) && !field.is_map();
            match policy {
                Policy::Inline => assert!(
                    is_message && !field.is_list(),
                    "{name}.{}: inline needs a message",
                    field.name()
                ),
                Policy::KeepZero | Policy::Rename(_) => {
                    assert!(
                        !is_message && !field.is_list() && !field.is_map(),
                        "{name}.{}: needs a scalar",
                        field.name()
                    )
                }
                Policy::Always | Policy::Nullable | Policy::OmitEmpty => {}
            }
            assert_eq!(
                presence::field_policy(&name, field.name()),
                *policy,
                "{name}.{}",
                field.name()
            );
        }
    }
}

#[test]
fn protobuf_content_types_are_recognised_with_any_parameters() {
    use crate::is_protobuf_content_type as is_pb;
    assert!(is_pb("application/vnd.kubernetes.protobuf"));
    assert!(is_pb("application/vnd.kubernetes.protobuf; charset=utf-8"));
    assert!(is_pb("Application/VND.Kubernetes.Protobuf;stream=watch"));
    assert!(is_pb(" application/vnd.kubernetes.protobuf "));
    assert!(!is_pb("application/json"));
    assert!(!is_pb("application/vnd.kubernetes.protobuf+json"));
    assert!(!is_pb(""));
}

#[test]
fn rbac_bodies_of_kubectl_create_role_and_rolebinding_decode() {
    const RBAC: &str = "k8s.io.api.rbac.v1.";
    let rule = m(
        &format!("{RBAC}PolicyRule"),
        vec![
            ("verbs", Value::List(vec![s("get"), s("list")])),
            ("apiGroups", Value::List(vec![s("")])),
            ("resources", Value::List(vec![s("pods")])),
        ],
    );
    let role = msg(
        &format!("{RBAC}Role"),
        vec![
            ("metadata", object_meta("reader")),
            ("rules", Value::List(vec![rule])),
        ],
    );
    let decoded = decode(&body("rbac.authorization.k8s.io/v1", "Role", &role)).unwrap();
    assert_eq!(decoded.object["kind"], json!("Role"));
    assert_eq!(
        decoded.object["apiVersion"],
        json!("rbac.authorization.k8s.io/v1")
    );
    assert_eq!(decoded.object["metadata"]["name"], json!("reader"));
    assert_eq!(
        decoded.object["rules"],
        json!([{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]}])
    );

    let binding = msg(
        &format!("{RBAC}RoleBinding"),
        vec![
            ("metadata", object_meta("reader-binding")),
            (
                "subjects",
                Value::List(vec![m(
                    &format!("{RBAC}Subject"),
                    vec![
                        ("kind", s("ServiceAccount")),
                        ("name", s("bot")),
                        ("namespace", s("team")),
                    ],
                )]),
            ),
            (
                "roleRef",
                m(
                    &format!("{RBAC}RoleRef"),
                    vec![
                        ("apiGroup", s("rbac.authorization.k8s.io")),
                        ("kind", s("Role")),
                        ("name", s("reader")),
                    ],
                ),
            ),
        ],
    );
    let decoded = decode(&body(
        "rbac.authorization.k8s.io/v1",
        "RoleBinding",
        &binding,
    ))
    .unwrap();
    assert_eq!(
        decoded.object["subjects"],
        json!([{"kind": "ServiceAccount", "name": "bot", "namespace": "team"}])
    );
    assert_eq!(
        decoded.object["roleRef"],
        json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"})
    );
}
