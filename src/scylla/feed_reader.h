// The read side of a cluster's feed (feed.h, docs/feed.md): pages of the feed table, its head,
// the subscribers' checkpoints and the status. The relay (the write side) fills the tables that
// schema.cc creates:
//   feed:             ((bounded_context, bucket), position), static head; position p is in
//                     bucket feed_bucket(p); a bucket's head is its last position
//   feed_relay:       bounded_context -> owner, epoch, lease_expires, markers_scanned_to, head
//   feed_checkpoints: ((bounded_context), name) -> position, updated
// The checkpoints' load and save: feed_checkpoints.h.
//
// Errors, through the callbacks: what validation refuses (kInvalidArgument); kUnavailable,
// kUnauthorized, kInvalidArgument (no schema) from the cluster; kCorruption for a damaged feed row.
//
// Thread safety: call from any thread; callbacks run on a bridge worker thread (or at once on
// the caller's thread for an argument refused).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "eventstore/feed.h"

namespace eventstore::detail {

struct Connection;  // connection.h

// Positions per partition of the feed table.
inline constexpr std::int64_t kFeedBucketSize = 65536;
// The bucket that holds `position` (>= 1).
inline constexpr std::int64_t feed_bucket(std::int64_t position) { return (position - 1) / kFeedBucketSize; }
// The last position of `bucket`.
inline constexpr std::int64_t feed_bucket_end(std::int64_t bucket) { return (bucket + 1) * kFeedBucketSize; }

// Reads at QUORUM the feed partitions from feed_bucket(after + 1) on, `position > after`, at most
// `limit` positions, going on into the next bucket when a bucket's last position was read, and
// stopping at the first missing position (the relay keeps the feed dense, so that is the head).
// with_data: the entries that pass the filter get their data and metadata from event_store, in
// one QUORUM range read per run of consecutive versions of a stream in the page (a feed entry
// whose event_store row is missing or holds another event id is kCorruption).
void scylla_read_feed(const std::shared_ptr<Connection>& connection, const std::string& context,
                      const FeedReadOptions& options, FeedStore::FeedPageCallback callback);

// The feed's last position: feed_relay.head is a hint of the bucket; from there the last rows of
// the feed partitions are read forward (galloping, then bisecting) while buckets are full, or
// backward (bisecting) while they are empty: a couple of reads from a hint that is right.
void scylla_feed_head(const std::shared_ptr<Connection>& connection, const std::string& context,
                      FeedStore::PositionCallback callback);

// The head, the context's checkpoints by name, and the relay's lease when feed_relay has a row
// (live: lease_expires is in the future by this machine's clock; a null owner reads as "").
void scylla_feed_status(const std::shared_ptr<Connection>& connection, const std::string& context,
                        FeedStore::StatusCallback callback);

}  // namespace eventstore::detail
