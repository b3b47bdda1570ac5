#!/usr/bin/env python3
"""Soak test: the real binary under a kiosk's traffic for MINUTES, sampled for leaks.

Usage: ci/soak.py MINUTES BINARY OUT_DIR

BINARY is a test build (`--features fault-injection`: 1 s refresh interval). On 127.0.0.1
only, this script
- serves a feed that changes every 3 s, with faults sprinkled in (a 500, a garbage body, a
  slow answer, a refused connection) about one fetch in eight;
- plays the kiosk (whats-next every second, a heartbeat every 5 s) plus a mix of every other
  route: events, done-for-day, health, status, metrics, the voice routes, skips and clears;
- samples every 2 s: RSS (anonymous and file), open fds, threads, pooled SQLite connections,
  HTTP requests in flight, cache entries and bytes, SQLite + WAL size;
- writes OUT_DIR/soak.csv and OUT_DIR/soak.png (one panel per figure);
- fails (exit 1) when a figure trends up after warm-up beyond its noise band: the median of
  the last third of the samples against the median of the first third after warm-up.

The bands (what is noise, not a leak) are stated in BANDS below and in docs/operations.md.
"""

import csv
import http.server as httpserver
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime, timedelta, timezone

# figure -> (absolute slack, relative slack): growth beyond both fails.
BANDS = {
    "rss_anon_kib": (2048, 0.10),
    "rss_file_kib": (2048, 0.10),
    "fds": (4, 0.0),
    "threads": (2, 0.0),
    "sqlite_open": (1, 0.0),
    "http_in_flight": (2, 0.0),
    "cache_entries": (64, 0.0),
    "cache_bytes": (256 * 1024, 0.0),
    "db_bytes": (512 * 1024, 0.25),
}
SAMPLE_EVERY = 2.0
TOKEN = "soak-token"


def feed_body(generation):
    """A calendar that changes with `generation`: a few meetings around now."""
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    fmt = "%Y%m%dT%H%M%SZ"
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//soak//EN"]
    for i in range(12):
        start = now + timedelta(minutes=15 * i - 30 + generation % 7)
        lines += [
            "BEGIN:VEVENT",
            f"UID:soak-{i}",
            f"DTSTAMP:{now.strftime(fmt)}",
            f"DTSTART:{start.strftime(fmt)}",
            f"DTEND:{(start + timedelta(minutes=25)).strftime(fmt)}",
            f"SUMMARY:Soak meeting {i} v{generation}",
            "LOCATION:Room 1",
            "END:VEVENT",
        ]
    lines += [
        "BEGIN:VEVENT",
        "UID:soak-weekly",
        f"DTSTAMP:{now.strftime(fmt)}",
        f"DTSTART:{(now - timedelta(days=30)).strftime(fmt)}",
        "DURATION:PT30M",
        "RRULE:FREQ=WEEKLY;BYDAY=MO,WE,FR",
        "SUMMARY:Weekly sync",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return ("\r\n".join(lines) + "\r\n").encode()


class Feed(httpserver.BaseHTTPRequestHandler):
    started = time.monotonic()
    fetches = 0

    def log_message(self, *args):
        pass

    def do_GET(self):
        Feed.fetches += 1
        roll = random.random()
        if roll < 0.04:
            self.send_response(500)
            self.end_headers()
            self.wfile.write(b"boom")
            return
        if roll < 0.08:
            body = b"this is not a calendar"
        elif roll < 0.12:
            time.sleep(1.5)
            body = feed_body(int((time.monotonic() - Feed.started) // 3))
        else:
            body = feed_body(int((time.monotonic() - Feed.started) // 3))
        self.send_response(200)
        self.send_header("Content-Type", "text/calendar")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(base, path, method="GET", body=None, headers=None):
    req = urllib.request.Request(base + path, method=method, data=body)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def proc_status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def kib(v):
    return int(v.split()[0])


def sample(pid, base, data_dir, t0):
    st = proc_status(pid)
    _, raw = http(base, "/api/status/optimization")
    opt = json.loads(raw)
    sqlite = opt["pools"]["sqlite"] or {}
    http_pool = opt["pools"]["http"] or {}
    db = sum(
        os.path.getsize(os.path.join(data_dir, n))
        for n in os.listdir(data_dir)
        if n.startswith("calendarbot.db")
    )
    return {
        "t_s": round(time.monotonic() - t0, 1),
        "rss_anon_kib": kib(st["RssAnon"]),
        "rss_file_kib": kib(st["RssFile"]),
        "fds": len(os.listdir(f"/proc/{pid}/fd")),
        "threads": int(st["Threads"]),
        "sqlite_open": sqlite.get("readers", {}).get("open", 0)
        + sqlite.get("writer", {}).get("open", 0),
        "http_in_flight": http_pool.get("in_flight", 0),
        "cache_entries": opt["cache"]["entries"],
        "cache_bytes": opt["cache"]["weighted_bytes"],
        "db_bytes": db,
    }


def traffic(base, stop, errors):
    """The kiosk's polling plus a mix of every route, until `stop` is set."""
    auth = {"Authorization": f"Bearer {TOKEN}"}
    json_h = {"Content-Type": "application/json"}
    n = 0
    while not stop.is_set():
        n += 1
        calls = [("GET", "/api/whats-next", None, None)]
        if n % 5 == 0:
            calls.append(("POST", "/api/browser-heartbeat", b"", None))
        mix = [
            ("GET", "/api/events", None, None),
            ("GET", "/api/done-for-day?tz=Europe/Berlin", None, None),
            ("GET", "/api/health", None, None),
            ("GET", "/metrics", None, None),
            ("GET", "/api/alexa/next-meeting", None, auth),
            ("GET", "/api/alexa/time-until-next", None, auth),
            ("GET", "/api/alexa/done-for-day", None, auth),
            ("GET", "/api/alexa/launch-summary", None, auth),
            ("GET", "/api/alexa/morning-summary", None, auth),
            ("POST", "/api/morning-summary", b"{}", json_h),
        ]
        calls.append(random.choice(mix))
        if n % 7 == 0:
            body = json.dumps({"meeting_id": f"soak-{n % 12}_x{n}"}).encode()
            calls.append(("POST", "/api/skip", body, json_h))
        if n % 31 == 0:
            calls.append(("DELETE", "/api/skip", None, None))
        for method, path, body, headers in calls:
            try:
                code, _ = http(base, path, method, body, headers)
            except Exception as e:  # a refused or reset connection is a failure here
                errors.append(f"{method} {path}: {e}")
                continue
            # Health says 503 while the feed's faults keep the data older than 3 intervals:
            # an answer, not a failure.
            if code >= 500 and not (path == "/api/health" and code == 503):
                errors.append(f"{method} {path}: {code}")
        stop.wait(1.0)


def median_of(rows, key):
    return statistics.median(r[key] for r in rows)


def max_of(rows, key):
    return max(r[key] for r in rows)


def verdicts(rows, warmup_s):
    after = [r for r in rows if r["t_s"] >= warmup_s]
    if len(after) < 9:
        return [("samples", False, f"only {len(after)} samples after warm-up")]
    third = len(after) // 3
    first, last = after[:third], after[-third:]
    out = []
    for key, (abs_slack, rel_slack) in BANDS.items():
        # The WAL grows and is checkpointed in a sawtooth: compare its peaks, not medians.
        pick = max_of if key == "db_bytes" else median_of
        a, b = pick(first, key), pick(last, key)
        allowed = max(abs_slack, a * rel_slack)
        out.append((key, b - a <= allowed, f"{a:.0f} -> {b:.0f} (allowed +{allowed:.0f})"))
    return out


def plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = list(BANDS)
    fig, axes = plt.subplots(len(keys), 1, figsize=(8, 2 * len(keys)), sharex=True)
    t = [r["t_s"] for r in rows]
    for ax, key in zip(axes, keys):
        ax.plot(t, [r[key] for r in rows], lw=1)
        ax.set_ylabel(key, fontsize=8)
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("seconds")
    fig.tight_layout()
    fig.savefig(path, dpi=80)


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    minutes, binary, out_dir = float(sys.argv[1]), sys.argv[2], sys.argv[3]
    os.makedirs(out_dir, exist_ok=True)
    duration = minutes * 60
    warmup_s = min(60.0, duration / 5)

    feed = httpserver.ThreadingHTTPServer(("127.0.0.1", 0), Feed)
    threading.Thread(target=feed.serve_forever, daemon=True).start()
    data_dir = tempfile.mkdtemp(prefix="calendarbot-soak-")
    port = free_port()
    env = dict(
        os.environ,
        CALENDARBOT_ICS_URL=f"http://127.0.0.1:{feed.server_address[1]}/cal.ics",
        CALENDARBOT_REFRESH_INTERVAL="1",
        CALENDARBOT_WEB_PORT=str(port),
        CALENDARBOT_DATA_DIR=data_dir,
        CALENDARBOT_ALEXA_BEARER_TOKEN=TOKEN,
        CALENDARBOT_FETCH__MAX_RETRIES="0",
        CALENDARBOT_FETCH__TIMEOUT_SECS="5",
        CALENDARBOT_LOG_LEVEL="warn",
        CALENDARBOT_DEFAULT_TIMEZONE="Europe/Berlin",
    )
    log = open(os.path.join(out_dir, "soak.log"), "w")
    child = subprocess.Popen([binary, "serve"], env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            if http(base, "/api/health")[0] in (200, 503):
                break
        except Exception:
            time.sleep(0.1)
    else:
        child.kill()
        print("soak: the binary did not answer", file=sys.stderr)
        return 1

    stop, errors, rows = threading.Event(), [], []
    workers = [threading.Thread(target=traffic, args=(base, stop, errors)) for _ in range(2)]
    for w in workers:
        w.start()
    t0 = time.monotonic()
    try:
        while time.monotonic() - t0 < duration:
            if child.poll() is not None:
                errors.append(f"the binary exited ({child.returncode})")
                break
            rows.append(sample(child.pid, base, data_dir, t0))
            time.sleep(SAMPLE_EVERY)
    finally:
        stop.set()
        for w in workers:
            w.join()
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
        feed.shutdown()
        shutil.rmtree(data_dir, ignore_errors=True)

    csv_path = os.path.join(out_dir, "soak.csv")
    with open(csv_path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    plot(rows, os.path.join(out_dir, "soak.png"))

    ok = True
    print(f"soak: {duration / 60:.1f} min, {len(rows)} samples, {Feed.fetches} feed fetches, "
          f"warm-up {warmup_s:.0f} s; {csv_path} and soak.png")
    for key, good, text in verdicts(rows, warmup_s):
        ok &= good
        print(f"  {key:<15} {'ok  ' if good else 'LEAK'} {text}")
    if errors:
        ok = False
        print(f"  {len(errors)} failed requests, first: {errors[:3]}")
    exit_code = child.returncode
    if exit_code not in (0, None):
        ok = False
        print(f"  the binary exited {exit_code} after SIGTERM")
    print("soak: PASS" if ok else "soak: FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
