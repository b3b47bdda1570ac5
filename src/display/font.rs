//! Text for the framebuffer kiosk: the embedded fonts, glyph rasterising with a small cache,
//! measuring, and the wrap-then-ellipsize rule of the page's subject.
//!
//! Why embedded: the image has no fontconfig and the display must look the same everywhere.
//! Noto Sans (SIL OFL 1.1, `assets/fonts/`) cut down to Latin, Greek, Cyrillic and the
//! punctuation the kiosk draws keeps both weights at ≈ 76 KB of the 8 MB binary budget.
//! `ab_glyph` parses outlines lazily (nothing is built per glyph until it is drawn), which keeps
//! the process's resident memory small; rasterised glyphs are cached per (weight, glyph, size)
//! because the same few digits are drawn every second. A character the font lacks is drawn as
//! an outlined box (CSS's "tofu"), never skipped and never a panic.

use ab_glyph::{Font, FontRef, GlyphId, PxScale, ScaleFont};
use std::collections::HashMap;
use std::rc::Rc;

static REGULAR: &[u8] = include_bytes!("../../assets/fonts/NotoSans-Regular-subset.ttf");
static BOLD: &[u8] = include_bytes!("../../assets/fonts/NotoSans-Bold-subset.ttf");

/// Font weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Weight {
    /// 400.
    Regular,
    /// 700 (headings, the countdown, the status line).
    Bold,
}

/// One rasterised glyph: coverage 0-255 in a `w`×`h` box placed at (`left`, `top`) from the
/// pen position on the baseline.
#[derive(Debug)]
pub struct GlyphBitmap {
    /// Width in pixels.
    pub w: u32,
    /// Height in pixels.
    pub h: u32,
    /// X offset from the pen.
    pub left: i32,
    /// Y offset from the baseline (negative = above).
    pub top: i32,
    /// Row-major coverage.
    pub alpha: Vec<u8>,
}

/// Glyphs kept before the cache is emptied (a frame draws a few dozen distinct ones).
const CACHE_MAX: usize = 512;

/// The two embedded faces and the glyph cache.
pub struct Fonts {
    regular: FontRef<'static>,
    bold: FontRef<'static>,
    cache: HashMap<(Weight, char, u32), Rc<GlyphBitmap>>,
}

/// Vertical metrics of a face at a size, in pixels.
#[derive(Debug, Clone, Copy)]
pub struct VMetrics {
    /// Above the baseline (positive).
    pub ascent: f32,
    /// Below the baseline (negative).
    pub descent: f32,
}

impl Fonts {
    /// Parse the embedded faces (header tables only).
    pub fn new() -> Fonts {
        Fonts {
            regular: FontRef::try_from_slice(REGULAR).expect("embedded Noto Sans Regular"),
            bold: FontRef::try_from_slice(BOLD).expect("embedded Noto Sans Bold"),
            cache: HashMap::new(),
        }
    }

    fn face(&self, w: Weight) -> &FontRef<'static> {
        match w {
            Weight::Regular => &self.regular,
            Weight::Bold => &self.bold,
        }
    }

    /// CSS `font-size` (pixels per em) to ab_glyph's scale (pixels per ascent-descent).
    fn scale(&self, w: Weight, size: f32) -> PxScale {
        let f = self.face(w);
        let upem = f.units_per_em().unwrap_or(1000.0);
        PxScale::from(size * f.height_unscaled() / upem)
    }

    /// Ascent and descent at `size`.
    pub fn v_metrics(&self, w: Weight, size: f32) -> VMetrics {
        let f = self.face(w).as_scaled(self.scale(w, size));
        VMetrics {
            ascent: f.ascent(),
            descent: f.descent(),
        }
    }

    fn glyph(&self, w: Weight, c: char) -> Option<GlyphId> {
        let id = self.face(w).glyph_id(c);
        (id.0 != 0).then_some(id)
    }

    /// Advance of `c` at `size` (a missing glyph advances like a box of 0.6 em).
    pub fn advance(&self, w: Weight, size: f32, c: char) -> f32 {
        match self.glyph(w, c) {
            Some(id) => self.face(w).as_scaled(self.scale(w, size)).h_advance(id),
            None => (size * 0.6).round(),
        }
    }

    /// Width of `text` at `size` with `spacing` pixels after every character (CSS
    /// letter-spacing).
    pub fn measure(&self, w: Weight, size: f32, spacing: f32, text: &str) -> f32 {
        text.chars()
            .map(|c| self.advance(w, size, c) + spacing)
            .sum()
    }

    /// The rasterised glyph of `c` (cached); a missing glyph is an outlined box.
    pub fn bitmap(&mut self, w: Weight, size: f32, c: char) -> Rc<GlyphBitmap> {
        let key = (w, c, (size * 4.0).round() as u32);
        if let Some(g) = self.cache.get(&key) {
            return g.clone();
        }
        if self.cache.len() >= CACHE_MAX {
            self.cache.clear();
        }
        let g = Rc::new(self.rasterise(w, size, c));
        self.cache.insert(key, g.clone());
        g
    }

    fn rasterise(&self, w: Weight, size: f32, c: char) -> GlyphBitmap {
        let Some(id) = self.glyph(w, c) else {
            return tofu(size, self.v_metrics(w, size).ascent);
        };
        let glyph = id.with_scale_and_position(self.scale(w, size), ab_glyph::point(0.0, 0.0));
        let Some(outlined) = self.face(w).outline_glyph(glyph) else {
            // A glyph without an outline (space): nothing to draw.
            return GlyphBitmap {
                w: 0,
                h: 0,
                left: 0,
                top: 0,
                alpha: Vec::new(),
            };
        };
        let b = outlined.px_bounds();
        let (gw, gh) = (b.width().max(0.0) as u32, b.height().max(0.0) as u32);
        let mut alpha = vec![0u8; (gw * gh) as usize];
        outlined.draw(|x, y, cov| {
            if x < gw && y < gh {
                alpha[(y * gw + x) as usize] = (cov.clamp(0.0, 1.0) * 255.0).round() as u8;
            }
        });
        GlyphBitmap {
            w: gw,
            h: gh,
            left: b.min.x as i32,
            top: b.min.y as i32,
            alpha,
        }
    }

    /// Glyphs cached now (for tests and the benchmark).
    pub fn cached(&self) -> usize {
        self.cache.len()
    }

    /// Wrap `text` into lines no wider than `width` (at spaces; a word longer than a line
    /// breaks anywhere, like CSS `overflow-wrap: anywhere`), at most `max_lines`; if text is
    /// left over, the last line ends in "…" (shortened until it fits).
    pub fn wrap(
        &self,
        w: Weight,
        size: f32,
        width: f32,
        max_lines: usize,
        text: &str,
    ) -> Vec<String> {
        let mut lines: Vec<String> = Vec::new();
        let mut cur = String::new();
        let mut cur_w = 0.0f32;
        let space = self.advance(w, size, ' ');
        let words = text.split_whitespace();
        let mut overflow = false;
        'words: for word in words {
            let ww = self.measure(w, size, 0.0, word);
            let sep = if cur.is_empty() { 0.0 } else { space };
            if cur_w + sep + ww <= width {
                if !cur.is_empty() {
                    cur.push(' ');
                }
                cur.push_str(word);
                cur_w += sep + ww;
                continue;
            }
            if !cur.is_empty() && ww <= width {
                lines.push(std::mem::take(&mut cur));
                if lines.len() == max_lines {
                    overflow = true;
                    break 'words;
                }
                cur.push_str(word);
                cur_w = ww;
                continue;
            }
            // Longer than a line (or the rest of it): break inside the word.
            if !cur.is_empty() {
                cur.push(' ');
                cur_w += space;
            }
            for ch in word.chars() {
                let a = self.advance(w, size, ch);
                if cur_w + a > width && !cur.is_empty() {
                    lines.push(std::mem::take(&mut cur).trim_end().to_string());
                    cur_w = 0.0;
                    if lines.len() == max_lines {
                        overflow = true;
                        break 'words;
                    }
                }
                cur.push(ch);
                cur_w += a;
            }
        }
        if !overflow && !cur.is_empty() {
            if lines.len() < max_lines {
                lines.push(cur);
            } else {
                overflow = true;
            }
        }
        if overflow && let Some(last) = lines.last_mut() {
            let ell = self.advance(w, size, '…');
            let mut s: String = last.trim_end().to_string();
            while !s.is_empty() && self.measure(w, size, 0.0, &s) + ell > width {
                s.pop();
            }
            *last = format!("{}…", s.trim_end());
        }
        lines
    }
}

impl Default for Fonts {
    fn default() -> Self {
        Fonts::new()
    }
}

/// The box drawn for a character the font lacks: an outline of 0.5 em × the cap height.
fn tofu(size: f32, ascent: f32) -> GlyphBitmap {
    let w = (size * 0.5).round().max(3.0) as u32;
    let h = (ascent * 0.72).round().max(4.0) as u32;
    let t = ((size / 14.0).round() as u32).clamp(1, w / 3);
    let mut alpha = vec![0u8; (w * h) as usize];
    for y in 0..h {
        for x in 0..w {
            if x < t || y < t || x >= w - t || y >= h - t {
                alpha[(y * w + x) as usize] = 255;
            }
        }
    }
    GlyphBitmap {
        w,
        h,
        left: (size * 0.05).round() as i32,
        top: -(h as i32),
        alpha,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_are_covered_and_missing_glyphs_are_boxes() {
        let mut f = Fonts::new();
        for c in ['A', 'é', 'Ж', 'Ω', '…', '–', '·'] {
            assert!(f.glyph(Weight::Regular, c).is_some(), "{c}");
            assert!(f.glyph(Weight::Bold, c).is_some(), "{c}");
        }
        let tofu = f.bitmap(Weight::Regular, 40.0, '会');
        assert!(tofu.w > 0 && tofu.alpha.contains(&255));
        assert!(f.advance(Weight::Regular, 40.0, '会') > 0.0);
    }

    #[test]
    fn wrap_then_ellipsize() {
        let f = Fonts::new();
        let short = f.wrap(Weight::Bold, 40.0, 384.0, 4, "Team standup");
        assert_eq!(short, vec!["Team standup"]);
        let long = "Ежеквартальный обзор стратегии развития продукта и планирование \
                    бюджета на следующий финансовый год с участием всех отделов компании";
        let lines = f.wrap(Weight::Bold, 40.0, 384.0, 4, long);
        assert_eq!(lines.len(), 4);
        assert!(lines[3].ends_with('…'), "{lines:?}");
        for l in &lines {
            assert!(f.measure(Weight::Bold, 40.0, 0.0, l) <= 384.0, "{l}");
        }
        let word = "Αααααααααααααααααααααααααααααααααααααααα";
        let lines = f.wrap(Weight::Bold, 40.0, 384.0, 4, word);
        assert!(lines.len() >= 2, "a long word breaks anywhere: {lines:?}");
    }
}
