// stratum seed --env NAME: applies migrations/seeds/NAME/, each seed once.
#include <iostream>

#include "cli.hpp"
#include "migration_cli.hpp"

namespace stratum::cli {

void add_seed_command(CLI::App &app, GlobalOptions &options, int &exit_code)
{
    auto *seed = app.add_subcommand(
        "seed", "Apply the seeds of an environment (migrations/seeds/<env>/), each once");
    struct SeedArgs {
        MigrationCliOptions common;
        std::string environment;
        bool dry_run = false;
    };
    auto args = std::make_shared<SeedArgs>();
    add_migration_options(*seed, args->common, false);
    // Named like the global --env, which it shadows after `seed`: put a
    // configuration environment before the subcommand (stratum --env staging seed --env demo).
    seed->add_option("--env", args->environment,
                     "seed environment (default: the configuration's environment, else development)");
    seed->add_flag("--dry-run", args->dry_run, "check with the server, change nothing");
    seed->callback([&options, &exit_code, args] {
        exit_code = run_migration_command(args->common, [&] {
            Config config = load_config(options);
            MigratorOptions migrator_opts = migrator_options(config, args->common);
            migrator_opts.dry_run = args->dry_run;
            std::string environment = !args->environment.empty() ? args->environment
                                      : !config.environment.empty() ? config.environment
                                                                    : "development";
            Migrator migrator(config.postgres_master_conninfo(), std::move(migrator_opts));
            RunResult result = migrator.seed(environment);
            if (args->common.json) {
                std::cout << result.to_json(2) << "\n";
            } else if (result.nothing_to_do()) {
                std::cout << "nothing to do: the seeds of " << environment << " are applied\n";
            } else {
                std::cout << "seed " << environment << ": " << result.count("applied") << " applied, "
                          << result.count("skipped") << " skipped in "
                          << format_elapsed(result.duration) << "\n";
            }
            return success_code(result.nothing_to_do(), args->common);
        });
    });
}

}  // namespace stratum::cli
