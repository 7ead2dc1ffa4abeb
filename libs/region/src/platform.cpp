// The CPU, the clock and the process: everything of region.hpp that is not
// virtual memory or the lock.
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fcntl.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <unistd.h>

#include "tinyalloc/region.hpp"

namespace tinyalloc::region {

std::uint64_t now_ms() noexcept {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000 + static_cast<std::uint64_t>(ts.tv_nsec) / 1000000;
}

void sleep_ms(std::uint64_t ms) noexcept {
  timespec ts{static_cast<time_t>(ms / 1000), static_cast<long>(ms % 1000) * 1000000};
  while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

std::uint64_t random_u64() noexcept {
  std::uint64_t r = 0;
  if (::getrandom(&r, sizeof r, GRND_NONBLOCK) != static_cast<ssize_t>(sizeof r)) {
    timespec ts;
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    r = (static_cast<std::uint64_t>(ts.tv_nsec) << 20) ^ static_cast<std::uint64_t>(ts.tv_sec) ^
        reinterpret_cast<std::uintptr_t>(&r);
    r ^= r >> 31;
    r *= 0xbf58476d1ce4e5b9ULL;
  }
  return r | 1;
}

std::size_t peak_rss_bytes() noexcept {
  rusage ru{};
  if (::getrusage(RUSAGE_SELF, &ru) != 0) return 0;
  return static_cast<std::size_t>(ru.ru_maxrss) << 10;
}

std::size_t rss_bytes() noexcept {
  const int fd = ::open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[128];
  const ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  unsigned long long size = 0, resident = 0;
  if (std::sscanf(buf, "%llu %llu", &size, &resident) != 2) return 0;
  return static_cast<std::size_t>(resident) * page_size();
}

bool write_all(int fd, const char* s, std::size_t n) noexcept {
  while (n > 0) {
    const ssize_t w = ::write(fd, s, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    s += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

int duplicate_fd(int fd) noexcept { return ::fcntl(fd, F_DUPFD_CLOEXEC, 3); }

void abort_process() noexcept { ::abort(); }

bool start_thread(void* (*fn)(void*), void* arg) noexcept {
  pthread_attr_t attr;
  if (::pthread_attr_init(&attr) != 0) return false;
  ::pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  ::pthread_attr_setstacksize(&attr, std::size_t{64} << 10);
  sigset_t all, old;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old);  // the new thread inherits "all blocked"
  pthread_t t;
  const int rc = ::pthread_create(&t, &attr, fn, arg);
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  ::pthread_attr_destroy(&attr);
  if (rc != 0) {
    errno = rc;
    return false;
  }
  return true;
}

bool name_this_thread(const char* name) noexcept { return ::prctl(PR_SET_NAME, name, 0, 0, 0) == 0; }

void assertion_failed(const char* what, const char* file, int line) noexcept {
  char buf[512];
  const int n = std::snprintf(buf, sizeof buf, "tinyalloc: assertion failed: %s (%s:%d)\n", what, file, line);
  if (n > 0) write_all(2, buf, static_cast<std::size_t>(n) < sizeof buf ? static_cast<std::size_t>(n) : sizeof buf - 1);
  abort_process();
}

}  // namespace tinyalloc::region
