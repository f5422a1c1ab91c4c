# Debian packages with CPack (`cpack -G DEB` in the build tree; docs/install.md):
#   wsmetrics      component `runtime`: the programs, their man pages, wsm-exporter@.service and
#                  /etc/default/wsm-exporter, dashboards, rules and runbooks (/usr/share/wsmetrics)
#   wsmetrics-dev  component `dev`: headers, static libraries, the CMake package, wsmetrics.pc
# Install rules elsewhere name one of these two components; CPACK_COMPONENTS_ALL keeps anything
# else (a dependency's own install rules) out of the packages.

set(WSM_DEB_RELEASE 1)
set(WSM_DEB_VERSION ${PROJECT_VERSION}-${WSM_DEB_RELEASE})
set(WSM_MAINTAINER "wsmetrics maintainers <maintainers@users.noreply.b-seed-f735fba1.example>")
set(wsm_pkg_dir ${PROJECT_SOURCE_DIR}/packaging)
set(wsm_pkg_build ${PROJECT_BINARY_DIR}/packaging)

# Man pages from --help (help2man), gzipped as Debian wants them. help2man is in scripts/setup;
# without it the packages simply have no man pages (and lintian says binary-without-manpage).
find_program(WSM_HELP2MAN help2man)
find_program(WSM_GZIP gzip)
set(wsm_man_pages)
if(WSM_HELP2MAN AND WSM_GZIP)
  function(wsm_man_page target name)
    set(page ${wsm_pkg_build}/man/${target}.1)
    # The programs have no --version: help2man takes the project version instead of running it.
    add_custom_command(OUTPUT ${page}.gz
      COMMAND ${CMAKE_COMMAND} -E make_directory ${wsm_pkg_build}/man
      COMMAND ${WSM_HELP2MAN} --no-info --section=1 --version-string=${PROJECT_VERSION}
              --name=${name} --output=${page} $<TARGET_FILE:${target}>
      COMMAND ${WSM_GZIP} -9nf ${page}
      DEPENDS ${target} VERBATIM)
    set(wsm_man_pages ${wsm_man_pages} ${page}.gz PARENT_SCOPE)
  endfunction()
  wsm_man_page(wsm "look inside wsmetrics shared-memory segments")
  wsm_man_page(wsm-exporter "serve a wsmetrics segment to Prometheus and as JSON")
  wsm_man_page(wsm-demo-server "WebSocket demo server recording wsmetrics")
  wsm_man_page(wsm-loadgen "load generator for wsm-demo-server")
  wsm_man_page(wsm-alerts "Prometheus alert rules for wsmetrics from the thresholds")
else()
  message(STATUS "help2man or gzip not found: no man pages (scripts/setup installs help2man)")
endif()

# /usr/share/doc/<package>/changelog.Debian.gz, gzip -9n as Debian policy wants it.
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${WSM_MAINTAINER}")
configure_file(${wsm_pkg_dir}/debian/changelog.in ${wsm_pkg_build}/changelog.Debian @ONLY)
add_custom_command(OUTPUT ${wsm_pkg_build}/changelog.Debian.gz
  COMMAND ${WSM_GZIP} -9nc ${wsm_pkg_build}/changelog.Debian > ${wsm_pkg_build}/changelog.Debian.gz
  DEPENDS ${wsm_pkg_build}/changelog.Debian VERBATIM)
add_custom_target(wsm_packaging_files ALL DEPENDS ${wsm_man_pages} ${wsm_pkg_build}/changelog.Debian.gz)

# --- wsmetrics (runtime) ---------------------------------------------------------------------
install(FILES ${wsm_man_pages} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT runtime)
# Both Grafana views and the provisioning; not their generator (generate.py, views/), which reads
# the catalogue of a source tree.
install(DIRECTORY dashboards/grafana dashboards/prometheus dashboards/alertmanager
        DESTINATION ${CMAKE_INSTALL_DATADIR}/wsmetrics/dashboards COMPONENT runtime
        PATTERN "generate.py" EXCLUDE PATTERN "views" EXCLUDE PATTERN "__pycache__" EXCLUDE)
install(FILES dashboards/README.md DESTINATION ${CMAKE_INSTALL_DATADIR}/wsmetrics/dashboards COMPONENT runtime)
install(FILES docs/runbooks.md DESTINATION ${CMAKE_INSTALL_DATADIR}/wsmetrics COMPONENT runtime)
foreach(component_package runtime:wsmetrics dev:wsmetrics-dev)
  string(REPLACE ":" ";" pair ${component_package})
  list(GET pair 0 component)
  list(GET pair 1 package)
  install(FILES ${wsm_pkg_dir}/debian/copyright ${wsm_pkg_build}/changelog.Debian.gz
          DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/${package} COMPONENT ${component})
  if(EXISTS ${wsm_pkg_dir}/debian/${package}.lintian-overrides)
    install(FILES ${wsm_pkg_dir}/debian/${package}.lintian-overrides RENAME ${package}
            DESTINATION ${CMAKE_INSTALL_DATADIR}/lintian/overrides COMPONENT ${component})
  endif()
endforeach()
install(FILES docs/install.md DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/wsmetrics COMPONENT runtime)

# The unit and /etc/default/wsm-exporter live outside the prefix on a system install (prefix /usr,
# as cpack installs): /lib/systemd/system (bookworm's unit directory) and /etc. Under any other
# prefix (cmake --install --prefix DIR) they go below it, so a user install never writes /etc.
install(CODE "
  if(CMAKE_INSTALL_PREFIX STREQUAL \"/usr\")
    set(wsm_unit_dir /lib/systemd/system)
    set(wsm_default_dir /etc/default)
  else()
    set(wsm_unit_dir \"\${CMAKE_INSTALL_PREFIX}/lib/systemd/system\")
    set(wsm_default_dir \"\${CMAKE_INSTALL_PREFIX}/etc/default\")
  endif()
  file(INSTALL DESTINATION \"\${wsm_unit_dir}\" TYPE FILE
       FILES \"${wsm_pkg_dir}/systemd/wsm-exporter@.service\")
  file(INSTALL DESTINATION \"\${wsm_default_dir}\" TYPE FILE
       FILES \"${wsm_pkg_dir}/default/wsm-exporter\")
" COMPONENT runtime)

# --- CPack ----------------------------------------------------------------------------------
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME wsmetrics)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${WSM_MAINTAINER}")
# Empty: each package's description below starts with its own summary line (a summary set here
# would be put before both).
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "")
# DESTDIR staging with the prefix /usr, so that the absolute paths above land in the package.
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL runtime dev)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE ${WSM_DEB_RELEASE})
set(CPACK_DEBIAN_PACKAGE_SOURCE wsmetrics)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME wsmetrics)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION net)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_DEPENDS "adduser")  # postinst; shlibdeps adds the libraries
set(CPACK_DEBIAN_RUNTIME_DESCRIPTION "shared-memory metrics for WebSocket servers: exporter and tools
Worker processes record counters, gauges and histograms into a lock-free
shared-memory segment; wsm-exporter reads consistent snapshots, aggregates
across workers and serves Prometheus /metrics, a JSON API and a live page.
.
This package holds wsm-exporter with a hardened systemd unit
(wsm-exporter@SEGMENT.service), the wsm command-line tool, the demo WebSocket
server, its load generator, the alert rule renderer, and the Grafana
dashboard, Prometheus rules and runbooks under /usr/share/wsmetrics.")
file(WRITE ${wsm_pkg_build}/conffiles "/etc/default/wsm-exporter\n")
set(CPACK_DEBIAN_RUNTIME_PACKAGE_CONTROL_EXTRA
    ${wsm_pkg_dir}/debian/postinst ${wsm_pkg_dir}/debian/postrm ${wsm_pkg_build}/conffiles)

set(CPACK_DEBIAN_DEV_PACKAGE_NAME wsmetrics-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
# The installed CMake package asks for Boost (a link-only dependency of the static wsm::shm_core);
# the headers use std::expected, so a C++23 standard library (GCC 12's) is needed.
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "libboost-dev (>= 1.74), libstdc++-12-dev | libstdc++-dev")
set(CPACK_DEBIAN_DEV_PACKAGE_SUGGESTS "pkg-config | pkgconf, cmake (>= 3.25)")
set(CPACK_DEBIAN_DEV_DESCRIPTION "shared-memory metrics for WebSocket servers: writer library
Headers (<wsm/writer.hpp>, C++23), static libraries, the CMake package
(find_package(wsmetrics): wsm::writer, wsm::writer_compiled_out,
wsm::shm_core) and the pkg-config file wsmetrics.pc for programs that
record metrics into a wsmetrics segment.")

include(CPack)
