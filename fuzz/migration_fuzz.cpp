// libFuzzer target: what reads a migration file before anything reaches the
// server. A file name goes to the naming rule, the text to check_sql_text,
// parse_migration_header, the lexical scan and migration_checksum, and now and
// then both become a directory for load_migration_set. None of them may throw
// (but load_migration_set's MigrationFileError), and each is checked against
// a property computed another way: the checksum against SHA-256 of the text
// with CR LF replaced (what the ledger hashes), the UTF-8 check against a
// decoder of our own, and the whole reading against the same file saved with
// CR LF line ends. Statements are split by the server (split_migration), not here.
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <fuzzer/FuzzedDataProvider.h>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include "migration_file_name.hpp"
#include "sql_scan.hpp"
#include "stratum/migration_files.hpp"

namespace {

namespace fs = std::filesystem;
using stratum::FileProblem;
using stratum::MigrationHeader;
using stratum::MigrationKind;

[[noreturn]] void fail(const std::string &what)
{
    std::fprintf(stderr, "migration_fuzz: %s\n", what.c_str());
    std::abort();
}

void expect(bool holds, const std::string &what)
{
    if (!holds)
        fail(what);
}

// SHA-256 hex of `text` with every CR LF replaced by LF, computed on a copy.
std::string reference_checksum(const std::string &text)
{
    std::string normalised;
    normalised.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); i++) {
        if (!(text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n'))
            normalised.push_back(text[i]);
    }
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (EVP_Digest(normalised.data(), normalised.size(), digest, &length, EVP_sha256(), nullptr) !=
        1)
        fail("EVP_Digest failed");
    std::string hex;
    for (unsigned int i = 0; i < length; i++) {
        char byte[3];
        std::snprintf(byte, sizeof byte, "%02x", digest[i]);
        hex += byte;
    }
    return hex;
}

// Offset of the first byte that does not start a valid UTF-8 sequence, or
// npos. Decodes the code point and judges its value (overlong, surrogate,
// beyond U+10FFFF), where the parser under test judges the bytes.
std::size_t first_invalid_utf8(const std::string &text)
{
    const auto *p = reinterpret_cast<const unsigned char *>(text.data());
    std::size_t i = 0;
    while (i < text.size()) {
        unsigned char c = p[i];
        std::size_t length = c < 0x80           ? 1
                             : (c >> 5) == 0x6  ? 2
                             : (c >> 4) == 0xE  ? 3
                             : (c >> 3) == 0x1E ? 4
                                                : 0;
        if (length == 0 || i + length > text.size())
            return i;
        std::uint32_t code = length == 1 ? c : c & (0xFF >> (length + 1));
        for (std::size_t k = 1; k < length; k++) {
            if ((p[i + k] & 0xC0) != 0x80)
                return i;
            code = (code << 6) | (p[i + k] & 0x3F);
        }
        static constexpr std::uint32_t smallest[] = {0, 0, 0x80, 0x800, 0x10000};
        if (code < smallest[length] || (code >= 0xD800 && code <= 0xDFFF) || code > 0x10FFFF)
            return i;
        i += length;
    }
    return std::string::npos;
}

std::string describe(const std::vector<FileProblem> &problems)
{
    std::string text;
    for (const auto &p : problems)
        text += p.to_string() + "\n";
    return text;
}

bool same_header(const MigrationHeader &a, const MigrationHeader &b)
{
    return a.depends_on == b.depends_on && a.transactional == b.transactional &&
           a.irreversible == b.irreversible && a.lock_timeout == b.lock_timeout &&
           a.statement_timeout == b.statement_timeout;
}

struct Reading {
    std::vector<FileProblem> text_problems;
    std::vector<FileProblem> header_problems;
    MigrationHeader header;
    std::string checksum;
};

// Everything the runner reads from one file's text, with the properties that
// hold for any text.
Reading read_text(const std::string &sql)
{
    const std::string file = "master/001_fuzz.up.sql";
    Reading r;
    r.text_problems = stratum::check_sql_text(sql, file);
    r.header = stratum::parse_migration_header(sql, file, r.header_problems);
    r.checksum = stratum::migration_checksum(sql);
    expect(r.checksum == reference_checksum(sql),
           "checksum differs from SHA-256 of the CR LF-normalised text");

    int lines = 1;
    for (char c : sql)
        lines += c == '\n';
    for (const auto *problems : {&r.text_problems, &r.header_problems})
        for (const auto &p : *problems)
            expect(p.file == file && p.line >= 1 && p.line <= lines && !p.message.empty(),
                   "problem outside the file: " + p.to_string());

    auto has = [&](std::string_view words) {
        for (const auto &p : r.text_problems)
            if (p.message.find(words) != std::string::npos)
                return true;
        return false;
    };
    const bool bom = sql.starts_with("\xEF\xBB\xBF");
    expect(has("byte-order mark") == bom, "byte-order mark reported wrongly");
    const std::size_t invalid = first_invalid_utf8(sql);
    expect(has("not valid UTF-8") == (invalid != std::string::npos),
           "UTF-8 verdict differs from the reference decoder");
    const std::size_t nul = sql.find('\0');
    expect(has("NUL byte") ==
               (nul != std::string::npos && (invalid == std::string::npos || nul <= invalid)),
           "NUL byte reported wrongly");

    const stratum::detail::SqlScan scan = stratum::detail::scan_sql(sql);
    int previous_line = 0;
    bool header_over = false;
    for (const auto &comment : scan.line_comments) {
        expect(comment.line >= previous_line && comment.line <= lines,
               "comment lines out of order");
        expect(comment.text.find('\n') == std::string_view::npos, "a line comment spans lines");
        expect(comment.text.data() >= sql.data() &&
                   comment.text.data() + comment.text.size() <= sql.data() + sql.size(),
               "a comment points outside the text");
        expect(!(header_over && comment.in_header), "a comment after code is in the header");
        header_over |= !comment.in_header;
        expect(scan.has_code || comment.in_header, "no code, yet a comment is below it");
        previous_line = comment.line;
    }
    for (std::int64_t v : r.header.depends_on)
        expect(v >= 0, "negative dependency");
    for (const auto *d : {&r.header.lock_timeout, &r.header.statement_timeout})
        expect(!*d || d->value().count() >= 0, "negative timeout");
    if (!r.text_problems.empty() || !r.header_problems.empty()) {
        std::vector<FileProblem> all = r.text_problems;
        all.insert(all.end(), r.header_problems.begin(), r.header_problems.end());
        const stratum::MigrationFileError error(all);
        expect(nlohmann::json::accept(error.to_json()), "MigrationFileError::to_json is not JSON");
    }
    return r;
}

// The same file saved with CR LF line ends reads the same: same checksum,
// same problems on the same lines, same header.
void expect_same_with_crlf(const std::string &sql, const Reading &lf)
{
    if (sql.find('\r') != std::string::npos)
        return;  // a CR already there would pair with an LF we add
    std::string crlf;
    for (char c : sql) {
        if (c == '\n')
            crlf.push_back('\r');
        crlf.push_back(c);
    }
    const Reading other = read_text(crlf);
    expect(other.checksum == lf.checksum, "CR LF changes the checksum");
    expect(describe(other.text_problems) == describe(lf.text_problems),
           "CR LF changes the problems:\n" + describe(lf.text_problems) + "---\n" +
               describe(other.text_problems));
    expect(describe(other.header_problems) == describe(lf.header_problems),
           "CR LF changes the header problems:\n" + describe(lf.header_problems) + "---\n" +
               describe(other.header_problems));
    expect(same_header(other.header, lf.header), "CR LF changes the header");
}

void check_name(const std::string &filename, MigrationKind kind)
{
    const auto parsed = stratum::detail::parse_migration_file_name(filename, kind);
    if (!parsed)
        return;
    expect(!parsed->digits.empty() && !parsed->name.empty(), "empty version or name accepted");
    for (char c : parsed->digits)
        expect(c >= '0' && c <= '9', "a version with a non-digit");
    for (char c : parsed->name)
        expect(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-',
               "a name with a character outside [A-Za-z0-9_-]");
    const std::string suffix = parsed->down                       ? ".down.sql"
                               : kind == MigrationKind::migration ? ".up.sql"
                                                                  : ".sql";
    expect(parsed->digits + "_" + parsed->name + suffix == filename,
           "the parts do not make the name again");
}

// A scratch directory for load_migration_set, made once per process and
// removed when it exits.
struct ScratchDir {
    fs::path path;
    ScratchDir()
    {
        std::string pattern =
            (fs::temp_directory_path() / "stratum-migration-fuzz-XXXXXX").string();
        if (mkdtemp(pattern.data()) == nullptr)
            fail("mkdtemp failed");
        path = pattern;
    }
    ~ScratchDir()
    {
        std::error_code ignored;
        fs::remove_all(path, ignored);
    }
};

const fs::path &scratch()
{
    static const ScratchDir dir;
    return dir.path;
}

void write(const fs::path &path, const std::string &content)
{
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
}

// The whole reader on a directory of one migration (its up file and maybe a
// down file): a set whose file agrees with read_text, or MigrationFileError.
void check_directory(const std::string &name, const std::string &up,
                     const std::optional<std::string> &down, const Reading &reading)
{
    const fs::path master = scratch() / "master";
    fs::remove_all(master);
    fs::create_directories(master);
    write(master / ("7_" + name + ".up.sql"), up);
    if (down)
        write(master / ("7_" + name + ".down.sql"), *down);
    try {
        const stratum::MigrationSet set =
            stratum::load_migration_set(master, MigrationKind::migration, scratch());
        expect(set.files.size() == 1, "one migration file, not one migration");
        const stratum::MigrationFile &f = set.files[0];
        expect(f.version == 7 && f.name == name && f.up_sql == up,
               "the migration read is not the file");
        expect(f.checksum == reading.checksum && same_header(f.header, reading.header),
               "the directory reader disagrees with the text functions");
        expect(reading.text_problems.empty() && reading.header_problems.empty(),
               "a file with problems was accepted:\n" + describe(reading.text_problems) +
                   describe(reading.header_problems));
        expect(f.down_sql == down, "the down file read is not the file");
    } catch (const stratum::MigrationFileError &error) {
        expect(!error.problems().empty(), "MigrationFileError without a problem");
        expect(nlohmann::json::accept(error.to_json()), "MigrationFileError::to_json is not JSON");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    FuzzedDataProvider input(data, size);
    const std::uint8_t mode = input.ConsumeIntegral<std::uint8_t>();
    const std::string filename = input.ConsumeRandomLengthString(48);
    check_name(filename, mode & 1 ? MigrationKind::seed : MigrationKind::migration);
    std::optional<std::string> down;
    if (mode & 2)
        down = input.ConsumeRandomLengthString(256);
    const std::string sql = input.ConsumeRemainingBytesAsString();
    const Reading reading = read_text(sql);
    expect_same_with_crlf(sql, reading);
    // The file system is slow: one input in eight also goes through it.
    if ((mode & 0x1C) == 0) {
        const auto parsed =
            stratum::detail::parse_migration_file_name(filename, MigrationKind::migration);
        check_directory(parsed ? parsed->name : "fuzz", sql, down, reading);
    }
    return 0;
}
