// Options, progress output and error reporting shared by the migration commands.
#include "migration_cli.hpp"

#include <cstdio>
#include <iostream>
#include <stdexcept>

#include "stratum/logging.hpp"

namespace stratum::cli {
namespace {

std::chrono::milliseconds duration_option(const std::string &text, const char *option)
{
    try {
        return parse_duration(text);
    } catch (const std::invalid_argument &error) {
        throw ConfigError({ConfigProblem{"command line", option, error.what()}});
    }
}

}  // namespace

MigratorOptions migrator_options(const Config &config, const MigrationCliOptions &options)
{
    MigratorOptions out = stratum::migrator_options(config);
    if (!options.dir.empty())
        out.dir = options.dir;
    out.scope = options.scope;
    if (!options.lock_timeout.empty())
        out.lock_timeout = duration_option(options.lock_timeout, "--lock-timeout");
    if (!options.statement_timeout.empty())
        out.statement_timeout = duration_option(options.statement_timeout, "--statement-timeout");
    if (!options.lock_wait.empty())
        out.lock_wait_limit = duration_option(options.lock_wait, "--lock-wait");
    out.batch_size = static_cast<std::size_t>(options.batch_size);
    const bool shown = !options.json && !options.quiet;
    out.on_event = [shown](const MigrationEvent &event) {
        log_event(event, shown);
        if (shown)
            print_event(event);
    };
    return out;
}

void log_event(const MigrationEvent &event, bool shown)
{
    // The log gets what an operator must see: waits, retries and failures
    // (waits and retries at info only when no progress line shows them).
    logging::Level level = logging::Level::debug;
    if (event.type == MigrationEvent::Type::failed || event.type == MigrationEvent::Type::tenant_failed)
        level = logging::Level::warn;
    else if ((event.type == MigrationEvent::Type::retrying ||
              event.type == MigrationEvent::Type::waiting) &&
             !shown)
        level = logging::Level::info;
    if (!logging::enabled(level))
        return;
    std::string line(to_string(event.type));
    line += ' ';
    line += event.scope;
    if (event.version >= 0)
        line += '/' + std::to_string(event.version);
    if (!event.name.empty())
        line += " (" + event.name + ')';
    if (!event.message.empty())
        line += ": " + event.message;
    logging::log(level, "migrate", line,
                 {{logging::field::version, event.version},
                  {logging::field::attempt, event.attempt},
                  {logging::field::duration_ms, static_cast<double>(event.duration.count()) / 1000.0}});
}

std::string format_elapsed(std::chrono::microseconds duration)
{
    char text[32];
    double ms = static_cast<double>(duration.count()) / 1000.0;
    if (ms < 1000)
        std::snprintf(text, sizeof text, "%.1f ms", ms);
    else
        std::snprintf(text, sizeof text, "%.2f s", ms / 1000.0);
    return text;
}

void print_event(const MigrationEvent &event)
{
    std::string what = event.scope;
    if (event.version >= 0) {
        what += '/';
        what += std::to_string(event.version);
    }
    if (!event.name.empty()) {
        what += ' ';
        what += event.name;
    }
    switch (event.type) {
    case MigrationEvent::Type::applied:
        std::cerr << event.message << "  " << what << " (" << format_elapsed(event.duration) << ")\n";
        break;
    case MigrationEvent::Type::rolled_back:
        std::cerr << "rolled back  " << what << " (" << format_elapsed(event.duration) << ")\n";
        break;
    case MigrationEvent::Type::skipped:
        std::cerr << "skipped  " << what << " (already applied)\n";
        break;
    case MigrationEvent::Type::retrying:
        std::cerr << "retrying  " << what << " in " << event.delay.count() << " ms (attempt "
                  << event.attempt << "): " << event.message << "\n";
        break;
    case MigrationEvent::Type::waiting:
        std::cerr << "waiting  " << what << " for " << event.delay.count() << " ms: " << event.message
                  << "\n";
        break;
    case MigrationEvent::Type::failed:
        break;  // reported once, by report_failure
    case MigrationEvent::Type::hook:
        std::cerr << "hook  " << event.message << "\n";
        break;
    case MigrationEvent::Type::tenant_done:
        std::cerr << "migrated  " << event.scope << " (" << event.message << ", "
                  << format_elapsed(event.duration) << ")\n";
        break;
    case MigrationEvent::Type::tenant_failed:
        std::cerr << "FAILED  " << event.scope << ": " << event.message << "\n";
        break;
    }
}

int report_failure(const MigrationError &error, bool json)
{
    if (json) {
        std::cout << error.to_json(2) << "\n";
    } else {
        const RunResult &done = error.partial();
        if (!done.migrations.empty())
            std::cerr << done.migrations.size() << " migrations done before the failure stay done\n";
        std::cerr << "stratum: " << error.message() << " [SQLSTATE " << error.sqlstate() << "]\n";
        if (!error.detail().empty() && !error.sqlstate().starts_with("23"))
            std::cerr << "DETAIL: " << error.detail() << "\n";
        if (!error.hint().empty())
            std::cerr << "HINT: " << error.hint() << "\n";
    }
    return error.is_drift() ? migration_exit::drift : migration_exit::failure;
}

int report_file_failure(const MigrationFileError &error, bool json)
{
    if (json)
        std::cout << error.to_json(2) << "\n";
    else
        std::cerr << "stratum: " << error.message() << "\n";
    return migration_exit::failure;
}

int success_code(bool nothing_to_do, const MigrationCliOptions &options)
{
    return nothing_to_do && options.detailed_exitcode ? migration_exit::nothing_to_do : migration_exit::ok;
}

int run_migration_command(const MigrationCliOptions &options, const std::function<int()> &body)
{
    return run([&] {
        try {
            return body();
        } catch (const MigrationError &error) {
            return report_failure(error, options.json);
        } catch (const MigrationFileError &error) {
            return report_file_failure(error, options.json);
        }
    });
}

}  // namespace stratum::cli
