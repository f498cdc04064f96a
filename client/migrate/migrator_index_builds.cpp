// One statement of a non-transactional migration, and the care a concurrent
// index build needs: it runs without lock_timeout and statement_timeout
// (unless the file's header sets them), because it waits for every older
// snapshot to go and a timeout would only cancel it half-built; an INVALID
// index of the same name (an earlier build that failed) is dropped first, so
// IF NOT EXISTS cannot skip it; and an INVALID index the build leaves when it
// fails is dropped before the step is retried or reported. So the ledger
// never records a migration whose index is unusable.
#include <set>

#include "concurrent_build.hpp"
#include "migrator_internal.hpp"
#include "sql_scan.hpp"
#include "stratum/invalid_index_sql.hpp"

namespace stratum::migrator {
namespace {

constexpr const char *settings_sql =
    "SELECT set_config('lock_timeout', $1, false), set_config('statement_timeout', $2, false)";

std::string setting(std::optional<milliseconds> value)
{
    return std::to_string(value ? value->count() : 0) + "ms";
}

struct InvalidIndex {
    std::int64_t oid;
    std::string name;       // relname
    std::string qualified;  // as regclass prints it, for DROP INDEX
};

std::vector<InvalidIndex> invalid_indexes(const Result &rows)
{
    std::vector<InvalidIndex> out;
    for (const Row &row : rows)
        out.push_back({row[0].as<std::int64_t>(), row[1].as<std::string>(), row[2].as<std::string>()});
    return out;
}

// Drops an INVALID index without blocking writes; the error says what stays.
std::optional<Error> drop_invalid(Session &session, const InvalidIndex &index, const std::string &why)
{
    std::optional<Error> error =
        server_error([&] { simple_query(session, "DROP INDEX CONCURRENTLY IF EXISTS " + index.qualified); });
    if (!error)
        return std::nullopt;
    ErrorFields fields = error->fields();
    fields.message = "the INVALID index " + index.qualified + " (" + why +
                     ") could not be dropped: " + fields.message;
    fields.hint = "Drop it (DROP INDEX CONCURRENTLY " + index.qualified +
                  ") and run the migration again.";
    return Error(std::move(fields));
}

std::optional<Error> run_build(Session &session, const Step &step, const std::string &sql,
                               const detail::ConcurrentBuild &build,
                               const Params &step_settings, const BuildPreparation *prepared)
{
    Connection &conn = session.conn();
    const bool known_table = !build.relation.empty();
    const Params relation(build.relation);
    std::set<std::int64_t> earlier;  // INVALID before the build: not this build's doing
    // The build's settings and the INVALID indexes of its table, in one
    // round trip of their own unless the step's check carried them.
    std::optional<BuildPreparation> own;
    if (prepared == nullptr || !prepared->prepares(build)) {
        own.emplace(step, build);
        own->queue(conn);
        if (auto error = server_error([&] {
                std::vector<Result> results = conn.sync();
                own->take(results, 0);
            }))
            return error;
        prepared = &*own;
    }
    std::vector<InvalidIndex> before;
    if (prepared->invalid_before())
        before = invalid_indexes(*prepared->invalid_before());
    for (const InvalidIndex &index : before) {
        if (!build.index.empty() && index.name == build.index) {
            // Dropped under the build's settings: it waits as the build would.
            if (auto error = drop_invalid(session, index, "left by an earlier build that failed"))
                return error;
        } else {
            earlier.insert(index.oid);
        }
    }

    std::optional<Error> failed = server_error([&] { simple_query(session, sql); });

    std::vector<InvalidIndex> after;
    conn.send(settings_sql, step_settings);
    if (known_table)
        conn.send(invalid_index_sql::on_table, relation);
    if (auto error = server_error([&] {
            std::vector<Result> results = conn.sync();
            if (known_table)
                after = invalid_indexes(results[1]);
        }))
        return failed ? failed : error;
    for (const InvalidIndex &index : after) {
        if (earlier.count(index.oid) > 0)
            continue;
        const bool named = !build.index.empty() && index.name == build.index;
        if (!failed && !named)
            continue;  // another session's failed build, meanwhile: verify reports it
        if (auto error = drop_invalid(session, index, "left by the failed build"))
            return error;
        if (!failed)
            failed = Error(ErrorFields{
                .sqlstate = "55000",
                .message = "index " + index.qualified + " was INVALID after the statement (another "
                           "session's failed build of the same name?); it was dropped and the "
                           "migration is not recorded",
                .hint = "Run the migration again."});
    }
    return failed;
}

}  // namespace

BuildPreparation::BuildPreparation(const Step &step, detail::ConcurrentBuild build)
    : build_(std::move(build)),
      settings_(setting(step.build_lock_timeout), setting(step.build_statement_timeout)),
      relation_(build_.relation)
{
}

void BuildPreparation::queue(Connection &conn) const
{
    conn.send(settings_sql, settings_);
    if (!build_.relation.empty())
        conn.send(invalid_index_sql::on_table, relation_);
}

void BuildPreparation::take(std::vector<Result> &results, std::size_t first)
{
    taken_ = true;
    if (!build_.relation.empty())
        invalid_before_ = std::move(results.at(first + 1));
}

bool BuildPreparation::prepares(const detail::ConcurrentBuild &build) const noexcept
{
    return taken_ && build.reindex == build_.reindex && build.index == build_.index &&
           build.relation == build_.relation;
}

std::optional<detail::ConcurrentBuild> single_build_of(const Step &step)
{
    if (step.file == nullptr || step.action == Step::Action::rollback)
        return std::nullopt;
    const std::string_view sql = step.file->up_sql;
    const detail::SqlScan scan = detail::scan_sql(sql);
    if (!scan.has_code || scan.statements != 1 || !scan.problems.empty())
        return std::nullopt;
    return detail::concurrent_build_of(sql.substr(scan.first_code));
}

std::optional<Error> run_nontransactional_statement(Session &session, const Step &step,
                                                    const std::string &sql,
                                                    const Params &step_settings,
                                                    const BuildPreparation *prepared)
{
    if (auto build = detail::concurrent_build_of(sql))
        return run_build(session, step, sql, *build, step_settings, prepared);
    return server_error([&] { simple_query(session, sql); });
}

}  // namespace stratum::migrator
