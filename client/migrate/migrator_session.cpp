// The migrator's connections (opened or leased), simple queries outside the
// pipeline, retry budgets with backoff, and events.
#include <algorithm>
#include <random>

#include <libpq-fe.h>

#include "migrator_internal.hpp"

namespace stratum {

void Migrator::Impl::emit(const MigrationEvent &event)
{
    // The migrator only reports; what to show or log is the caller's
    // (the stratum command logs waits, retries and failures).
    if (!options.on_event)
        return;
    std::lock_guard lock(event_mutex);
    try {
        options.on_event(event);
    } catch (...) {
        // Progress output must not stop a migration.
    }
}

namespace migrator {

Session::Session(Migrator::Impl &impl)
{
    if (impl.pool != nullptr) {
        lease_ = impl.pool->acquire();
        return;
    }
    ConnectionOptions options;
    options.application_name = "stratum-migrate";
    own_ = Connection::open(impl.conninfo, options, SteadyClock::now() + std::chrono::seconds(30));
}

Session::~Session()
{
    // A leased connection left inside a transaction or broken is closed by
    // the pool itself; one we opened simply closes.
    if (lease_ && !lease_->is_clean())
        lease_.discard();
}

Connection &Session::conn()
{
    if (own_)
        return *own_;
    if (lease_)
        return *lease_;
    throw ConnectionLost(ErrorFields{.sqlstate = "08006",
                                     .message = "the migrator closed its connection after an error"});
}

void Session::discard() noexcept
{
    if (lease_)
        lease_.discard();
    own_.reset();
}

Result simple_query(Session &session, const std::string &sql)
{
    Connection &connection = session.conn();
    pg_conn *conn = connection.native();
    session.extra_round_trips++;
    // The pipeline is idle between syncs: leave it for one simple query
    // (blocking mode, so that PQexec waits), then come back.
    if (PQexitPipelineMode(conn) != 1)
        throw ConnectionLost(ErrorFields{.sqlstate = "08006",
                                         .message = "cannot leave pipeline mode: " +
                                                    std::string(PQerrorMessage(conn))});
    PQsetnonblocking(conn, 0);
    PGresult *raw = PQexec(conn, sql.c_str());
    PQsetnonblocking(conn, 1);
    bool back = PQenterPipelineMode(conn) == 1;
    Result result(raw);
    ExecStatusType status = raw != nullptr ? PQresultStatus(raw) : PGRES_FATAL_ERROR;
    if (status == PGRES_FATAL_ERROR || status == PGRES_NONFATAL_ERROR ||
        status == PGRES_BAD_RESPONSE) {
        ErrorFields fields;
        if (raw != nullptr) {
            fields = error_fields(raw);
        } else {
            fields.sqlstate = "08006";
            fields.message = PQerrorMessage(conn);
        }
        if (fields.sqlstate.empty() && PQstatus(conn) != CONNECTION_OK)
            fields.sqlstate = "08006";
        fields.statement = sql;
        throw_error(std::move(fields));
    }
    if (!back || PQstatus(conn) != CONNECTION_OK)
        throw ConnectionLost(ErrorFields{.sqlstate = "08006",
                                         .message = "connection lost: " +
                                                    std::string(PQerrorMessage(conn))});
    return result;
}

const Params &no_params()
{
    static const Params none;
    return none;
}

std::string RunTarget::label(std::int64_t version, const std::string &name) const
{
    std::string text = kind == MigrationKind::seed
                           ? "seed " + scope + "/" + environment + "/" + std::to_string(version)
                           : scope + "/" + std::to_string(version);
    return name.empty() ? text : text + " (" + name + ")";
}

std::string RunTarget::shown(const std::string &relative) const
{
    if (relative.empty())
        return relative;
    return (dir / relative).lexically_normal().generic_string();
}

std::string interval_text(milliseconds duration)
{
    return std::to_string(duration.count()) + " milliseconds";
}

namespace {

template <class T>
std::string array_literal(const std::vector<T> &values)
{
    std::string text = "{";
    for (std::size_t i = 0; i < values.size(); i++) {
        if (i > 0)
            text += ',';
        if constexpr (std::is_same_v<T, std::string>)
            text += values[i];
        else
            text += std::to_string(values[i]);
    }
    text += '}';
    return text;
}

}  // namespace

std::string array_text(const std::vector<std::int64_t> &values)
{
    return array_literal(values);
}

std::string array_text(const std::vector<std::string> &values)
{
    return array_literal(values);
}

Transient classify(const Error &error)
{
    const std::string &state = error.sqlstate();
    if (state == "55P03")
        return error.message().find("non-transactional migration") != std::string::npos
                   ? Transient::busy
                   : Transient::lock_timeout;
    if (state == "40001" || state == "40P01")
        return Transient::rollback;
    return Transient::no;
}

RetryBudget::RetryBudget(const MigratorOptions &options)
    : options_(options), started_(SteadyClock::now())
{
}

std::optional<milliseconds> RetryBudget::next_delay(Transient why)
{
    thread_local std::mt19937_64 random{std::random_device{}()};
    auto elapsed = std::chrono::duration_cast<milliseconds>(SteadyClock::now() - started_);
    int exponent;
    if (why == Transient::busy) {
        // Another migrator is working, not the application: wait for it as
        // long as migrator_wait_limit allows, without spending attempts.
        if (elapsed >= options_.migrator_wait_limit)
            return std::nullopt;
        exponent = std::min(busy_rounds_++, 16);
    } else {
        if (attempts_ >= options_.max_attempts || elapsed >= options_.lock_wait_limit)
            return std::nullopt;
        exponent = std::min(attempts_ - 1, 16);
        attempts_++;
    }
    // Exponential backoff with equal jitter: half fixed, half random, so that
    // migrators that failed together do not come back together.
    auto base = std::max<long long>(options_.retry_backoff_min.count(), 1);
    auto ceiling = std::max<long long>(options_.retry_backoff_max.count(), base);
    long long delay = std::min<long long>(ceiling, base << exponent);
    std::uniform_int_distribution<long long> jitter(0, delay / 2);
    milliseconds wait{delay - delay / 2 + jitter(random)};
    milliseconds limit = why == Transient::busy ? options_.migrator_wait_limit : options_.lock_wait_limit;
    return std::max(milliseconds(1), std::min(wait, limit - elapsed));
}

}  // namespace migrator
}  // namespace stratum
