#include <malloc.h>
#include "CHeap.h"

int cheap_trim(void) { return malloc_trim(0); }
