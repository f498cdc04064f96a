// Connection: connect without blocking past a deadline, pipeline mode, the
// per-connection prepared statement cache and the Sync/result loop.
#include "stratum/connection.hpp"

#include "commit_resolution.hpp"
#include "stratum/context_sql.hpp"

#include <poll.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>

#include <libpq-fe.h>

namespace stratum {
namespace {

using Clock = std::chrono::steady_clock;
constexpr Connection::Deadline no_deadline = Connection::Deadline::max();

const Params no_params;

std::string trimmed(const char *message)
{
    std::string text = message != nullptr ? message : "";
    while (!text.empty() && (text.back() == '\n' || text.back() == ' '))
        text.pop_back();
    return text;
}

// poll() one socket until ready or the deadline; false on timeout.
bool poll_socket(int socket, short events, Connection::Deadline deadline)
{
    for (;;) {
        int timeout_ms = -1;
        if (deadline != no_deadline) {
            auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
            if (left.count() <= 0)
                return false;
            timeout_ms = static_cast<int>(std::min<long long>(left.count(), 1 << 30));
        }
        pollfd fd{socket, events, 0};
        int n = ::poll(&fd, 1, timeout_ms);
        if (n > 0)
            return true;
        if (n == 0)
            return false;
        if (errno != EINTR)
            return true;  // let libpq find out what is wrong with the socket
    }
}

}  // namespace

std::unique_ptr<Connection> Connection::open(const std::string &conninfo,
                                             const ConnectionOptions &options, Deadline deadline)
{
    const char *keywords[] = {"dbname", "fallback_application_name", nullptr};
    const char *values[] = {conninfo.c_str(), options.application_name.c_str(), nullptr};
    PGconn *conn = PQconnectStartParams(keywords, values, /*expand_dbname=*/1);
    if (conn == nullptr)
        throw std::bad_alloc();
    auto fail = [&](std::string message) {
        if (message.empty())
            message = "connection failed";
        PQfinish(conn);
        throw CannotConnect(ErrorFields{.sqlstate = "08001", .message = std::move(message)});
    };
    if (PQstatus(conn) == CONNECTION_BAD)
        fail(trimmed(PQerrorMessage(conn)));
    // libpq tries each host in turn (and checks target_session_attrs) inside
    // PQconnectPoll; we only wait on whichever socket it is using.
    for (PostgresPollingStatusType state = PGRES_POLLING_WRITING;;) {
        if (state == PGRES_POLLING_OK)
            break;
        if (state == PGRES_POLLING_FAILED)
            fail(trimmed(PQerrorMessage(conn)));
        int socket = PQsocket(conn);
        if (socket < 0)
            fail(trimmed(PQerrorMessage(conn)));
        if (!poll_socket(socket, state == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline))
            fail("timeout while connecting to " + std::string(PQhost(conn) ? PQhost(conn) : "?") +
                 ":" + (PQport(conn) ? PQport(conn) : "?"));
        state = PQconnectPoll(conn);
    }
    if (PQsetnonblocking(conn, 1) != 0 || PQenterPipelineMode(conn) != 1)
        fail(trimmed(PQerrorMessage(conn)));
    std::unique_ptr<Connection> connection(new Connection(conn, options));
    connection->conninfo_ = conninfo;
    return connection;
}

// Notices and errors that arrive outside a query (a FATAL sent to an idle
// session before the server closes it) come here instead of stderr.
void Connection::receive_notice(void *self, const pg_result *result) noexcept
{
    auto *connection = static_cast<Connection *>(self);
    const char *severity = PQresultErrorField(result, PG_DIAG_SEVERITY_NONLOCALIZED);
    const char *state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
    if (severity != nullptr && (std::strcmp(severity, "FATAL") == 0 || std::strcmp(severity, "PANIC") == 0)) {
        connection->broken_ = true;
        connection->note_failure(state != nullptr ? state : "08006");
        if (connection->failure_ == Failure::none)
            connection->failure_ = Failure::lost;
    }
}

Connection::Connection(pg_conn *conn, const ConnectionOptions &options)
    : conn_(conn), options_(options)
{
    PQsetNoticeReceiver(conn_, &Connection::receive_notice, this);
    cancel_ = PQgetCancel(conn_);
    const char *host = PQhost(conn_);
    const char *port = PQport(conn_);
    endpoint_ = std::string(host ? host : "") + ":" + (port ? port : "");
    const char *block = PQparameterStatus(conn_, "stratum.context_needs_transaction_block");
    needs_block_ = block != nullptr && std::strcmp(block, "on") == 0;
}

Connection::~Connection()
{
    if (cancel_ != nullptr)
        PQfreeCancel(cancel_);
    PQfinish(conn_);
}

bool Connection::is_broken() const noexcept
{
    return broken_ || PQstatus(conn_) != CONNECTION_OK;
}

bool Connection::in_transaction() const noexcept
{
    PGTransactionStatusType status = PQtransactionStatus(conn_);
    return status != PQTRANS_IDLE;
}

int Connection::backend_pid() const noexcept
{
    return PQbackendPID(conn_);
}

bool Connection::server_is_standby() const noexcept
{
    const char *value = PQparameterStatus(conn_, "in_hot_standby");
    return value != nullptr && std::strcmp(value, "on") == 0;
}

bool Connection::server_is_read_only() const noexcept
{
    // Both are reported by the server whenever they change (PostgreSQL 14+).
    const char *value = PQparameterStatus(conn_, "default_transaction_read_only");
    return server_is_standby() || (value != nullptr && std::strcmp(value, "on") == 0);
}

std::size_t Connection::queued() const noexcept
{
    std::size_t n = 0;
    for (const Step &step : steps_)
        n += step.kind != StepKind::prepare;
    return n;
}

bool Connection::check_alive() noexcept
{
    if (is_broken())
        return false;
    // Something may have arrived on the idle connection: a FATAL before the
    // server closed it (libpq hands it to the notice receiver), a notice, or
    // EOF, which the read after the message reveals.
    for (int round = 0; round < 4; round++) {
        pollfd fd{PQsocket(conn_), POLLIN, 0};
        if (fd.fd < 0)
            break;
        int n = ::poll(&fd, 1, 0);
        if (n == 0)
            return !is_broken();  // nothing (more) arrived: alive as far as we can tell
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || PQconsumeInput(conn_) == 0 || PQstatus(conn_) != CONNECTION_OK)
            break;
        if (broken_)
            return false;
    }
    broken_ = true;
    if (failure_ == Failure::none)
        failure_ = Failure::lost;
    return false;
}

// A 25006 is a failover sign only when the server itself is read-only (a
// standby, or default_transaction_read_only on), not when the caller asked
// for a READ ONLY transaction. The server reports both settings just before
// ReadyForQuery, i.e. after the error: hence judged once the Sync is read.
void Connection::settle_read_only() noexcept
{
    if (saw_read_only_ && server_is_read_only() && failure_ == Failure::none)
        failure_ = Failure::read_only;
    saw_read_only_ = false;
}

bool Connection::cancel() noexcept
{
    // The handle was made on the owning thread at connect time: PQcancel on
    // it is safe from any thread.
    if (cancel_ == nullptr)
        return false;
    char error[256];
    return PQcancel(cancel_, error, sizeof error) == 1;
}

void Connection::note_failure(const std::string &sqlstate) noexcept
{
    if (sqlstate == "57P01" || sqlstate == "57P02" || sqlstate == "57P03")
        failure_ = Failure::shutdown;
    else if (sqlstate.starts_with("08"))
        failure_ = Failure::lost;
    else if (sqlstate == "25006")
        saw_read_only_ = true;  // judged after the Sync: see settle_read_only()
}

void Connection::lost(std::string message)
{
    broken_ = true;
    if (failure_ == Failure::none)
        failure_ = Failure::lost;
    steps_.clear();
    preparing_.clear();
    throw ConnectionLost(ErrorFields{.sqlstate = "08006",
                                     .message = message.empty() ? "connection lost" : message});
}

Connection::Deadline Connection::round_trip_deadline() const noexcept
{
    if (options_.round_trip_timeout.count() <= 0)
        return no_deadline;
    return Clock::now() + options_.round_trip_timeout;
}

void Connection::send(std::string_view sql, const Params &params)
{
    queue(sql, params, true, nullptr);
}

void Connection::send_flush()
{
    if (broken_)
        lost("connection is broken");
    if (PQsendFlushRequest(conn_) != 1)
        lost(trimmed(PQerrorMessage(conn_)));
}

void Connection::send_internal(std::string_view sql, const Params &params)
{
    queue(sql, params, false, nullptr);
}

void Connection::send_binding_tenant(std::string_view sql, const Params &params, const char *tenant)
{
    if (tenant_param_type_ == 0)
        throw UsageError("send_binding_tenant: this connection has not learnt stratum.tenant_param "
                         "(binds_tenant() is false)");
    queue(sql, params, true, tenant);
}

void Connection::queue(std::string_view sql, const Params &params, bool visible,
                       const char *bound_tenant)
{
    if (broken_)
        lost("connection is broken");
    if (steps_.empty())
        pipeline_started_ = Clock::now();
    if (visible && observer_ && !observer_->idle())
        observer_->before(QueryEvent{.sql = sql, .params = &params, .tenant = event_tenant_,
                                     .endpoint = endpoint_});
    // A bound tenant is one more parameter, declared stratum.tenant_param:
    // the server sets it when it binds the statement. Its statement is
    // prepared apart from the same text without it (key: the text, a NUL).
    int n = static_cast<int>(params.size());
    const char *const *values = params.pointers();
    const unsigned int *types = nullptr;
    std::string_view key = sql;
    if (bound_tenant != nullptr) {
        bound_values_.assign(values, values + n);
        bound_values_.push_back(bound_tenant);
        bound_types_.assign(static_cast<std::size_t>(n), 0);
        bound_types_.push_back(tenant_param_type_);
        bound_key_.assign(sql);
        bound_key_.push_back('\0');
        values = bound_values_.data();
        types = bound_types_.data();
        key = bound_key_;
        n++;
    }
    int sent;
    const std::string *name = nullptr;
    if (options_.prepared_statements) {
        auto known = prepared_.find(key);
        name = known != prepared_.end() ? &known->second : nullptr;
        if (name == nullptr) {
            auto pending = preparing_.find(key);
            if (pending != preparing_.end()) {
                name = &pending->second;
            } else if (prepared_.size() + preparing_.size() < options_.prepared_cache_size) {
                auto [it, inserted] =
                    preparing_.emplace(std::string(key), "stratum_" + std::to_string(++next_statement_id_));
                // c_str(): the text, up to the NUL of a bound tenant's key.
                if (PQsendPrepare(conn_, it->second.c_str(), it->first.c_str(), n, types) != 1)
                    lost(trimmed(PQerrorMessage(conn_)));
                steps_.push_back(Step{StepKind::prepare, {}, nullptr, &it->first, bound_tenant != nullptr});
                name = &it->second;
            }
        }
    }
    if (name != nullptr)
        sent = PQsendQueryPrepared(conn_, name->c_str(), n, values, nullptr, nullptr, 0);
    else
        sent = PQsendQueryParams(conn_, std::string(sql).c_str(), n, types, values, nullptr,
                                 nullptr, 0);
    if (sent != 1)
        lost(trimmed(PQerrorMessage(conn_)));
    steps_.push_back(Step{visible ? StepKind::statement : StepKind::internal, sql, &params, nullptr,
                          bound_tenant != nullptr});
}

void Connection::wait_socket(bool for_write, Deadline deadline)
{
    int socket = PQsocket(conn_);
    if (socket < 0)
        lost(trimmed(PQerrorMessage(conn_)));
    if (poll_socket(socket, for_write ? (POLLIN | POLLOUT) : POLLIN, deadline))
        return;
    // Too slow: ask the server to cancel, then give it a moment to say so.
    cancel();
    if (poll_socket(socket, POLLIN, Clock::now() + std::chrono::seconds(5)))
        return;
    lost("no answer from the server within the round trip timeout, even after a cancel request");
}

void Connection::flush(Deadline deadline)
{
    for (;;) {
        int rc = PQflush(conn_);
        if (rc == 0)
            return;
        if (rc < 0)
            lost(trimmed(PQerrorMessage(conn_)));
        // The server may be waiting for us to read before it reads more.
        wait_socket(true, deadline);
        if (PQconsumeInput(conn_) == 0)
            lost(trimmed(PQerrorMessage(conn_)));
    }
}

pg_result *Connection::next_result(Deadline deadline)
{
    while (PQisBusy(conn_)) {
        wait_socket(false, deadline);
        if (PQconsumeInput(conn_) == 0) {
            // The socket closed; a FATAL sent before may still be buffered.
            if (!PQisBusy(conn_))
                break;
            lost(trimmed(PQerrorMessage(conn_)));
        }
    }
    return PQgetResult(conn_);
}

std::vector<Result> Connection::sync()
{
    std::vector<Result> results;
    sync(results);
    return results;
}

void Connection::sync(std::vector<Result> &results)
{
    if (broken_)
        lost("connection is broken");
    // Swapped, not moved: both vectors keep their capacity from one round trip to the next.
    std::vector<Step> &steps = in_flight_;
    steps.clear();
    steps.swap(steps_);
    results.clear();
    results.reserve(steps.size());
    if (steps.empty())
        return;

    ++round_trips_;
    if (shared_round_trips_ != nullptr)
        shared_round_trips_->fetch_add(1, std::memory_order_relaxed);
    const Deadline deadline = round_trip_deadline();
    std::optional<ErrorFields> first_error;
    bool stale_tenant_param = false;
    std::size_t failed_step = steps.size();

    try {
        if (PQpipelineSync(conn_) != 1)
            lost(trimmed(PQerrorMessage(conn_)));
        flush(deadline);
        for (std::size_t i = 0; i < steps.size(); i++) {
            Step &step = steps[i];
            PGresult *raw = next_result(deadline);
            if (raw == nullptr) {
                if (PQstatus(conn_) != CONNECTION_OK)
                    lost(first_error ? first_error->message : trimmed(PQerrorMessage(conn_)));
                lost("protocol out of sync: a result is missing");
            }
            Result result(raw);
            ExecStatusType status = PQresultStatus(raw);
            switch (status) {
            case PGRES_PIPELINE_ABORTED:
                if (step.kind == StepKind::prepare)
                    preparing_.erase(*step.prepared_sql);
                break;
            case PGRES_FATAL_ERROR:
            case PGRES_NONFATAL_ERROR:
            case PGRES_BAD_RESPONSE:
                if (!first_error) {
                    first_error = error_fields(raw);
                    first_error->statement = std::string(
                        step.kind == StepKind::prepare ? std::string_view(step.prepared_sql->c_str())
                                                       : step.sql);
                    note_failure(first_error->sqlstate);
                    // A failed prepare is its statement's failure (the next step).
                    failed_step = step.kind == StepKind::prepare ? i + 1 : i;
                    // "cache lookup failed for type": the OID of
                    // stratum.tenant_param went stale (the extension was
                    // dropped and created again). The pool replaces a
                    // broken connection; the new one asks for the OID again.
                    stale_tenant_param = step.binds_tenant && first_error->sqlstate == "XX000";
                }
                if (step.kind == StepKind::prepare)
                    preparing_.erase(*step.prepared_sql);
                break;
            case PGRES_COMMAND_OK:
            case PGRES_TUPLES_OK:
            case PGRES_EMPTY_QUERY:
                if (step.kind == StepKind::prepare) {
                    auto node = preparing_.extract(*step.prepared_sql);
                    if (!node.empty())
                        prepared_.insert(std::move(node));
                }
                break;
            default:
                // COPY and friends do not belong in a pipeline.
                lost("unexpected result status " + std::string(PQresStatus(status)) +
                     " (COPY is not supported here)");
            }
            if (step.kind != StepKind::prepare)
                results.push_back(std::move(result));
            // Each statement's results end with a null.
            if (PGresult *extra = next_result(deadline); extra != nullptr) {
                PQclear(extra);
                lost("protocol out of sync: more than one result for a statement");
            }
        }
        PGresult *sync_result = next_result(deadline);
        bool synced = sync_result != nullptr && PQresultStatus(sync_result) == PGRES_PIPELINE_SYNC;
        PQclear(sync_result);
        if (!synced)
            lost(first_error ? first_error->message : "protocol out of sync: no Sync result");
        settle_read_only();
    } catch (ConnectionLost &) {
        preparing_.clear();
        if (first_error && failure_ == Failure::shutdown)
            throw_error(std::move(*first_error));  // say why: the server is shutting down
        throw;
    }
    preparing_.clear();  // prepares of statements the server skipped

    if (observer_ && !observer_->idle()) {
        const auto elapsed = Clock::now() - pipeline_started_;
        std::size_t r = 0;
        for (std::size_t i = 0; i < steps.size(); i++) {
            const Step &step = steps[i];
            if (step.kind == StepKind::prepare)
                continue;
            const Result &result = results[r++];
            if (step.kind != StepKind::statement || i > failed_step)
                continue;
            bool failed = i == failed_step;
            observer_->after(QueryEvent{
                .sql = step.sql, .params = step.params, .tenant = event_tenant_,
                .endpoint = endpoint_, .duration = elapsed,
                .rows = failed ? 0 : (result.columns() > 0 ? result.size() : result.affected_rows()),
                .sqlstate = failed ? std::string_view(first_error->sqlstate) : std::string_view(),
                .error = failed ? std::string_view(first_error->message) : std::string_view()});
        }
        if (failed_step < steps.size() && steps[failed_step].kind != StepKind::statement) {
            // An internal statement failed (e.g. set_tenant): report it against the first user statement.
            for (const Step &step : steps) {
                if (step.kind == StepKind::statement) {
                    observer_->after(QueryEvent{.sql = step.sql, .params = step.params,
                                                .tenant = event_tenant_, .endpoint = endpoint_,
                                                .duration = elapsed,
                                                .sqlstate = first_error->sqlstate,
                                                .error = first_error->message});
                    break;
                }
            }
        }
    }
    if (stale_tenant_param)
        broken_ = true;
    if (first_error)
        throw_error(std::move(*first_error));
}

Result Connection::exec(std::string_view sql, const Params &params)
{
    send(sql, params);
    return std::move(sync().front());
}

void Connection::learn_tenant_param_type(const Result &probe) noexcept
{
    tenant_param_probed_ = true;
    const pg_result *raw = probe.get();
    if (PQntuples(raw) == 1 && PQnfields(raw) == 2 && !PQgetisnull(raw, 0, 1))
        tenant_param_type_ = static_cast<unsigned int>(std::strtoul(PQgetvalue(raw, 0, 1), nullptr, 10));
}

Connection::Context Connection::send_context(bool tenant, bool actor, const Params &context_params)
{
    // An actor needs set_actor: it keeps the context statement.
    if (tenant && !actor && tenant_param_type_ != 0)
        return Context::bound;
    if (tenant && !actor && !tenant_param_probed_) {
        send_internal(context_sql::set_tenant_and_probe, context_params);
        return Context::statement_and_probe;
    }
    const std::string_view sql = context_sql::statement(tenant, actor);
    if (sql.empty())
        return Context::none;
    send_internal(sql, context_params);
    return Context::statement;
}

Result Connection::query(const TenantId &tenant, std::string_view sql, const Params &params)
{
    static const QueryOptions no_options;
    return query(tenant, no_options, sql, params);
}

Result Connection::query(const TenantId &tenant, const QueryOptions &options, std::string_view sql,
                         const Params &params)
{
    // The same context again (the common case): its parameters are already built.
    const std::size_t wanted = options.actor ? 2 : 1;
    if (context_params_.size() != wanted || context_params_.text(0) != tenant.view() ||
        (options.actor && context_params_.text(1) != *options.actor)) {
        context_params_ = Params();
        context_params_.add_text(tenant.str());
        if (options.actor)
            context_params_.add_text(*options.actor);
    }
    const TenantId *previous = event_tenant_;
    event_tenant_ = &tenant;
    // On Citus the context reaches the workers inside a transaction block
    // only; outside one they would refuse the statement.
    const bool block = needs_block_ && !in_transaction();
    // A standby commits nothing, a read nothing worth resolving: no id to
    // learn there (the probe is a statement of its own on the server).
    const bool read_only = detail::reads_only(sql);
    const bool learn_id = !read_only && !server_is_standby();
    // The tenant travels in the statement's own Bind, as a
    // stratum.tenant_param parameter, once the connection knows that type's
    // OID (the first context statement sent asks for it); on Citus the
    // SET LOCAL it makes at Bind reaches the workers as set_tenant's does.
    Context context = Context::none;
    std::size_t statement = 0, id_result = 0;  // where their results are
    // A member, cleared: its capacity is kept from one query to the next.
    std::vector<Result> &results = query_results_;
    results.clear();
    try {
        if (block)
            send_internal("BEGIN", no_params);
        context = send_context(true, options.actor.has_value(), context_params_);
        statement = (block ? 1 : 0) + (context == Context::bound ? 0 : 1);
        id_result = statement + 1;
        if (context == Context::bound)
            send_binding_tenant(sql, params, context_params_.pointers()[0]);
        else
            send(sql, params);
        if (learn_id) {
            send_internal(detail::current_xact_id_sql, no_params);
            // The server sends what it has so far before it reaches the
            // commit: no id received means no commit happened.
            send_flush();
        }
        if (block)
            send_internal("COMMIT", no_params);
        sync(results);
        event_tenant_ = previous;
        if (context == Context::statement_and_probe)
            learn_tenant_param_type(results[statement - 1]);
        Result result = std::move(results[statement]);
        results.clear();
        return result;
    } catch (ConnectionLost &error) {
        event_tenant_ = previous;
        std::optional<detail::XactId> xid;
        if (learn_id && results.size() > id_result)
            xid = detail::xact_id_of(results[id_result]);
        if (read_only && !server_is_standby())
            throw;  // committed_unknown(): it may have called a writing function
        if (!xid) {
            // Lost before the id arrived (the server never reached the
            // commit), or the statement wrote nothing — on this node: on
            // Citus the writes may be the workers' alone, committed in two
            // phases without a local id until the commit.
            error.set_committed_unknown(block && results.size() > id_result);
            throw;
        }
        detail::settle_lost_commit(error, conninfo_, options_, *xid);
        return std::move(results[statement]);  // it committed
    } catch (...) {
        event_tenant_ = previous;
        // The block failed: the server keeps it open, aborted, until ROLLBACK.
        if (block && in_transaction() && !is_broken()) {
            try {
                send_internal("ROLLBACK", no_params);
                std::vector<Result> ignored;
                sync(ignored);
            } catch (...) {
                // The pool discards a connection left in a transaction.
            }
        }
        throw;
    }
}

}  // namespace stratum
