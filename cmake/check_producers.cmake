# ctest cmake_producer_sources (cmake -DSOURCE_DIR=... -P): the producer table of cmake/producers.cmake
# names only files that exist, and every source under datasets/, methods/, patching/ and models/ is claimed by
# a producer or listed as making no artefact, so a new file cannot silently stay out of the code
# identity of what it computes.
cmake_minimum_required(VERSION 3.24)
include(${SOURCE_DIR}/cmake/producers.cmake)
set(failures 0)
set(claimed ${DQ_PRODUCER_ALL_SOURCES} ${DQ_SOURCES_WITHOUT_ARTEFACTS})
foreach(producer IN LISTS DQ_PRODUCERS)
  if(NOT DQ_PRODUCER_${producer}_SOURCES)
    message("FAIL: producer '${producer}' lists no sources")
    math(EXPR failures "${failures} + 1")
  endif()
endforeach()
foreach(source IN LISTS claimed)
  if(NOT EXISTS ${SOURCE_DIR}/${source})
    message("FAIL: cmake/producers.cmake lists ${source}, which does not exist")
    math(EXPR failures "${failures} + 1")
  endif()
endforeach()
file(GLOB_RECURSE tree RELATIVE ${SOURCE_DIR}
     ${SOURCE_DIR}/datasets/*.cpp ${SOURCE_DIR}/datasets/*.h ${SOURCE_DIR}/methods/*.cpp ${SOURCE_DIR}/methods/*.h
     ${SOURCE_DIR}/patching/*.cpp ${SOURCE_DIR}/patching/*.h
     ${SOURCE_DIR}/models/*.cpp ${SOURCE_DIR}/models/*.h)
foreach(source IN LISTS tree)
  list(FIND claimed ${source} at)
  if(at EQUAL -1)
    message("FAIL: ${source} is in no producer of cmake/producers.cmake (nor in DQ_SOURCES_WITHOUT_ARTEFACTS)")
    math(EXPR failures "${failures} + 1")
  endif()
endforeach()
if(failures GREATER 0)
  message(FATAL_ERROR "${failures} problem(s) in cmake/producers.cmake")
endif()
list(LENGTH tree count)
message("ok: ${count} sources under datasets/, methods/, patching/, models/ are each claimed by a producer or declared artefact-free")
