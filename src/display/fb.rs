//! Linux fbdev output: the panel's geometry, grey → the panel's pixel format, and writes of
//! only the parts of rows that changed since the last frame.
//!
//! What changed comes from the canvas (`super::damage`: rectangles known from the frame's
//! drawing operations), mapped through the rotation and the pixel shift to panel rows and
//! columns; no copy of the last frame is kept (it was as large as the panel's memory). The
//! whole panel is written on the first frame, after unblanking, after a failed write and when
//! the shift steps.
//!
//! A device is written through a shared mapping of its memory: that is what DRM's fbdev
//! emulation (vc4 on the Pi, virtio-gpu in the emulated boot) and deferred-I/O drivers
//! (fbtft SPI panels) watch to flush the touched pages to the screen; in the emulated boot,
//! positioned writes to virtio-gpu's fbdev (Debian's 6.1 kernel) were accepted but never
//! reached the scanout. A regular file standing in for a device (tests, benchmarks) is
//! written with positioned writes (`pwrite`), which are also the fallback when a device
//! cannot be mapped, or, with `--fb-mmap`, through a mapping like a device; the rows,
//! offsets and bytes are the same either way. The geometry of a
//! device comes from FBIOGET_VSCREENINFO/FSCREENINFO (resolution, bits per pixel, the stride
//! the driver reports, the RGB bitfields and the pan offset); a file takes it from
//! `WxHxBPP[+STRIDE]`.

use super::canvas::Canvas;
use super::damage::Damage;
use super::rotate::{physical_rect, physical_size, physical_span};
use crate::config::display::GeometrySpec;
use crate::sys::fbdev as sys;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileExt, FileTypeExt};
use std::path::{Path, PathBuf};

/// What can go wrong with the framebuffer.
#[derive(Debug, thiserror::Error)]
pub enum FbError {
    /// The device cannot be opened.
    #[error("framebuffer {path}: {source}")]
    Open {
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The geometry ioctls failed (not a framebuffer).
    #[error("framebuffer {path}: cannot read its geometry: {source}")]
    Geometry {
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A regular file without a geometry.
    #[error(
        "framebuffer {0}: a regular file needs a geometry (display.geometry or --fb-geometry WxHxBPP)"
    )]
    NoGeometry(PathBuf),
    /// A format this writer does not handle.
    #[error("framebuffer {path}: unsupported format: {what}")]
    Unsupported {
        /// The path.
        path: PathBuf,
        /// What.
        what: String,
    },
    /// A write failed.
    #[error("framebuffer write: {0}")]
    Write(#[from] std::io::Error),
}

/// One colour channel's place in a pixel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Channel {
    /// Bit offset.
    pub offset: u32,
    /// Bits.
    pub length: u32,
}

/// The panel's memory layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    /// Visible width.
    pub xres: u32,
    /// Visible height.
    pub yres: u32,
    /// First visible column in the virtual screen.
    pub xoffset: u32,
    /// First visible row in the virtual screen.
    pub yoffset: u32,
    /// 16, 24 or 32.
    pub bpp: u32,
    /// Bytes per row (the driver's `line_length`).
    pub stride: u32,
    /// Red bits.
    pub red: Channel,
    /// Green bits.
    pub green: Channel,
    /// Blue bits.
    pub blue: Channel,
}

impl Geometry {
    /// RGB565 for 16 bpp, R8G8B8 for 24, X8R8G8B8 for 32 (the usual fbdev layouts).
    pub fn from_spec(g: GeometrySpec) -> Geometry {
        let (red, green, blue) = if g.bpp == 16 {
            ((11, 5), (5, 6), (0, 5))
        } else {
            ((16, 8), (8, 8), (0, 8))
        };
        let ch = |(offset, length)| Channel { offset, length };
        Geometry {
            xres: g.width,
            yres: g.height,
            xoffset: 0,
            yoffset: 0,
            bpp: g.bpp,
            stride: g.stride.unwrap_or(g.width * g.bpp / 8),
            red: ch(red),
            green: ch(green),
            blue: ch(blue),
        }
    }

    /// Bytes per pixel.
    pub fn bytes_pp(&self) -> usize {
        (self.bpp / 8) as usize
    }

    /// The pixel value of grey `g` (R = G = B = g).
    pub fn pixel(&self, g: u8) -> u32 {
        let put = |c: Channel| -> u32 {
            if c.length == 0 {
                return 0;
            }
            ((g as u32) >> (8 - c.length.min(8))) << c.offset
        };
        put(self.red) | put(self.green) | put(self.blue)
    }

    /// Human summary for the log.
    pub fn describe(&self) -> String {
        format!(
            "{}x{} {} bpp stride {} (R{}:{} G{}:{} B{}:{})",
            self.xres,
            self.yres,
            self.bpp,
            self.stride,
            self.red.offset,
            self.red.length,
            self.green.offset,
            self.green.length,
            self.blue.offset,
            self.blue.length
        )
    }
}

/// An open framebuffer (device or file) and the last frame written to it.
pub struct Framebuffer {
    file: File,
    path: PathBuf,
    /// The layout.
    pub geometry: Geometry,
    /// Grey → pixel bytes.
    lut: Vec<[u8; 4]>,
    /// The shift of the picture on the panel, once a whole frame was written (`None`: the
    /// panel's content is unknown, so the next frame is written whole).
    shown: Option<(i32, i32)>,
    /// Per panel row, the columns to write this frame.
    spans: Vec<(u32, u32)>,
    /// One panel row in grey, then in the panel's format.
    greys: Vec<u8>,
    row: Vec<u8>,
    /// Whether it is a character device (so FBIOBLANK applies).
    pub is_device: bool,
    /// The device's memory, when it can be mapped.
    map: Option<sys::Mapping>,
}

impl Framebuffer {
    /// Open `path`: a framebuffer device (geometry from its ioctls) or, with `spec`, a regular
    /// file (created and sized if missing).
    pub fn open(path: &Path, spec: Option<GeometrySpec>) -> Result<Framebuffer, FbError> {
        let open_err = |source| FbError::Open {
            path: path.to_path_buf(),
            source,
        };
        let is_device = match std::fs::metadata(path) {
            Ok(m) => m.file_type().is_char_device(),
            // A missing file is created only when a geometry says what it stands in for.
            Err(e) if spec.is_none() => return Err(open_err(e)),
            Err(_) => false,
        };
        let geometry = if is_device {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .open(path)
                .map_err(open_err)?;
            let (var, fix) = sys::fb_screeninfo(&file).map_err(|source| FbError::Geometry {
                path: path.to_path_buf(),
                source,
            })?;
            let ch = |b: sys::FbBitfield| Channel {
                offset: b.offset,
                length: b.length,
            };
            let g = Geometry {
                xres: var.xres,
                yres: var.yres,
                xoffset: var.xoffset,
                yoffset: var.yoffset,
                bpp: var.bits_per_pixel,
                stride: fix.line_length,
                red: ch(var.red),
                green: ch(var.green),
                blue: ch(var.blue),
            };
            let mut fb = Self::with(file, path, g, true)?;
            // Devices are written through a shared mapping: DRM's fbdev emulation (vc4,
            // virtio-gpu) and deferred-I/O drivers (fbtft) flush the pages touched there to
            // the screen. Positioned writes stay the fallback (and the path for files).
            let len =
                (fix.smem_len as usize).max(g.stride as usize * (g.yoffset + g.yres) as usize);
            match sys::Mapping::new(&fb.file, len) {
                Ok(m) => fb.map = Some(m),
                Err(e) => tracing::info!(error = %e, "framebuffer not mappable: using writes"),
            }
            return Ok(fb);
        } else {
            Geometry::from_spec(spec.ok_or_else(|| FbError::NoGeometry(path.to_path_buf()))?)
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(open_err)?;
        let len = geometry.stride as u64 * (geometry.yres + geometry.yoffset) as u64;
        if file.metadata().map(|m| m.len()).unwrap_or(0) < len {
            file.set_len(len).map_err(open_err)?;
        }
        Self::with(file, path, geometry, false)
    }

    fn with(file: File, path: &Path, g: Geometry, is_device: bool) -> Result<Framebuffer, FbError> {
        let bad = |what: String| FbError::Unsupported {
            path: path.to_path_buf(),
            what,
        };
        if !matches!(g.bpp, 16 | 24 | 32) {
            return Err(bad(format!(
                "{} bits per pixel (16, 24 or 32 are drawn)",
                g.bpp
            )));
        }
        if g.xres == 0 || g.yres == 0 || (g.stride as usize) < g.xres as usize * g.bytes_pp() {
            return Err(bad(format!("geometry {}", g.describe())));
        }
        for c in [g.red, g.green, g.blue] {
            if c.length > 8 || c.offset + c.length > g.bpp {
                return Err(bad(format!("bitfields {}", g.describe())));
            }
        }
        let lut = (0..=255u8)
            .map(|v| g.pixel(v).to_le_bytes())
            .collect::<Vec<_>>();
        Ok(Framebuffer {
            file,
            path: path.to_path_buf(),
            geometry: g,
            lut,
            shown: None,
            spans: Vec::new(),
            greys: vec![255; g.xres as usize],
            row: vec![0; g.xres as usize * g.bytes_pp()],
            is_device,
            map: None,
        })
    }

    /// Write a regular file standing in for the panel through a shared mapping, exactly as
    /// a device is written (`--fb-mmap`: the tests and the benchmark cover the device's write
    /// path with it). A device is mapped when opened.
    pub fn map_file(&mut self) -> Result<(), FbError> {
        if self.map.is_some() {
            return Ok(());
        }
        let g = self.geometry;
        let len = g.stride as usize * (g.yoffset + g.yres) as usize;
        let m = sys::Mapping::new(&self.file, len).map_err(|source| FbError::Open {
            path: self.path.clone(),
            source,
        })?;
        self.map = Some(m);
        Ok(())
    }

    /// Whether frames go through a shared mapping (else positioned writes).
    pub fn is_mapped(&self) -> bool {
        self.map.is_some()
    }

    /// The path opened.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The upright canvas size for `rotation` on this panel.
    pub fn canvas_size(&self, rotation: u16) -> (u32, u32) {
        physical_size(self.geometry.xres, self.geometry.yres, rotation)
    }

    /// Forget what the panel shows, so the next frame is written whole (after unblanking,
    /// or when something else may have drawn on the panel).
    pub fn invalidate(&mut self) {
        self.shown = None;
    }

    /// Write the rectangles `damage` of `c` (upright; rotated and shifted here) that land on
    /// the panel, or all of it when the panel's content is unknown or the shift moved; return
    /// how many panel rows were written (wholly or in part).
    pub fn present(
        &mut self,
        c: &Canvas,
        rotation: u16,
        shift: (i32, i32),
        damage: &Damage,
    ) -> Result<u32, FbError> {
        let g = self.geometry;
        let bpp = g.bytes_pp();
        let (pw, ph) = (g.xres, g.yres);
        assert_eq!(
            physical_size(c.w, c.h, rotation),
            (pw, ph),
            "canvas size must match the panel"
        );
        // Per panel row, the columns to write (empty: none).
        let spans = &mut self.spans;
        spans.clear();
        spans.resize(ph as usize, (0, 0));
        if self.shown != Some(shift) || *damage == Damage::All {
            spans.fill((0, pw));
        } else {
            for r in damage.rects(c.w, c.h) {
                let p = physical_rect(&r, c.w, c.h, rotation, shift);
                for y in p.y0.max(0)..p.y1 {
                    let s = &mut spans[y as usize];
                    *s = if s.0 >= s.1 {
                        (p.x0 as u32, p.x1 as u32)
                    } else {
                        (s.0.min(p.x0 as u32), s.1.max(p.x1 as u32))
                    };
                }
            }
        }
        // Unknown until every row below is written.
        self.shown = None;
        let (lut, greys, row, file) = (&self.lut, &mut self.greys, &mut self.row, &self.file);
        let mut map = self.map.as_mut();
        let mut written = 0u32;
        for (y, &(x0, x1)) in spans.iter().enumerate() {
            if x0 >= x1 {
                continue;
            }
            let n = (x1 - x0) as usize;
            physical_span(c, rotation, shift, y as u32, (x0, x1), greys);
            for (dst, &v) in row[..n * bpp].chunks_exact_mut(bpp).zip(&greys[..n]) {
                dst.copy_from_slice(&lut[v as usize][..bpp]);
            }
            let bytes = &row[..n * bpp];
            let off = (g.yoffset as u64 + y as u64) * g.stride as u64
                + ((g.xoffset + x0) as usize * bpp) as u64;
            match map.as_deref_mut() {
                Some(m) => {
                    let off = off as usize;
                    m.bytes_mut()
                        .get_mut(off..off + bytes.len())
                        .ok_or_else(|| std::io::Error::other("row outside the mapped framebuffer"))?
                        .copy_from_slice(bytes);
                }
                None => file.write_all_at(bytes, off)?,
            }
            written += 1;
        }
        self.shown = Some(shift);
        Ok(written)
    }

    /// Blank (`on == false`) or unblank the panel (FBIOBLANK; devices only).
    pub fn set_power(&mut self, on: bool) -> std::io::Result<()> {
        if !self.is_device {
            return Ok(());
        }
        sys::fb_blank(&self.file, on)
    }
}

/// Decode framebuffer bytes (as written by [`Framebuffer::present`]) into RGB triples, for
/// tests and the boot test's comparison.
pub fn decode_rgb(g: &Geometry, bytes: &[u8]) -> Vec<u8> {
    let bpp = g.bytes_pp();
    let mut out = Vec::with_capacity((g.xres * g.yres * 3) as usize);
    let get = |v: u32, c: Channel| -> u8 {
        if c.length == 0 {
            return 0;
        }
        let x = (v >> c.offset) & ((1 << c.length) - 1);
        // Widen like the panel does: replicate the top bits.
        ((x << (8 - c.length)) | (x >> (2 * c.length).saturating_sub(8).min(c.length))) as u8
    };
    for y in 0..g.yres as usize {
        let row = &bytes[(y + g.yoffset as usize) * g.stride as usize..];
        for x in 0..g.xres as usize {
            let p = &row[(x + g.xoffset as usize) * bpp..(x + g.xoffset as usize + 1) * bpp];
            let mut v = [0u8; 4];
            v[..bpp].copy_from_slice(p);
            let v = u32::from_le_bytes(v);
            out.extend_from_slice(&[get(v, g.red), get(v, g.green), get(v, g.blue)]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pixel_formats() {
        let g16 = Geometry::from_spec(GeometrySpec::parse("4x2x16").unwrap());
        assert_eq!(g16.pixel(255), 0xffff);
        assert_eq!(g16.pixel(0), 0);
        assert_eq!(g16.pixel(0x80), (0x10 << 11) | (0x20 << 5) | 0x10);
        let g32 = Geometry::from_spec(GeometrySpec::parse("4x2x32").unwrap());
        assert_eq!(g32.pixel(0x22), 0x0022_2222);
        let bytes: Vec<u8> = [0x22u8, 0xff]
            .iter()
            .flat_map(|&v| g16.pixel(v).to_le_bytes()[..2].to_vec())
            .collect();
        let g = Geometry {
            xres: 2,
            yres: 1,
            stride: 4,
            ..g16
        };
        let rgb = decode_rgb(&g, &bytes);
        assert_eq!(&rgb[3..], &[255, 255, 255]);
        assert!(rgb[0].abs_diff(0x22) <= 4, "{rgb:?}");
    }
}
