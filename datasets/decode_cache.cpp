#include "datasets/decode_cache.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/code_identity.h"
#include "core/error.h"
#include "core/hashing.h"
#include "datasets/big_buffer.h"
#include "datasets/source_files.h"

namespace dq {

namespace {

constexpr char kMagic[8] = {'D', 'Q', 'D', 'S', 'E', 'T', '0', '1'};
constexpr uint64_t kAlign = 64;

uint64_t align_up(uint64_t v) { return (v + kAlign - 1) / kAlign * kAlign; }

uint32_t crc32_of(const void* data, uint64_t bytes) {
  uLong crc = crc32(0L, Z_NULL, 0);
  const auto* p = static_cast<const Bytef*>(data);
  while (bytes > 0) {
    const uInt chunk = static_cast<uInt>(std::min<uint64_t>(bytes, 1u << 30));
    crc = crc32(crc, p, chunk);
    p += chunk;
    bytes -= chunk;
  }
  return static_cast<uint32_t>(crc);
}

struct Section {
  std::string name;
  const void* data;
  uint64_t bytes;
};

nlohmann::json shape_json(const ImageSet& s) {
  return {{"n", s.n}, {"channels", s.channels}, {"height", s.height}, {"width", s.width}};
}

// Read-only mapping of a whole file; unmapped on destruction.
class MappedFile {
 public:
  explicit MappedFile(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    struct stat st{};
    if (::fstat(fd, &st) == 0 && st.st_size > 0) {
      size_ = static_cast<uint64_t>(st.st_size);
      // MAP_POPULATE maps every page in one go: far cheaper than one fault per 4 KiB page.
      void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
      if (p != MAP_FAILED) data_ = static_cast<const uint8_t*>(p);
    }
    ::close(fd);
  }
  ~MappedFile() {
    if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
  }
  MappedFile(const MappedFile&) = delete;
  const uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }

 private:
  const uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
};

// Appends a section from the mapping to `out` (empty) while computing its CRC, chunk by chunk
// so that each chunk is checked while still in cache. No zero-filling of `out` first.
template <class T>
bool copy_section(const uint8_t* src, uint64_t bytes, uint32_t expected_crc, std::vector<T>& out) {
  if (bytes % sizeof(T) != 0) return false;
  reserve_with_huge_pages(out, bytes / sizeof(T));
  uLong crc = crc32(0L, Z_NULL, 0);
  constexpr uint64_t kChunk = uint64_t{1} << 20;  // a multiple of sizeof(T)
  for (uint64_t done = 0; done < bytes;) {
    const uint64_t chunk = std::min<uint64_t>(bytes - done, kChunk);
    const auto* first = reinterpret_cast<const T*>(src + done);
    const size_t old_size = out.size();
    out.insert(out.end(), first, first + chunk / sizeof(T));
    crc = crc32(crc, reinterpret_cast<const Bytef*>(out.data() + old_size), static_cast<uInt>(chunk));
    done += chunk;
  }
  return static_cast<uint32_t>(crc) == expected_crc;
}

}  // namespace

std::string dataset_cache_path(const std::string& cache_dir, const std::string& kind, const std::string& fingerprint) {
  return fmt::format("{}/{}-{}.dqds", cache_dir, kind, sha256_hex(fingerprint).substr(0, 24));
}

void write_dataset_cache(const Dataset& d, const std::string& path) {
  const std::vector<Section> sections = {
      {"train_pixels", d.train.pixels.data(), d.train.pixels.size()},
      {"train_labels", d.train.labels.data(), d.train.labels.size() * sizeof(int64_t)},
      {"test_pixels", d.test.pixels.data(), d.test.pixels.size()},
      {"test_labels", d.test.labels.data(), d.test.labels.size() * sizeof(int64_t)},
      {"train_features", d.train_features.data(), d.train_features.size() * sizeof(float)},
  };
  nlohmann::json header = {{"kind", d.kind},
                           {"fingerprint", d.fingerprint},
                           {"content_sha256", dataset_identity(d)},
                           {"class_names", d.class_names},
                           {"load_report", d.load_report},
                           {"train", shape_json(d.train)},
                           {"test", shape_json(d.test)},
                           {"feature_dim", d.feature_dim}};
  // Offsets depend on the header's length, which depends on the offsets' digits: lay the sections
  // out after a header size rounded up generously, then pad the header text to exactly that size.
  nlohmann::json layout = nlohmann::json::array();
  for (const auto& s : sections) layout.push_back({{"name", s.name}, {"offset", 0}, {"bytes", s.bytes}, {"crc32", 0}});
  header["sections"] = layout;
  header["file_size"] = 0;
  const uint64_t header_room = align_up(header.dump().size() + 16 * 8 * sections.size() + 64);
  uint64_t offset = align_up(sizeof kMagic + 8 + header_room);
  for (size_t i = 0; i < sections.size(); ++i) {
    header["sections"][i]["offset"] = offset;
    header["sections"][i]["crc32"] = crc32_of(sections[i].data, sections[i].bytes);
    offset = align_up(offset + sections[i].bytes);
  }
  header["file_size"] = offset;
  std::string text = header.dump();
  DQ_ASSERT(text.size() <= header_room, "cache header outgrew its room");
  text.resize(header_room, ' ');  // JSON ignores trailing whitespace

  AtomicFileWriter out(path);
  const uint64_t header_len = text.size();
  out.write(kMagic, sizeof kMagic);
  out.write(&header_len, 8);
  out.write(text.data(), text.size());
  uint64_t at = sizeof kMagic + 8 + header_room;
  const std::vector<uint8_t> zeros(kAlign, 0);
  for (size_t i = 0; i < sections.size(); ++i) {
    const uint64_t target = header["sections"][i]["offset"].get<uint64_t>();
    out.write(zeros.data(), target - at);
    out.write(sections[i].data, sections[i].bytes);
    at = target + sections[i].bytes;
  }
  out.write(zeros.data(), offset - at);
  out.commit();
}

std::optional<Dataset> read_dataset_cache(const std::string& path, const std::string& expected_fingerprint,
                                          std::string* why_not) {
  auto fail = [&](const std::string& why) -> std::optional<Dataset> {
    if (why_not) *why_not = why;
    return std::nullopt;
  };
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return fail("no cache file");
  const MappedFile file(path);
  if (!file.data()) return fail("cannot map the cache file (empty or unreadable)");
  if (file.size() < sizeof kMagic + 8 || std::memcmp(file.data(), kMagic, sizeof kMagic) != 0)
    return fail("not a dataset cache file (bad magic)");
  uint64_t header_len = 0;
  std::memcpy(&header_len, file.data() + sizeof kMagic, 8);
  if (header_len > file.size() - sizeof kMagic - 8) return fail("truncated header");
  nlohmann::json h;
  try {
    h = nlohmann::json::parse(file.data() + sizeof kMagic + 8, file.data() + sizeof kMagic + 8 + header_len);
    if (h.at("file_size").get<uint64_t>() != file.size())
      return fail(fmt::format("file is {} bytes, header says {} (truncated or overwritten)", file.size(),
                              h.at("file_size").get<uint64_t>()));
    if (h.at("fingerprint").get<std::string>() != expected_fingerprint) return fail("fingerprint differs");
    Dataset d;
    d.kind = h.at("kind").get<std::string>();
    d.fingerprint = expected_fingerprint;
    // Trusted because every section's CRC is checked below: the bytes are those it was computed from.
    d.content_sha256 = h.at("content_sha256").get<std::string>();
    d.class_names = h.at("class_names").get<std::vector<std::string>>();
    d.load_report = h.at("load_report").get<std::map<std::string, double>>();
    d.feature_dim = h.at("feature_dim").get<int64_t>();
    for (auto* s : {&d.train, &d.test}) {
      const auto& j = h.at(s == &d.train ? "train" : "test");
      s->n = j.at("n").get<int64_t>();
      s->channels = j.at("channels").get<int64_t>();
      s->height = j.at("height").get<int64_t>();
      s->width = j.at("width").get<int64_t>();
    }
    for (const auto& sec : h.at("sections")) {
      const std::string name = sec.at("name").get<std::string>();
      const uint64_t offset = sec.at("offset").get<uint64_t>(), bytes = sec.at("bytes").get<uint64_t>();
      if (offset > file.size() || bytes > file.size() - offset) return fail("section " + name + " out of bounds");
      const uint8_t* src = file.data() + offset;
      const uint32_t crc = sec.at("crc32").get<uint32_t>();
      const std::map<std::string, uint64_t> expected_bytes = {
          {"train_pixels", d.train.n * d.train.image_bytes()}, {"test_pixels", d.test.n * d.test.image_bytes()},
          {"train_labels", d.train.n * 8}, {"test_labels", d.test.n * 8},
          {"train_features", d.train.n * d.feature_dim * 4}};
      const auto expected = expected_bytes.find(name);
      if (expected == expected_bytes.end()) return fail("unknown section " + name);
      // Pixels or features may be absent (an embedding-level dataset has no pixels, and vice versa).
      if (bytes != expected->second && bytes != 0)
        return fail(fmt::format("section {} has {} bytes, expected {}", name, bytes, expected->second));
      bool ok = false;
      if (name == "train_pixels") ok = copy_section(src, bytes, crc, d.train.pixels);
      else if (name == "test_pixels") ok = copy_section(src, bytes, crc, d.test.pixels);
      else if (name == "train_labels") ok = copy_section(src, bytes, crc, d.train.labels);
      else if (name == "test_labels") ok = copy_section(src, bytes, crc, d.test.labels);
      else ok = copy_section(src, bytes, crc, d.train_features);
      if (!ok) return fail("checksum mismatch in section " + name + " (corrupt file)");
    }
    validate_dataset(d, path);
    return d;
  } catch (const nlohmann::json::exception& e) {
    return fail(std::string("unreadable header: ") + e.what());
  } catch (const Error& e) {
    return fail(e.what());
  }
}

LoadedDataset load_dataset(const std::string& kind, const Params& params, const std::string& cache_dir,
                           const std::string& where) {
  const auto start = std::chrono::steady_clock::now();
  const DatasetLoaderInfo& info = DatasetRegistry::instance().find(kind, where);
  LoadedDataset out;
  try {
    // The loader's identity of the sources and options, and the decoding code's identity: an edit of a
    // loader or decoder rebuilds the cache.
    const std::string source = info.fingerprint ? info.fingerprint(params) : "";
    const std::string fingerprint = source.empty() ? "" : source + "|code:" + code_identity(Producer::Dataset);
    const bool use_cache = !cache_dir.empty() && !fingerprint.empty();
    if (use_cache) {
      out.cache_path = dataset_cache_path(cache_dir, kind, fingerprint);
      std::string why;
      if (auto cached = read_dataset_cache(out.cache_path, fingerprint, &why)) {
        out.dataset = std::move(*cached);
        out.from_cache = true;
      } else if (why != "no cache file") {
        fmt::print(stderr, "warning: {}: rebuilding dataset cache {}: {}\n", where, out.cache_path, why);
      }
    }
    if (!out.from_cache) {
      out.dataset = info.load(params);
      out.dataset.fingerprint = fingerprint;
      out.dataset.content_sha256 = dataset_content_sha256(out.dataset);
      if (use_cache) {
        try {
          std::filesystem::create_directories(cache_dir);
          write_dataset_cache(out.dataset, out.cache_path);
        } catch (const std::exception& e) {  // a full disk costs speed next time, not this result
          fmt::print(stderr, "warning: {}: could not write dataset cache: {}\n", where, e.what());
          out.cache_path.clear();
        }
      }
    }
  } catch (const OutOfMemory&) {
    throw;
  } catch (const Error& e) {
    throw Error(fmt::format("{}: {}", where, e.what()));
  }
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out;
}

}  // namespace dq
