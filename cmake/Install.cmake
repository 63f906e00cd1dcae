# Installation and Debian packaging.
#
#   cmake --preset release -DCMAKE_INSTALL_PREFIX=/usr && cmake --build build/release
#   (cd build/release && cpack -G DEB)      # -> popfs_<version>_<arch>.deb
#
# Components: "popfs" (the executable) and "popfs_support" (mount helper, man pages, systemd
# unit, bash completion), so the support files can be installed and tested on their own:
#   cmake --install BUILD --component popfs_support --prefix /tmp/x

set(POPFS_SUPPORT_COMPONENT popfs_support)

if(TARGET popfs)
  install(TARGETS popfs RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT popfs)
endif()

# Files that name the installed popfs binary get its path filled in at install time, so
# both `cmake --install --prefix X` and cpack (prefix /usr) produce correct paths.
function(popfs_install_configured source destination name permissions)
  # A staging directory of its own per install run: installs may run in parallel (tests).
  install(CODE "
    set(POPFS_BINDIR \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}\")
    set(POPFS_BIN \"\${POPFS_BINDIR}/popfs\")
    string(RANDOM LENGTH 16 popfs_stage_tag)
    set(popfs_stage \"${CMAKE_BINARY_DIR}/install-staging/\${popfs_stage_tag}\")
    configure_file(\"${source}\" \"\${popfs_stage}/${name}\" @ONLY)
    file(INSTALL \"\${popfs_stage}/${name}\" DESTINATION \"\${CMAKE_INSTALL_PREFIX}/${destination}\"
         FILE_PERMISSIONS ${permissions})
    file(REMOVE_RECURSE \"\${popfs_stage}\")
  " COMPONENT ${POPFS_SUPPORT_COMPONENT})
endfunction()

set(POPFS_EXEC_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
set(POPFS_DATA_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)

# mount(8) runs /sbin/mount.<type>: mount.popfs for type "popfs", mount.fuse.popfs for
# type "fuse.popfs" (tried before mount.fuse3). Both are the same script.
popfs_install_configured("${PROJECT_SOURCE_DIR}/packaging/mount.popfs" "${CMAKE_INSTALL_SBINDIR}"
                         mount.popfs "${POPFS_EXEC_PERMISSIONS}")
install(CODE "
  file(CREATE_LINK mount.popfs \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_SBINDIR}/mount.fuse.popfs\" SYMBOLIC)
  message(STATUS \"Installing: \$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_SBINDIR}/mount.fuse.popfs -> mount.popfs\")
" COMPONENT ${POPFS_SUPPORT_COMPONENT})

# systemd looks for user units in <prefix>/lib/systemd/user (also for /usr/local).
popfs_install_configured("${PROJECT_SOURCE_DIR}/packaging/popfs@.service" "lib/systemd/user"
                         popfs@.service "${POPFS_DATA_PERMISSIONS}")

install(FILES "${PROJECT_SOURCE_DIR}/packaging/bash-completion/popfs"
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions
        COMPONENT ${POPFS_SUPPORT_COMPONENT})

# Man pages: written in scdoc, turned into roff when scdoc is available, and installed
# compressed (gzip -9n: reproducible, as Debian policy wants; man(1) reads them as they are).
find_program(SCDOC_EXECUTABLE scdoc)
if(SCDOC_EXECUTABLE)
  set(popfs_man_pages popfs.1 popfs-config.5 mount.popfs.8)
  set(popfs_man_outputs "")
  foreach(page IN LISTS popfs_man_pages)
    set(source "${PROJECT_SOURCE_DIR}/doc/man/${page}.scd")
    set(output "${CMAKE_BINARY_DIR}/man/${page}.gz")
    add_custom_command(
      OUTPUT "${output}"
      COMMAND ${CMAKE_COMMAND} -E make_directory "${CMAKE_BINARY_DIR}/man"
      COMMAND sh -c "\"${SCDOC_EXECUTABLE}\" < \"${source}\" | gzip -9n > \"${output}.tmp\" && mv \"${output}.tmp\" \"${output}\""
      DEPENDS "${source}"
      COMMENT "scdoc ${page}"
      VERBATIM)
    list(APPEND popfs_man_outputs "${output}")
    string(REGEX MATCH "[0-9]$" section "${page}")
    install(FILES "${output}" DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section}
            COMPONENT ${POPFS_SUPPORT_COMPONENT})
  endforeach()
  # mount.fuse.popfs is the same helper: its page is the same page.
  install(CODE "
    file(CREATE_LINK mount.popfs.8.gz \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_MANDIR}/man8/mount.fuse.popfs.8.gz\" SYMBOLIC)
  " COMPONENT ${POPFS_SUPPORT_COMPONENT})
  add_custom_target(popfs_man ALL DEPENDS ${popfs_man_outputs})
  if(TARGET test_appsupport)
    add_dependencies(test_appsupport popfs_man)  # its package test installs the pages
  endif()
else()
  message(STATUS "scdoc not found: man pages will not be built or installed")
endif()

# Debian package.
set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGE_NAME "popfs")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
# Maintainer field: a real address must be set before the package is published
# (-DPOPFS_PACKAGE_CONTACT="Name <address>"); lintian refuses hosts like "localhost".
set(POPFS_PACKAGE_CONTACT "popfs developers <popfs@example.org>" CACHE STRING
    "Maintainer of the Debian package (Name <address>)")
set(CPACK_PACKAGE_CONTACT "${POPFS_PACKAGE_CONTACT}")

# Debian's per-package documentation: the copyright file and, for a native package, the
# changelog (gzip -9n), both required by policy (lintian errors without them).
set(popfs_doc_dir "${CMAKE_INSTALL_DATADIR}/doc/popfs")
configure_file("${PROJECT_SOURCE_DIR}/packaging/changelog.in" "${CMAKE_BINARY_DIR}/packaging/changelog" @ONLY)
add_custom_command(
  OUTPUT "${CMAKE_BINARY_DIR}/packaging/changelog.gz"
  COMMAND sh -c "gzip -9n < \"${CMAKE_BINARY_DIR}/packaging/changelog\" > \"${CMAKE_BINARY_DIR}/packaging/changelog.gz\""
  DEPENDS "${CMAKE_BINARY_DIR}/packaging/changelog"
  COMMENT "gzip changelog"
  VERBATIM)
add_custom_target(popfs_changelog ALL DEPENDS "${CMAKE_BINARY_DIR}/packaging/changelog.gz")
if(TARGET test_appsupport)
  add_dependencies(test_appsupport popfs_changelog)  # its package test installs the support files
endif()
install(FILES "${PROJECT_SOURCE_DIR}/packaging/copyright" "${CMAKE_BINARY_DIR}/packaging/changelog.gz"
        DESTINATION ${popfs_doc_dir} COMPONENT ${POPFS_SUPPORT_COMPONENT})

set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "mount a POP3 mailbox as a directory of message files")
set(CPACK_PACKAGE_DESCRIPTION
    "popfs is a FUSE file system that shows the messages of a POP3 mailbox as files:\n\
names from UIDL, header stubs from TOP, bodies from RETR, deletion by unlink,\n\
with a local LMDB cache for offline reading.")
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
# Installed binaries carry no debug symbols (lintian: unstripped-binary-or-object).
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_SECTION "utils")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
# Library dependencies (libfuse3-3, libssl3, liblmdb0, libspdlog1.10, libfmt9, libsystemd0,
# libtomlplusplus3, libstdc++6 ...) come from dpkg-shlibdeps; fusermount3 from fuse3.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "fuse3")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "libsecret-tools")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "bash-completion")
# Only install what belongs in the package, not test or benchmark helpers.
set(CPACK_COMPONENTS_ALL popfs ${POPFS_SUPPORT_COMPONENT})
include(CPack)
