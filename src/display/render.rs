//! Drawing a [`Screen`] into memory: the kiosk page's look (`src/server/page/style.css`) laid
//! out for the panel's size, portrait or landscape.
//!
//! The canvas holds one byte of grey per pixel: the kiosk page is greyscale by design (its
//! stylesheet ends in `filter: grayscale(100%)`), so a grey canvas loses nothing and is a
//! quarter of an RGBA one (375 KiB at 480×800), which matters on a 512 MB Pi. The framebuffer
//! writer ([`super::fb`]) and the PNG snapshot expand grey to the panel's RGB format.
//!
//! Sizes are the stylesheet's CSS pixels at 480×800, multiplied by one scale factor: a
//! portrait panel of any size keeps the page's proportions; a landscape panel (wider than
//! high) gets a two-column layout designed at 800×480 (countdown left, card right).

use super::font::{Fonts, Weight};
use super::model::Screen;

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

/// Greys of the stylesheet.
mod grey {
    pub const BLACK: u8 = 0x00;
    pub const WHITE: u8 = 0xff;
    pub const BOX: u8 = 0x22;
    pub const LABEL: u8 = 0xcc;
    pub const LOCATION: u8 = 0x44;
    pub const EMPTY: u8 = 0x33;
    pub const RULE: u8 = 0xbb;
    pub const CLOCK: u8 = 0x55;
    pub const BUTTON: u8 = 0xee;
}

/// Where things landed on the last frame (for touch hit-testing).
#[derive(Debug, Clone, Copy, Default)]
pub struct Hits {
    /// The skip button, if drawn.
    pub skip: Option<Rect>,
}

/// A laid-out line box: text, size, weight, line height.
struct Line<'a> {
    text: &'a str,
    size: f32,
    weight: Weight,
    lh: f32,
}

/// Lays out and draws frames; owns the fonts and their glyph cache.
pub struct Renderer {
    /// The embedded fonts.
    pub fonts: Fonts,
}

impl Default for Renderer {
    fn default() -> Self {
        Renderer::new()
    }
}

impl Renderer {
    /// A renderer with the embedded fonts.
    pub fn new() -> Renderer {
        Renderer {
            fonts: Fonts::new(),
        }
    }

    /// Baseline of a line box of height `lh` whose top is `top` (CSS half-leading).
    fn baseline(&self, wt: Weight, size: f32, lh: f32, top: f32) -> f32 {
        let m = self.fonts.v_metrics(wt, size);
        top + (lh - (m.ascent - m.descent)) / 2.0 + m.ascent
    }

    fn line(&mut self, c: &mut Canvas, l: &Line<'_>, x: f32, top: f32, g: u8, clip: &Clip) {
        let b = self.baseline(l.weight, l.size, l.lh, top);
        c.text(
            &mut self.fonts,
            l.weight,
            l.size,
            0.0,
            x,
            b,
            g,
            l.text,
            clip,
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn centred(
        &mut self,
        c: &mut Canvas,
        l: &Line<'_>,
        spacing: f32,
        area: (f32, f32),
        top: f32,
        g: u8,
        clip: &Clip,
    ) -> (f32, f32) {
        let w = self.fonts.measure(l.weight, l.size, spacing, l.text) - spacing;
        let x = area.0 + (area.1 - w) / 2.0;
        let b = self.baseline(l.weight, l.size, l.lh, top);
        c.text(
            &mut self.fonts,
            l.weight,
            l.size,
            spacing,
            x,
            b,
            g,
            l.text,
            clip,
        );
        (x, w)
    }

    /// Draw `s` onto `c` (cleared first); returns where the skip button went.
    pub fn draw(&mut self, s: &Screen, c: &mut Canvas) -> Hits {
        c.clear();
        let (w, h) = (c.w as f32, c.h as f32);
        if w > h {
            self.draw_landscape(s, c, (w / 800.0).min(h / 480.0))
        } else {
            self.draw_portrait(s, c, (w / 480.0).min(h / 800.0))
        }
    }

    /// The banner; returns its bottom.
    fn banner(&mut self, s: &Screen, c: &mut Canvas, k: f32) -> f32 {
        let Some(text) = &s.banner else {
            return 0.0;
        };
        let w = c.w as f32;
        let title = Line {
            text,
            size: 30.0 * k,
            weight: Weight::Bold,
            lh: 30.0 * 1.2 * k,
        };
        let detail_lh = 22.0 * 1.2 * k;
        let hgt = 16.0 * k * 2.0 + title.lh + s.banner_detail.as_ref().map_or(0.0, |_| detail_lh);
        c.fill_round_rect(
            Rect {
                x: 0.0,
                y: 0.0,
                w,
                h: hgt,
            },
            0.0,
            grey::BLACK,
            &Clip::NONE,
        );
        self.centred(c, &title, k, (0.0, w), 16.0 * k, grey::WHITE, &Clip::NONE);
        if let Some(d) = &s.banner_detail {
            let l = Line {
                text: d,
                size: 22.0 * k,
                weight: Weight::Regular,
                lh: detail_lh,
            };
            self.centred(
                c,
                &l,
                0.0,
                (0.0, w),
                16.0 * k + title.lh,
                grey::LABEL,
                &Clip::NONE,
            );
        }
        hgt
    }

    /// The footer (status and clock); returns its top.
    fn footer(&mut self, s: &Screen, c: &mut Canvas, k: f32) -> f32 {
        let (w, h) = (c.w as f32, c.h as f32);
        let status = Line {
            text: if s.status.is_empty() { " " } else { &s.status },
            size: 30.0 * k,
            weight: Weight::Bold,
            lh: 30.0 * 1.2 * k,
        };
        let clock = Line {
            text: &s.clock,
            size: 24.0 * k,
            weight: Weight::Regular,
            lh: 24.0 * 1.2 * k,
        };
        let hgt = (12.0 + 6.0 + 20.0) * k + status.lh + clock.lh + 2.0 * k;
        let top = h - hgt;
        c.fill_round_rect(
            Rect {
                x: 0.0,
                y: top,
                w,
                h: 2.0 * k,
            },
            0.0,
            grey::RULE,
            &Clip::NONE,
        );
        let mut y = top + 2.0 * k + 12.0 * k;
        self.line(c, &status, 24.0 * k, y, grey::BLACK, &Clip::NONE);
        y += status.lh + 6.0 * k;
        self.line(c, &clock, 24.0 * k, y, grey::CLOCK, &Clip::NONE);
        top
    }

    /// The countdown box at (`x`, `y`), `bw` wide; returns its height.
    #[allow(clippy::too_many_arguments)]
    fn countdown(
        &mut self,
        s: &Screen,
        c: &mut Canvas,
        k: f32,
        x: f32,
        y: f32,
        bw: f32,
        clip: &Clip,
    ) -> f32 {
        let Some(value) = &s.countdown else {
            return 0.0;
        };
        let label = Line {
            text: "STARTS IN",
            size: 26.0 * k,
            weight: Weight::Regular,
            lh: 26.0 * 1.2 * k,
        };
        // Shrink the 96 px value if a long one ("12d 23:59:59") would not fit.
        let mut size = 96.0 * k;
        let avail = bw - 32.0 * k;
        let vw = self.fonts.measure(Weight::Bold, size, 0.0, value);
        if vw > avail {
            size *= avail / vw;
        }
        let val = Line {
            text: value,
            size,
            weight: Weight::Bold,
            lh: 96.0 * 1.1 * k,
        };
        let hgt = (18.0 + 22.0) * k + label.lh + val.lh;
        let bg = if s.urgent { grey::BLACK } else { grey::BOX };
        c.fill_round_rect(
            Rect {
                x,
                y,
                w: bw,
                h: hgt,
            },
            16.0 * k,
            bg,
            clip,
        );
        let ly = y + 18.0 * k;
        // letter-spacing 6px: the trailing space is part of the centred box in CSS.
        self.centred(c, &label, 6.0 * k, (x + 3.0 * k, bw), ly, grey::LABEL, clip);
        let vy = ly + label.lh;
        let (vx, vwid) = self.centred(c, &val, 0.0, (x, bw), vy, grey::WHITE, clip);
        if s.critical {
            let b = self.baseline(Weight::Bold, size, val.lh, vy);
            let t = (size / 14.0).max(1.0);
            c.fill_round_rect(
                Rect {
                    x: vx,
                    y: b + size * 0.09,
                    w: vwid,
                    h: t,
                },
                0.0,
                grey::WHITE,
                clip,
            );
        }
        hgt
    }

    /// The meeting card at (`x`, `y`), `cw` wide; returns its height and the skip button.
    #[allow(clippy::too_many_arguments)]
    fn card(
        &mut self,
        s: &Screen,
        c: &mut Canvas,
        k: f32,
        x: f32,
        y: f32,
        cw: f32,
        clip: &Clip,
    ) -> (f32, Option<Rect>) {
        let Some(card) = &s.card else {
            return (0.0, None);
        };
        let (pad, border, gap) = (20.0 * k, 4.0 * k, 10.0 * k);
        let inner = cw - 2.0 * (pad + border);
        let subj_size = 40.0 * k;
        let subject = self
            .fonts
            .wrap(Weight::Bold, subj_size, inner, 4, &card.subject);
        let loc = if card.location.is_empty() {
            Vec::new()
        } else {
            self.fonts
                .wrap(Weight::Regular, 26.0 * k, inner, 2, &card.location)
        };
        let (slh, tlh, llh) = (40.0 * 1.15 * k, 32.0 * 1.2 * k, 26.0 * 1.2 * k);
        let button_h = 26.0 * 1.2 * k + 28.0 * k + 6.0 * k;
        let mut hgt = 2.0 * (pad + border) + slh * subject.len() as f32;
        if !card.time.is_empty() {
            hgt += gap + tlh;
        }
        if !loc.is_empty() {
            hgt += gap + llh * loc.len() as f32;
        }
        if s.skip {
            hgt += gap + 10.0 * k + button_h;
        }
        c.stroke_round_rect(
            Rect {
                x,
                y,
                w: cw,
                h: hgt,
            },
            16.0 * k,
            border,
            grey::BLACK,
            clip,
        );
        let tx = x + border + pad;
        let mut ty = y + border + pad;
        for l in &subject {
            let line = Line {
                text: l,
                size: subj_size,
                weight: Weight::Bold,
                lh: slh,
            };
            self.line(c, &line, tx, ty, grey::BLACK, clip);
            ty += slh;
        }
        if !card.time.is_empty() {
            ty += gap;
            let line = Line {
                text: &card.time,
                size: 32.0 * k,
                weight: Weight::Regular,
                lh: tlh,
            };
            self.line(c, &line, tx, ty, grey::BLACK, clip);
            ty += tlh;
        }
        if !loc.is_empty() {
            ty += gap;
            for l in &loc {
                let line = Line {
                    text: l,
                    size: 26.0 * k,
                    weight: Weight::Regular,
                    lh: llh,
                };
                self.line(c, &line, tx, ty, grey::LOCATION, clip);
                ty += llh;
            }
        }
        let mut skip = None;
        if s.skip {
            ty += gap + 10.0 * k;
            let b = Rect {
                x: tx,
                y: ty,
                w: inner,
                h: button_h,
            };
            c.fill_round_rect(b, 12.0 * k, grey::BUTTON, clip);
            c.stroke_round_rect(b, 12.0 * k, 3.0 * k, grey::BLACK, clip);
            let line = Line {
                text: "Skip this meeting",
                size: 26.0 * k,
                weight: Weight::Bold,
                lh: 26.0 * 1.2 * k,
            };
            self.centred(c, &line, 0.0, (b.x, b.w), ty + 17.0 * k, grey::BLACK, clip);
            skip = Some(b);
        }
        (hgt, skip)
    }

    fn empty(&mut self, s: &Screen, c: &mut Canvas, k: f32, area: Rect, clip: &Clip) {
        let Some(text) = &s.empty else { return };
        let size = 44.0 * k;
        let lines = self.fonts.wrap(Weight::Bold, size, area.w, 3, text);
        let lh = size * 1.2;
        let mut y = area.y + (area.h - lh * lines.len() as f32) / 2.0;
        for l in &lines {
            let line = Line {
                text: l,
                size,
                weight: Weight::Bold,
                lh,
            };
            self.centred(c, &line, 0.0, (area.x, area.w), y, grey::EMPTY, clip);
            y += lh;
        }
    }

    /// Banner and footer, then `main` between them (clipped to it, dimmed when
    /// reconnecting); `main` gets the area's top and bottom and returns the skip button.
    fn frame(
        &mut self,
        s: &Screen,
        c: &mut Canvas,
        k: f32,
        main: impl FnOnce(&mut Self, &mut Canvas, f32, f32, &Clip) -> Option<Rect>,
    ) -> Hits {
        let top = self.banner(s, c, k);
        let foot = self.footer(s, c, k);
        let clip = Clip {
            top: top.round() as i32,
            bottom: foot.round() as i32,
        };
        let skip = main(self, c, top + 24.0 * k, foot, &clip);
        if s.dimmed {
            c.fade_rows(clip.top, clip.bottom, 0.45);
        }
        Hits { skip }
    }

    fn draw_portrait(&mut self, s: &Screen, c: &mut Canvas, k: f32) -> Hits {
        let (x, bw) = (24.0 * k, c.w as f32 - 48.0 * k);
        self.frame(s, c, k, |r, c, mut y, foot, clip| {
            let hb = r.countdown(s, c, k, x, y, bw, clip);
            if hb > 0.0 {
                y += hb + 20.0 * k;
            }
            let (_, skip) = r.card(s, c, k, x, y, bw, clip);
            let area = Rect {
                x,
                y,
                w: bw,
                h: foot - y,
            };
            r.empty(s, c, k, area, clip);
            skip
        })
    }

    fn draw_landscape(&mut self, s: &Screen, c: &mut Canvas, k: f32) -> Hits {
        let (x, full) = (24.0 * k, c.w as f32 - 48.0 * k);
        self.frame(s, c, k, |r, c, y, foot, clip| {
            let skip = if s.countdown.is_some() {
                let left = (full - 24.0 * k) * 0.42;
                r.countdown(s, c, k, x, y, left, clip);
                let rx = x + left + 24.0 * k;
                r.card(s, c, k, rx, y, full - left - 24.0 * k, clip).1
            } else {
                r.card(s, c, k, x, y, full, clip).1
            };
            let area = Rect {
                x,
                y,
                w: full,
                h: foot - y,
            };
            r.empty(s, c, k, area, clip);
            skip
        })
    }
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
