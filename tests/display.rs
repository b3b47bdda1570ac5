//! `calendarbot display` against the real server (the real binary with a real ICS feed on
//! 127.0.0.1), through the real binary:
//! - golden images of every state the kiosk shows: meeting soon, hours away, all-day (another
//!   day), urgent, critical, no meetings, reconnecting, a long non-Latin subject (wraps, then
//!   ellipsizes; a CJK character the font lacks is a box), landscape, each rotation, and the
//!   framebuffer at 16 and 32 bpp;
//! - the framebuffer path on a file standing in for the device: the first frame writes every
//!   row, the bytes of a frame are the snapshot's pixels in the panel's format (RGB565 and
//!   XRGB8888, the driver's stride honoured, padding untouched), the next second rewrites only
//!   the rows that changed (countdown and clock);
//! - ticking seconds repaint and rewrite only the changed rectangles, and the panel is then
//!   byte for byte the frame a fresh process writes whole (every rotation, a status change, a
//!   pixel-shift step; through a shared mapping as a device, `--fb-mmap`, and with writes);
//! - the loop: heartbeats reach /api/health's display probe, and when the server goes away the
//!   screen switches to "Reconnecting…" with the last meeting dimmed;
//! - a tap on the skip button (touch events from a file) skips the meeting on the server.
//!
//! Golden images live in tests/golden/display/. Comparison tolerance: a pixel "differs" when
//! any channel is off by more than 24; at most 0.2 % of pixels may differ, and the mean
//! absolute difference must stay under 1.0 (rasterising is deterministic here; the slack is
//! for float differences on other CPUs). `UPDATE_GOLDEN=1` rewrites the goldens (look at them
//! before committing). Failed comparisons leave the actual image next to the golden as
//! `*.actual.png`.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use support::Binary;

const TZ: &str = "America/Los_Angeles";

fn vevent(uid: &str, start: &str, end: &str, summary: &str, location: &str) -> String {
    let loc = if location.is_empty() {
        String::new()
    } else {
        format!("LOCATION:{location}\r\n")
    };
    format!(
        "BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTART{start}\r\nDTEND{end}\r\nSUMMARY:{summary}\r\n{loc}END:VEVENT\r\n"
    )
}

fn calendar(events: &[String]) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//display//EN\r\n{}END:VCALENDAR\r\n",
        events.concat()
    )
}

/// Wednesday 2025-11-05: standup 08:00–08:30 PST (16:00Z) in Room 4.
fn standup() -> String {
    calendar(&[vevent(
        "standup@test",
        ":20251105T160000Z",
        ":20251105T163000Z",
        "Team standup",
        "Room 4 · 2nd floor",
    )])
}

struct Server {
    bin: Binary,
    _dir: tempfile::TempDir,
}

impl Server {
    fn url(&self) -> String {
        format!("http://{}", self.bin.addr)
    }
}

fn server(ics: &str, now: &str) -> Server {
    server_with(ics, now, &[])
}

fn server_with(ics: &str, now: &str, extra: &[(&'static str, &str)]) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let feed = dir.path().join("feed.ics");
    std::fs::write(&feed, ics).unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let mut env = vec![
        ("CALENDARBOT_ICS_URL", format!("file://{}", feed.display())),
        ("CALENDARBOT_TEST_TIME", now.to_string()),
        ("CALENDARBOT_DEFAULT_TIMEZONE", TZ.into()),
    ];
    env.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    let bin = Binary::start(&data, &env);
    Server { bin, _dir: dir }
}

/// The display binary with a clean environment (the zone as the server's).
fn display(args: &[&str], extra_env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_calendarbot"));
    cmd.arg("display")
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("CALENDARBOT_DEFAULT_TIMEZONE", TZ)
        .env("CALENDARBOT_LOG_LEVEL", "info")
        .stdin(Stdio::null());
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    cmd
}

fn run_ok(mut cmd: Command) -> Output {
    let out = cmd.output().expect("run calendarbot display");
    assert!(
        out.status.success(),
        "calendarbot display failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn out_dir() -> PathBuf {
    let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/display-test");
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/display")
}

/// An RGB image.
#[derive(Clone)]
struct Img {
    w: u32,
    h: u32,
    rgb: Vec<u8>,
}

fn read_png(p: &Path) -> Img {
    let dec = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
    ));
    let mut r = dec.read_info().unwrap();
    let mut buf = vec![0; r.output_buffer_size().unwrap()];
    let info = r.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    let rgb = match info.color_type {
        png::ColorType::Rgb => buf,
        png::ColorType::Rgba => buf
            .chunks_exact(4)
            .flat_map(|p| [p[0], p[1], p[2]])
            .collect(),
        other => panic!("unexpected PNG colour type {other:?}"),
    };
    Img {
        w: info.width,
        h: info.height,
        rgb,
    }
}

fn write_png(p: &Path, img: &Img) {
    let f = std::fs::File::create(p).unwrap();
    let mut e = png::Encoder::new(std::io::BufWriter::new(f), img.w, img.h);
    e.set_color(png::ColorType::Rgb);
    e.set_depth(png::BitDepth::Eight);
    let mut w = e.write_header().unwrap();
    w.write_image_data(&img.rgb).unwrap();
}

/// (pixels that differ by more than 24 in a channel, mean absolute difference).
fn diff(a: &Img, b: &Img) -> (usize, f64) {
    assert_eq!((a.w, a.h), (b.w, b.h), "image sizes differ");
    let mut differ = 0;
    let mut sum = 0u64;
    for (p, q) in a.rgb.chunks_exact(3).zip(b.rgb.chunks_exact(3)) {
        let d = (0..3).map(|i| p[i].abs_diff(q[i])).max().unwrap();
        sum += (0..3).map(|i| p[i].abs_diff(q[i]) as u64).sum::<u64>();
        if d > 24 {
            differ += 1;
        }
    }
    (differ, sum as f64 / a.rgb.len() as f64)
}

/// Compare `img` with the golden `name` (or write it with UPDATE_GOLDEN=1).
fn assert_golden(name: &str, img: &Img) {
    let path = golden_dir().join(format!("{name}.png"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(golden_dir()).unwrap();
        write_png(&path, img);
        return;
    }
    assert!(
        path.exists(),
        "no golden {} (run with UPDATE_GOLDEN=1 and look at it)",
        path.display()
    );
    let golden = read_png(&path);
    let (differ, mean) = diff(&golden, img);
    let allowed = (img.w * img.h) as usize / 500;
    if differ > allowed || mean >= 1.0 {
        let actual = out_dir().join(format!("{name}.actual.png"));
        write_png(&actual, img);
        panic!(
            "{name}: {differ} pixels differ (allowed {allowed}), mean difference {mean:.3}; actual image: {}",
            actual.display()
        );
    }
}

/// `--snapshot` of `srv` at `at`, with extra arguments; the PNG.
fn snapshot(srv: &Server, name: &str, at: &str, extra: &[&str]) -> Img {
    let out = out_dir().join(format!("{name}.png"));
    let _ = std::fs::remove_file(&out);
    let (url, path) = (srv.url(), out.display().to_string());
    let mut args = vec!["--server", &url, "--snapshot", &path, "--at", at];
    args.extend_from_slice(extra);
    run_ok(display(&args, &[]));
    read_png(&out)
}

/// Whether grey `v` occurs between the banner and the footer (rows 110-650).
fn main_has(img: &Img, v: u8) -> bool {
    let row = (img.w * 3) as usize;
    img.rgb[110 * row..650 * row]
        .chunks_exact(3)
        .any(|p| p[0] == v)
}

/// Fraction of pixels darker than `level` inside rows `[y0, y1)`.
fn dark_fraction(img: &Img, y0: u32, y1: u32, level: u8) -> f64 {
    let row = (img.w * 3) as usize;
    let px = &img.rgb[y0 as usize * row..y1 as usize * row];
    px.chunks_exact(3).filter(|p| p[0] < level).count() as f64 / (px.len() / 3) as f64
}

#[test]
fn meeting_soon_hours_away_urgent_and_critical() {
    // One server (its "now" 07:36 PST); the display's own --at moves the countdown.
    let srv = server(&standup(), "2025-11-05T15:36:00Z");
    let soon = snapshot(&srv, "soon", "2025-11-05T15:36:00Z", &[]);
    assert_golden("soon", &soon);
    let away = snapshot(&srv, "hours_away", "2025-11-05T12:00:00Z", &[]);
    assert_golden("hours_away", &away);
    let urgent = snapshot(&srv, "urgent", "2025-11-05T15:50:00Z", &[]);
    assert_golden("urgent", &urgent);
    let critical = snapshot(&srv, "critical", "2025-11-05T15:58:30Z", &[]);
    assert_golden("critical", &critical);
    // The looks differ where the page's do: the urgent box is black (#000), not #222.
    let px = |img: &Img, x: u32, y: u32| img.rgb[((y * img.w + x) * 3) as usize];
    assert_eq!(
        px(&soon, 40, 40),
        0x22,
        "countdown box grey when not urgent"
    );
    assert_eq!(px(&urgent, 40, 40), 0x00, "countdown box black when urgent");
    assert_ne!(soon.rgb, away.rgb);
    // Critical underlines the value: more white rows under the digits than urgent has.
    let white_rows = |img: &Img| {
        (150..200u32)
            .filter(|&y| (100..380).any(|x| px(img, x, y) > 200))
            .count()
    };
    assert!(
        white_rows(&critical) > white_rows(&urgent),
        "critical underline missing"
    );
}

#[test]
fn all_day_on_another_day_and_no_meetings() {
    let ics = calendar(&[vevent(
        "offsite@test",
        ";VALUE=DATE:20251106",
        ";VALUE=DATE:20251107",
        "Company offsite",
        "Lisbon",
    )]);
    let srv = server(&ics, "2025-11-05T20:00:00Z");
    let img = snapshot(&srv, "all_day", "2025-11-05T20:00:00Z", &[]);
    assert_golden("all_day", &img);
    drop(srv);

    let past = calendar(&[vevent(
        "old@test",
        ":20251104T160000Z",
        ":20251104T163000Z",
        "Yesterday",
        "",
    )]);
    let srv = server(&past, "2025-11-05T20:00:00Z");
    let img = snapshot(&srv, "no_meetings", "2025-11-05T20:00:00Z", &[]);
    assert_golden("no_meetings", &img);
    // No countdown box: the top of the screen is white.
    assert!(dark_fraction(&img, 20, 200, 128) < 0.001);
}

#[test]
fn long_non_latin_subject_wraps_then_ellipsizes() {
    // 会 is outside the embedded font: it must draw as a box, not vanish.
    let subject = "Ежеквартальный обзор 会 Τριμηνιαία ανασκόπηση στρατηγικής και \
                   προϋπολογισμού для всех отделов компании и партнёров";
    let ics = calendar(&[vevent(
        "long@test",
        ":20251105T160000Z",
        ":20251105T170000Z",
        subject,
        "Переговорная «Байкал», 3 этаж",
    )]);
    let srv = server(&ics, "2025-11-05T15:36:00Z");
    let img = snapshot(&srv, "long_subject", "2025-11-05T15:36:00Z", &[]);
    assert_golden("long_subject", &img);
    // The fourth line (its ellipsis included) matches closely on its own: a band of 40 rows.
    let golden = read_png(&golden_dir().join("long_subject.png"));
    let band = |i: &Img| Img {
        w: i.w,
        h: 45,
        rgb: i.rgb[(385 * i.w * 3) as usize..(430 * i.w * 3) as usize].to_vec(),
    };
    let (differ, _) = diff(&band(&golden), &band(&img));
    assert!(differ <= 20, "fourth line differs in {differ} pixels");
}

#[test]
fn reconnecting_dims_the_last_meeting() {
    let srv = server(&standup(), "2025-11-05T15:36:00Z");
    let img = snapshot(&srv, "reconnecting", "2025-11-05T15:36:00Z", &["--offline"]);
    assert_golden("reconnecting", &img);
    // The banner is black across the top; the countdown box below it is dimmed (no #222).
    assert!(dark_fraction(&img, 5, 60, 10) > 0.8, "banner");
    assert!(!main_has(&img, 0x22), "main not dimmed");
}

/// tests/fixtures/kiosk/day.ics: two meetings overlap at 08:45Z, five more follow that day.
fn day() -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/kiosk/day.ics"),
    )
    .unwrap()
}

#[test]
fn now_line_later_today_and_12h() {
    const AT: &str = "2025-11-05T08:45:00Z";
    let srv = server(&day(), AT);
    let img = snapshot(&srv, "now_later", AT, &[]);
    assert_golden("now_later", &img);
    // The NOW bar is black across the top of the main area, above the #222 countdown box.
    assert!(dark_fraction(&img, 24, 60, 10) > 0.8, "NOW bar");
    assert!(main_has(&img, 0x22), "countdown box");
    drop(srv);
    let srv = server_with(&day(), AT, &[("CALENDARBOT_TIME_FORMAT", "12h")]);
    let img12 = snapshot(&srv, "now_later_12h", AT, &[]);
    assert_golden("now_later_12h", &img12);
    assert_ne!(img.rgb, img12.rgb, "12h must change the times");
    let landscape = snapshot(&srv, "now_later_landscape", AT, &["--size", "800x480"]);
    assert_golden("now_later_landscape", &landscape);
}

/// The server's data is 40 minutes old (its feed is gone since): "Updated 07:00" in the footer.
#[test]
fn stale_data_badge() {
    let srv = server(&standup(), "2025-11-05T15:00:00Z");
    let data = srv.bin.data_dir.clone();
    let feed = data.parent().unwrap().join("feed.ics");
    drop(srv.bin);
    std::fs::remove_file(&feed).unwrap();
    let bin = Binary::start(
        &data,
        &[
            ("CALENDARBOT_ICS_URL", format!("file://{}", feed.display())),
            ("CALENDARBOT_TEST_TIME", "2025-11-05T15:40:00Z".to_string()),
            ("CALENDARBOT_DEFAULT_TIMEZONE", TZ.into()),
        ],
    );
    let (_, v) = bin.get("/api/whats-next").unwrap();
    assert_eq!(v["stale"], true, "{v}");
    let stale = Server {
        bin,
        _dir: srv._dir,
    };
    let img = snapshot(&stale, "stale", "2025-11-05T15:40:00Z", &[]);
    assert_golden("stale", &img);
}

#[test]
fn landscape_and_every_rotation() {
    let srv = server(&standup(), "2025-11-05T15:36:00Z");
    let at = "2025-11-05T15:36:00Z";
    let upright = snapshot(&srv, "rot0", at, &[]);
    let landscape = snapshot(&srv, "landscape", at, &["--size", "800x480"]);
    assert_golden("landscape", &landscape);
    for rot in ["90", "180", "270"] {
        let size = if rot == "180" { "480x800" } else { "800x480" };
        let img = snapshot(
            &srv,
            &format!("rot{rot}"),
            at,
            &["--size", size, "--rotate", rot],
        );
        assert_golden(&format!("rot{rot}"), &img);
        // The same picture turned: undo the rotation and compare with the upright one.
        let back = rotate_back(&img, rot.parse().unwrap());
        assert_eq!((back.w, back.h), (upright.w, upright.h));
        assert!(
            back.rgb == upright.rgb,
            "rotation {rot} is not the upright picture turned"
        );
    }
    // A larger portrait panel scales the layout (same picture, 1.5×).
    let big = snapshot(&srv, "scaled", at, &["--size", "720x1200"]);
    assert_golden("scaled", &big);
}

/// Turn a panel image back upright (the panel shows the picture turned `rot` clockwise).
fn rotate_back(img: &Img, rot: u32) -> Img {
    let (w, h) = if rot % 180 == 90 {
        (img.h, img.w)
    } else {
        (img.w, img.h)
    };
    let mut rgb = vec![0; (w * h * 3) as usize];
    for ly in 0..h {
        for lx in 0..w {
            let (px, py) = match rot {
                90 => (img.w - 1 - ly, lx),
                180 => (img.w - 1 - lx, img.h - 1 - ly),
                270 => (ly, img.h - 1 - lx),
                _ => (lx, ly),
            };
            let s = ((py * img.w + px) * 3) as usize;
            let d = ((ly * w + lx) * 3) as usize;
            rgb[d..d + 3].copy_from_slice(&img.rgb[s..s + 3]);
        }
    }
    Img { w, h, rgb }
}

/// Per-frame lines of `--stats`: (rows written, online).
fn frames(stdout: &[u8]) -> Vec<(u32, bool)> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter(|l| l.starts_with("frame="))
        .map(|l| {
            let field = |k: &str| {
                l.split_whitespace()
                    .find_map(|f| f.strip_prefix(k))
                    .unwrap_or_else(|| panic!("no {k} in {l:?}"))
                    .to_string()
            };
            (
                field("written=").parse().unwrap(),
                field("online=") == "true",
            )
        })
        .collect()
}

/// Decode a framebuffer file of `geometry` into RGB (the panel's view of its memory).
fn decode(file: &Path, w: u32, h: u32, bpp: u32, stride: u32) -> Img {
    let bytes = std::fs::read(file).unwrap();
    let g = calendarbot::display::fb::Geometry {
        stride,
        ..calendarbot::display::fb::Geometry::from_spec(
            calendarbot::config::display::GeometrySpec::parse(&format!("{w}x{h}x{bpp}")).unwrap(),
        )
    };
    Img {
        w,
        h,
        rgb: calendarbot::display::fb::decode_rgb(&g, &bytes),
    }
}

#[test]
fn framebuffer_file_16_and_32_bpp_changed_rows_only() {
    let srv = server(&standup(), "2025-11-05T15:36:00Z");
    let at = "2025-11-05T15:36:00Z";
    let snap = snapshot(&srv, "fb_reference", at, &[]);
    let dir = tempfile::tempdir().unwrap();
    for (bpp, stride) in [(16u32, 960u32), (32, 2048)] {
        let file = dir.path().join(format!("fb{bpp}"));
        // Pre-fill with a pattern: padding past each row's pixels must stay untouched.
        std::fs::write(&file, vec![0xA5u8; (stride * 800) as usize]).unwrap();
        let geometry = format!("480x800x{bpp}+{stride}");
        let out = run_ok(display(
            &[
                "--server",
                &srv.url(),
                "--device",
                file.to_str().unwrap(),
                "--fb-geometry",
                &geometry,
                "--at",
                at,
                "--frames",
                "1",
                "--stats",
            ],
            &[],
        ));
        let f = frames(&out.stdout);
        assert_eq!(f, vec![(800, true)], "first frame writes every row");
        let img = decode(&file, 480, 800, bpp, stride);
        assert_golden(&format!("fb{bpp}"), &img);
        let bytes = std::fs::read(&file).unwrap();
        let row_bytes = (480 * bpp / 8) as usize;
        for y in 0..800usize {
            let pad = &bytes[y * stride as usize + row_bytes..(y + 1) * stride as usize];
            assert!(
                pad.iter().all(|&b| b == 0xA5),
                "row {y}: padding overwritten"
            );
        }
        if bpp == 32 {
            // XRGB8888 of a grey canvas is exactly the snapshot's pixels.
            assert!(
                img.rgb == snap.rgb,
                "32 bpp frame differs from the snapshot"
            );
            let (r, g, b) = (bytes[2], bytes[1], bytes[0]);
            assert_eq!((r, g, b), (0xff, 0xff, 0xff), "white in B,G,R,X byte order");
        } else {
            // RGB565 keeps the top 5/6/5 bits of each grey.
            let (differ, mean) = diff(&img, &snap);
            assert!(
                differ == 0 && mean < 4.0,
                "565 frame: {differ} px, mean {mean}"
            );
            let px = u16::from_le_bytes([bytes[0], bytes[1]]);
            assert_eq!(px, 0xffff, "white is 0xffff in RGB565");
        }
    }
    // Consecutive seconds: only the rows of the changed digits and the clock are rewritten.
    let file = dir.path().join("fb-seq");
    let out = run_ok(display(
        &[
            "--server",
            &srv.url(),
            "--device",
            file.to_str().unwrap(),
            "--fb-geometry",
            "480x800x16",
            "--at",
            at,
            "--frames",
            "3",
            "--stats",
        ],
        &[],
    ));
    let f = frames(&out.stdout);
    assert_eq!(f.len(), 3);
    assert_eq!(f[0].0, 800);
    for (i, (written, _)) in f.iter().enumerate().skip(1) {
        assert!(
            *written > 20 && *written < 200,
            "frame {}: {written} rows rewritten (expected only countdown and clock rows)",
            i + 1
        );
    }
    // The file now holds the third second: the snapshot one second later is the same picture.
    let later = snapshot(&srv, "fb_reference_2s", "2025-11-05T15:36:02Z", &[]);
    let img = decode(&file, 480, 800, 16, 960);
    let (differ, _) = diff(&img, &later);
    assert_eq!(
        differ, 0,
        "the third frame on the panel is the snapshot at +2 s"
    );
}

/// The frames a running display leaves on the panel, drawn by repainting and rewriting only
/// what changed, are byte for byte the frame a fresh process writes whole at the same second:
/// for every rotation, across a status change (16 → 15 minutes: "Starting soon", the box turns
/// black), a new minute and a pixel-shift step, written through a shared mapping (as a device)
/// and with positioned writes.
#[test]
fn changed_rectangles_only_and_the_panel_equals_a_whole_frame() {
    let srv = server(&standup(), "2025-11-05T15:43:55Z");
    let dir = tempfile::tempdir().unwrap();
    let shift = [
        ("CALENDARBOT_DISPLAY__PIXEL_SHIFT_PX", "2"),
        ("CALENDARBOT_DISPLAY__PIXEL_SHIFT_MINS", "1"),
    ];
    for (rot, mmap) in [(0u32, true), (90, false), (180, false), (270, true)] {
        let run = |name: &str, at: &str, frames: &str, mmap: bool| {
            let file = dir.path().join(format!("{name}-{rot}-{at}-{frames}"));
            let mut args: Vec<String> = [
                "--server",
                &srv.url(),
                "--device",
                file.to_str().unwrap(),
                "--fb-geometry",
                "480x800x32",
                "--rotate",
                &rot.to_string(),
                "--at",
                at,
                "--frames",
                frames,
                "--stats",
            ]
            .map(String::from)
            .to_vec();
            if mmap {
                args.push("--fb-mmap".into());
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = run_ok(display(&args, &shift));
            (std::fs::read(&file).unwrap(), frames_painted(&out.stdout))
        };
        // Compared after 4 ticks, the status change and 10 ticks.
        let mut f = Vec::new();
        for (n, last) in [(4, "15:43:58"), (7, "15:44:01"), (10, "15:44:04")] {
            let (ticked, stats) = run("ticked", "2025-11-05T15:43:55Z", &n.to_string(), mmap);
            let (whole, _) = run("whole", &format!("2025-11-05T{last}Z"), "1", !mmap);
            assert!(
                ticked == whole,
                "rotation {rot}: the panel after {n} ticking frames differs from a whole frame"
            );
            f = stats;
        }
        assert_eq!(f[0], (800, 480 * 800), "the first frame is written whole");
        // 15:44:00: the shift steps (everything moves, all rows are rewritten); 15:44:01:
        // "Starting soon" (the status line and the countdown box change).
        assert_eq!(
            f[5].0, 800,
            "rotation {rot}: the shift step rewrites the panel"
        );
        for (i, &(written, painted)) in f.iter().enumerate().skip(1) {
            if i == 5 || i == 6 {
                continue;
            }
            assert!(
                painted < 480 * 800 / 4,
                "rotation {rot} frame {}: {painted} px repainted",
                i + 1
            );
            if rot == 0 || rot == 180 {
                assert!(
                    written > 20 && written < 200,
                    "rotation {rot} frame {}: {written} rows rewritten",
                    i + 1
                );
            } else {
                assert!(written < 800, "rotation {rot} frame {}", i + 1);
            }
        }
    }
}

/// Per-frame (rows written, canvas pixels repainted) of `--stats`.
fn frames_painted(stdout: &[u8]) -> Vec<(u32, u64)> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter(|l| l.starts_with("frame="))
        .map(|l| {
            let field = |k: &str| {
                l.split_whitespace()
                    .find_map(|f| f.strip_prefix(k))
                    .unwrap_or_else(|| panic!("no {k} in {l:?}"))
                    .parse::<u64>()
                    .unwrap()
            };
            (field("written=") as u32, field("painted="))
        })
        .collect()
}

/// Run the display loop in the background on a file; returns the child.
fn spawn_loop(srv_url: &str, file: &Path, config: &Path, frames: &str) -> std::process::Child {
    display(
        &[
            "--config",
            config.to_str().unwrap(),
            "--server",
            srv_url,
            "--device",
            file.to_str().unwrap(),
            "--fb-geometry",
            "480x800x32",
            "--frames",
            frames,
            "--stats",
        ],
        &[],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("spawn display")
}

#[test]
fn loop_posts_heartbeats_and_shows_reconnecting_when_the_server_goes_away() {
    let mut srv = server(&standup(), "2025-11-05T15:36:00Z");
    let c = support::client();
    let health = c.get(srv.bin.url("/api/health")).send().unwrap();
    let before: serde_json::Value = health.json().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    std::fs::write(&cfg, "[display]\npoll_secs = 5\n").unwrap();
    let file = dir.path().join("fb");
    let child = spawn_loop(&srv.url(), &file, &cfg, "14");
    // The heartbeat is posted at start: the display probe moves.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let v: serde_json::Value = c
            .get(srv.bin.url("/api/health"))
            .send()
            .unwrap()
            .json()
            .unwrap();
        if v["display_probe"] != before["display_probe"]
            && v["display_probe"]["last_render_probe_iso"].is_string()
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no heartbeat seen in /api/health: {}",
            v["display_probe"]
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(2));
    srv.bin.stop();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let f = frames(&out.stdout);
    assert_eq!(f.len(), 14, "{}", String::from_utf8_lossy(&out.stdout));
    assert!(f[0].1, "online at first");
    let first_offline = f.iter().position(|x| !x.1);
    let Some(i) = first_offline else {
        panic!(
            "never showed reconnecting: {:?}\n{}",
            f,
            String::from_utf8_lossy(&out.stderr)
        )
    };
    assert!(f[i].0 > 100, "the switch to reconnecting redraws most rows");
    // The panel shows the banner and the dimmed meeting.
    let img = decode(&file, 480, 800, 32, 1920);
    assert!(
        dark_fraction(&img, 5, 60, 10) > 0.8,
        "no banner on the panel"
    );
    assert!(!main_has(&img, 0x22), "not dimmed");
}

#[test]
fn tap_on_skip_button_skips_the_meeting() {
    let ics = calendar(&[
        vevent(
            "first@test",
            ":20251105T160000Z",
            ":20251105T163000Z",
            "Team standup",
            "Room 4",
        ),
        vevent(
            "second@test",
            ":20251105T180000Z",
            ":20251105T190000Z",
            "Design review",
            "Room 5",
        ),
    ]);
    let srv = server(&ics, "2025-11-05T15:36:00Z");
    // Where the button is: a snapshot with touch on shows it; find its rows (#eee fill).
    let snap_out = out_dir().join("touch.png");
    run_ok(display(
        &[
            "--server",
            &srv.url(),
            "--snapshot",
            snap_out.to_str().unwrap(),
            "--at",
            "2025-11-05T15:36:00Z",
        ],
        &[("CALENDARBOT_DISPLAY__TOUCH", "true")],
    ));
    let img = read_png(&snap_out);
    assert_golden("touch_skip_button", &img);
    let rows: Vec<u32> = (0..img.h)
        .filter(|&y| img.rgb[((y * img.w + 240) * 3) as usize] == 0xee)
        .collect();
    assert!(!rows.is_empty(), "no skip button drawn with touch on");
    let y = rows[rows.len() / 2];
    // A file of evdev events: one tap in the button's middle.
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events");
    std::fs::write(
        &events,
        calendarbot::display::touch::encode_tap(240, y as i32),
    )
    .unwrap();
    let cfg = dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "[display]\ntouch = true\ntouch_device = \"{}\"\n",
            events.display()
        ),
    )
    .unwrap();
    let child = spawn_loop(&srv.url(), &dir.path().join("fb"), &cfg, "3");
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = support::client()
        .get(srv.bin.url("/api/whats-next"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        v["meeting"]["subject"],
        "Design review",
        "the tapped meeting was not skipped; display log:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn bad_display_config_is_one_line() {
    let out = display(
        &["--snapshot", "/dev/null"],
        &[("CALENDARBOT_DISPLAY__ROTATION", "45")],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "invalid configuration: display.rotation = 45: expected 0, 90, 180 or 270"
    );
    // No framebuffer: a clear error naming the path, exit 2.
    let out = display(&["--device", "/nonexistent/fb9"], &[])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("/nonexistent/fb9"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---- the systemd unit ------------------------------------------------------------------------

const UNIT: &str = "overlays/etc/systemd/system/calendarbot-display.service";

/// A root tree for systemd-analyze: the host's units, the overlay, the binary.
fn analyze_root() -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    std::fs::create_dir_all(r.join("usr/lib/systemd")).unwrap();
    std::fs::create_dir_all(r.join("usr/bin")).unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (from, to) in [
        (
            PathBuf::from("/usr/lib/systemd/system"),
            r.join("usr/lib/systemd/"),
        ),
        (repo.join("overlays/."), r.to_path_buf()),
    ] {
        let st = Command::new("cp")
            .arg("-a")
            .arg(&from)
            .arg(&to)
            .status()
            .unwrap();
        assert!(st.success(), "cp {}", from.display());
    }
    std::fs::copy(
        env!("CARGO_BIN_EXE_calendarbot"),
        r.join("usr/bin/calendarbot"),
    )
    .unwrap();
    root
}

fn analyze(root: &Path, args: &[&str]) -> String {
    let out = Command::new("systemd-analyze")
        .args(args)
        .arg(format!("--root={}", root.display()))
        .arg("calendarbot-display.service")
        .output()
        .expect("systemd-analyze");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn display_unit_verifies_and_is_sandboxed() {
    let root = analyze_root();
    let printed = analyze(root.path(), &["verify"]);
    assert!(
        printed.trim().is_empty(),
        "systemd-analyze verify printed:\n{printed}"
    );
    // verify is worth something here: a bad key is reported.
    let unit = root
        .path()
        .join("etc/systemd/system/calendarbot-display.service");
    let good = std::fs::read_to_string(&unit).unwrap();
    std::fs::write(&unit, good.replace("WatchdogSec=", "WatchdogSecs=")).unwrap();
    assert!(analyze(root.path(), &["verify"]).contains("Unknown key 'WatchdogSecs'"));
    std::fs::write(&unit, &good).unwrap();

    let all = analyze(root.path(), &["security", "--offline=true", "--no-pager"]);
    let line = all
        .lines()
        .find(|l| l.contains("Overall exposure level for calendarbot-display.service"))
        .unwrap_or_else(|| panic!("no exposure line:\n{all}"));
    let exposure: f64 = line
        .split(':')
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap();
    let docs =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/display.md"))
            .unwrap();
    let documented: f64 = docs
        .lines()
        .find(|l| l.starts_with("Security exposure:"))
        .and_then(|l| l.split("**").nth(1))
        .and_then(|n| n.trim().parse().ok())
        .expect("docs/display.md has a 'Security exposure: **N**' line");
    println!("display unit exposure {exposure} (documented {documented})");
    assert!(exposure <= documented && documented <= 2.0, "{all}");

    // The contract of the issue, key by key.
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(UNIT)).unwrap();
    let values = |key: &str| -> Vec<String> {
        text.lines()
            .filter_map(|l| l.strip_prefix(&format!("{key}=")))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(values("Type"), ["notify"]);
    assert_eq!(values("ExecStart"), ["/usr/bin/calendarbot display"]);
    assert_eq!(values("ConditionPathExistsGlob"), ["/dev/fb*"]);
    assert!(values("After")[0].contains("calendarbot.service"));
    assert!(values("Wants")[0].contains("calendarbot.service"));
    assert!(!values("WatchdogSec").is_empty() && !values("MemoryMax").is_empty());
    assert_eq!(values("DevicePolicy"), ["closed"]);
    assert_eq!(
        values("DeviceAllow"),
        ["char-fb rw", "char-input r", "/dev/tty0 rw"],
        "framebuffer, input devices and the console only"
    );
    assert_eq!(values("IPAddressAllow"), ["localhost"]);
    // Enabled in the image by a stored symlink, as calendarbot.service is.
    let link = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("overlays/etc/systemd/system/multi-user.target.wants/calendarbot-display.service");
    assert_eq!(
        std::fs::read_link(link).unwrap(),
        Path::new("/etc/systemd/system/calendarbot-display.service")
    );
}
