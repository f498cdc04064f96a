// resolve_commit: pg_xact_status on fresh connections, bounded by a deadline.
#include "commit_resolution.hpp"

#include <algorithm>
#include <cctype>
#include <memory>
#include <thread>

#include <libpq-fe.h>

namespace stratum::detail {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// The status, and whether a checkpoint taken after the id was given out
// still had it to give: a crash lost every trace of the transaction (WAL
// included) and the server may hand the id to another one, whose status it
// would then report. (checkpoint_time has whole seconds: the test is
// conservative.) next_xid reads "epoch:xid".
constexpr std::string_view xact_status_sql =
    "SELECT pg_xact_status($1::xid8), extract(epoch FROM c.checkpoint_time) > $2::numeric AND "
    "((split_part(c.next_xid, ':', 1)::numeric * 4294967296 + "
    "split_part(c.next_xid, ':', 2)::numeric)::text)::xid8 <= $1::xid8 "
    "FROM pg_control_checkpoint() c";
// Between two questions while the server is away or the transaction in progress.
constexpr std::chrono::milliseconds poll_interval{50};

}  // namespace

std::optional<XactId> xact_id_of(const Result &result)
{
    if (PQresultStatus(result.get()) != PGRES_TUPLES_OK || result.size() != 1 ||
        result[0][0].is_null())
        return std::nullopt;
    return XactId{result[0][0].as<std::string>(), result[0][1].as<std::string>()};
}

CommitResolution resolve_commit(const std::string &conninfo, const ConnectionOptions &options,
                                const XactId &id)
{
    const std::string &xid = id.xid;
    const auto deadline = Clock::now() + options.commit_resolution_timeout;
    ConnectionOptions asking = options;
    asking.prepared_statements = false;  // one statement, maybe once
    Params params;
    params.add_text(xid);
    params.add_text(id.learnt_at);
    std::unique_ptr<Connection> conn;
    std::string why = "no answer from the server";
    for (;;) {
        try {
            if (conn == nullptr || conn->is_broken()) {
                conn.reset();
                conn = Connection::open(conninfo, asking, deadline);
            }
            // Bounded too: a server that accepts but never answers.
            conn->set_round_trip_timeout(std::max<std::chrono::milliseconds>(
                100ms, std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now())));
            Result result = conn->exec(xact_status_sql, params);
            if (result.size() != 1 || result[0][0].is_null())
                return {CommitVerdict::unknown,
                        "the server no longer keeps the status of transaction " + xid};
            if (result[0][1].as<std::string>() == "t")
                return {CommitVerdict::aborted, {}};  // lost in a crash: never committed
            const std::string status = result[0][0].as<std::string>();
            if (status == "committed")
                return {CommitVerdict::committed, {}};
            if (status == "aborted")
                return {CommitVerdict::aborted, {}};
            // In progress: the old backend has not finished (or noticed the
            // lost client) yet, or the commit waits for a synchronous standby.
            why = "transaction " + xid + " still in progress";
        } catch (const Error &error) {
            // 22023 "transaction ID ... is in the future": the crash lost its
            // WAL, commit record included (a commit would have advanced the
            // server's next id past it), so it never committed.
            if (error.sqlstate() == "22023" &&
                error.message().find("in the future") != std::string::npos)
                return {CommitVerdict::aborted, {}};
            why = error.message();
            conn.reset();
        } catch (const std::exception &error) {
            why = error.what();
            conn.reset();
        }
        const auto now = Clock::now();
        if (now >= deadline)
            return {CommitVerdict::unknown, why};
        std::this_thread::sleep_for(std::min<Clock::duration>(poll_interval, deadline - now));
    }
}

void settle_lost_commit(ConnectionLost &lost, const std::string &conninfo,
                        const ConnectionOptions &options, const XactId &id)
{
    const CommitResolution outcome = resolve_commit(conninfo, options, id);
    if (outcome.verdict == CommitVerdict::committed)
        return;
    if (outcome.verdict == CommitVerdict::aborted) {
        lost.set_committed_unknown(false);
        throw;
    }
    throw CommitOutcomeUnknown(id.xid, outcome.why);
}

namespace {

// SQL keywords and the whitespace between them are ASCII: no locale needed.
bool is_space(char c) noexcept
{
    return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

bool is_letter(char c) noexcept
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

}  // namespace

bool reads_only(std::string_view sql) noexcept
{
    std::size_t i = 0;
    for (;;) {
        while (i < sql.size() && is_space(sql[i]))
            i++;
        if (sql.substr(i, 2) == "--") {
            i = sql.find('\n', i);
            if (i == std::string_view::npos)
                return false;
        } else if (sql.substr(i, 2) == "/*") {
            i = sql.find("*/", i);  // nested comments: a write is assumed
            if (i == std::string_view::npos)
                return false;
            i += 2;
        } else {
            break;
        }
    }
    std::size_t end = i;
    while (end < sql.size() && is_letter(sql[end]))
        end++;
    const std::string_view word = sql.substr(i, end - i);
    auto is = [&](std::string_view keyword) {
        return word.size() == keyword.size() &&
               std::equal(word.begin(), word.end(), keyword.begin(),
                          [](char a, char b) { return (a & ~0x20) == b; });
    };
    return is("SELECT") || is("VALUES") || is("TABLE") || is("SHOW");
}

}  // namespace stratum::detail
