# Install rules shared by every library: headers, the library, one CMake
# export set per component and one pkg-config file per component.
#
#   tinyalloc_install(<component> TARGETS <target>... [WHOLE_ARCHIVE])
#
# WHOLE_ARCHIVE: pkg-config links the component's static library whole, for
# a library that must be linked in even when nothing names its symbols (the
# malloc override: otherwise a program that only calls malloc through libc
# would silently keep glibc's).
#
# A component's dependencies are read from its targets' link libraries, so
# the package's component graph (tinyalloc-config.cmake) and the pkg-config
# `Requires:` lines always say what the build links, and nothing is listed
# twice.  Components register lowest layer first (add_subdirectory order).
include_guard(GLOBAL)
include(GNUInstallDirs)

set(TINYALLOC_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/tinyalloc)
set(TINYALLOC_INSTALL_PKGCONFIGDIR ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# tinyalloc::<name> for target tinyalloc_<name>.
function(_tinyalloc_export_name target out)
  string(REGEX REPLACE "^tinyalloc_" "" name ${target})
  set(${out} ${name} PARENT_SCOPE)
endfunction()

function(tinyalloc_install component)
  cmake_parse_arguments(I "WHOLE_ARCHIVE" "" "TARGETS" ${ARGN})
  set(deps "")
  set(external "")
  set(libs "")
  set(needs_threads FALSE)
  foreach(t IN LISTS I_TARGETS)
    _tinyalloc_export_name(${t} name)
    set_target_properties(${t} PROPERTIES EXPORT_NAME ${name})
    get_target_property(type ${t} TYPE)
    if(type STREQUAL "STATIC_LIBRARY")
      list(APPEND libs "-l$<TARGET_FILE_BASE_NAME:${t}>")
    endif()
    set(links "")
    foreach(prop LINK_LIBRARIES INTERFACE_LINK_LIBRARIES)
      get_target_property(l ${t} ${prop})
      if(l)
        list(APPEND links ${l})
      endif()
    endforeach()
    foreach(l IN LISTS links)
      if(l MATCHES "^tinyalloc::(.+)$")
        list(APPEND deps ${CMAKE_MATCH_1})
      elseif(l STREQUAL "Threads::Threads")
        list(APPEND external Threads)
        set(needs_threads TRUE)
      elseif(l MATCHES "^([A-Za-z0-9_]+)::")
        list(APPEND external ${CMAKE_MATCH_1})
      endif()
    endforeach()
  endforeach()
  list(REMOVE_DUPLICATES deps)
  list(REMOVE_ITEM deps ${component})
  list(REMOVE_DUPLICATES external)

  install(TARGETS ${I_TARGETS} EXPORT tinyalloc-${component}
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
    INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  install(EXPORT tinyalloc-${component} NAMESPACE tinyalloc::
    FILE tinyalloc-${component}-targets.cmake DESTINATION ${TINYALLOC_INSTALL_CMAKEDIR})
  if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/include)
    install(DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  endif()

  # The component table written into tinyalloc-config.cmake.
  set_property(GLOBAL APPEND PROPERTY TINYALLOC_COMPONENTS ${component})
  set_property(GLOBAL APPEND_STRING PROPERTY TINYALLOC_COMPONENT_TABLE
    "set(_tinyalloc_requires_${component} ${deps})\nset(_tinyalloc_external_${component} ${external})\n")

  # pkg-config: flags from the first target (the component's library).
  if(component STREQUAL "flags")
    return()
  endif()
  list(GET I_TARGETS 0 main)
  list(TRANSFORM deps PREPEND "tinyalloc-")
  list(JOIN deps " " TINYALLOC_PC_REQUIRES)
  list(JOIN libs " " TINYALLOC_PC_LIBS)
  if(I_WHOLE_ARCHIVE)
    set(TINYALLOC_PC_LIBS "-Wl,--whole-archive ${TINYALLOC_PC_LIBS} -Wl,--no-whole-archive")
  endif()
  if(libs)
    # The libraries are C++: a C program linking them needs the C++ runtime
    # (exception personality, guards for function-local statics).
    string(APPEND TINYALLOC_PC_LIBS " -lstdc++")
  endif()
  if(needs_threads)
    string(APPEND TINYALLOC_PC_LIBS " -pthread")
  endif()
  set(TINYALLOC_PC_NAME tinyalloc-${component})
  if(component STREQUAL "tinyalloc")
    set(TINYALLOC_PC_NAME tinyalloc)
  endif()
  set(TINYALLOC_PC_TARGET ${main})
  set(TINYALLOC_PC_COMPONENT ${component})
  file(RELATIVE_PATH TINYALLOC_PC_PREFIX_FROM_PCDIR
    /prefix/${TINYALLOC_INSTALL_PKGCONFIGDIR} /prefix)
  configure_file(${PROJECT_SOURCE_DIR}/cmake/tinyalloc.pc.in
    ${PROJECT_BINARY_DIR}/pkgconfig/${TINYALLOC_PC_NAME}.pc.in @ONLY)
  # Second pass: generator expressions (library file names, definitions).
  file(GENERATE OUTPUT ${PROJECT_BINARY_DIR}/pkgconfig/${TINYALLOC_PC_NAME}.pc
    INPUT ${PROJECT_BINARY_DIR}/pkgconfig/${TINYALLOC_PC_NAME}.pc.in)
  install(FILES ${PROJECT_BINARY_DIR}/pkgconfig/${TINYALLOC_PC_NAME}.pc
    DESTINATION ${TINYALLOC_INSTALL_PKGCONFIGDIR})
endfunction()
