// Inputs that made a libFuzzer target (fuzz/*_fuzz.cpp, make fuzz) fail,
// each kept as a plain test of the property the target checks. The raw
// inputs are also in fuzz/corpus/<target>/, so every fuzzing run starts from them.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "stratum/config.hpp"
#include "stratum/migration_files.hpp"

namespace {

stratum::Config parse_with_env(const std::string &yaml, std::map<std::string, std::string> env)
{
    stratum::LoadOptions options;
    options.env = std::move(env);
    return stratum::Config::parse(yaml, "fuzz.yaml", options);
}

// config_fuzz: STRATUM_ENV="\xd6" (not UTF-8) was accepted, then to_json()
// threw nlohmann::json::type_error out of a function documented not to.
TEST(FuzzRegressions, ConfigWithInvalidUtf8RendersAsJson)
{
    stratum::Config config = parse_with_env("", {{"STRATUM_ENV", "\xd6"}});
    std::string json;
    ASSERT_NO_THROW(json = config.to_json());
    EXPECT_TRUE(nlohmann::json::accept(json)) << json;
    EXPECT_NE(json.find("\xef\xbf\xbd"), std::string::npos) << "the bad byte is shown as U+FFFD";
}

// conninfo_fuzz: a value with a NUL character cannot round-trip through a
// libpq connection string (C strings end there), and YAML can spell one.
// Config refuses it instead of connecting as user "app".
TEST(FuzzRegressions, ConfigRefusesNulCharacters)
{
    for (const std::string yaml :
         {"database:\n  postgres:\n    master: {host: h, user: \"app\\0admin\", dbname: d}\n",
          "database:\n  postgres:\n    master: {host: h, user: u, password: \"se\\0cret\"}\n",
          "database:\n  postgres:\n    master: {host: h, params: {options: \"-c x=\\0\"}}\n"}) {
        try {
            parse_with_env(yaml, {});
            ADD_FAILURE() << "accepted: " << yaml;
        } catch (const stratum::ConfigError &e) {
            EXPECT_NE(std::string(e.what()).find("NUL"), std::string::npos) << e.what();
        }
    }
}

// migration_fuzz: a duration with hundreds of digits ("lock-timeout 999...9s")
// made std::stod throw std::out_of_range through parse_duration, which callers
// expect to throw std::invalid_argument only: it escaped
// parse_migration_header (and load_migration_set) instead of becoming a file
// problem, and escaped Config::parse instead of a ConfigError.
TEST(FuzzRegressions, DurationWithHundredsOfDigitsIsAProblemNotACrash)
{
    const std::string huge(400, '9');
    const std::string tiny = "0." + std::string(400, '0') + "1";
    for (const std::string &number : {huge, tiny}) {
        EXPECT_THROW(stratum::parse_duration(number + "s"), std::invalid_argument);

        std::vector<stratum::FileProblem> problems;
        stratum::MigrationHeader header;
        ASSERT_NO_THROW(header = stratum::parse_migration_header(
                            "-- stratum: lock-timeout " + number + "s\nSELECT 1;\n", "001_x.up.sql", problems));
        ASSERT_EQ(problems.size(), 1u);
        EXPECT_EQ(problems[0].line, 1);
        EXPECT_NE(problems[0].message.find("lock-timeout"), std::string::npos) << problems[0].message;
        EXPECT_FALSE(header.lock_timeout);

        try {
            parse_with_env("migrations:\n  lock_timeout: " + number + "s\n", {});
            ADD_FAILURE() << "accepted a duration of " << number.size() << " digits";
        } catch (const stratum::ConfigError &e) {
            EXPECT_NE(std::string(e.what()).find("out of range"), std::string::npos) << e.what();
        }
    }
}

}  // namespace
