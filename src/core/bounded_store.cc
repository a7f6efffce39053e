#include "bounded_store.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "forwarding_store.h"
#include "validation.h"

namespace eventstore::detail {
namespace {

std::size_t append_bytes(const std::vector<EventData>& events) {
  std::size_t bytes = 0;
  for (const EventData& event : events) bytes += event_bytes(event.event_type, event.data, event.metadata);
  return bytes;
}

// Appends and bytes in flight, and the bound on both.
class InFlight {
 public:
  InFlight(std::size_t max_appends, std::size_t max_bytes, std::shared_ptr<MetricsSink> metrics)
      : max_appends_(max_appends), max_bytes_(max_bytes), metrics_(std::move(metrics)) {}

  // Admits an append of `bytes` if there is room; otherwise returns the refusal.
  std::optional<Error> try_admit(std::size_t bytes) {
    std::lock_guard lock(mutex_);
    if (has_room(bytes)) {
      admit(bytes);
      return std::nullopt;
    }
    return Error(ErrorCode::kUnavailable,
                 "too many appends in flight (" + std::to_string(appends_) + " appends, " + std::to_string(bytes_) +
                     " bytes; the store's bound is max_in_flight=" + std::to_string(max_appends_) +
                     ", max_in_flight_bytes=" + std::to_string(max_bytes_) + "); nothing was written");
  }

  void wait_and_admit(std::size_t bytes) {
    std::unique_lock lock(mutex_);
    ++waiting_;
    room_.wait(lock, [&] { return has_room(bytes); });
    --waiting_;
    admit(bytes);
  }

  void release(std::size_t bytes) {
    bool wake = false;
    {
      std::lock_guard lock(mutex_);
      --appends_;
      bytes_ -= bytes;
      report();
      wake = waiting_ > 0;
    }
    // Waiters need different amounts of room: wake them all (only blocking appends wait).
    if (wake) room_.notify_all();
  }

 private:
  bool has_room(std::size_t bytes) const {
    return appends_ < max_appends_ && (appends_ == 0 || bytes <= max_bytes_ - std::min(bytes_, max_bytes_));
  }
  void admit(std::size_t bytes) {
    ++appends_;
    bytes_ += bytes;
    report();
  }
  // Under the lock, so that the gauges' last values are the current ones.
  void report() {
    if (!metrics_) return;
    metrics_->record(metrics::appends_in_flight, {}, static_cast<double>(appends_));
    metrics_->record(metrics::append_bytes_in_flight, {}, static_cast<double>(bytes_));
  }

  const std::size_t max_appends_;
  const std::size_t max_bytes_;
  const std::shared_ptr<MetricsSink> metrics_;
  std::mutex mutex_;
  std::condition_variable room_;
  std::size_t appends_ = 0;
  std::size_t bytes_ = 0;
  std::size_t waiting_ = 0;  // blocking appends waiting for room
};

// One admitted append's claim on the bound, given back once however often release() is called,
// and the caller's callback when the append is asynchronous.
class Admission {
 public:
  Admission(std::shared_ptr<InFlight> in_flight, std::size_t bytes, EventStore::AppendCallback callback = {})
      : in_flight_(std::move(in_flight)), bytes_(bytes), callback_(std::move(callback)) {}
  Admission(const Admission&) = delete;
  Admission& operator=(const Admission&) = delete;
  ~Admission() { release(); }

  void release() {
    if (!released_.exchange(true)) in_flight_->release(bytes_);
  }

  // Frees the slot first, so that the callback may append again.
  void complete(Result<AppendResult> result) {
    release();
    callback_(std::move(result));
  }

 private:
  const std::shared_ptr<InFlight> in_flight_;
  const std::size_t bytes_;
  std::atomic<bool> released_{false};
  EventStore::AppendCallback callback_;
};

class BoundedStore final : public ForwardingStore {
 public:
  BoundedStore(std::shared_ptr<Store> inner, std::size_t max_appends, std::size_t max_bytes,
               std::shared_ptr<MetricsSink> metrics)
      : ForwardingStore(std::move(inner)),
        in_flight_(std::make_shared<InFlight>(max_appends, max_bytes, std::move(metrics))) {}

  void append_async(const StreamId& stream, ExpectedVersion expected, std::vector<EventData> events,
                    AppendCallback callback) override {
    const std::size_t bytes = append_bytes(events);
    if (std::optional<Error> refusal = in_flight_->try_admit(bytes)) return callback(std::move(*refusal));
    // The slot is freed when the inner store calls back, or when it drops the callback uncalled
    // (it threw). One allocation: the inner callback holds only this pointer, which fits in a
    // std::function without one of its own.
    auto admission = std::make_shared<Admission>(in_flight_, bytes, std::move(callback));
    inner().append_async(stream, expected, std::move(events),
                         [admission](Result<AppendResult> result) { admission->complete(std::move(result)); });
  }

  AppendResult append(const StreamId& stream, ExpectedVersion expected, std::vector<EventData> events) override {
    const std::size_t bytes = append_bytes(events);
    in_flight_->wait_and_admit(bytes);
    const Admission admission(in_flight_, bytes);
    return inner().append(stream, expected, std::move(events));
  }

 private:
  const std::shared_ptr<InFlight> in_flight_;
};

}  // namespace

std::shared_ptr<Store> bound_appends_in_flight(std::shared_ptr<Store> inner, std::size_t max_appends,
                                               std::size_t max_bytes, std::shared_ptr<MetricsSink> metrics) {
  return std::make_shared<BoundedStore>(std::move(inner), max_appends, max_bytes, std::move(metrics));
}

}  // namespace eventstore::detail
