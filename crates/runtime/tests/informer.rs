//! The shared informer against a real API service: initial list, watch, and the 410 path
//! (the store compacted under an open watch → re-list, with deletions seen meanwhile
//! synthesised from the difference).

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{api_service, eventually, typed};
use corral_api::{KubeObject, ObjectKey, ResourceKind};
use corral_apiserver::service::UserInfo;
use corral_core::{ChangeKind, ObjectCache, ObjectEvent, SimRng, Timestamp};
use corral_runtime::signal::shutdown_channel;
use corral_runtime::{EventHandler, InformerConfig, RuntimeMetrics, SharedInformer};
use corral_store::ObjectStore;
use k8s_openapi::api::core::v1::ConfigMap;
use parking_lot::Mutex;
use serde_json::json;

#[derive(Default)]
struct Seen {
    events: Mutex<Vec<(ChangeKind, String)>>,
}

impl EventHandler for Seen {
    fn name(&self) -> &str {
        "seen"
    }
    fn watched_kinds(&self) -> &'static [ResourceKind] {
        &[ResourceKind::ConfigMap]
    }
    fn handle_event(
        &self,
        event: &ObjectEvent,
        _: Option<&KubeObject>,
        cache: &ObjectCache,
        _: Timestamp,
    ) {
        // The handler runs after the cache applied the event.
        let cached = cache.get(&event.object.key()).is_some();
        assert_eq!(cached, event.change != ChangeKind::Deleted);
        self.events
            .lock()
            .push((event.change, event.object.name().to_string()));
    }
}

impl Seen {
    fn saw(&self, change: ChangeKind, name: &str) -> bool {
        self.events
            .lock()
            .iter()
            .any(|(c, n)| *c == change && n == name)
    }
}

fn config_map(name: &str) -> ConfigMap {
    typed(
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"}}),
    )
}

#[tokio::test(start_paused = true)]
async fn a_watch_behind_compacted_history_relists_and_catches_up() {
    let (api, clock) = api_service();
    let client = api.client(UserInfo::system("test"));
    client.create(&config_map("before")).await.expect("create");
    let metrics = RuntimeMetrics::new();
    let mut informer = SharedInformer::new(
        api.clone(),
        InformerConfig::default(),
        clock.clone(),
        metrics.clone(),
    );
    let seen = Arc::new(Seen::default());
    informer.add_handler(seen.clone());
    let cache = informer.cache();
    let (trigger, shutdown) = shutdown_channel();
    let mut tasks = tokio::task::JoinSet::new();
    let mut synced = informer.spawn(&mut tasks, shutdown);
    assert!(synced.wait().await);
    assert!(
        seen.saw(ChangeKind::Added, "before"),
        "the initial list is dispatched as adds"
    );

    client.create(&config_map("watched")).await.expect("create");
    client
        .delete::<ConfigMap>("default", "before", &Default::default())
        .await
        .expect("delete");
    eventually("the watch to deliver", Duration::from_secs(5), || async {
        seen.saw(ChangeKind::Deleted, "before").then_some(())
    })
    .await;
    assert_eq!(metrics.relists("ConfigMap"), 1);

    // Write and delete behind the informer's back, then compact past its watch position
    // before it can run (no await in between): its next poll gets 410 Expired.
    let objects = ObjectStore::new(api.store().clone());
    let mut rng = SimRng::seed_from_u64(1);
    let hidden: KubeObject = config_map("hidden").into();
    objects
        .create(hidden, clock_now(&clock), &mut rng, false)
        .expect("store create");
    api.store()
        .compact(api.store().current_revision())
        .expect("compact");
    // "watched" vanishes from the store without a watch event the informer could see.
    let gone = corral_store::DeleteOptions::default();
    let key = ObjectKey::new(ResourceKind::ConfigMap, "default", "watched");
    objects
        .delete(&key, &gone, clock_now(&clock), false)
        .expect("store delete");
    api.store()
        .compact(api.store().current_revision())
        .expect("compact again");

    eventually("the re-list", Duration::from_secs(10), || async {
        (seen.saw(ChangeKind::Added, "hidden") && seen.saw(ChangeKind::Deleted, "watched"))
            .then_some(())
    })
    .await;
    assert_eq!(
        metrics.relists("ConfigMap"),
        2,
        "one initial list, one re-list after 410"
    );
    let cached: Vec<String> = cache
        .read()
        .list(ResourceKind::ConfigMap)
        .map(|o| o.name().to_string())
        .collect();
    assert_eq!(cached, vec!["hidden".to_string()]);

    trigger.trigger();
    while tasks.join_next().await.is_some() {}
    assert_eq!(api.hub().watcher_count(), 0, "shutdown closed every watch");
}

fn clock_now(clock: &corral_runtime::TokioClock) -> Timestamp {
    use corral_core::Clock;
    clock.now()
}

#[tokio::test(start_paused = true)]
async fn a_one_slot_channel_still_delivers_every_event_in_order() {
    // Back-pressure: with room for one delta between the watchers and the cache writer,
    // watchers wait for the writer; nothing is dropped or reordered.
    let (api, clock) = api_service();
    let client = api.client(UserInfo::system("test"));
    let config = InformerConfig {
        channel_capacity: 1,
        page_size: 7,
        ..InformerConfig::default()
    };
    for i in 0..20 {
        client
            .create(&config_map(&format!("listed-{i:02}")))
            .await
            .expect("create");
    }
    let mut informer = SharedInformer::new(api.clone(), config, clock, RuntimeMetrics::new());
    let seen = Arc::new(Seen::default());
    informer.add_handler(seen.clone());
    let (trigger, shutdown) = shutdown_channel();
    let mut tasks = tokio::task::JoinSet::new();
    let mut synced = informer.spawn(&mut tasks, shutdown);
    assert!(synced.wait().await);
    assert_eq!(
        seen.events.lock().len(),
        20,
        "three pages of 7, one consistent list"
    );
    for i in 0..200 {
        client
            .create(&config_map(&format!("watched-{i:03}")))
            .await
            .expect("create");
    }
    eventually("every watch event", Duration::from_secs(10), || async {
        (seen.events.lock().len() == 220).then_some(())
    })
    .await;
    let names: Vec<String> = seen
        .events
        .lock()
        .iter()
        .skip(20)
        .map(|(_, n)| n.clone())
        .collect();
    let expected: Vec<String> = (0..200).map(|i| format!("watched-{i:03}")).collect();
    assert_eq!(names, expected);
    trigger.trigger();
    while tasks.join_next().await.is_some() {}
}
