//! The parts of a frame issue #13 added: the NOW bar (the meeting in progress) and the "Later
//! today" list, drawn like the kiosk page's `.now` and `.later` (`src/server/page/style.css`).

use super::super::canvas::{Canvas, Clip, Rect};
use super::super::font::Weight;
use super::super::model::Screen;
use super::{Line, Renderer, grey};

impl Renderer {
    /// The NOW bar (the meeting in progress) at (`x`, `y`), `bw` wide; returns its height.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn now_bar(
        &mut self,
        s: &Screen,
        c: &mut Canvas,
        k: f32,
        x: f32,
        y: f32,
        bw: f32,
        clip: &Clip,
    ) -> f32 {
        let Some((left, subject)) = &s.now_line else {
            return 0.0;
        };
        let inner = bw - 32.0 * k;
        let (l1, l2) = (22.0 * 1.2 * k, 26.0 * 1.2 * k);
        let hgt = 18.0 * k + l1 + l2;
        let r = Rect {
            x,
            y,
            w: bw,
            h: hgt,
        };
        c.fill_round_rect(r, 12.0 * k, grey::BLACK, clip);
        let head = Line {
            text: left,
            size: 22.0 * k,
            weight: Weight::Bold,
            lh: l1,
        };
        self.line(c, &head, x + 16.0 * k, y + 8.0 * k, grey::WHITE, clip);
        let subj = self
            .fonts
            .wrap(Weight::Regular, 26.0 * k, inner, 1, subject);
        if let Some(t) = subj.first() {
            let l = Line {
                text: t,
                size: 26.0 * k,
                weight: Weight::Regular,
                lh: l2,
            };
            self.line(c, &l, x + 16.0 * k, y + 8.0 * k + l1, grey::WHITE, clip);
        }
        hgt
    }

    /// "Later today" from `y` down to `bottom`: as many one-line entries as fit.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn later(
        &mut self,
        s: &Screen,
        c: &mut Canvas,
        k: f32,
        x: f32,
        mut y: f32,
        w: f32,
        bottom: f32,
        clip: &Clip,
    ) {
        if s.later.is_empty() {
            return;
        }
        let (hlh, lh, size) = (22.0 * 1.2 * k + 6.0 * k, 28.0 * 1.35 * k, 28.0 * k);
        if y + hlh + lh > bottom {
            return;
        }
        let head = Line {
            text: "LATER TODAY",
            size: 22.0 * k,
            weight: Weight::Bold,
            lh: 22.0 * 1.2 * k,
        };
        let b = self.baseline(Weight::Bold, head.size, head.lh, y);
        c.text(
            &mut self.fonts,
            Weight::Bold,
            head.size,
            4.0 * k,
            x,
            b,
            grey::CLOCK,
            head.text,
            clip,
        );
        y += hlh;
        for (at, subject) in &s.later {
            if y + lh > bottom {
                break;
            }
            let tw = self.fonts.measure(Weight::Bold, size, 0.0, at) + 12.0 * k;
            let t = Line {
                text: at,
                size,
                weight: Weight::Bold,
                lh,
            };
            self.line(c, &t, x, y, grey::BLACK, clip);
            let fitted = self
                .fonts
                .wrap(Weight::Regular, size, (w - tw).max(0.0), 1, subject);
            if let Some(f) = fitted.first() {
                let l = Line {
                    text: f,
                    size,
                    weight: Weight::Regular,
                    lh,
                };
                self.line(c, &l, x + tw, y, grey::BLACK, clip);
            }
            y += lh;
        }
    }
}

/// Whether the frame shows a NOW bar or a list, so the rest tightens (the page's `has-now`,
/// `has-later`).
pub(super) fn compact(s: &Screen) -> bool {
    s.now_line.is_some() || !s.later.is_empty()
}
