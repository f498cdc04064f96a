// Tx: lazy BEGIN + tenant context sent with the first statement.
#include "stratum/tx.hpp"

#include <algorithm>

#include "commit_resolution.hpp"
#include "stratum/context_sql.hpp"

namespace stratum {
namespace {

const Params no_params;

std::string_view begin_sql(const TxOptions &options)
{
    static constexpr std::string_view texts[3][2] = {
        {"BEGIN", "BEGIN READ ONLY"},
        {"BEGIN ISOLATION LEVEL REPEATABLE READ", "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"},
        {"BEGIN ISOLATION LEVEL SERIALIZABLE", "BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY"},
    };
    return texts[static_cast<int>(options.isolation)][options.read_only ? 1 : 0];
}

}  // namespace

Tx::Tx(Connection &connection, const TenantId &tenant, TxOptions options)
    : connection_(connection), tenant_(tenant), options_(std::move(options)),
      round_trips_at_start_(connection.round_trips())
{
    if (!connection_.is_clean())
        throw UsageError("a transaction needs an idle connection (this one is broken, busy or "
                         "already inside a transaction)");
    context_params_.add_text(tenant_->str());
    if (options_.actor)
        context_params_.add_text(*options_.actor);
}

Tx::Tx(Connection &connection, TxOptions options)
    : connection_(connection), options_(std::move(options)),
      round_trips_at_start_(connection.round_trips())
{
    if (!connection_.is_clean())
        throw UsageError("a transaction needs an idle connection (this one is broken, busy or "
                         "already inside a transaction)");
    if (options_.actor)
        context_params_.add_text(*options_.actor);
}

Tx::~Tx()
{
    if (state_ == State::active || state_ == State::failed) {
        try {
            rollback();
        } catch (...) {
            // The connection is left broken or inside a transaction: the pool
            // closes it instead of handing it out again.
        }
    }
    connection_.set_event_tenant(nullptr);
}

void Tx::check_open() const
{
    switch (state_) {
    case State::pending:
    case State::active:
        return;
    case State::failed:
        throw UsageError("the transaction is aborted by an earlier error: roll it back");
    case State::committed:
    case State::rolled_back:
        throw UsageError("the transaction is already finished");
    }
}

Connection::Context Tx::send_begin()
{
    connection_.set_event_tenant(tenant_ ? &*tenant_ : nullptr);
    connection_.send_internal(begin_sql(options_), no_params);
    // The tenant bound to the first statement, or a context statement first
    // (as Connection::query sends them).
    return connection_.send_context(tenant_.has_value(), options_.actor.has_value(), context_params_);
}

std::vector<Result> Tx::run(std::span<const Statement> statements, const Params *single_params,
                            std::string_view single_sql)
{
    check_open();
    std::size_t internal = 0;
    using Context = Connection::Context;
    Context context = Context::none;
    if (state_ == State::pending) {
        context = send_begin();
        internal = connection_.queued();
    }
    bool bind_tenant = context == Context::bound;
    // The first statement of the transaction, with the tenant bound when it carries it.
    auto send = [&](std::string_view sql, const Params &params) {
        if (bind_tenant)
            connection_.send_binding_tenant(sql, params, context_params_.pointers()[0]);
        else
            connection_.send(sql, params);
        bind_tenant = false;
    };
    // Until the transaction has an id, ask for it after statements that may
    // write (a read-only one never gets one; reads ask with the COMMIT).
    auto may_write = [&] {
        if (single_params != nullptr && !detail::reads_only(single_sql))
            return true;
        return std::any_of(statements.begin(), statements.end(),
                           [](const Statement &s) { return !detail::reads_only(s.sql); });
    };
    const bool learn_id = xid_.empty() && !options_.read_only && may_write();
    std::vector<Result> results;
    try {
        if (single_params != nullptr)
            send(single_sql, *single_params);
        for (const Statement &statement : statements)
            send(statement.sql, statement.params);
        if (learn_id)
            connection_.send_internal(detail::current_xact_id_sql, no_params);
        connection_.sync(results);
    } catch (Error &error) {
        // COMMIT was not sent: nothing of this transaction can have committed.
        error.set_committed_unknown(false);
        // BEGIN ran, a statement failed: the server holds an aborted
        // transaction until we roll it back. Otherwise nothing is open.
        state_ = connection_.in_transaction() ? State::failed : State::rolled_back;
        throw;
    } catch (...) {
        state_ = connection_.in_transaction() ? State::failed : State::rolled_back;
        throw;
    }
    state_ = State::active;
    if (learn_id) {
        if (std::optional<detail::XactId> id = detail::xact_id_of(results.back())) {
            xid_ = std::move(id->xid);
            xid_learnt_at_ = std::move(id->learnt_at);
        }
        results.pop_back();
    }
    if (context == Context::statement_and_probe)
        connection_.learn_tenant_param_type(results[internal - 1]);
    results.erase(results.begin(), results.begin() + static_cast<std::ptrdiff_t>(internal));
    return results;
}

Result Tx::exec(std::string_view sql, const Params &params)
{
    return std::move(run({}, &params, sql).front());
}

std::vector<Result> Tx::exec_batch(std::span<const Statement> statements)
{
    if (statements.empty())
        return {};
    return run(statements, nullptr, {});
}

void Tx::commit()
{
    if (state_ == State::pending) {
        state_ = State::committed;  // nothing was sent: nothing to commit
        return;
    }
    if (state_ == State::failed) {
        rollback();
        throw UsageError("cannot commit: an earlier statement failed, the transaction was rolled back");
    }
    check_open();
    // No id yet (only reads so far, or a SELECT that called a writing
    // function): ask with the COMMIT, flushed ahead of it, so the answer is
    // on its way before the server commits.
    const bool learn_id = xid_.empty() && !options_.read_only;
    std::vector<Result> results;
    try {
        if (learn_id) {
            connection_.send_internal(detail::current_xact_id_sql, no_params);
            connection_.send_flush();
        }
        connection_.send_internal("COMMIT", no_params);
    } catch (Error &error) {
        // Queued only, nothing sent: the server never saw this COMMIT.
        state_ = State::rolled_back;
        error.set_committed_unknown(false);
        throw;
    }
    try {
        connection_.sync(results);
    } catch (ConnectionLost &error) {
        // The reply is lost, not necessarily the commit: ask the server.
        state_ = State::rolled_back;  // either way nothing is left open on this connection
        if (learn_id && !results.empty())
            if (std::optional<detail::XactId> id = detail::xact_id_of(results.front())) {
                xid_ = std::move(id->xid);
                xid_learnt_at_ = std::move(id->learnt_at);
            }
        if (xid_.empty() && learn_id && results.empty()) {
            // The id never came back: the server did not reach the COMMIT.
            error.set_committed_unknown(false);
            throw;
        }
        if (xid_.empty()) {
            // It wrote nothing here: nothing to commit. On Citus the writes
            // may be the workers' alone (no local id before the commit).
            error.set_committed_unknown(connection_.context_needs_transaction_block());
            throw;
        }
        detail::settle_lost_commit(error, connection_.conninfo(), connection_.options(),
                                   detail::XactId{xid_, xid_learnt_at_});
        // It committed: a success, like a reply that arrived.
    } catch (...) {
        // A failed COMMIT (serialization failure, deferred constraint) ends
        // the transaction on the server: rolled back.
        state_ = connection_.in_transaction() ? State::failed : State::rolled_back;
        throw;
    }
    state_ = State::committed;
}

void Tx::rollback()
{
    if (state_ == State::pending) {
        state_ = State::rolled_back;
        return;
    }
    if (state_ == State::committed || state_ == State::rolled_back)
        return;
    state_ = State::rolled_back;  // whatever happens next, the server will not commit it
    try {
        connection_.send_internal("ROLLBACK", no_params);
        connection_.sync();
    } catch (Error &error) {
        error.set_committed_unknown(false);
        throw;
    }
}

}  // namespace stratum
