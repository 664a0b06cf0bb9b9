/* procstat.c — reads /proc/PID/stat (utime, stime) and /proc/PID/status
 * (VmRSS, VmHWM). */
#include "tests/bench/procstat.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int read_cpu(pid_t pid, double *cpu_s)
{
    char path[64], line[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(line, 1, sizeof(line) - 1, f);
    fclose(f);
    line[n] = '\0';
    /* The command name (field 2) may hold spaces and parentheses: fields are
     * counted from the last ')'.  utime and stime are fields 14 and 15. */
    char *p = strrchr(line, ')');
    if (!p)
        return -1;
    unsigned long utime, stime;
    if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2)
        return -1;
    long hz = sysconf(_SC_CLK_TCK);
    *cpu_s = (double)(utime + stime) / (double)(hz > 0 ? hz : 100);
    return 0;
}

static int read_mem(pid_t pid, long *rss_kb, long *hwm_kb)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int found = 0;
    while (fgets(line, sizeof(line), f) && found < 2) {
        if (sscanf(line, "VmRSS: %ld kB", rss_kb) == 1)
            found++;
        else if (sscanf(line, "VmHWM: %ld kB", hwm_kb) == 1)
            found++;
    }
    fclose(f);
    return found == 2 ? 0 : -1;
}

int bench_procstat_read(pid_t pid, bench_procstat_t *out)
{
    out->cpu_s = -1;
    out->rss_kb = out->hwm_kb = -1;
    if (pid == 0)
        pid = getpid();
    int a = read_cpu(pid, &out->cpu_s);
    int b = read_mem(pid, &out->rss_kb, &out->hwm_kb);
    return a == 0 && b == 0 ? 0 : -1;
}
