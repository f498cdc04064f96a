// The admin actions of stratum serve. With the migration runner
// (stratum::Migrator) they apply, roll back, report and seed the migrations
// of migrations.dir on the server's pool; the request body carries the
// options ({"to": N}, {"steps": N}, {"dry_run": true}, {"environment": ...}).
#include "stratum/config.hpp"
#include "stratum/http_server.hpp"
#include "stratum/pool.hpp"

#include <algorithm>
#include <initializer_list>
#include <optional>
#include <string>
#include <type_traits>

#include <nlohmann/json.hpp>

#include "stratum/logging.hpp"
#include "stratum/migration_files.hpp"
#include "stratum/migrator.hpp"

#include "migration_cli.hpp"

namespace stratum::cli {

namespace {

// The admin actions drive stratum::Migrator (migrations.dir of the
// configuration), borrowing connections from the server's pool.

// A JSON field of the request body, checked.
template <class T>
std::optional<T> body_field(const nlohmann::json &body, const char *name, const char *expected)
{
    if (!body.contains(name) || body[name].is_null())
        return std::nullopt;
    const nlohmann::json &value = body[name];
    bool ok = false;
    if constexpr (std::is_same_v<T, bool>)
        ok = value.is_boolean();
    else if constexpr (std::is_integral_v<T>)
        ok = value.is_number_integer();
    else
        ok = value.is_string();
    if (!ok)
        throw AdminError(400, "invalid_request",
                         std::string("\"") + name + "\" must be " + expected);
    return value.get<T>();
}

// Only these fields: a misspelt option must not be silently ignored.
void only_fields(const nlohmann::json &body, std::initializer_list<const char *> fields)
{
    for (const auto &[key, value] : body.items())
        if (std::find_if(fields.begin(), fields.end(), [&](const char *f) { return key == f; }) ==
            fields.end())
            throw AdminError(400, "invalid_request", "unknown field \"" + key + "\"");
}

// A failed run as an answer: the runner's description of the failure (and
// of what was done before it), with an HTTP status for its reason.
AdminResponse migration_failure(const MigrationError &error)
{
    int status = 409;
    switch (error.reason()) {
    case MigrationErrorReason::not_in_ledger:
        status = 404;
        break;
    case MigrationErrorReason::invalid:
        status = 400;
        break;
    case MigrationErrorReason::failed:
        status = 422;  // a statement of the migration failed: nothing of it was kept
        break;
    default:
        break;  // drift, tampered, dependency, out_of_order, irreversible, lock_timeout, busy
    }
    nlohmann::json body = nlohmann::json::parse(error.to_json());
    nlohmann::json &e = body["error"];
    e["status"] = status;
    e["code"] = std::string(to_string(error.reason()));
    e["message"] = logging::redact(error.what());
    if (e.contains("detail"))
        e["detail"] = logging::redact(e["detail"].get<std::string>());
    return AdminResponse{status, body.dump()};
}

AdminResponse file_failure(const MigrationFileError &error)
{
    nlohmann::json body = nlohmann::json::parse(error.to_json());
    body["error"]["status"] = 422;
    body["error"]["code"] = "invalid_migration_files";
    return AdminResponse{422, body.dump()};
}

// Runs `action` with a Migrator for this request; its failures become answers.
template <class Action>
AdminResponse with_migrator(const Config &config, Pool &pool, const AdminRequest &request,
                            Action action)
{
    const nlohmann::json body = nlohmann::json::parse(request.body);
    MigratorOptions options = migrator_options(config);
    options.actor = "stratum-serve";
    options.on_event = [](const MigrationEvent &event) { log_event(event, false); };
    options.dry_run = body_field<bool>(body, "dry_run", "true or false").value_or(false);
    try {
        Migrator migrator(pool, options);
        return AdminResponse{200, action(migrator, body)};
    } catch (const MigrationError &error) {
        return migration_failure(error);
    } catch (const MigrationFileError &error) {
        return file_failure(error);
    }
}

}  // namespace

AdminActions make_admin_actions(const Config &config, Pool &pool)
{
    AdminActions actions;
    // {"to": 42, "dry_run": true}: apply pending migrations (up to version 42).
    actions.migrate_up = [&config, &pool](const AdminRequest &request) {
        return with_migrator(config, pool, request, [](Migrator &m, const nlohmann::json &body) {
            only_fields(body, {"to", "dry_run"});
            return m.up(body_field<std::int64_t>(body, "to", "a version number")).to_json();
        });
    };
    // {"steps": 2} or {"to": 40}: roll back the newest migrations (one by default).
    actions.migrate_down = [&config, &pool](const AdminRequest &request) {
        return with_migrator(config, pool, request, [](Migrator &m, const nlohmann::json &body) {
            only_fields(body, {"steps", "to", "dry_run"});
            const auto steps = body_field<int>(body, "steps", "a positive integer");
            const auto to = body_field<std::int64_t>(body, "to", "a version number");
            if (steps && to)
                throw AdminError(400, "invalid_request", "give \"steps\" or \"to\", not both");
            if (steps && *steps < 1)
                throw AdminError(400, "invalid_request", "\"steps\" must be a positive integer");
            return (to ? m.down_to(*to) : m.down(steps.value_or(1))).to_json();
        });
    };
    actions.migration_status = [&config, &pool](const AdminRequest &request) {
        return with_migrator(config, pool, request, [](Migrator &m, const nlohmann::json &body) {
            only_fields(body, {});
            return m.status().to_json();
        });
    };
    // {"environment": "demo"}: apply seeds/<environment>/ (default: the
    // configuration's environment, else development). Never in production:
    // the server refuses before this runs.
    actions.seed = [&config, &pool](const AdminRequest &request) {
        return with_migrator(config, pool, request, [&config](Migrator &m, const nlohmann::json &body) {
            only_fields(body, {"environment", "dry_run"});
            const std::string environment =
                body_field<std::string>(body, "environment", "a string")
                    .value_or(config.environment.empty() ? "development" : config.environment);
            return m.seed(environment).to_json();
        });
    };
    return actions;
}

}  // namespace stratum::cli
