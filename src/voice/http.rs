//! The HTTP face of the voice routes: token (401), parameters (400), then the answer.
//!
//! The server's route table (`server::routes::ROUTES`) has already matched path and method.

use super::params::{Params, Route};
use super::*;
use serde_json::{Value, json};

/// What the server sends back for a voice route.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// JSON body.
    pub body: Value,
    /// Extra headers (`WWW-Authenticate` on 401).
    pub headers: Vec<(&'static str, String)>,
}

impl Reply {
    fn error(status: u16, message: String) -> Reply {
        Reply {
            status,
            body: json!({ "error": message }),
            headers: Vec::new(),
        }
    }
}

/// A request to a voice route, as the server sees it.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The route.
    pub route: Route,
    /// The query's pairs (percent-decoded, trimmed, empty values dropped).
    pub query: &'a [(String, String)],
    /// The `Authorization` header, if any.
    pub authorization: Option<&'a [u8]>,
}

/// Answer a voice route: token (401), parameters (400), then the answer (200).
pub fn handle(req: &Request<'_>, token: Option<&str>, ctx: &Ctx<'_>) -> Reply {
    if req.route.needs_token()
        && let Err(e) = auth::check_bearer(token, req.authorization)
    {
        let mut r = Reply::error(401, e.to_string());
        r.headers
            .push(("WWW-Authenticate", e.challenge().to_string()));
        return r;
    }
    let params = match Params::parse(req.query, req.route, ctx.default_tz) {
        Ok(p) => p,
        Err(e) => return Reply::error(400, e.to_string()),
    };
    let body = match req.route {
        Route::NextMeeting => serde_json::to_value(next_meeting_answer(ctx, &params)),
        Route::TimeUntilNext => serde_json::to_value(time_until_answer(ctx, &params)),
        Route::DoneForDay => serde_json::to_value(done_for_day_answer(ctx, &params)),
        Route::LaunchSummary => serde_json::to_value(launch_summary_answer(ctx, &params)),
        Route::MorningSummary | Route::PostMorningSummary => {
            serde_json::to_value(morning_summary_answer(ctx, &params))
        }
    };
    match body {
        Ok(body) => Reply {
            status: 200,
            body,
            headers: Vec::new(),
        },
        Err(e) => Reply::error(500, format!("could not encode the answer: {e}")),
    }
}
