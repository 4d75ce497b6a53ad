/* jemalloc's compiled-in options for the AllocatorJemalloc benchmark (jemalloc reads this
   global at start-up; MALLOC_CONF still overrides it).

   narenas:1 — one arena for every thread. With jemalloc's default (4 arenas per CPU) a new
   thread gets a fresh arena whose first slab starts a fresh mapping; the benchmark package's
   malloc interposer probes the word *before* every pointer handed to free() for its header,
   and for a header-less (aligned-path) block at the very start of a mapping that read faults
   (SIGSEGV in replacement_free). One arena keeps every slab inside mappings that are already
   in use, so the two-thread benchmarks run. */
#include "JemallocConfig.h"

const char *malloc_conf = "narenas:1";

int jemalloc_config_linked(void) { return 1; }
