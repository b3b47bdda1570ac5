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

/// Take this process's read-only file pages (the binary's and the libraries' code and
/// constants) out of its resident set; returns the bytes of the mappings released. They stay
/// in the page cache and come back, a fault at a time, when touched again: afterwards the
/// resident set holds the code the process still runs, not everything it ran once. The
/// display calls it once its first frame is up: parsing the configuration and the arguments,
/// setting up logging and the first answers run once, yet their pages (and, through the
/// kernel's fault-around, 64 KiB around each) would stay resident for the process's life.
///
/// Only mappings that are private, not writable and hold no anonymous (copied-on-write) page
/// are released: every page of such a mapping is an unmodified page of its file.
pub(crate) fn release_file_pages() -> std::io::Result<usize> {
    let smaps = std::fs::read_to_string("/proc/self/smaps")?;
    let mut released = 0;
    // (start, end, eligible so far) of the mapping whose fields are being read.
    let mut cur: Option<(usize, usize, bool)> = None;
    let mut advise = |vma: Option<(usize, usize, bool)>| {
        if let Some((start, end, true)) = vma {
            // SAFETY: [start, end) is one whole mapping of this process read from
            // /proc/self/smaps, private, without write permission and without anonymous
            // pages, so each of its pages is a clean page of the mapped file. MADV_DONTNEED
            // only drops the page-table entries: the next access maps the same file bytes
            // again (madvise(2), private file mappings), so no value any code or reference
            // reads can change. Such mappings (code and constants of the executable and of
            // the libraries loaded at start) are never unmapped while the process runs, so
            // the range cannot have been reused in between. A failure is only reported.
            let rc = unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED)
            };
            if rc == 0 {
                released += end - start;
            }
        }
    };
    for line in smaps.lines() {
        let mut f = line.split_whitespace();
        let first = f.next().unwrap_or_default();
        if let Some((a, b)) = first.split_once('-')
            && let (Ok(start), Ok(end)) =
                (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
        {
            advise(cur.take());
            let perms = f.next().unwrap_or_default();
            let path = f.nth(3).unwrap_or_default();
            let eligible = perms.len() == 4
                && !perms.contains('w')
                && perms.ends_with('p')
                && path.starts_with('/');
            cur = Some((start, end, eligible));
        } else if first == "Anonymous:"
            && f.next() != Some("0")
            && let Some(c) = cur.as_mut()
        {
            c.2 = false;
        }
    }
    advise(cur.take());
    Ok(released)
}

/// A volatile copy of a static's value: what the binary's bytes hold now, which the compiler
/// may not assume to be the initializer. `version` reads its release stamp this way, because
/// `ci/release.sh` rewrites those bytes in the built file.
pub(crate) fn read_volatile<T: Copy>(value: &'static T) -> T {
    // SAFETY: the reference is valid, aligned and points to an initialised `T` for the whole
    // program; `T: Copy`, so copying it out leaves nothing to drop twice.
    unsafe { std::ptr::read_volatile(value) }
}

#[cfg(test)]
mod tests {
    fn rss_file_kib() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("RssFile:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap()
    }

    #[test]
    fn file_pages_leave_the_resident_set_and_come_back_on_use() {
        let before = rss_file_kib();
        let released = super::release_file_pages().unwrap();
        let after = rss_file_kib();
        assert!(released > 0, "nothing released");
        assert!(after < before, "RssFile {before} KiB -> {after} KiB");
        // Code and constants are read again from the file.
        let v: Vec<String> = (0..100).map(|i| format!("{i:03}")).collect();
        assert_eq!(v[42], "042");
        assert!(rss_file_kib() > after);
    }
}
