//! Conformance cases for lists: selectors, namespaces, pagination at a fixed revision,
//! continue tokens and revisions.
//!
//! Goal and method as in `conformance`: fresh store per case, public API only.

use corral_api::{FieldSelector, LabelSelector, ObjectKey, ResourceKind, Revision};
use corral_core::SimRng;
use corral_core::clock::epoch;

use super::conformance::{decoded, objects};
use super::{BackendFactory, config_map, event, pod};
use crate::{
    DeleteOptions, ListPage, ListRequest, ObjectStore, ReadRevision, Representation, StoreError,
    WatchCursor, WatchEvent, WatchRequest,
};

fn rng() -> SimRng {
    SimRng::seed_from_u64(11)
}

fn names<R: Representation>(page: &ListPage<R::Value>) -> Vec<String> {
    page.items
        .iter()
        .map(|v| decoded::<R>(v).name().to_string())
        .collect()
}

fn list_names<R: Representation>(
    store: &ObjectStore<R>,
    kind: ResourceKind,
    labels: &str,
    fields: &str,
) -> Vec<String> {
    let request = ListRequest {
        label_selector: LabelSelector::parse(labels).unwrap(),
        field_selector: FieldSelector::parse(fields).unwrap(),
        ..ListRequest::all(kind)
    };
    names::<R>(&store.list(&request).unwrap())
}

fn seed_pods<R: Representation>(store: &ObjectStore<R>) {
    let pods = [
        ("a", vec![("app", "web"), ("tier", "gold")], "n1", "Running"),
        ("b", vec![("app", "web")], "n2", "Succeeded"),
        ("c", vec![("app", "db"), ("tier", "silver")], "n1", "Failed"),
        ("d", vec![], "", "Pending"),
    ];
    for (name, labels, node, phase) in pods {
        store
            .create(
                pod("ns", name, &labels, node, phase),
                epoch(),
                &mut rng(),
                false,
            )
            .unwrap();
    }
}

/// Events (names, kind) from polling `cursor` until it returns nothing.
pub(crate) fn drain<R: Representation>(
    store: &ObjectStore<R>,
    cursor: &mut WatchCursor,
) -> Vec<(String, String, Revision)> {
    let mut seen = Vec::new();
    loop {
        let events = store.poll_watch(cursor, 3).unwrap();
        if events.is_empty() {
            return seen;
        }
        for event in events {
            let (label, versioned) = match &event {
                WatchEvent::Added(v) => ("ADDED", v),
                WatchEvent::Modified(v) => ("MODIFIED", v),
                WatchEvent::Deleted(v) => ("DELETED", v),
                WatchEvent::Bookmark(_) => continue,
            };
            let object = decoded::<R>(versioned);
            assert_eq!(
                object.revision(),
                Some(versioned.mod_revision),
                "events carry their revision"
            );
            seen.push((
                label.to_string(),
                object.name().to_string(),
                versioned.mod_revision,
            ));
        }
    }
}

pub fn list_supports_every_label_selector_operator<R: Representation>(factory: &BackendFactory) {
    let store = objects::<R>(factory);
    seed_pods(&store);
    for (selector, expected) in [
        ("app=web", vec!["a", "b"]),
        ("app==web", vec!["a", "b"]),
        ("app!=web", vec!["c", "d"]),
        ("app in (web,db)", vec!["a", "b", "c"]),
        ("app notin (web)", vec!["c", "d"]),
        ("tier", vec!["a", "c"]),
        ("!tier", vec!["b", "d"]),
        ("app=web,tier=gold", vec!["a"]),
        ("app=nope", vec![]),
        ("", vec!["a", "b", "c", "d"]),
    ] {
        assert_eq!(
            list_names(&store, ResourceKind::Pod, selector, ""),
            expected,
            "{selector}"
        );
    }
}

pub fn list_supports_field_selectors_for_pods_and_events<R: Representation>(
    factory: &BackendFactory,
) {
    let store = objects::<R>(factory);
    seed_pods(&store);
    for (selector, expected) in [
        ("metadata.name=b", vec!["b"]),
        ("metadata.namespace=ns", vec!["a", "b", "c", "d"]),
        ("metadata.namespace=other", vec![]),
        ("spec.nodeName=n1", vec!["a", "c"]),
        ("spec.nodeName=", vec!["d"]),
        (
            "spec.nodeName=n1,status.phase!=Succeeded,status.phase!=Failed",
            vec!["a"],
        ),
        ("status.phase=Pending", vec!["d"]),
    ] {
        assert_eq!(
            list_names(&store, ResourceKind::Pod, "", selector),
            expected,
            "{selector}"
        );
    }
    for (name, involved, reason) in [
        ("e1", ("Job", "j1", "u1"), "Created"),
        ("e2", ("Pod", "j1", "u2"), "Created"),
        ("e3", ("Job", "j2", "u3"), "Completed"),
    ] {
        store
            .create(
                event("ns", name, involved, reason),
                epoch(),
                &mut rng(),
                false,
            )
            .unwrap();
    }
    let describe = "involvedObject.name=j1,involvedObject.namespace=ns,involvedObject.kind=Job,involvedObject.uid=u1";
    assert_eq!(
        list_names(&store, ResourceKind::Event, "", describe),
        vec!["e1"]
    );
    assert_eq!(
        list_names(&store, ResourceKind::Event, "", "reason=Created"),
        vec!["e1", "e2"]
    );
    assert_eq!(
        list_names(&store, ResourceKind::Event, "", "type!=Normal"),
        Vec::<String>::new()
    );
}

pub fn list_rejects_unsupported_field_labels<R: Representation>(factory: &BackendFactory) {
    let store = objects::<R>(factory);
    let request = ListRequest {
        field_selector: FieldSelector::parse("spec.bogus=1").unwrap(),
        ..ListRequest::all(ResourceKind::Pod)
    };
    let error = store.list(&request).unwrap_err();
    assert_eq!(
        error,
        StoreError::InvalidSelector("field label not supported: spec.bogus".into())
    );
    let watch = WatchRequest {
        field_selector: FieldSelector::parse("spec.bogus=1").unwrap(),
        ..WatchRequest::all(ResourceKind::Pod, Revision(1))
    };
    assert!(matches!(
        store.watch(watch),
        Err(StoreError::InvalidSelector(_))
    ));
}

pub fn list_in_a_namespace_sees_only_that_namespace<R: Representation>(factory: &BackendFactory) {
    let store = objects::<R>(factory);
    for (namespace, name) in [("a", "1"), ("ab", "2"), ("b", "3"), ("a", "4")] {
        store
            .create(config_map(namespace, name, "x"), epoch(), &mut rng(), false)
            .unwrap();
    }
    let request = ListRequest {
        namespace: Some("a".into()),
        ..ListRequest::all(ResourceKind::ConfigMap)
    };
    assert_eq!(names::<R>(&store.list(&request).unwrap()), vec!["1", "4"]);
    let by_name = ListRequest {
        namespace: Some("a".into()),
        field_selector: FieldSelector::parse("metadata.name=4").unwrap(),
        ..ListRequest::all(ResourceKind::ConfigMap)
    };
    assert_eq!(names::<R>(&store.list(&by_name).unwrap()), vec!["4"]);
    let bad_name = ListRequest {
        field_selector: FieldSelector::parse("metadata.name=a/b").unwrap(),
        ..by_name.clone()
    };
    assert!(store.list(&bad_name).unwrap().items.is_empty());
    let all = list_names(&store, ResourceKind::ConfigMap, "", "");
    assert_eq!(all, vec!["1", "4", "2", "3"]);
}

pub fn pages_stay_at_the_first_pages_revision_across_concurrent_writes<R: Representation>(
    factory: &BackendFactory,
) {
    let store = objects::<R>(factory);
    for index in 0..10 {
        store
            .create(
                config_map("ns", &format!("c{index:02}"), "v1"),
                epoch(),
                &mut rng(),
                false,
            )
            .unwrap();
    }
    let mut request = ListRequest {
        limit: Some(3),
        ..ListRequest::all(ResourceKind::ConfigMap)
    };
    let first = store.list(&request).unwrap();
    assert_eq!(names::<R>(&first), vec!["c00", "c01", "c02"]);
    assert_eq!(first.remaining_item_count, Some(7));
    // Writes between pages: delete a later item, create a new one, update one.
    let key = |name: &str| ObjectKey::new(ResourceKind::ConfigMap, "ns", name);
    store
        .delete(&key("c05"), &DeleteOptions::default(), epoch(), false)
        .unwrap();
    store
        .create(config_map("ns", "c04a", "new"), epoch(), &mut rng(), false)
        .unwrap();
    let current = decoded::<R>(&store.get(&key("c07")).unwrap());
    let mut edited = current.to_value();
    edited["data"]["value"] = "v2".into();
    store
        .update(
            corral_api::KubeObject::from_value(ResourceKind::ConfigMap, edited).unwrap(),
            epoch(),
            false,
        )
        .unwrap();
    let mut seen = names::<R>(&first);
    let mut token = first.continue_token.clone();
    while let Some(next) = token {
        request.continue_token = Some(next);
        let page = store.list(&request).unwrap();
        assert_eq!(
            page.revision, first.revision,
            "every page is read at the first page's revision"
        );
        for item in &page.items {
            let object = decoded::<R>(item);
            assert!(item.mod_revision <= first.revision);
            assert_eq!(object.to_value()["data"]["value"], "v1");
        }
        seen.extend(names::<R>(&page));
        token = page.continue_token;
    }
    let expected: Vec<String> = (0..10).map(|i| format!("c{i:02}")).collect();
    assert_eq!(seen, expected);
}

pub fn an_expired_continue_token_is_410_with_a_resume_token<R: Representation>(
    factory: &BackendFactory,
) {
    let store = objects::<R>(factory);
    for index in 0..5 {
        store
            .create(
                config_map("ns", &format!("c{index}"), "v"),
                epoch(),
                &mut rng(),
                false,
            )
            .unwrap();
    }
    let mut request = ListRequest {
        limit: Some(2),
        ..ListRequest::all(ResourceKind::ConfigMap)
    };
    let first = store.list(&request).unwrap();
    store
        .create(config_map("ns", "late", "v"), epoch(), &mut rng(), false)
        .unwrap();
    store
        .store()
        .compact(store.store().current_revision())
        .unwrap();
    request.continue_token = first.continue_token.clone();
    let error = store.list(&request).unwrap_err();
    let StoreError::ContinueExpired {
        continue_token,
        requested,
        ..
    } = &error
    else {
        panic!("{error:?}")
    };
    assert_eq!(*requested, first.revision);
    assert_eq!(
        error
            .to_api_error(&corral_api::GroupResource::new("", "configmaps"))
            .code,
        410
    );
    request.continue_token = Some(continue_token.clone());
    request.limit = None;
    let rest = store.list(&request).unwrap();
    assert_eq!(rest.revision, store.store().current_revision());
    assert_eq!(names::<R>(&rest), vec!["c2", "c3", "c4", "late"]);
}

pub fn malformed_continue_tokens_are_invalid_continue<R: Representation>(factory: &BackendFactory) {
    let store = objects::<R>(factory);
    for token in ["garbage!", "eyJ2IjoxfQ", "e30"] {
        let request = ListRequest {
            continue_token: Some(token.into()),
            ..ListRequest::all(ResourceKind::ConfigMap)
        };
        let error = store.list(&request).unwrap_err();
        assert!(
            matches!(error, StoreError::InvalidContinue(_)),
            "{token}: {error:?}"
        );
        assert_eq!(
            error
                .to_api_error(&corral_api::GroupResource::new("", "configmaps"))
                .code,
            400
        );
    }
}

pub fn list_at_exact_old_and_future_revisions<R: Representation>(factory: &BackendFactory) {
    let store = objects::<R>(factory);
    store
        .create(config_map("ns", "a", "v"), epoch(), &mut rng(), false)
        .unwrap();
    let old = store.store().current_revision();
    store
        .create(config_map("ns", "b", "v"), epoch(), &mut rng(), false)
        .unwrap();
    let at = |revision| ListRequest {
        revision,
        ..ListRequest::all(ResourceKind::ConfigMap)
    };
    assert_eq!(
        names::<R>(&store.list(&at(ReadRevision::Exact(old))).unwrap()),
        vec!["a"]
    );
    let latest = store
        .list(&at(ReadRevision::NotOlderThan(Revision(0))))
        .unwrap();
    assert_eq!(latest.revision, store.store().current_revision());
    let future = Revision(store.store().current_revision().0 + 5);
    assert!(matches!(
        store.list(&at(ReadRevision::Exact(future))),
        Err(StoreError::FutureRevision { .. })
    ));
    assert!(matches!(
        store.list(&at(ReadRevision::NotOlderThan(future))),
        Err(StoreError::FutureRevision { .. })
    ));
    store
        .store()
        .compact(store.store().current_revision())
        .unwrap();
    let error = store.list(&at(ReadRevision::Exact(old))).unwrap_err();
    assert_eq!(
        error,
        StoreError::Compacted {
            requested: old,
            compacted: store.store().compacted_revision()
        }
    );
}
