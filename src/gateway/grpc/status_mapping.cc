#include "gateway/grpc/status_mapping.h"

#include <grpcpp/support/status.h>

#include "gateway/access/status_codes.h"

namespace llmux::gateway {
namespace {

grpc::StatusCode ToGrpcCode(const Status& status) {
  return static_cast<grpc::StatusCode>(GrpcCodeFor(status));
}

}  // namespace

grpc::Status ToGrpcStatus(const Status& status) {
  if (status.ok()) return grpc::Status::OK;
  std::string message = status.message();
  if (!status.field().empty() && message.find(status.field()) == std::string::npos) {
    message = status.field() + ": " + message;
  }
  return grpc::Status(ToGrpcCode(status), message);
}

}  // namespace llmux::gateway
