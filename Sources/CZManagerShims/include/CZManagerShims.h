// Tiny C helpers for ZManager's hot path, inlined into Swift through the module map.
#ifndef CZMANAGER_SHIMS_H
#define CZMANAGER_SHIMS_H

#include <stddef.h>
#include <stdint.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/// Writes the offsets of the first `want` (at most 6) '~' bytes of `buf[0..<n]` to `out`
/// and returns how many were found.
///
/// Sixteen bytes per step with SSE2 (baseline on x86-64): compare, take the byte mask, walk
/// its set bits. A header of 50-80 bytes is four or five steps; the word-at-a-time Swift scan
/// measured about 300 instructions for it, `memchr` per field about the same.
static inline int zm_find_tildes(const unsigned char *buf, size_t n, int want, int64_t *out) {
    int found = 0;
    size_t i = 0;
#if defined(__SSE2__)
    const __m128i tilde = _mm_set1_epi8('~');
    for (; i + 16 <= n; i += 16) {
        unsigned mask = (unsigned)_mm_movemask_epi8(
            _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)(buf + i)), tilde));
        while (mask) {
            out[found++] = (int64_t)(i + (size_t)__builtin_ctz(mask));
            if (found == want) return found;
            mask &= mask - 1;
        }
    }
    if (i < n && n >= 16) {
        // The tail: the last sixteen bytes, minus those the loop has seen already.
        size_t start = n - 16;
        unsigned mask = (unsigned)_mm_movemask_epi8(
            _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)(buf + start)), tilde));
        mask >>= (unsigned)(i - start);
        while (mask) {
            out[found++] = (int64_t)(i + (size_t)__builtin_ctz(mask));
            if (found == want) return found;
            mask &= mask - 1;
        }
        return found;
    }
#endif
    for (; i < n; i++) {
        if (buf[i] == '~') {
            out[found++] = (int64_t)i;
            if (found == want) return found;
        }
    }
    return found;
}

#endif
