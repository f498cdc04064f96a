// Turning what went wrong into MigrationErrors that name the migration, its
// file, the statement and the server's message; outcomes of steps.
#include <charconv>

#include "migrator_internal.hpp"

namespace stratum {

MigrationError::MigrationError(MigrationErrorReason reason, ErrorFields fields,
                               MigrationFailure failure, RunResult partial)
    : Error(std::move(fields)),
      reason_(reason),
      failure_(std::make_shared<const MigrationFailure>(std::move(failure))),
      partial_(std::make_shared<const RunResult>(std::move(partial)))
{
}

std::string_view to_string(MigrationErrorReason reason) noexcept
{
    switch (reason) {
    case MigrationErrorReason::failed:
        return "failed";
    case MigrationErrorReason::drift:
        return "drift";
    case MigrationErrorReason::tampered:
        return "tampered";
    case MigrationErrorReason::dependency:
        return "dependency";
    case MigrationErrorReason::out_of_order:
        return "out_of_order";
    case MigrationErrorReason::irreversible:
        return "irreversible";
    case MigrationErrorReason::not_in_ledger:
        return "not_in_ledger";
    case MigrationErrorReason::lock_timeout:
        return "lock_timeout";
    case MigrationErrorReason::busy:
        return "busy";
    case MigrationErrorReason::invalid:
        return "invalid";
    }
    return "failed";
}

namespace migrator {

MigrationErrorReason reason_of(const std::string &sqlstate)
{
    if (sqlstate == "SM001")
        return MigrationErrorReason::drift;
    if (sqlstate == "SM002")
        return MigrationErrorReason::dependency;
    if (sqlstate == "SM003")
        return MigrationErrorReason::tampered;
    if (sqlstate == "SM004")
        return MigrationErrorReason::not_in_ledger;
    if (sqlstate == "SM005")
        return MigrationErrorReason::irreversible;
    if (sqlstate == "55P03")
        return MigrationErrorReason::lock_timeout;
    return MigrationErrorReason::failed;
}

void raise_step_error(const RunTarget &target, const Step &step, const Error &error,
                      std::string phase, RunResult partial, int attempts)
{
    ErrorFields fields = error.fields();
    MigrationFailure failure;
    failure.scope = target.scope;
    failure.kind = target.kind_name();
    failure.environment = target.environment;
    failure.version = step.version;
    failure.name = step.name;
    if (step.file != nullptr) {
        bool down = step.action == Step::Action::rollback;
        failure.file = target.shown(down ? step.file->down_file.value_or("") : step.file->file);
    }
    failure.phase = phase;

    // The extension's messages say "... failed at statement 3 (line 4, ...)".
    std::string_view message = fields.message;
    if (std::size_t at = message.find("at statement "); at != std::string_view::npos) {
        const char *p = message.data() + at + std::string_view("at statement ").size();
        const char *end = message.data() + message.size();
        int statement = 0, line = 0;
        auto parsed = std::from_chars(p, end, statement);
        std::string_view rest(parsed.ptr, end - parsed.ptr);
        if (parsed.ec == std::errc() && rest.starts_with(" (line ") &&
            std::from_chars(rest.data() + 7, end, line).ec == std::errc()) {
            failure.statement = statement;
            failure.line = line;
        }
    }

    const std::string label = target.label(step.version, step.name);
    std::string prefix;
    if (phase.starts_with("hook:")) {
        const HookFile *hook = phase == "hook:before_each" && target.hooks->before_each
                                   ? &*target.hooks->before_each
                               : target.hooks->after_each ? &*target.hooks->after_each
                                                          : nullptr;
        prefix = "hook " + (hook != nullptr ? target.shown(hook->file) : phase.substr(5)) +
                 (phase == "hook:before_each" ? " before " : " after ") + label + ": ";
    } else if (fields.message.find(label) != std::string::npos ||
               fields.message.find(target.label(step.version, "")) != std::string::npos) {
        // The extension already named the migration; add the file.
        prefix = failure.file.empty() ? "" : failure.file + ": ";
    } else {
        prefix = label + (failure.file.empty() ? "" : " [" + failure.file + "]") +
                 (phase == "commit" ? " at COMMIT" : "") + ": ";
    }
    fields.message = prefix + fields.message;
    if (attempts > 1)
        fields.message += " (gave up after " + std::to_string(attempts) + " attempts)";
    MigrationErrorReason reason = reason_of(fields.sqlstate);  // before fields is moved
    throw MigrationError(reason, std::move(fields), std::move(failure), std::move(partial));
}

void raise_run_error(MigrationErrorReason reason, const RunTarget &target, std::string sqlstate,
                     std::string message, std::string hint, RunResult partial,
                     std::int64_t version, std::string name, std::string file)
{
    MigrationFailure failure;
    failure.scope = target.scope;
    failure.kind = target.kind_name();
    failure.environment = target.environment;
    failure.version = version;
    failure.name = std::move(name);
    failure.file = std::move(file);
    failure.phase = "plan";
    ErrorFields fields;
    fields.sqlstate = std::move(sqlstate);
    fields.message = std::move(message);
    fields.hint = std::move(hint);
    throw MigrationError(reason, std::move(fields), std::move(failure), std::move(partial));
}

MigrationOutcome outcome_of(const RunTarget &target, const Step &step, std::string action,
                            microseconds duration, int attempts)
{
    MigrationOutcome outcome;
    outcome.scope = target.scope;
    outcome.kind = target.kind_name();
    outcome.environment = target.environment;
    outcome.version = step.version;
    outcome.name = step.name;
    if (step.file != nullptr)
        outcome.file = step.file->file;
    outcome.action = std::move(action);
    outcome.transactional = step.transactional;
    outcome.duration = duration;
    outcome.attempts = attempts;
    return outcome;
}

}  // namespace migrator
}  // namespace stratum
