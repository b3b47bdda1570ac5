//! Taps from an evdev touch screen (`display.touch = true`), for the skip button.
//!
//! A blocking reader thread turns the kernel's `input_event` records into taps: the last
//! absolute position (single-touch `ABS_X/ABS_Y` or multi-touch `ABS_MT_POSITION_*`) when
//! `BTN_TOUCH` is released, scaled from the axis range (EVIOCGABS) to the panel's pixels.
//! Plain reads, no crate: a record is a `struct input_event` whose tail is type, code, value.
//! A regular file of records stands in for the device in tests (no range: raw = pixels).

use crate::sys::fbdev as sys;
use std::fs::File;
use std::io::Read;
use std::path::Path;
use tokio::sync::mpsc;

const EV_KEY: u16 = 1;
const EV_ABS: u16 = 3;
const ABS_X: u16 = 0x00;
const ABS_Y: u16 = 0x01;
const ABS_MT_POSITION_X: u16 = 0x35;
const ABS_MT_POSITION_Y: u16 = 0x36;
const BTN_TOUCH: u16 = 0x14a;

/// A tap at panel pixel (x, y), before rotation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tap {
    /// Column on the panel.
    pub x: f32,
    /// Row on the panel.
    pub y: f32,
}

/// Turns input events into taps.
#[derive(Debug, Clone)]
pub struct TapDecoder {
    x_range: Option<(i32, i32)>,
    y_range: Option<(i32, i32)>,
    panel: (u32, u32),
    x: Option<i32>,
    y: Option<i32>,
}

impl TapDecoder {
    /// A decoder for a `panel`-sized screen with the axes' ranges, if known.
    pub fn new(
        panel: (u32, u32),
        x_range: Option<(i32, i32)>,
        y_range: Option<(i32, i32)>,
    ) -> Self {
        TapDecoder {
            x_range,
            y_range,
            panel,
            x: None,
            y: None,
        }
    }

    fn scale(v: i32, range: Option<(i32, i32)>, size: u32) -> f32 {
        match range {
            Some((lo, hi)) if hi > lo => {
                (v - lo) as f32 * (size.saturating_sub(1)) as f32 / (hi - lo) as f32
            }
            _ => v as f32,
        }
    }

    /// Feed one event; a tap when a touch ends.
    pub fn event(&mut self, kind: u16, code: u16, value: i32) -> Option<Tap> {
        match (kind, code) {
            (EV_ABS, ABS_X | ABS_MT_POSITION_X) => self.x = Some(value),
            (EV_ABS, ABS_Y | ABS_MT_POSITION_Y) => self.y = Some(value),
            (EV_KEY, BTN_TOUCH) if value == 0 => {
                let (x, y) = (self.x?, self.y?);
                return Some(Tap {
                    x: Self::scale(x, self.x_range, self.panel.0),
                    y: Self::scale(y, self.y_range, self.panel.1),
                });
            }
            _ => {}
        }
        None
    }
}

/// Size of one `struct input_event` on this target.
pub const EVENT_SIZE: usize = std::mem::size_of::<libc::input_event>();

/// One record's (type, code, value): the last 8 bytes of the struct.
pub fn parse_event(rec: &[u8]) -> (u16, u16, i32) {
    let t = rec.len() - 8;
    (
        u16::from_ne_bytes([rec[t], rec[t + 1]]),
        u16::from_ne_bytes([rec[t + 2], rec[t + 3]]),
        i32::from_ne_bytes([rec[t + 4], rec[t + 5], rec[t + 6], rec[t + 7]]),
    )
}

/// Start the reader thread on `path`; taps arrive on the returned channel. It ends at the
/// end of a regular file or when the device goes away (logged).
pub fn spawn(path: &Path, panel: (u32, u32)) -> std::io::Result<mpsc::Receiver<Tap>> {
    let mut file = File::open(path)?;
    let xr = sys::evdev_abs_range(&file, ABS_MT_POSITION_X)
        .or_else(|_| sys::evdev_abs_range(&file, ABS_X))
        .ok();
    let yr = sys::evdev_abs_range(&file, ABS_MT_POSITION_Y)
        .or_else(|_| sys::evdev_abs_range(&file, ABS_Y))
        .ok();
    tracing::info!(device = %path.display(), x_range = ?xr, y_range = ?yr, "touch input");
    let (tx, rx) = mpsc::channel(8);
    let mut dec = TapDecoder::new(panel, xr, yr);
    let name = path.display().to_string();
    std::thread::Builder::new()
        .name("touch".into())
        .spawn(move || {
            let mut buf = vec![0u8; EVENT_SIZE * 16];
            loop {
                match file.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        for rec in buf[..n].chunks_exact(EVENT_SIZE) {
                            let (k, c, v) = parse_event(rec);
                            if let Some(tap) = dec.event(k, c, v)
                                && tx.blocking_send(tap).is_err()
                            {
                                return;
                            }
                        }
                    }
                    Err(e) => {
                        tracing::warn!(device = %name, error = %e, "touch input stopped");
                        break;
                    }
                }
            }
        })?;
    Ok(rx)
}

/// Encode one event record (for tests that write a file of events).
pub fn encode_event(kind: u16, code: u16, value: i32) -> Vec<u8> {
    let mut rec = vec![0u8; EVENT_SIZE];
    let t = EVENT_SIZE - 8;
    rec[t..t + 2].copy_from_slice(&kind.to_ne_bytes());
    rec[t + 2..t + 4].copy_from_slice(&code.to_ne_bytes());
    rec[t + 4..].copy_from_slice(&value.to_ne_bytes());
    rec
}

/// A complete tap at (x, y) as a touch screen reports it.
pub fn encode_tap(x: i32, y: i32) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend(encode_event(EV_KEY, BTN_TOUCH, 1));
    v.extend(encode_event(EV_ABS, ABS_X, x));
    v.extend(encode_event(EV_ABS, ABS_Y, y));
    v.extend(encode_event(0, 0, 0));
    v.extend(encode_event(EV_KEY, BTN_TOUCH, 0));
    v.extend(encode_event(0, 0, 0));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_a_tap_and_scales_it() {
        let mut d = TapDecoder::new((480, 800), Some((0, 4095)), Some((0, 4095)));
        let bytes = encode_tap(4095, 2048);
        let taps: Vec<Tap> = bytes
            .chunks_exact(EVENT_SIZE)
            .filter_map(|r| {
                let (k, c, v) = parse_event(r);
                d.event(k, c, v)
            })
            .collect();
        assert_eq!(taps.len(), 1);
        assert!((taps[0].x - 479.0).abs() < 0.01);
        assert!((taps[0].y - 399.6).abs() < 0.5);
    }
}
