//! The authenticated user a request runs as (upstream `user.Info`), and the well-known
//! names of `k8s.io/apiserver/pkg/authentication/user`.

use std::collections::BTreeMap;

/// `system:masters`: the group the privileged-groups authorizer always allows.
pub const SYSTEM_PRIVILEGED_GROUP: &str = "system:masters";
/// `system:authenticated`: every authenticated user is a member.
pub const ALL_AUTHENTICATED: &str = "system:authenticated";
/// `system:unauthenticated`: the group of `system:anonymous`.
pub const ALL_UNAUTHENTICATED: &str = "system:unauthenticated";
/// The user name of unauthenticated requests.
pub const ANONYMOUS: &str = "system:anonymous";
/// `system:serviceaccount:<namespace>:<name>` is a service account's user name.
pub const SERVICE_ACCOUNT_USERNAME_PREFIX: &str = "system:serviceaccount:";

/// Who is making a request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserInfo {
    pub username: String,
    pub uid: String,
    pub groups: Vec<String>,
    pub extra: BTreeMap<String, Vec<String>>,
}

impl UserInfo {
    /// A user with the given name and groups.
    pub fn new(username: &str, groups: &[&str]) -> Self {
        UserInfo {
            username: username.to_string(),
            uid: String::new(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            extra: BTreeMap::new(),
        }
    }

    pub fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }

    /// `serviceaccount.MatchesUsername`: is this the service account `namespace/name`?
    pub fn is_service_account(&self, namespace: &str, name: &str) -> bool {
        let Some(rest) = self.username.strip_prefix(SERVICE_ACCOUNT_USERNAME_PREFIX) else {
            return false;
        };
        rest.len() == namespace.len() + 1 + name.len()
            && rest.starts_with(namespace)
            && rest.as_bytes()[namespace.len()] == b':'
            && rest.ends_with(name)
    }

    /// The `userInfo` of an AdmissionReview or a review status (omitempty fields omitted).
    pub fn to_review_json(&self) -> serde_json::Value {
        let mut map = serde_json::Map::new();
        if !self.username.is_empty() {
            map.insert("username".into(), self.username.clone().into());
        }
        if !self.uid.is_empty() {
            map.insert("uid".into(), self.uid.clone().into());
        }
        if !self.groups.is_empty() {
            map.insert("groups".into(), self.groups.clone().into());
        }
        if !self.extra.is_empty() {
            let extra: serde_json::Map<String, serde_json::Value> = self
                .extra
                .iter()
                .map(|(k, v)| (k.clone(), v.clone().into()))
                .collect();
            map.insert("extra".into(), extra.into());
        }
        serde_json::Value::Object(map)
    }
}
