// serving_bench: a client-side serving benchmark for any OpenAI-compatible server (llmux,
// llama-server, vLLM). N workers each send streamed requests back to back; the client
// timestamps every SSE event and reports TTFT, inter-token latency, end-to-end latency and
// output tokens/s with p50/p90/p99.
//
//   serving_bench --url http://127.0.0.1:8080 --model M --concurrency 4 --requests 32
//                 --prompt-tokens 128 --max-tokens 128 [--endpoint chat] [--ignore-eos]
#include <CLI/CLI.hpp>
#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;

namespace {

struct Options {
  std::string url = "http://127.0.0.1:8080";
  std::string model;
  std::string endpoint = "completions";  // or "chat"
  std::string api_key;
  int concurrency = 1;
  int requests = 8;
  int prompt_tokens = 128;
  int max_tokens = 128;
  bool ignore_eos = false;
  int warmup = 1;
  unsigned seed = 1;
  bool json = false;
  int prefix_pairs = 0;  // > 0: the prefix-cache case instead of the load test
  // Keep a request whose stream ends in an error event after its tokens (llama-server's
  // output parser rejects some random-weight text only once generation is over).
  bool tolerate_trailing_error = false;
};

struct Sample {
  bool ok = false;
  std::string error;
  double ttft = 0;  // seconds from sending to the first token
  double e2e = 0;
  std::vector<double> itl;  // gaps between token events
  int output_tokens = 0;    // usage.completion_tokens when reported, else token events
  int prompt_tokens = 0;
  bool trailing_error = false;  // an error event came after the tokens (tolerated)
};

// A prompt of about n tokens: random common words (one token each in most vocabularies),
// different for every request so that no server can reuse a cached prefix.
std::string MakePrompt(int n, std::mt19937& rng) {
  static const char* kWords[] = {"time", "story", "little", "girl", "house", "river", "tree",
                                 "happy", "friend", "small", "dog", "cat", "sun", "day",
                                 "play", "ball", "red", "blue", "big", "went", "saw", "park"};
  std::string s;
  for (int i = 0; i < n; ++i) {
    if (i) s += ' ';
    s += kWords[rng() % (sizeof(kWords) / sizeof(kWords[0]))];
  }
  return s;
}

struct Target {
  std::string host, port, base_path;
};

Target ParseUrl(const std::string& url) {
  std::string rest = url;
  if (rest.rfind("http://", 0) == 0) rest = rest.substr(7);
  Target t;
  const size_t slash = rest.find('/');
  std::string hostport = rest.substr(0, slash);
  t.base_path = slash == std::string::npos ? "" : rest.substr(slash);
  if (!t.base_path.empty() && t.base_path.back() == '/') t.base_path.pop_back();
  const size_t colon = hostport.rfind(':');
  t.host = hostport.substr(0, colon);
  t.port = colon == std::string::npos ? "80" : hostport.substr(colon + 1);
  return t;
}

Sample RunOne(const Options& o, const Target& target, const std::string& prompt) {
  Sample s;
  Json body = {{"model", o.model}, {"max_tokens", o.max_tokens}, {"stream", true},
               {"stream_options", {{"include_usage", true}}}, {"temperature", 0.8},
               {"seed", 42}};
  if (o.ignore_eos) body["ignore_eos"] = true;
  std::string path = target.base_path + "/v1/completions";
  if (o.endpoint == "chat") {
    body["messages"] = Json::array({{{"role", "user"}, {"content", prompt}}});
    path = target.base_path + "/v1/chat/completions";
  } else {
    body["prompt"] = prompt;
  }
  try {
    boost::asio::io_context ioc;
    tcp::resolver resolver(ioc);
    beast::tcp_stream stream(ioc);
    stream.connect(resolver.resolve(target.host, target.port));
    http::request<http::string_body> req{http::verb::post, path, 11};
    req.set(http::field::host, target.host);
    req.set(http::field::content_type, "application/json");
    if (!o.api_key.empty()) req.set(http::field::authorization, "Bearer " + o.api_key);
    req.body() = body.dump();
    req.prepare_payload();

    const auto t0 = Clock::now();
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response_parser<http::empty_body> header_parser;
    header_parser.body_limit(boost::none);
    http::read_header(stream, buffer, header_parser);
    if (header_parser.get().result_int() != 200) {
      s.error = "HTTP " + std::to_string(header_parser.get().result_int());
      return s;
    }
    // Read the body as it arrives; split into SSE events on blank lines.
    http::response_parser<http::buffer_body> parser(std::move(header_parser));
    std::string pending;
    Clock::time_point last{};
    int token_events = 0;
    bool done = false;
    char chunk[16384];
    while (!parser.is_done() && !done) {
      parser.get().body().data = chunk;
      parser.get().body().size = sizeof(chunk);
      beast::error_code ec;
      http::read_some(stream, buffer, parser, ec);  // whatever has arrived, not a full buffer
      if (ec && ec != http::error::need_buffer) throw beast::system_error(ec);
      const size_t got = sizeof(chunk) - parser.get().body().size;
      const auto now = Clock::now();
      pending.append(chunk, got);
      size_t pos;
      while ((pos = pending.find("\n\n")) != std::string::npos) {
        std::string event = pending.substr(0, pos);
        pending.erase(0, pos + 2);
        if (event.rfind("data: ", 0) != 0) continue;
        std::string data = event.substr(6);
        if (data == "[DONE]") {
          done = true;
          break;
        }
        Json j = Json::parse(data, nullptr, false);
        if (j.is_discarded()) continue;
        if (j.contains("error")) {
          s.error = j["error"].value("message", "error event");
          if (o.tolerate_trailing_error && token_events > 0) {
            s.trailing_error = true;
            done = true;
            break;
          }
          return s;
        }
        if (j.contains("usage") && j["usage"].is_object()) {
          s.output_tokens = j["usage"].value("completion_tokens", 0);
          s.prompt_tokens = j["usage"].value("prompt_tokens", 0);
        }
        if (!j.contains("choices") || j["choices"].empty()) continue;
        const Json& c = j["choices"][0];
        std::string text;
        if (c.contains("text") && c["text"].is_string()) text = c["text"];
        if (c.contains("delta")) {
          const Json& d = c["delta"];
          if (d.contains("content") && d["content"].is_string()) text += d["content"].get<std::string>();
          if (d.contains("reasoning_content") && d["reasoning_content"].is_string()) {
            text += d["reasoning_content"].get<std::string>();
          }
        }
        if (text.empty()) continue;
        if (token_events == 0) {
          s.ttft = std::chrono::duration<double>(now - t0).count();
        } else {
          s.itl.push_back(std::chrono::duration<double>(now - last).count());
        }
        last = now;
        ++token_events;
      }
    }
    s.e2e = std::chrono::duration<double>(Clock::now() - t0).count();
    if (s.output_tokens == 0) s.output_tokens = token_events;
    s.ok = token_events > 0;
    if (!s.ok) s.error = "no tokens";
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  } catch (const std::exception& e) {
    s.error = e.what();
  }
  return s;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const double rank = p / 100.0 * (v.size() - 1);
  const size_t lo = static_cast<size_t>(rank);
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (rank - lo);
}

// The prefix-cache case: request A = P + "a ...", then B = P + "b ...": a server with
// prefix caching skips P's prefill for B, so B's TTFT drops.
int RunPrefixPairs(const Options& o, const Target& target) {
  std::mt19937 rng(o.seed + 7);
  std::vector<double> first, second;
  for (int i = 0; i < o.prefix_pairs + o.warmup; ++i) {
    const std::string prefix = MakePrompt(o.prompt_tokens, rng);
    Sample a = RunOne(o, target, prefix + " girl went to the park");
    Sample b = RunOne(o, target, prefix + " dog saw the red ball");
    if (!a.ok || !b.ok) {
      std::fprintf(stderr, "request failed: %s\n", (a.ok ? b : a).error.c_str());
      return 1;
    }
    if (i < o.warmup) continue;
    first.push_back(a.ttft * 1000);
    second.push_back(b.ttft * 1000);
  }
  const double p50a = Percentile(first, 50), p50b = Percentile(second, 50);
  if (o.json) {
    Json j = {{"prefix_pairs", o.prefix_pairs}, {"prompt_tokens", o.prompt_tokens},
              {"first_ttft_ms_p50", p50a}, {"second_ttft_ms_p50", p50b},
              {"second_over_first", p50b / p50a}};
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("prefix cache, %d pairs of ~%d-token prompts: TTFT p50 first %.1f ms, second %.1f ms "
                "(second/first %.2f)\n",
                o.prefix_pairs, o.prompt_tokens, p50a, p50b, p50b / p50a);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"serving_bench: TTFT, inter-token latency and throughput of an OpenAI-compatible server"};
  app.add_option("--url", o.url, "server base URL")->capture_default_str();
  app.add_option("--model", o.model, "model name")->required();
  app.add_option("--endpoint", o.endpoint, "completions or chat")->capture_default_str();
  app.add_option("--api-key", o.api_key, "Bearer token");
  app.add_option("-c,--concurrency", o.concurrency, "requests in flight")->capture_default_str();
  app.add_option("-n,--requests", o.requests, "requests measured")->capture_default_str();
  app.add_option("--prompt-tokens", o.prompt_tokens, "prompt length in words (≈ tokens)")->capture_default_str();
  app.add_option("--max-tokens", o.max_tokens, "tokens to generate per request")->capture_default_str();
  app.add_flag("--ignore-eos", o.ignore_eos, "ask the server to generate max-tokens every time");
  app.add_option("--warmup", o.warmup, "unmeasured requests first")->capture_default_str();
  app.add_option("--seed", o.seed, "prompt seed")->capture_default_str();
  app.add_flag("--json", o.json, "print one JSON line instead of the table");
  app.add_flag("--tolerate-trailing-error", o.tolerate_trailing_error,
               "count a stream that ends in an error event after its tokens as done");
  app.add_option("--prefix-pairs", o.prefix_pairs,
                 "prefix-cache case: this many pairs of requests, one after the other, sharing a "
                 "prompt of --prompt-tokens words and differing only in their last words; prints "
                 "the TTFT of the second against the first");
  CLI11_PARSE(app, argc, argv);
  const Target target = ParseUrl(o.url);
  if (o.prefix_pairs > 0) return RunPrefixPairs(o, target);

  std::mt19937 rng(o.seed);
  for (int i = 0; i < o.warmup; ++i) {
    Sample w = RunOne(o, target, MakePrompt(o.prompt_tokens, rng));
    if (!w.ok) {
      std::fprintf(stderr, "warm-up request failed: %s\n", w.error.c_str());
      return 1;
    }
  }
  std::vector<std::string> prompts;
  for (int i = 0; i < o.requests; ++i) prompts.push_back(MakePrompt(o.prompt_tokens, rng));

  std::mutex mu;
  int next = 0;
  std::vector<Sample> samples;
  const auto t0 = Clock::now();
  std::vector<std::thread> workers;
  for (int w = 0; w < o.concurrency; ++w) {
    workers.emplace_back([&] {
      for (;;) {
        int i;
        {
          std::lock_guard<std::mutex> lock(mu);
          if (next >= o.requests) return;
          i = next++;
        }
        Sample s = RunOne(o, target, prompts[i]);
        std::lock_guard<std::mutex> lock(mu);
        samples.push_back(std::move(s));
      }
    });
  }
  for (auto& t : workers) t.join();
  const double wall = std::chrono::duration<double>(Clock::now() - t0).count();

  std::vector<double> ttft, itl, e2e;
  long output = 0, prompt = 0;
  int failed = 0, trailing = 0;
  for (const Sample& s : samples) {
    trailing += s.trailing_error;
    if (!s.ok) {
      if (++failed == 1) std::fprintf(stderr, "request failed: %s\n", s.error.c_str());
      continue;
    }
    ttft.push_back(s.ttft * 1000);
    e2e.push_back(s.e2e * 1000);
    for (double g : s.itl) itl.push_back(g * 1000);
    output += s.output_tokens;
    prompt += s.prompt_tokens;
  }
  const int ok = static_cast<int>(samples.size()) - failed;
  const double tps = output / wall;
  if (o.json) {
    Json j = {{"concurrency", o.concurrency}, {"requests", ok}, {"failed", failed},
              {"wall_s", wall}, {"output_tokens_per_s", tps}, {"requests_per_s", ok / wall},
              {"mean_prompt_tokens", ok ? double(prompt) / ok : 0.0},
              {"mean_output_tokens", ok ? double(output) / ok : 0.0}};
    for (auto [name, v] : {std::pair{"ttft_ms", &ttft}, {"itl_ms", &itl}, {"e2e_ms", &e2e}}) {
      j[name] = {{"p50", Percentile(*v, 50)}, {"p90", Percentile(*v, 90)}, {"p99", Percentile(*v, 99)}};
    }
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("concurrency %d: %d requests ok, %d failed, %.2f s, mean prompt %.0f, mean output %.0f tokens\n",
                o.concurrency, ok, failed, wall, ok ? double(prompt) / ok : 0.0,
                ok ? double(output) / ok : 0.0);
    std::printf("output tokens/s %.1f   requests/s %.2f\n", tps, ok / wall);
    if (trailing > 0) {
      std::printf("(%d streams ended in an error event after their tokens; counted)\n", trailing);
    }
    std::printf("%-10s %10s %10s %10s\n", "ms", "p50", "p90", "p99");
    for (auto [name, v] : {std::pair{"TTFT", &ttft}, {"ITL", &itl}, {"E2E", &e2e}}) {
      std::printf("%-10s %10.1f %10.1f %10.1f\n", name, Percentile(*v, 50), Percentile(*v, 90),
                  Percentile(*v, 99));
    }
  }
  return failed == static_cast<int>(samples.size()) ? 1 : 0;
}
