//! Conformance cases for watches: replay from any retained revision, compaction, selector
//! transitions, deletion revisions, `max_events`, bookmarks and namespaces.
//!
//! Goal and method as in `conformance`: fresh store per case, public API only.

use std::collections::BTreeSet;
use std::sync::Arc;

use corral_api::{FieldSelector, LabelSelector, ObjectKey, ResourceKind, Revision};
use corral_core::SimRng;
use corral_core::clock::epoch;

use super::conformance::{decoded, objects};
use super::conformance_reads::drain;
use super::{BackendFactory, config_map, pod};
use crate::{DeleteOptions, Representation, StoreError, WatchEvent, WatchRequest};

fn rng() -> SimRng {
    SimRng::seed_from_u64(13)
}

pub fn watch_replays_changes_from_any_retained_revision<R: Representation>(
    factory: &BackendFactory,
) {
    let store = objects::<R>(factory);
    let start = store.store().current_revision();
    let key = ObjectKey::new(ResourceKind::ConfigMap, "ns", "a");
    let created = store
        .create(config_map("ns", "a", "1"), epoch(), &mut rng(), false)
        .unwrap();
    store
        .create(config_map("ns", "b", "1"), epoch(), &mut rng(), false)
        .unwrap();
    let mut edited = decoded::<R>(&created).to_value();
    edited["data"]["value"] = "2".into();
    store
        .update(
            corral_api::KubeObject::from_value(ResourceKind::ConfigMap, edited).unwrap(),
            epoch(),
            false,
        )
        .unwrap();
    store
        .delete(&key, &DeleteOptions::default(), epoch(), false)
        .unwrap();
    let expected = [
        ("ADDED", "a"),
        ("ADDED", "b"),
        ("MODIFIED", "a"),
        ("DELETED", "a"),
    ];
    for skip in 0..=expected.len() {
        let after = Revision(start.0 + skip as u64);
        let mut cursor = store
            .watch(WatchRequest::all(ResourceKind::ConfigMap, after))
            .unwrap();
        let seen = drain(&store, &mut cursor);
        let labels: Vec<(&str, &str)> = seen
            .iter()
            .map(|(l, n, _)| (l.as_str(), n.as_str()))
            .collect();
        assert_eq!(labels, expected[skip..].to_vec(), "watch after {after}");
        let revisions: Vec<u64> = seen.iter().map(|(_, _, r)| r.0).collect();
        assert_eq!(
            revisions,
            ((after.0 + 1)..=(start.0 + 4)).collect::<Vec<_>>()
        );
    }
    let future = Revision(store.store().current_revision().0 + 1);
    assert!(matches!(
        store.watch(WatchRequest::all(ResourceKind::ConfigMap, future)),
        Err(StoreError::FutureRevision { .. })
    ));
}

pub fn watch_from_a_compacted_revision_is_compacted<R: Representation>(factory: &BackendFactory) {
    let store = objects::<R>(factory);
    let start = store.store().current_revision();
    let mut lagging = store
        .watch(WatchRequest::all(ResourceKind::ConfigMap, start))
        .unwrap();
    for index in 0..4 {
        store
            .create(
                config_map("ns", &format!("c{index}"), "v"),
                epoch(),
                &mut rng(),
                false,
            )
            .unwrap();
    }
    let compact_to = Revision(start.0 + 2);
    store.store().compact(compact_to).unwrap();
    let error = store
        .watch(WatchRequest::all(ResourceKind::ConfigMap, start))
        .unwrap_err();
    assert_eq!(
        error,
        StoreError::Compacted {
            requested: start,
            compacted: compact_to
        }
    );
    let api = error.to_api_error(&corral_api::GroupResource::new("", "configmaps"));
    assert_eq!(
        (api.code, api.message.as_str()),
        (
            410,
            format!("too old resource version: {start} ({compact_to})").as_str()
        )
    );
    assert!(matches!(
        store.poll_watch(&mut lagging, 10),
        Err(StoreError::Compacted { .. })
    ));
    let mut fresh = store
        .watch(WatchRequest::all(ResourceKind::ConfigMap, compact_to))
        .unwrap();
    assert_eq!(drain(&store, &mut fresh).len(), 2);
}

pub fn selector_transitions_become_added_and_deleted<R: Representation>(factory: &BackendFactory) {
    let store = objects::<R>(factory);
    let start = store.store().current_revision();
    let mut running = store
        .watch(WatchRequest {
            field_selector: FieldSelector::parse("status.phase=Running").unwrap(),
            label_selector: LabelSelector::parse("app=web").unwrap(),
            ..WatchRequest::all(ResourceKind::Pod, start)
        })
        .unwrap();
    let key = ObjectKey::new(ResourceKind::Pod, "ns", "p");
    store
        .create(
            pod("ns", "p", &[("app", "web")], "n1", "Pending"),
            epoch(),
            &mut rng(),
            false,
        )
        .unwrap();
    let set_phase = |phase: &str| {
        store
            .guaranteed_update(&key, &Default::default(), epoch(), false, &mut |o| {
                let mut json = o.to_value();
                json["status"]["phase"] = phase.into();
                Ok(corral_api::KubeObject::from_value(ResourceKind::Pod, json).unwrap())
            })
            .unwrap()
    };
    let running_at = set_phase("Running").value.mod_revision;
    let stopped = set_phase("Succeeded").value.mod_revision;
    set_phase("Failed");
    let seen = drain(&store, &mut running);
    assert_eq!(
        seen,
        vec![
            ("ADDED".into(), "p".into(), running_at),
            ("DELETED".into(), "p".into(), stopped)
        ]
    );
}

pub fn deleted_events_carry_the_deletion_revision<R: Representation>(factory: &BackendFactory) {
    let store = objects::<R>(factory);
    store
        .create(config_map("ns", "a", "1"), epoch(), &mut rng(), false)
        .unwrap();
    let before = store.store().current_revision();
    let mut cursor = store
        .watch(WatchRequest::all(ResourceKind::ConfigMap, before))
        .unwrap();
    let key = ObjectKey::new(ResourceKind::ConfigMap, "ns", "a");
    let outcome = store
        .delete(&key, &DeleteOptions::default(), epoch(), false)
        .unwrap();
    let events = store.poll_watch(&mut cursor, 10).unwrap();
    let [WatchEvent::Deleted(last)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(last.mod_revision, store.store().current_revision());
    assert_eq!(decoded::<R>(last).revision(), Some(last.mod_revision));
    assert_eq!(outcome.value.mod_revision, last.mod_revision);
    assert_eq!(decoded::<R>(last).to_value()["data"]["value"], "1");
}

pub fn poll_respects_max_events_without_losing_changes<R: Representation>(
    factory: &BackendFactory,
) {
    let store = objects::<R>(factory);
    let start = store.store().current_revision();
    let ops: Vec<crate::TxnOp> = (0..5)
        .map(|i| crate::TxnOp::Put(config_map("ns", &format!("c{i}"), "v")))
        .collect();
    store.commit(vec![], ops).unwrap();
    store
        .create(config_map("ns", "after", "v"), epoch(), &mut rng(), false)
        .unwrap();
    let mut cursor = store
        .watch(WatchRequest::all(ResourceKind::ConfigMap, start))
        .unwrap();
    let mut names = Vec::new();
    loop {
        let events = store.poll_watch(&mut cursor, 2).unwrap();
        assert!(events.len() <= 2);
        if events.is_empty() {
            break;
        }
        names.extend(events.iter().map(|e| {
            decoded::<R>(crate::event_value(e).unwrap())
                .name()
                .to_string()
        }));
    }
    assert_eq!(names, vec!["c0", "c1", "c2", "c3", "c4", "after"]);
    assert_eq!(cursor.position(), store.store().current_revision());
}

pub fn bookmarks_come_only_when_requested<R: Representation>(factory: &BackendFactory) {
    let store = objects::<R>(factory);
    let start = store.store().current_revision();
    let mut cursor = store
        .watch(WatchRequest::all(ResourceKind::Pod, start))
        .unwrap();
    store
        .create(
            config_map("ns", "other-kind", "v"),
            epoch(),
            &mut rng(),
            false,
        )
        .unwrap();
    assert!(store.poll_watch(&mut cursor, 10).unwrap().is_empty());
    cursor.request_bookmark();
    let events = store.poll_watch(&mut cursor, 10).unwrap();
    assert_eq!(
        events,
        vec![WatchEvent::Bookmark(store.store().current_revision())]
    );
    assert!(store.poll_watch(&mut cursor, 10).unwrap().is_empty());
}

pub fn namespaced_watches_see_only_their_namespace<R: Representation>(factory: &BackendFactory) {
    let store = Arc::new(objects::<R>(factory));
    let start = store.store().current_revision();
    let mut cursor = store
        .watch(WatchRequest {
            namespace: Some("a".into()),
            ..WatchRequest::all(ResourceKind::ConfigMap, start)
        })
        .unwrap();
    for namespace in ["a", "ab", "b", "a"] {
        let name = format!("{namespace}-{}", store.store().current_revision());
        store
            .create(
                config_map(namespace, &name, "v"),
                epoch(),
                &mut rng(),
                false,
            )
            .unwrap();
    }
    let seen: BTreeSet<String> = drain(&store, &mut cursor)
        .into_iter()
        .map(|(_, name, _)| name)
        .collect();
    assert_eq!(seen.len(), 2);
    assert!(seen.iter().all(|name| name.starts_with("a-")));
}
