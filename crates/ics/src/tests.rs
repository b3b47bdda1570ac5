//! Unit tests of the engine's model: occurrences, ids, order.

use super::*;

fn occ(uid: &str, start: When, expanded: bool) -> Occurrence {
    Occurrence {
        details: Arc::new(Details::from(EventText {
            uid: uid.into(),
            ..Default::default()
        })),
        start,
        end: start,
        status: Status::Busy,
        recurring: expanded,
        expanded,
    }
}

#[test]
fn details_pack_and_unpack_every_field() {
    let full = EventText {
        uid: "u-1@example.com".into(),
        subject: "Sprint ✓ review".into(),
        description: "line 1\nline 2".into(),
        location: "Room 4".into(),
        attendees: vec!["Ann".into(), "bob@example.com".into(), "Zoë".into()],
        organizer: Some("Boss".into()),
    };
    let d = Details::from(full.clone());
    assert_eq!(d.uid(), "u-1@example.com");
    assert_eq!(d.subject(), "Sprint ✓ review");
    assert_eq!(d.description(), "line 1\nline 2");
    assert_eq!(d.location(), "Room 4");
    assert_eq!(d.organizer(), Some("Boss"));
    assert_eq!(
        d.attendees().collect::<Vec<_>>(),
        ["Ann", "bob@example.com", "Zoë"]
    );
    assert_eq!(EventText::from(&d), full);

    // No organizer and an empty one differ; no attendees is an empty list.
    let bare = EventText {
        uid: "u".into(),
        organizer: None,
        ..EventText::default()
    };
    let d = Details::from(bare.clone());
    assert_eq!(d.organizer(), None);
    assert_eq!(d.attendees().count(), 0);
    assert_eq!(EventText::from(&d), bare);
    let empty_org = Details::from(EventText {
        organizer: Some(String::new()),
        ..bare
    });
    assert_eq!(empty_org.organizer(), Some(""));
    assert_ne!(empty_org, d);

    // Empty attendees are dropped; a newline inside a name cannot split it.
    let odd = Details::from(EventText {
        attendees: vec![String::new(), "a\nb".into(), "c".into()],
        ..EventText::default()
    });
    assert_eq!(odd.attendees().collect::<Vec<_>>(), ["a b", "c"]);
}

#[test]
fn ids_follow_the_spec_and_compare_like_strings() {
    let t = When::Timed("2025-11-05T09:30:15Z".parse().unwrap());
    let d = When::AllDay(NaiveDate::from_ymd_opt(2025, 11, 6).unwrap());
    let all = [
        occ("a", t, false),
        occ("a", t, true),
        occ("a", d, true),
        occ("a_", t, false),
        occ("a_2025", t, false),
        occ("a-b", t, true),
        occ("", t, true),
        occ("", t, false),
        occ("ü", d, true),
    ];
    assert_eq!(all[0].id(), "a");
    assert_eq!(all[1].id(), "a_20251105T093015");
    assert_eq!(all[2].id(), "a_20251106T000000");
    assert_eq!(all[8].id(), "ü_20251106T000000");
    for x in &all {
        for y in &all {
            assert_eq!(x.cmp_id(y), x.id().cmp(&y.id()), "{} vs {}", x.id(), y.id());
        }
    }
}

#[test]
fn id_suffixes_are_written_like_chrono_writes_them() {
    use chrono::TimeZone;
    for (y, mo, d, h, mi, s) in [
        (2026, 11, 30, 13, 0, 0),
        (5, 1, 2, 3, 4, 5),
        (9999, 12, 31, 23, 59, 59),
        (10000, 1, 1, 0, 0, 0),
        (-1, 6, 15, 12, 30, 45),
    ] {
        let t = Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap();
        let want = format!("u_{}", t.format("%Y%m%dT%H%M%S"));
        assert_eq!(occ("u", When::Timed(t), true).id(), want);
        let day = When::AllDay(t.date_naive());
        let want = format!("u_{}T000000", t.format("%Y%m%d"));
        assert_eq!(occ("u", day, true).id(), want);
    }
}
