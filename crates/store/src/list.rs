//! Paginated, consistent lists.
//!
//! Every page of a list is read at the revision of its first page: the continue token
//! carries that revision and the last key returned, and the MVCC history answers reads at
//! that revision while it is retained. An expired token gets upstream's 410 together with
//! a token that continues at the latest revision.

use std::ops::ControlFlow;

use corral_api::{ObjectKey, Revision};

use crate::continue_token::{self, ContinueToken};
use crate::error::StoreError;
use crate::key::{KeyRange, StoreKey};
use crate::mvcc::{Entry, MvccState};
use crate::representation::Representation;
use crate::selection::Selection;
use crate::store::{Store, check_readable};
use crate::types::{ListPage, ListRequest, ReadRevision};

/// Whether `entry` is selected: the inline label digest first (no pointer chase), then
/// the representation's full match.
pub(crate) fn selects<R: Representation>(selection: &Selection, entry: &Entry<R::Value>) -> bool {
    entry.label_digest & selection.label_mask == selection.label_mask
        && R::matches(&entry.value, &selection.labels, &selection.fields)
}

fn resolve_revision<V: Clone>(
    state: &MvccState<V>,
    requested: ReadRevision,
    token: Option<&ContinueToken>,
) -> Result<Revision, StoreError> {
    match token {
        Some(ContinueToken {
            revision: Some(revision),
            after,
        }) => {
            if *revision < state.compacted {
                return Err(StoreError::ContinueExpired {
                    requested: *revision,
                    compacted: state.compacted,
                    continue_token: continue_token::encode(None, after),
                });
            }
            if *revision > state.revision {
                return Err(StoreError::InvalidContinue(format!(
                    "token revision {revision} is newer than the store"
                )));
            }
            Ok(*revision)
        }
        Some(ContinueToken { revision: None, .. }) => Ok(state.revision),
        None => match requested {
            ReadRevision::Latest => Ok(state.revision),
            ReadRevision::Exact(revision) => {
                check_readable(state, revision)?;
                Ok(revision)
            }
            ReadRevision::NotOlderThan(revision) if revision > state.revision => {
                Err(StoreError::FutureRevision {
                    requested: revision,
                    current: state.revision,
                })
            }
            ReadRevision::NotOlderThan(_) => Ok(state.revision),
        },
    }
}

/// The key range a list reads; a `metadata.name=` selector in a known namespace (or of a
/// cluster-scoped kind) is a point lookup. `None`: nothing can match (a name that cannot
/// be a key).
fn list_range(selection: &Selection, token: Option<&ContinueToken>) -> Option<KeyRange> {
    let namespace = match (&selection.namespace, selection.kind.namespaced()) {
        (Some(namespace), _) => Some(namespace.as_str()),
        (None, false) => Some(""),
        (None, true) => None,
    };
    let range = match (selection.required_name(), namespace) {
        (Some(name), Some(namespace)) => {
            KeyRange::single(StoreKey::new(&ObjectKey::new(selection.kind, namespace, name)).ok()?)
        }
        _ => KeyRange::scope(selection.kind, selection.namespace.as_deref()),
    };
    Some(match token {
        Some(token) => range.after(token.after.clone()),
        None => range,
    })
}

impl<R: Representation> Store<R> {
    /// One page of a list; see the module docs for consistency across pages.
    pub fn list(&self, request: &ListRequest) -> Result<ListPage<R::Value>, StoreError> {
        let selection = Selection::new(
            request.kind,
            request.namespace.as_deref(),
            &request.label_selector,
            &request.field_selector,
        )?;
        let token = match request.continue_token.as_deref() {
            Some(text) if !text.is_empty() => Some(continue_token::decode(
                text,
                request.kind,
                selection.namespace.as_deref(),
            )?),
            _ => None,
        };
        let limit = request.limit.filter(|&limit| limit > 0);
        let state = self.state.read();
        let revision = resolve_revision(&state, request.revision, token.as_ref())?;
        let range = list_range(&selection, token.as_ref());
        let mut items = Vec::new();
        let mut last_key: Option<StoreKey> = None;
        let mut has_more = false;
        let range = range.unwrap_or_else(KeyRange::nothing);
        state.visit_range_at(&range, revision, |key, entry| {
            if limit.is_some_and(|limit| items.len() >= limit) {
                has_more = true;
                return ControlFlow::Break(());
            }
            if selects::<R>(&selection, entry) {
                items.push(entry.versioned());
                last_key = Some(key.clone());
            }
            ControlFlow::Continue(())
        });
        let resume_after = last_key.filter(|_| has_more);
        let remaining_item_count = match &resume_after {
            Some(after) if selection.selects_everything() => {
                let mut remaining = 0u64;
                state.visit_range_at(&range.clone().after(after.clone()), revision, |_, _| {
                    remaining += 1;
                    ControlFlow::Continue(())
                });
                Some(remaining)
            }
            _ => None,
        };
        drop(state);
        Ok(ListPage {
            items,
            revision,
            continue_token: resume_after
                .map(|after| continue_token::encode(Some(revision), &after)),
            remaining_item_count,
        })
    }
}
