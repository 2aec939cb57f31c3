//! Response building: JSON bodies, `Status` errors (every non-2xx answer is one, with
//! `Content-Type: application/json`), `Warning: 299` headers, and the request labels the
//! metrics layer reads back from the response.

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use corral_api::ApiError;
use http::StatusCode;
use http::header::{CONTENT_TYPE, HeaderValue, WARNING};

/// What the metrics layer records about a request (set by the handlers on the response).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestLabels {
    pub verb: &'static str,
    pub resource: String,
}

/// A response with a body and a content type.
pub fn with_body(code: StatusCode, content_type: &str, body: impl Into<Body>) -> Response {
    let mut response = Response::new(body.into());
    *response.status_mut() = code;
    if let Ok(value) = HeaderValue::from_str(content_type) {
        response.headers_mut().insert(CONTENT_TYPE, value);
    }
    response
}

pub fn json(code: StatusCode, body: impl Into<Bytes>) -> Response {
    with_body(code, "application/json", Body::from(body.into()))
}

pub fn json_value(code: StatusCode, value: &serde_json::Value) -> Response {
    json(code, serde_json::to_vec(value).unwrap_or_default())
}

/// The `Status` body of an error, with its HTTP code.
pub fn error(error: &ApiError) -> Response {
    let code = StatusCode::from_u16(error.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json_value(code, &error.to_json())
}

/// A `Warning` header value: `299 - "<text>"` with the text quoted as an HTTP
/// quoted-string (kubectl prints it as `Warning: <text>`).
pub fn warning_value(text: &str) -> Option<HeaderValue> {
    let mut quoted = String::with_capacity(text.len() + 10);
    quoted.push_str("299 - \"");
    for c in text.chars() {
        match c {
            '"' | '\\' => {
                quoted.push('\\');
                quoted.push(c);
            }
            c if c.is_control() => quoted.push(' '),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    HeaderValue::from_str(&quoted).ok()
}

pub fn add_warnings(response: &mut Response, warnings: &[String]) {
    for warning in warnings {
        if let Some(value) = warning_value(warning) {
            response.headers_mut().append(WARNING, value);
        }
    }
}

pub fn labelled(mut response: Response, labels: RequestLabels) -> Response {
    response.extensions_mut().insert(labels);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_are_quoted_strings() {
        let value = warning_value("unknown field \"spec.foo\"").unwrap();
        assert_eq!(
            value.to_str().unwrap(),
            "299 - \"unknown field \\\"spec.foo\\\"\""
        );
    }

    #[test]
    fn errors_are_status_objects_with_their_code() {
        let response = error(&ApiError::method_not_allowed());
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
    }
}
