//! Content negotiation: what the `Accept` header asks for. Responses are JSON unless the
//! client asks for a `meta.k8s.io` Table (`kubectl get`) or aggregated discovery
//! (`apidiscovery.k8s.io` v2/v2beta1). Protobuf-first clients get JSON: they list it too,
//! and read the response `Content-Type`.

/// One entry of an `Accept` header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaRange {
    /// `type/subtype`, lower case.
    pub essence: String,
    /// Parameters, names lower case, values as sent.
    pub params: Vec<(String, String)>,
}

impl MediaRange {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn is_json(&self) -> bool {
        matches!(
            self.essence.as_str(),
            "application/json" | "*/*" | "application/*"
        )
    }
}

/// Parses an `Accept` header (comma-separated, `;`-parameters, quotes stripped).
pub fn parse_accept(header: &str) -> Vec<MediaRange> {
    header
        .split(',')
        .filter_map(|part| {
            let mut pieces = part.split(';');
            let essence = pieces.next()?.trim().to_ascii_lowercase();
            if essence.is_empty() {
                return None;
            }
            let params = pieces
                .filter_map(|p| {
                    let (k, v) = p.split_once('=')?;
                    Some((
                        k.trim().to_ascii_lowercase(),
                        v.trim().trim_matches('"').to_string(),
                    ))
                })
                .collect();
            Some(MediaRange { essence, params })
        })
        .collect()
}

/// The representation of objects and lists a request gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjectFormat {
    Json,
    Table,
}

/// `Table` if any accepted media type is a `meta.k8s.io` v1/v1beta1 Table.
pub fn object_format(accept: &str) -> ObjectFormat {
    let table = parse_accept(accept).iter().any(|m| {
        m.is_json()
            && m.param("as") == Some("Table")
            && m.param("g") == Some("meta.k8s.io")
            && matches!(m.param("v"), Some("v1") | Some("v1beta1"))
    });
    if table {
        ObjectFormat::Table
    } else {
        ObjectFormat::Json
    }
}

/// Which discovery document `/api` and `/apis` answer with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiscoveryFormat {
    /// `APIVersions` / `APIGroupList`.
    Legacy,
    AggregatedV2,
    AggregatedV2Beta1,
}

impl DiscoveryFormat {
    /// The response `Content-Type` (aggregated types carry their parameters, which
    /// client-go compares).
    pub fn content_type(self) -> &'static str {
        match self {
            DiscoveryFormat::Legacy => "application/json",
            DiscoveryFormat::AggregatedV2 => {
                "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
            }
            DiscoveryFormat::AggregatedV2Beta1 => {
                "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
            }
        }
    }

    pub fn api_version(self) -> &'static str {
        match self {
            DiscoveryFormat::AggregatedV2Beta1 => "apidiscovery.k8s.io/v2beta1",
            _ => "apidiscovery.k8s.io/v2",
        }
    }
}

/// The first acceptable entry in the client's order decides; a v2beta1-only client never
/// gets v2.
pub fn discovery_format(accept: &str) -> DiscoveryFormat {
    for media in parse_accept(accept) {
        if !media.is_json() {
            continue;
        }
        let aggregated = media.param("g") == Some("apidiscovery.k8s.io")
            && media.param("as") == Some("APIGroupDiscoveryList");
        if !aggregated {
            if media.params.iter().all(|(k, _)| k == "q" || k == "charset") {
                return DiscoveryFormat::Legacy;
            }
            continue;
        }
        match media.param("v") {
            Some("v2") => return DiscoveryFormat::AggregatedV2,
            Some("v2beta1") => return DiscoveryFormat::AggregatedV2Beta1,
            _ => {}
        }
    }
    DiscoveryFormat::Legacy
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubectl_get_asks_for_a_table() {
        let accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
        assert_eq!(object_format(accept), ObjectFormat::Table);
        assert_eq!(object_format("application/json, */*"), ObjectFormat::Json);
        assert_eq!(
            object_format("application/vnd.kubernetes.protobuf,application/json"),
            ObjectFormat::Json
        );
    }

    #[test]
    fn discovery_follows_the_clients_preference() {
        let v130 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
        assert_eq!(discovery_format(v130), DiscoveryFormat::AggregatedV2);
        let v127 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
        assert_eq!(discovery_format(v127), DiscoveryFormat::AggregatedV2Beta1);
        assert_eq!(
            discovery_format("application/json, */*"),
            DiscoveryFormat::Legacy
        );
        assert_eq!(discovery_format(""), DiscoveryFormat::Legacy);
    }
}
