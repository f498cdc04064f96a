// Global options, configuration loading and exception-to-exit-code mapping.
#include "cli.hpp"

#include <chrono>
#include <iostream>

#include "stratum/errors.hpp"
#include "stratum/logging.hpp"

namespace stratum::cli {

void add_global_options(CLI::App &app, GlobalOptions &options)
{
    app.add_option("--database", options.database,
                   "PostgreSQL URL or conninfo (default: $DATABASE_URL, else PG* variables)");
    app.add_option("--config", options.config, "YAML configuration file (default: $STRATUM_CONFIG)");
    app.add_option("--env", options.env, "environment in the configuration (default: $STRATUM_ENV)");
    app.add_option("--log-level", options.log_level, "trace, debug, info, warn, error or off");
    app.add_flag("--json-logs", options.json_logs, "log JSON lines instead of text");
}

Config load_config(const GlobalOptions &options)
{
    LoadOptions load;
    load.path = options.config;
    load.environment = options.env;
    load.database_url = options.database;
    Config config = Config::load(load);

    logging::Options log;
    log.level = logging::parse_level(options.log_level.empty() ? config.logging.level
                                                               : options.log_level);
    log.json = options.json_logs || config.logging.json;
    logging::setup(log);
    return config;
}

std::unique_ptr<Connection> connect(const Config &config)
{
    const PostgresEndpoint &master = config.database.postgres.master;
    ConnectionOptions options;
    options.application_name = "stratum-cli";
    auto deadline = std::chrono::steady_clock::now() + master.connect_timeout;
    return Connection::open(master.conninfo(), options, deadline);
}

int run(const std::function<int()> &body)
{
    try {
        return body();
    } catch (const ConfigError &error) {
        std::cerr << "stratum: configuration error\n" << error.what() << "\n";
        return exit_usage;
    } catch (const Error &error) {
        std::cerr << "stratum: " << error.what() << "\n";
        return exit_failure;
    } catch (const std::exception &error) {
        std::cerr << "stratum: " << error.what() << "\n";
        return exit_failure;
    }
}

}  // namespace stratum::cli
