#include <malloc.h>
#include "CDaemonAllocator.h"

static int configured;

__attribute__((constructor)) static void daemon_allocator_configure(void) {
    configured = mallopt(M_ARENA_MAX, 1) && mallopt(M_MMAP_THRESHOLD, 32 * 1024) && mallopt(M_TRIM_THRESHOLD, 128 * 1024);
}

int daemon_allocator_configured(void) { return configured; }
