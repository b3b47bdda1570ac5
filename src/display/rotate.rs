//! The arithmetic between the upright canvas (the layout's logical pixels) and the panel's
//! physical ones: rotation by 0, 90, 180 or 270 degrees clockwise and the pixel shift against
//! burn-in. Apart from the canvas so the framebuffer writer can map a changed rectangle of the
//! canvas to the panel rows and columns it lands on, and produce just those.

use super::canvas::Canvas;
use super::damage::PxRect;

/// The canvas point a panel pixel shows (before the shift).
#[inline]
fn to_canvas(px: i32, py: i32, pw: i32, ph: i32, rotation: u16) -> (i32, i32) {
    match rotation {
        90 => (py, pw - 1 - px),
        180 => (pw - 1 - px, ph - 1 - py),
        270 => (ph - 1 - py, px),
        _ => (px, py),
    }
}

/// The panel pixel showing canvas point (`lx`, `ly`) once shifted (inverse of `to_canvas`).
#[inline]
fn to_panel(lx: i32, ly: i32, pw: i32, ph: i32, rotation: u16) -> (i32, i32) {
    match rotation {
        90 => (pw - 1 - ly, lx),
        180 => (pw - 1 - lx, ph - 1 - ly),
        270 => (ly, ph - 1 - lx),
        _ => (lx, ly),
    }
}

/// The greys of panel row `py`, columns `[x0, x1)`, into `out` (`x1 - x0` long): the canvas
/// turned by `rotation`, moved by `shift`, white where the canvas does not reach.
pub fn physical_span(
    c: &Canvas,
    rotation: u16,
    shift: (i32, i32),
    py: u32,
    (x0, x1): (u32, u32),
    out: &mut [u8],
) {
    let (pw, ph) = physical_size(c.w, c.h, rotation);
    let (lw, lh) = (c.w as i32, c.h as i32);
    let (dx, dy) = shift;
    let out = &mut out[..(x1 - x0) as usize];
    if rotation == 0 {
        // Upright: a run of one canvas row, moved by the shift.
        out.fill(255);
        let ly = py as i32 - dy;
        if ly >= 0 && ly < lh {
            let src = &c.px[(ly * lw) as usize..((ly + 1) * lw) as usize];
            let from = (x0 as i32).max(dx).max(0);
            let to = (x1 as i32).min(lw + dx);
            if from < to {
                out[(from - x0 as i32) as usize..(to - x0 as i32) as usize]
                    .copy_from_slice(&src[(from - dx) as usize..(to - dx) as usize]);
            }
        }
        return;
    }
    for (o, px) in out.iter_mut().zip(x0 as i32..x1 as i32) {
        let (lx, ly) = to_canvas(px, py as i32, pw as i32, ph as i32, rotation);
        let (lx, ly) = (lx - dx, ly - dy);
        *o = if lx >= 0 && ly >= 0 && lx < lw && ly < lh {
            c.px[(ly * lw + lx) as usize]
        } else {
            255
        };
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
    for py in 0..ph {
        physical_span(c, rotation, shift, py, (0, pw), &mut buf);
        row(py, &buf);
    }
}

/// The panel rectangle showing canvas rectangle `r` of a `w`×`h` canvas (clipped to the
/// panel; empty when it falls off).
pub fn physical_rect(r: &PxRect, w: u32, h: u32, rotation: u16, shift: (i32, i32)) -> PxRect {
    if r.is_empty() {
        return PxRect::EMPTY;
    }
    let (pw, ph) = physical_size(w, h, rotation);
    let (pw_i, ph_i) = (pw as i32, ph as i32);
    let corner = |x: i32, y: i32| to_panel(x + shift.0, y + shift.1, pw_i, ph_i, rotation);
    let (ax, ay) = corner(r.x0, r.y0);
    let (bx, by) = corner(r.x1 - 1, r.y1 - 1);
    PxRect {
        x0: ax.min(bx),
        y0: ay.min(by),
        x1: ax.max(bx) + 1,
        y1: ay.max(by) + 1,
    }
    .intersect(&PxRect::full(pw, ph))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every canvas pixel lands where `physical_rect` says, for every rotation and shift.
    #[test]
    fn rectangles_map_like_the_pixels() {
        let (w, h) = (7u32, 5u32);
        for rotation in [0u16, 90, 180, 270] {
            for shift in [(0, 0), (2, -1), (-1, 2)] {
                for (lx, ly) in [(0, 0), (6, 4), (3, 1), (0, 4), (6, 0)] {
                    let mut c = Canvas::new(w, h);
                    c.px[(ly * w + lx) as usize] = 0;
                    let mut found = None;
                    physical_rows(&c, rotation, shift, |py, row| {
                        if let Some(px) = row.iter().position(|&g| g == 0) {
                            found = Some((px as i32, py as i32));
                        }
                    });
                    let one = PxRect {
                        x0: lx as i32,
                        y0: ly as i32,
                        x1: lx as i32 + 1,
                        y1: ly as i32 + 1,
                    };
                    let r = physical_rect(&one, w, h, rotation, shift);
                    let expect = found.map(|(x, y)| PxRect {
                        x0: x,
                        y0: y,
                        x1: x + 1,
                        y1: y + 1,
                    });
                    assert_eq!(
                        Some(r).filter(|r| !r.is_empty()),
                        expect,
                        "rotation {rotation} shift {shift:?} pixel ({lx}, {ly})"
                    );
                }
            }
        }
    }

    #[test]
    fn a_span_is_part_of_the_row() {
        let mut c = Canvas::new(6, 4);
        for (i, p) in c.px.iter_mut().enumerate() {
            *p = i as u8;
        }
        for rotation in [0u16, 90, 180, 270] {
            physical_rows(&c, rotation, (1, 1), |py, row| {
                let mut part = [0u8; 3];
                physical_span(&c, rotation, (1, 1), py, (1, 4), &mut part);
                assert_eq!(&part, &row[1..4], "rotation {rotation} row {py}");
            });
        }
    }
}
