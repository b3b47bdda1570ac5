//! `[display]`: the settings of `calendarbot display` (the framebuffer kiosk), kept here so
//! `src/config.rs` only carries the field and one call to [`DisplayConfig::validate`].
//!
//! Every key has a default that works on a Pi with one screen: `/dev/fb0`, no rotation, on
//! around the clock, no pixel shift, no touch. Values that cannot work are refused at start
//! with the project's one-line error naming the key, the value and what is allowed.

use super::ConfigError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Weekday keys of `display.on_hours`, Monday first (chrono's `num_days_from_monday`).
pub const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// The `[display]` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DisplayConfig {
    /// Framebuffer device (`/dev/fb0` is HDMI through vc4's fbdev emulation; SPI panels driven
    /// by fbtft are usually `/dev/fb1`). A regular file stands in for a device when
    /// `geometry` is set (tests, benchmarks).
    pub device: String,
    /// `WxHxBPP[+STRIDE]` for a regular file standing in for the device; empty = ask the
    /// device (FBIOGET_VSCREENINFO / FBIOGET_FSCREENINFO).
    pub geometry: String,
    /// Clockwise rotation of the picture on the panel: 0, 90, 180 or 270.
    pub rotation: u16,
    /// Base URL of the server's API; empty = `http://{web_host}:{web_port}` (0.0.0.0 and ::
    /// are reached through loopback).
    pub server: String,
    /// Screen on-hours per weekday (`mon` … `sun`): `"HH:MM-HH:MM"` (end may be 24:00),
    /// `"on"` (all day) or `"off"`. A missing day is on all day.
    pub on_hours: BTreeMap<String, String>,
    /// Within the on-hours, keep the screen on only from `wake_before_mins` before the day's
    /// first meeting until `sleep_after_mins` after its last one ends.
    pub follow_meetings: bool,
    /// Minutes the screen wakes before the day's first meeting (with `follow_meetings`).
    pub wake_before_mins: u32,
    /// Minutes the screen stays on after the day's last meeting ends (with `follow_meetings`).
    pub sleep_after_mins: u32,
    /// Move the whole picture by up to this many pixels (0 = off) against burn-in …
    pub pixel_shift_px: u32,
    /// … one step every this many minutes.
    pub pixel_shift_mins: u32,
    /// Tap on the "Skip this meeting" button skips the meeting (evdev touch screen).
    pub touch: bool,
    /// Touch input device (evdev).
    pub touch_device: String,
    /// Seconds between polls of /api/whats-next (the page polls every 60 s).
    pub poll_secs: u32,
}

impl Default for DisplayConfig {
    fn default() -> Self {
        DisplayConfig {
            device: "/dev/fb0".into(),
            geometry: String::new(),
            rotation: 0,
            server: String::new(),
            on_hours: BTreeMap::new(),
            follow_meetings: false,
            wake_before_mins: 30,
            sleep_after_mins: 15,
            pixel_shift_px: 0,
            pixel_shift_mins: 5,
            touch: false,
            touch_device: "/dev/input/event0".into(),
            poll_secs: 60,
        }
    }
}

/// A parsed on-hours value: minutes after local midnight, `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OnHours {
    /// First minute on.
    pub start: u32,
    /// First minute off (1440 = midnight at the end of the day).
    pub end: u32,
}

impl OnHours {
    /// All day.
    pub const ALWAYS: OnHours = OnHours {
        start: 0,
        end: 1440,
    };
    /// Not at all.
    pub const NEVER: OnHours = OnHours { start: 0, end: 0 };

    /// `"HH:MM-HH:MM"`, `"on"` or `"off"`.
    pub fn parse(s: &str) -> Option<OnHours> {
        let s = s.trim();
        match s {
            "on" => return Some(Self::ALWAYS),
            "off" => return Some(Self::NEVER),
            _ => {}
        }
        let (a, b) = s.split_once('-')?;
        let hm = |t: &str| -> Option<u32> {
            let (h, m) = t.trim().split_once(':')?;
            let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
            (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(h * 60 + m)
        };
        let (start, end) = (hm(a)?, hm(b)?);
        (start < end).then_some(OnHours { start, end })
    }

    /// Whether minute-of-day `m` is inside.
    pub fn contains(&self, m: u32) -> bool {
        self.start <= m && m < self.end
    }
}

/// `WxHxBPP[+STRIDE]` as given in `display.geometry` or `--fb-geometry`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GeometrySpec {
    /// Visible width.
    pub width: u32,
    /// Visible height.
    pub height: u32,
    /// 16, 24 or 32.
    pub bpp: u32,
    /// Bytes per row; `None` = width × bytes per pixel.
    pub stride: Option<u32>,
}

impl GeometrySpec {
    /// Parse `480x800x16` or `480x800x32+2048`.
    pub fn parse(s: &str) -> Option<GeometrySpec> {
        let (dims, stride) = match s.split_once('+') {
            Some((d, st)) => (d, Some(st.parse::<u32>().ok()?)),
            None => (s, None),
        };
        let mut it = dims.split('x');
        let width: u32 = it.next()?.parse().ok()?;
        let height: u32 = it.next()?.parse().ok()?;
        let bpp: u32 = it.next()?.parse().ok()?;
        if it.next().is_some()
            || !(1..=8192).contains(&width)
            || !(1..=8192).contains(&height)
            || !matches!(bpp, 16 | 24 | 32)
        {
            return None;
        }
        if let Some(st) = stride
            && st < width * bpp / 8
        {
            return None;
        }
        Some(GeometrySpec {
            width,
            height,
            bpp,
            stride,
        })
    }
}

fn invalid(key: &str, value: String, allowed: &str) -> ConfigError {
    ConfigError::Invalid {
        key: format!("display.{key}"),
        value,
        allowed: allowed.to_string(),
    }
}

impl DisplayConfig {
    /// Refuse values that cannot work; the error names key, value and what is allowed.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.device.trim().is_empty() {
            return Err(invalid(
                "device",
                "\"\"".into(),
                "expected a framebuffer device path such as /dev/fb0",
            ));
        }
        if !self.geometry.is_empty() && GeometrySpec::parse(&self.geometry).is_none() {
            return Err(invalid(
                "geometry",
                format!("{:?}", self.geometry),
                "expected WxHxBPP[+STRIDE] with BPP 16, 24 or 32 (e.g. 480x800x16), or empty",
            ));
        }
        if !matches!(self.rotation, 0 | 90 | 180 | 270) {
            return Err(invalid(
                "rotation",
                self.rotation.to_string(),
                "expected 0, 90, 180 or 270",
            ));
        }
        let server_ok = self.server.is_empty()
            || (self.server.starts_with("http://") && self.server.len() > "http://".len());
        if !server_ok {
            return Err(invalid(
                "server",
                format!("{:?}", self.server),
                "expected an http:// URL such as http://127.0.0.1:8080, or empty",
            ));
        }
        for (day, hours) in &self.on_hours {
            if !WEEKDAYS.contains(&day.as_str()) {
                return Err(invalid(
                    &format!("on_hours.{day}"),
                    format!("{hours:?}"),
                    "expected a weekday key: mon, tue, wed, thu, fri, sat or sun",
                ));
            }
            if OnHours::parse(hours).is_none() {
                return Err(invalid(
                    &format!("on_hours.{day}"),
                    format!("{hours:?}"),
                    "expected \"HH:MM-HH:MM\" (start before end, end up to 24:00), \"on\" or \"off\"",
                ));
            }
        }
        let range = |key: &str, v: u32, lo: u32, hi: u32| {
            if v < lo || v > hi {
                Err(invalid(
                    key,
                    v.to_string(),
                    &format!("expected an integer {lo}-{hi}"),
                ))
            } else {
                Ok(())
            }
        };
        range("wake_before_mins", self.wake_before_mins, 0, 720)?;
        range("sleep_after_mins", self.sleep_after_mins, 0, 720)?;
        range("pixel_shift_px", self.pixel_shift_px, 0, 16)?;
        range("pixel_shift_mins", self.pixel_shift_mins, 1, 1440)?;
        range("poll_secs", self.poll_secs, 5, 3600)?;
        if self.touch && self.touch_device.trim().is_empty() {
            return Err(invalid(
                "touch_device",
                "\"\"".into(),
                "expected an evdev device path such as /dev/input/event0",
            ));
        }
        Ok(())
    }

    /// The on-hours of weekday `idx` (0 = Monday).
    pub fn hours_for(&self, idx: usize) -> OnHours {
        WEEKDAYS
            .get(idx)
            .and_then(|d| self.on_hours.get(*d))
            .and_then(|s| OnHours::parse(s))
            .unwrap_or(OnHours::ALWAYS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn on_hours_parse() {
        assert_eq!(
            OnHours::parse("07:30-19:00"),
            Some(OnHours {
                start: 450,
                end: 1140
            })
        );
        assert_eq!(OnHours::parse("00:00-24:00"), Some(OnHours::ALWAYS));
        assert_eq!(OnHours::parse("off"), Some(OnHours::NEVER));
        assert_eq!(OnHours::parse("19:00-07:00"), None);
        assert_eq!(OnHours::parse("24:30-25:00"), None);
        assert_eq!(OnHours::parse("7-9"), None);
    }

    #[test]
    fn geometry_parse() {
        let g = GeometrySpec::parse("480x800x16").unwrap();
        assert_eq!((g.width, g.height, g.bpp, g.stride), (480, 800, 16, None));
        assert_eq!(
            GeometrySpec::parse("480x800x32+2048").unwrap().stride,
            Some(2048)
        );
        assert!(GeometrySpec::parse("480x800x8").is_none());
        assert!(GeometrySpec::parse("480x800x32+100").is_none());
    }

    #[test]
    fn validation_names_key_value_and_allowed() {
        let c = DisplayConfig {
            rotation: 45,
            ..Default::default()
        };
        assert_eq!(
            c.validate().unwrap_err().to_string(),
            "invalid configuration: display.rotation = 45: expected 0, 90, 180 or 270"
        );
        let mut c = DisplayConfig::default();
        c.on_hours.insert("mon".into(), "9-5".into());
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .starts_with("invalid configuration: display.on_hours.mon = \"9-5\": expected")
        );
        assert!(DisplayConfig::default().validate().is_ok());
    }
}
