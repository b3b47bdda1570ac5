//! The one place with `unsafe`: calls into the C library that no safe crate wraps.
//!
//! Why it exists: the crate root denies `unsafe_code`; every foreign call the kiosk needs is
//! gathered here (this file and [`fbdev`]), each with the reason it is sound, so a reviewer
//! reads two short files. The allow below is the crate's only one; it covers `fbdev` too.

#![allow(unsafe_code)]

pub(crate) mod fbdev;

/// Give freed heap memory back to the kernel (glibc keeps it otherwise). Called after a
/// refresh and shortly after a new calendar was published: the old one and the parse's scratch
/// space are free by then, and on a 512 MB Pi under a memory cgroup limit resident memory is
/// what counts.
pub(crate) fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory of the allocator; it has no preconditions
    // and touches no memory the program holds.
    unsafe {
        libc::malloc_trim(0);
    }
}
