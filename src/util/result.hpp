// Result<T>: a value or an error message carrying its context (file, key, reason).
// Control path only; the hot path reports failures through typed counters instead.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace seqwatch {

struct Error {
  std::string message;  // complete sentence: what failed, where, and what to do about it
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Error e) : v_(std::move(e)) {}      // NOLINT
  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }
  T& value() & { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &std::get<0>(v_); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

}  // namespace seqwatch
