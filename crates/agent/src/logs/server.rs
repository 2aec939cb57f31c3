//! The node's HTTPS log endpoint (the kubelet's `:10250/containerLogs`), for nodes in
//! another process: `GET /containerLogs/{namespace}/{pod}/{container}?podUID=…&containerID=…`
//! plus the `pods/log` options (`follow`, `timestamps`, `tailLines`, `sinceSeconds`,
//! `sinceTime`, `limitBytes`). The API server resolves the container id from the pod's
//! status (with upstream's 400 messages) before calling. Requests must carry the node's
//! bearer token. The certificate is self-signed, as a kubelet's default serving cert.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use corral_apiserver::service::LogOptions;
use futures::StreamExt;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, StreamBody, combinators::UnsyncBoxBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::NodeLogFiles;
use crate::agent::LogEndpointConfig;
use crate::error::AgentError;

type Body = UnsyncBoxBody<Bytes, std::io::Error>;

/// The query's parameters.
pub fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

/// `pods/log` options from query parameters.
pub fn log_options(pairs: &[(String, String)]) -> LogOptions {
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let flag = |name: &str| get(name).is_some_and(|v| v == "true" || v == "1");
    let number = |name: &str| get(name).and_then(|v| v.parse::<i64>().ok());
    LogOptions {
        container: get("container").map(str::to_string),
        follow: flag("follow"),
        previous: flag("previous"),
        timestamps: flag("timestamps"),
        tail_lines: number("tailLines"),
        since_seconds: number("sinceSeconds"),
        since_time: get("sinceTime").map(str::to_string),
        limit_bytes: number("limitBytes"),
    }
}

fn plain(status: StatusCode, text: String) -> Response<Body> {
    let body = Full::new(Bytes::from(text))
        .map_err(|never: Infallible| match never {})
        .boxed_unsync();
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn handle(files: &NodeLogFiles, token: &str, request: &Request<Incoming>) -> Response<Body> {
    let authorized = request
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| t.trim() == token);
    if !authorized {
        return plain(StatusCode::UNAUTHORIZED, "Unauthorized".into());
    }
    let path = request.uri().path();
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let ["containerLogs", _namespace, _pod, container] = parts.as_slice() else {
        return plain(StatusCode::NOT_FOUND, "404 page not found".into());
    };
    let pairs = query_pairs(request.uri().query());
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let (Some(pod_uid), Some(container_id)) = (get("podUID"), get("containerID")) else {
        return plain(
            StatusCode::BAD_REQUEST,
            "podUID and containerID are required".into(),
        );
    };
    let container_id = container_id
        .strip_prefix(super::CONTAINER_ID_SCHEME)
        .unwrap_or(&container_id)
        .to_string();
    if pod_uid.contains('/')
        || pod_uid.contains("..")
        || container_id.contains('/')
        || container.contains("..")
    {
        return plain(StatusCode::BAD_REQUEST, "invalid path".into());
    }
    let options = log_options(&pairs);
    let stream = files
        .open_id(
            &pod_uid,
            &percent_encoding::percent_decode_str(container).decode_utf8_lossy(),
            &container_id,
            &options,
        )
        .map(|item| item.map(Frame::data));
    let mut response = Response::new(BodyExt::boxed_unsync(StreamBody::new(stream)));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain"),
    );
    response
}

/// Starts the endpoint; returns the bound port and the accept loop.
pub async fn serve(
    config: &LogEndpointConfig,
    files: NodeLogFiles,
    names: &[String],
    mut shutdown: watch::Receiver<bool>,
) -> Result<(u16, JoinHandle<()>), AgentError> {
    let (cert, key) = crate::tls::self_signed(names)?;
    let tls = tokio_rustls::TlsAcceptor::from(crate::tls::server_config(&cert, &key)?);
    let listener = TcpListener::bind(config.bind)
        .await
        .map_err(|e| AgentError::io(format!("bind log endpoint {}", config.bind), e))?;
    let port = listener
        .local_addr()
        .map_err(|e| AgentError::io("log endpoint address", e))?
        .port();
    let shared = Arc::new((files, config.token.clone()));
    let task = tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                _ = shutdown.changed() => return,
            };
            let Ok((tcp, _peer)) = accepted else {
                continue;
            };
            let tls = tls.clone();
            let shared = Arc::clone(&shared);
            tokio::spawn(async move {
                let Ok(stream) = tls.accept(tcp).await else {
                    return;
                };
                let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                    let shared = Arc::clone(&shared);
                    async move { Ok::<_, Infallible>(handle(&shared.0, &shared.1, &request)) }
                });
                let _ = Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok((port, task))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_decode_into_log_options() {
        let pairs = query_pairs(Some(
            "follow=true&tailLines=5&sinceTime=2026-01-01T00%3A00%3A00Z&x",
        ));
        let options = log_options(&pairs);
        assert!(options.follow);
        assert_eq!(options.tail_lines, Some(5));
        assert_eq!(options.since_time.as_deref(), Some("2026-01-01T00:00:00Z"));
        assert_eq!(
            query_pairs(Some("c=a%2Fb+c")),
            [("c".to_string(), "a/b c".to_string())]
        );
    }
}
