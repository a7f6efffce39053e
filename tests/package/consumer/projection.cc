// A read model kept in the user's SQLite database with SqliteProjection, through the installed
// library: two events of memory:'s feed counted once, in an in-memory SQLite database.
#include <cstdio>

#include <sqlite3.h>

#include <eventstore/eventstore.h>

int main() {
  sqlite3* db = nullptr;
  if (sqlite3_open(":memory:", &db) != SQLITE_OK) return 1;
  int status = 1;
  try {
    sqlite3_exec(db, "CREATE TABLE seen(event_id TEXT)", nullptr, nullptr, nullptr);
    auto store = eventstore::open_store("memory:");
    const eventstore::StreamId stream{"consumer", "Greeting", eventstore::Uuid::random()};
    store->append(stream, eventstore::ExpectedVersion::no_stream(),
                  {eventstore::EventData{std::nullopt, "Said", R"({"text":"hello"})", std::nullopt, std::nullopt},
                   eventstore::EventData{std::nullopt, "Said", R"({"text":"again"})", std::nullopt, std::nullopt}});
    eventstore::SqliteProjection projection(db, "greetings");
    eventstore::SubscriptionOptions options;
    options.context = "consumer";
    options.start = eventstore::StartPosition::after(projection.position());
    auto subscription = eventstore::Subscription::open(store, options);
    const eventstore::FeedPage page = subscription->next_page();
    const auto insert = [](sqlite3* handle, const eventstore::FeedEntry&) {
      sqlite3_exec(handle, "INSERT INTO seen VALUES ('x')", nullptr, nullptr, nullptr);
    };
    projection.apply(page, insert);
    projection.apply(page, insert);  // again: nothing is applied twice
    sqlite3_stmt* count = nullptr;
    sqlite3_prepare_v2(db, "SELECT count(*) FROM seen", -1, &count, nullptr);
    const bool counted = sqlite3_step(count) == SQLITE_ROW && sqlite3_column_int(count, 0) == 2;
    sqlite3_finalize(count);
    if (counted && projection.position() == 2) {
      std::printf("projection consumer ok: position %lld\n", static_cast<long long>(projection.position()));
      status = 0;
    } else {
      std::fprintf(stderr, "projection consumer: the read model is wrong\n");
    }
  } catch (const eventstore::Error& e) {
    std::fprintf(stderr, "projection consumer: %s\n", e.what());
  }
  sqlite3_close(db);
  return status;
}
