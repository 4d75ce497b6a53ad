/* Only the jemalloc entry points the checks call; <jemalloc/jemalloc.h> would re-declare
   malloc/free and clash with glibc's headers in the Clang importer. */
#include <stddef.h>
int mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen);
size_t malloc_usable_size(void *ptr);
