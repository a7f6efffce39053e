// One hexadecimal digit: the \u escapes of JSON strings, the percent escapes of store URIs and
// the digits of UUIDs.
//
// Errors: none (a character that is not a digit gives -1).
// Thread safety: a pure function.
#pragma once

namespace eventstore::detail {

// The value 0..15 of `c`, a hexadecimal digit of either case; -1 for any other character.
constexpr int hex_digit_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace eventstore::detail
