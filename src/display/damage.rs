//! Which pixels can have changed since the last frame, known before anything is painted.
//!
//! Why: the kiosk changes a few digits a second (the countdown and the clock), yet laying out
//! and painting the whole canvas, then comparing every row of the panel with a copy of the
//! last frame, cost most of the display's CPU and, for that copy, as much memory as the panel
//! itself (750 KiB at 480×800 in RGB565, 8 MiB at 1920×1080). Instead the canvas records the
//! frame's drawing operations (a display list, see [`super::canvas::Canvas::record`]); each
//! operation has a hash of its parameters and the bounding box of the pixels it may touch.
//!
//! Every primitive of the canvas is pixel-local (a pixel's new value depends only on its old
//! value and the operation), so a pixel's value is a function of the sequence of operations
//! whose boxes contain it. Hence: a row whose sequence of operations (their hashes, in order)
//! is the same as last frame's has every pixel unchanged, and so has such a column. Each row
//! and each column keeps one 64-bit signature of its sequence; the rows and columns whose
//! signature changed bound every pixel that can differ, and only those rectangles are
//! repainted (replaying the operations that touch them, from white, exactly as a full frame
//! would) and written to the panel. Nothing of the last frame is kept but 8 bytes per row and
//! per column. A signature collision (odds about 2⁻⁶⁴ per row and frame) would leave a row
//! stale until its next change; the output is otherwise pixel-identical to a full redraw,
//! which `tests/display.rs` checks against `--snapshot` frames.

use std::hash::Hasher;

/// A rectangle of whole pixels, `[x0, x1) × [y0, y1)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PxRect {
    /// First column.
    pub x0: i32,
    /// First row.
    pub y0: i32,
    /// Column after the last.
    pub x1: i32,
    /// Row after the last.
    pub y1: i32,
}

impl PxRect {
    /// Nothing.
    pub const EMPTY: PxRect = PxRect {
        x0: 0,
        y0: 0,
        x1: 0,
        y1: 0,
    };

    /// The whole of a `w`×`h` picture.
    pub fn full(w: u32, h: u32) -> PxRect {
        PxRect {
            x0: 0,
            y0: 0,
            x1: w as i32,
            y1: h as i32,
        }
    }

    /// Whether it holds no pixel.
    pub fn is_empty(&self) -> bool {
        self.x0 >= self.x1 || self.y0 >= self.y1
    }

    /// The pixels in both.
    pub fn intersect(&self, o: &PxRect) -> PxRect {
        PxRect {
            x0: self.x0.max(o.x0),
            y0: self.y0.max(o.y0),
            x1: self.x1.min(o.x1),
            y1: self.y1.min(o.y1),
        }
    }

    /// Whether the two share a pixel.
    pub fn overlaps(&self, o: &PxRect) -> bool {
        !self.intersect(o).is_empty()
    }

    /// The smallest rectangle holding both (an empty one adds nothing).
    pub fn union(&self, o: &PxRect) -> PxRect {
        if self.is_empty() {
            return *o;
        }
        if o.is_empty() {
            return *self;
        }
        PxRect {
            x0: self.x0.min(o.x0),
            y0: self.y0.min(o.y0),
            x1: self.x1.max(o.x1),
            y1: self.y1.max(o.y1),
        }
    }
}

/// What to repaint and rewrite: everything, or these canvas rectangles (none = nothing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Damage {
    /// The whole picture (the first frame, a new size).
    All,
    /// Only these rectangles of the canvas; every other pixel is as last frame.
    Rects(Vec<PxRect>),
}

impl Damage {
    /// The rectangles of a `w`×`h` canvas this covers.
    pub fn rects(&self, w: u32, h: u32) -> Vec<PxRect> {
        match self {
            Damage::All => vec![PxRect::full(w, h)],
            Damage::Rects(r) => r.clone(),
        }
    }

    /// Canvas pixels covered (for the statistics line).
    pub fn area(&self, w: u32, h: u32) -> u64 {
        self.rects(w, h)
            .iter()
            .map(|r| ((r.x1 - r.x0).max(0) as u64) * ((r.y1 - r.y0).max(0) as u64))
            .sum()
    }
}

/// A hash of one drawing operation's parameters (fed by the canvas).
#[derive(Default)]
pub struct OpHasher(std::collections::hash_map::DefaultHasher);

impl OpHasher {
    /// Add a float (its bits: 0.1 + 0.2 and 0.3 are different operations, which is right).
    pub fn f(&mut self, v: f32) -> &mut Self {
        self.0.write_u32(v.to_bits());
        self
    }

    /// Add an integer.
    pub fn i(&mut self, v: i64) -> &mut Self {
        self.0.write_i64(v);
        self
    }

    /// Add text.
    pub fn s(&mut self, v: &str) -> &mut Self {
        self.0.write(v.as_bytes());
        self.0.write_u8(0xff);
        self
    }

    /// The hash.
    pub fn finish(&self) -> u64 {
        self.0.finish()
    }
}

/// One more operation in a row's (or column's) sequence: order matters, and each step is a
/// bijection of the running value, so different sequences rarely meet.
#[inline]
fn mix(sig: u64, op: u64) -> u64 {
    (sig.rotate_left(23) ^ op).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// The last frame's signatures: one per row and one per column of the canvas.
#[derive(Debug, Clone, Default)]
pub struct Signatures {
    rows: Vec<u64>,
    cols: Vec<u64>,
}

impl Signatures {
    /// Forget the last frame: the next [`Signatures::update`] reports [`Damage::All`].
    pub fn clear(&mut self) {
        self.rows.clear();
        self.cols.clear();
    }

    /// Take this frame's operations (hash, bounding box, in drawing order) and return what
    /// differs from the last frame: the bands of changed rows, each across the span of
    /// changed columns.
    pub fn update(&mut self, w: u32, h: u32, ops: impl Iterator<Item = (u64, PxRect)>) -> Damage {
        let (w, h) = (w as usize, h as usize);
        let mut rows = vec![0u64; h];
        let mut cols = vec![0u64; w];
        let full = PxRect::full(w as u32, h as u32);
        for (hash, bx) in ops {
            // The box is part of the operation: the same parameters elsewhere differ.
            let hash = [bx.x0, bx.y0, bx.x1, bx.y1]
                .iter()
                .fold(hash, |h, &v| mix(h, v as u64));
            let b = bx.intersect(&full);
            if b.is_empty() {
                continue;
            }
            for s in &mut rows[b.y0 as usize..b.y1 as usize] {
                *s = mix(*s, hash);
            }
            for s in &mut cols[b.x0 as usize..b.x1 as usize] {
                *s = mix(*s, hash);
            }
        }
        let first = self.rows.len() != h || self.cols.len() != w;
        let old_rows = std::mem::replace(&mut self.rows, rows);
        let old_cols = std::mem::replace(&mut self.cols, cols);
        if first {
            return Damage::All;
        }
        let changed_cols: Vec<usize> = (0..w).filter(|&x| old_cols[x] != self.cols[x]).collect();
        let (Some(&x0), Some(&x1)) = (changed_cols.first(), changed_cols.last()) else {
            return Damage::Rects(Vec::new());
        };
        let mut out = Vec::new();
        let mut y = 0;
        while y < h {
            if old_rows[y] == self.rows[y] {
                y += 1;
                continue;
            }
            let start = y;
            while y < h && old_rows[y] != self.rows[y] {
                y += 1;
            }
            out.push(PxRect {
                x0: x0 as i32,
                y0: start as i32,
                x1: x1 as i32 + 1,
                y1: y as i32,
            });
        }
        Damage::Rects(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(x0: i32, y0: i32, x1: i32, y1: i32) -> PxRect {
        PxRect { x0, y0, x1, y1 }
    }

    #[test]
    fn changed_operations_bound_the_damage() {
        let mut s = Signatures::default();
        let frame = |digit: u64| {
            vec![
                (1u64, r(0, 0, 100, 50)),         // clear
                (2, r(10, 5, 90, 20)),            // a fixed label
                (100 + digit, r(20, 30, 40, 45)), // the ticking digit
            ]
        };
        assert_eq!(s.update(100, 50, frame(0).into_iter()), Damage::All);
        assert_eq!(
            s.update(100, 50, frame(0).into_iter()),
            Damage::Rects(vec![])
        );
        assert_eq!(
            s.update(100, 50, frame(1).into_iter()),
            Damage::Rects(vec![r(20, 30, 40, 45)])
        );
        // A digit that moved: its old and new places are both repainted.
        let mut moved = frame(1);
        moved[2].1 = r(25, 32, 45, 48);
        assert_eq!(
            s.update(100, 50, moved.into_iter()),
            Damage::Rects(vec![r(20, 30, 45, 48)])
        );
        s.update(100, 50, frame(1).into_iter());
        // Disjoint operations in another order: the same picture.
        let mut swapped = frame(1);
        swapped.swap(1, 2);
        assert_eq!(
            s.update(100, 50, swapped.into_iter()),
            Damage::Rects(vec![])
        );
        // Overlapping ones: another picture where they meet.
        s.update(100, 50, frame(1).into_iter());
        let mut swapped = frame(1);
        swapped.swap(0, 1);
        assert_eq!(
            s.update(100, 50, swapped.into_iter()),
            Damage::Rects(vec![r(10, 5, 90, 20)])
        );
        s.clear();
        assert_eq!(s.update(100, 50, frame(1).into_iter()), Damage::All);
    }
}
