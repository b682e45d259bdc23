// CRC32C with the CPU's instruction, for the WAL's record checksums (the table version in
// Swift stays as the fallback and the cross-check). The instruction is enabled per function
// with a target attribute, so the package needs no compiler flags, and used only after a
// runtime check of the CPU.
#include "keel_crc32c.h"

#include <string.h>

#if defined(__x86_64__)
#include <nmmintrin.h>

int keel_crc32c_hardware(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.2") ? 1 : 0;
}

__attribute__((target("sse4.2")))
uint32_t keel_crc32c_update(uint32_t state, const void *bytes, size_t n) {
    const unsigned char *p = bytes;
    uint64_t c = state;
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c = _mm_crc32_u64(c, v);
        p += 8;
        n -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (n > 0) {
        c32 = _mm_crc32_u8(c32, *p);
        p++;
        n--;
    }
    return c32;
}

#else

int keel_crc32c_hardware(void) { return 0; }

uint32_t keel_crc32c_update(uint32_t state, const void *bytes, size_t n) {
    (void)bytes;
    (void)n;
    return state;
}

#endif
