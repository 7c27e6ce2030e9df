#include <malloc.h>
#include "CHeap.h"

int cheap_configure(int arenas, int mmap_threshold, int trim_threshold) {
    return mallopt(M_ARENA_MAX, arenas) && mallopt(M_MMAP_THRESHOLD, mmap_threshold) && mallopt(M_TRIM_THRESHOLD, trim_threshold);
}

int cheap_trim(void) { return malloc_trim(0); }
