#include "mcp/json_rpc.h"

#include <gtest/gtest.h>

#include "mcp/stdio_lines.h"

namespace llmux::mcp {
namespace {

// Found by fuzz/mcp_message_fuzz: an error response without "code" made ParseMessage read a
// missing member through const operator[] (a heap-buffer-overflow under ASan).
TEST(JsonRpcTest, AnErrorResponseWithoutAnIntegerCodeIsRefused) {
  for (const char* text :
       {R"({"jsonrpc":"2.0","id":"llmux-2","error":{"c((((ode":-1,"message":"no"}})",
        R"({"jsonrpc":"2.0","id":1,"error":{}})",
        R"({"jsonrpc":"2.0","id":1,"error":{"code":"-1"}})",
        R"({"jsonrpc":"2.0","id":1,"error":{"code":1.5}})",
        R"({"jsonrpc":"2.0","id":1,"error":[{"code":1}]})"}) {
    Json id;
    auto parsed = ParseMessage(Json::parse(text), &id);
    ASSERT_FALSE(parsed.ok()) << text;
    EXPECT_EQ(parsed.status().message(), "\"error\" must be an object with an integer \"code\"");
    EXPECT_FALSE(id.is_null()) << "the reply still names the id: " << text;

    const DecodedLine line = DecodeLine(text);
    ASSERT_TRUE(line.error_reply.has_value()) << text;
    EXPECT_EQ((*line.error_reply)["error"]["code"], rpc_error::kInvalidRequest);
  }
  Json id;
  auto ok = ParseMessage(Json::parse(R"({"jsonrpc":"2.0","id":1,"error":{"code":-5}})"), &id);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->error->code, -5);
}

}  // namespace
}  // namespace llmux::mcp
