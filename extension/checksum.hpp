// SHA-256 checksums of migration SQL, normalised so that line endings (CRLF
// or LF) never count as drift. Pure C++ over OpenSSL: no PostgreSQL headers.
#pragma once

#include <cstddef>

namespace stratum {

// Length of a checksum in hex digits (the terminating NUL not included).
constexpr std::size_t checksum_hex_length = 64;

// Writes the lower-case hex SHA-256 of text into out (NUL-terminated). The
// text is hashed with every CR LF pair replaced by a single LF; nothing else
// is changed (a lone CR, trailing blanks, a final newline or a byte-order mark
// all count). Returns false only when OpenSSL fails (out of memory).
bool migration_checksum(const char *text, std::size_t length,
                        char out[checksum_hex_length + 1]) noexcept;

// True when text is 64 lower-case hex digits.
bool is_checksum(const char *text, std::size_t length) noexcept;

}  // namespace stratum
