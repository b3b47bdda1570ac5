//! A reader of the bundle's uncompressed POSIX tar (ustar): headers, names (with the ustar
//! prefix), sizes, types; nothing is written here.
//!
//! Why hand-written: the `tar` crate cost more of the 8 MiB Pi budget than these lines
//! (docs/updates.md, "Decisions"); a bundle is read whole from memory after its sha256 was
//! checked against the signed manifest, so only the ustar layout is needed. Anything else
//! (GNU long names, pax headers, sparse files) is refused by name.

/// One entry of the archive.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Entry<'a> {
    /// The path (ustar prefix + name).
    pub path: String,
    /// The type flag (`b'0'` regular, `b'5'` directory, `b'1'`/`b'2'` links, …).
    pub kind: u8,
    /// The contents (empty for anything but a regular file).
    pub data: &'a [u8],
}

const BLOCK: usize = 512;

fn octal(field: &[u8]) -> Result<u64, String> {
    let text: String = field
        .iter()
        .take_while(|&&b| b != 0)
        .map(|&b| b as char)
        .collect();
    let t = text.trim();
    if t.is_empty() {
        return Ok(0);
    }
    u64::from_str_radix(t, 8).map_err(|_| format!("bad octal field {t:?}"))
}

fn text(field: &[u8]) -> String {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    String::from_utf8_lossy(&field[..end]).into_owned()
}

/// Every entry of `tar`, in order, each header's checksum verified; stops at the end blocks.
pub(crate) fn entries(tar: &[u8]) -> Result<Vec<Entry<'_>>, String> {
    let mut out = Vec::new();
    let mut at = 0usize;
    loop {
        let Some(h) = tar.get(at..at + BLOCK) else {
            return Err("the archive ends without its end blocks".into());
        };
        if h.iter().all(|&b| b == 0) {
            return Ok(out);
        }
        let sum = octal(&h[148..156])?;
        let computed: u64 = h
            .iter()
            .enumerate()
            .map(|(i, &b)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    u64::from(b)
                }
            })
            .sum();
        if sum != computed {
            return Err(format!("header checksum mismatch at byte {at}"));
        }
        if &h[257..262] != b"ustar" {
            return Err(format!("not a ustar header at byte {at}"));
        }
        let name = text(&h[0..100]);
        let prefix = text(&h[345..500]);
        let path = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let kind = h[156];
        let size = usize::try_from(octal(&h[124..136])?).map_err(|e| e.to_string())?;
        let start = at + BLOCK;
        let data = tar
            .get(start..start.checked_add(size).ok_or("size overflow")?)
            .ok_or_else(|| format!("{path:?} is cut short"))?;
        match kind {
            b'0' | 0 | b'5' | b'1' | b'2' => {}
            other => {
                return Err(format!(
                    "{path:?} has type {:?}: only plain ustar entries are read",
                    other as char
                ));
            }
        }
        out.push(Entry { path, kind, data });
        at = start + size.div_ceil(BLOCK) * BLOCK;
    }
}
