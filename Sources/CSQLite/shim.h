#include <sqlite3.h>

/// Turns off SQLite's memory statistics, which take a global mutex on every allocation; must run
/// before the first connection opens (sqlite3_config is variadic, which Swift cannot call).
static inline int planq_sqlite_disable_memstatus(void) {
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}
