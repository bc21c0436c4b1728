#include <sqlite3.h>
#include <sys/prctl.h>

/// Sets the calling thread's timer slack (prctl is variadic, which Swift cannot call).
static inline int planq_set_timer_slack(unsigned long nanoseconds) {
    return prctl(PR_SET_TIMERSLACK, nanoseconds, 0, 0, 0);
}
