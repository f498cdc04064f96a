// Knowing whether a commit happened: the transaction's id is learnt before
// COMMIT travels (pipelined, no round trip of its own), and when the reply to
// COMMIT is lost the server is asked, on fresh connections, what became of it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "stratum/connection.hpp"
#include "stratum/errors.hpp"
#include "stratum/result.hpp"

namespace stratum::detail {

// Pipelined after a transaction's statements: its id (xid8 as text, epoch
// included) once it has one, i.e. once it wrote, and the server's clock then;
// NULL while it has none. Never assigns an id itself, so read-only work stays
// free of one.
inline constexpr std::string_view current_xact_id_sql =
    "SELECT pg_current_xact_id_if_assigned()::text, extract(epoch FROM clock_timestamp())::text";

// Whether a statement reads only, by its first word: SELECT, VALUES, TABLE
// or SHOW. No id probe rides with such a statement (the probe is a statement
// of its own on the server). A SELECT that calls a writing function passes
// for a read: a Tx asks for its id with the COMMIT instead, and a lost
// pool.query read is reported as of unknown outcome.
bool reads_only(std::string_view sql) noexcept;

// A transaction's id and when the server had given it out.
struct XactId {
    std::string xid;        // xid8 as text
    std::string learnt_at;  // seconds since 1970 by the server's clock, as text
};

// The id in a result of current_xact_id_sql; nullopt when it is NULL or the
// statement did not run (the pipeline was aborted).
std::optional<XactId> xact_id_of(const Result &result);

enum class CommitVerdict : std::uint8_t { committed, aborted, unknown };

struct CommitResolution {
    CommitVerdict verdict;
    std::string why;  // for unknown: the last thing that stood in the way
};

// Asks the server at `conninfo` (pg_xact_status) whether transaction `id`
// committed, reconnecting and waiting out "in progress" until
// options.commit_resolution_timeout has passed. Never throws a database error.
CommitResolution resolve_commit(const std::string &conninfo, const ConnectionOptions &options,
                                const XactId &id);

// Called while `lost` (the reply to a COMMIT of transaction `id`) is being
// handled: returns when the transaction committed; rethrows `lost`, marked
// definitely not committed, when it aborted; throws CommitOutcomeUnknown
// when the server could not say in time.
void settle_lost_commit(ConnectionLost &lost, const std::string &conninfo,
                        const ConnectionOptions &options, const XactId &id);

}  // namespace stratum::detail
