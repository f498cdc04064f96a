// See audit_scratch.hpp.
#include "audit_scratch.hpp"

namespace stratum::audit {
namespace {

// A buffer grown past this by a large row is not kept for the next.
constexpr int kept_buffer_bytes = 64 * 1024;

RowScratch session_scratch;
int session_scratch_level = 0;  // nest level of the trigger using it, or 0
bool scratch_callbacks_registered = false;

// An error while the session's set was in use left it marked: the end of
// the (sub)transaction the failed trigger ran in frees it again. A trigger
// further out, still running, keeps it.
void release_session_scratch(XactEvent event, void *)
{
    if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT ||
        event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
        event == XACT_EVENT_PREPARE)
        session_scratch_level = 0;
}

void release_session_scratch_sub(SubXactEvent event, SubTransactionId, SubTransactionId, void *)
{
    if (event == SUBXACT_EVENT_ABORT_SUB &&
        session_scratch_level >= GetCurrentTransactionNestLevel())
        session_scratch_level = 0;
}

void prepare_scratch(RowScratch *scratch, MemoryContext parent, int columns)
{
    if (scratch->memory == nullptr) {
        scratch->memory =
            AllocSetContextCreate(parent, "stratum audit row scratch", ALLOCSET_DEFAULT_SIZES);
        scratch->row =
            AllocSetContextCreate(scratch->memory, "stratum audit row", ALLOCSET_DEFAULT_SIZES);
        scratch->capacity = 0;
        MemoryContext old = MemoryContextSwitchTo(scratch->memory);
        initStringInfo(&scratch->buffer);
        MemoryContextSwitchTo(old);
    }
    if (scratch->capacity < columns) {
        if (scratch->capacity > 0) {
            pfree(scratch->old_values);
            pfree(scratch->new_values);
            pfree(scratch->changed);
        }
        Size slots = columns + 1;
        scratch->old_values = static_cast<EncodedValue *>(
            MemoryContextAlloc(scratch->memory, sizeof(EncodedValue) * slots));
        scratch->new_values = static_cast<EncodedValue *>(
            MemoryContextAlloc(scratch->memory, sizeof(EncodedValue) * slots));
        scratch->changed = static_cast<bool *>(MemoryContextAlloc(scratch->memory, slots));
        scratch->capacity = columns;
    }
    resetStringInfo(&scratch->buffer);
}

}  // namespace

RowScratch *take_scratch(RowScratch *own, int columns)
{
    if (session_scratch_level != 0) {
        *own = {};
        prepare_scratch(own, CurrentMemoryContext, columns);
        return own;
    }
    if (!scratch_callbacks_registered) {
        RegisterXactCallback(release_session_scratch, nullptr);
        RegisterSubXactCallback(release_session_scratch_sub, nullptr);
        scratch_callbacks_registered = true;
    }
    prepare_scratch(&session_scratch, TopMemoryContext, columns);
    session_scratch_level = GetCurrentTransactionNestLevel();
    return &session_scratch;
}

void release_scratch(RowScratch *scratch)
{
    if (scratch != &session_scratch) {
        MemoryContextDelete(scratch->memory);
        return;
    }
    MemoryContextReset(scratch->row);
    if (scratch->buffer.maxlen > kept_buffer_bytes) {
        MemoryContextDelete(scratch->memory);
        scratch->memory = nullptr;
    }
    session_scratch_level = 0;
}

}  // namespace stratum::audit
