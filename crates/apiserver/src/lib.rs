//! L2: the Kubernetes HTTP API that the real `kubectl` (1.27–1.33) drives.
//!
//! Two halves:
//! - [`service`]: the request pipeline, free of HTTP types ([`ApiService`]): decoding,
//!   strict field validation, defaulting/validation (corral-registry), admission, the store
//!   (corral-store), deletion propagation, watches, subresources and an in-process typed
//!   client ([`ApiClient`]). The HTTP front uses it now; in-process controllers later.
//! - [`http`]: the front: TLS accept loop, authentication, URL routing, content
//!   negotiation (JSON, YAML, Tables, aggregated discovery), streaming watch and log
//!   responses, `Status` errors and `Warning` headers.
//!
//! Around them: [`discovery`] (`/version`, `/api`, `/apis`, aggregated discovery),
//! [`openapi`] (`/openapi/v2`, `/openapi/v3`), [`pki`] and [`kubeconfig`] (first-start
//! certificates and the admin kubeconfig), [`ops`] (health checks and metrics) and
//! [`server`] (what `corral up` starts) and [`snapshot`] (`GET /corral/snapshot` and its
//! client).

pub mod client_tls;
pub mod discovery;
pub mod http;
pub mod kubeconfig;
pub mod metrics;
pub mod openapi;
pub mod ops;
pub mod pki;
pub mod production;
pub mod server;
pub mod service;
pub mod snapshot;
pub mod tokens;

pub use production::{ProductionError, ProductionOptions, production_service};
pub use server::{Server, ServerConfig, ServerHandle};
pub use service::{ApiClient, ApiService};

/// The Kubernetes minor version Corral reports (`/version`): kubectl's version dispatcher
/// picks its bundled kubectl by it.
pub const KUBERNETES_MINOR: &str = "32";
/// `gitVersion` reported by `/version`.
pub fn git_version() -> String {
    format!(
        "v1.{KUBERNETES_MINOR}.0-corral.{}",
        env!("CARGO_PKG_VERSION")
    )
}
