// stratum::Tx: one transaction on one connection, usually as a tenant.
// BEGIN and the tenant travel with the first statement (bound to it as a
// stratum.tenant_param parameter once the connection knows that type, else
// a set_tenant statement; no extra round trip); commit() is one round trip;
// the destructor rolls back what was not committed and never throws. Until
// the transaction has an id (until it writes), each round trip also asks for
// it, so a COMMIT whose reply is lost can be resolved with the server
// instead of guessed.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "stratum/connection.hpp"
#include "stratum/params.hpp"
#include "stratum/result.hpp"
#include "stratum/uuid.hpp"

namespace stratum {

enum class Isolation : std::uint8_t { read_committed, repeatable_read, serializable };

struct TxOptions {
    Isolation isolation = Isolation::read_committed;
    bool read_only = false;
    // Who acts (stratum.set_actor), recorded by the audit trail.
    std::optional<std::string> actor;
};

class Tx {
public:
    // A transaction as `tenant`.
    Tx(Connection &connection, const TenantId &tenant, TxOptions options = {});
    // A transaction without tenant context (tenant tables then raise NoTenantContext).
    explicit Tx(Connection &connection, TxOptions options = {});
    ~Tx();
    Tx(const Tx &) = delete;
    Tx &operator=(const Tx &) = delete;

    // One statement, one round trip (the first also carries BEGIN and the tenant).
    template <class... Args>
        requires are_values_v<Args...>
    Result exec(std::string_view sql, Args &&...args)
    {
        Params params(std::forward<Args>(args)...);
        return exec(sql, params);
    }
    Result exec(std::string_view sql, const Params &params);

    // Several statements in one round trip; one Result each. On failure the
    // transaction is aborted (roll it back or let the destructor do it).
    std::vector<Result> exec_batch(std::span<const Statement> statements);

    // COMMIT (one round trip; none when no statement ran). When it throws,
    // the error says whether anything may have committed:
    // - the server refused the COMMIT (serialization failure, deferred
    //   constraint ...): rolled back, definitely_not_committed();
    // - the connection broke before the reply: the server is asked
    //   (pg_xact_status, on a fresh connection, for up to
    //   ConnectionOptions::commit_resolution_timeout). Committed: commit()
    //   returns normally. Aborted (or the transaction wrote nothing): a
    //   ConnectionLost that is definitely_not_committed(). No answer in time:
    //   CommitOutcomeUnknown (committed_unknown()), the only such case.
    void commit();
    // ROLLBACK (one round trip when the transaction began on the server).
    void rollback();

    bool is_open() const noexcept { return state_ == State::pending || state_ == State::active; }
    const TenantId *tenant() const noexcept { return tenant_ ? &*tenant_ : nullptr; }
    Connection &connection() noexcept { return connection_; }
    // Round trips this transaction made so far.
    std::uint64_t round_trips() const noexcept { return connection_.round_trips() - round_trips_at_start_; }
    // The transaction's id (xid8 as text) once it has written; "" before.
    const std::string &xid() const noexcept { return xid_; }

private:
    enum class State : std::uint8_t { pending, active, failed, committed, rolled_back };
    // BEGIN, and the context statement unless the tenant is bound to the first statement.
    Connection::Context send_begin();
    void check_open() const;
    std::vector<Result> run(std::span<const Statement> statements, const Params *single_params,
                            std::string_view single_sql);

    Connection &connection_;
    std::optional<TenantId> tenant_;
    TxOptions options_;
    Params context_params_;
    State state_ = State::pending;
    std::uint64_t round_trips_at_start_;
    std::string xid_;  // learnt with the first round trip after the first write
    std::string xid_learnt_at_;  // the server's clock then (resolving a lost COMMIT)
};

}  // namespace stratum
