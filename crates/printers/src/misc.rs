//! The small printers of `pkg/printers/internalversion/printers.go`: namespaces, service
//! accounts, resource quotas, config maps, secrets, leases, pod disruption budgets and
//! admission webhook configurations.

use std::collections::BTreeSet;

use corral_api::KubeObject;
use jiff::Timestamp;
use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, ResourceQuota, Secret, ServiceAccount};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::descriptions as doc;
use crate::format::{self, int, string};
use crate::table::{AGE, Cells, Column, NAME, Printer};

/// A length as upstream's `int64(len(...))` cell.
fn count(n: usize) -> serde_json::Value {
    int(i64::try_from(n).unwrap_or(i64::MAX))
}

/// NAME, one middle cell, AGE: the shape of most printers here.
fn name_value_age(meta: &ObjectMeta, value: serde_json::Value, now: Timestamp) -> Cells {
    Cells::new(vec![format::name(meta), value, format::age(meta, now)])
}

pub(crate) const NAMESPACE_PRINTER: Printer = Printer {
    columns: &[
        NAME,
        Column::string("Status", "The status of the namespace"),
        AGE,
    ],
    cells: namespace_cells,
};

/// Upstream `printNamespace`: STATUS is the phase.
fn namespace_cells(object: &KubeObject, now: Timestamp) -> Option<Cells> {
    let ns = object.as_typed::<Namespace>()?;
    let phase = format::text(ns.status.as_ref().and_then(|s| s.phase.as_ref()));
    Some(name_value_age(&ns.metadata, string(phase), now))
}

pub(crate) const SERVICE_ACCOUNT_PRINTER: Printer = Printer {
    columns: &[
        NAME,
        Column::string("Secrets", doc::SERVICE_ACCOUNT_SECRETS),
        AGE,
    ],
    cells: service_account_cells,
};

/// Upstream `printServiceAccount`: SECRETS is `len(secrets)`.
fn service_account_cells(object: &KubeObject, now: Timestamp) -> Option<Cells> {
    let sa = object.as_typed::<ServiceAccount>()?;
    let secrets = sa.secrets.as_ref().map_or(0, Vec::len);
    Some(name_value_age(&sa.metadata, count(secrets), now))
}

pub(crate) const CONFIG_MAP_PRINTER: Printer = Printer {
    columns: &[NAME, Column::string("Data", doc::CONFIG_MAP_DATA), AGE],
    cells: config_map_cells,
};

/// Upstream `printConfigMap`: DATA counts `data` and `binaryData` keys.
fn config_map_cells(object: &KubeObject, now: Timestamp) -> Option<Cells> {
    let cm = object.as_typed::<ConfigMap>()?;
    let data =
        cm.data.as_ref().map_or(0, |d| d.len()) + cm.binary_data.as_ref().map_or(0, |d| d.len());
    Some(name_value_age(&cm.metadata, count(data), now))
}

pub(crate) const SECRET_PRINTER: Printer = Printer {
    columns: &[
        NAME,
        Column::string("Type", doc::SECRET_TYPE),
        Column::string("Data", doc::SECRET_DATA),
        AGE,
    ],
    cells: secret_cells,
};

/// Upstream `printSecret`: TYPE and the number of `data` keys. Decoding a v1 Secret merges
/// `stringData` into `data`, so keys of both count once.
fn secret_cells(object: &KubeObject, now: Timestamp) -> Option<Cells> {
    let secret = object.as_typed::<Secret>()?;
    let keys: BTreeSet<&String> = secret
        .data
        .iter()
        .flat_map(|d| d.keys())
        .chain(secret.string_data.iter().flat_map(|d| d.keys()))
        .collect();
    Some(Cells::new(vec![
        format::name(&secret.metadata),
        string(format::text(secret.type_.as_ref())),
        count(keys.len()),
        format::age(&secret.metadata, now),
    ]))
}

pub(crate) const LEASE_PRINTER: Printer = Printer {
    columns: &[
        NAME,
        Column::string("Holder", doc::LEASE_SPEC_HOLDER_IDENTITY),
        AGE,
    ],
    cells: lease_cells,
};

/// Upstream `printLease`: HOLDER is `spec.holderIdentity` (empty when free).
fn lease_cells(object: &KubeObject, now: Timestamp) -> Option<Cells> {
    let lease = object.as_typed::<Lease>()?;
    let holder = format::text(lease.spec.as_ref().and_then(|s| s.holder_identity.as_ref()));
    Some(name_value_age(&lease.metadata, string(holder), now))
}

const WEBHOOKS: Column = Column::typed(
    "Webhooks",
    "integer",
    "Webhooks indicates the number of webhooks registered in this configuration",
);

pub(crate) const MUTATING_WEBHOOK_PRINTER: Printer = Printer {
    columns: &[NAME, WEBHOOKS, AGE],
    cells: mutating_webhook_cells,
};

/// Upstream `printMutatingWebhook`.
fn mutating_webhook_cells(object: &KubeObject, now: Timestamp) -> Option<Cells> {
    let config = object.as_typed::<MutatingWebhookConfiguration>()?;
    let webhooks = config.webhooks.as_ref().map_or(0, Vec::len);
    Some(name_value_age(&config.metadata, count(webhooks), now))
}

pub(crate) const VALIDATING_WEBHOOK_PRINTER: Printer = Printer {
    columns: &[NAME, WEBHOOKS, AGE],
    cells: validating_webhook_cells,
};

/// Upstream `printValidatingWebhook`.
fn validating_webhook_cells(object: &KubeObject, now: Timestamp) -> Option<Cells> {
    let config = object.as_typed::<ValidatingWebhookConfiguration>()?;
    let webhooks = config.webhooks.as_ref().map_or(0, Vec::len);
    Some(name_value_age(&config.metadata, count(webhooks), now))
}

pub(crate) const POD_DISRUPTION_BUDGET_PRINTER: Printer = Printer {
    columns: &[
        NAME,
        Column::string(
            "Min Available",
            "The minimum number of pods that must be available.",
        ),
        Column::string(
            "Max Unavailable",
            "The maximum number of pods that may be unavailable.",
        ),
        Column::typed(
            "Allowed Disruptions",
            "integer",
            "Calculated number of pods that may be disrupted at this time.",
        ),
        AGE,
    ],
    cells: pod_disruption_budget_cells,
};

/// Upstream `printPodDisruptionBudget`: `N/A` for an unset bound.
fn pod_disruption_budget_cells(object: &KubeObject, now: Timestamp) -> Option<Cells> {
    let pdb = object.as_typed::<PodDisruptionBudget>()?;
    let spec = pdb.spec.as_ref();
    let bound = |value: Option<&IntOrString>| match value {
        Some(IntOrString::Int(n)) => n.to_string(),
        Some(IntOrString::String(s)) => s.clone(),
        None => "N/A".into(),
    };
    let allowed = pdb
        .status
        .as_ref()
        .and_then(|s| s.disruptions_allowed)
        .unwrap_or(0);
    Some(Cells::new(vec![
        format::name(&pdb.metadata),
        string(bound(spec.and_then(|s| s.min_available.as_ref()))),
        string(bound(spec.and_then(|s| s.max_unavailable.as_ref()))),
        int(allowed),
        format::age(&pdb.metadata, now),
    ]))
}

pub(crate) const RESOURCE_QUOTA_PRINTER: Printer = Printer {
    columns: &[
        NAME,
        Column::string(
            "Request",
            "Request represents a minimum amount of cpu/memory that a container may consume.",
        ),
        Column::string(
            "Limit",
            "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node.",
        ),
        AGE,
    ],
    cells: resource_quota_cells,
};

/// Upstream `printResourceQuota`: for each resource of `status.hard` in name order,
/// `name: used/hard`; `limits.*` resources go to LIMIT, all others to REQUEST.
fn resource_quota_cells(object: &KubeObject, now: Timestamp) -> Option<Cells> {
    let quota = object.as_typed::<ResourceQuota>()?;
    let status = quota.status.as_ref();
    let used = status.and_then(|s| s.used.as_ref());
    let mut requests = Vec::new();
    let mut limits = Vec::new();
    // A BTreeMap iterates in byte order, as `sort.Sort(SortableResourceNames)` orders.
    for (resource, hard) in status.and_then(|s| s.hard.as_ref()).into_iter().flatten() {
        let entry = format!(
            "{resource}: {}/{}",
            format::quantity(used.and_then(|u| u.get(resource))),
            format::quantity(Some(hard))
        );
        // `strings.Split(name, ".")` has more than one piece and the first is "limits".
        if resource
            .split_once('.')
            .is_some_and(|(first, _)| first == "limits")
        {
            limits.push(entry);
        } else {
            requests.push(entry);
        }
    }
    Some(Cells::new(vec![
        format::name(&quota.metadata),
        string(requests.join(", ")),
        string(limits.join(", ")),
        format::age(&quota.metadata, now),
    ]))
}
