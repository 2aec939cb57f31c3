//! Model-based property tests: random operation sequences run against the store and
//! against a reference model (a `BTreeMap` per revision and a revision counter); every
//! result is compared.
//!
//! Goal: the MVCC core, compaction, pagination at old revisions and the watch log agree
//! with the obvious semantics for any sequence. Method: proptest generates sequences of
//! puts (with every compare flavour), deletes, multi-key transactions, compactions and
//! paginated lists at old revisions; at the end a watch from the oldest retained revision
//! must replay exactly the model's changes.

use std::collections::BTreeMap;

use corral_api::{ObjectKey, ResourceKind, Revision};
use proptest::prelude::*;

use crate::testing::config_map;
use crate::{
    Compare, JsonBytes, ListRequest, MemoryBackend, ReadRevision, Representation, Store,
    StoreConfig, StoreError, Txn, TxnOp, TxnOutcome, TypedArc, WatchEvent, WatchRequest,
};

type State = BTreeMap<String, (String, u64, u64)>;

#[derive(Clone, Debug)]
enum Guard {
    None,
    Absent,
    Present,
    CurrentRevision,
    StaleRevision,
}

#[derive(Clone, Debug)]
enum Op {
    Put { name: u8, value: u8, guard: Guard },
    Delete { name: u8 },
    Multi { names: Vec<u8>, value: u8 },
    Compact { back: u8 },
    ListAt { back: u8, limit: u8 },
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let guard = prop_oneof![
        Just(Guard::None),
        Just(Guard::Absent),
        Just(Guard::Present),
        Just(Guard::CurrentRevision),
        Just(Guard::StaleRevision),
    ];
    prop_oneof![
        4 => (0u8..6, any::<u8>(), guard).prop_map(|(name, value, guard)| Op::Put { name, value, guard }),
        2 => (0u8..6).prop_map(|name| Op::Delete { name }),
        1 => (proptest::collection::btree_set(0u8..6, 1..4), any::<u8>())
            .prop_map(|(names, value)| Op::Multi { names: names.into_iter().collect(), value }),
        1 => (0u8..8).prop_map(|back| Op::Compact { back }),
        2 => (0u8..10, 0u8..4).prop_map(|(back, limit)| Op::ListAt { back, limit }),
    ]
}

struct Model {
    revision: u64,
    compacted: u64,
    states: BTreeMap<u64, State>,
}

impl Model {
    fn current(&self) -> &State {
        &self.states[&self.revision]
    }

    fn commit(&mut self, next: State) {
        self.revision += 1;
        self.states.insert(self.revision, next);
    }
}

fn key(name: u8) -> ObjectKey {
    ObjectKey::new(ResourceKind::ConfigMap, "ns", &format!("k{name}"))
}

fn contents<R: Representation>(items: &[crate::Versioned<R::Value>]) -> State {
    items
        .iter()
        .map(|item| {
            let object = R::decode(&item.value).unwrap();
            let value = object.to_value()["data"]["value"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            (
                object.name().to_string(),
                (value, item.create_revision.0, item.mod_revision.0),
            )
        })
        .collect()
}

fn apply_put<R: Representation>(
    store: &Store<R>,
    model: &mut Model,
    name: u8,
    value: u8,
    guard: &Guard,
) {
    let k = key(name);
    let existing = model.current().get(&k.name).cloned();
    let (compare, holds) = match guard {
        Guard::None => (None, true),
        Guard::Absent => (Some(Compare::Absent(k.clone())), existing.is_none()),
        Guard::Present => (Some(Compare::Present(k.clone())), existing.is_some()),
        Guard::CurrentRevision => {
            let revision = existing.as_ref().map_or(model.revision, |e| e.2);
            (
                Some(Compare::ModRevision(k.clone(), Revision(revision))),
                existing.is_some(),
            )
        }
        Guard::StaleRevision => (
            Some(Compare::ModRevision(
                k.clone(),
                Revision(model.revision + 7),
            )),
            false,
        ),
    };
    let txn = Txn {
        compares: compare.into_iter().collect(),
        ops: vec![TxnOp::Put(config_map("ns", &k.name, &value.to_string()))],
    };
    let outcome = store.txn(txn).unwrap();
    if !holds {
        assert_eq!(outcome, TxnOutcome::CompareFailed { index: 0 });
        return;
    }
    let mut next = model.current().clone();
    let create = existing.map_or(model.revision + 1, |e| e.1);
    next.insert(
        k.name.clone(),
        (value.to_string(), create, model.revision + 1),
    );
    model.commit(next);
    let TxnOutcome::Committed { revision, results } = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(revision.0, model.revision);
    assert_eq!(
        results[0].as_ref().map(|v| v.create_revision.0),
        Some(create)
    );
}

fn apply_delete<R: Representation>(store: &Store<R>, model: &mut Model, name: u8) {
    let k = key(name);
    let result = store.txn(Txn {
        compares: vec![],
        ops: vec![TxnOp::Delete(k.clone())],
    });
    if !model.current().contains_key(&k.name) {
        assert_eq!(result.unwrap_err(), StoreError::NotFound(k));
        return;
    }
    let mut next = model.current().clone();
    next.remove(&k.name);
    model.commit(next);
    assert!(
        matches!(result.unwrap(), TxnOutcome::Committed { revision, .. } if revision.0 == model.revision)
    );
}

fn apply_multi<R: Representation>(store: &Store<R>, model: &mut Model, names: &[u8], value: u8) {
    let ops = names
        .iter()
        .map(|n| TxnOp::Put(config_map("ns", &key(*n).name, &value.to_string())))
        .collect();
    store
        .txn(Txn {
            compares: vec![],
            ops,
        })
        .unwrap();
    let mut next = model.current().clone();
    for name in names {
        let k = key(*name);
        let create = next.get(&k.name).map_or(model.revision + 1, |e| e.1);
        next.insert(k.name, (value.to_string(), create, model.revision + 1));
    }
    model.commit(next);
}

fn check_list_at<R: Representation>(store: &Store<R>, model: &Model, back: u8, limit: u8) {
    let revision = model.revision.saturating_sub(u64::from(back)).max(1);
    let mut request = ListRequest {
        limit: Some(usize::from(limit)),
        revision: ReadRevision::Exact(Revision(revision)),
        ..ListRequest::all(ResourceKind::ConfigMap)
    };
    if revision < model.compacted {
        assert!(matches!(
            store.list(&request),
            Err(StoreError::Compacted { .. })
        ));
        return;
    }
    let mut items = Vec::new();
    loop {
        let page = store.list(&request).unwrap();
        assert_eq!(page.revision.0, revision);
        items.extend(page.items);
        match page.continue_token {
            Some(token) => request.continue_token = Some(token),
            None => break,
        }
    }
    assert_eq!(contents::<R>(&items), model.states[&revision]);
}

fn replay_watch<R: Representation>(store: &Store<R>, model: &Model) {
    let mut cursor = store
        .watch(WatchRequest::all(
            ResourceKind::ConfigMap,
            Revision(model.compacted),
        ))
        .unwrap();
    let mut state = model.states[&model.compacted].clone();
    let mut last = model.compacted;
    loop {
        let events = store.poll_watch(&mut cursor, 5).unwrap();
        if events.is_empty() {
            break;
        }
        for event in events {
            let revision = event.revision().0;
            assert!(revision >= last, "events arrive in revision order");
            if revision > last {
                assert_eq!(state, model.states[&last], "state after revision {last}");
                last = revision;
            }
            let (WatchEvent::Added(v) | WatchEvent::Modified(v)) = &event else {
                let WatchEvent::Deleted(v) = &event else {
                    panic!("{event:?}")
                };
                state.remove(R::decode(&v.value).unwrap().name());
                continue;
            };
            state.extend(contents::<R>(std::slice::from_ref(v)));
        }
    }
    assert_eq!(last, model.revision);
    assert_eq!(&state, model.current());
}

fn run<R: Representation>(ops: &[Op]) {
    let config = StoreConfig {
        history_revisions: 1_000,
        ..StoreConfig::default()
    };
    let store = Store::<R>::open(Box::new(MemoryBackend), config).unwrap();
    let mut model = Model {
        revision: 1,
        compacted: 1,
        states: [(1, State::new())].into(),
    };
    for op in ops {
        match op {
            Op::Put { name, value, guard } => apply_put(&store, &mut model, *name, *value, guard),
            Op::Delete { name } => apply_delete(&store, &mut model, *name),
            Op::Multi { names, value } => apply_multi(&store, &mut model, names, *value),
            Op::Compact { back } => {
                let target = model
                    .revision
                    .saturating_sub(u64::from(*back))
                    .max(model.compacted);
                store.compact(Revision(target)).unwrap();
                model.compacted = target;
            }
            Op::ListAt { back, limit } => check_list_at(&store, &model, *back, *limit),
        }
        assert_eq!(store.current_revision().0, model.revision);
        assert_eq!(store.compacted_revision().0, model.compacted);
        let latest = store
            .list(&ListRequest::all(ResourceKind::ConfigMap))
            .unwrap();
        assert_eq!(contents::<R>(&latest.items), *model.current());
    }
    replay_watch(&store, &model);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn random_operation_sequences_match_the_reference_model_with_json_bytes(ops in proptest::collection::vec(op_strategy(), 1..60)) {
        run::<JsonBytes>(&ops);
    }

    #[test]
    fn random_operation_sequences_match_the_reference_model_with_typed_values(ops in proptest::collection::vec(op_strategy(), 1..60)) {
        run::<TypedArc>(&ops);
    }
}
