//! Who may ask: the `Host` check (DNS rebinding), the cross-site check of state-changing
//! requests (CSRF), and `OPTIONS`.
//!
//! Why it exists: the kiosk listens on a network a browser also sits on. A page elsewhere can
//! make that browser POST to the kiosk (a "simple" cross-site request needs no preflight), or
//! point a name it controls at the kiosk's address and read the answers as same-origin. So:
//! - every request's `Host` (port aside) must be a loopback name, the bind address, a
//!   single-label name (`kiosk`, `raspberrypi`: resolved by the LAN or the hosts file, not by
//!   DNS someone else controls), a name in `server.allowed_hosts` (`"*"`: any), or — when bound
//!   to every address — an IP literal or `<this machine's name>.local`; a request without
//!   `Host` is let through (HTTP/1.0 tools; no browser sends one);
//! - a state-changing request (POST /api/skip, DELETE /api/skip, POST /api/browser-heartbeat,
//!   GET /api/clear_skips) carrying `Origin` must come from an allowed host, and one marked
//!   `Sec-Fetch-Site: cross-site` or `same-site` (a page on a sibling site) is refused;
//! - `GET /api/clear_skips` changes state on a GET, which any page can make a browser send
//!   (`<img src>`). It stays a GET because CalendarBot documents it for `curl` (no client of
//!   CalendarBot calls it from a page); besides the checks above, one with a `Referer` from
//!   a host not served here is refused (browsers without Fetch Metadata still send that).
//!   The address bar (`Sec-Fetch-Site: none`) and scripts (no browser headers) still work;
//! - POST /api/skip needs `Content-Type: application/json` (415 otherwise): a cross-site form
//!   or `text/plain` fetch cannot send it without a preflight, which is never granted (no CORS
//!   headers are sent). The heartbeat carries no body and CalendarBot's own page sends it
//!   without a type, so it needs none.

use super::response::{Resp, error};
use crate::config::Config;
use hyper::header::{CONTENT_TYPE, HOST, ORIGIN, REFERER};
use hyper::{Method, Request, StatusCode};
use std::sync::OnceLock;

/// Loopback names always answered.
const LOOPBACK: &[&str] = &["localhost", "127.0.0.1", "::1", "localhost.localdomain"];

/// The host part of a `Host` value or an origin's authority: lowercase, port and brackets
/// and a trailing dot removed.
fn host_of(authority: &str) -> String {
    let a = authority.trim().to_ascii_lowercase();
    let host = if let Some(rest) = a.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default().to_string()
    } else if a.matches(':').count() == 1 {
        a.split(':').next().unwrap_or_default().to_string()
    } else {
        a
    };
    host.trim_end_matches('.').to_string()
}

/// This machine's name, read once (`/proc/sys/kernel/hostname`).
fn machine_name() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|s| s.trim().to_ascii_lowercase())
            .unwrap_or_default()
    })
}

/// Whether `host` (already reduced by [`host_of`]) may be answered under `config`.
pub(super) fn host_allowed(config: &Config, host: &str) -> bool {
    let bind = host_of(&config.web_host);
    let any_addr = matches!(bind.as_str(), "0.0.0.0" | "::");
    let name = machine_name();
    let single_label = !host.is_empty() && !host.contains('.') && !host.contains(':');
    LOOPBACK.contains(&host)
        || single_label
        || host == bind
        || config
            .server
            .allowed_hosts
            .iter()
            .any(|h| h == "*" || host_of(h) == host)
        || (any_addr
            && (host.parse::<std::net::IpAddr>().is_ok()
                || (!name.is_empty()
                    && (host == name || host.strip_suffix(".local") == Some(name)))))
}

/// Whether a route changes state (and so must not be asked for cross-site).
fn changes_state(method: &Method, path: &str) -> bool {
    let path = path.strip_suffix('/').unwrap_or(path);
    matches!(
        (method, path),
        (&Method::POST, "/api/skip")
            | (&Method::DELETE, "/api/skip")
            | (&Method::POST, "/api/browser-heartbeat")
            | (&Method::GET, "/api/clear_skips")
    )
}

/// The host of an absolute URL (`http://kiosk:8080/x` → `kiosk`), as [`host_of`] reduces it.
fn url_host(url: &str) -> String {
    let authority = url.split("://").nth(1).unwrap_or_default();
    let authority = authority.split(['/', '?', '#']).next().unwrap_or_default();
    host_of(authority.rsplit('@').next().unwrap_or_default())
}

/// Refuse what must not be answered: a foreign `Host` (403), a cross-site state change (403),
/// a skip that is not JSON (415). `None`: go on.
pub(super) fn check(config: &Config, req: &Request<bytes::Bytes>) -> Option<Resp> {
    let headers = req.headers();
    if let Some(h) = headers.get(HOST) {
        let host = h.to_str().map(host_of).unwrap_or_default();
        if !host_allowed(config, &host) {
            return Some(error(
                StatusCode::FORBIDDEN,
                &format!("host {host:?} is not served here (see server.allowed_hosts)"),
            ));
        }
    }
    let path = req.uri().path();
    if !changes_state(req.method(), path) {
        return None;
    }
    if let Some(o) = headers.get(ORIGIN) {
        let origin = o.to_str().unwrap_or_default();
        let authority = origin.split("://").nth(1).unwrap_or_default();
        if origin == "null" || !host_allowed(config, &host_of(authority)) {
            return Some(error(
                StatusCode::FORBIDDEN,
                &format!("cross-site request refused (Origin {origin:?})"),
            ));
        }
    }
    if let Some(site) = headers.get("sec-fetch-site").map(|v| v.as_bytes())
        && (site.eq_ignore_ascii_case(b"cross-site") || site.eq_ignore_ascii_case(b"same-site"))
    {
        return Some(error(
            StatusCode::FORBIDDEN,
            &format!(
                "cross-site request refused (Sec-Fetch-Site: {})",
                String::from_utf8_lossy(site)
            ),
        ));
    }
    if req.method() == Method::GET
        && let Some(r) = headers.get(REFERER)
    {
        let host = r.to_str().map(url_host).unwrap_or_default();
        if !host_allowed(config, &host) {
            return Some(error(
                StatusCode::FORBIDDEN,
                &format!("cross-site request refused (Referer from {host:?})"),
            ));
        }
    }
    if req.method() == Method::POST && path.trim_end_matches('/') == "/api/skip" {
        let json = headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"));
        if !json {
            return Some(error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "POST /api/skip takes Content-Type: application/json",
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn referers_are_reduced_to_their_host() {
        assert_eq!(url_host("http://Kiosk:8080/page?x=1"), "kiosk");
        assert_eq!(url_host("https://user@evil.example/"), "evil.example");
        assert_eq!(url_host("http://[::1]:8080"), "::1");
        assert_eq!(url_host("garbage"), "");
    }

    #[test]
    fn hosts_are_reduced_to_their_name() {
        assert_eq!(host_of("LocalHost:8080"), "localhost");
        assert_eq!(host_of("[::1]:8080"), "::1");
        assert_eq!(host_of("kiosk.local."), "kiosk.local");
        assert_eq!(host_of("::1"), "::1");
    }

    #[test]
    fn default_hosts_are_loopback_and_the_bind_address() {
        let mut c = Config::default();
        assert!(host_allowed(&c, "localhost") && host_allowed(&c, "127.0.0.1"));
        assert!(!host_allowed(&c, "evil.example"));
        assert!(!host_allowed(&c, "192.168.1.20"));
        assert!(host_allowed(&c, "raspberrypi"));
        c.web_host = "0.0.0.0".into();
        assert!(host_allowed(&c, "192.168.1.20"));
        assert!(!host_allowed(&c, "evil.example"));
        c.server.allowed_hosts = vec!["Kiosk.Example:8080".into()];
        assert!(host_allowed(&c, "kiosk.example"));
        c.server.allowed_hosts = vec!["*".into()];
        assert!(host_allowed(&c, "evil.example"));
    }
}
