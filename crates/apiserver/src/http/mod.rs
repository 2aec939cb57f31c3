//! The HTTP front: an axum router over the [`ApiService`], served by our own TLS accept
//! loop ([`tls`]). Fixed endpoints (`/version`, health, `/metrics`, OpenAPI) are routes;
//! everything under `/api` and `/apis` goes through one handler with our own URL parser
//! ([`route`]), because Kubernetes paths are not a fixed route table.
//!
//! One middleware authenticates (client certificate, bearer token, anonymous), records
//! request metrics and logs each request at debug level.

pub mod auth;
pub mod body;
pub mod handlers;
pub mod list;
pub mod negotiate;
pub mod query;
pub mod respond;
pub mod route;
pub mod table;
pub mod tls;
pub mod watch;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use corral_api::ApiError;
use http::header::{ACCEPT, CACHE_CONTROL};
use http::{HeaderValue, Method, StatusCode};

use self::auth::{Authenticator, PeerIdentity};
use self::negotiate::{DiscoveryFormat, discovery_format};
use self::query::Query;
use self::respond::RequestLabels;
use self::route::ApiPath;
use crate::discovery::DiscoveryDocuments;
use crate::metrics::Metrics;
use crate::openapi::{OpenApiDocuments, V2_CONTENT_TYPE, v2_json};
use crate::ops::{Endpoint, HealthState};
use crate::service::ApiService;

/// What every request handler shares.
pub struct HttpShared {
    pub service: ApiService,
    pub authenticator: Arc<dyn Authenticator>,
    /// Requests without credentials are served as `system:anonymous` (else 401).
    pub allow_anonymous: bool,
    pub metrics: Arc<Metrics>,
    pub health: Arc<HealthState>,
    pub discovery: DiscoveryDocuments,
    pub openapi: OpenApiDocuments,
}

/// Shared state of the router (cheap to clone).
#[derive(Clone)]
pub struct HttpState(pub Arc<HttpShared>);

impl HttpState {
    pub fn service(&self) -> &ApiService {
        &self.0.service
    }
}

/// The router with its middleware.
pub fn router(state: HttpState) -> Router {
    Router::new()
        .route("/version", get(version))
        // The Python client (and other OpenAPI-generated clients) ask for `/version/`;
        // upstream serves both.
        .route("/version/", get(version))
        .route("/metrics", get(metrics))
        .route("/healthz", get(health))
        .route("/livez", get(health))
        .route("/readyz", get(health))
        .route("/healthz/{*check}", get(health))
        .route("/livez/{*check}", get(health))
        .route("/readyz/{*check}", get(health))
        .route("/openapi/v2", get(openapi_v2))
        .route("/swagger-2.0.0.pb-v1", get(openapi_v2))
        .route("/openapi/v3", get(openapi_v3_index))
        .route("/openapi/v3/{*path}", get(openapi_v3_document))
        .route(crate::snapshot::SNAPSHOT_PATH, get(crate::snapshot::serve))
        .fallback(api)
        .layer(middleware::from_fn_with_state(state.clone(), front))
        .with_state(state)
}

/// Authentication, metrics and the request log.
async fn front(State(state): State<HttpState>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let peer = request.extensions().get::<PeerIdentity>().cloned();
    let user = match auth::authenticate(
        request.headers(),
        peer.as_ref(),
        state.0.authenticator.as_ref(),
    ) {
        Ok(user)
            if user.is_anonymous() && !state.0.allow_anonymous && !auth::is_public_path(&path) =>
        {
            Err(auth::unauthorized())
        }
        other => other,
    };
    let response = match user {
        Ok(user) => {
            request.extensions_mut().insert(user.clone());
            let response = next.run(request).await;
            tracing::debug!(%method, %path, user = %user.name, code = response.status().as_u16(), "request");
            response
        }
        Err(e) => respond::error(&e),
    };
    let labels = response
        .extensions()
        .get::<RequestLabels>()
        .cloned()
        .unwrap_or_else(|| RequestLabels {
            verb: non_resource_verb(&method),
            resource: String::new(),
        });
    let seconds = started.elapsed().as_secs_f64();
    state.0.metrics.observe_request(
        labels.verb,
        &labels.resource,
        response.status().as_u16(),
        seconds,
    );
    response
}

fn non_resource_verb(method: &Method) -> &'static str {
    match *method {
        Method::GET | Method::HEAD => "get",
        Method::POST => "post",
        Method::PUT => "put",
        Method::PATCH => "patch",
        Method::DELETE => "delete",
        _ => "other",
    }
}

fn accept_of(request: &Request) -> String {
    request
        .headers()
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

async fn version(State(state): State<HttpState>) -> Response {
    respond::json(StatusCode::OK, state.0.discovery.version.clone())
}

async fn metrics(State(state): State<HttpState>) -> Response {
    let text = state.0.metrics.render(&state.0.service);
    respond::with_body(
        StatusCode::OK,
        "text/plain; version=0.0.4; charset=utf-8",
        text,
    )
}

async fn health(State(state): State<HttpState>, request: Request) -> Response {
    let path = request.uri().path().trim_start_matches('/');
    let (endpoint, check) = match path.split_once('/') {
        Some((endpoint, check)) => (endpoint, Some(check)),
        None => (path, None),
    };
    let Some(endpoint) = Endpoint::parse(endpoint) else {
        return respond::error(&ApiError::unknown_path());
    };
    let query = Query::parse(request.uri().query());
    let excluded: Vec<String> = query.all("exclude").map(str::to_string).collect();
    let answer = crate::ops::evaluate(
        endpoint,
        check,
        query.has("verbose"),
        &excluded,
        &state.0.service,
        &state.0.health,
    );
    let code = StatusCode::from_u16(answer.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    respond::with_body(code, "text/plain; charset=utf-8", answer.body)
}

async fn openapi_v2(request: Request) -> Response {
    let accept = accept_of(&request);
    if accept.contains("application/json") && !accept.contains("protobuf") {
        return respond::json_value(StatusCode::OK, &v2_json());
    }
    respond::with_body(StatusCode::OK, V2_CONTENT_TYPE, axum::body::Body::empty())
}

async fn openapi_v3_index(State(state): State<HttpState>) -> Response {
    respond::json(StatusCode::OK, state.0.openapi.index.clone())
}

async fn openapi_v3_document(State(state): State<HttpState>, request: Request) -> Response {
    let key = request
        .uri()
        .path()
        .trim_start_matches("/openapi/v3/")
        .to_string();
    let Some(document) = state.0.openapi.get(&key) else {
        return respond::error(&ApiError::unknown_path());
    };
    let query = Query::parse(request.uri().query());
    let mut response = respond::json(StatusCode::OK, document.bytes.clone());
    let cache = if query.get("hash") == Some(document.hash.as_str()) {
        "public, immutable"
    } else {
        "no-cache, private"
    };
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}

/// Everything under `/api` and `/apis`.
async fn api(State(state): State<HttpState>, request: Request) -> Response {
    let path = route::parse(request.uri().path());
    let is_get = matches!(*request.method(), Method::GET | Method::HEAD);
    let format = discovery_format(&accept_of(&request));
    let discovery = &state.0.discovery;
    let document = |bytes: &[u8], format: DiscoveryFormat| {
        let response = respond::with_body(
            StatusCode::OK,
            format.content_type(),
            axum::body::Body::from(bytes.to_vec()),
        );
        respond::labelled(
            response,
            RequestLabels {
                verb: "get",
                resource: String::new(),
            },
        )
    };
    match path {
        ApiPath::Resource(resource) => handlers::serve(&state, resource, request).await,
        _ if !is_get => respond::error(&ApiError::method_not_allowed()),
        ApiPath::LegacyRoot => document(discovery.root(true, format), format),
        ApiPath::GroupsRoot => document(discovery.root(false, format), format),
        ApiPath::Group(group) => match discovery.groups.get(&group) {
            Some(bytes) => document(bytes, DiscoveryFormat::Legacy),
            None => respond::error(&ApiError::unknown_path()),
        },
        ApiPath::GroupVersion { group, version } => {
            match discovery.resource_lists.get(&(group, version)) {
                Some(bytes) => document(bytes, DiscoveryFormat::Legacy),
                None => respond::error(&ApiError::unknown_path()),
            }
        }
        ApiPath::NotFound => respond::error(&ApiError::unknown_path()),
    }
}
