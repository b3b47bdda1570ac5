//! What an occurrence may show: a source's `owner`, `privacy` and `show_private` settings,
//! applied once, where a window enters the snapshot.
//!
//! Why it exists: "declined is not a meeting" and "private events are shown as busy" must hold
//! for every surface at once (whats-next, the page, the voice routes, day summaries,
//! `/api/events`, the display, logs, metrics). Every one of them reads the published
//! [`crate::snapshot::Snapshot`], so the rule is applied in one place, by the hub, to each
//! source's window before it is merged: no answer can see the original text of a redacted
//! event, because the snapshot never holds it. SQLite keeps the feed as fetched (with each
//! event's CLASS and declined attendees), so changing these settings takes effect at the next
//! start without waiting for the feed to change.
//!
//! The rules (docs/kiosk.md):
//! - an occurrence whose event lists one of the source's `owner` addresses as an ATTENDEE with
//!   PARTSTAT=DECLINED becomes [`Status::Declined`] (an override declines one instance; another
//!   attendee's decline changes nothing);
//! - `privacy = "hide"` drops the source's occurrences; `"busy"`, or CLASS:PRIVATE /
//!   CONFIDENTIAL without `show_private = true`, replaces subject, description, location,
//!   attendees and organizer with "Busy" / nothing.

use crate::config::{Privacy, SourceConfig};
use crate::ics::{Class, Details, EventText, Occurrence, Status, normalise_address};
use std::collections::HashMap;
use std::sync::Arc;

/// The subject of a redacted event.
pub(crate) const BUSY_SUBJECT: &str = "Busy";

/// One source's settings, normalised.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Policy {
    /// Owner addresses: lower case, without `mailto:`.
    owners: Vec<String>,
    privacy: Privacy,
    show_private: bool,
}

impl Policy {
    /// The policy of a configured source.
    pub(crate) fn of(src: &SourceConfig) -> Policy {
        Policy {
            owners: src
                .owner
                .iter()
                .map(|o| normalise_address(o))
                .filter(|o| !o.is_empty())
                .collect(),
            privacy: src.privacy,
            show_private: src.show_private,
        }
    }

    /// Whether an event of this class is shown as busy.
    fn redacts(&self, class: Class) -> bool {
        self.privacy == Privacy::Busy || (class != Class::Public && !self.show_private)
    }

    /// Whether one of the owners declined the event.
    fn declined(&self, d: &Details) -> bool {
        !self.owners.is_empty() && d.declined_by().any(|a| self.owners.iter().any(|o| o == a))
    }

    /// Apply the policy to one source's window (order kept; hidden occurrences removed).
    /// Redacted text is built once per event and shared by its occurrences.
    pub(crate) fn apply(&self, occurrences: Vec<Occurrence>) -> Vec<Occurrence> {
        if self.privacy == Privacy::Hide {
            return Vec::new();
        }
        let mut busy: HashMap<*const Details, Arc<Details>> = HashMap::new();
        occurrences
            .into_iter()
            .map(|mut o| {
                if o.status.is_meeting() && self.declined(&o.details) {
                    o.status = Status::Declined;
                }
                if self.redacts(o.details.class()) {
                    let key = Arc::as_ptr(&o.details);
                    let red = busy
                        .entry(key)
                        .or_insert_with(|| Arc::new(redacted(&o.details)));
                    o.details = Arc::clone(red);
                }
                o
            })
            .collect()
    }
}

/// An event's details with only its UID, its class and the word "Busy" left.
fn redacted(d: &Details) -> Details {
    Details::from(EventText {
        uid: d.uid().to_string(),
        subject: BUSY_SUBJECT.to_string(),
        ..EventText::default()
    })
    .with_access(d.class(), std::iter::empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ics::When;
    use chrono::{TimeZone, Utc};

    fn occ(subject: &str, class: Class, declined: &[&str]) -> Occurrence {
        let t = Utc.with_ymd_and_hms(2025, 11, 5, 9, 0, 0).unwrap();
        Occurrence {
            details: Arc::new(
                Details::from(EventText {
                    uid: format!("{subject}@x"),
                    subject: subject.into(),
                    description: "secret description".into(),
                    location: "secret room".into(),
                    attendees: vec!["Ann".into()],
                    organizer: Some("Bob".into()),
                })
                .with_access(class, declined.iter().copied()),
            ),
            start: When::Timed(t),
            end: When::Timed(t + chrono::Duration::minutes(30)),
            status: Status::Busy,
            recurring: false,
            expanded: false,
        }
    }

    fn policy(owner: &[&str], privacy: Privacy, show_private: bool) -> Policy {
        Policy::of(&SourceConfig {
            owner: owner.iter().map(|s| s.to_string()).collect(),
            privacy,
            show_private,
            ..SourceConfig::default()
        })
    }

    #[test]
    fn an_owners_decline_only_makes_it_not_a_meeting() {
        let p = policy(&["MAILTO:Me@Example.com"], Privacy::Show, false);
        let out = p.apply(vec![
            occ("a", Class::Public, &["mailto:me@example.COM"]),
            occ("b", Class::Public, &["mailto:other@example.com"]),
        ]);
        assert_eq!(out[0].status, Status::Declined);
        assert_eq!(out[1].status, Status::Busy);
        // Without owners nothing changes.
        let out = Policy::default().apply(vec![occ("a", Class::Public, &["me@example.com"])]);
        assert_eq!(out[0].status, Status::Busy);
    }

    #[test]
    fn private_and_busy_sources_keep_no_text() {
        let out = Policy::default().apply(vec![
            occ("open", Class::Public, &[]),
            occ("hidden", Class::Private, &[]),
            occ("conf", Class::Confidential, &[]),
        ]);
        assert_eq!(out[0].details.subject(), "open");
        for o in &out[1..] {
            assert_eq!(o.details.subject(), "Busy");
            assert_eq!(o.details.description(), "");
            assert_eq!(o.details.location(), "");
            assert_eq!(o.details.attendees().count(), 0);
            assert_eq!(o.details.organizer(), None);
        }
        let shown = policy(&[], Privacy::Show, true).apply(vec![occ("p", Class::Private, &[])]);
        assert_eq!(shown[0].details.subject(), "p");
        let busy = policy(&[], Privacy::Busy, true).apply(vec![occ("p", Class::Public, &[])]);
        assert_eq!(busy[0].details.subject(), "Busy");
        assert_eq!(busy[0].id(), "p@x");
        let hidden = policy(&[], Privacy::Hide, true).apply(vec![occ("p", Class::Public, &[])]);
        assert!(hidden.is_empty());
    }
}
