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

use super::canvas::{Canvas, Clip, Rect};
use super::font::{Fonts, Weight};
use super::model::Screen;
use kiosk::compact;

mod kiosk;

/// Greys of the stylesheet.
mod grey {
    pub(super) const BLACK: u8 = 0x00;
    pub(super) const WHITE: u8 = 0xff;
    pub(super) const BOX: u8 = 0x22;
    pub(super) const LABEL: u8 = 0xcc;
    pub(super) const LOCATION: u8 = 0x44;
    pub(super) const EMPTY: u8 = 0x33;
    pub(super) const RULE: u8 = 0xbb;
    pub(super) const CLOCK: u8 = 0x55;
    pub(super) const BUTTON: u8 = 0xee;
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

    /// The footer (status, freshness badge, clock); returns its top.
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
        let fresh = s.fresh.as_deref().map(|text| Line {
            text,
            size: 22.0 * k,
            weight: Weight::Bold,
            lh: 22.0 * 1.2 * k,
        });
        let fresh_h = fresh.as_ref().map_or(0.0, |f| f.lh + 6.0 * k);
        let hgt = (12.0 + 6.0 + 20.0) * k + status.lh + clock.lh + 2.0 * k + fresh_h;
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
        if let Some(f) = &fresh {
            self.line(c, f, 24.0 * k, y, grey::BLACK, &Clip::NONE);
            y += fresh_h;
        }
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
        // 76 px beside a NOW bar or a list (as the page), else 96; shrunk further if a long
        // value ("12d 23:59:59") would not fit.
        let base = if compact(s) { 76.0 } else { 96.0 };
        let mut size = base * k;
        let avail = bw - 32.0 * k;
        let vw = self.fonts.measure(Weight::Bold, size, 0.0, value);
        if vw > avail {
            size *= avail / vw;
        }
        let val = Line {
            text: value,
            size,
            weight: Weight::Bold,
            lh: base * 1.1 * k,
        };
        let (pt, pb) = if compact(s) {
            (10.0, 12.0)
        } else {
            (18.0, 22.0)
        };
        let hgt = (pt + pb) * k + label.lh + val.lh;
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
        let ly = y + pt * k;
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
        let lines = if compact(s) { 2 } else { 4 };
        let subject = self
            .fonts
            .wrap(Weight::Bold, subj_size, inner, lines, &card.subject);
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
        let gap = if compact(s) { 14.0 } else { 20.0 } * k;
        self.frame(s, c, k, |r, c, mut y, foot, clip| {
            let hn = r.now_bar(s, c, k, x, y, bw, clip);
            if hn > 0.0 {
                y += hn + gap;
            }
            let hb = r.countdown(s, c, k, x, y, bw, clip);
            if hb > 0.0 {
                y += hb + gap;
            }
            let (hc, skip) = r.card(s, c, k, x, y, bw, clip);
            r.later(s, c, k, x, y + hc + gap, bw, foot, clip);
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
        self.frame(s, c, k, |r, c, mut y, foot, clip| {
            let hn = r.now_bar(s, c, k, x, y, full, clip);
            if hn > 0.0 {
                y += hn + 14.0 * k;
            }
            let skip = if s.countdown.is_some() {
                let left = (full - 24.0 * k) * 0.42;
                let hb = r.countdown(s, c, k, x, y, left, clip);
                r.later(s, c, k, x, y + hb + 14.0 * k, left, foot, clip);
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
