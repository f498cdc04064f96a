# Uses of the thin library that would dangle must not compile. Each
# compile_fail/fail_*.cpp must be refused by the compiler, with a message
# matching its "// expect: <regex>" line (so it fails for the right reason);
# each compile_fail/ok_*.cpp, the safe spelling of the same thing, must
# compile (so this check can fail at all).
#   cmake -DCOMPILER=c++ -DINCLUDE_DIR=<client/lib/include> -DSNIPPETS=<dir> -P compile_fail.cmake
cmake_minimum_required(VERSION 3.25)

file(GLOB snippets ${SNIPPETS}/*.cpp)
set(failures "")
set(checked 0)
foreach(snippet IN LISTS snippets)
  get_filename_component(name ${snippet} NAME)
  execute_process(
    COMMAND ${COMPILER} -std=c++20 -fsyntax-only -I${INCLUDE_DIR} ${snippet}
    RESULT_VARIABLE status OUTPUT_VARIABLE output ERROR_VARIABLE output)
  math(EXPR checked "${checked} + 1")
  if(name MATCHES "^ok_")
    if(NOT status EQUAL 0)
      string(APPEND failures "\n${name} should compile:\n${output}")
    endif()
  elseif(name MATCHES "^fail_")
    file(STRINGS ${snippet} expect REGEX "^// expect: ")
    string(REGEX REPLACE "^// expect: " "" expect "${expect}")
    if(status EQUAL 0)
      string(APPEND failures "\n${name} compiled, but it must not")
    elseif(NOT expect OR NOT output MATCHES "${expect}")
      string(APPEND failures "\n${name} failed, but not with \"${expect}\":\n${output}")
    endif()
  else()
    string(APPEND failures "\n${name}: name it ok_*.cpp or fail_*.cpp")
  endif()
endforeach()

if(checked LESS 2)
  string(APPEND failures "\nno snippets in ${SNIPPETS}")
endif()
if(failures)
  message(FATAL_ERROR "compile-fail check:${failures}")
endif()
message(STATUS "compile-fail check: ${checked} snippets as expected")
