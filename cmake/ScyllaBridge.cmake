# ScyllaBridge.cmake: builds rust/scylla-bridge (the Rust static library over
# the ScyllaDB Rust driver, with its cxx-generated C++ glue compiled in by
# build.rs) and defines the INTERFACE target
#
#   eventstore_scylla_bridge
#
# Linking it gives: the static library, the include directory holding
#   "eventstore_scylla_bridge/src/lib.rs.h"         (the generated API; include this)
#   "eventstore_scylla_bridge/include/completion.h" (completion interfaces)
#   "rust/cxx.h"
# and the system libraries the Rust code needs (OpenSSL, pthread, dl, m, rt, util).
#
# Requires cargo (rustup's ~/.cargo/bin is searched) and crates.io or a
# populated cargo cache; Cargo.lock is honoured (--locked).
# Options: ESB_CARGO_PROFILE (release), ESB_CARGO_JOBS (2), ESB_CARGO_TARGET_DIR.

include_guard(GLOBAL)

find_package(Threads REQUIRED)
find_package(OpenSSL REQUIRED)

find_program(CARGO_EXECUTABLE cargo HINTS "$ENV{CARGO_HOME}/bin" "$ENV{HOME}/.cargo/bin" REQUIRED)

set(ESB_CARGO_PROFILE "release" CACHE STRING "cargo profile for rust/scylla-bridge")
set(ESB_CARGO_JOBS "2" CACHE STRING "cargo -j for rust/scylla-bridge")

get_filename_component(ESB_CRATE_DIR "${CMAKE_CURRENT_LIST_DIR}/../rust/scylla-bridge" ABSOLUTE)
# Several build trees may share one cargo target directory (cargo locks it) to build the
# driver once.
set(ESB_CARGO_TARGET_DIR "${CMAKE_BINARY_DIR}/scylla-bridge" CACHE PATH "cargo target directory for rust/scylla-bridge")
set(ESB_TARGET_DIR "${ESB_CARGO_TARGET_DIR}")
set(ESB_OUT_DIR "${ESB_TARGET_DIR}/${ESB_CARGO_PROFILE}")
if(ESB_CARGO_PROFILE STREQUAL "dev")
  set(ESB_OUT_DIR "${ESB_TARGET_DIR}/debug")
endif()
set(ESB_LIBRARY "${ESB_OUT_DIR}/libeventstore_scylla_bridge.a")
set(ESB_INCLUDE_DIR "${ESB_OUT_DIR}/include")
set(ESB_HEADER "${ESB_INCLUDE_DIR}/eventstore_scylla_bridge/src/lib.rs.h")

file(GLOB ESB_RUST_SOURCES CONFIGURE_DEPENDS "${ESB_CRATE_DIR}/src/*.rs")

add_custom_command(
  OUTPUT "${ESB_LIBRARY}" "${ESB_HEADER}"
  COMMAND "${CMAKE_COMMAND}" -E env
          "CARGO_TARGET_DIR=${ESB_TARGET_DIR}"
          "EVENTSTORE_BRIDGE_INCLUDE_DIR=${ESB_INCLUDE_DIR}"
          "${CARGO_EXECUTABLE}" build --locked --lib
          --profile "${ESB_CARGO_PROFILE}" -j "${ESB_CARGO_JOBS}"
          --manifest-path "${ESB_CRATE_DIR}/Cargo.toml"
  # cargo leaves outputs untouched when nothing changed; keep make/ninja from
  # re-running it forever.
  COMMAND "${CMAKE_COMMAND}" -E touch "${ESB_LIBRARY}" "${ESB_HEADER}"
  DEPENDS ${ESB_RUST_SOURCES}
          "${ESB_CRATE_DIR}/Cargo.toml"
          "${ESB_CRATE_DIR}/Cargo.lock"
          "${ESB_CRATE_DIR}/build.rs"
          "${ESB_CRATE_DIR}/include/completion.h"
  WORKING_DIRECTORY "${ESB_CRATE_DIR}"
  COMMENT "cargo build rust/scylla-bridge (${ESB_CARGO_PROFILE})"
  USES_TERMINAL
  VERBATIM)

add_custom_target(eventstore_scylla_bridge_cargo DEPENDS "${ESB_LIBRARY}" "${ESB_HEADER}")

# The include directory must exist at configure time for the interface property.
file(MAKE_DIRECTORY "${ESB_INCLUDE_DIR}")

add_library(eventstore_scylla_bridge INTERFACE)
add_dependencies(eventstore_scylla_bridge eventstore_scylla_bridge_cargo)
target_include_directories(eventstore_scylla_bridge INTERFACE "${ESB_INCLUDE_DIR}")
target_compile_features(eventstore_scylla_bridge INTERFACE cxx_std_20)
target_link_libraries(eventstore_scylla_bridge INTERFACE
  "${ESB_LIBRARY}"
  OpenSSL::SSL OpenSSL::Crypto
  Threads::Threads
  ${CMAKE_DL_LIBS}
  m
  rt
  util)
