#!/bin/sh
# Cargo runner (and helper for scripts) that runs one aarch64 glibc binary under qemu-user.
#
# Which loader and libc to use depends on the machine (xbuild notes §2, the "-L trap"):
#  - with multiarch libc6:arm64 installed (/lib/ld-linux-aarch64.so.1 exists), run WITHOUT -L:
#    adding -L /usr/aarch64-linux-gnu then mixes the cross loader with the multiarch libraries
#    found through the host's ld.so.cache and hangs any binary that starts a thread;
#  - without it, point qemu at the cross sysroot from libc6-arm64-cross with -L.
# Both states occur on the project's machines, so this script decides at run time.
set -e
if [ -e /lib/ld-linux-aarch64.so.1 ]; then
    exec qemu-aarch64-static "$@"
fi
exec qemu-aarch64-static -L /usr/aarch64-linux-gnu "$@"
