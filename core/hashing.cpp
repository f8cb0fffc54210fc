#include "core/hashing.h"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <cstdio>
#include <memory>

#include "core/error.h"

namespace dq {

namespace {
struct Digest {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx{EVP_MD_CTX_new(), &EVP_MD_CTX_free};
  Digest() { DQ_ASSERT(ctx && EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) == 1, "sha256 init"); }
  void update(const void* p, size_t n) { DQ_ASSERT(EVP_DigestUpdate(ctx.get(), p, n) == 1, "sha256 update"); }
  std::string hex() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    DQ_ASSERT(EVP_DigestFinal_ex(ctx.get(), md, &len) == 1, "sha256 final");
    std::string out;
    for (unsigned i = 0; i < len; ++i) out += fmt::format("{:02x}", md[i]);
    return out;
  }
};
}  // namespace

struct Sha256::State {
  Digest digest;
};
Sha256::Sha256() : state_(std::make_unique<State>()) {}
Sha256::~Sha256() = default;
void Sha256::update(const void* data, size_t bytes) { state_->digest.update(data, bytes); }
std::string Sha256::hex() { return state_->digest.hex(); }

std::string sha256_hex(std::string_view data) {
  Digest d;
  d.update(data.data(), data.size());
  return d.hex();
}

std::string sha256_file_hex(const std::string& path) {
  std::unique_ptr<FILE, decltype(&std::fclose)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) throw Error(fmt::format("{}: cannot open for hashing", path));
  Digest d;
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f.get())) > 0) d.update(buf, n);
  return d.hex();
}

}  // namespace dq
