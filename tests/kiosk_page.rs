//! The kiosk page in a real browser: headless Chromium at 480×800 against the real binary.
//! - the page is ready (the `calendarbot-ready` meta, "0" as served, set to "1" by the script
//!   once data is on screen) and shows the next meeting's subject, its time range in local
//!   time (24 h) and location; `body[data-state]` is set by the script;
//! - the "STARTS IN" countdown ticks from the page's own clock between polls: with the server's
//!   time fixed (CALENDARBOT_TEST_TIME) its seconds_until_start never changes, yet DOM dumps
//!   taken 1.5 s and 4.5 s (virtual time) after load differ by about 3 seconds;
//! - "No meetings scheduled" shows when nothing is ahead (the status line, set by the script
//!   from the server's answer; the card and countdown hidden);
//! - when the server is stopped (SIGTERM) after the page has loaded, the next poll fails and
//!   the page shows its "Reconnecting" banner while keeping the last meeting (dimmed);
//! - the screenshots (saved under target/screenshots/) are checked pixel by pixel: every pixel
//!   is grey (the kiosk's display is greyscale); with a meeting the page has black in it (the
//!   card's border); while reconnecting a black banner sits on top and everything between it
//!   and the footer is dimmed (no pixel darker than 120).
//!
//! - the meeting in progress (tests/fixtures/kiosk/day.ics at 08:45Z: two overlap) shows above
//!   the countdown as "NOW · 15 min left" with its subject, the countdown still counts to the
//!   next meeting, and "Later today" lists the next three (one line each, the long subject
//!   ellipsized); with `time_format = "12h"` the card and the list say "1:30 AM";
//! - a source whose refreshes fail (real clock, 1 s interval) turns the answer stale and the
//!   footer says "Updated HH:MM"; with the server stopped it says "Offline · updated HH:MM";
//! - screenshots of each under target/screenshots/ (kiosk-now-later.png, kiosk-12h.png,
//!   kiosk-stale.png, kiosk-reconnecting.png).
//!
//! Chromium is required: when it is missing the test fails (CI installs it in .ci/run).

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::Binary;

const NOW: &str = "2025-11-05T07:00:00-08:00"; // 15:00Z; the standup starts at 16:00Z

fn chromium() -> PathBuf {
    for name in ["chromium", "chromium-browser"] {
        if let Ok(out) = Command::new("sh")
            .args(["-c", &format!("command -v {name}")])
            .output()
            && out.status.success()
        {
            return PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        }
    }
    panic!("Chromium is required for the kiosk page test (apt-get install chromium)");
}

fn screenshots() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Load `url` for `budget_ms` of virtual time; return the DOM, and save a screenshot.
fn browse(url: &str, budget_ms: u64, shot: Option<&Path>) -> String {
    let profile = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(chromium());
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        "--window-size=480,800",
        "--lang=en-US",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()))
    .arg(format!("--virtual-time-budget={budget_ms}"))
    .env("TZ", "America/Los_Angeles")
    .env("LANG", "en_US.UTF-8")
    .stdout(Stdio::piped())
    .stderr(Stdio::null());
    if let Some(p) = shot {
        cmd.arg(format!("--screenshot={}", p.display()));
    }
    cmd.arg("--dump-dom").arg(url);
    let mut child = cmd.spawn().expect("start chromium");
    let mut out = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let dom = reader.join().unwrap();
    assert!(dom.contains("<html"), "no DOM from chromium: {dom:?}");
    if let Some(p) = shot {
        assert!(p.exists(), "no screenshot at {}", p.display());
    }
    dom
}

/// The text of the element with `id` (no nested markup expected).
fn text_of(dom: &str, id: &str) -> String {
    let open = format!("id=\"{id}\"");
    let at = dom.find(&open).unwrap_or_else(|| panic!("no #{id} in DOM"));
    let rest = &dom[at..];
    let start = rest.find('>').unwrap() + 1;
    let end = rest[start..].find('<').unwrap() + start;
    rest[start..end].replace("&nbsp;", " ").trim().to_string()
}

/// Whether the element with `id` carries the `hidden` attribute.
fn is_hidden(dom: &str, id: &str) -> bool {
    let open = format!("id=\"{id}\"");
    let at = dom.find(&open).unwrap();
    let tag_start = dom[..at].rfind('<').unwrap();
    let tag_end = at + dom[at..].find('>').unwrap();
    dom[tag_start..tag_end].contains(" hidden")
}

/// "59:58" or "1:00:00" → seconds.
fn countdown_secs(text: &str) -> i64 {
    text.split(':')
        .fold(0, |acc, p| acc * 60 + p.trim().parse::<i64>().unwrap())
}

/// A screenshot's pixels as (r, g, b), row by row.
struct Shot {
    width: usize,
    px: Vec<[u8; 3]>,
}

impl Shot {
    fn load(path: &Path) -> Shot {
        let decoder =
            png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        let channels = match info.color_type {
            png::ColorType::Rgb => 3,
            png::ColorType::Rgba => 4,
            other => panic!("unexpected screenshot colour type {other:?}"),
        };
        assert_eq!(info.bit_depth, png::BitDepth::Eight);
        let px = buf[..info.buffer_size()]
            .chunks(channels)
            .map(|c| [c[0], c[1], c[2]])
            .collect();
        Shot {
            width: info.width as usize,
            px,
        }
    }

    fn row(&self, y: usize) -> &[[u8; 3]] {
        &self.px[y * self.width..(y + 1) * self.width]
    }

    fn height(&self) -> usize {
        self.px.len() / self.width
    }

    /// Every pixel grey (channels within 2 of each other), or the first that is not.
    fn first_colour(&self) -> Option<(usize, usize, [u8; 3])> {
        self.px.iter().enumerate().find_map(|(i, p)| {
            let spread = p.iter().max().unwrap() - p.iter().min().unwrap();
            (spread > 2).then_some((i % self.width, i / self.width, *p))
        })
    }

    /// The first row below the banner: the rows at the top whose left edge is black.
    fn banner_end(&self) -> usize {
        (0..self.height())
            .find(|&y| self.row(y)[2][0] > 10)
            .unwrap_or(0)
    }

    /// The footer's top border: the first row at or after `from` of one non-white colour
    /// across the whole width.
    fn footer_top(&self, from: usize) -> usize {
        (from..self.height())
            .find(|&y| {
                let r = self.row(y);
                r[0][0] < 250 && r.iter().all(|p| p == &r[0])
            })
            .expect("no footer border in the screenshot")
    }

    /// The darkest grey level in rows `[from, to)`.
    fn darkest(&self, from: usize, to: usize) -> u8 {
        (from..to)
            .flat_map(|y| self.row(y).iter().map(|p| p[0]))
            .min()
            .unwrap()
    }
}

/// Check a screenshot is greyscale; return it.
fn greyscale(path: &Path) -> Shot {
    let shot = Shot::load(path);
    assert_eq!(
        (shot.width, shot.height()),
        (480, 800),
        "{}",
        path.display()
    );
    if let Some((x, y, p)) = shot.first_colour() {
        panic!("{}: pixel ({x}, {y}) is not grey: {p:?}", path.display());
    }
    shot
}

fn feed() -> String {
    let p =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/calendarbot/single-meeting.ics");
    format!("file://{}", p.display())
}

fn start(now: &str) -> (Binary, tempfile::TempDir) {
    start_with(feed(), now, &[])
}

fn start_with(
    feed: String,
    now: &str,
    extra: &[(&'static str, &str)],
) -> (Binary, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut env = vec![
        ("CALENDARBOT_ICS_URL", feed),
        ("CALENDARBOT_TEST_TIME", now.to_string()),
        ("CALENDARBOT_DEFAULT_TIMEZONE", "America/Los_Angeles".into()),
    ];
    env.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    let bin = Binary::start(dir.path(), &env);
    (bin, dir)
}

fn day_feed() -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/kiosk/day.ics");
    format!("file://{}", p.display())
}

/// The `<li>` texts of the element with `id` (markup inside them dropped).
fn items_of(dom: &str, id: &str) -> Vec<String> {
    let at = dom.find(&format!("id=\"{id}\"")).unwrap();
    let end = at + dom[at..].find("</ul>").unwrap();
    dom[at..end]
        .split("<li>")
        .skip(1)
        .map(|li| {
            let mut out = String::new();
            let mut in_tag = false;
            for c in li.chars() {
                match c {
                    '<' => in_tag = true,
                    '>' => in_tag = false,
                    c if !in_tag => out.push(c),
                    _ => {}
                }
            }
            out
        })
        .collect()
}

#[test]
fn meeting_in_progress_and_the_rest_of_today() {
    let (bin, _dir) = start_with(day_feed(), "2025-11-05T08:45:00Z", &[]);
    let shot = screenshots().join("kiosk-now-later.png");
    let dom = browse(&bin.url("/"), 1500, Some(&shot));
    assert!(!is_hidden(&dom, "now"), "no NOW line");
    assert_eq!(text_of(&dom, "now-left"), "NOW · 15 min left");
    assert_eq!(text_of(&dom, "now-subject"), "Overlap call");
    // The countdown still counts to the next meeting (Alpha review, 45 min away).
    assert_eq!(text_of(&dom, "subject"), "Alpha review");
    let secs = countdown_secs(&text_of(&dom, "countdown"));
    assert!((2697..=2700).contains(&secs), "{secs}");
    assert!(!is_hidden(&dom, "later"));
    // Browser zone America/Los_Angeles: 11:00Z is 03:00.
    let later = items_of(&dom, "later-list");
    assert_eq!(later.len(), 3, "{later:?}");
    assert_eq!(later[0], "03:00Bravo planning");
    assert!(later[2].starts_with("07:00Delta retro"), "{later:?}");
    assert!(is_hidden(&dom, "fresh"), "fresh data needs no badge");
    greyscale(&shot);

    let (bin, _dir) = start_with(
        day_feed(),
        "2025-11-05T08:45:00Z",
        &[("CALENDARBOT_TIME_FORMAT", "12h")],
    );
    let shot = screenshots().join("kiosk-12h.png");
    let dom = browse(&bin.url("/"), 1500, Some(&shot));
    assert_eq!(text_of(&dom, "time"), "1:30 AM – 2:00 AM");
    assert_eq!(items_of(&dom, "later-list")[0], "3:00 AMBravo planning");
    assert!(text_of(&dom, "clock").ends_with(" AM"), "{dom}");
    greyscale(&shot);
}

/// A feed whose refreshes fail after the first: with the real clock and a 1 s interval the
/// answer is stale after 2 s, and the page says when it was last updated.
#[cfg(feature = "fault-injection")]
#[test]
fn stale_data_shows_when_it_was_updated() {
    use support::{FeedServer, Mode, ics};
    let feed = FeedServer::start(Mode::Ok {
        body: ics(&[("soon", "Quarterly planning", 40, 30)]),
        etag: "\"v1\"".into(),
    });
    let dir = tempfile::tempdir().unwrap();
    let bin = Binary::start(
        dir.path(),
        &[
            ("CALENDARBOT_ICS_URL", feed.url()),
            ("CALENDARBOT_REFRESH_INTERVAL", "1".into()),
            ("CALENDARBOT_FETCH__MAX_RETRIES", "0".into()),
        ],
    );
    let fresh = bin.get("/api/whats-next").unwrap().1;
    assert_eq!(fresh["stale"], false, "{fresh}");
    feed.set(Mode::Status(500));
    let stale = support::wait_for(20, "a stale answer", || {
        let v = bin.get("/api/whats-next").ok()?.1;
        (v["stale"] == true).then_some(v)
    });
    assert!(stale["data_age_s"].as_i64().unwrap() > 2, "{stale}");
    let shot = screenshots().join("kiosk-stale.png");
    let dom = browse(&bin.url("/"), 1500, Some(&shot));
    assert!(!is_hidden(&dom, "fresh"), "no staleness badge");
    let badge = text_of(&dom, "fresh");
    assert!(
        badge.starts_with("Updated ") && badge.len() == "Updated 00:00".len(),
        "{badge}"
    );
    assert_eq!(text_of(&dom, "subject"), "Quarterly planning");
    greyscale(&shot);
}

#[test]
fn meeting_card_and_local_countdown() {
    let (bin, _dir) = start(NOW);
    let url = bin.url("/");
    let shot = screenshots().join("kiosk-meeting.png");
    let early = browse(&url, 1500, Some(&shot));
    let late = browse(&url, 4500, None);
    assert!(early.contains(r#"<meta name="calendarbot-ready" content="1">"#));
    assert!(early.contains(r#"data-state="meeting""#));
    assert_eq!(text_of(&early, "subject"), "Team Standup");
    // 16:00Z–17:00Z is 08:00–09:00 in Los Angeles.
    let time = text_of(&early, "time");
    assert!(time.contains("08:00") && time.contains("09:00"), "{time}");
    assert!(!is_hidden(&early, "countdown-box"));
    assert!(!is_hidden(&early, "card") && is_hidden(&early, "empty"));
    assert!(is_hidden(&early, "banner"));
    assert_eq!(text_of(&early, "status"), "Starting within the hour");
    let (a, b) = (text_of(&early, "countdown"), text_of(&late, "countdown"));
    let (sa, sb) = (countdown_secs(&a), countdown_secs(&b));
    println!("countdown 1.5 s after load: {a}; 4.5 s after load: {b}");
    assert!((3597..=3600).contains(&sa), "{a}");
    assert!(
        (2..=4).contains(&(sa - sb)),
        "{a} then {b}: the countdown must tick locally"
    );
    // Pixels: grey everywhere, no banner, and the card's black border undimmed.
    let px = greyscale(&shot);
    assert_eq!(px.banner_end(), 0, "a banner while online");
    let main_end = px.footer_top(0);
    let dark = px.darkest(0, main_end);
    assert!(
        dark <= 40,
        "darkest pixel above the footer is {dark}: card dimmed?"
    );
}

#[test]
fn no_meetings_state() {
    let (bin, _dir) = start("2025-11-06T08:00:00-08:00");
    let shot = screenshots().join("kiosk-no-meetings.png");
    let dom = browse(&bin.url("/"), 1500, Some(&shot));
    assert!(!is_hidden(&dom, "empty"), "empty state hidden");
    assert!(is_hidden(&dom, "card"));
    assert!(is_hidden(&dom, "countdown-box"));
    assert_eq!(text_of(&dom, "status"), "No meetings scheduled");
    assert!(dom.contains(r#"<meta name="calendarbot-ready" content="1">"#));
    assert!(dom.contains(r#"data-state="empty""#));
    greyscale(&shot);
}

/// A pass-through in front of the binary, so the browser's virtual time can be held still at
/// the right moment: the second /api/whats-next poll waits here until the binary has been
/// stopped, then fails like a stopped server does (connection closed, no answer). Every
/// answer says `Connection: close`, so each request is one connection.
struct Relay {
    addr: SocketAddr,
    polls: Arc<AtomicUsize>,
    forwarded_after_stop: Arc<AtomicUsize>,
}

fn relay(bin: Binary) -> Relay {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let target = bin.addr;
    let bin = Arc::new(Mutex::new(Some(bin)));
    let stopped = Arc::new(AtomicBool::new(false));
    let polls = Arc::new(AtomicUsize::new(0));
    let forwarded_after_stop = Arc::new(AtomicUsize::new(0));
    let r = Relay {
        addr,
        polls: polls.clone(),
        forwarded_after_stop: forwarded_after_stop.clone(),
    };
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let (bin, stopped, polls, fas) = (
                bin.clone(),
                stopped.clone(),
                polls.clone(),
                forwarded_after_stop.clone(),
            );
            std::thread::spawn(move || {
                let _ = relay_one(conn, target, &bin, &stopped, &polls, &fas);
            });
        }
    });
    r
}

fn relay_one(
    mut conn: TcpStream,
    target: SocketAddr,
    bin: &Mutex<Option<Binary>>,
    stopped: &AtomicBool,
    polls: &AtomicUsize,
    forwarded_after_stop: &AtomicUsize,
) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (method, path) = (
        parts.next().unwrap_or("").to_string(),
        parts.next().unwrap_or("").to_string(),
    );
    if method.is_empty() {
        return Ok(()); // a speculative preconnect that never sent a request
    }
    let mut len = 0usize;
    loop {
        let mut h = String::new();
        reader.read_line(&mut h)?;
        if h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            len = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body)?;
    if path.starts_with("/api/whats-next") && polls.fetch_add(1, Ordering::SeqCst) + 1 == 2 {
        // Stop the real server (SIGTERM, wait for exit) while the browser waits on this poll.
        if let Some(mut b) = bin.lock().unwrap().take() {
            b.stop();
        }
        stopped.store(true, Ordering::SeqCst);
    }
    let c = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let url = format!("http://{target}{path}");
    let req = match method.as_str() {
        "POST" => c.post(&url).body(body),
        "DELETE" => c.delete(&url),
        _ => c.get(&url),
    };
    let Ok(resp) = req.send() else {
        return Ok(()); // the server is gone: close without an answer
    };
    if stopped.load(Ordering::SeqCst) {
        forwarded_after_stop.fetch_add(1, Ordering::SeqCst);
    }
    let status = resp.status();
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_string();
    let bytes = resp.bytes().unwrap_or_default();
    write!(
        conn,
        "HTTP/1.1 {} {}\r\ncontent-type: {ct}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        bytes.len()
    )?;
    conn.write_all(&bytes)
}

#[test]
fn reconnecting_when_the_server_stops() {
    let (bin, _dir) = start(NOW);
    let r = relay(bin);
    let shot = screenshots().join("kiosk-reconnecting.png");
    // 70 s of virtual time: the first poll succeeds, the 60 s poll finds the server stopped.
    let dom = browse(&format!("http://{}/", r.addr), 70_000, Some(&shot));
    assert!(
        r.polls.load(Ordering::SeqCst) >= 2,
        "the page did not poll again"
    );
    assert_eq!(r.forwarded_after_stop.load(Ordering::SeqCst), 0);
    assert!(!is_hidden(&dom, "banner"), "no reconnecting banner");
    assert!(text_of(&dom, "banner").starts_with("Reconnecting"));
    // The footer says since when: the fixed clock's 07:00 (Los Angeles) when data was fresh.
    assert!(!is_hidden(&dom, "fresh"));
    assert_eq!(text_of(&dom, "fresh"), "Offline · updated 07:00");
    assert!(dom.contains(r#"data-state="reconnecting""#));
    // The last meeting stays on screen (dimmed) while reconnecting.
    assert_eq!(text_of(&dom, "subject"), "Team Standup");
    assert!(!is_hidden(&dom, "card"));
    // Pixels: grey; a black banner on top; below it, down to the footer, all dimmed.
    let px = greyscale(&shot);
    let banner = px.banner_end();
    assert!(banner >= 40, "banner {banner} px tall");
    let main_end = px.footer_top(banner);
    let dark = px.darkest(banner, main_end);
    println!("reconnecting: banner {banner} px, darkest pixel above the footer {dark}");
    assert!(
        dark >= 120,
        "darkest pixel between banner and footer is {dark}: card not dimmed"
    );
    assert!(main_end - banner > 400, "main area {banner}..{main_end}");
}
