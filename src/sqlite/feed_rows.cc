// The feed rows of a group commit (feed_rows.h).
#include "sqlite/feed_rows.h"

#include <algorithm>
#include <array>
#include <charconv>

#include <nlohmann/json.hpp>

#include "sqlite/reads.h"

namespace eventstore::detail {
namespace {

// Changes whenever another connection (of this process or another) has committed to the file,
// as seen by the connection's current or last transaction.
std::optional<unsigned> data_version(Connection& c) {
  unsigned version = 0;
  if (sqlite3_file_control(c.db(), "main", SQLITE_FCNTL_DATA_VERSION, &version) != SQLITE_OK) return std::nullopt;
  return version;
}

}  // namespace

void FeedRows::append(Connection& c, const std::vector<Job>& batch, const std::vector<JobResult>& results) {
  struct Pending {
    const std::string* context;
    std::string events;  // JSON array elements, without the brackets
    std::size_t count = 0;
    std::optional<std::int64_t> last;  // the context's last position, read at the first row
  };
  std::vector<Pending> feeds;  // in order of first appearance; usually one
  // The last positions this writer committed are the file's while no other connection has
  // committed since (the pager's data version, read inside this transaction, is unchanged).
  if (const std::optional<unsigned> version = data_version(c); !version || version != version_) last_.clear();
  written_.clear();
  const auto flush = [&c, this](Pending& feed) {
    if (!feed.last) {
      const auto known =
          std::find_if(last_.begin(), last_.end(), [&feed](const auto& k) { return k.first == *feed.context; });
      feed.last = known != last_.end() ? known->second : feed_head_of(c, *feed.context);
    }
    feed.events.insert(feed.events.begin(), '[');
    feed.events.push_back(']');
    Bound q(c, kFeedInsert);
    q.text(1, *feed.context);
    q.integer(2, *feed.last + static_cast<std::int64_t>(feed.count));
    q.integer(3, *feed.last + 1);
    q.text(4, feed.events);
    q.step("append to the feed");
    *feed.last += static_cast<std::int64_t>(feed.count);
    feed.events.clear();
    feed.count = 0;
  };
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const auto* job = std::get_if<AppendJob>(&batch[i]);
    if (!job || job->inserted_from == 0 || !std::get<0>(results[i]).ok()) continue;
    const std::string& context = job->stream.bounded_context;
    auto feed = std::find_if(feeds.begin(), feeds.end(), [&](const Pending& f) { return *f.context == context; });
    if (feed == feeds.end()) feed = feeds.insert(feeds.end(), Pending{&context, {}, 0, std::nullopt});
    for (std::size_t k = 0; k < job->events.size(); ++k) {
      if (feed->count == kMaxFeedRowEvents) flush(*feed);
      std::string& out = feed->events;
      out += feed->count > 0 ? ",[" : "[";
      out += nlohmann::json(job->stream.aggregate_type).dump();
      out += ",\"";
      out += job->aggregate_id;
      out += "\",";
      std::array<char, 24> digits;
      const auto end =
          std::to_chars(digits.data(), digits.data() + digits.size(), job->inserted_from + static_cast<std::int64_t>(k))
              .ptr;
      out.append(digits.data(), end);
      out += ']';
      ++feed->count;
    }
  }
  for (Pending& feed : feeds) {
    if (feed.count > 0) flush(feed);
    written_.emplace_back(*feed.context, *feed.last);
  }
}

void FeedRows::committed(Connection& c) {
  for (auto& [context, last] : written_) {
    // A named reference: Clang 14 (scripts/check-thread-safety) cannot capture a structured binding.
    const std::string& name = context;
    auto known = std::find_if(last_.begin(), last_.end(), [&name](const auto& k) { return k.first == name; });
    if (known == last_.end()) {
      last_.emplace_back(std::move(context), last);
    } else {
      known->second = last;
    }
  }
  written_.clear();
  version_ = data_version(c);
}

}  // namespace eventstore::detail
