// EVENTSTORE_EXPORT marks what libeventstore.so exports: every public class and free function of
// include/eventstore. The library is compiled with hidden visibility (CXX_VISIBILITY_PRESET
// hidden, VISIBILITY_INLINES_HIDDEN), so everything else (eventstore::detail, the backends, the
// SQLite and Rust driver code inside) stays private to it and can change without breaking an
// application.
//
// Invariants: default visibility while the library's own sources are compiled (the build defines
// EVENTSTORE_COMPILE_LIBRARY for them), nothing otherwise; an application needs no definition.
// Errors: none (a macro).
// Thread safety: not applicable.
#pragma once

#if defined(EVENTSTORE_COMPILE_LIBRARY)
#define EVENTSTORE_EXPORT __attribute__((visibility("default")))
#else
#define EVENTSTORE_EXPORT
#endif
