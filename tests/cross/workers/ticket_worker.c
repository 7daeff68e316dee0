/* Cross-language ticket worker in C: configured from the WXTOKEN_*
 * environment, waits until the Unix time in argv[1] (so that every process
 * asks at once), gets the jsapi ticket and prints `ticket <ticket>`. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "wxtoken.h"

int main(int argc, char **argv) {
    double start = argc > 1 ? atof(argv[1]) : 0;
    char err[512], ticket[512];
    size_t len = 0;
    if (wxtoken_configure("", "", NULL) != WXTOKEN_OK) {
        wxtoken_last_error(err, sizeof err);
        fprintf(stderr, "c pid %d: configure failed: %s\n", (int)getpid(), err);
        return 1;
    }
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    double wait = start - ((double)now.tv_sec + (double)now.tv_nsec / 1e9);
    if (wait > 0) {
        struct timespec ts = {(time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9)};
        nanosleep(&ts, NULL);
    }
    wxtoken_status s = wxtoken_get_ticket(getenv("WXTOKEN_APPID"), "jsapi", ticket, sizeof ticket, &len);
    if (s != WXTOKEN_OK) {
        wxtoken_last_error(err, sizeof err);
        fprintf(stderr, "c pid %d: %s: %s\n", (int)getpid(), wxtoken_status_name((int)s), err);
        return 1;
    }
    printf("ticket %s\n", ticket);
    return 0;
}
