//! The namespace controller: finishes the deletion of `Terminating` namespaces.
//!
//! Decision ([`decide`], pure): content left → delete what is not already being deleted
//! and check again later; nothing left → remove the `kubernetes` finalizer (through the
//! `finalize` subresource path), which deletes the namespace once no other finalizer
//! remains. Driver ([`run`]): a namespace watch wakes it; while namespaces are
//! terminating it re-checks every `RESYNC` (pods being deleted gracefully finish on their
//! node's schedule, not on a watch event of the namespace).

use std::time::Duration;

use corral_api::k8s_openapi::api::core::v1::Namespace;
use corral_api::resource::resource_of;
use corral_api::{ApiError, KubeObject, ResourceKind};
use corral_core::Propagation;
use serde_json::json;

use super::types::{DecodedBody, DeleteRequest, ListOptions, Part, Target, UserInfo, WriteOptions};
use super::{ApiService, blocking};

/// The finalizer namespaces carry in `spec.finalizers`.
pub const FINALIZER_KUBERNETES: &str = "kubernetes";
/// How often terminating namespaces are re-checked.
pub const RESYNC: Duration = Duration::from_secs(1);

/// What to do about one terminating namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NamespaceStep {
    /// Delete these objects (kind, name); others are already on their way out.
    DeleteContent(Vec<(ResourceKind, String)>),
    /// Objects remain, all already being deleted: wait.
    Wait,
    /// Empty: remove the `kubernetes` finalizer.
    Finalize,
    /// Not terminating, or already finalized.
    Nothing,
}

/// The content of a namespace, as the controller sees it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NamespaceContent {
    /// (kind, name, being deleted).
    pub objects: Vec<(ResourceKind, String, bool)>,
}

/// Decides the next step for `namespace` given its content.
pub fn decide(namespace: &Namespace, content: &NamespaceContent) -> NamespaceStep {
    if namespace.metadata.deletion_timestamp.is_none() {
        return NamespaceStep::Nothing;
    }
    let finalizers = namespace.spec.as_ref().and_then(|s| s.finalizers.as_ref());
    if !finalizers.is_some_and(|f| f.iter().any(|x| x == FINALIZER_KUBERNETES)) {
        return NamespaceStep::Nothing;
    }
    if content.objects.is_empty() {
        return NamespaceStep::Finalize;
    }
    let to_delete: Vec<(ResourceKind, String)> = content
        .objects
        .iter()
        .filter(|(_, _, deleting)| !deleting)
        .map(|(kind, name, _)| (*kind, name.clone()))
        .collect();
    if to_delete.is_empty() {
        NamespaceStep::Wait
    } else {
        NamespaceStep::DeleteContent(to_delete)
    }
}

impl ApiService {
    /// Every object in `namespace`, of every namespaced stored kind.
    fn namespace_content(&self, namespace: &str) -> Result<NamespaceContent, ApiError> {
        let mut content = NamespaceContent::default();
        for kind in ResourceKind::ALL.iter().filter(|k| k.namespaced()) {
            let target = Target::collection(resource_of(*kind), Some(namespace));
            for object in self.list(&target, &ListOptions::default())?.objects()? {
                content
                    .objects
                    .push((*kind, object.name().to_string(), object.is_being_deleted()));
            }
        }
        Ok(content)
    }

    /// One step for one namespace; true when it needs another look later.
    pub fn sync_namespace(&self, namespace: &Namespace) -> Result<bool, ApiError> {
        let name = namespace.metadata.name.clone().unwrap_or_default();
        let content = self.namespace_content(&name)?;
        let user = UserInfo::system("namespace-controller");
        match decide(namespace, &content) {
            NamespaceStep::Nothing => Ok(false),
            NamespaceStep::Wait => Ok(true),
            NamespaceStep::DeleteContent(objects) => {
                let request = DeleteRequest {
                    propagation: Some(Propagation::Background),
                    ..DeleteRequest::default()
                };
                for (kind, object) in objects {
                    let target = Target::object(resource_of(kind), Some(&name), &object);
                    match self.delete_blocking(&user, &target, &request) {
                        Ok(_) => {}
                        Err(e) if e.is_not_found() => {}
                        Err(e) => {
                            tracing::warn!(namespace = %name, %object, error = %e, "cannot delete namespace content")
                        }
                    }
                }
                Ok(true)
            }
            NamespaceStep::Finalize => {
                self.finalize_namespace(&user, namespace)?;
                Ok(false)
            }
        }
    }

    fn finalize_namespace(&self, user: &UserInfo, namespace: &Namespace) -> Result<(), ApiError> {
        let name = namespace.metadata.name.clone().unwrap_or_default();
        let remaining: Vec<String> = namespace
            .spec
            .as_ref()
            .and_then(|s| s.finalizers.clone())
            .unwrap_or_default()
            .into_iter()
            .filter(|f| f != FINALIZER_KUBERNETES)
            .collect();
        let target = Target::object(resource_of(ResourceKind::Namespace), None, &name);
        let body = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}, "spec": {"finalizers": remaining}});
        match self.update_blocking(
            user,
            &target,
            Part::Finalize,
            DecodedBody::from_value(body),
            &WriteOptions::internal(),
        ) {
            Ok(_) => {}
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) => return Err(e),
        }
        if remaining.is_empty() {
            match self.delete_blocking(user, &target, &DeleteRequest::default()) {
                Ok(_) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        tracing::info!(namespace = %name, "namespace deleted");
        Ok(())
    }

    /// All terminating namespaces, then one step for each; true if any needs a re-check.
    fn sync_terminating_namespaces(&self) -> Result<bool, ApiError> {
        let target = Target::collection(resource_of(ResourceKind::Namespace), None);
        let mut again = false;
        for object in self.list(&target, &ListOptions::default())?.objects()? {
            if let Some(namespace) = object
                .as_typed::<Namespace>()
                .filter(|n| n.metadata.deletion_timestamp.is_some())
            {
                again |= self.sync_namespace(namespace)?;
            }
        }
        Ok(again)
    }
}

/// Runs the namespace controller until the service closes its watches.
pub async fn run(service: ApiService) {
    let target = Target::collection(resource_of(ResourceKind::Namespace), None);
    let mut stream = match service.watch(&target, &ListOptions::default()) {
        Ok(stream) => stream,
        Err(e) => {
            tracing::error!(error = %e, "namespace controller cannot watch namespaces");
            return;
        }
    };
    let mut again = true;
    loop {
        if again {
            let worker = service.clone();
            again = match blocking(move || worker.sync_terminating_namespaces()).await {
                Ok(again) => again,
                Err(e) => {
                    tracing::warn!(error = %e, "namespace controller sync failed");
                    true
                }
            };
        }
        let event = if again {
            match tokio::time::timeout(RESYNC, stream.next()).await {
                Ok(event) => event,
                Err(_) => continue,
            }
        } else {
            stream.next().await
        };
        let Some(item) = event else { return };
        again |= item_is_terminating(&item);
    }
}

fn item_is_terminating(item: &super::WatchItem) -> bool {
    match &item.object {
        super::WatchObject::Object(encoded) => {
            KubeObject::from_json_slice(ResourceKind::Namespace, encoded.json())
                .map(|o| o.is_being_deleted())
                .unwrap_or(false)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_api::k8s_openapi::api::core::v1::NamespaceSpec;
    use corral_api::k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn terminating() -> Namespace {
        let mut ns = Namespace {
            spec: Some(NamespaceSpec {
                finalizers: Some(vec![FINALIZER_KUBERNETES.into()]),
            }),
            ..Namespace::default()
        };
        ns.metadata.deletion_timestamp = Some(Time(corral_core::clock::epoch()));
        ns
    }

    #[test]
    fn content_is_deleted_before_the_namespace_is_finalized() {
        let content = NamespaceContent {
            objects: vec![
                (ResourceKind::Job, "a".into(), false),
                (ResourceKind::Pod, "p".into(), true),
            ],
        };
        assert_eq!(
            decide(&terminating(), &content),
            NamespaceStep::DeleteContent(vec![(ResourceKind::Job, "a".into())])
        );
        let waiting = NamespaceContent {
            objects: vec![(ResourceKind::Pod, "p".into(), true)],
        };
        assert_eq!(decide(&terminating(), &waiting), NamespaceStep::Wait);
        assert_eq!(
            decide(&terminating(), &NamespaceContent::default()),
            NamespaceStep::Finalize
        );
        assert_eq!(
            decide(&Namespace::default(), &NamespaceContent::default()),
            NamespaceStep::Nothing
        );
    }
}
