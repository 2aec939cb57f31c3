//! [`EventRecorder`]: client-go's event correlator (`tools/record/events_cache.go`) as pure
//! logic. It turns an [`EventRecord`] into the write that records it, or into nothing:
//!
//! - identical events (same source, object, type, reason, message) bump `count` and
//!   `lastTimestamp` of one Event object instead of creating another;
//! - more than 10 events that differ only in message within 600 s become one event whose
//!   message starts with `(combined from similar events): `;
//! - a spam filter per (source, object) allows a burst of 25, then one event per 300 s;
//!   the rest are dropped silently.
//!
//! The recorder's memory is bounded (4,096 entries per cache, as client-go's LRUs).

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::time::Duration;

use corral_api::ObjectKey;
use corral_api::ResourceKind;
use k8s_openapi::api::core::v1::{Event, EventSource};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

use crate::clock::{self, Timestamp};
use crate::plan::{Action, EventRecord, PatchBody, Subresource};

const MAX_ENTRIES: usize = 4096;
const AGGREGATE_MAX_EVENTS: usize = 10;
const AGGREGATE_WINDOW: Duration = Duration::from_secs(600);
const SPAM_BURST: f64 = 25.0;
const SPAM_REFILL_PER_SECOND: f64 = 1.0 / 300.0;
const COMBINED_PREFIX: &str = "(combined from similar events): ";

/// The write that records an event.
#[derive(Clone, Debug, PartialEq)]
pub enum RecordedEvent {
    /// Create a new Event object.
    Create(Action),
    /// Bump an existing Event; if it is gone (404), create `fallback` instead.
    Update { patch: Action, fallback: Action },
    /// Dropped by the spam filter.
    Dropped,
}

/// A small insertion-ordered map that forgets its oldest entries beyond a bound.
#[derive(Debug)]
struct BoundedMap<K, V> {
    map: HashMap<K, V>,
    order: VecDeque<K>,
}

impl<K: Clone + Eq + Hash, V> BoundedMap<K, V> {
    fn new() -> Self {
        BoundedMap {
            map: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.map.get_mut(key)
    }

    fn insert(&mut self, key: K, value: V) {
        if self.map.insert(key.clone(), value).is_none() {
            self.order.push_back(key);
            while self.order.len() > MAX_ENTRIES {
                if let Some(old) = self.order.pop_front() {
                    self.map.remove(&old);
                }
            }
        }
    }
}

#[derive(Debug)]
struct AggregateRecord {
    messages: Vec<String>,
    last: Timestamp,
}

#[derive(Debug, Clone)]
struct ObservedEvent {
    name: String,
    namespace: String,
    count: i32,
    first: Timestamp,
}

#[derive(Debug)]
struct SpamBucket {
    tokens: f64,
    last: Timestamp,
}

/// The correlator state of one recording component.
#[derive(Debug)]
pub struct EventRecorder {
    aggregates: BoundedMap<String, AggregateRecord>,
    observed: BoundedMap<String, ObservedEvent>,
    spam: BoundedMap<String, SpamBucket>,
    last_name_nanos: i128,
}

impl Default for EventRecorder {
    fn default() -> Self {
        EventRecorder::new()
    }
}

impl EventRecorder {
    pub fn new() -> Self {
        EventRecorder {
            aggregates: BoundedMap::new(),
            observed: BoundedMap::new(),
            spam: BoundedMap::new(),
            last_name_nanos: 0,
        }
    }

    /// Decides how to record `record` at `now`.
    pub fn record(&mut self, record: &EventRecord, now: Timestamp) -> RecordedEvent {
        let (message, key) = self.aggregate(record, now);
        if !self.spam_allows(record, now) {
            return RecordedEvent::Dropped;
        }
        let fresh = self.new_event(record, &message, now);
        if let Some(seen) = self.observed.get_mut(&key) {
            seen.count += 1;
            let count = seen.count;
            let event_key = ObjectKey::new(ResourceKind::Event, &seen.namespace, &seen.name);
            let patch = Action::Patch {
                key: event_key,
                subresource: Subresource::Main,
                patch: PatchBody::Merge(serde_json::json!({
                    "count": count,
                    "lastTimestamp": Time(clock::truncate_to_seconds(now)),
                    "message": message,
                })),
            };
            // If the stored Event vanished, the fallback recreates it under the same name
            // with the accumulated count.
            let mut fallback_event = fresh;
            fallback_event.metadata.name = Some(seen.name.clone());
            fallback_event.count = Some(count);
            fallback_event.first_timestamp = Some(Time(clock::truncate_to_seconds(seen.first)));
            return RecordedEvent::Update {
                patch,
                fallback: Action::Create {
                    object: fallback_event.into(),
                },
            };
        }
        self.observed.insert(
            key,
            ObservedEvent {
                name: fresh.metadata.name.clone().unwrap_or_default(),
                namespace: fresh.metadata.namespace.clone().unwrap_or_default(),
                count: 1,
                first: now,
            },
        );
        RecordedEvent::Create(Action::Create {
            object: fresh.into(),
        })
    }

    /// Returns the message to record and the dedup key it is recorded under.
    fn aggregate(&mut self, record: &EventRecord, now: Timestamp) -> (String, String) {
        let aggregate_key = aggregate_key(record);
        let full_key = format!("{aggregate_key}\u{1}{}", record.message);
        let reset = match self.aggregates.get_mut(&aggregate_key) {
            Some(entry) => clock::since(now, entry.last) > AGGREGATE_WINDOW,
            None => true,
        };
        if reset {
            self.aggregates.insert(
                aggregate_key.clone(),
                AggregateRecord {
                    messages: Vec::new(),
                    last: now,
                },
            );
        }
        let Some(entry) = self.aggregates.get_mut(&aggregate_key) else {
            return (record.message.clone(), full_key);
        };
        entry.last = now;
        if !entry.messages.contains(&record.message) {
            entry.messages.push(record.message.clone());
        }
        if entry.messages.len() < AGGREGATE_MAX_EVENTS {
            (record.message.clone(), full_key)
        } else {
            (
                format!("{COMBINED_PREFIX}{}", record.message),
                aggregate_key,
            )
        }
    }

    fn spam_allows(&mut self, record: &EventRecord, now: Timestamp) -> bool {
        let key = spam_key(record);
        if self.spam.get_mut(&key).is_none() {
            self.spam.insert(
                key.clone(),
                SpamBucket {
                    tokens: SPAM_BURST,
                    last: now,
                },
            );
        }
        let Some(bucket) = self.spam.get_mut(&key) else {
            return true;
        };
        let elapsed = clock::since(now, bucket.last).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * SPAM_REFILL_PER_SECOND).min(SPAM_BURST);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    fn new_event(&mut self, record: &EventRecord, message: &str, now: Timestamp) -> Event {
        // Upstream names events `<object>.<unix nanos in hex>`; two events at the same
        // (virtual) instant get consecutive numbers so names stay unique.
        let nanos = now.as_nanosecond().max(self.last_name_nanos + 1);
        self.last_name_nanos = nanos;
        let involved = &record.involved;
        let namespace = involved
            .namespace
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "default".to_string());
        let stamp = Time(clock::truncate_to_seconds(now));
        Event {
            metadata: ObjectMeta {
                name: Some(format!(
                    "{}.{:x}",
                    involved.name.as_deref().unwrap_or(""),
                    nanos
                )),
                namespace: Some(namespace),
                ..Default::default()
            },
            involved_object: involved.clone(),
            reason: Some(record.reason.clone()),
            message: Some(message.to_string()),
            source: Some(EventSource {
                component: Some(record.component.clone()),
                host: record.host.clone(),
            }),
            first_timestamp: Some(stamp.clone()),
            last_timestamp: Some(stamp),
            count: Some(1),
            type_: Some(record.event_type.as_str().to_string()),
            reporting_component: Some(record.component.clone()),
            reporting_instance: record.host.clone(),
            ..Default::default()
        }
    }
}

fn object_identity(record: &EventRecord) -> String {
    let o = &record.involved;
    [
        record.component.as_str(),
        record.host.as_deref().unwrap_or(""),
        o.kind.as_deref().unwrap_or(""),
        o.namespace.as_deref().unwrap_or(""),
        o.name.as_deref().unwrap_or(""),
        o.uid.as_deref().unwrap_or(""),
        o.api_version.as_deref().unwrap_or(""),
    ]
    .join("\u{1}")
}

fn aggregate_key(record: &EventRecord) -> String {
    format!(
        "{}\u{1}{}\u{1}{}",
        object_identity(record),
        record.event_type.as_str(),
        record.reason
    )
}

fn spam_key(record: &EventRecord) -> String {
    format!(
        "{}\u{1}{}",
        object_identity(record),
        record.event_type.as_str()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::epoch;
    use crate::plan::EventType;
    use k8s_openapi::api::core::v1::ObjectReference;

    fn record(message: &str) -> EventRecord {
        EventRecord {
            involved: ObjectReference {
                kind: Some("Job".into()),
                name: Some("j".into()),
                namespace: Some("ns".into()),
                uid: Some("u".into()),
                ..Default::default()
            },
            event_type: EventType::Warning,
            reason: "FailedCreate".into(),
            message: message.into(),
            component: "job-controller".into(),
            host: None,
        }
    }

    #[test]
    fn identical_events_update_one_object() {
        let mut r = EventRecorder::new();
        let first = r.record(&record("boom"), epoch());
        assert!(matches!(first, RecordedEvent::Create(_)));
        let second = r.record(&record("boom"), clock::add(epoch(), Duration::from_secs(1)));
        let RecordedEvent::Update {
            patch:
                Action::Patch {
                    patch: PatchBody::Merge(body),
                    ..
                },
            ..
        } = second
        else {
            panic!("expected an update, got {second:?}");
        };
        assert_eq!(body["count"], 2);
    }

    #[test]
    fn the_spam_filter_allows_25_then_one_per_five_minutes() {
        let mut r = EventRecorder::new();
        let mut recorded = 0;
        for i in 0..40 {
            let at = clock::add(epoch(), Duration::from_secs(i));
            if !matches!(
                r.record(&record(&format!("m{i}")), at),
                RecordedEvent::Dropped
            ) {
                recorded += 1;
            }
        }
        assert_eq!(recorded, 25);
        let later = clock::add(epoch(), Duration::from_secs(40 + 300));
        assert!(!matches!(
            r.record(&record("late"), later),
            RecordedEvent::Dropped
        ));
    }

    #[test]
    fn many_similar_messages_are_combined() {
        let mut r = EventRecorder::new();
        let mut last = RecordedEvent::Dropped;
        for i in 0..12 {
            last = r.record(&record(&format!("pod-{i} failed")), epoch());
        }
        let message = match last {
            RecordedEvent::Create(Action::Create { object }) => {
                object.as_typed::<Event>().unwrap().message.clone().unwrap()
            }
            RecordedEvent::Update {
                patch:
                    Action::Patch {
                        patch: PatchBody::Merge(body),
                        ..
                    },
                ..
            } => body["message"].as_str().unwrap().to_string(),
            other => panic!("unexpected {other:?}"),
        };
        assert!(message.starts_with(COMBINED_PREFIX), "{message}");
    }
}
