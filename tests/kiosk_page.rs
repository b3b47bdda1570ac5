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
    let dir = tempfile::tempdir().unwrap();
    let bin = Binary::start(
        dir.path(),
        &[
            ("CALENDARBOT_ICS_URL", feed()),
            ("CALENDARBOT_TEST_TIME", now.to_string()),
            ("CALENDARBOT_DEFAULT_TIMEZONE", "America/Los_Angeles".into()),
        ],
    );
    (bin, dir)
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
