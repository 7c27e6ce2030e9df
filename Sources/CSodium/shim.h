#ifndef MESHWORK_CSODIUM_SHIM_H
#define MESHWORK_CSODIUM_SHIM_H
#include <sodium.h>
#endif
