// maps_probe: does an allocator run out of memory mappings with many live
// medium blocks?  (Issue 8: 70,000 live 40 KB blocks.)  Linux limits a
// process to vm.max_map_count mappings (65,530 by default); an allocator
// that maps each such block on its own reaches the limit, after which
// mmap fails -- and so does pthread_create, which maps the new thread's
// stack -- although plenty of memory is free.
//
//   maps_probe [--blocks N] [--size BYTES]      (default 70,000 x 40,000)
//
// Steps: count the lines of /proc/self/maps; malloc N blocks of BYTES and
// write each one's first and last byte (its index, checked before free);
// count the mappings again; create and join one thread (success or the
// errno pthread_create returned); free every block; malloc_trim(0); count
// the mappings once more.  Prints one line of JSON.  Links no tinyalloc
// library: run it under LD_PRELOAD (scripts/bench_run.py --probe does).
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace {

/// Lines of a /proc file, read with plain system calls (no allocation).
long count_lines(const char* path) {
    const int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    char buf[65536];
    long lines = 0;
    for (;;) {
        const ssize_t got = read(fd, buf, sizeof buf);
        if (got <= 0) break;
        for (ssize_t i = 0; i < got; ++i) lines += buf[i] == '\n';
    }
    close(fd);
    return lines;
}

/// A number from a /proc file such as /proc/sys/vm/max_map_count, or the
/// value after `key` in /proc/self/status (kB), without allocating.
long read_number(const char* path, const char* key) {
    const int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    char buf[8192];
    const ssize_t got = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (got <= 0) return -1;
    buf[got] = '\0';
    const char* at = buf;
    if (key != nullptr) {
        at = std::strstr(buf, key);
        if (at == nullptr) return -1;
        at += std::strlen(key);
    }
    return std::strtol(at, nullptr, 10);
}

long rss_kib() { return read_number("/proc/self/status", "VmRSS:"); }

void* thread_body(void* arg) { return arg; }

long parse_count(const char* flag, const char* text) {
    char* end = nullptr;
    const long v = std::strtol(text, &end, 10);
    if (end == text || *end != '\0' || v <= 0) {
        std::fprintf(stderr, "maps_probe: %s needs a positive integer, got '%s'\n", flag, text);
        std::exit(2);
    }
    return v;
}

}  // namespace

int main(int argc, char** argv) {
    long blocks = 70000, size = 40000;
    for (int i = 1; i < argc; ++i) {
        const std::string_view a(argv[i]);
        if (a == "--blocks" && i + 1 < argc) {
            blocks = parse_count("--blocks", argv[++i]);
        } else if (a == "--size" && i + 1 < argc) {
            size = parse_count("--size", argv[++i]);
        } else {
            std::fprintf(stderr, "usage: maps_probe [--blocks N] [--size BYTES]\n");
            return 2;
        }
    }
    if (size < 8) size = 8;

    // The table of pointers first, so that it counts in maps_before.
    auto** live = static_cast<unsigned char**>(std::malloc(sizeof(unsigned char*) * blocks));
    if (live == nullptr) {
        std::fprintf(stderr, "maps_probe: cannot allocate the table of %ld pointers\n", blocks);
        return 1;
    }
    const long maps_before = count_lines("/proc/self/maps");

    long allocated = 0;
    int malloc_errno = 0;
    for (; allocated < blocks; ++allocated) {
        errno = 0;
        auto* p = static_cast<unsigned char*>(std::malloc(size));
        if (p == nullptr) {
            malloc_errno = errno;
            break;
        }
        p[0] = static_cast<unsigned char>(allocated);
        p[size - 1] = static_cast<unsigned char>(allocated >> 8);
        live[allocated] = p;
    }
    const long maps_live = count_lines("/proc/self/maps");
    const long rss_live = rss_kib();

    pthread_t thread;
    const int create_rc = pthread_create(&thread, nullptr, thread_body, nullptr);
    if (create_rc == 0) pthread_join(thread, nullptr);

    long corrupted = 0;
    for (long i = 0; i < allocated; ++i) {
        unsigned char* p = live[i];
        corrupted += p[0] != static_cast<unsigned char>(i) || p[size - 1] != static_cast<unsigned char>(i >> 8);
        std::free(p);
    }
    std::free(live);
    const int trimmed = malloc_trim(0);
    const long maps_after = count_lines("/proc/self/maps");

    std::printf(
        "{\"blocks\": %ld, \"block_size\": %ld, \"allocated\": %ld, \"malloc_errno\": %d, "
        "\"max_map_count\": %ld, \"maps_before\": %ld, \"maps_live\": %ld, \"rss_live_kib\": %ld, "
        "\"thread_create_ok\": %s, \"thread_create_errno\": %d, \"thread_create_error\": \"%s\", "
        "\"malloc_trim\": %d, \"maps_after_free_and_trim\": %ld, \"rss_after_kib\": %ld, "
        "\"corrupted\": %ld}\n",
        blocks, size, allocated, malloc_errno, read_number("/proc/sys/vm/max_map_count", nullptr), maps_before,
        maps_live, rss_live, create_rc == 0 ? "true" : "false", create_rc,
        create_rc == 0 ? "" : strerrorname_np(create_rc), trimmed, maps_after, rss_kib(), corrupted);
    return corrupted == 0 ? 0 : 1;
}
