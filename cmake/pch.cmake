# Precompiled headers for the heavy third-party headers. Each group is compiled once per build,
# in a target of its own, and reused by every target of the group (REUSE_FROM), so a target's
# flags must equal the group's: same warnings, no defines the headers read. The engine gets none
# (it must not see JSON, network or database headers, and its kernel files have per-ISA flags).
# An anchor links the libraries whose headers it holds, for their defines (consumers have them too).
option(LLMUX_PCH "Precompile the heavy third-party headers (nlohmann/json, Boost.Beast, gRPC, CLI11, GoogleTest)" OFF)

set(llmux_pch_std <algorithm> <cstdint> <functional> <map> <memory> <optional> <string>
    <string_view> <unordered_map> <utility> <vector>)

# llmux_pch_group(NAME HEADERS... [LIBS...]): the anchor target that compiles the group's header.
function(llmux_pch_group name)
  cmake_parse_arguments(P "" "" "HEADERS;LIBS" ${ARGN})
  add_library(${name} STATIC ${CMAKE_SOURCE_DIR}/cmake/pch_anchor.cc)
  target_compile_options(${name} PRIVATE ${LLMUX_WARNINGS})
  target_link_libraries(${name} PRIVATE ${P_LIBS})
  target_precompile_headers(${name} PRIVATE ${llmux_pch_std} ${P_HEADERS})
endfunction()

# llmux_use_pch(TARGET GROUP): TARGET's sources include GROUP's precompiled header first.
function(llmux_use_pch target group)
  if(LLMUX_PCH)
    target_precompile_headers(${target} REUSE_FROM ${group})
  endif()
endfunction()

if(LLMUX_PCH)
  llmux_pch_group(llmux_pch_json HEADERS <nlohmann/json.hpp>)
  # Boost.Beast/Asio with TLS, as src/net/http and the HTTP front ends include them.
  llmux_pch_group(llmux_pch_net
    HEADERS <nlohmann/json.hpp> <boost/asio.hpp> <boost/asio/ssl.hpp> <boost/beast/core.hpp>
            <boost/beast/http.hpp>
    LIBS Boost::headers Boost::system)
  llmux_pch_group(llmux_pch_grpc HEADERS <nlohmann/json.hpp> <grpcpp/grpcpp.h> LIBS PkgConfig::GRPCPP)
  llmux_pch_group(llmux_pch_cli HEADERS <nlohmann/json.hpp> <CLI/CLI.hpp>)
  if(LLMUX_TESTS)
    llmux_pch_group(llmux_pch_test HEADERS <nlohmann/json.hpp> <gtest/gtest.h> <gmock/gmock.h>
                    LIBS GTest::gtest)
  endif()
endif()
