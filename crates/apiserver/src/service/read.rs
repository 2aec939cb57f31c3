//! Get and list: selector parsing (400 with upstream's messages), `resourceVersion` /
//! `resourceVersionMatch` semantics, `limit`/`continue` pagination. Reads take only the
//! store's read lock and return the stored encoded objects, which the front streams as
//! they are.

use corral_api::fields::check_field_selector;
use corral_api::selector::SelectorError;
use corral_api::{ApiError, FieldSelector, LabelSelector, ResourceKind, Revision};
use corral_store::{ListRequest, ReadRevision};

use super::types::{ListOptions, ListResult, ServedObject, Target, VersionMatch};
use super::{ApiService, blocking, require_verb, store_error};

/// Parsed selectors of a list or watch.
pub(crate) struct Selectors {
    pub labels: LabelSelector,
    pub fields: FieldSelector,
}

/// Runs a selector parser; a parser panic (corral-api's field selector parser slices
/// strings at byte offsets, so some non-ASCII input panics) becomes a 400, never a dropped
/// connection.
fn parse_guarded<T>(
    text: &str,
    parse: fn(&str) -> Result<T, SelectorError>,
) -> Result<T, ApiError> {
    match std::panic::catch_unwind(|| parse(text)) {
        Ok(Ok(parsed)) => Ok(parsed),
        Ok(Err(e)) => Err(ApiError::bad_request(e.0)),
        Err(_) => Err(ApiError::bad_request(format!("invalid selector: {text:?}"))),
    }
}

/// Parses and checks `labelSelector` and `fieldSelector` for `kind`.
pub(crate) fn parse_selectors(
    kind: ResourceKind,
    options: &ListOptions,
) -> Result<Selectors, ApiError> {
    let labels = parse_guarded(&options.label_selector, LabelSelector::parse)?;
    let fields = parse_guarded(&options.field_selector, FieldSelector::parse)?;
    check_field_selector(kind, &fields).map_err(|e| ApiError::bad_request(e.0))?;
    Ok(Selectors { labels, fields })
}

/// The revision a list reads: unset = latest (consistent read); `0` = any; `n` = not
/// older than `n` (or exactly `n` with `resourceVersionMatch=Exact`).
pub(crate) fn read_revision(options: &ListOptions) -> Result<ReadRevision, ApiError> {
    let text = options.resource_version.as_deref().unwrap_or_default();
    let parsed = Revision::parse_resource_version(text)
        .map_err(|_| ApiError::bad_request(format!("invalid resource version: {text:?}")))?;
    match (parsed, options.resource_version_match) {
        (None, VersionMatch::Unset) => Ok(ReadRevision::Latest),
        (None, _) => Err(ApiError::bad_request(
            "resourceVersionMatch is forbidden unless resourceVersion is provided",
        )),
        (Some(revision), VersionMatch::Exact) => Ok(ReadRevision::Exact(revision)),
        (Some(revision), _) => Ok(ReadRevision::NotOlderThan(revision)),
    }
}

impl ApiService {
    /// GET of one object.
    pub fn get(&self, target: &Target) -> Result<ServedObject, ApiError> {
        let resource = target.resource;
        require_verb(resource, "get")?;
        let key = target.key().ok_or_else(ApiError::method_not_allowed)?;
        let stored = self
            .objects()
            .get(&key)
            .ok_or_else(|| ApiError::not_found(&resource.group_resource(), &key.name))?;
        Ok(ServedObject::encoded(resource, stored.value))
    }

    /// LIST of a collection (one page).
    pub fn list(&self, target: &Target, options: &ListOptions) -> Result<ListResult, ApiError> {
        let resource = target.resource;
        require_verb(resource, "list")?;
        let Some(kind) = resource.stored_kind() else {
            return Ok(ListResult {
                resource,
                items: Vec::new(),
                revision: self.store().current_revision(),
                continue_token: None,
                remaining_item_count: None,
            });
        };
        let selectors = parse_selectors(kind, options)?;
        let continue_token = options.continue_token.clone().filter(|t| !t.is_empty());
        let revision = if continue_token.is_some() {
            ReadRevision::Latest
        } else {
            read_revision(options)?
        };
        let request = ListRequest {
            kind,
            namespace: target.namespace.clone().filter(|_| kind.namespaced()),
            label_selector: selectors.labels,
            field_selector: selectors.fields,
            limit: options.limit.filter(|l| *l > 0),
            continue_token,
            revision,
        };
        let page = self
            .objects()
            .list(&request)
            .map_err(|e| store_error(resource, e))?;
        Ok(ListResult {
            resource,
            items: page.items.into_iter().map(|v| v.value).collect(),
            revision: page.revision,
            continue_token: page.continue_token,
            remaining_item_count: page.remaining_item_count,
        })
    }

    /// LIST on the blocking pool (large lists decode nothing but can take milliseconds).
    pub async fn list_async(
        &self,
        target: &Target,
        options: &ListOptions,
    ) -> Result<ListResult, ApiError> {
        let (service, target, options) = (self.clone(), target.clone(), options.clone());
        blocking(move || service.list(&target, &options)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_versions_map_to_read_revisions() {
        let with = |rv: Option<&str>, m| ListOptions {
            resource_version: rv.map(str::to_string),
            resource_version_match: m,
            ..ListOptions::default()
        };
        assert_eq!(
            read_revision(&with(None, VersionMatch::Unset)).unwrap(),
            ReadRevision::Latest
        );
        assert_eq!(
            read_revision(&with(Some("0"), VersionMatch::Unset)).unwrap(),
            ReadRevision::NotOlderThan(Revision(0))
        );
        assert_eq!(
            read_revision(&with(Some("7"), VersionMatch::Exact)).unwrap(),
            ReadRevision::Exact(Revision(7))
        );
        assert_eq!(
            read_revision(&with(Some("x"), VersionMatch::Unset))
                .unwrap_err()
                .code,
            400
        );
    }

    #[test]
    fn bad_selectors_are_bad_requests_with_upstreams_messages() {
        let options = ListOptions {
            field_selector: "spec.bogus=1".into(),
            ..ListOptions::default()
        };
        let err = parse_selectors(ResourceKind::Pod, &options).err().unwrap();
        assert_eq!(err.message, "field label not supported: spec.bogus");
        let options = ListOptions {
            label_selector: "a in (".into(),
            ..ListOptions::default()
        };
        assert_eq!(
            parse_selectors(ResourceKind::Pod, &options)
                .err()
                .unwrap()
                .code,
            400
        );
    }
}
