/*
 * threads.c - how many threads kernels use.
 *
 * The automatic choice respects containers: a CPU-limited cgroup with many
 * visible cores would otherwise get one OpenMP thread per core and lose
 * most of its quota to oversubscription.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static atomic_int chosen; /* 0: not decided yet */

static int affinity_cpus(void) {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

/* CPU quota from cgroup v2 (cpu.max "quota period") or v1 (cfs files),
 * rounded up; 0 when unlimited or unknown. */
static int cgroup_cpus(void) {
  long long quota = -1, period = 0;
  FILE *f = fopen("/sys/fs/cgroup/cpu.max", "r");
  if (f) {
    char q[32];
    if (fscanf(f, "%31s %lld", q, &period) == 2 && q[0] != 'm')
      quota = atoll(q);
    fclose(f);
  } else {
    f = fopen("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "r");
    if (f) {
      if (fscanf(f, "%lld", &quota) != 1) quota = -1;
      fclose(f);
    }
    f = fopen("/sys/fs/cgroup/cpu/cpu.cfs_period_us", "r");
    if (f) {
      if (fscanf(f, "%lld", &period) != 1) period = 0;
      fclose(f);
    }
  }
  if (quota <= 0 || period <= 0) return 0;
  return (int)((quota + period - 1) / period);
}

static int env_threads(const char *name) {
  const char *v = getenv(name);
  if (!v || !*v) return 0;
  char *end;
  long n = strtol(v, &end, 10);
  return (*end == '\0' || *end == ',') && n > 0 && n <= 4096 ? (int)n : 0;
}

static int automatic(void) {
  int n = env_threads("PIXJIT_THREADS");
  if (!n) n = env_threads("OMP_NUM_THREADS");
  if (n) return n;
  n = affinity_cpus();
  int q = cgroup_cpus();
  if (q > 0 && q < n) n = q;
  return n > 0 ? n : 1;
}

int pj_threads_get(void) {
  int n = atomic_load(&chosen);
  if (n <= 0) {
    n = automatic();
    atomic_store(&chosen, n);
  }
  return n;
}

void pj_threads_set(int n) {
  atomic_store(&chosen, n > 0 ? (n > 4096 ? 4096 : n) : 0);
}
