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

Datum run_at_boundary(FunctionCallInfo fcinfo, FunctionBody body)
{
    // What a catch block learns is copied into these plain locals; the
    // ereport happens only after the catch block has ended, so the C++
    // runtime has finished with the exception before PostgreSQL longjmps.
    // Only the first byte of each buffer is set: this runs on every call,
    // once per row for a trigger or a policy's function, and zeroing 512
    // bytes cost more than the rest of the boundary.
    ErrorData *pg_error = nullptr;
    int sqlstate = ERRCODE_INTERNAL_ERROR;
    char message[256];
    char hint[256];
    message[0] = '\0';
    hint[0] = '\0';

    try {
        return body(fcinfo);
    } catch (const PgError &e) {
        pg_error = e.error_data();
    } catch (const SqlError &e) {
        sqlstate = e.sqlstate();
        strlcpy(message, e.what(), sizeof(message));
        if (e.hint() != nullptr)
            strlcpy(hint, e.hint(), sizeof(hint));
    } catch (const std::bad_alloc &) {
        sqlstate = ERRCODE_OUT_OF_MEMORY;
        strlcpy(message, "out of memory in stratum", sizeof(message));
    } catch (const std::exception &e) {
        snprintf(message, sizeof(message), "stratum internal error: %s", e.what());
    } catch (...) {
        strlcpy(message, "stratum internal error: unknown C++ exception", sizeof(message));
    }

    if (pg_error != nullptr)
        ReThrowError(pg_error);
    ereport(ERROR,
            (errcode(sqlstate), errmsg_internal("%s", message),
             hint[0] != '\0' ? errhint("%s", hint) : 0));
    pg_unreachable();
}

}  // namespace stratum
