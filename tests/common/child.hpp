// Test support: run a function in a forked child process, with a time limit,
// and collect how it ended and what it wrote on stdout/stderr.
//
// Used by tests whose subject may abort (misuse detection), hang (fork
// safety) or must not disturb the test process (RLIMIT_AS).  The child never
// returns into the test framework: it calls _exit with the function's result.
// A child still running at the deadline is killed with SIGKILL and reported
// as timed out, so a hang fails the test instead of blocking it.
#pragma once

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <functional>
#include <sstream>
#include <string>

#include <poll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

namespace test_child {

struct Result {
  int status = 0;          ///< raw waitpid status
  bool timed_out = false;  ///< killed at the deadline
  std::string output;      ///< stdout and stderr, interleaved

  bool exited_ok() const { return !timed_out && WIFEXITED(status) && WEXITSTATUS(status) == 0; }
  bool signaled(int sig) const { return !timed_out && WIFSIGNALED(status) && WTERMSIG(status) == sig; }
  std::string describe() const {
    std::ostringstream os;
    if (timed_out)
      os << "timed out (killed)";
    else if (WIFEXITED(status))
      os << "exit code " << WEXITSTATUS(status);
    else if (WIFSIGNALED(status))
      os << "killed by signal " << WTERMSIG(status) << " (" << strsignal(WTERMSIG(status)) << ")";
    os << "; output:\n" << output;
    return os.str();
  }
};

/// Runs body() in a child; its return value is the exit code.
inline Result run(const std::function<int()>& body, int timeout_s) {
  int fds[2];
  if (pipe(fds) != 0) return {-1, false, "pipe failed"};
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid < 0) return {-1, false, "fork failed"};
  if (pid == 0) {
    close(fds[0]);
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    close(fds[1]);
    const rlimit no_core{0, 0};  // an expected abort should not write a core file
    setrlimit(RLIMIT_CORE, &no_core);
    // The test framework's crash handlers would report in the child: the
    // child dies by the plain signal instead.
    for (int sig : {SIGABRT, SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTERM, SIGALRM}) std::signal(sig, SIG_DFL);
    alarm(static_cast<unsigned>(timeout_s) + 5);  // backstop if the parent dies
    const int rc = body();
    std::fflush(nullptr);
    _exit(rc);
  }
  close(fds[1]);
  Result r;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  char buf[4096];
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      r.timed_out = true;
      kill(pid, SIGKILL);
      break;
    }
    pollfd pfd{fds[0], POLLIN, 0};
    const int n = poll(&pfd, 1, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) continue;
    const ssize_t got = read(fds[0], buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;  // EOF: every writer closed
    r.output.append(buf, static_cast<std::size_t>(got));
  }
  close(fds[0]);
  while (waitpid(pid, &r.status, 0) < 0 && errno == EINTR) {
  }
  return r;
}

}  // namespace test_child
