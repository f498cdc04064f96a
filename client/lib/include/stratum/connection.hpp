// stratum::Connection: one libpq connection, always in pipeline mode, so any
// number of statements travel in one round trip (one Sync). Not copyable;
// used by one thread at a time (the pool hands it out through a Lease).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "stratum/errors.hpp"
#include "stratum/observability.hpp"
#include "stratum/params.hpp"
#include "stratum/result.hpp"
#include "stratum/uuid.hpp"

struct pg_conn;
struct pg_cancel;

namespace stratum {

struct ConnectionOptions {
    // Named prepared statements, cached per connection (off behind PgBouncer
    // in transaction pooling mode, which cannot route them: unnamed statements then).
    bool prepared_statements = true;
    // At most this many statements are kept prepared; the rest run unnamed.
    std::size_t prepared_cache_size = 256;
    // Client-side limit for one round trip; zero waits forever (use the
    // server's statement_timeout for queries). On expiry the query is
    // cancelled and Timeout thrown.
    std::chrono::milliseconds round_trip_timeout{0};
    // Used in application_name when the connection string sets none.
    std::string application_name = "stratum";
    // When the reply to a COMMIT (Tx::commit, Connection::query) is lost, how
    // long to keep asking the server on fresh connections whether it
    // committed before throwing CommitOutcomeUnknown.
    std::chrono::milliseconds commit_resolution_timeout{10000};
};

// Per-call options of a one-round-trip tenant query (Connection::query,
// Pool::query, Pool::replica_query).
struct QueryOptions {
    // Who acts (stratum.set_actor), recorded by the audit trail. Set in the
    // same statement as the tenant: still one round trip.
    std::optional<std::string> actor;
};

// Why a connection failed last, so the pool can react (evict, fail over).
enum class Failure : std::uint8_t {
    none,
    lost,        // socket closed or reset, protocol out of sync, class 08
    shutdown,    // 57P01/57P02/57P03: the server is going away
    read_only,   // 25006 outside a READ ONLY transaction: the primary was demoted
};

class Connection {
public:
    using Deadline = std::chrono::steady_clock::time_point;

    // Connects (conninfo or postgresql:// URL; multi-host and
    // target_session_attrs work) and enters pipeline mode. Throws
    // CannotConnect, never waiting past `deadline`.
    static std::unique_ptr<Connection> open(const std::string &conninfo,
                                            const ConnectionOptions &options, Deadline deadline);
    ~Connection();
    Connection(const Connection &) = delete;
    Connection &operator=(const Connection &) = delete;

    // One statement in one round trip, outside any transaction of libstratum's
    // (autocommit unless you sent BEGIN).
    Result exec(std::string_view sql, const Params &params);
    template <class... Args>
        requires are_values_v<Args...>
    Result exec(std::string_view sql, Args &&...args)
    {
        Params params(std::forward<Args>(args)...);
        return exec(sql, params);
    }

    // One statement as `tenant` in ONE round trip: stratum.set_tenant($1) and
    // the statement pipelined in one implicit transaction that ends at the
    // Sync (committed if both succeed, rolled back otherwise). The
    // transaction's id travels back ahead of the commit (a Flush after
    // pg_current_xact_id_if_assigned()), so when the connection breaks
    // before the reply, a write is resolved: returned if it committed,
    // ConnectionLost (definitely_not_committed) if not, CommitOutcomeUnknown
    // if the server could not tell in time.
    Result query(const TenantId &tenant, std::string_view sql, const Params &params);
    template <class... Args>
        requires are_values_v<Args...>
    Result query(const TenantId &tenant, std::string_view sql, Args &&...args)
    {
        return query(tenant, QueryOptions{}, sql, std::forward<Args>(args)...);
    }
    // The same with an actor (options.actor travels with the tenant).
    Result query(const TenantId &tenant, const QueryOptions &options, std::string_view sql,
                 const Params &params);
    template <class... Args>
        requires are_values_v<Args...>
    Result query(const TenantId &tenant, const QueryOptions &options, std::string_view sql,
                 Args &&...args)
    {
        Params params(std::forward<Args>(args)...);
        return query(tenant, options, sql, params);
    }

    // Low level: queue statements, then sync() sends them all with one Sync
    // and returns one Result per queued statement. The first failure throws
    // (after reading the whole pipeline, so the connection stays usable);
    // statements after it were skipped by the server. `sql` and `params`
    // must stay alive until sync() returns.
    void send(std::string_view sql, const Params &params);
    std::vector<Result> sync();
    // The same, filling `results` as they arrive: after a ConnectionLost it
    // holds those read before the connection broke.
    void sync(std::vector<Result> &results);
    std::size_t queued() const noexcept;
    // Like send(), for statements libstratum adds itself (BEGIN, set_tenant,
    // COMMIT): not reported to the query hooks.
    void send_internal(std::string_view sql, const Params &params);
    // Like send(), with `tenant` (its UUID text, alive until sync() returns)
    // bound as one more parameter, of type stratum.tenant_param: the server
    // sets it for the transaction when it binds the statement. Only once
    // binds_tenant() is true.
    void send_binding_tenant(std::string_view sql, const Params &params, const char *tenant);

    // Round trips made so far (one per Sync waited for).
    std::uint64_t round_trips() const noexcept { return round_trips_; }
    // Also count round trips in a shared counter (the pool's metrics).
    void count_round_trips_in(std::atomic<std::uint64_t> *counter) noexcept { shared_round_trips_ = counter; }

    // The socket is gone, the protocol is out of sync, or libpq says CONNECTION_BAD.
    bool is_broken() const noexcept;
    // Inside BEGIN ... (or a failed transaction): not reusable as is.
    bool in_transaction() const noexcept;
    // Reusable by the next user as it is: not broken, nothing queued, no transaction open.
    bool is_clean() const noexcept { return !is_broken() && steps_.empty() && !in_transaction(); }
    Failure last_failure() const noexcept { return failure_; }
    // Without a round trip: is the server still there? Reads what arrived on
    // an idle connection (a FATAL from a shutdown, EOF); one poll() call.
    bool check_alive() noexcept;
    void set_round_trip_timeout(std::chrono::milliseconds timeout) noexcept
    {
        options_.round_trip_timeout = timeout;
    }
    // Sends a cancel request for the statement in progress (from any thread).
    bool cancel() noexcept;

    // The session's tenant, actor and observer, for hooks and logs.
    void set_observer(std::shared_ptr<const QueryObserver> observer) noexcept { observer_ = std::move(observer); }
    void set_event_tenant(const TenantId *tenant) noexcept { event_tenant_ = tenant; }

    int backend_pid() const noexcept;
    // host:port (never the password or other options).
    const std::string &endpoint() const noexcept { return endpoint_; }
    // What this connection was opened with (to open another to the same
    // server: resolving a lost COMMIT). Holds the password if it had one.
    const std::string &conninfo() const noexcept { return conninfo_; }
    const ConnectionOptions &options() const noexcept { return options_; }
    // Queues a Flush: the server sends the results so far without waiting
    // for the Sync (how an id asked for ahead of COMMIT arrives first).
    void send_flush();
    bool server_is_standby() const noexcept;
    // The server reports stratum.context_needs_transaction_block = on (Citus):
    // query() then wraps its statement in BEGIN ... COMMIT, in the same round trip.
    bool context_needs_transaction_block() const noexcept { return needs_block_; }
    // A standby, or default_transaction_read_only is on (how a demoted primary is fenced).
    bool server_is_read_only() const noexcept;
    std::size_t prepared_count() const noexcept { return prepared_.size(); }
    // query() sends the tenant in its statement's Bind (a stratum.tenant_param
    // parameter) rather than as a set_tenant statement: learnt with the first
    // tenant context this connection sends; never with an actor.
    bool binds_tenant() const noexcept { return tenant_param_type_ != 0; }
    pg_conn *native() noexcept { return conn_; }

private:
    friend class Tx;  // binds the tenant, or learns how to, like query()
    Connection(pg_conn *conn, const ConnectionOptions &options);
    enum class StepKind : std::uint8_t { prepare, statement, internal };
    struct Step {
        StepKind kind;
        std::string_view sql;            // the caller's: alive until sync() returns
        const Params *params;            // for hooks (user statements)
        const std::string *prepared_sql; // prepare steps: key in preparing_
        bool binds_tenant = false;       // a statement with the tenant bound (or its prepare)
    };
    void queue(std::string_view sql, const Params &params, bool visible, const char *bound_tenant);
    void flush(Deadline deadline);
    pg_result *next_result(Deadline deadline);
    void wait_socket(bool for_write, Deadline deadline);
    [[noreturn]] void lost(std::string message);
    Deadline round_trip_deadline() const noexcept;
    void note_failure(const std::string &sqlstate) noexcept;
    static void receive_notice(void *self, const pg_result *result) noexcept;
    void settle_read_only() noexcept;
    // How the tenant and actor travel in the round trip being queued (query()
    // and Tx): bound to the first statement, or a context statement queued
    // by send_context(), which may also ask for stratum.tenant_param's OID
    // (read back with learn_tenant_param_type()).
    enum class Context : std::uint8_t { none, statement, statement_and_probe, bound };
    Context send_context(bool tenant, bool actor, const Params &context_params);
    void learn_tenant_param_type(const Result &probe) noexcept;

    pg_conn *conn_;
    pg_cancel *cancel_ = nullptr;
    ConnectionOptions options_;
    std::shared_ptr<const QueryObserver> observer_;
    const TenantId *event_tenant_ = nullptr;
    std::string endpoint_;
    std::string conninfo_;
    std::vector<Step> steps_;      // queued, not yet sent with a Sync
    std::vector<Step> in_flight_;  // the round trip being read
    std::vector<Result> query_results_;  // query()'s round trip
    Params context_params_;        // query(): the last tenant (and actor), ready to send
    struct StringHash {
        using is_transparent = void;
        std::size_t operator()(std::string_view text) const noexcept
        {
            return std::hash<std::string_view>{}(text);
        }
    };
    using StatementNames = std::unordered_map<std::string, std::string, StringHash, std::equal_to<>>;
    StatementNames prepared_;   // sql -> statement name, known to the server
    StatementNames preparing_;  // sent in the pipeline being built
    std::chrono::steady_clock::time_point pipeline_started_{};
    std::uint64_t next_statement_id_ = 0;
    std::uint64_t round_trips_ = 0;
    std::atomic<std::uint64_t> *shared_round_trips_ = nullptr;
    bool broken_ = false;
    bool needs_block_ = false;
    bool saw_read_only_ = false;
    // query(): the OID of stratum.tenant_param in this database, learnt with
    // the first tenant context sent (0: not yet, or the extension has none).
    unsigned int tenant_param_type_ = 0;
    bool tenant_param_probed_ = false;
    // Scratch for a statement with a bound tenant (kept: no allocation per query).
    std::vector<const char *> bound_values_;
    std::vector<unsigned int> bound_types_;
    std::string bound_key_;
    Failure failure_ = Failure::none;
};

}  // namespace stratum
