// Go-style durations for configuration values: "500ms", "30m", "1h30m".
#include "stratum/duration.hpp"

#include <cctype>
#include <cmath>
#include <stdexcept>
#include <string>

namespace stratum {

namespace {

// Milliseconds per unit; the longest unit names first so "ms" wins over "m".
struct Unit {
    std::string_view name;
    double millis;
};
constexpr Unit units[] = {
    {"ms", 1.0}, {"s", 1000.0}, {"m", 60'000.0}, {"h", 3'600'000.0}, {"d", 86'400'000.0},
};

[[noreturn]] void bad(std::string_view text, std::string_view why)
{
    throw std::invalid_argument("invalid duration \"" + std::string(text) +
                                "\": " + std::string(why));
}

}  // namespace

Duration parse_duration(std::string_view text)
{
    if (text.empty())
        bad(text, "empty");
    if (text == "0")
        return Duration::zero();
    if (text.front() == '-')
        bad(text, "must not be negative");

    double total = 0.0;
    size_t i = 0;
    while (i < text.size()) {
        size_t start = i;
        bool seen_digit = false, seen_dot = false;
        while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) ||
                                   (text[i] == '.' && !seen_dot))) {
            seen_dot |= text[i] == '.';
            seen_digit |= text[i] != '.';
            ++i;
        }
        if (!seen_digit)
            bad(text, "expected a number, like 30s, 500ms, 1h30m");
        double number = 0.0;
        try {
            number = std::stod(std::string(text.substr(start, i - start)));
        } catch (const std::out_of_range &) {
            // Hundreds of digits: beyond a double (found by migration_fuzz;
            // callers handle invalid_argument, not this).
            bad(text, "number out of range");
        }
        size_t unit_start = i;
        while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i])))
            ++i;
        std::string_view unit = text.substr(unit_start, i - unit_start);
        if (unit.empty())
            bad(text, "missing unit (ms, s, m, h or d)");
        const Unit *found = nullptr;
        for (const Unit &u : units)
            if (u.name == unit)
                found = &u;
        if (found == nullptr)
            bad(text, "unknown unit \"" + std::string(unit) + "\" (use ms, s, m, h or d)");
        total += number * found->millis;
    }
    if (total > 1e15)
        bad(text, "too large");
    return Duration(static_cast<Duration::rep>(std::llround(total)));
}

std::string format_duration(Duration duration)
{
    long long ms = duration.count();
    if (ms == 0)
        return "0s";
    std::string out;
    if (ms < 0) {
        out = "-";
        ms = -ms;
    }
    long long hours = ms / 3'600'000;
    ms %= 3'600'000;
    long long minutes = ms / 60'000;
    ms %= 60'000;
    long long seconds = ms / 1000;
    ms %= 1000;
    if (hours)
        out += std::to_string(hours) + "h";
    if (minutes)
        out += std::to_string(minutes) + "m";
    if (seconds)
        out += std::to_string(seconds) + "s";
    if (ms)
        out += std::to_string(ms) + "ms";
    return out;
}

}  // namespace stratum
