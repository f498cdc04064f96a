// make install into a staging directory, then the example program of the
// README (the same as docs/client.md's) built against the staged library — with pkg-config and with
// CMake's find_package — and run against the test database.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <sys/wait.h>
#include <unistd.h>

#include <stratum/service.hpp>

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

TEST(InstallTest, ExampleBuildsAgainstTheInstalledLibrary)
{
    const fs::path source = test::required_env("STRATUM_TEST_SOURCE_DIR");
    const fs::path work = fs::temp_directory_path() / ("stratum-install-" + std::to_string(::getpid()));
    const fs::path stage = work / "stage";
    const fs::path prefix = "/opt/stratum";
    const fs::path installed = stage.string() + prefix.string();
    fs::remove_all(work);
    fs::create_directories(work);
    std::string out;

    // 1. A real make install (extension and client), staged.
    ASSERT_EQ(run("make -s -C " + source.string() + " install DESTDIR=" + stage.string() +
                      " CLIENT_PREFIX=" + prefix.string() + " CLIENT_BUILD_DIR=" + (work / "build").string(),
                  out),
              0)
        << out;
    for (const char *file : {"include/stratum/stratum.hpp", "include/stratum/pool.hpp", "lib/libstratum.so",
                             "lib/pkgconfig/stratum.pc", "lib/cmake/stratum/stratumConfig.cmake",
                             "lib/cmake/stratum/stratumConfigVersion.cmake"})
        EXPECT_TRUE(fs::exists(installed / file)) << file;
    EXPECT_FALSE(fs::exists(installed / "include/stratum/pool_internal.hpp"));

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
    fs::remove_all(work);
}

}  // namespace
