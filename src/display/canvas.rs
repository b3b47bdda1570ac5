//! The canvas: a grey picture in memory and the few primitives the kiosk's look needs (filled
//! and rounded rectangles, clipped, anti-aliased edges, text). It paints at once (the
//! snapshot) or records a frame's operations and then repaints only the rectangles they
//! change (the running display, see `super::damage`); the rotation to the panel is
//! `super::rotate`.
//!
//! One byte of grey per pixel: the kiosk page is greyscale by design (its stylesheet ends in
//! `filter: grayscale(100%)`), so a grey canvas loses nothing and is a quarter of an RGBA one
//! (375 KiB at 480×800), which matters on a 512 MB Pi.

use super::damage::{Damage, OpHasher, PxRect, Signatures};
use super::font::{Fonts, Weight};

/// A grey picture, row-major, one byte a pixel (0 black, 255 white).
///
/// It paints at once, or, between [`Canvas::record`] and [`Canvas::replay`], records the
/// drawing operations and then repaints only what they change (`super::damage`).
#[derive(Debug, Clone)]
pub struct Canvas {
    /// Width in pixels.
    pub w: u32,
    /// Height in pixels.
    pub h: u32,
    /// `w * h` bytes.
    pub px: Vec<u8>,
    /// Painting touches only this rectangle (the whole canvas, except while replaying).
    lim: PxRect,
    /// The operations of the frame being recorded.
    rec: Option<Vec<Recorded>>,
    /// The last replayed frame's row and column signatures.
    sigs: Signatures,
}

/// One drawing operation of a recorded frame.
#[derive(Debug, Clone)]
enum Op {
    Clear,
    Fill {
        rc: Rect,
        r: f32,
        grey: u8,
        clip: Clip,
    },
    Stroke {
        rc: Rect,
        r: f32,
        t: f32,
        grey: u8,
        clip: Clip,
    },
    Text {
        wt: Weight,
        size: f32,
        spacing: f32,
        x: f32,
        y: f32,
        grey: u8,
        text: String,
        clip: Clip,
    },
    Fade {
        top: i32,
        bottom: i32,
        opacity: f32,
    },
}

/// An operation, the hash of its parameters and the box of the pixels it may touch.
#[derive(Debug, Clone)]
struct Recorded {
    op: Op,
    hash: u64,
    bbox: PxRect,
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
            lim: PxRect::full(w, h),
            rec: None,
            sigs: Signatures::default(),
        }
    }

    /// Record the drawing calls that follow instead of painting them, until
    /// [`Canvas::replay`].
    pub fn record(&mut self) {
        self.rec = Some(Vec::new());
    }

    /// Paint the frame recorded since [`Canvas::record`], but only the rectangles where it
    /// differs from the last replayed frame (everything the first time); every pixel ends as
    /// a full redraw on a white canvas would leave it. Returns those rectangles.
    pub fn replay(&mut self, fonts: &mut Fonts) -> Damage {
        let ops = self.rec.take().unwrap_or_default();
        let damage = self
            .sigs
            .update(self.w, self.h, ops.iter().map(|r| (r.hash, r.bbox)));
        for rect in damage.rects(self.w, self.h) {
            self.lim = rect.intersect(&PxRect::full(self.w, self.h));
            if self.lim.is_empty() {
                continue;
            }
            self.paint_clear();
            for r in ops.iter().filter(|r| r.bbox.overlaps(&rect)) {
                self.apply(&r.op, fonts);
            }
        }
        self.lim = PxRect::full(self.w, self.h);
        damage
    }

    /// Forget the last replayed frame: the next [`Canvas::replay`] repaints everything.
    pub fn invalidate(&mut self) {
        self.sigs.clear();
    }

    fn push(&mut self, op: Op, hash: &mut OpHasher, bbox: PxRect) {
        if let Some(rec) = self.rec.as_mut() {
            rec.push(Recorded {
                op,
                hash: hash.finish(),
                bbox,
            });
        }
    }

    fn apply(&mut self, op: &Op, fonts: &mut Fonts) {
        match op {
            Op::Clear => self.paint_clear(),
            Op::Fill { rc, r, grey, clip } => self.paint_fill_round_rect(*rc, *r, *grey, clip),
            Op::Stroke {
                rc,
                r,
                t,
                grey,
                clip,
            } => self.paint_stroke_round_rect(*rc, *r, *t, *grey, clip),
            Op::Text {
                wt,
                size,
                spacing,
                x,
                y,
                grey,
                text,
                clip,
            } => {
                self.paint_text(fonts, *wt, *size, *spacing, *x, *y, *grey, text, clip);
            }
            Op::Fade {
                top,
                bottom,
                opacity,
            } => self.paint_fade_rows(*top, *bottom, *opacity),
        }
    }

    /// The pixels a shape drawn in `bounds` under `clip` may touch.
    fn shape_box(&self, bounds: Rect, clip: &Clip) -> PxRect {
        PxRect {
            x0: bounds.x.floor() as i32,
            y0: (bounds.y.floor() as i32).max(clip.top),
            x1: (bounds.x + bounds.w).ceil() as i32,
            y1: ((bounds.y + bounds.h).ceil() as i32).min(clip.bottom),
        }
        .intersect(&PxRect::full(self.w, self.h))
    }

    /// Paint everything white again (reuses the allocation).
    pub fn clear(&mut self) {
        if self.rec.is_some() {
            let bbox = PxRect::full(self.w, self.h);
            self.push(Op::Clear, OpHasher::default().i(0), bbox);
            return;
        }
        self.paint_clear();
    }

    fn paint_clear(&mut self) {
        let l = self.lim;
        let w = self.w as usize;
        for y in l.y0..l.y1 {
            let row = y as usize * w;
            self.px[row + l.x0 as usize..row + l.x1 as usize].fill(255);
        }
    }

    #[inline]
    fn blend(&mut self, x: i32, y: i32, grey: u8, a: u8, clip: &Clip) {
        let l = &self.lim;
        if a == 0 || x < l.x0 || y < l.y0 || x >= l.x1 || y >= l.y1 {
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
        if self.rec.is_some() {
            let mut h = OpHasher::default();
            h.i(1).f(rc.x).f(rc.y).f(rc.w).f(rc.h).f(r).i(grey as i64);
            h.i(clip.top as i64).i(clip.bottom as i64);
            let bbox = self.shape_box(rc, clip);
            let clip = *clip;
            self.push(Op::Fill { rc, r, grey, clip }, &mut h, bbox);
            return;
        }
        self.paint_fill_round_rect(rc, r, grey, clip);
    }

    fn paint_fill_round_rect(&mut self, rc: Rect, r: f32, grey: u8, clip: &Clip) {
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
        if self.rec.is_some() {
            let mut h = OpHasher::default();
            h.i(2)
                .f(rc.x)
                .f(rc.y)
                .f(rc.w)
                .f(rc.h)
                .f(r)
                .f(t)
                .i(grey as i64);
            h.i(clip.top as i64).i(clip.bottom as i64);
            let bbox = self.shape_box(rc, clip);
            let clip = *clip;
            let op = Op::Stroke {
                rc,
                r,
                t,
                grey,
                clip,
            };
            self.push(op, &mut h, bbox);
            return;
        }
        self.paint_stroke_round_rect(rc, r, t, grey, clip);
    }

    fn paint_stroke_round_rect(&mut self, rc: Rect, r: f32, t: f32, grey: u8, clip: &Clip) {
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
        let l = self.lim;
        let (x0c, x1c) = (x0.max(l.x0), x1.min(l.x1));
        for y in y0.max(clip.top).max(l.y0)..y1.min(clip.bottom).min(l.y1) {
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
        if self.rec.is_none() {
            return self.paint_text(fonts, wt, size, spacing, x, y, grey, text, clip);
        }
        let mut pen = x;
        let base = y.round() as i32;
        let mut bbox = PxRect::EMPTY;
        for c in text.chars() {
            let g = fonts.bitmap(wt, size, c);
            let (gx, gy) = (pen.round() as i32 + g.left, base + g.top);
            let glyph = PxRect {
                x0: gx,
                y0: gy,
                x1: gx + g.w as i32,
                y1: gy + g.h as i32,
            };
            bbox = bbox.union(&glyph);
            pen += fonts.advance(wt, size, c) + spacing;
        }
        let bbox = PxRect {
            y0: bbox.y0.max(clip.top),
            y1: bbox.y1.min(clip.bottom),
            ..bbox
        }
        .intersect(&PxRect::full(self.w, self.h));
        let mut h = OpHasher::default();
        h.i(3)
            .i(wt as i64)
            .f(size)
            .f(spacing)
            .f(x)
            .f(y)
            .i(grey as i64);
        h.i(clip.top as i64).i(clip.bottom as i64).s(text);
        let op = Op::Text {
            wt,
            size,
            spacing,
            x,
            y,
            grey,
            text: text.to_string(),
            clip: *clip,
        };
        self.push(op, &mut h, bbox);
        pen
    }

    #[allow(clippy::too_many_arguments)]
    fn paint_text(
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
        let l = self.lim;
        for c in text.chars() {
            let g = fonts.bitmap(wt, size, c);
            let gx = pen.round() as i32 + g.left;
            let gy = base + g.top;
            // Only the glyph's rows inside the painted area.
            let (r0, r1) = ((l.y0 - gy).max(0), (l.y1 - gy).min(g.h as i32));
            if gx < l.x1 && gx + (g.w as i32) > l.x0 {
                for row in r0..r1 {
                    let row = row as u32;
                    let line = &g.alpha[(row * g.w) as usize..((row + 1) * g.w) as usize];
                    for (col, &a) in line.iter().enumerate() {
                        self.blend(gx + col as i32, gy + row as i32, grey, a, clip);
                    }
                }
            }
            pen += fonts.advance(wt, size, c) + spacing;
        }
        pen
    }

    /// Move every pixel of rows `[top, bottom)` toward white, like CSS `opacity`.
    pub fn fade_rows(&mut self, top: i32, bottom: i32, opacity: f32) {
        if self.rec.is_some() {
            let mut h = OpHasher::default();
            h.i(4).i(top as i64).i(bottom as i64).f(opacity);
            let bbox = PxRect {
                y0: top,
                y1: bottom,
                ..PxRect::full(self.w, self.h)
            }
            .intersect(&PxRect::full(self.w, self.h));
            let op = Op::Fade {
                top,
                bottom,
                opacity,
            };
            self.push(op, &mut h, bbox);
            return;
        }
        self.paint_fade_rows(top, bottom, opacity);
    }

    fn paint_fade_rows(&mut self, top: i32, bottom: i32, opacity: f32) {
        let l = self.lim;
        let (top, bottom) = (top.max(l.y0), bottom.min(l.y1));
        let k = (opacity.clamp(0.0, 1.0) * 256.0) as u32;
        let w = self.w as usize;
        for y in top..bottom {
            let row = y as usize * w;
            for p in &mut self.px[row + l.x0 as usize..row + l.x1 as usize] {
                *p = (255 - (((255 - *p as u32) * k) >> 8)) as u8;
            }
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
