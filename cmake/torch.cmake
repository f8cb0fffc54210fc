# Finds LibTorch for both supported flavours (README "GPU"): Debian's CPU-only libtorch-dev 1.13 (the
# default), or the LibTorch inside PyPI's torch 2.x wheel (CUDA-enabled), found through
# CMAKE_PREFIX_PATH = `python -c 'import torch; print(torch.utils.cmake_prefix_path)'`
# (scripts/build.sh does this with DQ_TORCH=pip). Sets DQ_TORCH_CUDA (ON when the LibTorch has CUDA).

# The wheel's Caffe2Config includes public/cuda.cmake, which wants a CUDA toolkit (nvcc for
# enable_language(CUDA), cudart and nvrtc to link). dqbench compiles no CUDA code and calls no CUDA
# API: the CUDA libraries it needs are libtorch_cuda.so's own dependencies, which the wheel brings
# (nvidia-* wheels, found through libtorch_cuda.so's RPATH). Linking a system toolkit's cudart beside
# them would load one runtime for two (this machine's nvcc is 13.0, the wheel's runtime 13.2; a cu12
# wheel's would not even share its soname). cuda.cmake returns at once when torch::cudart exists
# ("poor man's include guard", unchanged since LibTorch 1.x), so an empty one keeps the toolkit out:
# no nvcc, no CUDA language, no GPU probe, and the same configuration on a GPU box without nvcc.
if(NOT TARGET torch::cudart)
  add_library(torch::cudart INTERFACE IMPORTED)
endif()

find_package(Torch REQUIRED)

# TorchConfig looks for libc10 with find_library(... PATHS <prefix>/lib), which searches the system
# directories first: beside Debian's libtorch-dev, a pip LibTorch would link Debian's 1.13 libc10.so.
# Every library it names by path must come from the LibTorch that was found.
set(_dq_torch_libraries)
foreach(_lib IN LISTS TORCH_LIBRARIES)
  if(IS_ABSOLUTE "${_lib}" AND NOT _lib MATCHES "^${TORCH_INSTALL_PREFIX}/")
    get_filename_component(_name "${_lib}" NAME)
    if(NOT EXISTS "${TORCH_INSTALL_PREFIX}/lib/${_name}")
      message(FATAL_ERROR "LibTorch at ${TORCH_INSTALL_PREFIX} names ${_lib}, which lies outside it")
    endif()
    set(_lib "${TORCH_INSTALL_PREFIX}/lib/${_name}")
  endif()
  list(APPEND _dq_torch_libraries "${_lib}")
endforeach()
set(TORCH_LIBRARIES ${_dq_torch_libraries})

set(DQ_TORCH_CUDA OFF)
if(TARGET torch_cuda)
  set(DQ_TORCH_CUDA ON)
endif()
message(STATUS "LibTorch ${Torch_VERSION} at ${TORCH_INSTALL_PREFIX} (CUDA compiled in: ${DQ_TORCH_CUDA})")

# The wheel's include/ carries its own {fmt} headers (12.x), which would shadow Debian's {fmt} 9 (the
# library dqbench links) in every file that includes LibTorch. A folder holding only a link to the
# linked {fmt}'s headers, searched before LibTorch's (first in TORCH_LIBRARIES), keeps one {fmt}.
if(EXISTS "${TORCH_INSTALL_PREFIX}/include/fmt")
  get_target_property(_dq_fmt_include fmt::fmt INTERFACE_INCLUDE_DIRECTORIES)
  list(GET _dq_fmt_include 0 _dq_fmt_include)
  if(NOT _dq_fmt_include STREQUAL "${TORCH_INSTALL_PREFIX}/include")
    file(MAKE_DIRECTORY "${CMAKE_BINARY_DIR}/fmt-before-torch")
    file(CREATE_LINK "${_dq_fmt_include}/fmt" "${CMAKE_BINARY_DIR}/fmt-before-torch/fmt" SYMBOLIC)
    add_library(dq_fmt_before_torch INTERFACE)
    target_include_directories(dq_fmt_before_torch SYSTEM INTERFACE "${CMAKE_BINARY_DIR}/fmt-before-torch")
    set(TORCH_LIBRARIES dq_fmt_before_torch ${TORCH_LIBRARIES})
  endif()
endif()
