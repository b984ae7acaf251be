// GrpcServer over TLS: a call with TLS credentials works, a plaintext client or one that
// distrusts the server fails; with a client CA, certificates signed by it are accepted,
// others refused, and require_client_cert refuses clients without one. Bad TLS options and
// files are errors from Start. Certificates come from a throwaway CA made per run.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "gateway/grpc/grpc_server.h"
#include "llmux/v1/inference.grpc.pb.h"
#include "net/http/test_pki.h"
#include "serving/inference_service.h"

namespace llmux::gateway {
namespace {

using http::testing::TestPki;
using namespace std::chrono_literals;

// Lists one model; generation is not needed here.
class OneModelService final : public serving::InferenceService {
 public:
  std::vector<serving::ModelInfo> ListModels() const override {
    serving::ModelInfo model;
    model.id = "tls-model";
    model.ready = true;
    return {model};
  }
  bool Ready() const override { return true; }
  Result<std::shared_ptr<serving::RequestHandle>> Chat(serving::ChatRequest,
                                                       std::shared_ptr<serving::Sink>) override {
    return UnimplementedError("not in this test");
  }
  Result<std::shared_ptr<serving::RequestHandle>> Complete(
      serving::CompletionRequest, std::shared_ptr<serving::Sink>) override {
    return UnimplementedError("not in this test");
  }
};

class GrpcTlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { pki_ = new TestPki(); }
  static void TearDownTestSuite() {
    delete pki_;
    pki_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(pki_->ok()) << pki_->error(); }

  static GrpcServerOptions TlsOptions() {
    GrpcServerOptions options;
    options.host = "127.0.0.1";
    options.port = 0;
    options.tls_cert_file = pki_->server_cert;
    options.tls_key_file = pki_->server_key;
    return options;
  }

  void StartServer(const GrpcServerOptions& options) {
    server_ = std::make_unique<GrpcServer>(service_, options);
    const Status started = server_->Start();
    ASSERT_TRUE(started.ok()) << started.ToString();
    ASSERT_GT(server_->port(), 0);
  }

  Status StartError(const GrpcServerOptions& options) {
    GrpcServer server(service_, options);
    Status status = server.Start();
    EXPECT_FALSE(server.tls());
    return status;
  }

  // TLS credentials trusting `root_file`, with a client certificate when `cert_file` is set.
  static std::shared_ptr<grpc::ChannelCredentials> TlsCredentials(
      const std::string& root_file, const std::string& cert_file = "",
      const std::string& key_file = "") {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = TestPki::Read(root_file);
    if (!cert_file.empty()) {
      ssl.pem_cert_chain = TestPki::Read(cert_file);
      ssl.pem_private_key = TestPki::Read(key_file);
    }
    return grpc::SslCredentials(ssl);
  }

  // ListModels on a fresh channel; OK means the model list arrived.
  grpc::Status CallWith(const std::shared_ptr<grpc::ChannelCredentials>& credentials) {
    auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->port()), credentials);
    auto stub = v1::Inference::NewStub(channel);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 5s);
    v1::ListModelsResponse response;
    grpc::Status status = stub->ListModels(&context, v1::ListModelsRequest(), &response);
    if (status.ok() && (response.models_size() != 1 || response.models(0).id() != "tls-model")) {
      return grpc::Status(grpc::StatusCode::INTERNAL, "unexpected model list");
    }
    return status;
  }

  static TestPki* pki_;
  OneModelService service_;
  std::unique_ptr<GrpcServer> server_;
};

TestPki* GrpcTlsTest::pki_ = nullptr;

TEST_F(GrpcTlsTest, CallOverTlsSucceeds) {
  StartServer(TlsOptions());
  EXPECT_TRUE(server_->tls());
  grpc::Status status = CallWith(TlsCredentials(pki_->ca_cert));
  EXPECT_TRUE(status.ok()) << status.error_code() << " " << status.error_message();
}

TEST_F(GrpcTlsTest, PlaintextClientOnTheTlsPortFails) {
  StartServer(TlsOptions());
  grpc::Status status = CallWith(grpc::InsecureChannelCredentials());
  EXPECT_FALSE(status.ok());
  // The server still serves TLS clients.
  EXPECT_TRUE(CallWith(TlsCredentials(pki_->ca_cert)).ok());
}

TEST_F(GrpcTlsTest, ClientThatDoesNotTrustTheServerFails) {
  StartServer(TlsOptions());
  // Trusts only the rogue self-signed certificate, not the CA that signed the server's.
  EXPECT_FALSE(CallWith(TlsCredentials(pki_->rogue_cert)).ok());
}

TEST_F(GrpcTlsTest, PlainServerRefusesTlsClients) {
  GrpcServerOptions options;
  options.port = 0;
  StartServer(options);
  EXPECT_FALSE(server_->tls());
  EXPECT_TRUE(CallWith(grpc::InsecureChannelCredentials()).ok());
  EXPECT_FALSE(CallWith(TlsCredentials(pki_->ca_cert)).ok());
}

TEST_F(GrpcTlsTest, RequiredClientCertificateMustBeSignedByTheClientCa) {
  GrpcServerOptions options = TlsOptions();
  options.tls_client_ca_file = pki_->ca_cert;
  options.require_client_cert = true;
  StartServer(options);

  grpc::Status without = CallWith(TlsCredentials(pki_->ca_cert));
  EXPECT_FALSE(without.ok()) << "a client without a certificate got in";

  grpc::Status rogue = CallWith(TlsCredentials(pki_->ca_cert, pki_->rogue_cert, pki_->rogue_key));
  EXPECT_FALSE(rogue.ok()) << "a certificate the CA did not sign got in";

  grpc::Status signed_by_ca =
      CallWith(TlsCredentials(pki_->ca_cert, pki_->client_cert, pki_->client_key));
  EXPECT_TRUE(signed_by_ca.ok()) << signed_by_ca.error_code() << " "
                                 << signed_by_ca.error_message();
}

TEST_F(GrpcTlsTest, OptionalClientCertificateIsVerifiedWhenSent) {
  GrpcServerOptions options = TlsOptions();
  options.tls_client_ca_file = pki_->ca_cert;
  options.require_client_cert = false;
  StartServer(options);

  grpc::Status without = CallWith(TlsCredentials(pki_->ca_cert));
  EXPECT_TRUE(without.ok()) << without.error_code() << " " << without.error_message();
  grpc::Status signed_by_ca =
      CallWith(TlsCredentials(pki_->ca_cert, pki_->client_cert, pki_->client_key));
  EXPECT_TRUE(signed_by_ca.ok()) << signed_by_ca.error_code() << " "
                                 << signed_by_ca.error_message();
  grpc::Status rogue = CallWith(TlsCredentials(pki_->ca_cert, pki_->rogue_cert, pki_->rogue_key));
  EXPECT_FALSE(rogue.ok()) << "a certificate the CA did not sign got in";
}

TEST_F(GrpcTlsTest, BadTlsFilesAreErrorsFromStart) {
  const std::string missing = pki_->dir() + "/missing.pem";
  GrpcServerOptions options = TlsOptions();
  options.tls_cert_file = missing;
  Status s = StartError(options);
  EXPECT_EQ(s.code(), StatusCode::kNotFound) << s.ToString();
  EXPECT_NE(s.message().find(missing), std::string::npos) << s.ToString();

  options = TlsOptions();
  options.tls_key_file = missing;
  s = StartError(options);
  EXPECT_EQ(s.code(), StatusCode::kNotFound) << s.ToString();
  EXPECT_NE(s.message().find(missing), std::string::npos) << s.ToString();

  options = TlsOptions();
  options.tls_client_ca_file = missing;
  s = StartError(options);
  EXPECT_EQ(s.code(), StatusCode::kNotFound) << s.ToString();
  EXPECT_NE(s.message().find(missing), std::string::npos) << s.ToString();

  options = TlsOptions();
  options.tls_key_file = pki_->client_key;  // another certificate's key
  s = StartError(options);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find("does not match"), std::string::npos) << s.ToString();

  options = TlsOptions();
  options.tls_client_ca_file = pki_->server_key;  // no certificate in it
  s = StartError(options);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
}

TEST_F(GrpcTlsTest, InconsistentTlsOptionsAreInvalidArguments) {
  GrpcServerOptions options = TlsOptions();
  options.tls_key_file.clear();
  EXPECT_EQ(StartError(options).code(), StatusCode::kInvalidArgument);

  options = TlsOptions();
  options.require_client_cert = true;  // nothing to verify against
  EXPECT_EQ(StartError(options).code(), StatusCode::kInvalidArgument);

  GrpcServerOptions plain;
  plain.port = 0;
  plain.tls_client_ca_file = pki_->ca_cert;  // client certificates without TLS
  EXPECT_EQ(StartError(plain).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace llmux::gateway
