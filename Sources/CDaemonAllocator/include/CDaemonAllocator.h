// meshd's allocator settings, applied by a constructor before any thread starts (the Swift
// runtime starts threads before `main` runs, and each thread that allocates first may create a
// malloc arena of its own). Linked into meshd only. Includes no system header (see CUDP.h).
#ifndef MESHWORK_CDAEMONALLOCATOR_H
#define MESHWORK_CDAEMONALLOCATOR_H

/// Whether the settings were taken at start: one malloc arena; blocks of 32 KiB and more mapped
/// on their own (unmapped when freed); the heap's top trimmed beyond 128 KiB free.
int daemon_allocator_configured(void);

#endif
