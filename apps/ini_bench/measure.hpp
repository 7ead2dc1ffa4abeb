// What every ini_bench mode shares: the reference parse, the timed repeat
// loop, and the result line the comparison runner reads.
#pragma once

#include "corpus.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

// The corpus parsed once, untimed: proves it is error-free (exits otherwise),
// fixes the checksum every timed parse must reproduce, and warms the heap.
struct Reference {
    std::uint64_t checksum = 0;
    std::size_t sections = 0;
    std::size_t keys = 0;
};
Reference reference_of(const corpus::Corpus& c);

struct Settings {
    int iterations = 0;  // operations per timed loop
    int repeat = 5;      // timed loops; their median is reported
    int threads = 2;     // parsing threads (threads mode)
    bool quiet = false;
};

struct Result {
    std::string mode;
    std::string corpus;
    double median_us = 0;  // per operation
    double min_us = 0;
    double max_us = 0;
    long peak_rss_kib = 0;
    std::uint64_t checksum = 0;
};

// Runs `loop(iterations)` `repeat` times and times each call; fills the
// timing and peak-RSS fields of a Result (the caller sets the checksum).
Result time_loops(const std::string& mode, const corpus::Corpus& c, const Settings& s,
                  const std::function<void(int iterations)>& loop);

// Aborts the process: a checksum changed, so some allocator corrupted a
// document or handed out overlapping memory.
[[noreturn]] void checksum_failure(const corpus::Corpus& c, const char* where);

// Which shared object provides malloc: lets scripts confirm an LD_PRELOAD
// really took effect (ld.so only warns when a preload fails to load).
std::string malloc_provider();

void print_details(const Result& r, const corpus::Corpus& c, const Reference& ref, const Settings& s);
void print_result_line(const Result& r);
