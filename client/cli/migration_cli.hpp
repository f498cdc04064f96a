// What `stratum migrate`, `stratum seed` and `stratum tenant` share: their
// options (--dir, timeouts, --json, --detailed-exitcode), the Migrator made
// from the configuration, progress lines, and MigrationErrors as messages and
// exit codes.
#pragma once

#include <functional>
#include <string>

#include "stratum/config.hpp"
#include "stratum/migrator.hpp"

namespace CLI {
class App;
}

namespace stratum::cli {

// Declared in cli.hpp as well; repeated here so that this header (and
// migration_cli.cpp) stays free of CLI11, which is slow to compile.
int run(const std::function<int()> &body);

// The exit codes of cli.hpp this file returns (checked against it in
// migrate_command.cpp).
namespace migration_exit {
inline constexpr int ok = 0;
inline constexpr int failure = 1;
inline constexpr int drift = 3;
inline constexpr int nothing_to_do = 4;
}  // namespace migration_exit

struct MigrationCliOptions {
    std::string dir;                // "" = the configuration's migrations.dir
    std::string scope = "master";   // or a tenant schema
    std::string lock_timeout;       // per statement; "" = 5s
    std::string statement_timeout;  // per migration; "" = the server's
    std::string lock_wait;          // retrying lock timeouts, in all; "" = migrations.lock_timeout
    int batch_size = 100;
    bool json = false;
    bool quiet = false;
    bool detailed_exitcode = false;
};

// Adds the shared options to a command group (its subcommands fall through
// to it). Defined in migrate_command.cpp.
void add_migration_options(CLI::App &command, MigrationCliOptions &options, bool with_scope);

// Options for the Migrator from the configuration and the command line
// (throws ConfigError for a malformed duration).
MigratorOptions migrator_options(const Config &config, const MigrationCliOptions &options);

// Prints a progress line on stderr (unless --json or --quiet).
void print_event(const MigrationEvent &event);
// Logs an event (the migrator itself only reports): failures at warn, waits
// and retries at info when no progress line shows them, the rest at debug.
void log_event(const MigrationEvent &event, bool shown);

// Reports a failed run (stderr, or JSON on stdout) and returns its exit code:
// 3 for drift or a tampered ledger, 1 otherwise.
int report_failure(const MigrationError &error, bool json);
int report_file_failure(const MigrationFileError &error, bool json);

// The exit code of a run that succeeded.
int success_code(bool nothing_to_do, const MigrationCliOptions &options);

// Runs a migration command body, mapping migration errors to exit codes
// (everything else goes through cli::run).
int run_migration_command(const MigrationCliOptions &options, const std::function<int()> &body);

// "12.3 ms", "1.24 s".
std::string format_elapsed(std::chrono::microseconds duration);

}  // namespace stratum::cli
