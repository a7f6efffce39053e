// The subscribers' checkpoints of a cluster's feed (FeedStore): rows of feed_checkpoints,
// ((bounded_context), name) -> position, updated.
//
// Invariants: a stored checkpoint never moves backwards.
//
// Errors, through the callbacks: what validate_checkpoint / validate_checkpoint_save refuse
// (kInvalidArgument); kUnavailable (also: too many lost races), kUnauthorized, kOutcomeUnknown
// (after retried unknown rounds) from the cluster.
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

void scylla_load_checkpoint(const std::shared_ptr<Connection>& connection, const std::string& context,
                            const std::string& name, FeedStore::CheckpointCallback callback);

// Forward only, with lightweight transactions: UPDATE ... IF position < new; when the row is
// absent, INSERT ... IF NOT EXISTS; a lost race is retried. An outcome-unknown round is retried
// too (the save is idempotent: the result is the maximum either way).
void scylla_save_checkpoint(const std::shared_ptr<Connection>& connection, const std::string& context,
                            const std::string& name, std::int64_t position, FeedStore::PositionCallback callback);

}  // namespace eventstore::detail
