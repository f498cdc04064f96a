// The boundary's out-of-line half: turning C++ exceptions into ereport.
#include "boundary.hpp"

namespace stratum {

SqlError::SqlError(int sqlstate, const char *message, const char *hint) noexcept
    : sqlstate_(sqlstate)
{
    strlcpy(message_, message, sizeof(message_));
    strlcpy(hint_, hint != nullptr ? hint : "", sizeof(hint_));
}

ErrorData *capture_current_error(MemoryContext caller_context)
{
    // CopyErrorData must not allocate in ErrorContext, which is reset next.
    MemoryContextSwitchTo(caller_context);
    ErrorData *edata = CopyErrorData();
    FlushErrorState();
    return edata;
}

namespace {

// What the boundary caught, copied out in the catch block and raised after
// it has ended, so that the C++ runtime has finished with the exception
// before PostgreSQL longjmps. Static, not in run_at_boundary's frame: that
// runs on every call (once per row for a trigger or the policy's function)
// and a frame holding these buffers cost more than the rest of the call.
// One backend, one thread: each capture is raised before the next.
struct Captured {
    ErrorData *pg_error;
    int sqlstate;
    char message[256];
    char hint[256];
} captured;

}  // namespace

void capture_exception() noexcept
{
    captured.pg_error = nullptr;
    captured.sqlstate = ERRCODE_INTERNAL_ERROR;
    captured.message[0] = '\0';
    captured.hint[0] = '\0';
    try {
        throw;
    } catch (const PgError &e) {
        captured.pg_error = e.error_data();
    } catch (const SqlError &e) {
        captured.sqlstate = e.sqlstate();
        strlcpy(captured.message, e.what(), sizeof(captured.message));
        if (e.hint() != nullptr)
            strlcpy(captured.hint, e.hint(), sizeof(captured.hint));
    } catch (const std::bad_alloc &) {
        captured.sqlstate = ERRCODE_OUT_OF_MEMORY;
        strlcpy(captured.message, "out of memory in stratum", sizeof(captured.message));
    } catch (const std::exception &e) {
        snprintf(captured.message, sizeof(captured.message), "stratum internal error: %s",
                 e.what());
    } catch (...) {
        strlcpy(captured.message, "stratum internal error: unknown C++ exception",
                sizeof(captured.message));
    }
}

void raise_captured_exception()
{
    if (captured.pg_error != nullptr)
        ReThrowError(captured.pg_error);
    ereport(ERROR, (errcode(captured.sqlstate), errmsg_internal("%s", captured.message),
                    captured.hint[0] != '\0' ? errhint("%s", captured.hint) : 0));
    pg_unreachable();
}

}  // namespace stratum
