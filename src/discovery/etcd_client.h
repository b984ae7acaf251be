// EtcdClient: a small etcd v3 client over gRPC (the subset in proto/etcd/): keys, prefixes,
// transactions, leases and watches. Every call returns a Status/Result and never throws; an
// unreachable etcd gives kUnavailable within call_timeout, never a longer hang.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"

namespace llmux::discovery {

struct EtcdClientOptions {
  // host:port of etcd's client URLs (plain http). A call tries them in turn, starting with the
  // last one that answered, and shares call_timeout among them.
  std::vector<std::string> endpoints;
  std::chrono::milliseconds call_timeout{2000};
};

struct EtcdKeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t version = 0;
  int64_t lease = 0;
};

// A read: the keys found and the store's revision at the time of the read (watch from
// revision + 1 to see every later change exactly once).
struct EtcdRange {
  std::vector<EtcdKeyValue> kvs;
  int64_t revision = 0;
};

// One comparison of a transaction: key's target <op> the given number or value.
struct EtcdCompare {
  enum class Target { kVersion, kCreateRevision, kModRevision, kValue };
  enum class Op { kEqual, kNotEqual, kGreater, kLess };
  std::string key;
  Target target = Target::kModRevision;
  Op op = Op::kEqual;
  int64_t number = 0;  // for kVersion, kCreateRevision, kModRevision
  std::string value;   // for kValue
};

// One operation of a transaction branch.
struct EtcdOp {
  enum class Type { kPut, kDelete, kGet };
  Type type = Type::kPut;
  std::string key;
  std::string value;  // kPut
  int64_t lease = 0;  // kPut
  static EtcdOp Put(std::string key, std::string value, int64_t lease = 0) {
    return {Type::kPut, std::move(key), std::move(value), lease};
  }
  static EtcdOp Delete(std::string key) { return {Type::kDelete, std::move(key), {}, 0}; }
  static EtcdOp Get(std::string key) { return {Type::kGet, std::move(key), {}, 0}; }
};

struct EtcdTxn {
  std::vector<EtcdCompare> compares;  // all must hold for `success` to run
  std::vector<EtcdOp> success;
  std::vector<EtcdOp> failure;
};

struct EtcdTxnResult {
  bool succeeded = false;
  int64_t revision = 0;
  // The keys read by each kGet op of the branch that ran, in order.
  std::vector<std::vector<EtcdKeyValue>> gets;
};

struct EtcdEvent {
  enum class Type { kPut, kDelete };
  Type type = Type::kPut;
  EtcdKeyValue kv;  // for kDelete only key and mod_revision are set
  std::optional<EtcdKeyValue> prev_kv;
};

// What a watch reports: a batch of events, or (last of all) why it ended. After an update with
// !error.ok() the watch delivers nothing more.
struct EtcdWatchUpdate {
  std::vector<EtcdEvent> events;
  int64_t revision = 0;  // etcd's revision when the batch was sent
  // Why the watch ended: kUnavailable (stream lost), kOutOfRange (the start revision was
  // compacted: re-read and watch again), kInternal (etcd cancelled the watch).
  Status error;
  int64_t compact_revision = 0;  // with kOutOfRange: etcd's oldest revision still kept
};
using EtcdWatchCallback = std::function<void(const EtcdWatchUpdate&)>;

// A running watch. Its thread calls the callback; destroying the handle (or Cancel) stops the
// thread and waits for it, so the callback never runs after Cancel returns. Cancel must not be
// called from inside the callback.
class EtcdWatch {
 public:
  virtual ~EtcdWatch() = default;
  virtual void Cancel() = 0;
};

class EtcdClient {
 public:
  // Fails only on an empty or malformed endpoint list; connections are made on first use.
  static Result<std::unique_ptr<EtcdClient>> Create(EtcdClientOptions options);
  ~EtcdClient();
  EtcdClient(const EtcdClient&) = delete;
  EtcdClient& operator=(const EtcdClient&) = delete;

  // Returns the revision of the put.
  Result<int64_t> Put(const std::string& key, const std::string& value, int64_t lease_id = 0);
  // At most one kv (none when the key is absent).
  Result<EtcdRange> Get(const std::string& key);
  // Every key that starts with prefix, in key order.
  Result<EtcdRange> GetPrefix(const std::string& prefix);
  // Returns how many keys were deleted (0 or 1).
  Result<int64_t> Delete(const std::string& key);
  Result<EtcdTxnResult> Txn(const EtcdTxn& txn);

  // Returns the lease's id (etcd picks it).
  Result<int64_t> GrantLease(int64_t ttl_s);
  // kNotFound when the lease is already gone.
  Status RevokeLease(int64_t lease_id);
  // One keep-alive round trip: returns the lease's renewed TTL in seconds, kNotFound when the
  // lease has expired or was revoked. Call it about every TTL/3 (WorkerRegistration does).
  Result<int64_t> KeepAliveOnce(int64_t lease_id);

  // Watches every key under prefix from start_revision (0: from now) on a thread of its own.
  // Returns once etcd has confirmed the watch (so every later change is reported), or
  // kUnavailable after call_timeout.
  Result<std::unique_ptr<EtcdWatch>> Watch(const std::string& prefix, int64_t start_revision,
                                           EtcdWatchCallback callback, bool prev_kv = false);

  const EtcdClientOptions& options() const { return options_; }

  struct Channels;  // opaque: the gRPC channels (etcd_channels.h, internal)

  // The end of the range that holds exactly the keys starting with prefix (etcd's convention).
  static std::string PrefixRangeEnd(const std::string& prefix);

 private:
  EtcdClient(EtcdClientOptions options, std::unique_ptr<Channels> channels);

  EtcdClientOptions options_;
  std::unique_ptr<Channels> channels_;
};

}  // namespace llmux::discovery
