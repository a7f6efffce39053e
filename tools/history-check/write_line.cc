#include "write_line.h"

#include <unistd.h>

#include <cerrno>
#include <string>

namespace historycheck {

bool write_line(int fd, std::string_view text) {
  std::string line(text);
  line.push_back('\n');
  const char* next = line.data();
  std::size_t left = line.size();
  while (left > 0) {
    const ssize_t written = ::write(fd, next, left);
    if (written < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    next += written;
    left -= static_cast<std::size_t>(written);
  }
  return true;
}

}  // namespace historycheck
