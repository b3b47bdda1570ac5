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
    if let Ok(v) = HeaderValue::from_str(csp()) {
        h.insert("content-security-policy", v);
    }
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    r
}

/// The page's Content-Security-Policy: its own inline script (by hash) and style, requests to
/// its own origin only, no framing, no forms, no base.
fn csp() -> &'static str {
    static CSP: OnceLock<String> = OnceLock::new();
    CSP.get_or_init(|| {
        use sha2::Digest;
        let script = sha2::Sha256::digest(format!("\n{JS}\n").as_bytes());
        format!(
            "default-src 'none'; script-src 'sha256-{}'; style-src 'unsafe-inline'; \
             connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; \
             frame-ancestors 'none'",
            base64(&script)
        )
    })
}

/// Standard base64 with padding (RFC 4648 §4).
fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ABC[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (raw, enc) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(raw.as_bytes()), enc);
        }
    }

    #[test]
    fn the_page_carries_security_headers_and_its_script_hash() {
        let r = index();
        let h = r.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'sha256-"));
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert_eq!(h["x-content-type-options"], "nosniff");
        // The hashed text is exactly the inline script's content.
        assert!(html().contains(&format!("<script>\n{JS}\n</script>")));
    }

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
