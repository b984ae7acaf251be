// Status and Result<T>: the one error type used at module boundaries.
// Nothing on the inference path throws; functions that can fail return one of these.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace llmux {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  // caller passed something malformed
  kNotFound,
  kDataLoss,         // a file is truncated or corrupt
  kUnimplemented,    // valid input we do not support (yet)
  kOutOfRange,
  kResourceExhausted,
  kIoError,
  kInternal,
  kUnavailable,       // try again later (loading, shutting down)
  kDeadlineExceeded,
  kAlreadyExists,     // a unique name or id is taken
  kUnauthenticated,   // no credentials, or credentials that prove nothing (bad key, bad token)
  kPermissionDenied,  // a known caller asked for something its permissions do not allow
};

const char* StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "DATA_LOSS: tensor 'x' extends past end of file"
  std::string ToString() const;

  // Prefix the message with context, keeping the code: "loading model: <old message>".
  Status WithContext(const std::string& context) const {
    Status s = ok() ? *this : Status(code_, context + ": " + message_);
    s.field_ = field_;
    return s;
  }

  // The request field at fault, for protocols that name it (OpenAI's `param`).
  const std::string& field() const { return field_; }
  Status WithField(std::string field) const {
    Status s = *this;
    s.field_ = std::move(field);
    return s;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  std::string field_;
};

inline Status InvalidArgumentError(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
inline Status NotFoundError(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status DataLossError(std::string m) { return {StatusCode::kDataLoss, std::move(m)}; }
inline Status UnimplementedError(std::string m) { return {StatusCode::kUnimplemented, std::move(m)}; }
inline Status OutOfRangeError(std::string m) { return {StatusCode::kOutOfRange, std::move(m)}; }
inline Status ResourceExhaustedError(std::string m) { return {StatusCode::kResourceExhausted, std::move(m)}; }
inline Status IoError(std::string m) { return {StatusCode::kIoError, std::move(m)}; }
inline Status InternalError(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
inline Status UnavailableError(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status DeadlineExceededError(std::string m) {
  return {StatusCode::kDeadlineExceeded, std::move(m)};
}
inline Status AlreadyExistsError(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
inline Status UnauthenticatedError(std::string m) {
  return {StatusCode::kUnauthenticated, std::move(m)};
}
inline Status PermissionDeniedError(std::string m) {
  return {StatusCode::kPermissionDenied, std::move(m)};
}

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) { assert(!std::get<Status>(v_).ok()); }  // NOLINT

  bool ok() const { return std::holds_alternative<T>(v_); }
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(v_); }

  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace llmux

#define LLMUX_CONCAT_INNER(a, b) a##b
#define LLMUX_CONCAT(a, b) LLMUX_CONCAT_INNER(a, b)

#define LLMUX_RETURN_IF_ERROR(expr)              \
  do {                                           \
    ::llmux::Status _llmux_st = (expr);          \
    if (!_llmux_st.ok()) return _llmux_st;       \
  } while (0)

#define LLMUX_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return tmp.status();               \
  lhs = std::move(tmp).value()

// LLMUX_ASSIGN_OR_RETURN(auto x, MakeX()); returns the error status if MakeX failed.
#define LLMUX_ASSIGN_OR_RETURN(lhs, expr) \
  LLMUX_ASSIGN_OR_RETURN_IMPL(LLMUX_CONCAT(_llmux_r_, __LINE__), lhs, expr)
