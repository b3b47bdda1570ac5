//! The voice routes and their parameters (zone, date, detail, SSML, list length).
//!
//! Why it exists apart: the parameters are validated once, the same way for every voice route,
//! before any answer is computed; a bad one is a 400 that names it.

use super::{DEFAULT_MAX_EVENTS, MAX_MAX_EVENTS};
use chrono::NaiveDate;
use chrono_tz::Tz;
use serde::Serialize;

/// The voice routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// GET /api/alexa/next-meeting
    NextMeeting,
    /// GET /api/alexa/time-until-next
    TimeUntilNext,
    /// GET /api/alexa/done-for-day
    DoneForDay,
    /// GET /api/alexa/launch-summary
    LaunchSummary,
    /// GET /api/alexa/morning-summary
    MorningSummary,
    /// POST /api/morning-summary (the kiosk's own, no token, like the Python server)
    PostMorningSummary,
}

impl Route {
    /// Whether the route needs the bearer token (every /api/alexa/* route).
    pub fn needs_token(self) -> bool {
        self != Route::PostMorningSummary
    }

    pub(super) fn zone_params(self) -> [&'static str; 2] {
        match self {
            Route::MorningSummary | Route::PostMorningSummary => ["timezone", "tz"],
            _ => ["tz", "timezone"],
        }
    }
}

/// How much a summary says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Detail {
    /// One or two sentences.
    Brief,
    /// The overview plus what stands out.
    Normal,
    /// Every meeting, one by one.
    Verbose,
}

/// A parameter that could not be used (HTTP 400 naming it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {param} {value:?}: expected {expected}")]
pub struct ParamError {
    /// The parameter's name.
    pub param: &'static str,
    /// What was sent.
    pub value: String,
    /// What is allowed.
    pub expected: &'static str,
}

/// The parsed query of a voice route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Params {
    /// The zone "today" and spoken times are in (`tz` / `timezone`, else the default zone).
    pub zone: Tz,
    /// The date to summarise (`date`, morning summary only).
    pub date: Option<NaiveDate>,
    /// `detail_level`: brief, normal (default) or verbose ("detailed" is taken as verbose).
    pub detail: Detail,
    /// `prefer_ssml`: include `ssml` (default true; false leaves it out).
    pub prefer_ssml: bool,
    /// `max_events`: meetings listed one by one in a summary (1..=200, default 50).
    pub max_events: usize,
}

impl Params {
    /// Parse the query's pairs (percent-decoded, trimmed, empty values dropped: the server
    /// parses every route's query the same way) for `route`.
    pub fn parse(
        pairs: &[(String, String)],
        route: Route,
        default_tz: Tz,
    ) -> Result<Params, ParamError> {
        let get = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let bad = |param: &'static str, value: &str, expected: &'static str| ParamError {
            param,
            value: value.chars().take(100).collect(),
            expected,
        };
        let mut zone = default_tz;
        for name in route.zone_params() {
            if let Some(v) = get(name) {
                zone = v
                    .parse::<Tz>()
                    .map_err(|_| bad(name, v, "an IANA time zone such as America/Los_Angeles"))?;
                break;
            }
        }
        let date = match get("date") {
            Some(v) => Some(
                NaiveDate::parse_from_str(v, "%Y-%m-%d")
                    .map_err(|_| bad("date", v, "a date as YYYY-MM-DD"))?,
            ),
            None => None,
        };
        let detail = match get("detail_level").map(str::to_ascii_lowercase).as_deref() {
            None | Some("normal") => Detail::Normal,
            Some("brief") => Detail::Brief,
            Some("verbose" | "detailed") => Detail::Verbose,
            Some(_) => {
                let v = get("detail_level").unwrap_or_default();
                return Err(bad("detail_level", v, "brief, normal or verbose"));
            }
        };
        let prefer_ssml = match get("prefer_ssml").map(str::to_ascii_lowercase).as_deref() {
            None | Some("true" | "1" | "yes") => true,
            Some("false" | "0" | "no") => false,
            Some(_) => {
                let v = get("prefer_ssml").unwrap_or_default();
                return Err(bad("prefer_ssml", v, "true or false"));
            }
        };
        let max_events = match get("max_events") {
            None => DEFAULT_MAX_EVENTS,
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_MAX_EVENTS).contains(n))
                .ok_or_else(|| bad("max_events", v, "a whole number from 1 to 200"))?,
        };
        Ok(Params {
            zone,
            date,
            detail,
            prefer_ssml,
            max_events,
        })
    }
}
