//! Config maps and secrets: upstream's `ValidateConfigMap`, `ValidateSecret` (keys,
//! the 1 MiB limit, per-type required keys) and the `immutable` update rules.

use corral_api::{FieldError, FieldPath};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};

use crate::names;
use crate::validation::meta::{
    FinalizerRules, immutable_str, invalid_each, semantic_eq, validate_object_meta,
    validate_object_meta_update,
};

/// `core.MaxSecretSize`: 1 MiB, also the ConfigMap limit.
pub const MAX_SECRET_SIZE: usize = 1024 * 1024;

fn meta_path() -> FieldPath {
    FieldPath::root("metadata")
}

/// `ValidateConfigMap`.
pub fn validate_config_map(config_map: &ConfigMap) -> Vec<FieldError> {
    let mut errors = validate_object_meta(
        &config_map.metadata,
        true,
        names::name_is_dns_subdomain,
        FinalizerRules::Core,
        &meta_path(),
    );
    let mut total = 0usize;
    let binary = config_map.binary_data.as_ref();
    for (key, value) in config_map.data.iter().flatten() {
        let path = FieldPath::root("data").key(key);
        errors.extend(invalid_each(&path, key, names::is_config_map_key(key)));
        if binary.is_some_and(|b| b.contains_key(key)) {
            errors.push(FieldError::invalid_str(
                &path,
                key,
                "duplicate of key present in binaryData",
            ));
        }
        total = total.saturating_add(value.len());
    }
    for (key, value) in binary.into_iter().flatten() {
        errors.extend(invalid_each(
            &FieldPath::root("binaryData").key(key),
            key,
            names::is_config_map_key(key),
        ));
        total = total.saturating_add(value.0.len());
    }
    if total > MAX_SECRET_SIZE {
        errors.push(FieldError::too_long(FieldPath::root(""), MAX_SECRET_SIZE));
    }
    errors
}

/// `ValidateConfigMapUpdate` (without the metadata rules, which the caller adds).
pub fn validate_config_map_update(new: &ConfigMap, old: &ConfigMap) -> Vec<FieldError> {
    let mut errors = validate_immutable_data(
        new.immutable,
        old.immutable,
        &[
            (
                "data",
                &serde_json::to_value(&new.data).ok(),
                &serde_json::to_value(&old.data).ok(),
            ),
            (
                "binaryData",
                &serde_json::to_value(&new.binary_data).ok(),
                &serde_json::to_value(&old.binary_data).ok(),
            ),
        ],
    );
    errors.extend(validate_config_map(new));
    errors
}

/// The `immutable` rule of ConfigMap and Secret updates: it locks the data.
pub fn validate_immutable_data<T: serde::Serialize + PartialEq>(
    new_immutable: Option<bool>,
    old_immutable: Option<bool>,
    fields: &[(&str, &T, &T)],
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if old_immutable != Some(true) {
        return errors;
    }
    let detail = "field is immutable when `immutable` is set";
    if new_immutable != Some(true) {
        errors.push(FieldError::forbidden(FieldPath::root("immutable"), detail));
    }
    for (name, new, old) in fields {
        if !semantic_eq(new, old) {
            errors.push(FieldError::forbidden(FieldPath::root(name), detail));
        }
    }
    errors
}

/// `ValidateSecret`.
pub fn validate_secret(secret: &Secret) -> Vec<FieldError> {
    let mut errors = validate_object_meta(
        &secret.metadata,
        true,
        names::name_is_dns_subdomain,
        FinalizerRules::Core,
        &meta_path(),
    );
    let data_path = FieldPath::root("data");
    let data = secret.data.clone().unwrap_or_default();
    let mut total = 0usize;
    for (key, value) in &data {
        errors.extend(invalid_each(
            &data_path.key(key),
            key,
            names::is_config_map_key(key),
        ));
        total = total.saturating_add(value.0.len());
    }
    if total > MAX_SECRET_SIZE {
        errors.push(FieldError::too_long(&data_path, MAX_SECRET_SIZE));
    }
    let required = |key: &str| FieldError::required(data_path.key(key), "");
    match secret.type_.as_deref().unwrap_or("") {
        "kubernetes.io/service-account-token" => {
            let annotation = "kubernetes.io/service-account.name";
            if secret
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(annotation))
                .is_none_or(|v| v.is_empty())
            {
                errors.push(FieldError::required(
                    meta_path().child("annotations").key(annotation),
                    "",
                ));
            }
        }
        "kubernetes.io/dockercfg" => errors.extend(json_data(&data, ".dockercfg", &data_path)),
        "kubernetes.io/dockerconfigjson" => {
            errors.extend(json_data(&data, ".dockerconfigjson", &data_path))
        }
        "kubernetes.io/basic-auth"
            if !data.contains_key("username") && !data.contains_key("password") =>
        {
            errors.push(required("username"));
            errors.push(required("password"));
        }
        "kubernetes.io/ssh-auth" if data.get("ssh-privatekey").is_none_or(|v| v.0.is_empty()) => {
            errors.push(required("ssh-privatekey"));
        }
        "kubernetes.io/tls" => {
            for key in ["tls.crt", "tls.key"] {
                if !data.contains_key(key) {
                    errors.push(required(key));
                }
            }
        }
        _ => {}
    }
    errors
}

fn json_data(
    data: &std::collections::BTreeMap<String, k8s_openapi::ByteString>,
    key: &str,
    path: &FieldPath,
) -> Vec<FieldError> {
    match data.get(key) {
        None => vec![FieldError::required(path.key(key), "")],
        Some(bytes) => {
            match serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&bytes.0) {
                Ok(_) => Vec::new(),
                Err(error) => vec![FieldError::invalid_str(
                    path.key(key),
                    "<secret contents redacted>",
                    error.to_string(),
                )],
            }
        }
    }
}

/// `ValidateSecretUpdate`.
pub fn validate_secret_update(new: &Secret, old: &Secret) -> Vec<FieldError> {
    let mut errors = validate_object_meta_update(
        &new.metadata,
        &old.metadata,
        FinalizerRules::Core,
        &meta_path(),
    );
    errors.extend(immutable_str(
        new.type_.as_deref(),
        old.type_.as_deref(),
        &FieldPath::root("type"),
    ));
    errors.extend(validate_immutable_data(
        new.immutable,
        old.immutable,
        &[("data", &new.data, &old.data)],
    ));
    errors.extend(validate_secret(new));
    errors
}
