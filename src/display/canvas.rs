//! The canvas: a grey picture in memory, the few primitives the kiosk's look needs (filled
//! and rounded rectangles, clipped, anti-aliased edges) and the rotation arithmetic between
//! the layout's logical pixels and the panel's physical ones.
//!
//! One byte of grey per pixel: the kiosk page is greyscale by design (its stylesheet ends in
//! `filter: grayscale(100%)`), so a grey canvas loses nothing and is a quarter of an RGBA one
//! (375 KiB at 480×800), which matters on a 512 MB Pi.

use super::font::{Fonts, Weight};

/// A grey picture, row-major, one byte a pixel (0 black, 255 white).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Canvas {
    /// Width in pixels.
    pub w: u32,
    /// Height in pixels.
    pub h: u32,
    /// `w * h` bytes.
    pub px: Vec<u8>,
}

/// A rectangle in pixels (float, so rounded corners and scaled sizes stay exact).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    /// Left.
    pub x: f32,
    /// Top.
    pub y: f32,
    /// Width.
    pub w: f32,
    /// Height.
    pub h: f32,
}

impl Rect {
    /// Whether (`x`, `y`) is inside.
    pub fn contains(&self, x: f32, y: f32) -> bool {
        x >= self.x && x < self.x + self.w && y >= self.y && y < self.y + self.h
    }
}

impl Canvas {
    /// A white canvas.
    pub fn new(w: u32, h: u32) -> Canvas {
        Canvas {
            w,
            h,
            px: vec![255; (w as usize) * (h as usize)],
        }
    }

    /// Paint everything white again (reuses the allocation).
    pub fn clear(&mut self) {
        self.px.fill(255);
    }

    #[inline]
    fn blend(&mut self, x: i32, y: i32, grey: u8, a: u8, clip: &Clip) {
        if a == 0 || x < 0 || y < 0 || x >= self.w as i32 || y >= self.h as i32 {
            return;
        }
        if y < clip.top || y >= clip.bottom {
            return;
        }
        let i = y as usize * self.w as usize + x as usize;
        let d = self.px[i] as u32;
        let v = if a == 255 {
            grey as u32
        } else {
            (d * (255 - a as u32) + grey as u32 * a as u32 + 127) / 255
        };
        self.px[i] = v as u8;
    }

    /// Fill a rounded rectangle (radius `r`), anti-aliased at its corners.
    pub fn fill_round_rect(&mut self, rc: Rect, r: f32, grey: u8, clip: &Clip) {
        let r = r.min(rc.w / 2.0).min(rc.h / 2.0).max(0.0);
        self.paint(
            rc,
            |px, py| round_rect_coverage(rc, r, px, py),
            grey,
            clip,
            |y| span_inside(rc, r, y),
            None,
        );
    }

    /// A rounded frame `t` pixels thick.
    pub fn stroke_round_rect(&mut self, rc: Rect, r: f32, t: f32, grey: u8, clip: &Clip) {
        let inner = Rect {
            x: rc.x + t,
            y: rc.y + t,
            w: rc.w - 2.0 * t,
            h: rc.h - 2.0 * t,
        };
        let ri = (r - t).max(0.0);
        self.paint(
            rc,
            |px, py| round_rect_coverage(rc, r, px, py) - round_rect_coverage(inner, ri, px, py),
            grey,
            clip,
            |y| span_inside(rc, r, y),
            Some(&|y| span_inside(inner, ri, y)),
        );
    }

    /// Paint the pixels of `bounds` with `coverage`; on each row, the span `solid(y)` is
    /// fully covered (painted without computing coverage) and the span `hole(y)` is not
    /// covered at all (skipped): only the edges pay for anti-aliasing.
    fn paint(
        &mut self,
        bounds: Rect,
        coverage: impl Fn(f32, f32) -> f32,
        grey: u8,
        clip: &Clip,
        solid: impl Fn(i32) -> Option<(i32, i32)>,
        hole: Option<&dyn Fn(i32) -> Option<(i32, i32)>>,
    ) {
        let (x0, y0) = (bounds.x.floor() as i32, bounds.y.floor() as i32);
        let (x1, y1) = (
            (bounds.x + bounds.w).ceil() as i32,
            (bounds.y + bounds.h).ceil() as i32,
        );
        let (x0c, x1c) = (x0.max(0), x1.min(self.w as i32));
        for y in y0.max(clip.top).max(0)..y1.min(clip.bottom).min(self.h as i32) {
            let py = y as f32 + 0.5;
            let skip = hole.and_then(|h| h(y));
            let fill = if hole.is_none() { solid(y) } else { None };
            let mut x = x0c;
            while x < x1c {
                if let Some((a, b)) = skip
                    && x >= a
                    && x < b
                {
                    x = b;
                    continue;
                }
                if let Some((a, b)) = fill
                    && x >= a
                    && x < b
                {
                    let row = y as usize * self.w as usize;
                    let b = b.min(x1c);
                    self.px[row + x as usize..row + b as usize].fill(grey);
                    x = b;
                    continue;
                }
                let cov = coverage(x as f32 + 0.5, py);
                if cov > 0.0 {
                    self.blend(x, y, grey, (cov * 255.0).round() as u8, clip);
                }
                x += 1;
            }
        }
    }

    /// Draw `text` with its baseline at `y`, starting at `x`; returns the pen's end.
    #[allow(clippy::too_many_arguments)]
    pub fn text(
        &mut self,
        fonts: &mut Fonts,
        wt: Weight,
        size: f32,
        spacing: f32,
        x: f32,
        y: f32,
        grey: u8,
        text: &str,
        clip: &Clip,
    ) -> f32 {
        let mut pen = x;
        let base = y.round() as i32;
        for c in text.chars() {
            let g = fonts.bitmap(wt, size, c);
            let gx = pen.round() as i32 + g.left;
            let gy = base + g.top;
            for row in 0..g.h {
                let line = &g.alpha[(row * g.w) as usize..((row + 1) * g.w) as usize];
                for (col, &a) in line.iter().enumerate() {
                    self.blend(gx + col as i32, gy + row as i32, grey, a, clip);
                }
            }
            pen += fonts.advance(wt, size, c) + spacing;
        }
        pen
    }

    /// Move every pixel of rows `[top, bottom)` toward white, like CSS `opacity`.
    pub fn fade_rows(&mut self, top: i32, bottom: i32, opacity: f32) {
        let (top, bottom) = (top.max(0) as usize, bottom.clamp(0, self.h as i32) as usize);
        let k = (opacity.clamp(0.0, 1.0) * 256.0) as u32;
        for p in &mut self.px[top * self.w as usize..bottom * self.w as usize] {
            *p = (255 - (((255 - *p as u32) * k) >> 8)) as u8;
        }
    }
}

/// Rows outside `[top, bottom)` are not painted (the page's `overflow: hidden` of main).
#[derive(Debug, Clone, Copy)]
pub struct Clip {
    /// First row painted.
    pub top: i32,
    /// First row not painted.
    pub bottom: i32,
}

impl Clip {
    /// No clipping.
    pub const NONE: Clip = Clip {
        top: i32::MIN,
        bottom: i32::MAX,
    };
}

/// The columns `[a, b)` of row `y` whose pixels lie wholly inside the rounded rectangle.
fn span_inside(rc: Rect, r: f32, y: i32) -> Option<(i32, i32)> {
    let (top, bottom) = (y as f32, y as f32 + 1.0);
    if top < rc.y + r || bottom > rc.y + rc.h - r {
        // Rows through the corners: let the coverage decide, except the part between them.
        if top < rc.y || bottom > rc.y + rc.h {
            return None;
        }
        let (a, b) = ((rc.x + r).ceil() as i32, (rc.x + rc.w - r).floor() as i32);
        return (a < b).then_some((a, b));
    }
    let (a, b) = (rc.x.ceil() as i32, (rc.x + rc.w).floor() as i32);
    (a < b).then_some((a, b))
}

/// Area of the pixel centred at (`px`, `py`) inside the rounded rectangle (approximate: the
/// signed distance to the edge, clamped to one pixel).
fn round_rect_coverage(rc: Rect, r: f32, px: f32, py: f32) -> f32 {
    let cx = px.clamp(rc.x + r, rc.x + rc.w - r);
    let cy = py.clamp(rc.y + r, rc.y + rc.h - r);
    let (dx, dy) = (px - cx, py - cy);
    let d = if r > 0.0 && (dx != 0.0 || dy != 0.0) && dx.abs() > 0.0 && dy.abs() > 0.0 {
        (dx * dx + dy * dy).sqrt() - r
    } else {
        // Straight edges: distance outside the box.
        let ox = (rc.x - px).max(px - (rc.x + rc.w));
        let oy = (rc.y - py).max(py - (rc.y + rc.h));
        ox.max(oy)
    };
    (0.5 - d).clamp(0.0, 1.0)
}

/// The panel's picture from the upright canvas: `rotation` degrees clockwise (0, 90, 180,
/// 270), moved by the pixel shift (`dx`, `dy`) with white filling the edge. Calls `row` with
/// each physical row's greys; the physical size is the canvas's, swapped for 90 and 270.
pub fn physical_rows(
    c: &Canvas,
    rotation: u16,
    shift: (i32, i32),
    mut row: impl FnMut(u32, &[u8]),
) {
    let (pw, ph) = physical_size(c.w, c.h, rotation);
    let mut buf = vec![255u8; pw as usize];
    let (lw, lh) = (c.w as i32, c.h as i32);
    if rotation == 0 {
        // Upright: each panel row is a canvas row, moved by the shift.
        let (dx, dy) = shift;
        for py in 0..ph as i32 {
            let ly = py - dy;
            buf.fill(255);
            if ly >= 0 && ly < lh {
                let src = &c.px[(ly * lw) as usize..((ly + 1) * lw) as usize];
                let (from, to) = (dx.max(0), (lw + dx).min(lw).max(0));
                if from < to {
                    buf[from as usize..to as usize]
                        .copy_from_slice(&src[(from - dx) as usize..(to - dx) as usize]);
                }
            }
            row(py as u32, &buf);
        }
        return;
    }
    for py in 0..ph as i32 {
        for px in 0..pw as i32 {
            let (lx, ly) = match rotation {
                90 => (py, pw as i32 - 1 - px),
                180 => (pw as i32 - 1 - px, ph as i32 - 1 - py),
                270 => (ph as i32 - 1 - py, px),
                _ => (px, py),
            };
            let (lx, ly) = (lx - shift.0, ly - shift.1);
            buf[px as usize] = if lx >= 0 && ly >= 0 && lx < lw && ly < lh {
                c.px[(ly * lw + lx) as usize]
            } else {
                255
            };
        }
        row(py as u32, &buf);
    }
}

/// The panel size for a canvas of `w`×`h` under `rotation`.
pub fn physical_size(w: u32, h: u32, rotation: u16) -> (u32, u32) {
    if rotation == 90 || rotation == 270 {
        (h, w)
    } else {
        (w, h)
    }
}

/// Map a point on the panel back to the upright canvas (for taps).
pub fn to_logical(px: f32, py: f32, pw: f32, ph: f32, rotation: u16) -> (f32, f32) {
    match rotation {
        90 => (py, pw - 1.0 - px),
        180 => (pw - 1.0 - px, ph - 1.0 - py),
        270 => (ph - 1.0 - py, px),
        _ => (px, py),
    }
}
