# Install rules and the CMake package: find_package(eventstore) gives eventstore::eventstore.
include(CMakePackageConfigHelpers)

install(TARGETS eventstore EXPORT eventstoreTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
if(TARGET eventstore_prometheus)
  install(TARGETS eventstore_prometheus EXPORT eventstoreTargets
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  install(DIRECTORY include/eventstore DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
else()
  install(DIRECTORY include/eventstore DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} PATTERN prometheus.h EXCLUDE)
endif()
if(TARGET eventstore_cli)
  install(TARGETS eventstore_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()

set(EVENTSTORE_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/eventstore)
install(EXPORT eventstoreTargets NAMESPACE eventstore:: DESTINATION ${EVENTSTORE_CMAKE_DIR})
configure_package_config_file(cmake/eventstoreConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/eventstoreConfig.cmake INSTALL_DESTINATION ${EVENTSTORE_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/eventstoreConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/eventstoreConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/eventstoreConfigVersion.cmake
        DESTINATION ${EVENTSTORE_CMAKE_DIR})
