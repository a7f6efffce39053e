// Issue 10 item 6, the SQLite side: a store whose last reference is dropped in a callback on
// its writer thread is deleted by that thread once it has drained its queue, and the file
// handles of all its connections are closed then (none leak with the detached thread).
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "eventstore/store.h"

namespace es = eventstore;
namespace fs = std::filesystem;

namespace {

// Descriptors of this process open on the database file or its -wal / -shm files.
int descriptors_on(const fs::path& database) {
  int count = 0;
  std::error_code ignored;
  for (const auto& entry : fs::directory_iterator("/proc/self/fd", ignored)) {
    const fs::path target = fs::read_symlink(entry.path(), ignored);
    if (target.string().starts_with(database.string())) ++count;
  }
  return count;
}

TEST(SqliteLifetime, StoreReleasedOnItsWriterThreadClosesItsFiles) {
  const fs::path dir = fs::temp_directory_path() / ("es-sqlite-lifetime-" + es::Uuid::random().to_string());
  fs::create_directories(dir);
  const fs::path database = fs::canonical(dir) / "events.db";
  const es::StreamId stream{"sales", "Order", es::Uuid::random()};
  {
    std::shared_ptr<es::Store> store = es::open_store("sqlite:" + database.string());
    store->append(stream, es::ExpectedVersion::no_stream(),
                  {es::EventData{std::nullopt, "Placed", "{}", std::nullopt, std::nullopt}});
    ASSERT_GT(descriptors_on(database), 0);
    std::promise<std::thread::id> released_on;
    es::Store& raw = *store;
    raw.append_async(stream, es::ExpectedVersion::exact(1),
                     {es::EventData{std::nullopt, "Paid", "{}", std::nullopt, std::nullopt}},
                     [owner = std::move(store), &released_on](es::Result<es::AppendResult> result) mutable {
                       EXPECT_TRUE(result.ok());
                       owner.reset();
                       released_on.set_value(std::this_thread::get_id());
                     });
    EXPECT_NE(released_on.get_future().get(), std::this_thread::get_id());
  }
  // The writer thread closes the files as it ends, after the callback returned: wait for it.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (descriptors_on(database) > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(descriptors_on(database), 0) << "the store's connections were not closed";
  EXPECT_EQ(es::open_store("sqlite:" + database.string())->head(stream), 2);
  std::error_code ignored;
  fs::remove_all(dir, ignored);
}

}  // namespace
