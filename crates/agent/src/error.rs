//! The agent's error type: operating errors of the runtime, the API connection and setup.

use corral_api::ApiError;

/// What can go wrong outside the pure core.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("api: {0}")]
    Api(#[from] ApiError),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("tls: {0}")]
    Tls(String),
    #[error("http: {0}")]
    Http(String),
}

impl AgentError {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> AgentError {
        AgentError::Io {
            context: context.into(),
            source,
        }
    }
}
