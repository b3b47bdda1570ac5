#!/usr/bin/python3
"""The byte-exact parts of ci/release.sh: the version stamp, the update bundle and the manifest.

Kept apart from the shell script because each is a format the kiosk reads (docs/updates.md):
Python's tarfile with every TarInfo field set, and JSON written by hand in the documented key
order and layout, so the same inputs give the same bytes on any machine with Debian's python3.

usage:
  release.py stamp BIN OUT VERSION
  release.py bundle OUT BINARY OVERLAY_DIR VERSION COMMIT EPOCH
  release.py manifest OUT VERSION CHANNEL COMMIT PROFILE EPOCH KIND=FILE...
"""
import hashlib
import io
import json
import os
import re
import sys
import tarfile

MARKER = b"CALENDARBOT-RELEASE-STAMP:"
FIELD = 64  # src/version.rs: the whole field, marker included
MAX_VERSION = 37  # leaves at least one NUL after the version
SEMVER = re.compile(
    r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)"
    r"(-(0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)(\.(0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*))*)?"
    r"(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$"
)


def die(msg):
    sys.stderr.write("error: %s\n" % msg)
    sys.exit(1)


def check_version(v):
    if len(v.encode()) > MAX_VERSION:
        die("version %r is %d bytes, the stamp holds at most %d" % (v, len(v.encode()), MAX_VERSION))
    if not SEMVER.match(v):
        die("version %r is not SemVer (MAJOR.MINOR.PATCH[-PRE][+BUILD])" % v)


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def stamp(src, out, version):
    check_version(version)
    with open(src, "rb") as f:
        data = bytearray(f.read())
    at = data.find(MARKER)
    if at < 0:
        die("%s has no release stamp (marker %s not found)" % (src, MARKER.decode()))
    if data.find(MARKER, at + 1) >= 0:
        die("%s has more than one release stamp marker" % src)
    start, end = at + len(MARKER), at + FIELD
    if end > len(data) or any(data[start:end]):
        die("%s: the bytes after the stamp marker are not a blank field (already stamped?)" % src)
    v = version.encode()
    data[start : start + len(v)] = v
    with open(out, "wb") as f:
        f.write(data)
    os.chmod(out, 0o755)


def overlay_files(overlay):
    """Regular files of overlays/, sorted by path bytes. Symlinks (systemd enable links) are the
    image's business: a bundle carries files only (docs/updates.md, "The update bundle")."""
    found = []
    for root, dirs, files in os.walk(overlay):
        dirs.sort()
        for name in files:
            full = os.path.join(root, name)
            if os.path.islink(full) or not os.path.isfile(full):
                continue
            rel = os.path.relpath(full, overlay)
            mode = 0o755 if os.access(full, os.X_OK) else 0o644
            found.append(("overlay/" + rel, full, mode))
    found.sort(key=lambda e: e[0].encode())
    return found


def entry_json(path, data, mode):
    return '{ "path": %s, "size": %d, "sha256": "%s", "mode": %d }' % (
        json.dumps(path), len(data), sha256(data), mode)


def bundle(out, binary, overlay, version, commit, epoch):
    entries = []
    with open(binary, "rb") as f:
        entries.append(("calendarbot", f.read(), 0o755))
    for path, full, mode in overlay_files(overlay):
        with open(full, "rb") as f:
            entries.append((path, f.read(), mode))
    doc = "{\n"
    doc += '  "name": "calendarbot",\n'
    doc += '  "version": %s,\n' % json.dumps(version)
    doc += '  "git_commit": %s,\n' % json.dumps(commit)
    doc += '  "files": [\n'
    doc += ",\n".join("    " + entry_json(p, d, m) for p, d, m in entries)
    doc += "\n  ]\n}\n"
    entries.insert(0, ("bundle.json", doc.encode(), 0o644))
    with open(out, "wb") as raw:
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
            for path, data, mode in entries:
                info = tarfile.TarInfo(path)
                info.type = tarfile.REGTYPE
                info.size = len(data)
                info.mode = mode
                info.mtime = epoch
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                info.devmajor = info.devminor = 0
                tar.addfile(info, io.BytesIO(data))


def manifest(out, version, channel, commit, profile, epoch, artifacts):
    lines = []
    for spec in artifacts:
        kind, path = spec.split("=", 1)
        with open(path, "rb") as f:
            data = f.read()
        lines.append('    { "kind": %s, "file": %s, "size": %d, "sha256": "%s" }' % (
            json.dumps(kind), json.dumps(os.path.basename(path)), len(data), sha256(data)))
    doc = "{\n"
    doc += '  "name": "calendarbot",\n'
    doc += '  "version": %s,\n' % json.dumps(version)
    doc += '  "channel": %s,\n' % json.dumps(channel)
    doc += '  "git_commit": %s,\n' % json.dumps(commit)
    doc += '  "profile": %s,\n' % json.dumps(profile)
    doc += '  "source_date_epoch": %d,\n' % epoch
    doc += '  "artifacts": [\n' + ",\n".join(lines) + "\n  ]\n}\n"
    json.loads(doc)  # a last check that the hand-written layout is JSON
    with open(out, "w") as f:
        f.write(doc)


def main(argv):
    if len(argv) >= 2 and argv[1] == "version" and len(argv) == 3:
        check_version(argv[2])
    elif len(argv) == 5 and argv[1] == "stamp":
        stamp(argv[2], argv[3], argv[4])
    elif len(argv) == 8 and argv[1] == "bundle":
        bundle(argv[2], argv[3], argv[4], argv[5], argv[6], int(argv[7]))
    elif len(argv) >= 9 and argv[1] == "manifest":
        manifest(argv[2], argv[3], argv[4], argv[5], argv[6], int(argv[7]), argv[8:])
    else:
        sys.stderr.write(__doc__)
        sys.exit(64)


if __name__ == "__main__":
    main(sys.argv)
