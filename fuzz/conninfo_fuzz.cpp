// libFuzzer target: the connection-string builder and parser. For any
// endpoint, libpq parses PostgresEndpoint::conninfo() back to exactly the
// configured values (parse(build(x)) == x); and conninfo::parse on arbitrary
// text returns or throws std::invalid_argument, never crashes.
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>

#include <fuzzer/FuzzedDataProvider.h>

#include "stratum/config.hpp"

namespace {

[[noreturn]] void mismatch(const char *keyword)
{
    std::fprintf(stderr, "conninfo round trip changed %s\n", keyword);
    std::abort();
}

void expect_value(std::map<std::string, std::string> &parsed, const char *keyword, const std::string &value)
{
    // Empty values are left out of the string (libpq's default applies).
    if (value.empty())
        return;
    if (parsed[keyword] != value)
        mismatch(keyword);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    FuzzedDataProvider input(data, size);
    if (input.ConsumeBool()) {
        const std::string text = input.ConsumeRemainingBytesAsString();
        try {
            (void)stratum::conninfo::parse(text);
        } catch (const std::invalid_argument &) {
        }
        return 0;
    }

    stratum::PostgresEndpoint endpoint;
    endpoint.host = input.ConsumeRandomLengthString(40);
    endpoint.port = input.ConsumeIntegralInRange(0, 65535);
    endpoint.user = input.ConsumeRandomLengthString(40);
    endpoint.dbname = input.ConsumeRandomLengthString(40);
    endpoint.password = stratum::Secret(input.ConsumeRandomLengthString(40));
    endpoint.application_name = input.ConsumeRandomLengthString(40);
    endpoint.sslmode = input.PickValueInArray({"", "disable", "prefer", "require", "verify-full"});
    endpoint.connect_timeout = stratum::Duration(input.ConsumeIntegralInRange<long long>(0, 100000));
    const auto &keywords = stratum::conninfo::known_keywords();
    std::map<std::string, std::string> extra;
    for (int i = input.ConsumeIntegralInRange(0, 2); i > 0 && !keywords.empty(); i--) {
        const std::string &keyword = keywords[input.ConsumeIntegralInRange<std::size_t>(0, keywords.size() - 1)];
        if (keyword == "host" || keyword == "port" || keyword == "user" || keyword == "dbname" ||
            keyword == "password" || keyword == "application_name" || keyword == "sslmode" ||
            keyword == "connect_timeout" || keyword == "fallback_application_name")
            continue;  // set as fields above; Config refuses them under params
        extra[keyword] = input.ConsumeRandomLengthString(30);
    }
    endpoint.params = extra;

    // A C string ends at NUL: such values cannot be passed to libpq at all,
    // and Config refuses them (tests/config_test and fuzz/README.md).
    for (const std::string *value : std::initializer_list<const std::string *>{
             &endpoint.host, &endpoint.user, &endpoint.dbname,
                                     &endpoint.password.reveal(), &endpoint.application_name})
        if (value->find('\0') != std::string::npos)
            return 0;
    for (const auto &[keyword, value] : extra)
        if (value.find('\0') != std::string::npos)
            return 0;

    std::map<std::string, std::string> parsed;
    try {
        parsed = stratum::conninfo::parse(endpoint.conninfo());
    } catch (const std::invalid_argument &) {
        mismatch("(the whole string: libpq refused it)");
    }
    expect_value(parsed, "host", endpoint.host);
    if (endpoint.port != 0)
        expect_value(parsed, "port", std::to_string(endpoint.port));
    expect_value(parsed, "user", endpoint.user);
    expect_value(parsed, "dbname", endpoint.dbname);
    expect_value(parsed, "password", endpoint.password.reveal());
    expect_value(parsed, "application_name", endpoint.application_name);
    expect_value(parsed, "sslmode", endpoint.sslmode);
    for (const auto &[keyword, value] : extra)
        expect_value(parsed, keyword.c_str(), value);
    // The redacted form never carries the password.
    const std::string &password = endpoint.password.reveal();
    if (!password.empty() && password != "[redacted]" &&
        stratum::conninfo::parse(endpoint.redacted_conninfo())["password"] == password)
        mismatch("password (visible in redacted_conninfo)");
    return 0;
}
