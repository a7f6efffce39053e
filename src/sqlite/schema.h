// The file's schema: its identity (application_id "EVST", user_version = the schema revision),
// WAL mode, the tables, and the feed's rows filled in for a file written before the feed.
//
// Invariants: after open_schema the file is in WAL mode, carries kApplicationId and
// kSchemaVersion, and has every table and view of that revision; a file of revision 1 has had its
// feed filled from its events, in the same transaction that created the feed's tables; one of
// revision 1 or 2 gets an empty stream_lifecycle table (none of its streams was ever truncated).
// Errors: open_schema throws kCorruption for a file that is some other SQLite file or of a newer
// revision (before changing anything in it), kUnavailable when it cannot switch to WAL within
// busy_timeout, and what Connection throws.
// Thread safety: open_schema uses the connection it is given, on the caller's thread; other
// processes may open the same file at the same time (the schema is created in one transaction).
#pragma once

#include <cstdint>

#include "sqlite/connection.h"

namespace eventstore::detail {

// "EVST": marks a file as ours in the SQLite header (PRAGMA application_id).
constexpr std::int32_t kApplicationId = 0x45565354;
// PRAGMA user_version: the schema revision this code writes and reads. 2 added the feed's
// tables, which a library of revision 1 would not fill: it refuses the file. 3 added
// stream_lifecycle, which a library of revision 2 would ignore (reading a truncated stream as
// damaged, accepting writes to a hard-deleted one): it refuses the file too.
constexpr std::int32_t kSchemaVersion = 3;

// Checks that the file is ours (or empty), switches it to WAL, applies the write pragmas and
// creates what is missing. `writer` is the connection that will write.
void open_schema(Connection& writer);

}  // namespace eventstore::detail
