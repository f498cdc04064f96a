// stratum migrate up | down | redo | status | verify.
#include <algorithm>
#include <cstdio>
#include <iostream>

#include "cli.hpp"
#include "migration_cli.hpp"

namespace stratum::cli {

static_assert(migration_exit::ok == exit_ok && migration_exit::failure == exit_failure &&
              migration_exit::drift == exit_drift && migration_exit::nothing_to_do == exit_nothing_to_do);

void add_migration_options(CLI::App &command, MigrationCliOptions &options, bool with_scope)
{
    command.add_option("--dir", options.dir,
                       "migrations directory (default: the configuration's migrations.dir, "
                       "else ./migrations)");
    if (with_scope)
        command.add_option("--scope", options.scope,
                           "master, or a tenant schema (tenant migrations of that schema only)");
    command.add_option("--lock-timeout", options.lock_timeout,
                       "lock_timeout of each migration statement (default 5s)");
    command.add_option("--statement-timeout", options.statement_timeout,
                       "statement_timeout of each migration (default: the server's)");
    command.add_option("--lock-wait", options.lock_wait,
                       "how long to keep retrying lock timeouts (default: migrations.lock_timeout)");
    command.add_option("--batch-size", options.batch_size,
                       "transactional migrations per round trip (default 100)")
        ->check(CLI::Range(1, 10000));
    command.add_flag("--json", options.json, "print JSON on stdout");
    command.add_flag("--quiet,-q", options.quiet, "no progress lines");
    command.add_flag("--detailed-exitcode", options.detailed_exitcode,
                     "exit 4 when there was nothing to do");
}

namespace {

struct MigrateArgs {
    MigrationCliOptions common;
    std::int64_t to = -1;     // up --to / down --to
    int steps = 0;            // down --steps
    bool repair = false;
    bool dry_run = false;
    bool allow_out_of_order = false;
    std::string import_from;     // import --from
    std::string import_table;    // import --table
    std::string import_project;  // import --project
};

Migrator make_migrator(const GlobalOptions &global, const MigrationCliOptions &common, bool dry_run,
                       bool repair = false, bool out_of_order = false)
{
    Config config = load_config(global);
    MigratorOptions options = migrator_options(config, common);
    options.dry_run = dry_run;
    options.repair = repair;
    options.allow_out_of_order = out_of_order;
    return Migrator(config.postgres_master_conninfo(), std::move(options));
}

int print_run(const RunResult &result, const MigrationCliOptions &options)
{
    if (options.json) {
        std::cout << result.to_json(2) << "\n";
    } else {
        for (const auto &warning : result.warnings)
            std::cerr << "warning: " << warning << "\n";
        if (result.dry_run) {
            for (const auto &m : result.migrations)
                std::cout << "would " << (m.action == "pending" ? "apply" : m.action) << "  "
                          << m.scope << "/" << m.version << " " << m.name << "\n";
        }
        if (result.nothing_to_do()) {
            if (result.operation == "import")
                std::cout << "nothing to import: the ledger of " << result.scope
                          << " already has every migration the tool applied\n";
            else
                std::cout << "nothing to do: " << result.scope << " is "
                          << (result.operation == "down" ? "at its oldest version" : "up to date")
                          << "\n";
        } else {
            std::cout << result.operation << " " << result.scope << ": ";
            bool first = true;
            for (const char *action : {"applied", "imported", "repaired", "rolled_back", "skipped", "pending",
                                       "rollback", "repair"}) {
                if (auto n = result.count(action)) {
                    // Words for people: "2 rolled back", not the JSON key.
                    std::string words = action;
                    std::replace(words.begin(), words.end(), '_', ' ');
                    std::cout << (first ? "" : ", ") << n << " " << words;
                    first = false;
                }
            }
            std::cout << " in " << format_elapsed(result.duration) << " (" << result.round_trips
                      << " round trips)" << (result.dry_run ? ", dry run: nothing changed" : "")
                      << "\n";
        }
    }
    return success_code(result.nothing_to_do(), options);
}

void print_status(const StatusReport &report)
{
    std::cout << "scope " << report.scope << ":";
    bool first = true;
    for (const char *state : {"applied", "pending", "out_of_order", "drifted", "missing", "unknown"}) {
        if (auto n = report.count(state)) {
            std::cout << (first ? " " : ", ") << n << " " << state;
            first = false;
        }
    }
    std::cout << (report.entries.empty() ? " no migrations" : "") << "\n";
    if (!report.entries.empty())
        std::printf("%-14s  %-12s  %-40s  %s\n", "VERSION", "STATE", "NAME", "APPLIED AT");
    for (const auto &e : report.entries) {
        std::printf("%-14lld  %-12s  %-40s  %s%s\n", static_cast<long long>(e.version),
                    e.state.c_str(), e.name.c_str(), e.applied_at.c_str(),
                    e.transactional ? "" : "  (no transaction)");
        if (e.state == "drifted")
            std::printf("%-14s  file %s, ledger %s\n", "", e.file_checksum.c_str(),
                        e.ledger_checksum.c_str());
    }
    for (const auto &w : report.waits) {
        std::cout << "waiting: pid " << w.pid << " (" << w.scope << ") waits for " << w.waiting_for
                  << " since " << w.waiting_since << ", blocked by pid " << w.blocked_by << " ("
                  << w.blocker_user << ", '" << w.blocker_application << "', " << w.blocker_state
                  << "): " << w.blocker_query << "\n";
    }
}

int print_verify(const VerifyReport &report, bool json)
{
    if (json) {
        std::cout << report.to_json(2) << "\n";
    } else if (report.ok()) {
        std::cout << "ok: the ledger is consistent, the files match it and no index is INVALID in "
                  << report.scopes_checked << (report.scopes_checked == 1 ? " scope" : " scopes")
                  << "\n";
    } else {
        for (const auto &p : report.ledger)
            std::cout << "ledger  " << p.scope << "/" << (p.kind == "seed" ? p.environment + "/" : "")
                      << p.version << "  " << p.problem << ": " << p.detail << "\n";
        for (const auto &f : report.files)
            std::cout << "files   " << f.scope << "/" << f.entry.version << " " << f.entry.name
                      << "  " << f.entry.state
                      << (f.entry.file.empty() ? "" : " (" + f.entry.file + ")") << "\n";
        for (const auto &i : report.invalid_indexes)
            std::cout << "index   " << i.schema << "." << i.name << " on " << i.table
                      << "  INVALID (a failed concurrent build left it: drop it and build it "
                         "again)\n";
        std::cout << report.ledger.size() << " ledger problems, " << report.files.size()
                  << " file mismatches, " << report.invalid_indexes.size()
                  << " INVALID indexes\n";
    }
    return report.ok() ? exit_ok : exit_drift;
}

}  // namespace

void add_migrate_commands(CLI::App &app, GlobalOptions &options, int &exit_code)
{
    auto *migrate = app.add_subcommand("migrate", "Apply, roll back and inspect schema migrations");
    migrate->require_subcommand(1);
    auto args = std::make_shared<MigrateArgs>();
    add_migration_options(*migrate, args->common, true);

    auto *up = migrate->add_subcommand("up", "Apply pending migrations (in version order)");
    up->add_option("--to", args->to, "stop after this version");
    up->add_flag("--repair", args->repair,
                 "record changed (drifted) applied files as they are now, without running them");
    up->add_flag("--dry-run", args->dry_run, "check with the server, change nothing");
    up->add_flag("--allow-out-of-order", args->allow_out_of_order,
                 "apply files older than the newest applied version");
    up->callback([&options, &exit_code, args] {
        exit_code = run_migration_command(args->common, [&] {
            Migrator migrator = make_migrator(options, args->common, args->dry_run, args->repair,
                                              args->allow_out_of_order);
            std::optional<std::int64_t> to;
            if (args->to >= 0)
                to = args->to;
            return print_run(migrator.up(to), args->common);
        });
    });

    auto *down = migrate->add_subcommand(
        "down", "Roll back the newest migrations with the down SQL stored in the ledger");
    auto *steps = down->add_option("--steps", args->steps, "how many (default 1)")
                      ->check(CLI::Range(1, 1000000));
    auto *down_to = down->add_option("--to", args->to, "roll back everything newer than this version")
                        ->check(CLI::Range(static_cast<std::int64_t>(0), INT64_MAX));
    steps->excludes(down_to);
    down->add_flag("--dry-run", args->dry_run, "check with the server, change nothing");
    down->callback([&options, &exit_code, args] {
        exit_code = run_migration_command(args->common, [&] {
            Migrator migrator = make_migrator(options, args->common, args->dry_run);
            RunResult result = args->to >= 0 ? migrator.down_to(args->to)
                                             : migrator.down(args->steps > 0 ? args->steps : 1);
            return print_run(result, args->common);
        });
    });

    auto *redo = migrate->add_subcommand(
        "redo", "Roll back the newest migration and apply its file again, in one transaction");
    redo->add_flag("--dry-run", args->dry_run, "check with the server, change nothing");
    redo->callback([&options, &exit_code, args] {
        exit_code = run_migration_command(args->common, [&] {
            Migrator migrator = make_migrator(options, args->common, args->dry_run);
            return print_run(migrator.redo(), args->common);
        });
    });

    auto *status = migrate->add_subcommand(
        "status", "Files against the ledger: applied, pending, drifted, missing...; who waits");
    status->callback([&options, &exit_code, args] {
        exit_code = run_migration_command(args->common, [&] {
            Migrator migrator = make_migrator(options, args->common, false);
            StatusReport report = migrator.status();
            if (args->common.json)
                std::cout << report.to_json(2) << "\n";
            else
                print_status(report);
            if (report.has_drift())
                return static_cast<int>(exit_drift);
            return success_code(report.up_to_date(), args->common);
        });
    });

    auto *verify = migrate->add_subcommand(
        "verify", "Check the ledger against its checksums and log, and the files against it");
    verify->callback([&options, &exit_code, args] {
        exit_code = run_migration_command(args->common, [&] {
            Migrator migrator = make_migrator(options, args->common, false);
            return print_verify(migrator.verify(), args->common.json);
        });
    });

    auto *import = migrate->add_subcommand(
        "import", "Record what golang-migrate, Flyway or sqitch applied in stratum's ledger, "
                  "without running it (the files must be in master/)");
    import->add_option("--from", args->import_from, "golang-migrate, flyway or sqitch")
        ->required()
        ->check(CLI::IsMember({"golang-migrate", "flyway", "sqitch"}));
    import->add_option("--table", args->import_table,
                       "the tool's ledger table (default public.schema_migrations, "
                       "public.flyway_schema_history, sqitch.changes)");
    import->add_option("--project", args->import_project, "sqitch: only this project's changes");
    import->callback([&options, &exit_code, args] {
        exit_code = run_migration_command(args->common, [&] {
            Migrator migrator = make_migrator(options, args->common, false);
            ImportOptions import;
            import.from = *ledger_source_named(args->import_from);
            import.table = args->import_table;
            import.project = args->import_project;
            return print_run(migrator.import_ledger(import), args->common);
        });
    });

    for (CLI::App *command : migrate->get_subcommands({}))
        command->fallthrough();
}

}  // namespace stratum::cli
