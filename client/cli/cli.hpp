// What every subcommand of the stratum command shares: the global options
// (--database, --config, --env), exit codes, configuration loading, and the
// one place where exceptions become messages and exit codes.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "stratum/config.hpp"
#include "stratum/connection.hpp"

namespace stratum::cli {

// Exit codes: 0 success (also "nothing to do"), 1 failure, 2 usage or
// configuration error, 3 drift or failed verification. Subcommands that can
// tell "nothing to do" apart return nothing_to_do only when asked to with
// --detailed-exitcode.
enum ExitCode : int {
    exit_ok = 0,
    exit_failure = 1,
    exit_usage = 2,
    exit_drift = 3,
    exit_nothing_to_do = 4,
};

struct GlobalOptions {
    std::string database;  // --database URL; "" = $DATABASE_URL, else libpq's PG* variables
    std::string config;    // --config FILE; "" = $STRATUM_CONFIG, else no file
    std::string env;       // --env NAME; "" = $STRATUM_ENV, else the file's default
    std::string log_level;  // --log-level; "" = the configuration's
    bool json_logs = false;
};

// Adds --database, --config, --env, --log-level, --json-logs to app (the
// subcommands fall through to them, so they may come before or after).
void add_global_options(CLI::App &app, GlobalOptions &options);

// The configuration selected by the global options (logging set up from it).
Config load_config(const GlobalOptions &options);

// A direct connection to the primary (not pooled: one-shot commands).
std::unique_ptr<Connection> connect(const Config &config);

// Runs a subcommand body and returns its exit code; every exception is
// reported on stderr (never with a secret) and mapped to an exit code.
int run(const std::function<int()> &body);

// One function per subcommand group, each in its own file. Each sets
// `exit_code` from its callback.
void add_check_command(CLI::App &app, GlobalOptions &options, int &exit_code);
void add_migrate_commands(CLI::App &app, GlobalOptions &options, int &exit_code);
void add_seed_command(CLI::App &app, GlobalOptions &options, int &exit_code);
void add_tenant_commands(CLI::App &app, GlobalOptions &options, int &exit_code);
void add_health_command(CLI::App &app, GlobalOptions &options, int &exit_code);
void add_serve_command(CLI::App &app, GlobalOptions &options, int &exit_code);

}  // namespace stratum::cli
