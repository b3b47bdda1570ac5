// calendarbot kiosk page: polls /api/whats-next every 60 s and ticks the countdown every
// second from its own monotonic clock in between; posts a heartbeat every 30 s; shows a
// "Reconnecting" banner while the server is away (and retries every 5 s until it is back).
// Above the countdown: the meeting in progress ("NOW · 12 min left"); below the card: the
// rest of today; in the footer: "Updated HH:MM" when the data is stale, "Offline · updated
// HH:MM" while the server cannot be reached. Times follow the server's time_format.
(function () {
  "use strict";
  var POLL_MS = 60000, RETRY_MS = 5000, HEARTBEAT_MS = 30000, TICK_MS = 1000;
  var data = null;          // last good /api/whats-next answer
  var polledAt = 0;         // performance.now() when it arrived
  var pollTimer = null;
  var dataAt = null;        // when the server's data was last refreshed (ms since epoch)
  var $ = function (id) { return document.getElementById(id); };

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  // Same thresholds as the server (SPEC §6), so the status line moves with the countdown.
  function statusFor(secs) {
    if (secs <= 0) return ["Meeting in progress", true, false];
    var m = Math.floor(secs / 60);
    if (m <= 2) return ["Starting very soon", true, true];
    if (m <= 15) return ["Starting soon", true, false];
    if (m <= 60) return ["Starting within the hour", false, false];
    return ["Plenty of time", false, false];
  }

  function countdownText(secs) {
    if (secs <= 0) return "NOW";
    var d = Math.floor(secs / 86400), h = Math.floor(secs % 86400 / 3600);
    var m = Math.floor(secs % 3600 / 60), s = secs % 60;
    var hms = (h > 0 || d > 0 ? h + ":" + pad(m) : m) + ":" + pad(s);
    return d > 0 ? d + "d " + hms : hms;
  }

  // "14:05" (24h, the default) or "2:05 PM" (time_format "12h"); with seconds for the clock.
  function hm(date, secs) {
    var h = date.getHours(), t = ":" + pad(date.getMinutes()) + (secs ? ":" + pad(date.getSeconds()) : "");
    if (data && data.time_format === "12h") {
      return (h % 12 === 0 ? 12 : h % 12) + t + (h < 12 ? " AM" : " PM");
    }
    return pad(h) + t;
  }

  // The server's "now" at the last poll (it may be fixed for demos): a meeting's start minus
  // seconds_until_start, or the current meeting's end minus seconds_until_end.
  function serverAtPoll() {
    var m = data && data.meeting, c = data && data.current;
    if (m) return new Date(m.start_iso).getTime() - m.seconds_until_start * 1000;
    if (c) return new Date(c.end_iso).getTime() - c.seconds_until_end * 1000;
    return null;
  }

  // The server's "now": its time at the poll plus the time elapsed here since.
  function serverNow() {
    var at = serverAtPoll();
    if (at === null) return new Date();
    return new Date(at + (performance.now() - polledAt));
  }

  function timeRange(m) {
    var start = new Date(m.start_iso);
    var end = new Date(start.getTime() + m.duration_seconds * 1000);
    var day = start.toLocaleDateString([], { weekday: "short", day: "numeric", month: "short" });
    if (m.duration_seconds > 0 && m.duration_seconds % 86400 === 0 &&
        start.getHours() === 0 && start.getMinutes() === 0) {
      return day + " \u00b7 All day";
    }
    var today = serverNow().toDateString() === start.toDateString();
    return (today ? "" : day + " \u00b7 ") + hm(start) + " \u2013 " + hm(end);
  }

  function elapsed() { return Math.floor((performance.now() - polledAt) / 1000); }

  function remaining() {
    if (!data || !data.meeting) return null;
    return Math.max(0, data.meeting.seconds_until_start - elapsed());
  }

  function tickNow() {
    var c = data && data.current;
    var left = c ? c.seconds_until_end - elapsed() : 0;
    $("now").hidden = left <= 0;
    document.body.classList.toggle("has-now", left > 0);
    if (left > 0) $("now-left").textContent = "NOW \u00b7 " + Math.ceil(left / 60) + " min left";
  }

  function tickFresh() {
    var offline = document.body.getAttribute("data-state") === "reconnecting";
    var at = dataAt === null ? "" : hm(new Date(dataAt));
    var text = "";
    if (offline) text = "Offline" + (at ? " \u00b7 updated " + at : "");
    else if (data && data.stale && at) text = "Updated " + at;
    $("fresh").textContent = text;
    $("fresh").hidden = !text;
  }

  function tick() {
    var now = serverNow();
    $("clock").textContent = now.toLocaleDateString("en-US", { weekday: "long" }) + " " + hm(now, true);
    tickNow();
    tickFresh();
    var secs = remaining();
    if (secs === null) return;
    $("countdown").textContent = countdownText(secs);
    var st = statusFor(secs);
    $("status").textContent = st[0];
    document.body.classList.toggle("urgent", st[1]);
    document.body.classList.toggle("critical", st[2]);
  }

  function render() {
    var m = data && data.meeting;
    var online = document.body.getAttribute("data-state") !== "reconnecting";
    $("card").hidden = !m;
    $("countdown-box").hidden = !m;
    $("empty").hidden = !!m;
    var c = data && data.current;
    $("now-subject").textContent = c ? (c.subject || "(no subject)") : "";
    var later = (data && data.later_today) || [];
    var list = $("later-list");
    while (list.firstChild) list.removeChild(list.firstChild);
    later.forEach(function (l) {
      var li = document.createElement("li"), t = document.createElement("span");
      t.className = "t";
      t.textContent = hm(new Date(l.start_iso));
      li.appendChild(t);
      li.appendChild(document.createTextNode(l.subject || "(no subject)"));
      list.appendChild(li);
    });
    $("later").hidden = later.length === 0;
    document.body.classList.toggle("has-later", later.length > 0);
    if (m) {
      $("subject").textContent = m.subject || "(no subject)";
      $("time").textContent = timeRange(m);
      $("location").textContent = m.location || "";
      $("location").hidden = !m.location;
      $("skip").hidden = false;
      $("skip").disabled = false;
    } else {
      $("status").textContent = data && data.status ? data.status.message : "No meetings scheduled";
      document.body.classList.remove("urgent", "critical");
    }
    if (online) document.body.setAttribute("data-state", m ? "meeting" : "empty");
    tick();
    // Data is on screen: tell whoever waits for the page (tests, the kiosk's own checks).
    document.querySelector('meta[name="calendarbot-ready"]').setAttribute("content", "1");
  }

  function setOnline(ok) {
    $("banner").hidden = ok;
    if (!ok) document.body.setAttribute("data-state", "reconnecting");
    else if (document.body.getAttribute("data-state") === "reconnecting") {
      document.body.setAttribute("data-state", "loading");
    }
  }

  function schedule(ms) {
    if (pollTimer) clearTimeout(pollTimer);
    pollTimer = setTimeout(poll, ms);
  }

  function poll() {
    fetch("/api/whats-next", { cache: "no-store" })
      .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
      .then(function (d) {
        data = d; polledAt = performance.now();
        dataAt = d.data_age_s === null || d.data_age_s === undefined ? null
          : serverNow().getTime() - d.data_age_s * 1000;
        setOnline(true); render(); schedule(POLL_MS);
      })
      .catch(function () {
        setOnline(false);
        tickFresh();
        if (!data) $("subject").textContent = "Waiting for the calendar server";
        schedule(RETRY_MS);
      });
  }

  function heartbeat() {
    fetch("/api/browser-heartbeat", { method: "POST", cache: "no-store" }).catch(function () {});
  }

  $("skip").addEventListener("click", function () {
    var m = data && data.meeting;
    if (!m) return;
    $("skip").disabled = true;
    fetch("/api/skip", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ meeting_id: m.meeting_id })
    }).then(poll, poll);
  });

  setInterval(tick, TICK_MS);
  setInterval(heartbeat, HEARTBEAT_MS);
  tick();
  poll();
  heartbeat();
})();
