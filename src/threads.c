/*
 * threads.c - how many threads kernels use, and why.
 *
 * The automatic choice respects containers: a CPU-limited cgroup with many
 * visible cores would otherwise get one OpenMP thread per core and lose
 * most of its quota to oversubscription.  Strongest first: pj_threads_set,
 * PIXJIT_THREADS, OMP_NUM_THREADS, then the smaller of the affinity mask
 * and the cgroup quota (rounded up).
 */
#define _GNU_SOURCE
#include "internal.h"

#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <omp.h>
#include <unistd.h>

static atomic_int chosen;        /* 0: not decided yet */
static atomic_int chosen_source;

static int affinity_cpus(void) {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

static const char *cgroup_root(void) {
  const char *r = getenv("PIXJIT_CGROUP_ROOT");
  return r && *r ? r : "/sys/fs/cgroup";
}

/* Quota of one v2 cpu.max file ("max 100000" or "150000 100000"), in CPUs;
 * 0 when unlimited or unreadable. */
static double read_cpu_max(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  char q[32];
  long long period = 0;
  double cpus = 0;
  if (fscanf(f, "%31s %lld", q, &period) == 2 && strcmp(q, "max") != 0 && period > 0) {
    long long quota = atoll(q);
    if (quota > 0) cpus = (double)quota / (double)period;
  }
  fclose(f);
  return cpus;
}

/* This process's cgroup path from /proc/self/cgroup: the v2 entry "0::/p",
 * or for v1 the hierarchy whose controllers include ctrl ("cpu", "memory"). */
static void own_cgroup(const char *ctrl, char *v2, size_t n2, char *v1, size_t n1) {
  v2[0] = v1[0] = '\0';
  FILE *f = fopen("/proc/self/cgroup", "r");
  if (!f) return;
  char line[1024];
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = '\0';
    char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c2) continue;
    *c1 = *c2 = '\0';
    if (strcmp(line, "0") == 0 && c1[1] == '\0') {
      snprintf(v2, n2, "%s", c2 + 1);
    } else {
      for (char *tok = strtok(c1 + 1, ","); tok; tok = strtok(NULL, ","))
        if (strcmp(tok, ctrl) == 0) snprintf(v1, n1, "%s", c2 + 1);
    }
  }
  fclose(f);
}

/* The tightest CPU quota on the path from this process's cgroup up to the
 * root (a parent's limit binds its children), in CPUs; 0 when none. */
static double cgroup_quota(void) {
  char v2[512], v1[512], dir[1200], path[1300];
  own_cgroup("cpu", v2, sizeof v2, v1, sizeof v1);
  const char *root = cgroup_root();
  double best = 0;
  /* cgroup v2: cpu.max at each level from ours up to the root. */
  snprintf(dir, sizeof dir, "%s%s", root, v2[0] == '/' ? v2 : "");
  for (;;) {
    snprintf(path, sizeof path, "%s/cpu.max", dir);
    double q = read_cpu_max(path);
    if (q > 0 && (best == 0 || q < best)) best = q;
    if (strlen(dir) <= strlen(root)) break;
    char *slash = strrchr(dir, '/');
    if (!slash || slash < dir + strlen(root)) break;
    *slash = '\0';
  }
  if (best > 0) return best;
  /* cgroup v1: cfs_quota_us / cfs_period_us of the cpu hierarchy. */
  const char *mounts[] = {"cpu", "cpu,cpuacct", "cpuacct,cpu"};
  for (int m = 0; m < 3 && best == 0; m++) {
    const char *subs[] = {v1, ""};
    for (int k = 0; k < 2 && best == 0; k++) {
      long long quota = -1, period = 0;
      snprintf(path, sizeof path, "%s/%s%s/cpu.cfs_quota_us", root, mounts[m], subs[k]);
      FILE *f = fopen(path, "r");
      if (!f) continue;
      if (fscanf(f, "%lld", &quota) != 1) quota = -1;
      fclose(f);
      snprintf(path, sizeof path, "%s/%s%s/cpu.cfs_period_us", root, mounts[m], subs[k]);
      f = fopen(path, "r");
      if (f) {
        if (fscanf(f, "%lld", &period) != 1) period = 0;
        fclose(f);
      }
      if (quota > 0 && period > 0) best = (double)quota / (double)period;
    }
  }
  return best;
}

/* One limit file's number ("max" or unreadable: 0). */
static int64_t read_limit(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  long long v = 0;
  if (fscanf(f, "%lld", &v) != 1) v = 0;
  fclose(f);
  return v > 0 ? (int64_t)v : 0;
}

int64_t pj_memory_limit(void) {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  int64_t best = pages > 0 && page > 0 ? (int64_t)pages * page : (int64_t)8 << 30;
  char v2[512], v1[512], dir[1200], path[1300];
  own_cgroup("memory", v2, sizeof v2, v1, sizeof v1);
  const char *root = cgroup_root();
  /* cgroup v2: memory.max at each level from ours up to the root. */
  snprintf(dir, sizeof dir, "%s%s", root, v2[0] == '/' ? v2 : "");
  for (;;) {
    snprintf(path, sizeof path, "%s/memory.max", dir);
    const int64_t v = read_limit(path);
    if (v > 0 && v < best) best = v;
    if (strlen(dir) <= strlen(root)) break;
    char *slash = strrchr(dir, '/');
    if (!slash || slash < dir + strlen(root)) break;
    *slash = '\0';
  }
  /* cgroup v1: the memory hierarchy's limit (no limit reads as a huge
   * number, above the machine's memory). */
  const char *subs[] = {v1[0] == '/' && v1[1] ? v1 : "", ""};
  for (int k = 0; k < 2; k++) {
    snprintf(path, sizeof path, "%s/memory%s/memory.limit_in_bytes", root, subs[k]);
    const int64_t v = read_limit(path);
    if (v > 0 && v < best) best = v;
  }
  return best;
}

static int env_threads(const char *name) {
  const char *v = getenv(name);
  if (!v || !*v) return 0;
  char *end;
  long n = strtol(v, &end, 10);
  /* OMP_NUM_THREADS may list nesting levels ("4,2"): the first counts. */
  return (*end == '\0' || *end == ',') && n > 0 && n <= 4096 ? (int)n : 0;
}

static int automatic(int *source) {
  int n;
  if ((n = env_threads("PIXJIT_THREADS"))) {
    *source = PJ_THREADS_PIXJIT_ENV;
    return n;
  }
  if ((n = env_threads("OMP_NUM_THREADS"))) {
    *source = PJ_THREADS_OMP_ENV;
    return n;
  }
  n = affinity_cpus();
  *source = PJ_THREADS_AFFINITY;
  double q = cgroup_quota();
  if (q > 0) {
    int qn = (int)q;
    if (qn < q) qn++; /* rounded up: a 1.5-CPU quota can keep 2 threads busy */
    if (qn < 1) qn = 1;
    if (qn < n) {
      n = qn;
      *source = PJ_THREADS_CGROUP;
    }
  }
  return n > 0 ? n : 1;
}

int pj_threads_get(void) {
  int n = atomic_load(&chosen);
  if (n <= 0) {
    int source;
    n = automatic(&source);
    atomic_store(&chosen_source, source);
    atomic_store(&chosen, n);
  }
  return n;
}

void pj_threads_set(int n) {
  if (n > 0) {
    atomic_store(&chosen_source, PJ_THREADS_SET);
    atomic_store(&chosen, n > 4096 ? 4096 : n);
  } else {
    atomic_store(&chosen, 0);
  }
}

void pj_cpu_info_get(pj_cpu_info *info) {
  long online = sysconf(_SC_NPROCESSORS_ONLN);
  info->online = online > 0 ? (int32_t)online : 1;
  info->affinity = affinity_cpus();
  info->quota = cgroup_quota();
  info->threads = pj_threads_get();
  info->source = atomic_load(&chosen_source);
}

/* ---- Row bands --------------------------------------------------------------- */

/* Work (bytes read plus written) below which another thread does not pay
 * for waking it: a parallel region costs about a microsecond, in which one
 * core moves some 20-60 KB. */
#define ROWS_MIN_WORK ((size_t)128 << 10)

int pj_threads_for(size_t work, size_t min_work) {
  const int t = pj_threads_get();
  const size_t most = work / min_work;
  return most < 1 ? 1 : most < (size_t)t ? (int)most : t;
}

void pj_rows(int32_t h, size_t work, pj_rows_fn fn, void *arg) {
  int t = pj_threads_for(work, ROWS_MIN_WORK);
  if (t > h) t = h;
  if (t <= 1) {
    fn(arg, 0, h);
    return;
  }
#pragma omp parallel num_threads(t)
  {
    const int i = omp_get_thread_num(), n = omp_get_num_threads();
    const int32_t y0 = (int32_t)((int64_t)h * i / n), y1 = (int32_t)((int64_t)h * (i + 1) / n);
    if (y0 < y1) fn(arg, y0, y1);
  }
}
