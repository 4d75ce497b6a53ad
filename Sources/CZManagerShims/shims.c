// CZManagerShims is header-only (static inline functions in include/CZManagerShims.h);
// SwiftPM wants one source file per C target.
#include "CZManagerShims.h"
