#include "auth/redis_limit_counters.h"

#include <hiredis.h>

#include <charconv>
#include <cstdio>
#include <vector>

#include <spdlog/spdlog.h>

namespace llmux::auth {

namespace {

// KEYS[1]: the bucket (a hash of level and update time, in ms of Redis's clock).
// ARGV: capacity, need, take, mode ("take": TryTake; "debit": take whatever the level).
// Returns 0, or the milliseconds until `need` is there. A missing bucket is full.
constexpr const char* kBucketScript = R"lua(
local cap = tonumber(ARGV[1])
local need = tonumber(ARGV[2])
local take = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local v = redis.call('HMGET', KEYS[1], 'level', 'at')
local level = cap
local at = now
if v[1] then
  level = tonumber(v[1])
  at = tonumber(v[2])
end
local per_ms = cap / 60000
if now > at then
  level = math.min(cap, level + per_ms * (now - at))
  at = now
end
local wait = 0
if ARGV[4] == 'debit' then
  level = math.min(cap, level - take)
elseif level >= need then
  level = level - take
else
  wait = math.max(1, math.ceil((need - level) / per_ms))
end
redis.call('HSET', KEYS[1], 'level', string.format('%.17g', level), 'at', at)
redis.call('PEXPIRE', KEYS[1], 120000)
return wait
)lua";

// KEYS[1]: the slot counter. ARGV: max, ttl in ms. Returns 1 when a slot was taken.
constexpr const char* kAcquireScript = R"lua(
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n >= tonumber(ARGV[1]) then return 0 end
redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
return 1
)lua";

constexpr const char* kReleaseScript = R"lua(
local n = redis.call('DECR', KEYS[1])
if n <= 0 then redis.call('DEL', KEYS[1]) end
return n
)lua";

std::string Number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

timeval ToTimeval(std::chrono::milliseconds ms) {
  return timeval{static_cast<time_t>(ms.count() / 1000),
                 static_cast<suseconds_t>((ms.count() % 1000) * 1000)};
}

}  // namespace

RedisLimitCounters::RedisLimitCounters(RedisLimitOptions options) : options_(std::move(options)) {}

RedisLimitCounters::~RedisLimitCounters() {
  std::lock_guard lock(mu_);
  Disconnect();
}

Status RedisLimitCounters::ParseAddress(std::string_view address, RedisLimitOptions* options) {
  const size_t colon = address.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return InvalidArgumentError("a Redis address is host:port, not \"" + std::string(address) + "\"");
  }
  std::string_view host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  std::string_view port = address.substr(colon + 1);
  int value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size() || value < 1 || value > 65535) {
    return InvalidArgumentError("the Redis port must be 1-65535 in \"" + std::string(address) + "\"");
  }
  options->host = std::string(host);
  options->port = value;
  return Status::Ok();
}

bool RedisLimitCounters::connected() const {
  std::lock_guard lock(mu_);
  return connected_;
}

void RedisLimitCounters::Disconnect() {
  if (context_) redisFree(context_);
  context_ = nullptr;
}

bool RedisLimitCounters::EnsureConnected() {
  if (context_) return true;
  const auto now = std::chrono::steady_clock::now();
  if (now < retry_at_) return false;
  context_ = redisConnectWithTimeout(options_.host.c_str(), options_.port, ToTimeval(options_.timeout));
  if (context_ == nullptr || context_->err) {
    if (connected_ || retry_at_ == std::chrono::steady_clock::time_point{}) {
      spdlog::warn("limits: Redis at {}:{} unreachable ({}); limits hold per gateway until it answers",
                   options_.host, options_.port, context_ ? context_->errstr : "no memory");
    }
    Disconnect();
    connected_ = false;
    retry_at_ = now + options_.retry_interval;
    return false;
  }
  redisSetTimeout(context_, ToTimeval(options_.timeout));
  return true;
}

std::optional<int64_t> RedisLimitCounters::Eval(const char* script, std::string_view key,
                                                std::initializer_list<std::string> args) {
  std::lock_guard lock(mu_);
  if (!EnsureConnected()) return std::nullopt;
  const std::string full_key = options_.key_prefix + std::string(key);
  std::vector<const char*> argv = {"EVAL", script, "1", full_key.c_str()};
  std::vector<size_t> lens = {4, std::char_traits<char>::length(script), 1, full_key.size()};
  for (const std::string& a : args) {
    argv.push_back(a.c_str());
    lens.push_back(a.size());
  }
  auto* reply = static_cast<redisReply*>(
      redisCommandArgv(context_, static_cast<int>(argv.size()), argv.data(), lens.data()));
  if (reply == nullptr) {  // the connection broke: use memory until the next retry
    spdlog::warn("limits: Redis at {}:{} failed ({}); limits hold per gateway until it answers",
                 options_.host, options_.port, context_->errstr);
    Disconnect();
    connected_ = false;
    retry_at_ = std::chrono::steady_clock::now() + options_.retry_interval;
    return std::nullopt;
  }
  std::optional<int64_t> value;
  if (reply->type == REDIS_REPLY_INTEGER) {
    value = reply->integer;
  } else {
    spdlog::warn("limits: Redis answered an unexpected reply: {}",
                 reply->type == REDIS_REPLY_ERROR ? std::string(reply->str, reply->len) : "not an integer");
  }
  freeReplyObject(reply);
  if (value && !connected_ && retry_at_ != std::chrono::steady_clock::time_point{}) spdlog::info("limits: Redis at {}:{} answers again", options_.host, options_.port);
  connected_ = value.has_value();
  return value;
}

int64_t RedisLimitCounters::TryTake(std::string_view key, int64_t capacity, double need,
                                    double take, int64_t now_ms) {
  if (auto wait = Eval(kBucketScript, key,
                       {std::to_string(capacity), Number(need), Number(take), "take"})) {
    return *wait;
  }
  return fallback_.TryTake(key, capacity, need, take, now_ms);
}

void RedisLimitCounters::Debit(std::string_view key, int64_t capacity, double amount,
                               int64_t now_ms) {
  if (Eval(kBucketScript, key, {std::to_string(capacity), "0", Number(amount), "debit"})) return;
  fallback_.Debit(key, capacity, amount, now_ms);
}

bool RedisLimitCounters::TryAcquireSlot(std::string_view key, int64_t max) {
  const auto ttl_ms = std::chrono::duration_cast<std::chrono::milliseconds>(options_.slot_ttl);
  if (auto taken = Eval(kAcquireScript, key, {std::to_string(max), std::to_string(ttl_ms.count())})) {
    return *taken == 1;
  }
  return fallback_.TryAcquireSlot(key, max);
}

void RedisLimitCounters::ReleaseSlot(std::string_view key) {
  // A slot taken from the fallback is given back there (releasing a slot it never had is a no-op
  // for the in-memory counters); Redis's counter never goes below zero.
  if (!Eval(kReleaseScript, key, {})) fallback_.ReleaseSlot(key);
}

}  // namespace llmux::auth
