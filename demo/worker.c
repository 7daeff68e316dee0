/* Demo worker in C: gets the token in a loop for N seconds and prints each
 * change. Configured entirely from the WXTOKEN_* environment. (C has no
 * HTTP client here, so it makes no business calls: it shows the token
 * other processes refreshed arriving through the shared store.) */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "wxtoken.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 10;
    char err[512];
    /* "" appid and secret: take them from WXTOKEN_APPID / WXTOKEN_SECRET. */
    if (wxtoken_configure("", "", NULL) != WXTOKEN_OK) {
        wxtoken_last_error(err, sizeof err);
        fprintf(stderr, "c     pid %d: configure failed: %s\n", (int)getpid(), err);
        return 1;
    }
    const char *app = getenv("WXTOKEN_APPID");
    char token[2048], last[2048] = "";
    size_t len = 0;
    long gets = 0;
    for (double end = now_s() + seconds; now_s() < end; gets++) {
        if (wxtoken_get(app, token, sizeof token, &len) != WXTOKEN_OK) {
            wxtoken_last_error(err, sizeof err);
            fprintf(stderr, "c     pid %d: get failed: %s\n", (int)getpid(), err);
            return 1;
        }
        if (strcmp(token, last) != 0) {
            printf("c      pid %-7d token ...%s\n", (int)getpid(), token + (len > 8 ? len - 8 : 0));
            fflush(stdout);
            memcpy(last, token, len + 1);
        }
        nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
    }
    printf("c      pid %-7d done: %ld gets\n", (int)getpid(), gets);
    return 0;
}
