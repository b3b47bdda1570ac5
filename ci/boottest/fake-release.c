/*
 * Broken "releases" for the emulated update test (ci/boot-update-test.sh): each is built for
 * aarch64 with one of the MODE_* macros, stamped and signed by ci/release.sh like a real
 * release, and installed by `calendarbot update` in the guest. They stand for the failures a
 * field update must survive, so each must be rolled back by the updater:
 *   MODE_EXIT_AT_START     exits with status 1 at once (a binary that cannot start: the unit
 *                          restarts it and the restart count grows);
 *   MODE_NEVER_READY       starts and keeps running, but never sends READY=1 and never answers
 *                          HTTP (the health gate times out);
 *   MODE_MIGRATE_AND_EXIT  sets the database's schema version (SQLite header, PRAGMA
 *                          user_version at byte 60) to 99, as a newer build's migration would,
 *                          then exits 1: the old build refuses a newer schema, so a rollback
 *                          that does not restore the database snapshot leaves a dead kiosk.
 * The release stamp (src/version.rs) is here so ci/release.sh can write the version, and
 * `--version` answers as the real binary does (ci/release.sh checks the stamped version and
 * the commit, given as -DCOMMIT=...): a broken release is still a well-formed one.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifndef COMMIT
#define COMMIT "unknown"
#endif

__attribute__((used)) static const char stamp[64] = "CALENDARBOT-RELEASE-STAMP:";

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("calendarbot %s (commit %.12s, profile pi)\n", stamp + 26, COMMIT);
        return 0;
    }
    fprintf(stderr, "fake release %s\n", stamp + 26);
#if defined(MODE_EXIT_AT_START)
    return 1;
#elif defined(MODE_NEVER_READY)
    for (;;) {
        pause();
    }
#elif defined(MODE_MIGRATE_AND_EXIT)
    const unsigned char v[4] = {0, 0, 0, 99};
    int fd = open("/var/lib/calendarbot/calendarbot.db", O_WRONLY);
    if (fd < 0 || pwrite(fd, v, sizeof v, 60) != (ssize_t)sizeof v || fsync(fd) != 0) {
        perror("fake release: database");
    }
    return 1;
#else
#error "one of MODE_EXIT_AT_START, MODE_NEVER_READY, MODE_MIGRATE_AND_EXIT"
#endif
}
