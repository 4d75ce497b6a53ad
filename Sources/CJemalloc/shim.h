/* Only the one jemalloc entry point we call; including <jemalloc/jemalloc.h> would
   re-declare malloc/free and clash with glibc's headers in the Clang importer. */
#include <stddef.h>
int mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen);
