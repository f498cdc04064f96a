// Installs that work: make install-client into a fresh prefix, whose stratum
// command runs at once (no ldconfig, no LD_LIBRARY_PATH) and loads that
// prefix's libraries, whose thin library needs nothing but libpq; then a
// staged make install, and the example program of the README (the same as
// docs/client.md's) built against it — with pkg-config and with CMake's
// find_package — and run against the test database, as well as a program
// using the migrate and service components. And the README's Roles script,
// run as written.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <sys/wait.h>
#include <unistd.h>

#include <stratum/stratum.hpp>

#include "client_support.hpp"
#include "test_env.hpp"

namespace fs = std::filesystem;
using namespace stratum;

namespace {

const std::string db = "stratum_install_test";

// Runs a shell command; returns its exit status, output in `output`.
int run(const std::string &command, std::string &output)
{
    output.clear();
    std::FILE *pipe = ::popen((command + " 2>&1").c_str(), "r");
    if (pipe == nullptr)
        return -1;
    std::array<char, 4096> buffer{};
    while (std::fgets(buffer.data(), buffer.size(), pipe) != nullptr)
        output += buffer.data();
    return WEXITSTATUS(::pclose(pipe));
}

// The program between the example markers of a Markdown file.
std::string example_from(const fs::path &markdown)
{
    std::ifstream in(markdown);
    std::stringstream text;
    text << in.rdbuf();
    const std::string doc = text.str();
    const auto begin = doc.find("<!-- example:begin -->");
    const auto end = doc.find("<!-- example:end -->");
    if (begin == std::string::npos || end == std::string::npos)
        return "";
    const auto code = doc.find("```cpp\n", begin) + 7;
    const auto close = doc.rfind("```", end);
    return doc.substr(code, close - code);
}

// The NEEDED entries of an ELF file, one per line.
std::string needed_of(const fs::path &file)
{
    std::string out;
    run("readelf -d " + file.string() + " | grep NEEDED", out);
    return out;
}

// Third-party libraries of the service layer that must not reach a program
// of the thin library (OpenSSL may: libpq uses it).
constexpr const char *service_only_libraries[] = {"spdlog", "fmt", "yaml", "hiredis", "httplib"};

// Where `ldd` output says `library` is loaded from ("" when it does not).
fs::path loaded_from(const std::string &ldd, const std::string &library)
{
    const auto at = ldd.find(library + " => ");
    if (at == std::string::npos)
        return {};
    const auto start = at + library.size() + 4;
    return fs::weakly_canonical(ldd.substr(start, ldd.find(" (", start) - start));
}

TEST(InstallTest, ExampleBuildsAgainstTheInstalledLibrary)
{
    const fs::path source = test::required_env("STRATUM_TEST_SOURCE_DIR");
    const fs::path work = fs::temp_directory_path() / ("stratum-install-" + std::to_string(::getpid()));
    const fs::path stage = work / "stage";
    const fs::path prefix = "/opt/stratum";
    const fs::path installed = stage.string() + prefix.string();
    const std::string build_dir = " CLIENT_BUILD_DIR=" + (work / "build").string();
    fs::remove_all(work);
    fs::create_directories(work);
    std::string out;

    // 1. The client into a prefix nobody has used: the command runs at once,
    //    with no LD_LIBRARY_PATH and no ldconfig, and loads the libraries of
    //    its own prefix (run paths relative to $ORIGIN).
    const fs::path fresh = work / "fresh-prefix";
    ASSERT_EQ(run("make -s -C " + source.string() + " install-client CLIENT_PREFIX='" + fresh.string() +
                      "'" + build_dir,
                  out),
              0)
        << out;
    const std::string clean_env = "env -u LD_LIBRARY_PATH ";
    ASSERT_EQ(run(clean_env + "'" + (fresh / "bin/stratum").string() + "' --version", out), 0) << out;
    EXPECT_NE(out.find("stratum"), std::string::npos) << out;
    ASSERT_EQ(run(clean_env + "ldd '" + (fresh / "bin/stratum").string() + "'", out), 0) << out;
    for (const char *library : {"libstratum.so.0", "libstratum-migrate.so.0", "libstratum-service.so.0"})
        EXPECT_EQ(loaded_from(out, library), fs::weakly_canonical(fresh / "lib" / library))
            << library << " is not loaded from the prefix:\n" << out;
    EXPECT_EQ(out.find("not found"), std::string::npos) << out;
    // The thin library needs libpq and the C++ runtime, nothing of the service layer.
    const std::string thin = needed_of(fresh / "lib/libstratum.so");
    EXPECT_NE(thin.find("libpq.so"), std::string::npos) << thin;
    for (const char *library : service_only_libraries)
        EXPECT_EQ(thin.find(library), std::string::npos) << library << " in\n" << thin;
    for (const char *library : {"libssl", "libcrypto"})
        EXPECT_EQ(thin.find(library), std::string::npos) << library << " in\n" << thin;
    ASSERT_EQ(run("readelf -d '" + (fresh / "lib/libstratum-service.so").string() + "'", out), 0);
    EXPECT_NE(out.find("[$ORIGIN]"), std::string::npos) << out;

    // 2. A real make install (extension and client), staged.
    ASSERT_EQ(run("make -s -C " + source.string() + " install DESTDIR=" + stage.string() +
                      " CLIENT_PREFIX=" + prefix.string() + build_dir,
                  out),
              0)
        << out;
    for (const char *file :
         {"include/stratum/stratum.hpp", "include/stratum/pool.hpp", "include/stratum/migrate.hpp",
          "include/stratum/service.hpp", "include/stratum/config.hpp", "lib/libstratum.so",
          "lib/libstratum-migrate.so", "lib/libstratum-service.so", "lib/pkgconfig/stratum.pc",
          "lib/pkgconfig/stratum-migrate.pc", "lib/pkgconfig/stratum-service.pc",
          "lib/cmake/stratum/stratumConfig.cmake", "lib/cmake/stratum/stratumConfigVersion.cmake",
          "bin/stratum"})
        EXPECT_TRUE(fs::exists(installed / file)) << file;
    EXPECT_FALSE(fs::exists(installed / "include/stratum/pool_internal.hpp"));
    // Moved elsewhere, the staged command still finds its libraries.
    ASSERT_EQ(run(clean_env + (installed / "bin/stratum").string() + " --version", out), 0) << out;

    const std::string example = example_from(source / "README.md");
    ASSERT_FALSE(example.empty()) << "no example between the markers of README.md";
    EXPECT_EQ(example_from(source / "docs" / "client.md"), example)
        << "docs/client.md and the README should show the same example";
    const auto lines = std::count(example.begin(), example.end(), '\n');
    EXPECT_LE(lines, 32) << "the README example should stay short";
    std::ofstream(work / "notes.cpp") << example;

    // 2. With pkg-config (the sysroot maps the .pc file's prefix into the stage).
    const std::string pkg_env = "PKG_CONFIG_PATH=" + (installed / "lib/pkgconfig").string() +
                                " PKG_CONFIG_SYSROOT_DIR=" + stage.string() + " ";
    ASSERT_EQ(run("cd " + work.string() + " && g++ notes.cpp -o notes-pkgconfig $(" + pkg_env +
                      "pkg-config --cflags --libs stratum)",
                  out),
              0)
        << out;

    // 3. With CMake's find_package.
    std::ofstream(work / "CMakeLists.txt") << "cmake_minimum_required(VERSION 3.20)\n"
                                              "project(notes LANGUAGES CXX)\n"
                                              "find_package(stratum 0.1 REQUIRED)\n"
                                              "add_executable(notes notes.cpp)\n"
                                              "target_link_libraries(notes PRIVATE stratum::stratum)\n";
    ASSERT_EQ(run("cmake -S " + work.string() + " -B " + (work / "cmake-build").string() +
                      " -DCMAKE_PREFIX_PATH=" + installed.string() + " && cmake --build " +
                      (work / "cmake-build").string(),
                  out),
              0)
        << out;

    // The example includes <stratum/stratum.hpp> and links the thin library
    // alone: nothing of the service layer reaches it, directly or through libstratum.
    const std::string ld_path = "LD_LIBRARY_PATH=" + (installed / "lib").string() + " ";
    ASSERT_EQ(run(ld_path + "ldd " + (work / "notes-pkgconfig").string(), out), 0) << out;
    for (const char *library : service_only_libraries)
        EXPECT_EQ(out.find(library), std::string::npos) << library << " in\n" << out;
    EXPECT_EQ(out.find("libstratum-"), std::string::npos) << out;

    // 4. Both run against a database with a tenant table.
    test::recreate_database(db);
    test::create_tenant_table("notes", "id serial PRIMARY KEY, body text NOT NULL", db);
    test::admin_sql("GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO stratum_app", db);
    const std::string env = "LD_LIBRARY_PATH=" + (installed / "lib").string() + " DATABASE_URL='" +
                            test::app_conninfo(db) + "' ";
    ASSERT_EQ(run(env + (work / "notes-pkgconfig").string(), out), 0) << out;
    EXPECT_EQ(out, "acme has 1 notes\n");
    ASSERT_EQ(run(env + (work / "cmake-build" / "notes").string(), out), 0) << out;
    EXPECT_EQ(out, "acme has 2 notes\n");
    // Bad input: a clear error and a failing exit code.
    ASSERT_EQ(run("LD_LIBRARY_PATH=" + (installed / "lib").string() +
                      " DATABASE_URL='host=127.0.0.1 port=1 connect_timeout=1' " +
                      (work / "notes-pkgconfig").string(),
                  out),
              1);
    EXPECT_NE(out.find("could not connect"), std::string::npos) << out;

    // 5. The other components: find_package(stratum COMPONENTS migrate
    //    service) and pkg-config stratum-service.
    const fs::path components = work / "components";
    fs::create_directories(components);
    std::ofstream(components / "service.cpp")
        << "#include <cstdio>\n#include <map>\n#include <string>\n"
           "#include <stratum/service.hpp>\n"
           "int main() {\n"
           "    stratum::LoadOptions load;\n"
           "    load.env = std::map<std::string, std::string>{};\n"
           "    auto config = stratum::Config::parse(\"database: {postgres: {master: {host: db, "
           "max_open_conns: 3}}}\", \"inline\", load);\n"
           "    auto options = stratum::migrator_options(config);\n"
           "    std::printf(\"%zu %s\\n\", stratum::to_pool_options(config).max_size, "
           "options.dir.c_str());\n"
           "}\n";
    std::ofstream(components / "CMakeLists.txt")
        << "cmake_minimum_required(VERSION 3.20)\n"
           "project(service LANGUAGES CXX)\n"
           "find_package(stratum 0.1 REQUIRED COMPONENTS migrate service)\n"
           "add_executable(service service.cpp)\n"
           "target_link_libraries(service PRIVATE stratum::service)\n";
    ASSERT_EQ(run("cmake -S " + components.string() + " -B " + (components / "build").string() +
                      " -DCMAKE_PREFIX_PATH=" + installed.string() + " && cmake --build " +
                      (components / "build").string(),
                  out),
              0)
        << out;
    ASSERT_EQ(run(ld_path + (components / "build" / "service").string(), out), 0) << out;
    EXPECT_EQ(out, "3 migrations\n");
    ASSERT_EQ(run("cd " + components.string() + " && g++ -std=c++20 service.cpp -o service-pkgconfig $(" +
                      pkg_env + "pkg-config --cflags --libs stratum-service)",
                  out),
              0)
        << out;
    ASSERT_EQ(run(ld_path + (components / "service-pkgconfig").string(), out), 0) << out;
    EXPECT_EQ(out, "3 migrations\n");
    fs::remove_all(work);
}

// The README's Roles section, run as written with psql on the test cluster
// (PostgreSQL 15): it creates the roles and the database, and the migration
// role can create a base table in schema public.
TEST(InstallTest, TheReadmeRolesScriptWorksAsWritten)
{
    const fs::path source = test::required_env("STRATUM_TEST_SOURCE_DIR");
    std::ifstream in(source / "README.md");
    std::stringstream text;
    text << in.rdbuf();
    const std::string doc = text.str();
    const auto begin = doc.find("<!-- roles:begin -->");
    const auto end = doc.find("<!-- roles:end -->");
    ASSERT_NE(begin, std::string::npos) << "no roles markers in README.md";
    ASSERT_NE(end, std::string::npos);
    const auto code = doc.find("```sql\n", begin) + 7;
    const std::string script = doc.substr(code, doc.rfind("```", end) - code);
    const fs::path file = fs::temp_directory_path() / ("stratum-roles-" + std::to_string(::getpid()) + ".sql");
    std::ofstream(file) << script;

    const std::string psql = "psql -X -q -v ON_ERROR_STOP=1 -h " + test::required_env("STRATUM_TEST_PGHOST") +
                             " -p " + test::required_env("STRATUM_TEST_PGPORT") + " -U postgres ";
    const std::string clean =
        "-c 'DROP DATABASE IF EXISTS app' -c 'DROP ROLE IF EXISTS app' -c 'DROP ROLE IF EXISTS app_owner'";
    std::string out;
    ASSERT_EQ(run(psql + "-d postgres " + clean, out), 0) << out;
    ASSERT_EQ(run(psql + "-d postgres -A -t -f " + file.string(), out), 0) << script << "\n" << out;
    EXPECT_NE(out.find("first project"), std::string::npos) << out;
    // The table the migration role made is tenant-isolated.
    ASSERT_EQ(run(psql + "-d app -A -t -c \"SELECT verdict FROM stratum.isolation_report() WHERE "
                         "relation::text = 'projects'\"",
                  out),
              0)
        << out;
    EXPECT_EQ(out, "ok\n");
    EXPECT_EQ(run(psql + "-d postgres " + clean, out), 0) << out;
    fs::remove(file);
}

}  // namespace
