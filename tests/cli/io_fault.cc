// A test-only LD_PRELOAD library: while EVENTSTORE_TEST_FAIL_WRITES_TO is set, every write to
// a file whose path ends with that suffix fails with EIO (after writing nothing). Used by
// cli_outcome_unknown_test.sh to make SQLite's commit fail with an I/O error, which the SQLite
// backend answers with kOutcomeUnknown: a real unknown outcome without a cluster.
#include <dlfcn.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace {

bool should_fail(int fd) {
  const char* suffix = std::getenv("EVENTSTORE_TEST_FAIL_WRITES_TO");
  if (suffix == nullptr || *suffix == '\0') return false;
  char link[64];
  std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  char path[4096];
  const ssize_t length = ::readlink(link, path, sizeof path);
  if (length <= 0) return false;
  return std::string_view(path, static_cast<std::size_t>(length)).ends_with(suffix);
}

template <class Fn>
Fn next(const char* name) {
  return reinterpret_cast<Fn>(::dlsym(RTLD_NEXT, name));
}

}  // namespace

extern "C" {

ssize_t write(int fd, const void* buffer, size_t count) {
  static const auto real = next<ssize_t (*)(int, const void*, size_t)>("write");
  if (should_fail(fd)) {
    errno = EIO;
    return -1;
  }
  return real(fd, buffer, count);
}

ssize_t pwrite(int fd, const void* buffer, size_t count, off_t offset) {
  static const auto real = next<ssize_t (*)(int, const void*, size_t, off_t)>("pwrite");
  if (should_fail(fd)) {
    errno = EIO;
    return -1;
  }
  return real(fd, buffer, count, offset);
}

ssize_t pwrite64(int fd, const void* buffer, size_t count, off64_t offset) {
  static const auto real = next<ssize_t (*)(int, const void*, size_t, off64_t)>("pwrite64");
  if (should_fail(fd)) {
    errno = EIO;
    return -1;
  }
  return real(fd, buffer, count, offset);
}

}  // extern "C"
