#include "harness/provenance.h"

#include <faiss/Index.h>
#include <fmt/format.h>
#include <sqlite3.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <thread>

#include "core/code_identity.h"

namespace dq {

namespace {
std::string command_output(const std::string& cmd) {
  std::unique_ptr<FILE, decltype(&pclose)> pipe(popen(cmd.c_str(), "r"), &pclose);
  if (!pipe) return "";
  std::string out;
  std::array<char, 256> buf{};
  while (fgets(buf.data(), buf.size(), pipe.get())) out += buf.data();
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      return colon == std::string::npos ? line : line.substr(colon + 2);
    }
  return "unknown";
}
}  // namespace

Provenance collect_provenance(int64_t threads, const std::string& torch_version, const std::string& command_line) {
  Provenance p;
  const std::string src = DQ_SOURCE_DIR;
  p.git_commit = command_output("git -C '" + src + "' rev-parse HEAD 2>/dev/null");
  if (p.git_commit.empty()) p.git_commit = "unknown";
  p.git_dirty = !command_output("git -C '" + src + "' status --porcelain --untracked-files=no 2>/dev/null").empty();
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  p.host = host;
  p.cpu_model = cpu_model();
  p.cores = static_cast<int64_t>(std::thread::hardware_concurrency());
  p.threads = threads > 0 ? threads : p.cores;
  p.torch_version = torch_version;
  p.faiss_version = fmt::format("{}.{}.{}", FAISS_VERSION_MAJOR, FAISS_VERSION_MINOR, FAISS_VERSION_PATCH);
  p.sqlite_version = sqlite3_libversion();
#ifdef DQ_BUILD_TYPE
  p.build_type = DQ_BUILD_TYPE;
#endif
  const char* wait = std::getenv("OMP_WAIT_POLICY");
  p.omp_wait_policy = wait ? wait : "";
  p.command_line = command_line;
  p.code_identity = build_code_identity();
  p.library_versions = library_versions();
  double load[1] = {-1};
  p.load1_end = getloadavg(load, 1) == 1 ? load[0] : -1;
  return p;
}

}  // namespace dq
