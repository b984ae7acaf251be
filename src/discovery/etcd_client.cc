#include "discovery/etcd_client.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <utility>

#include "discovery/etcd_channels.h"

namespace llmux::discovery {
namespace {

using Clock = std::chrono::steady_clock;

std::shared_ptr<grpc::Channel> MakeChannel(const std::string& address) {
  grpc::ChannelArguments args;
  // gRPC's default reconnect backoff grows to two minutes; etcd coming back must be noticed
  // within a second or so, because discovery reconciles only once it can reach etcd again.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  // (Not GRPC_ARG_MIN_RECONNECT_BACKOFF_MS: gRPC also takes it as the connect timeout.)
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  // Pings find a dead peer under a long-lived watch. etcd refuses pings more often than every
  // 5 s (its keepalive enforcement), so stay above that.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 3000);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  // Subchannels of its own, so that a replaced channel (EtcdEndpoint) really reconnects.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

bool Retryable(grpc::StatusCode code) {
  return code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::DEADLINE_EXCEEDED;
}

EtcdKeyValue FromProto(const mvccpb::KeyValue& kv) {
  return {kv.key(), kv.value(), kv.create_revision(), kv.mod_revision(), kv.version(), kv.lease()};
}

std::vector<EtcdKeyValue> FromProto(
    const google::protobuf::RepeatedPtrField<mvccpb::KeyValue>& kvs) {
  std::vector<EtcdKeyValue> out;
  out.reserve(kvs.size());
  for (const auto& kv : kvs) out.push_back(FromProto(kv));
  return out;
}

Status ToProto(const EtcdCompare& c, etcdserverpb::Compare* out) {
  using P = etcdserverpb::Compare;
  out->set_key(c.key);
  switch (c.op) {
    case EtcdCompare::Op::kEqual:
      out->set_result(P::EQUAL);
      break;
    case EtcdCompare::Op::kNotEqual:
      out->set_result(P::NOT_EQUAL);
      break;
    case EtcdCompare::Op::kGreater:
      out->set_result(P::GREATER);
      break;
    case EtcdCompare::Op::kLess:
      out->set_result(P::LESS);
      break;
  }
  switch (c.target) {
    case EtcdCompare::Target::kVersion:
      out->set_target(P::VERSION);
      out->set_version(c.number);
      break;
    case EtcdCompare::Target::kCreateRevision:
      out->set_target(P::CREATE);
      out->set_create_revision(c.number);
      break;
    case EtcdCompare::Target::kModRevision:
      out->set_target(P::MOD);
      out->set_mod_revision(c.number);
      break;
    case EtcdCompare::Target::kValue:
      out->set_target(P::VALUE);
      out->set_value(c.value);
      break;
  }
  if (c.key.empty()) return InvalidArgumentError("etcd txn: a comparison has an empty key");
  return Status::Ok();
}

Status ToProto(const EtcdOp& op, etcdserverpb::RequestOp* out) {
  if (op.key.empty()) return InvalidArgumentError("etcd txn: an operation has an empty key");
  switch (op.type) {
    case EtcdOp::Type::kPut: {
      auto* put = out->mutable_request_put();
      put->set_key(op.key);
      put->set_value(op.value);
      put->set_lease(op.lease);
      break;
    }
    case EtcdOp::Type::kDelete:
      out->mutable_request_delete_range()->set_key(op.key);
      break;
    case EtcdOp::Type::kGet:
      out->mutable_request_range()->set_key(op.key);
      break;
  }
  return Status::Ok();
}

}  // namespace

EtcdConnection::EtcdConnection(const std::string& address)
    : channel(MakeChannel(address)),
      kv(etcdserverpb::KV::NewStub(channel)),
      lease(etcdserverpb::Lease::NewStub(channel)),
      watch(etcdserverpb::Watch::NewStub(channel)) {}

EtcdEndpoint::EtcdEndpoint(std::string address)
    : address_(std::move(address)),
      connection_(std::make_shared<EtcdConnection>(address_)),
      made_(Clock::now()) {}

std::shared_ptr<EtcdConnection> EtcdEndpoint::connection() {
  std::lock_guard lock(mu_);
  return connection_;
}

void EtcdEndpoint::ReplaceIfFailing(const std::shared_ptr<EtcdConnection>& used) {
  std::lock_guard lock(mu_);
  if (connection_ != used || Clock::now() - made_ < std::chrono::milliseconds(200)) return;
  if (used->channel->GetState(false) == GRPC_CHANNEL_READY) return;
  connection_ = std::make_shared<EtcdConnection>(address_);
  made_ = Clock::now();
}

Status StatusFromGrpc(const grpc::Status& status, const std::string& what,
                      const std::string& endpoint) {
  std::string message = "etcd " + what + " at " + endpoint + ": " + status.error_message();
  switch (status.error_code()) {
    case grpc::StatusCode::OK:
      return Status::Ok();
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::CANCELLED:
      return UnavailableError("etcd " + what + " at " + endpoint + ": unavailable (" +
                              status.error_message() + ")");
    case grpc::StatusCode::NOT_FOUND:
      return NotFoundError(std::move(message));
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::FAILED_PRECONDITION:
      return InvalidArgumentError(std::move(message));
    case grpc::StatusCode::OUT_OF_RANGE:
      return OutOfRangeError(std::move(message));
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return ResourceExhaustedError(std::move(message));
    case grpc::StatusCode::PERMISSION_DENIED:
      return PermissionDeniedError(std::move(message));
    case grpc::StatusCode::UNAUTHENTICATED:
      return UnauthenticatedError(std::move(message));
    default:
      return InternalError(std::move(message));
  }
}

// Runs call(endpoint, context) on each endpoint in turn, from the preferred one, until one
// answers or call_timeout is spent; the remaining time is shared among the endpoints left, so
// that a hung endpoint (a stopped etcd accepts connections but never answers) cannot take it all.
template <typename Call>
static Status Invoke(EtcdClient::Channels& channels, std::chrono::milliseconds timeout,
                     const std::string& what, Call&& call) {
  const size_t n = channels.endpoints.size();
  const auto deadline = Clock::now() + timeout;
  const size_t first = channels.preferred.load();
  Status last = UnavailableError("etcd " + what + ": no endpoint answered within " +
                                 std::to_string(timeout.count()) + " ms");
  for (size_t i = 0; i < n; ++i) {
    const size_t index = (first + i) % n;
    EtcdEndpoint& endpoint = *channels.endpoints[index];
    std::shared_ptr<EtcdConnection> connection = endpoint.connection();
    const auto left = deadline - Clock::now();
    if (left <= Clock::duration::zero()) break;
    grpc::ClientContext context;
    // gRPC takes system_clock deadlines only.
    context.set_deadline(std::chrono::system_clock::now() + left / static_cast<int64_t>(n - i));
    grpc::Status status = call(*connection, &context);
    if (status.ok()) {
      channels.preferred.store(index);
      return Status::Ok();
    }
    last = StatusFromGrpc(status, what, endpoint.address());
    if (!Retryable(status.error_code())) return last;
    if (status.error_code() == grpc::StatusCode::UNAVAILABLE) endpoint.ReplaceIfFailing(connection);
  }
  return last;
}

EtcdClient::EtcdClient(EtcdClientOptions options, std::unique_ptr<Channels> channels)
    : options_(std::move(options)), channels_(std::move(channels)) {}

EtcdClient::~EtcdClient() = default;

Result<std::unique_ptr<EtcdClient>> EtcdClient::Create(EtcdClientOptions options) {
  if (options.endpoints.empty()) return InvalidArgumentError("etcd: no endpoints given");
  if (options.call_timeout <= std::chrono::milliseconds::zero()) {
    return InvalidArgumentError("etcd: call_timeout must be positive");
  }
  auto channels = std::make_unique<Channels>();
  for (const std::string& address : options.endpoints) {
    // host:port, as gRPC's target; a scheme would make gRPC read it as a resolver name.
    if (address.empty() || address.find("://") != std::string::npos ||
        address.rfind(':') == std::string::npos) {
      return InvalidArgumentError("etcd: endpoint '" + address + "' is not host:port");
    }
    channels->endpoints.push_back(std::make_unique<EtcdEndpoint>(address));
  }
  return std::unique_ptr<EtcdClient>(new EtcdClient(std::move(options), std::move(channels)));
}

std::string EtcdClient::PrefixRangeEnd(const std::string& prefix) {
  std::string end = prefix;
  while (!end.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(end.back());
    if (last < 0xff) {
      ++last;
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // every key
}

Result<int64_t> EtcdClient::Put(const std::string& key, const std::string& value,
                                int64_t lease_id) {
  etcdserverpb::PutRequest request;
  request.set_key(key);
  request.set_value(value);
  request.set_lease(lease_id);
  etcdserverpb::PutResponse response;
  LLMUX_RETURN_IF_ERROR(Invoke(
      *channels_, options_.call_timeout, "put",
      [&](EtcdConnection& e, grpc::ClientContext* c) { return e.kv->Put(c, request, &response); }));
  return response.header().revision();
}

static Result<EtcdRange> Range(EtcdClient::Channels& channels, std::chrono::milliseconds timeout,
                               etcdserverpb::RangeRequest request) {
  etcdserverpb::RangeResponse response;
  LLMUX_RETURN_IF_ERROR(
      Invoke(channels, timeout, "range", [&](EtcdConnection& e, grpc::ClientContext* c) {
        return e.kv->Range(c, request, &response);
      }));
  return EtcdRange{FromProto(response.kvs()), response.header().revision()};
}

Result<EtcdRange> EtcdClient::Get(const std::string& key) {
  etcdserverpb::RangeRequest request;
  request.set_key(key);
  return Range(*channels_, options_.call_timeout, std::move(request));
}

Result<EtcdRange> EtcdClient::GetPrefix(const std::string& prefix) {
  etcdserverpb::RangeRequest request;
  request.set_key(prefix.empty() ? std::string(1, '\0') : prefix);
  request.set_range_end(PrefixRangeEnd(prefix));
  return Range(*channels_, options_.call_timeout, std::move(request));
}

Result<int64_t> EtcdClient::Delete(const std::string& key) {
  etcdserverpb::DeleteRangeRequest request;
  request.set_key(key);
  etcdserverpb::DeleteRangeResponse response;
  LLMUX_RETURN_IF_ERROR(Invoke(*channels_, options_.call_timeout, "delete",
                               [&](EtcdConnection& e, grpc::ClientContext* c) {
                                 return e.kv->DeleteRange(c, request, &response);
                               }));
  return response.deleted();
}

Result<EtcdTxnResult> EtcdClient::Txn(const EtcdTxn& txn) {
  etcdserverpb::TxnRequest request;
  for (const EtcdCompare& c : txn.compares)
    LLMUX_RETURN_IF_ERROR(ToProto(c, request.add_compare()));
  for (const EtcdOp& op : txn.success) LLMUX_RETURN_IF_ERROR(ToProto(op, request.add_success()));
  for (const EtcdOp& op : txn.failure) LLMUX_RETURN_IF_ERROR(ToProto(op, request.add_failure()));
  etcdserverpb::TxnResponse response;
  LLMUX_RETURN_IF_ERROR(Invoke(
      *channels_, options_.call_timeout, "txn",
      [&](EtcdConnection& e, grpc::ClientContext* c) { return e.kv->Txn(c, request, &response); }));
  EtcdTxnResult result;
  result.succeeded = response.succeeded();
  result.revision = response.header().revision();
  for (const auto& op : response.responses()) {
    if (op.has_response_range()) result.gets.push_back(FromProto(op.response_range().kvs()));
  }
  return result;
}

Result<int64_t> EtcdClient::GrantLease(int64_t ttl_s) {
  if (ttl_s <= 0) return InvalidArgumentError("etcd lease: TTL must be positive");
  etcdserverpb::LeaseGrantRequest request;
  request.set_ttl(ttl_s);
  etcdserverpb::LeaseGrantResponse response;
  LLMUX_RETURN_IF_ERROR(Invoke(*channels_, options_.call_timeout, "lease grant",
                               [&](EtcdConnection& e, grpc::ClientContext* c) {
                                 return e.lease->LeaseGrant(c, request, &response);
                               }));
  if (!response.error().empty()) return InternalError("etcd lease grant: " + response.error());
  return response.id();
}

Status EtcdClient::RevokeLease(int64_t lease_id) {
  etcdserverpb::LeaseRevokeRequest request;
  request.set_id(lease_id);
  etcdserverpb::LeaseRevokeResponse response;
  return Invoke(*channels_, options_.call_timeout, "lease revoke",
                [&](EtcdConnection& e, grpc::ClientContext* c) {
                  return e.lease->LeaseRevoke(c, request, &response);
                });
}

Result<int64_t> EtcdClient::KeepAliveOnce(int64_t lease_id) {
  // etcd has only a streaming keep-alive; one request and its answer on a short stream is what
  // etcdctl's keep-alive --once does, and it keeps every refresh under call_timeout.
  etcdserverpb::LeaseKeepAliveResponse response;
  bool answered = false;
  LLMUX_RETURN_IF_ERROR(Invoke(*channels_, options_.call_timeout, "lease keep-alive",
                               [&](EtcdConnection& e, grpc::ClientContext* c) {
                                 auto stream = e.lease->LeaseKeepAlive(c);
                                 etcdserverpb::LeaseKeepAliveRequest request;
                                 request.set_id(lease_id);
                                 answered = stream->Write(request) && stream->Read(&response);
                                 stream->WritesDone();
                                 if (answered)
                                   c->TryCancel();  // the server would keep the stream open
                                 grpc::Status status = stream->Finish();
                                 return answered ? grpc::Status::OK : status;
                               }));
  if (!answered) return UnavailableError("etcd lease keep-alive: the stream closed unanswered");
  // etcd answers an unknown (expired or revoked) lease with TTL 0 rather than an error.
  if (response.ttl() <= 0) {
    return NotFoundError("etcd lease " + std::to_string(lease_id) + " has expired or was revoked");
  }
  return response.ttl();
}

}  // namespace llmux::discovery
