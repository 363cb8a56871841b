// Raises too-small thread stack sizes requested through
// pthread_attr_setstacksize() to at least 1 MiB.
//
// Why: glibc refuses (EINVAL) to create a thread whose stack cannot hold the
// process's static TLS. Debian's LibTorch pulls in ~290 shared libraries
// whose static TLS adds up to ~108 KB (OpenBLAS alone 60 KB), while civetweb
// (under prometheus-cpp's exposer) asks for ~100 KB stacks: without this,
// the /metrics endpoint fails with "Cannot create threads". This object is
// linked into every executable that links asr::server and is exported so it
// interposes on libc's symbol for all libraries.
#include <dlfcn.h>
#include <pthread.h>

#include <algorithm>
#include <cstddef>

extern "C" int pthread_attr_setstacksize(pthread_attr_t* attr, size_t stacksize) {
  using SetStackSizeFn = int (*)(pthread_attr_t*, size_t);
  static const SetStackSizeFn real =
      reinterpret_cast<SetStackSizeFn>(dlsym(RTLD_NEXT, "pthread_attr_setstacksize"));
  constexpr size_t kFloor = size_t{1} << 20;
  return real(attr, std::max(stacksize, kFloor));
}
