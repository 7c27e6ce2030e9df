// glibc's malloc_trim for Swift: <malloc.h> is not part of Swift's Glibc module. Like
// CUDP.h, this header includes no system header, so it takes no macros away from Glibc.
#ifndef MESHWORK_CHEAP_H
#define MESHWORK_CHEAP_H

/// malloc_trim(0): gives free heap pages of every arena back to the system. Returns 1 if memory
/// was released.
int cheap_trim(void);

#endif
