//! Container environment resolution (upstream `kubelet_pods.go` `makeEnvironmentVariables`,
//! without Service links): `envFrom` ConfigMaps and Secrets, then `env` in order with
//! literal values (`$(VAR)` expanded against what came before), downward API `fieldRef`
//! and `resourceFieldRef`, and ConfigMap/Secret keys. A missing required source fails the
//! start with upstream's message (waiting reason `CreateContainerConfigError`).

use std::collections::BTreeMap;

use corral_api::Quantity;
use k8s_openapi::api::core::v1::{ConfigMap, Container, Pod, Secret};

/// ConfigMaps and Secrets the driver fed the agent, by (namespace, name).
#[derive(Clone, Debug, Default)]
pub struct ConfigSources {
    pub config_maps: BTreeMap<(String, String), ConfigMap>,
    pub secrets: BTreeMap<(String, String), Secret>,
}

impl ConfigSources {
    fn config_map(&self, namespace: &str, name: &str) -> Option<&ConfigMap> {
        self.config_maps
            .get(&(namespace.to_string(), name.to_string()))
    }

    fn secret(&self, namespace: &str, name: &str) -> Option<&Secret> {
        self.secrets.get(&(namespace.to_string(), name.to_string()))
    }
}

/// What resolution needs besides the pod.
#[derive(Clone, Copy, Debug)]
pub struct EnvContext<'a> {
    pub host_ip: &'a str,
    pub pod_ip: &'a str,
    /// Node allocatable cpu (millicores) and memory (bytes): the default limits.
    pub node_milli_cpu: i64,
    pub node_memory: i64,
    pub sources: &'a ConfigSources,
}

fn secret_value(secret: &Secret, key: &str) -> Option<String> {
    if let Some(v) = secret.string_data.as_ref().and_then(|d| d.get(key)) {
        return Some(v.clone());
    }
    secret
        .data
        .as_ref()
        .and_then(|d| d.get(key))
        .map(|b| String::from_utf8_lossy(&b.0).into_owned())
}

/// Resolves a container's environment, in order.
pub fn resolve_env(
    pod: &Pod,
    container: &Container,
    context: &EnvContext<'_>,
) -> Result<Vec<(String, String)>, String> {
    let namespace = pod.metadata.namespace.as_deref().unwrap_or("");
    let mut out: Vec<(String, String)> = Vec::new();
    let set = |out: &mut Vec<(String, String)>, name: String, value: String| {
        if let Some(slot) = out.iter_mut().find(|(n, _)| *n == name) {
            slot.1 = value;
        } else {
            out.push((name, value));
        }
    };
    for source in container.env_from.iter().flatten() {
        let prefix = source.prefix.clone().unwrap_or_default();
        if let Some(reference) = &source.config_map_ref {
            match context.sources.config_map(namespace, &reference.name) {
                Some(map) => {
                    for (k, v) in map.data.iter().flatten() {
                        set(&mut out, format!("{prefix}{k}"), v.clone());
                    }
                }
                None if reference.optional == Some(true) => {}
                None => return Err(format!("configmap \"{}\" not found", reference.name)),
            }
        }
        if let Some(reference) = &source.secret_ref {
            match context.sources.secret(namespace, &reference.name) {
                Some(secret) => {
                    for k in secret.data.iter().flatten().map(|(k, _)| k) {
                        let v = secret_value(secret, k).unwrap_or_default();
                        set(&mut out, format!("{prefix}{k}"), v);
                    }
                }
                None if reference.optional == Some(true) => {}
                None => return Err(format!("secret \"{}\" not found", reference.name)),
            }
        }
    }
    for var in container.env.iter().flatten() {
        let value = if let Some(value) = &var.value {
            expand(value, &out)
        } else if let Some(from) = &var.value_from {
            if let Some(field) = &from.field_ref {
                field_value(pod, &field.field_path, context)?
            } else if let Some(resource) = &from.resource_field_ref {
                resource_value(pod, container, resource, context)?
            } else if let Some(key) = &from.config_map_key_ref {
                match context.sources.config_map(namespace, &key.name) {
                    Some(map) => match map.data.as_ref().and_then(|d| d.get(&key.key)) {
                        Some(v) => v.clone(),
                        None if key.optional == Some(true) => continue,
                        None => {
                            return Err(format!(
                                "couldn't find key {} in ConfigMap {namespace}/{}",
                                key.key, key.name
                            ));
                        }
                    },
                    None if key.optional == Some(true) => continue,
                    None => return Err(format!("configmap \"{}\" not found", key.name)),
                }
            } else if let Some(key) = &from.secret_key_ref {
                match context.sources.secret(namespace, &key.name) {
                    Some(secret) => match secret_value(secret, &key.key) {
                        Some(v) => v,
                        None if key.optional == Some(true) => continue,
                        None => {
                            return Err(format!(
                                "couldn't find key {} in Secret {namespace}/{}",
                                key.key, key.name
                            ));
                        }
                    },
                    None if key.optional == Some(true) => continue,
                    None => return Err(format!("secret \"{}\" not found", key.name)),
                }
            } else {
                String::new()
            }
        } else {
            String::new()
        };
        set(&mut out, var.name.clone(), value);
    }
    Ok(out)
}

/// `$(VAR)` expansion against earlier variables; `$$` escapes; unknown references stay.
pub fn expand(input: &str, defined: &[(String, String)]) -> String {
    let bytes = input.as_bytes();
    let mut out = String::with_capacity(input.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'$' && i + 1 < bytes.len() {
            if bytes[i + 1] == b'$' {
                out.push('$');
                i += 2;
                continue;
            }
            if bytes[i + 1] == b'('
                && let Some(end) = input[i + 2..].find(')')
            {
                let name = &input[i + 2..i + 2 + end];
                match defined.iter().find(|(n, _)| n == name) {
                    Some((_, v)) => out.push_str(v),
                    None => out.push_str(&input[i..i + 3 + end]),
                }
                i += 3 + end;
                continue;
            }
        }
        let ch = input[i..].chars().next().unwrap_or('\u{fffd}');
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

fn field_value(pod: &Pod, path: &str, context: &EnvContext<'_>) -> Result<String, String> {
    let meta = &pod.metadata;
    let spec = pod.spec.as_ref();
    let subscript = |prefix: &str| {
        path.strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix("']"))
            .map(str::to_string)
    };
    if let Some(key) = subscript("metadata.labels['") {
        return Ok(meta
            .labels
            .as_ref()
            .and_then(|l| l.get(&key))
            .cloned()
            .unwrap_or_default());
    }
    if let Some(key) = subscript("metadata.annotations['") {
        return Ok(meta
            .annotations
            .as_ref()
            .and_then(|a| a.get(&key))
            .cloned()
            .unwrap_or_default());
    }
    Ok(match path {
        "metadata.name" => meta.name.clone().unwrap_or_default(),
        "metadata.namespace" => meta.namespace.clone().unwrap_or_default(),
        "metadata.uid" => meta.uid.clone().unwrap_or_default(),
        "spec.nodeName" => spec.and_then(|s| s.node_name.clone()).unwrap_or_default(),
        "spec.serviceAccountName" => spec
            .and_then(|s| s.service_account_name.clone())
            .unwrap_or_default(),
        "status.hostIP" | "status.hostIPs" => context.host_ip.to_string(),
        "status.podIP" | "status.podIPs" => context.pod_ip.to_string(),
        other => return Err(format!("unsupported fieldPath: {other}")),
    })
}

fn resource_value(
    pod: &Pod,
    container: &Container,
    reference: &k8s_openapi::api::core::v1::ResourceFieldSelector,
    context: &EnvContext<'_>,
) -> Result<String, String> {
    let target = match reference
        .container_name
        .as_deref()
        .filter(|n| !n.is_empty())
    {
        Some(name) => pod
            .spec
            .as_ref()
            .and_then(|s| {
                s.containers
                    .iter()
                    .chain(s.init_containers.iter().flatten())
                    .find(|c| c.name == name)
            })
            .ok_or_else(|| format!("container {name} not found"))?,
        None => container,
    };
    let resources = target.resources.as_ref();
    let (list, name) = match reference.resource.split_once('.') {
        Some(("limits", name)) => (resources.and_then(|r| r.limits.as_ref()), name),
        Some(("requests", name)) => (resources.and_then(|r| r.requests.as_ref()), name),
        _ => (None, reference.resource.as_str()),
    };
    let quantity = list
        .and_then(|l| l.get(name))
        .and_then(|q| Quantity::from_wire(q).ok());
    let divisor = reference
        .divisor
        .as_ref()
        .and_then(|q| Quantity::from_wire(q).ok())
        .filter(|q| !q.is_zero());
    let is_limit = reference.resource.starts_with("limits.");
    match name {
        "cpu" => {
            let milli = quantity.map(|q| q.milli_value()).unwrap_or(if is_limit {
                context.node_milli_cpu
            } else {
                0
            });
            let divisor = divisor.map_or(1000, |d| d.milli_value().max(1));
            Ok(div_ceil(milli, divisor).to_string())
        }
        "memory" | "ephemeral-storage" => {
            let default = if is_limit && name == "memory" {
                context.node_memory
            } else {
                0
            };
            let value = quantity.map(|q| q.value()).unwrap_or(default);
            let divisor = divisor.map_or(1, |d| d.value().max(1));
            Ok(div_ceil(value, divisor).to_string())
        }
        other => Err(format!("unsupported container resource: {other}")),
    }
}

fn div_ceil(value: i64, divisor: i64) -> i64 {
    (value + divisor - 1).div_euclid(divisor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{
        EnvVar, EnvVarSource, ObjectFieldSelector, ResourceFieldSelector,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    #[test]
    fn downward_api_fields_and_resources_resolve_and_expand() {
        let container = Container {
            name: "c".into(),
            env: Some(vec![
                EnvVar {
                    name: "POD".into(),
                    value_from: Some(EnvVarSource {
                        field_ref: Some(ObjectFieldSelector {
                            field_path: "metadata.name".into(),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                EnvVar {
                    name: "GREETING".into(),
                    value: Some("hi $(POD) $(NOPE) $$(POD)".into()),
                    ..Default::default()
                },
                EnvVar {
                    name: "CPU_LIMIT".into(),
                    value_from: Some(EnvVarSource {
                        resource_field_ref: Some(ResourceFieldSelector {
                            resource: "limits.cpu".into(),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
            ]),
            ..Default::default()
        };
        let pod = Pod {
            metadata: ObjectMeta {
                name: Some("p".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let sources = ConfigSources::default();
        let context = EnvContext {
            host_ip: "10.0.0.1",
            pod_ip: "10.244.0.2",
            node_milli_cpu: 3500,
            node_memory: 1 << 30,
            sources: &sources,
        };
        let env = resolve_env(&pod, &container, &context).unwrap();
        assert_eq!(
            env,
            vec![
                ("POD".to_string(), "p".to_string()),
                ("GREETING".to_string(), "hi p $(NOPE) $(POD)".to_string()),
                ("CPU_LIMIT".to_string(), "4".to_string()),
            ]
        );
    }
}
