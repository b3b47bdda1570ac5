//! Responses: the one response type and the JSON, error and path-header helpers.
//!
//! Why it exists: the routes, the page and the connection layer (413, 431, 503) all build
//! responses; keeping the type and its helpers below all of them is what lets the route table
//! serve the page without the page importing the routes.

use crate::pipeline::{PATH_HEADER, Path};
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use hyper::{Response, StatusCode};
use serde::Serialize;

/// The response type of every route.
pub type Resp = Response<Full<Bytes>>;

/// A JSON response.
pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Resp {
    match serde_json::to_vec(value) {
        Ok(body) => with_type(status, "application/json", body.into()),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &format!("encoding: {e}")),
    }
}

/// A JSON error `{"error": message}`.
pub fn error(status: StatusCode, message: &str) -> Resp {
    let body = serde_json::json!({ "error": message }).to_string();
    with_type(status, "application/json", body.into())
}

/// A response with this body and content type, never cached by the client.
pub fn with_type(status: StatusCode, content_type: &'static str, body: Bytes) -> Resp {
    let mut r = Response::new(Full::new(body));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    r
}

/// Say which path served the request, and why (`x-calendarbot-path`).
pub fn with_path(mut r: Resp, path: &Path) -> Resp {
    if let Ok(v) = HeaderValue::from_str(&path.header_value()) {
        r.headers_mut().insert(PATH_HEADER, v);
    }
    r
}
