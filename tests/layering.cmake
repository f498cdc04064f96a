# The layering rule of the client (docs/architecture.md), checked on the
# sources: each layer includes only its own and the lower layers' headers
# (lib < migrate < service < cli), and only the third-party headers it is
# allowed to depend on. The include paths of the targets enforce the first
# part at compile time; this also catches a relative path around them.
#   cmake -DCLIENT_DIR=<repo>/client -P layering.cmake
cmake_minimum_required(VERSION 3.25)

set(layers lib migrate service cli)
# Third-party headers (by the first path component) each layer may include.
set(allowed_lib "libpq-fe.h")
set(allowed_migrate "libpq-fe.h;openssl;nlohmann")
set(allowed_service "libpq-fe.h;openssl;nlohmann;spdlog;yaml-cpp;hiredis.h;httplib.h")
set(allowed_cli "libpq-fe.h;openssl;nlohmann;spdlog;CLI")

# Which layer's public header directory holds <stratum/name>.
foreach(layer IN LISTS layers)
  file(GLOB headers RELATIVE ${CLIENT_DIR}/${layer}/include/stratum
       ${CLIENT_DIR}/${layer}/include/stratum/*.hpp)
  foreach(header IN LISTS headers)
    set(owner_${header} ${layer})
  endforeach()
endforeach()

set(problems "")
set(rank 0)
foreach(layer IN LISTS layers)
  file(GLOB_RECURSE files ${CLIENT_DIR}/${layer}/*.cpp ${CLIENT_DIR}/${layer}/*.hpp)
  if(NOT files)
    string(APPEND problems "\n  ${layer}: no sources found")
  endif()
  foreach(file IN LISTS files)
    file(STRINGS ${file} lines REGEX "^[ \t]*#[ \t]*include")
    foreach(line IN LISTS lines)
      if(NOT line MATCHES "#[ \t]*include[ \t]*[<\"]([^>\"]+)[>\"]")
        continue()
      endif()
      set(path ${CMAKE_MATCH_1})
      file(RELATIVE_PATH shown ${CLIENT_DIR} ${file})
      if(path MATCHES "\\.\\./")
        string(APPEND problems "\n  ${shown}: includes ${path} (a path around the layers)")
      elseif(path MATCHES "^stratum/(.+)$")
        set(owner ${owner_${CMAKE_MATCH_1}})
        if(NOT owner)
          string(APPEND problems "\n  ${shown}: includes ${path}, which no layer declares")
        else()
          list(FIND layers ${owner} owner_rank)
          if(owner_rank GREATER rank)
            string(APPEND problems "\n  ${shown}: includes ${path} of the higher layer ${owner}")
          endif()
        endif()
      elseif(path MATCHES "/" OR path MATCHES "\\.h$")
        # A third-party or system header with a folder (or a C header).
        string(REGEX MATCH "^[^/]+" first ${path})
        set(system "poll.h;sched.h;sys;arpa;netinet;signal.h;unistd.h")
        if(NOT first IN_LIST allowed_${layer} AND NOT first IN_LIST system)
          string(APPEND problems "\n  ${shown}: includes <${path}>, not allowed in ${layer}")
        endif()
      endif()
    endforeach()
  endforeach()
  math(EXPR rank "${rank} + 1")
endforeach()

if(problems)
  message(FATAL_ERROR "layering rule broken:${problems}")
endif()
message(STATUS "layering: lib < migrate < service < cli holds")
