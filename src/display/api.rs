//! What the display asks the server: whats-next, the day's bounds (done-for-day, events) and
//! whether the first refresh is done; the answers' fields the display uses.

use super::client::{self, Client};
use super::model::WhatsNext;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Deserialize;

/// `/api/done-for-day` (the fields the display uses).
#[derive(Debug, Clone, Deserialize)]
pub(super) struct DoneForDay {
    now_iso: String,
    #[serde(default)]
    last_meeting_end_iso: Option<String>,
}

/// `/api/events` (the fields the display uses).
#[derive(Debug, Clone, Deserialize)]
pub(super) struct EventsAnswer {
    events: Vec<EventRow>,
}

#[derive(Debug, Clone, Deserialize)]
pub(super) struct EventRow {
    start: String,
    all_day: bool,
    status: String,
}

pub(super) fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    crate::clock::Clock::parse_test_time(s)
}

/// The URL the display reads: `--server`, else `display.server`, else the server's own
/// listen address (a wildcard address is reached through loopback).
pub fn server_url(cfg: &crate::config::Config, arg: Option<&str>) -> String {
    if let Some(s) = arg.filter(|s| !s.is_empty()) {
        return s.to_string();
    }
    if !cfg.display.server.is_empty() {
        return cfg.display.server.clone();
    }
    let host = match cfg.web_host.trim() {
        "0.0.0.0" | "" => "127.0.0.1".to_string(),
        "::" | "[::]" => "[::1]".to_string(),
        h if h.contains(':') && !h.starts_with('[') => format!("[{h}]"),
        h => h.to_string(),
    };
    format!("http://{host}:{}", cfg.web_port)
}

/// One poll's result.
#[derive(Debug, Clone)]
pub(super) struct Polled {
    pub(super) answer: WhatsNext,
    pub(super) server_now: DateTime<Utc>,
    pub(super) last_end: Option<DateTime<Utc>>,
}

pub(super) async fn poll(client: &Client, tz: Tz) -> Result<Polled, client::ClientError> {
    let answer: WhatsNext = client.get_json("/api/whats-next").await?;
    let done: Option<DoneForDay> = client
        .get_json(&format!("/api/done-for-day?tz={}", tz.name()))
        .await
        .ok();
    let server_now = answer
        .server_now()
        .or_else(|| done.as_ref().and_then(|d| parse_time(&d.now_iso)))
        .unwrap_or_else(Utc::now);
    let last_end = done
        .as_ref()
        .and_then(|d| d.last_meeting_end_iso.as_deref())
        .and_then(parse_time);
    Ok(Polled {
        answer,
        server_now,
        last_end,
    })
}

/// Whether the server has finished its first refresh (`/api/health`'s
/// `data_status.initial_refresh_complete`; a 503 "degraded" answer counts as not yet).
pub(super) async fn calendar_loaded(client: &Client) -> bool {
    client
        .get_json::<serde_json::Value>("/api/health")
        .await
        .map(|v| v["data_status"]["initial_refresh_complete"] == true)
        .unwrap_or(false)
}

/// The first timed, busy or tentative meeting of the local day of `now`.
pub(super) async fn first_start(
    client: &Client,
    now: DateTime<Utc>,
    tz: Tz,
) -> Option<DateTime<Utc>> {
    let local = now.with_timezone(&tz).date_naive();
    let from = local
        .and_hms_opt(0, 0, 0)?
        .and_local_timezone(tz)
        .earliest()?;
    let to = from + chrono::Duration::days(1);
    let path = format!(
        "/api/events?from={}&to={}",
        from.with_timezone(&Utc).format("%Y-%m-%dT%H:%M:%SZ"),
        to.with_timezone(&Utc).format("%Y-%m-%dT%H:%M:%SZ")
    );
    let ev: EventsAnswer = client.get_json(&path).await.ok()?;
    ev.events
        .iter()
        .filter(|e| !e.all_day && matches!(e.status.as_str(), "busy" | "tentative"))
        .filter_map(|e| parse_time(&e.start))
        .min()
}
