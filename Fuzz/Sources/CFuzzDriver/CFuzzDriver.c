// The declarations in include/CFuzzDriver.h are implemented by libFuzzer (-sanitize=fuzzer).
