//! The display's ioctls: the framebuffer, the virtual console and evdev, which no safe crate
//! in the tree wraps (used by `display::fb`, `display::touch`).
//!
//! Each call follows one pattern, and this is why each `unsafe` block below is sound:
//! - the file descriptor comes from a live `&File` borrowed for the duration of the call, so
//!   it is open and cannot be closed underneath the kernel;
//! - the argument is either a plain integer (`FBIOBLANK`, `KDSETMODE`) or a pointer to a
//!   properly aligned, fully initialised `#[repr(C)]` struct owned by this stack frame whose
//!   layout and size are exactly the kernel's (`struct fb_var_screeninfo` is 160 bytes,
//!   `struct fb_fix_screeninfo` 68/80 bytes on 32/64-bit, `struct input_absinfo` 24 bytes:
//!   checked by the size assertions in the tests below and by the ioctl number, which encodes
//!   the size for the evdev call), so the kernel writes only inside memory we own;
//! - the structs are plain integers: every bit pattern the kernel writes is a valid value;
//! - the return value is checked and turned into `io::Error::last_os_error()` on failure, so
//!   no partially written struct is ever used.
//!
//! The framebuffer mapping ([`Mapping`]) is sound because: `mmap` is asked for a shared,
//! read-write mapping of exactly `len` bytes of a live descriptor and its result is checked
//! against `MAP_FAILED`; the pointer is only ever exposed as one `&mut [u8]` of that `len`
//! borrowed from `&mut self`, so there is no aliasing in this process; the mapping lives until
//! `Drop` unmaps it, and nothing keeps a slice past that (the borrow checker ties the slice to
//! the `Mapping`). Another process writing the same framebuffer can change the bytes under us,
//! which is harmless for `u8` data (no invalid values, no references into it).

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

const FBIOGET_VSCREENINFO: u32 = 0x4600;
const FBIOGET_FSCREENINFO: u32 = 0x4602;
const FBIOBLANK: u32 = 0x4611;
const FB_BLANK_UNBLANK: libc::c_ulong = 0;
const FB_BLANK_POWERDOWN: libc::c_ulong = 4;
const KDSETMODE: u32 = 0x4B3A;
const KD_TEXT: libc::c_ulong = 0;
const KD_GRAPHICS: libc::c_ulong = 1;

/// `struct fb_bitfield`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct FbBitfield {
    /// Bit offset of the channel.
    pub offset: u32,
    /// Bits in the channel.
    pub length: u32,
    /// Nonzero when the most significant bit is on the right.
    pub msb_right: u32,
}

/// `struct fb_var_screeninfo`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct FbVarScreeninfo {
    /// Visible width.
    pub xres: u32,
    /// Visible height.
    pub yres: u32,
    /// Virtual width.
    pub xres_virtual: u32,
    /// Virtual height.
    pub yres_virtual: u32,
    /// Visible area's offset in the virtual one.
    pub xoffset: u32,
    /// Visible area's offset in the virtual one.
    pub yoffset: u32,
    /// Bits per pixel.
    pub bits_per_pixel: u32,
    /// Nonzero for greyscale panels.
    pub grayscale: u32,
    /// Red channel.
    pub red: FbBitfield,
    /// Green channel.
    pub green: FbBitfield,
    /// Blue channel.
    pub blue: FbBitfield,
    /// Alpha channel.
    pub transp: FbBitfield,
    rest: [u32; 20],
}

/// `struct fb_fix_screeninfo`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct FbFixScreeninfo {
    /// Driver name.
    pub id: [u8; 16],
    smem_start: libc::c_ulong,
    /// Length of frame buffer memory.
    pub smem_len: u32,
    type_: u32,
    type_aux: u32,
    /// FB_VISUAL_*.
    pub visual: u32,
    xpanstep: u16,
    ypanstep: u16,
    ywrapstep: u16,
    /// Bytes per row.
    pub line_length: u32,
    mmio_start: libc::c_ulong,
    mmio_len: u32,
    accel: u32,
    capabilities: u16,
    reserved: [u16; 2],
}

fn check(rc: libc::c_int) -> io::Result<()> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// FBIOGET_VSCREENINFO and FBIOGET_FSCREENINFO of an open framebuffer device.
pub(crate) fn fb_screeninfo(f: &File) -> io::Result<(FbVarScreeninfo, FbFixScreeninfo)> {
    let mut var = FbVarScreeninfo::default();
    let mut fix = FbFixScreeninfo::default();
    // SAFETY: see the module doc: live fd, pointers to owned repr(C) structs of the kernel's
    // layout, result checked.
    check(unsafe {
        libc::ioctl(
            f.as_raw_fd(),
            FBIOGET_VSCREENINFO as libc::Ioctl,
            &mut var as *mut FbVarScreeninfo,
        )
    })?;
    // SAFETY: as above.
    check(unsafe {
        libc::ioctl(
            f.as_raw_fd(),
            FBIOGET_FSCREENINFO as libc::Ioctl,
            &mut fix as *mut FbFixScreeninfo,
        )
    })?;
    Ok((var, fix))
}

/// FBIOBLANK: powerdown (`on == false`) or unblank.
pub(crate) fn fb_blank(f: &File, on: bool) -> io::Result<()> {
    let arg = if on {
        FB_BLANK_UNBLANK
    } else {
        FB_BLANK_POWERDOWN
    };
    // SAFETY: live fd and an integer argument; result checked.
    check(unsafe { libc::ioctl(f.as_raw_fd(), FBIOBLANK as libc::Ioctl, arg) })
}

/// KDSETMODE on a virtual console: graphics (the console stops drawing over the
/// framebuffer and hides its cursor) or text (the console redraws itself).
pub(crate) fn kd_set_mode(tty: &File, graphics: bool) -> io::Result<()> {
    let arg = if graphics { KD_GRAPHICS } else { KD_TEXT };
    // SAFETY: live fd and an integer argument; result checked.
    check(unsafe { libc::ioctl(tty.as_raw_fd(), KDSETMODE as libc::Ioctl, arg) })
}

/// EVIOCGABS(axis): the range of an absolute axis of an evdev device, as (min, max).
pub(crate) fn evdev_abs_range(dev: &File, axis: u16) -> io::Result<(i32, i32)> {
    let mut info = libc::input_absinfo {
        value: 0,
        minimum: 0,
        maximum: 0,
        fuzz: 0,
        flat: 0,
        resolution: 0,
    };
    // _IOR('E', 0x40 + axis, struct input_absinfo): the size is part of the number.
    let size = std::mem::size_of::<libc::input_absinfo>() as u32;
    let req: u32 = (2 << 30) | (size << 16) | ((b'E' as u32) << 8) | (0x40 + axis as u32);
    // SAFETY: live fd; pointer to an owned libc::input_absinfo whose size the request names.
    check(unsafe {
        libc::ioctl(
            dev.as_raw_fd(),
            req as libc::Ioctl,
            &mut info as *mut libc::input_absinfo,
        )
    })?;
    Ok((info.minimum, info.maximum))
}

/// A shared read-write mapping of a framebuffer's memory (how DRM fbdev emulation and
/// deferred-I/O drivers see which pages changed).
pub(crate) struct Mapping {
    ptr: std::ptr::NonNull<u8>,
    len: usize,
}

impl Mapping {
    /// Map `len` bytes of `f` from offset 0.
    pub(crate) fn new(f: &File, len: usize) -> io::Result<Mapping> {
        if len == 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "empty mapping"));
        }
        // SAFETY: see the module doc: a fresh shared mapping of a live fd, result checked.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                f.as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr = std::ptr::NonNull::new(p.cast::<u8>())
            .ok_or_else(|| io::Error::other("mmap returned null"))?;
        Ok(Mapping { ptr, len })
    }

    /// The mapped bytes.
    pub(crate) fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: ptr/len describe a live mapping owned by self; the &mut borrow of self makes
        // this the only slice into it.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly the region mapped in `new`; no slice outlives self.
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), self.len);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn struct_sizes_match_the_kernel() {
        assert_eq!(std::mem::size_of::<FbVarScreeninfo>(), 160);
        let fix = if cfg!(target_pointer_width = "64") {
            80
        } else {
            68
        };
        assert_eq!(std::mem::size_of::<FbFixScreeninfo>(), fix);
        assert_eq!(std::mem::size_of::<libc::input_absinfo>(), 24);
    }

    #[test]
    fn a_mapped_file_is_written_through() {
        let mut f = tempfile::tempfile().unwrap();
        f.set_len(8192).unwrap();
        {
            let mut m = Mapping::new(&f, 8192).unwrap();
            m.bytes_mut()[4096..4100].copy_from_slice(b"fb!!");
        }
        use std::io::{Read, Seek};
        let mut buf = Vec::new();
        f.seek(std::io::SeekFrom::Start(0)).unwrap();
        f.read_to_end(&mut buf).unwrap();
        assert_eq!(&buf[4096..4100], b"fb!!");
    }

    #[test]
    fn ioctls_on_a_plain_file_fail_cleanly() {
        let f = tempfile::tempfile().unwrap();
        assert!(fb_screeninfo(&f).is_err());
        assert!(fb_blank(&f, true).is_err());
        assert!(evdev_abs_range(&f, 0).is_err());
    }
}
