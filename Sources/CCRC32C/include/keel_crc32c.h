#ifndef KEEL_CRC32C_H
#define KEEL_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/// 1 when this CPU has a CRC32C instruction the functions below use (x86-64 SSE4.2), else 0.
int keel_crc32c_hardware(void);

/// Advances a raw (not inverted) reflected CRC32C state over `n` bytes with the CPU's
/// instruction. Only call it when keel_crc32c_hardware() returned 1.
uint32_t keel_crc32c_update(uint32_t state, const void *bytes, size_t n);

#endif
