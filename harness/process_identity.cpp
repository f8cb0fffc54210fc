#include "harness/process_identity.h"

#include <fmt/format.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "core/error.h"

namespace dq {

namespace {

std::string boot_id() {
  static const std::string id = [] {
    std::ifstream in("/proc/sys/kernel/random/boot_id");
    std::string s;
    std::getline(in, s);
    return s;
  }();
  return id;
}

// Fields 3 (state) and 22 (starttime) of /proc/<pid>/stat; false if the process does not exist.
bool read_stat(int64_t pid, char& state, std::string& start_ticks) {
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  std::string line;
  if (!in || !std::getline(in, line)) return false;
  const auto close = line.rfind(')');  // the command name may hold spaces and parentheses
  if (close == std::string::npos) return false;
  std::istringstream rest(line.substr(close + 1));
  std::string field;
  // After ')' come field 3 (state) .. field 22 (starttime).
  for (int i = 3; i <= 22; ++i) {
    if (!(rest >> field)) return false;
    if (i == 3) state = field.empty() ? '?' : field[0];
  }
  start_ticks = field;
  return true;
}

}  // namespace

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "unknown-host";
  return buf;
}

ProcessIdentity ProcessIdentity::of(int64_t pid) {
  char state = '?';
  std::string ticks;
  if (!read_stat(pid, state, ticks)) throw Error(fmt::format("process {} does not exist", pid));
  return {host_name(), pid, boot_id() + "/" + ticks};
}

ProcessIdentity ProcessIdentity::self() {
  static const ProcessIdentity me = of(::getpid());
  // After fork() the cached value belongs to the parent.
  if (me.pid != ::getpid()) return of(::getpid());
  return me;
}

Liveness liveness(const ProcessIdentity& who) {
  if (who.host.empty() || who.pid <= 0 || who.start.empty() || who.host != host_name()) return Liveness::Unknown;
  if (who.start.rfind(boot_id() + "/", 0) != 0) return Liveness::Dead;  // recorded before a reboot
  char state = '?';
  std::string ticks;
  if (!read_stat(who.pid, state, ticks)) return Liveness::Dead;
  if (state == 'Z' || state == 'X') return Liveness::Dead;
  return boot_id() + "/" + ticks == who.start ? Liveness::Alive : Liveness::Dead;
}

}  // namespace dq
