// One record a line, written so that a process killed with SIGKILL leaves only whole lines
// behind it, or at worst a torn last one: the history files of writer processes and the pipe of
// the SQLite crash test.
//
// Errors: write_line answers false when write(2) fails other than by EINTR (errno says why).
// Thread safety: as write(2); lines written at once to one descriptor by several threads do not
// interleave as long as each is below PIPE_BUF (pipes) or the file is opened with O_APPEND.
#pragma once

#include <string_view>

namespace historycheck {

// Writes `text` and a newline with one write(2) (more only after a short write or EINTR).
bool write_line(int fd, std::string_view text);

}  // namespace historycheck
