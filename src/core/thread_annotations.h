// Locking the compiler checks: Clang's thread-safety attributes as macros, and a Mutex, MutexLock
// and CondVar that carry them (clang.llvm.org/docs/ThreadSafetyAnalysis.html).
//
// Invariants: a field marked GUARDED_BY(m) is read or written only by code the analysis can see
// holding m (a MutexLock in scope, or a function marked REQUIRES(m)); a function marked
// EXCLUDES(m) is never called with m held. On compilers without the attributes (GCC) the
// macros are empty and the types are plain std::mutex and std::condition_variable.
// The check: scripts/check-thread-safety [BUILD_DIR] (clang++ -Wthread-safety over the files
// that use these).
//
// Lambdas are analysed as functions of their own, which hold nothing: a condition waited for is
// written as a loop, `while (!ready) wake.wait(mutex);`, not as a predicate lambda.
//
// Errors: none of these throw except as std::mutex and std::condition_variable do
// (std::system_error).
//
// Thread safety: Mutex and CondVar are for use by many threads at once; a MutexLock belongs to
// the thread that made it.
#pragma once

#include <condition_variable>
#include <mutex>

#if defined(__clang__) && defined(__has_attribute)
#if __has_attribute(guarded_by)
#define EVENTSTORE_THREAD_ANNOTATION(x) __attribute__((x))
#endif
#endif
#ifndef EVENTSTORE_THREAD_ANNOTATION
#define EVENTSTORE_THREAD_ANNOTATION(x)
#endif

// On a class: its objects are capabilities (a lock, or a role) of the given kind.
#define CAPABILITY(kind) EVENTSTORE_THREAD_ANNOTATION(capability(kind))
// On a class: an RAII object that holds a capability from construction to destruction.
#define SCOPED_CAPABILITY EVENTSTORE_THREAD_ANNOTATION(scoped_lockable)
// On a field: read and written only with the capability held.
#define GUARDED_BY(x) EVENTSTORE_THREAD_ANNOTATION(guarded_by(x))
// On a pointer field: what it points to is read and written only with the capability held.
#define PT_GUARDED_BY(x) EVENTSTORE_THREAD_ANNOTATION(pt_guarded_by(x))
// On a function: called only with the capabilities held (and returns with them held).
#define REQUIRES(...) EVENTSTORE_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
// On a function: called only without the capabilities (it takes them itself).
#define EXCLUDES(...) EVENTSTORE_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
// On a function: returns holding the capabilities (the object's own when none is named).
#define ACQUIRE(...) EVENTSTORE_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
// On a function: returns having let go of the capabilities (the object's own when none is named).
#define RELEASE(...) EVENTSTORE_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
// On a function returning bool: holds the capabilities when it returns `result`.
#define TRY_ACQUIRE(...) EVENTSTORE_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
// On a function: fails at run time unless the capability is held; the analysis then assumes it.
#define ASSERT_CAPABILITY(x) EVENTSTORE_THREAD_ANNOTATION(assert_capability(x))
// On a function: returns the capability that guards something (for accessors of a lock).
#define RETURN_CAPABILITY(x) EVENTSTORE_THREAD_ANNOTATION(lock_returned(x))
// On a function: not analysed. Each use says why.
#define NO_THREAD_SAFETY_ANALYSIS EVENTSTORE_THREAD_ANNOTATION(no_thread_safety_analysis)

namespace eventstore::detail {

class CondVar;

// std::mutex, as a capability the analysis knows.
class CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void lock() ACQUIRE() { mutex_.lock(); }
  void unlock() RELEASE() { mutex_.unlock(); }
  bool try_lock() TRY_ACQUIRE(true) { return mutex_.try_lock(); }

 private:
  friend class CondVar;
  std::mutex mutex_;
};

// Holds a Mutex for its scope (std::lock_guard).
class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mutex) ACQUIRE(mutex) : mutex_(mutex) { mutex_.lock(); }
  ~MutexLock() RELEASE() { mutex_.unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex& mutex_;
};

// std::condition_variable over a Mutex the caller holds (a MutexLock in scope, usually).
class CondVar {
 public:
  CondVar() = default;
  CondVar(const CondVar&) = delete;
  CondVar& operator=(const CondVar&) = delete;

  // Lets go of `mutex`, sleeps until notified (or woken spuriously: wait in a loop), and takes
  // it again before returning.
  void wait(Mutex& mutex) REQUIRES(mutex) {
    std::unique_lock<std::mutex> lock(mutex.mutex_, std::adopt_lock);
    condition_.wait(lock);
    lock.release();  // still held: the caller's MutexLock lets go of it
  }
  void notify_one() { condition_.notify_one(); }
  void notify_all() { condition_.notify_all(); }

 private:
  std::condition_variable condition_;
};

}  // namespace eventstore::detail
