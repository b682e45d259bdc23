// The disk's cost of one small durable append, for benchmarks/compare.sh and one-client.sh: PROBES
// fdatasyncs, each after a 4 KiB pwrite, into a preallocated file (as etcd's WAL segments are) and into
// a growing one. Usage: fsync-probe DIR PROBES; prints prealloc_{mean,p50,p99}_us= and grow_…_us=.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }
static void probe(const char *path, int n, int prealloc, const char *label) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) { perror("open"); exit(1); }
    if (prealloc && (posix_fallocate(fd, 0, (off_t)(n + 1) * 4096) != 0 || fsync(fd) != 0)) { perror("fallocate"); exit(1); }
    char block[4096];
    memset(block, 0xab, sizeof block);
    double *us = malloc(sizeof(double) * n), sum = 0;
    for (int i = 0; i < n; i++) {
        struct timespec a, b;
        if (pwrite(fd, block, sizeof block, (off_t)i * 4096) != sizeof block) { perror("pwrite"); exit(1); }
        clock_gettime(CLOCK_MONOTONIC, &a);
        if (fdatasync(fd) != 0) { perror("fdatasync"); exit(1); }
        clock_gettime(CLOCK_MONOTONIC, &b);
        us[i] = (b.tv_sec - a.tv_sec) * 1e6 + (b.tv_nsec - a.tv_nsec) / 1e3;
        sum += us[i];
    }
    qsort(us, n, sizeof(double), cmp);
    printf("%s_mean_us=%.0f %s_p50_us=%.0f %s_p99_us=%.0f\n", label, sum / n, label, us[n / 2], label, us[(int)(n * 0.99)]);
    close(fd);
    unlink(path);
    free(us);
}
int main(int argc, char **argv) {
    int n = atoi(argv[2]);
    char path[4096];
    snprintf(path, sizeof path, "%s/fsync-probe.dat", argv[1]);
    probe(path, n, 1, "prealloc");
    probe(path, n, 0, "grow");
    return 0;
}
