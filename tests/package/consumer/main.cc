// Opens memory:, appends one event and reads it back through the installed library, from its
// stream and from its context's feed; catches the library's Error (its type crosses the
// hidden-visibility boundary of libeventstore.so) and parses a store URI. Links nothing but
// eventstore::eventstore.
#include <cstdio>

#include <eventstore/eventstore.h>

int main() {
  try {
    auto store = eventstore::open_store("memory:");
    const eventstore::StreamId stream{"consumer", "Greeting", eventstore::Uuid::random()};
    const eventstore::AppendResult appended =
        store->append(stream, eventstore::ExpectedVersion::no_stream(),
                      {eventstore::EventData{std::nullopt, "Said", R"({"text":"hello"})", std::nullopt, std::nullopt}});
    const auto events = store->read_all(stream);
    if (events.size() != 1 || events[0].event_id != appended.event_ids.at(0) || store->head(stream) != 1) {
      std::fprintf(stderr, "consumer: the event did not read back\n");
      return 1;
    }
    // The feed through a subscription (subscription.h names sqlite3 but needs no SQLite here).
    eventstore::SubscriptionOptions options;
    options.context = "consumer";
    auto subscription = eventstore::Subscription::open(store, options);
    const eventstore::FeedPage page = subscription->next_page();
    if (page.entries.size() != 1 || page.entries[0].event.event_id != appended.event_ids.at(0) ||
        subscription->position() != 1) {
      std::fprintf(stderr, "consumer: the event is not in the feed\n");
      return 1;
    }
    try {
      store->append(stream, eventstore::ExpectedVersion::no_stream(), {eventstore::EventData{}});
      std::fprintf(stderr, "consumer: an invalid append was not refused\n");
      return 1;
    } catch (const eventstore::Error& e) {
      if (e.code() != eventstore::ErrorCode::kInvalidArgument) throw;
    }
    const eventstore::StoreUri uri = eventstore::parse_store_uri("scylla://app:s3cret@h1,h2/ks");
    if (uri.cluster.hosts.size() != 2 || eventstore::without_password("scylla://app:s3cret@h1") != "scylla://app@h1") {
      std::fprintf(stderr, "consumer: store URI parsing is wrong\n");
      return 1;
    }
    std::printf("consumer ok: version %lld\n", static_cast<long long>(appended.next_expected_version));
    return 0;
  } catch (const eventstore::Error& e) {
    std::fprintf(stderr, "consumer: %s\n", e.what());
    return 1;
  }
}
