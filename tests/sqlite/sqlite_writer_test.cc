// Tests of the sqlite:PATH backend's writer: group commit, several threads and processes on one
// file, checkpoints, keyset pages, and closing the store with work in flight.
#include "sqlite_test_support.h"

#include <sqlite3.h>

#include <gtest/gtest.h>

namespace sqlite_test {
namespace {

// 256 appends in flight from one thread across 16 streams, each with its exact expected version:
// the writer commits them in groups, in submission order, and acknowledges every one.
TEST(SqliteStore, ManyInFlightAppendsFromOneThread) {
  TempDir dir;
  auto store = open(dir.file());
  constexpr int kStreams = 16;
  constexpr int kPerStream = 16;
  std::vector<es::StreamId> streams;
  for (int s = 0; s < kStreams; ++s) streams.push_back(stream_of());
  std::mutex mutex;
  std::condition_variable done;
  int pending = kStreams * kPerStream;
  std::vector<std::string> failures;
  std::map<es::StreamId, std::vector<es::Uuid>> submitted;
  for (int i = 0; i < kPerStream; ++i) {
    for (int s = 0; s < kStreams; ++s) {
      const es::Uuid id = es::Uuid::random();
      submitted[streams[s]].push_back(id);
      store->append_async(streams[s], es::ExpectedVersion::exact(i), one_event(id),
                          [&, i](es::Result<es::AppendResult> result) {
                            std::lock_guard lock(mutex);
                            if (!result.ok()) {
                              failures.push_back(result.error().what());
                            } else if (result.value().first_version != i + 1) {
                              failures.push_back("wrong version " + std::to_string(result.value().first_version));
                            }
                            if (--pending == 0) done.notify_all();
                          });
    }
  }
  {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(done.wait_for(lock, std::chrono::seconds(60), [&] { return pending == 0; }));
  }
  EXPECT_TRUE(failures.empty()) << failures.front();
  for (const es::StreamId& s : streams) {
    const auto events = store->read_all(s);
    ASSERT_EQ(events.size(), static_cast<std::size_t>(kPerStream));
    for (int v = 0; v < kPerStream; ++v) {
      EXPECT_EQ(events[static_cast<std::size_t>(v)].version, v + 1);
      EXPECT_EQ(events[static_cast<std::size_t>(v)].event_id, submitted[s][static_cast<std::size_t>(v)]);
    }
  }
}

// Checkpoints run on their own thread: with ~3,000 pages in the log, well under the 8,000 at
// which the writer would checkpoint itself, the database file grows while the store is open.
// And the log stays bounded under continuous writes: the writer checkpoints itself past 8,000
// pages; without that the log would hold all of the ~24,000 pages written here.
TEST(SqliteStore, CheckpointsRunBesideTheWriterAndBoundTheLog) {
  TempDir dir;
  auto store = open(dir.file());
  const std::string page_of_data = R"({"pad":")" + std::string(3500, 'x') + R"("})";
  const es::StreamId stream = stream_of();
  constexpr int kEventsPerAppend = 10;  // about 20 pages: each event takes a page and an overflow page
  std::uintmax_t largest_log = 0;
  int appended = 0;
  auto append_until = [&](int appends) {
    for (; appended < appends; ++appended) {
      std::vector<es::EventData> events(kEventsPerAppend, event("Padded", page_of_data));
      store->append(stream, es::ExpectedVersion::exact(appended * kEventsPerAppend), std::move(events));
      std::error_code ignored;
      largest_log = std::max(largest_log, fs::file_size(dir.file() + "-wal", ignored) + 0);
    }
  };
  append_until(150);
  std::uintmax_t database = 0;
  for (int waited_ms = 0; waited_ms < 10000 && database < 1000 * 4096; waited_ms += 20) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    database = fs::file_size(dir.file());
  }
  EXPECT_GE(database, 1000u * 4096) << "no checkpoint copied the log into the database while the store was open";
  append_until(1200);
  EXPECT_LE(largest_log, 8100u * (4096 + 24)) << "the WAL grew past the limit";
  EXPECT_EQ(store->head(stream), 1200 * kEventsPerAppend);
}

// In one group commit, a conflicting append rolls back only itself; an idempotent retry queued
// behind its original returns the original result.
TEST(SqliteStore, GroupCommitIsolatesConflictsAndRetries) {
  TempDir dir;
  auto store = open(dir.file());
  const es::StreamId a = stream_of();
  const es::StreamId b = stream_of();
  const es::Uuid a1 = es::Uuid::random();
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<std::optional<es::Result<es::AppendResult>>> results(5);
  int pending = 5;
  auto submit = [&](int slot, const es::StreamId& s, es::ExpectedVersion expected, std::vector<es::EventData> ev) {
    store->append_async(s, expected, std::move(ev), [&, slot](es::Result<es::AppendResult> r) {
      std::lock_guard lock(mutex);
      results[static_cast<std::size_t>(slot)].emplace(std::move(r));
      if (--pending == 0) cv.notify_all();
    });
  };
  std::vector<es::EventData> two = {event(), event("Paid")};  // partly bad: whole append fails
  submit(0, a, es::ExpectedVersion::no_stream(), one_event(a1));
  submit(1, a, es::ExpectedVersion::no_stream(), one_event());     // conflict at 1
  submit(2, b, es::ExpectedVersion::no_stream(), std::move(two));  // fine
  submit(3, a, es::ExpectedVersion::no_stream(), one_event(a1));   // retry of 0
  submit(4, b, es::ExpectedVersion::exact(5), one_event());        // conflict at 2
  {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return pending == 0; }));
  }
  ASSERT_TRUE(results[0]->ok());
  EXPECT_EQ(results[0]->value().first_version, 1);
  ASSERT_FALSE(results[1]->ok());
  EXPECT_EQ(results[1]->error().code(), es::ErrorCode::kVersionConflict);
  EXPECT_EQ(results[1]->error().current_version(), 1);
  ASSERT_TRUE(results[2]->ok());
  EXPECT_EQ(results[2]->value().next_expected_version, 2);
  ASSERT_TRUE(results[3]->ok());
  EXPECT_EQ(results[3]->value().first_version, 1);
  EXPECT_EQ(results[3]->value().event_ids, results[0]->value().event_ids);
  ASSERT_FALSE(results[4]->ok());
  EXPECT_EQ(results[4]->error().current_version(), 2);
  EXPECT_EQ(store->head(a), 1);
  EXPECT_EQ(store->head(b), 2);
}

// Several processes append to one stream of one file with expected versions; every process
// retries its conflicts. The stream ends contiguous, each event once, each process's in order.
TEST(SqliteStore, SeveralProcessesAppendToOneFile) {
  TempDir dir;
  const es::StreamId stream = stream_of();
  open(dir.file());  // create it (and WAL mode) before the children race
  constexpr int kProcesses = 4;
  constexpr int kAppends = 40;
  std::vector<pid_t> children;
  for (int p = 0; p < kProcesses; ++p) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int code = 0;
      try {
        auto store = open(dir.file(), "?busy_timeout=10000");
        for (int i = 0; i < kAppends; ++i) {
          es::EventData e =
              event("Appended", "{\"process\":" + std::to_string(p) + ",\"i\":" + std::to_string(i) + "}");
          e.event_id = fork_safe_id(p, i);
          for (;;) {
            const std::int64_t head = store->head(stream);
            try {
              store->append(stream, es::ExpectedVersion::exact(head), {e});
              break;
            } catch (const es::Error& error) {
              if (error.code() != es::ErrorCode::kVersionConflict) throw;
            }
          }
        }
      } catch (...) {
        code = 1;
      }
      _exit(code);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  auto store = open(dir.file());
  const auto events = store->read_all(stream);
  ASSERT_EQ(events.size(), static_cast<std::size_t>(kProcesses * kAppends));
  std::set<es::Uuid> ids;
  std::map<int, int> next_i;
  for (std::size_t v = 0; v < events.size(); ++v) {
    EXPECT_EQ(events[v].version, static_cast<std::int64_t>(v + 1));
    ids.insert(events[v].event_id);
    const std::string& data = *events[v].data;
    const int p = data[11] - '0';
    const int i = std::stoi(data.substr(data.find("\"i\":") + 4));
    EXPECT_EQ(next_i[p]++, i) << "process " << p << " out of order";
  }
  EXPECT_EQ(ids.size(), events.size());
}

// A blocking append commits on the caller's thread only when nothing is queued: behind
// appends in flight it waits its turn, so exact versions issued in order all succeed; when
// several threads mix both forms, every append lands once.
TEST(SqliteStore, BlockingAppendKeepsItsPlaceBehindAppendsInFlight) {
  TempDir dir;
  auto store = open(dir.file());
  const es::StreamId stream = stream_of();
  std::atomic<int> failures{0};
  for (int round = 0; round < 20; ++round) {
    const int base = round * 51;
    for (int i = 0; i < 50; ++i)
      store->append_async(stream, es::ExpectedVersion::exact(base + i), one_event(),
                          [&](es::Result<es::AppendResult> r) { failures += r.ok() ? 0 : 1; });
    EXPECT_EQ(store->append(stream, es::ExpectedVersion::exact(base + 50), one_event()).first_version, base + 51);
  }
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(store->head(stream), 20 * 51);

  const es::StreamId shared = stream_of();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        if ((t + i) % 2 == 0) {
          store->append(shared, es::ExpectedVersion::any(), one_event());
        } else {
          std::promise<void> done;
          store->append_async(shared, es::ExpectedVersion::any(), one_event(), [&](es::Result<es::AppendResult> r) {
            failures += r.ok() ? 0 : 1;
            done.set_value();
          });
          done.get_future().wait();
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  const auto events = store->read_all(shared);
  ASSERT_EQ(events.size(), 200u);
  std::set<es::Uuid> ids;
  for (std::size_t v = 0; v < events.size(); ++v) {
    EXPECT_EQ(events[v].version, static_cast<std::int64_t>(v + 1));
    ids.insert(events[v].event_id);
  }
  EXPECT_EQ(ids.size(), 200u);
}

TEST(SqliteStore, ManyThreadsAppendToOneStream) {
  TempDir dir;
  auto store = open(dir.file());
  const es::StreamId stream = stream_of();
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        try {
          store->append(stream, es::ExpectedVersion::any(), one_event());
        } catch (...) {
          ++failures;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  const auto events = store->read_all(stream);
  ASSERT_EQ(events.size(), 200u);
  for (std::size_t v = 0; v < events.size(); ++v) EXPECT_EQ(events[v].version, static_cast<std::int64_t>(v + 1));
}

TEST(SqliteStore, SnapshotsNeverGoBackwards) {
  TempDir dir;
  auto store = open(dir.file());
  const es::StreamId stream = stream_of();
  store->append(stream, es::ExpectedVersion::no_stream(), std::vector<es::EventData>(7, event()));
  auto save = [&](std::int64_t v) {
    return store->save_snapshot(stream,
                                es::Snapshot{v, "{\"v\":" + std::to_string(v) + "}", R"({"m":1})", es::now_ms()});
  };
  EXPECT_TRUE(save(5).stored);
  const es::SnapshotSaveResult older = save(3);
  EXPECT_FALSE(older.stored);
  EXPECT_EQ(older.latest_version, 5);
  EXPECT_FALSE(save(5).stored);
  EXPECT_TRUE(save(7).stored);
  const auto loaded = store->load_snapshot(stream);
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->version, 7);
  EXPECT_EQ(loaded->data, R"({"v":7})");
  EXPECT_EQ(loaded->metadata, R"({"m":1})");
}

TEST(SqliteStore, PagesAreKeysetBounded) {
  TempDir dir;
  auto store = open(dir.file());
  const es::StreamId stream = stream_of();
  std::vector<es::EventData> events;
  for (int i = 0; i < 25; ++i) events.push_back(event());
  store->append(stream, es::ExpectedVersion::no_stream(), events);
  es::ReadOptions options;
  options.page_size = 10;
  options.direction = es::Direction::kBackward;
  options.from = 22;
  options.limit = 15;
  auto cursor = store->read(stream, options);
  std::vector<std::size_t> sizes;
  std::vector<std::int64_t> versions;
  for (auto page = cursor->next_page(); !page.empty(); page = cursor->next_page()) {
    sizes.push_back(page.size());
    for (const auto& e : page) versions.push_back(e.version);
  }
  EXPECT_EQ(sizes, (std::vector<std::size_t>{10, 5}));
  ASSERT_EQ(versions.size(), 15u);
  EXPECT_EQ(versions.front(), 22);
  EXPECT_EQ(versions.back(), 8);
}

TEST(SqliteStore, CursorOutlivesTheStore) {
  TempDir dir;
  const es::StreamId stream = stream_of();
  std::unique_ptr<es::EventCursor> cursor;
  {
    auto store = open(dir.file());
    store->append(stream, es::ExpectedVersion::no_stream(), {event(), event(), event()});
    es::ReadOptions options;
    options.page_size = 2;
    cursor = store->read(stream, options);
  }
  EXPECT_EQ(cursor->next_page().size(), 2u);
  EXPECT_EQ(cursor->next_page().size(), 1u);
  EXPECT_TRUE(cursor->next_page().empty());
}

// Destroying the store with appends still queued completes every callback exactly once, and
// what was acknowledged is in the file.
TEST(SqliteStore, ClosingCompletesEveryCallback) {
  TempDir dir;
  const es::StreamId stream = stream_of();
  constexpr int kAppends = 1000;
  std::atomic<int> called{0};
  std::atomic<int> ok{0};
  std::atomic<int> other{0};
  {
    auto store = open(dir.file());
    for (int i = 0; i < kAppends; ++i) {
      store->append_async(stream, es::ExpectedVersion::any(), one_event(), [&](es::Result<es::AppendResult> r) {
        ++called;
        if (r.ok()) {
          ++ok;
        } else if (r.error().code() != es::ErrorCode::kUnavailable) {
          ++other;
        }
      });
    }
  }
  EXPECT_EQ(called.load(), kAppends);
  EXPECT_EQ(other.load(), 0);
  auto store = open(dir.file());
  EXPECT_EQ(store->head(stream), ok.load());
}

}  // namespace
}  // namespace sqlite_test
