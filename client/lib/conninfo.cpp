// libpq connection strings: quoting, parsing, and what PQconndefaults knows.
#include "stratum/conninfo.hpp"

#include <memory>
#include <stdexcept>

#include <libpq-fe.h>

namespace stratum::conninfo {
namespace {

using Options = std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)>;

Options defaults()
{
    return Options(PQconndefaults(), &PQconninfoFree);
}

}  // namespace

std::string quote(std::string_view value)
{
    std::string out;
    out.reserve(value.size() + 2);
    out += '\'';
    for (char c : value) {
        if (c == '\'' || c == '\\')
            out += '\\';
        out += c;
    }
    out += '\'';
    return out;
}

std::map<std::string, std::string> parse(const std::string &text)
{
    char *error = nullptr;
    Options options(PQconninfoParse(text.c_str(), &error), &PQconninfoFree);
    if (!options) {
        std::string message = error ? error : "out of memory";
        PQfreemem(error);
        while (!message.empty() && (message.back() == '\n' || message.back() == ' '))
            message.pop_back();
        throw std::invalid_argument("invalid connection string: " + message);
    }
    std::map<std::string, std::string> values;
    for (PQconninfoOption *option = options.get(); option->keyword != nullptr; ++option)
        if (option->val != nullptr)
            values[option->keyword] = option->val;
    return values;
}

const std::vector<std::string> &known_keywords()
{
    static const std::vector<std::string> keywords = [] {
        std::vector<std::string> out;
        if (Options all = defaults())
            for (PQconninfoOption *option = all.get(); option->keyword != nullptr; ++option)
                out.emplace_back(option->keyword);
        return out;
    }();
    return keywords;
}

const std::map<std::string, std::string> &environment_variables()
{
    static const std::map<std::string, std::string> variables = [] {
        std::map<std::string, std::string> out;
        if (Options all = defaults())
            for (PQconninfoOption *option = all.get(); option->keyword != nullptr; ++option)
                if (option->envvar != nullptr)
                    out.emplace(option->envvar, option->keyword);
        return out;
    }();
    return variables;
}

}  // namespace stratum::conninfo
