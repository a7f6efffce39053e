// The bench's asynchronous targets: the store (public API) and the raw cluster ceiling.
#include "bench_targets.h"

#include <vector>

#include "bench_threads.h"

#include "eventstore/eventstore.h"
#ifdef EVENTSTORE_CLI_WITH_SCYLLA
#include "bench_scylla_raw.h"
#endif

namespace eventstore_cli::bench {
namespace {

using eventstore::ErrorCode;

constexpr const char* kContext = "bench";
constexpr const char* kAggregateType = "bench_stream";
constexpr const char* kEventType = "BenchEvent";

// The store's options: its metrics sink, if the bench was given one.
eventstore::StoreOptions store_options(const BenchArgs& args) {
  eventstore::StoreOptions options;
  options.metrics = args.metrics_sink;
  return options;
}

const char* kind_of(ErrorCode code) {
  // to_string(ErrorCode) returns views of static strings.
  return eventstore::to_string(code).data();
}

class StoreTarget final : public AsyncTarget {
 public:
  StoreTarget(const std::string& uri, const BenchArgs& args, Sink& sink)
      : store_(eventstore::open_store(uri, store_options(args))),
        args_(args),
        sink_(sink),
        data_(payload(args.event_size, 1)) {}

  std::size_t add_stream() override {
    streams_.push_back(eventstore::StreamId{kContext, kAggregateType, eventstore::Uuid::random()});
    return streams_.size() - 1;
  }

  void append(std::size_t stream, std::int64_t expected, std::uint32_t slot) override {
    // What an application does: build the events, append with the expected version.
    std::vector<eventstore::EventData> events(args_.events_per_append);
    for (eventstore::EventData& e : events) {
      e.event_type = kEventType;
      e.data = data_;
    }
    Sink* sink = &sink_;
    store_->append_async(streams_[stream], eventstore::ExpectedVersion::exact(expected), std::move(events),
                         [sink, slot](eventstore::Result<eventstore::AppendResult> r) {
                           Completion c;
                           c.end = Clock::now();
                           c.slot = slot;
                           if (!r.ok()) {
                             const eventstore::Error& e = r.error();
                             c.outcome =
                                 e.code() == ErrorCode::kVersionConflict ? Outcome::kConflict : Outcome::kFailed;
                             c.error_kind = kind_of(e.code());
                             c.current_version = e.current_version().value_or(-1);
                           }
                           sink->push(c);
                         });
  }

  void read(std::size_t stream, std::uint64_t events, std::uint32_t slot) override {
    eventstore::ReadOptions options;
    options.direction = eventstore::Direction::kBackward;
    options.limit = events;
    auto state = std::make_shared<ReadState>();
    state->cursor = store_->read(streams_[stream], options);
    state->sink = &sink_;
    state->slot = slot;
    next(state);
  }

 private:
  struct ReadState {
    std::unique_ptr<eventstore::EventCursor> cursor;
    Sink* sink = nullptr;
    std::uint32_t slot = 0;
    std::uint64_t rows = 0;
  };

  // Pages until the cursor returns an empty page (the end), as for_each does.
  static void next(std::shared_ptr<ReadState> state) {
    eventstore::EventCursor* cursor = state->cursor.get();
    cursor->next_page_async([state](eventstore::Result<std::vector<eventstore::RecordedEvent>> page) mutable {
      if (page.ok() && !page.value().empty()) {
        state->rows += page.value().size();
        return next(std::move(state));
      }
      Completion c;
      c.end = Clock::now();
      c.slot = state->slot;
      if (!page.ok()) {
        c.outcome = Outcome::kFailed;
        c.error_kind = kind_of(page.error().code());
      }
      Sink* sink = state->sink;
      state.reset();  // the cursor goes before the completion is reported
      sink->push(c);
    });
  }

  std::shared_ptr<eventstore::Store> store_;
  const BenchArgs& args_;
  Sink& sink_;
  std::string data_;
  std::vector<eventstore::StreamId> streams_;
};

// One thread's loop of blocking calls (`bench append --blocking`).
class BlockingStoreLoop final : public ThreadLoop {
 public:
  BlockingStoreLoop(std::shared_ptr<eventstore::Store> store, const BenchArgs& args)
      : store_(std::move(store)), args_(args), data_(payload(args.event_size, 1)) {}

  void add_stream() override {
    streams_.push_back(Stream{eventstore::StreamId{kContext, kAggregateType, eventstore::Uuid::random()}, 0});
  }

 private:
  struct Stream {
    eventstore::StreamId id;
    std::int64_t version;
  };

  std::size_t stream_count() const override { return streams_.size(); }

  Outcome append(std::size_t index) override {
    Stream& stream = streams_[index];
    std::vector<eventstore::EventData> events(args_.events_per_append);
    for (eventstore::EventData& e : events) {
      e.event_type = kEventType;
      e.data = data_;
    }
    try {
      stream.version = store_->append(stream.id, eventstore::ExpectedVersion::exact(stream.version), std::move(events))
                           .next_expected_version;
      return kApplied;
    } catch (const eventstore::Error& e) {
      if (e.code() == ErrorCode::kVersionConflict && e.current_version()) {
        stream.version = *e.current_version();
        return kConflict;
      }
      error_kind_ = kind_of(e.code());
      return kFailed;
    }
  }

  Outcome read(std::size_t index) override {
    eventstore::ReadOptions options;
    options.direction = eventstore::Direction::kBackward;
    options.limit = args_.read_events;
    try {
      std::size_t rows = 0;
      store_->for_each(streams_[index].id, options, [&rows](const eventstore::RecordedEvent&) { ++rows; });
      return kApplied;
    } catch (const eventstore::Error& e) {
      error_kind_ = kind_of(e.code());
      return kFailed;
    }
  }

  std::shared_ptr<eventstore::Store> store_;
  const BenchArgs& args_;
  std::string data_;
  std::vector<Stream> streams_;
};

#ifdef EVENTSTORE_CLI_WITH_SCYLLA
class RawScyllaTarget final : public AsyncTarget {
 public:
  RawScyllaTarget(const std::string& uri, const BenchArgs& args, Sink& sink)
      : raw_(RawScylla::connect(uri, args.shape == "seed" ? RawShape::kSeed : RawShape::kStore)),
        args_(args),
        data_(payload(args.event_size, 1)),
        contexts_(args.concurrency),
        events_(args.events_per_append) {
    for (std::uint32_t i = 0; i < contexts_.size(); ++i) contexts_[i] = SlotContext{&sink, i};
  }

  std::size_t add_stream() override {
    return raw_->add_stream(kContext, kAggregateType, eventstore::Uuid::random().bytes());
  }

  void append(std::size_t stream, std::int64_t expected, std::uint32_t slot) override {
    // The same per-event work the store does before sending: an id and a timestamp each.
    for (RawEvent& e : events_) {
      e.event_id = eventstore::Uuid::random().bytes();
      e.event_type = kEventType;
      e.data = data_;
      e.timestamp_ms = eventstore::now_ms().time_since_epoch().count();
    }
    raw_->append(stream, expected, events_.data(), events_.size(), &done, &contexts_[slot]);
  }

  void read(std::size_t stream, std::uint64_t events, std::uint32_t slot) override {
    raw_->read(stream, /*backward=*/true, 0, static_cast<std::int64_t>(events), 1000, &done, &contexts_[slot]);
  }

 private:
  struct SlotContext {
    Sink* sink;
    std::uint32_t slot;
  };

  static void done(void* context, Outcome outcome, std::int64_t, std::int64_t stream_version,
                   const char* error_kind) noexcept {
    const auto* slot = static_cast<const SlotContext*>(context);
    Completion c;
    c.end = Clock::now();
    c.slot = slot->slot;
    c.outcome = outcome;
    if (outcome == Outcome::kConflict) {
      c.error_kind = "version_conflict";
      c.current_version = stream_version;
    } else if (outcome == Outcome::kFailed) {
      c.error_kind = error_kind;
    }
    try {
      slot->sink->push(c);
    } catch (...) {
      std::terminate();
    }
  }

  std::unique_ptr<RawScylla> raw_;
  const BenchArgs& args_;
  std::string data_;
  std::vector<SlotContext> contexts_;
  std::vector<RawEvent> events_;
};
#endif

}  // namespace

std::unique_ptr<AsyncTarget> make_store_target(const std::string& uri, const BenchArgs& args, Sink& sink) {
  return std::make_unique<StoreTarget>(uri, args, sink);
}

RunResult run_blocking(const std::string& uri, const BenchArgs& args, Progress& progress) {
  const std::shared_ptr<eventstore::Store> store = eventstore::open_store(uri, store_options(args));
  std::vector<std::unique_ptr<ThreadLoop>> loops;
  for (std::uint64_t i = 0; i < args.concurrency; ++i)
    loops.push_back(std::make_unique<BlockingStoreLoop>(store, args));
  return run_thread_loops(loops, args, progress);
}

std::unique_ptr<AsyncTarget> make_raw_scylla_target(const std::string& uri, const BenchArgs& args, Sink& sink) {
#ifdef EVENTSTORE_CLI_WITH_SCYLLA
  return std::make_unique<RawScyllaTarget>(uri, args, sink);
#else
  (void)uri, (void)args, (void)sink;
  throw eventstore::Error::invalid("this build of eventstore has no scylla:// backend");
#endif
}

}  // namespace eventstore_cli::bench
