// glibc's allocator controls for Swift: <malloc.h> is not part of Swift's Glibc module. Like
// CUDP.h, this header includes no system header, so it takes no macros away from Glibc.
#ifndef MESHWORK_CHEAP_H
#define MESHWORK_CHEAP_H

/// Allocator settings for a long-running daemon: at most `arenas` malloc arenas; blocks of at
/// least `mmap_threshold` bytes mapped on their own (so they go back to the system when freed,
/// without glibc's dynamic threshold raising the limit after the first one); the top of the heap
/// trimmed once `trim_threshold` bytes are free. Returns nonzero when every setting was taken.
int cheap_configure(int arenas, int mmap_threshold, int trim_threshold);

/// malloc_trim(0): gives free heap pages of every arena back to the system. Returns 1 if memory
/// was released.
int cheap_trim(void);

#endif
