// Params: libpq pointer arrays and the redacted form used in logs.
#include "stratum/params.hpp"

namespace stratum {

const char *const *Params::pointers() const
{
    const char **out = few_pointers_.data();
    if (values_.size() > few) {
        pointers_.resize(values_.size());
        out = pointers_.data();
    }
    for (std::size_t i = 0; i < values_.size(); i++)
        out[i] = values_[i].null ? nullptr : values_[i].text.c_str();
    return out;
}

std::string Params::redacted() const
{
    std::string out;
    for (std::size_t i = 0; i < values_.size(); i++) {
        if (i > 0)
            out += ", ";
        out += '$' + std::to_string(i + 1) + '=';
        const Value &value = values_[i];
        if (value.secret) {
            out += "<secret>";
        } else if (value.null) {
            out += "NULL";
        } else {
            out += '\'';
            out += value.text.substr(0, 64);
            if (value.text.size() > 64)
                out += "...";
            out += '\'';
        }
    }
    return out;
}

}  // namespace stratum
