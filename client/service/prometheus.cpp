// The Prometheus text format writer: names checked, label values and help
// escaped, values formatted as Prometheus parses them.
#include "stratum/prometheus.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>

namespace stratum::prometheus {

namespace {

bool valid_name(std::string_view name, bool allow_colon)
{
    if (name.empty())
        return false;
    for (std::size_t i = 0; i < name.size(); i++) {
        const char c = name[i];
        const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                            (allow_colon && c == ':');
        const bool digit = c >= '0' && c <= '9';
        if (!letter && !(digit && i > 0))
            return false;
    }
    return true;
}

void check_metric_name(std::string_view name)
{
    if (!valid_name(name, true))
        throw std::invalid_argument("invalid Prometheus metric name: " + std::string(name));
}

void append_labels(std::string &out, const Labels &labels, std::string_view le = {})
{
    if (labels.empty() && le.empty())
        return;
    out += '{';
    bool first = true;
    for (const auto &[name, value] : labels) {
        if (!valid_name(name, false) || name.starts_with("__"))
            throw std::invalid_argument("invalid Prometheus label name: " + name);
        if (!first)
            out += ',';
        first = false;
        out += name;
        out += "=\"";
        out += escape_label_value(value);
        out += '"';
    }
    if (!le.empty()) {
        if (!first)
            out += ',';
        out += "le=\"";
        out += le;
        out += '"';
    }
    out += '}';
}

}  // namespace

std::string escape_label_value(std::string_view value)
{
    std::string out;
    out.reserve(value.size());
    for (char c : value) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '"')
            out += "\\\"";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    return out;
}

std::string escape_help(std::string_view text)
{
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    return out;
}

std::string format_value(double value)
{
    if (std::isnan(value))
        return "NaN";
    if (std::isinf(value))
        return value > 0 ? "+Inf" : "-Inf";
    // Counters and gauges of counts print as integers, not 1e+06.
    if (value == std::trunc(value) && std::fabs(value) < 9007199254740992.0)
        return std::to_string(static_cast<long long>(value));
    char text[64];
    auto [end, ec] = std::to_chars(text, text + sizeof text, value);
    return std::string(text, ec == std::errc() ? end : text);
}

void TextWriter::family(std::string_view name, std::string_view type, std::string_view help)
{
    check_metric_name(name);
    if (type != "counter" && type != "gauge" && type != "histogram" && type != "summary" &&
        type != "untyped")
        throw std::invalid_argument("invalid Prometheus metric type: " + std::string(type));
    if (std::find(families_.begin(), families_.end(), name) != families_.end())
        throw std::invalid_argument("Prometheus metric family repeated: " + std::string(name));
    families_.emplace_back(name);
    text_ += "# HELP ";
    text_ += name;
    text_ += ' ';
    text_ += escape_help(help);
    text_ += "\n# TYPE ";
    text_ += name;
    text_ += ' ';
    text_ += type;
    text_ += '\n';
}

void TextWriter::sample(std::string_view name, const Labels &labels, double value)
{
    check_metric_name(name);
    text_ += name;
    append_labels(text_, labels);
    text_ += ' ';
    text_ += format_value(value);
    text_ += '\n';
}

void TextWriter::histogram(std::string_view name, const Labels &labels,
                           const LatencyBuckets &buckets)
{
    const std::string base(name);
    for (std::size_t i = 0; i < buckets.upper_bounds_seconds.size(); i++) {
        text_ += base + "_bucket";
        append_labels(text_, labels, format_value(buckets.upper_bounds_seconds[i]));
        text_ += ' ' + format_value(static_cast<double>(buckets.cumulative[i])) + '\n';
    }
    text_ += base + "_bucket";
    append_labels(text_, labels, "+Inf");
    text_ += ' ' + format_value(static_cast<double>(buckets.count)) + '\n';
    sample(base + "_sum", labels, buckets.sum_seconds);
    sample(base + "_count", labels, static_cast<double>(buckets.count));
}

}  // namespace stratum::prometheus
