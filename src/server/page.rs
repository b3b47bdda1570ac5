//! The kiosk page, embedded in the binary.
//!
//! Why it exists: the kiosk must work with no network beyond its own server (no CDN, no web
//! fonts), and a release is one file. The HTML, CSS and JavaScript live as real files under
//! `page/` (easy to edit and lint) and are stitched into one document at first use, so the
//! browser needs a single request.

use super::response::Resp;
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use hyper::{Response, StatusCode};
use std::sync::OnceLock;

const HTML: &str = include_str!("page/index.html");
const CSS: &str = include_str!("page/style.css");
const JS: &str = include_str!("page/app.js");

/// The whole page: HTML with the stylesheet and the script inlined.
pub fn html() -> &'static str {
    static PAGE: OnceLock<String> = OnceLock::new();
    PAGE.get_or_init(|| HTML.replace("/*STYLE*/", CSS).replace("//SCRIPT", JS))
}

/// GET /.
pub fn index() -> Resp {
    let mut r = Response::new(Full::new(Bytes::from_static(html().as_bytes())));
    *r.status_mut() = StatusCode::OK;
    let h = r.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_is_self_contained() {
        let p = html();
        // Not ready until the script has shown data (tests/kiosk_page.rs waits for "1").
        assert!(p.contains(r#"<meta name="calendarbot-ready" content="0">"#));
        assert!(p.contains("STARTS IN") && p.contains("No meetings scheduled"));
        assert!(p.contains("/api/whats-next") && p.contains("/api/browser-heartbeat"));
        assert!(!p.contains("/*STYLE*/") && !p.contains("//SCRIPT"));
        for external in ["http://", "https://", "//fonts.", "@import"] {
            assert!(!p.contains(external), "external resource: {external}");
        }
    }
}
