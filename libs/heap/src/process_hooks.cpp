// The process events the allocator must follow: a thread exiting (its heap
// is parked for the next thread) and fork() (no lock may be inherited held, and the child
// has no purge thread).
#include "globals.hpp"
#include "purge.hpp"

namespace tinyalloc::detail {
namespace {

// fork: take every lock in a fixed order, release them in parent and child.
void fork_prepare() noexcept {
  Globals& g = *g_globals;
  g.heaps.lock().lock();
  g.abandoned.lock().lock();
  g.arena.lock();
  g.large->lock();
}
void fork_parent() noexcept {
  Globals& g = *g_globals;
  g.large->unlock();
  g.arena.unlock();
  g.abandoned.lock().unlock();
  g.heaps.lock().unlock();
}
void fork_child() noexcept {
  fork_parent();
  // Only the forking thread exists here.  The heaps of the parent's other
  // threads stay as they were (a thread may have been in the middle of
  // changing one): their segments keep those heaps as owners, which no
  // thread of the child ever has, so every free into them is a remote free.
  // So does a parked heap the purger was dismantling.  Parked heaps are
  // whole (the pool's lock was held): the child's threads take them.
  purge_after_fork();
}

void thread_exit(void* heap) noexcept { heap_exit(static_cast<Heap*>(heap)); }

}  // namespace

void create_thread_exit_key(Globals& g) noexcept {
  if (::pthread_key_create(&g.thread_exit_key, &thread_exit) != 0)
    warn("pthread_key_create failed: exiting threads will keep their memory");
}

void install_fork_handlers() noexcept {
  if (::pthread_atfork(&fork_prepare, &fork_parent, &fork_child) != 0)
    warn("pthread_atfork failed: a fork() while another thread allocates may deadlock the child");
}

}  // namespace tinyalloc::detail
