#include "checksum.hpp"
#include "ini.hpp"
#include "modes.hpp"

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace {

// A small blocking queue of finished documents.  Bounded, so parsers cannot
// run ahead and the number of live documents (and thus RSS) stays small.
class Handoff {
public:
    explicit Handoff(std::size_t capacity) : ring_(capacity) {}

    void push(std::unique_ptr<ini::Document> doc) {
        std::unique_lock lock(mutex_);
        not_full_.wait(lock, [&] { return count_ < ring_.size(); });
        ring_[(head_ + count_++) % ring_.size()] = std::move(doc);
        not_empty_.notify_one();
    }

    std::unique_ptr<ini::Document> pop() {
        std::unique_lock lock(mutex_);
        not_empty_.wait(lock, [&] { return count_ > 0; });
        std::unique_ptr<ini::Document> doc = std::move(ring_[head_]);
        head_ = (head_ + 1) % ring_.size();
        --count_;
        not_full_.notify_one();
        return doc;
    }

private:
    std::mutex mutex_;
    std::condition_variable not_full_, not_empty_;
    std::vector<std::unique_ptr<ini::Document>> ring_;
    std::size_t head_ = 0, count_ = 0;
};

}  // namespace

Result run_threads(const corpus::Corpus& c, const Reference& ref, const Settings& s) {
    Result r = time_loops("threads", c, s, [&](int iterations) {
        Handoff handoff(2 * static_cast<std::size_t>(s.threads));
        std::atomic<int> next{0};
        std::vector<std::thread> parsers;
        for (int t = 0; t < s.threads; ++t) {
            parsers.emplace_back([&] {
                while (next.fetch_add(1, std::memory_order_relaxed) < iterations) {
                    auto doc = std::make_unique<ini::Document>(ini::parse(c.text));
                    if (checksum(*doc, c.probes) != ref.checksum) checksum_failure(c, "in a parsing thread");
                    handoff.push(std::move(doc));
                }
            });
        }
        // This thread allocated none of them: every free is a remote free.
        for (int i = 0; i < iterations; ++i) handoff.pop().reset();
        for (auto& t : parsers) t.join();
    });
    r.checksum = ref.checksum;
    return r;
}
