#!/usr/bin/env python3
"""Compare the guest's screen (QEMU screendump, PPM) with the host's --snapshot of the same
state (ci/boot-test.sh). The ticking digits (countdown value, clock) are masked: every row that
differs between host snapshots taken at the screendump time and a few seconds and a minute
later is left out, widened by a few rows. Everything else (banner, "STARTS IN", the card's
subject, time range and location, status line, rules and borders) must match.

usage: screen-compare.py SCREEN.ppm OUT.png SNAP_T.png SNAP_T+1.png SNAP_T+61.png
prints key=value lines; exits 0 when the screens match, 1 when not.
"""
import sys
import zlib
import struct

TOLERANCE = 24      # a channel off by more than this makes a pixel differ
MAX_DIFFER = 0.002  # at most this fraction of unmasked pixels may differ
WIDEN = 6           # rows added around each masked band


def read_ppm(path):
    data = open(path, "rb").read()
    parts = []
    i = 0
    while len(parts) < 4:
        while data[i:i + 1].isspace():
            i += 1
        if data[i:i + 1] == b"#":
            while data[i:i + 1] != b"\n":
                i += 1
            continue
        j = i
        while not data[j:j + 1].isspace():
            j += 1
        parts.append(data[i:j])
        i = j
    i += 1
    assert parts[0] == b"P6", parts[0]
    w, h, maxv = int(parts[1]), int(parts[2]), int(parts[3])
    assert maxv == 255
    return w, h, data[i:i + w * h * 3]


def read_png(path):
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, w = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and colour in (2, 6) and interlace == 0, (depth, colour)
            bpp = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = w * bpp
    out = bytearray()
    prev = bytearray(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pr = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[x] = (line[x] + pr) & 255
        prev = line
        if bpp == 4:
            out += bytes(v for i, v in enumerate(line) if i % 4 != 3)
        else:
            out += line
    return w, h, bytes(out)


def write_png(path, w, h, rgb):
    raw = b"".join(b"\x00" + rgb[y * w * 3:(y + 1) * w * 3] for y in range(h))
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    open(path, "wb").write(png)


def rows_differing(a, b, w, h):
    rows = set()
    for y in range(h):
        if a[y * w * 3:(y + 1) * w * 3] != b[y * w * 3:(y + 1) * w * 3]:
            rows.add(y)
    return rows


def main():
    screen_path, out_png, snap_t, snap_1, snap_61 = sys.argv[1:6]
    sw, sh, screen = read_ppm(screen_path)
    write_png(out_png, sw, sh, screen)
    print(f"screen_png={out_png}")
    print(f"screen_size={sw}x{sh}")
    w, h, ref = read_png(snap_t)
    if (w, h) != (sw, sh):
        print(f"compare=size differs: screen {sw}x{sh}, snapshot {w}x{h}")
        return 1
    masked = set()
    for other in (snap_1, snap_61):
        _, _, o = read_png(other)
        masked |= rows_differing(ref, o, w, h)
    wide = set()
    for y in masked:
        wide.update(range(max(0, y - WIDEN), min(h, y + WIDEN + 1)))
    differ = total = 0
    dark_screen = 0
    for y in range(h):
        if y in wide:
            continue
        row_a = screen[y * w * 3:(y + 1) * w * 3]
        row_b = ref[y * w * 3:(y + 1) * w * 3]
        for x in range(0, w * 3, 3):
            total += 1
            if row_a[x] < 128:
                dark_screen += 1
            if max(abs(row_a[x + i] - row_b[x + i]) for i in range(3)) > TOLERANCE:
                differ += 1
    frac = differ / max(total, 1)
    print(f"masked_rows={len(wide)}")
    print(f"compared_pixels={total}")
    print(f"differing_pixels={differ}")
    print(f"differing_fraction={frac:.5f}")
    print(f"screen_dark_pixels={dark_screen}")
    ok = frac <= MAX_DIFFER and dark_screen > 1000
    print(f"compare={'match' if ok else 'mismatch'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
