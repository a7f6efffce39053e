// StreamId: the identity of one aggregate's event stream. Bounded contexts and aggregate types
// are separate namespaces: the same aggregate id under two contexts (or two types) is two
// streams. On the cluster backend the three fields are the partition key.
//
// Thread safety: a value type.
#pragma once

#include <compare>
#include <string>

#include "eventstore/export.h"
#include "eventstore/uuid.h"

namespace eventstore {

struct EVENTSTORE_EXPORT StreamId {
  std::string bounded_context;  // non-empty valid UTF-8, at most Limits::max_identifier_bytes
  std::string aggregate_type;   // non-empty valid UTF-8, at most Limits::max_identifier_bytes
  Uuid aggregate_id;

  friend auto operator<=>(const StreamId&, const StreamId&) = default;
};

// "context/type/uuid", for messages.
EVENTSTORE_EXPORT std::string to_string(const StreamId& stream);

}  // namespace eventstore
