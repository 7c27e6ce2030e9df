// libFuzzer's driver entry point (compiler-rt, FuzzerInterface.h), for the Swift harness's main.
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
