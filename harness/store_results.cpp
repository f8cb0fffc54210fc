// What a cell records while it runs (stages, metrics, its selection, artefacts, provenance at the
// end) and reading it back. Every write is one transaction, refused unless the calling process owns
// the cell (Store::require_owned, store.cpp), so a process whose cell was taken over cannot add to
// the new attempt.
#include <fmt/format.h>
#include <sqlite3.h>
#include <zlib.h>

#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/hashing.h"
#include "harness/sql.h"
#include "harness/store.h"

namespace dq {

namespace {

// Policy: a metric is a finite number or it is not recorded at all. A NaN or infinity is a failed
// computation (a diverged training loss, a distance to nothing), never a result, so the whole write
// is refused and the cell ends FAILED with this message (SQLite would store NaN as NULL, and
// infinity would average into tables unnoticed).
void require_finite(const std::string& db, const std::string& cell_id, const std::map<std::string, double>& metrics) {
  for (const auto& [name, value] : metrics)
    if (!std::isfinite(value))
      throw Error(fmt::format("{}: cell {}: metric '{}' is {}; the store keeps only finite metrics", db,
                              cell_id.substr(0, 12), name, std::isnan(value) ? "NaN" : value > 0 ? "+inf" : "-inf"));
}

// Inside the caller's transaction; a metric recorded again in the same attempt replaces the old value.
void insert_metrics(sqlite3* db, const std::string& db_path, const std::string& cell_id,
                    const std::map<std::string, double>& metrics) {
  for (const auto& [name, value] : metrics)
    Statement(db, "INSERT OR REPLACE INTO metrics(cell_id, name, value) VALUES(?,?,?)", db_path)
        .bind(1, cell_id)
        .bind(2, name)
        .bind(3, value)
        .run();
}

}  // namespace

void Store::record_stage(const std::string& cell_id, const StageRecord& stage,
                         const std::map<std::string, double>& metrics_in) {
  require_finite(path_, cell_id, metrics_in);
  Transaction tx(db_, path_);
  require_owned(cell_id);
  // A sub-stage that runs once per class ("select/bin_generation") accumulates into one row; rows of
  // an earlier attempt were deleted by the claim, so attempts never add up.
  Statement(db_,
            "INSERT INTO stages(cell_id, stage, wall_s, cpu_s, peak_rss_bytes) VALUES(?,?,?,?,?) "
            "ON CONFLICT(cell_id, stage) DO UPDATE SET wall_s = wall_s + excluded.wall_s, "
            "cpu_s = cpu_s + excluded.cpu_s, peak_rss_bytes = max(peak_rss_bytes, excluded.peak_rss_bytes)",
            path_)
      .bind(1, cell_id)
      .bind(2, stage.name)
      .bind(3, stage.wall_s)
      .bind(4, stage.cpu_s)
      .bind(5, stage.peak_rss_bytes)
      .run();
  insert_metrics(db_, path_, cell_id, metrics_in);
  Statement(db_, fmt::format("UPDATE cells SET heartbeat={} WHERE cell_id=?", kSqlNow), path_).bind(1, cell_id).run();
  tx.commit();
}

void Store::record_metrics(const std::string& cell_id, const std::map<std::string, double>& metrics) {
  require_finite(path_, cell_id, metrics);
  Transaction tx(db_, path_);
  require_owned(cell_id);
  insert_metrics(db_, path_, cell_id, metrics);
  tx.commit();
}

std::string selection_sha256(const std::vector<int64_t>& ids, const std::vector<float>& keep) {
  Sha256 digest;
  digest.update(ids.data(), ids.size() * sizeof(int64_t));
  digest.update(keep.data(), keep.size() * sizeof(float));
  return digest.hex();
}

void Store::record_selection(const std::string& cell_id, const std::vector<int64_t>& ids,
                             const std::vector<float>& keep) {
  const std::string sha = selection_sha256(ids, keep);
  const int64_t bytes = static_cast<int64_t>(ids.size() * sizeof(int64_t) + keep.size() * sizeof(float));
  Transaction tx(db_, path_);
  require_owned(cell_id);
  // The stored selection is also the cell's output artefact, with the same hash.
  Statement(db_,
            "INSERT OR REPLACE INTO cell_artefacts(cell_id, kind, role, sha256, key, bytes, from_cache, parts) "
            "VALUES(?,'selection','output',?,'',?,0,1)",
            path_)
      .bind(1, cell_id)
      .bind(2, sha)
      .bind(3, bytes)
      .run();
  Statement(db_, "INSERT OR REPLACE INTO selections(cell_id, count, sha256, ids, keep) VALUES(?,?,?,?,?)", path_)
      .bind(1, cell_id)
      .bind(2, static_cast<int64_t>(ids.size()))
      .bind(3, sha)
      .bind_blob(4, ids.data(), static_cast<int64_t>(ids.size() * sizeof(int64_t)))
      .bind_blob(5, keep.data(), static_cast<int64_t>(keep.size() * sizeof(float)))
      .run();
  tx.commit();
}

void Store::record_patch_masks(const std::string& cell_id, const PatchGrid& grid, const std::vector<uint8_t>& masks) {
  const int64_t p = grid.count();
  DQ_ASSERT(p > 0 && masks.size() % static_cast<size_t>(p) == 0, "masks are n x grid.count() bytes");
  const std::vector<uint8_t> packed = pack_masks(masks, p);
  Transaction tx(db_, path_);
  require_owned(cell_id);
  Statement(db_,
            "INSERT OR REPLACE INTO patch_masks(cell_id, grid_rows, grid_cols, patch_px, count, masks) "
            "VALUES(?,?,?,?,?,?)",
            path_)
      .bind(1, cell_id)
      .bind(2, grid.rows)
      .bind(3, grid.cols)
      .bind(4, grid.patch)
      .bind(5, static_cast<int64_t>(masks.size() / static_cast<size_t>(p)))
      .bind_blob(6, packed.data(), static_cast<int64_t>(packed.size()))
      .run();
  tx.commit();
}

namespace {
// Bins as int64 words: per class its label, its bin count, then per bin its size and its ids; deflated.
std::vector<unsigned char> encode_bins(const std::vector<StoredClassBins>& classes) {
  std::vector<int64_t> words;
  for (const auto& c : classes) {
    words.push_back(c.label);
    words.push_back(static_cast<int64_t>(c.bins.size()));
    for (const auto& bin : c.bins) {
      words.push_back(static_cast<int64_t>(bin.size()));
      words.insert(words.end(), bin.begin(), bin.end());
    }
  }
  const uLong raw = static_cast<uLong>(words.size() * sizeof(int64_t));
  std::vector<unsigned char> out(sizeof(uint64_t) + compressBound(raw));
  const uint64_t raw64 = raw;
  std::memcpy(out.data(), &raw64, sizeof raw64);  // the inflated size first
  uLongf packed = static_cast<uLongf>(out.size() - sizeof raw64);
  const int rc = compress2(out.data() + sizeof raw64, &packed, reinterpret_cast<const Bytef*>(words.data()), raw, 6);
  DQ_ASSERT(rc == Z_OK, "zlib compress2 failed on a buffer of its own bound");
  out.resize(sizeof raw64 + packed);
  return out;
}

std::vector<StoredClassBins> decode_bins(const std::vector<unsigned char>& blob, int64_t classes, const std::string& where) {
  auto damaged = [&](const char* why) { return Error(fmt::format("{}: the recorded bins are damaged ({})", where, why)); };
  uint64_t raw = 0;
  if (blob.size() < sizeof raw) throw damaged("too short");
  std::memcpy(&raw, blob.data(), sizeof raw);
  if (raw % sizeof(int64_t) != 0) throw damaged("size");
  std::vector<int64_t> words(raw / sizeof(int64_t));
  uLongf got = static_cast<uLongf>(raw);
  if (uncompress(reinterpret_cast<Bytef*>(words.data()), &got, blob.data() + sizeof raw,
                 static_cast<uLong>(blob.size() - sizeof raw)) != Z_OK ||
      got != raw)
    throw damaged("inflate");
  std::vector<StoredClassBins> out;
  size_t at = 0;
  auto next = [&]() {
    if (at >= words.size()) throw damaged("truncated");
    return words[at++];
  };
  for (int64_t c = 0; c < classes; ++c) {
    StoredClassBins cls;
    cls.label = next();
    const int64_t nbins = next();
    if (nbins < 0) throw damaged("bin count");
    for (int64_t b = 0; b < nbins; ++b) {
      const int64_t size = next();
      if (size < 0 || static_cast<size_t>(size) > words.size() - at) throw damaged("bin size");
      cls.bins.emplace_back(words.begin() + static_cast<std::ptrdiff_t>(at),
                            words.begin() + static_cast<std::ptrdiff_t>(at + static_cast<size_t>(size)));
      at += static_cast<size_t>(size);
    }
    out.push_back(std::move(cls));
  }
  if (at != words.size()) throw damaged("trailing words");
  return out;
}
}  // namespace

void Store::record_bins(const std::string& cell_id, const std::vector<StoredClassBins>& bins) {
  const std::vector<unsigned char> blob = encode_bins(bins);
  Transaction tx(db_, path_);
  require_owned(cell_id);
  Statement(db_, "INSERT OR REPLACE INTO bins(cell_id, classes, data) VALUES(?,?,?)", path_)
      .bind(1, cell_id)
      .bind(2, static_cast<int64_t>(bins.size()))
      .bind_blob(3, blob.data(), static_cast<int64_t>(blob.size()))
      .run();
  tx.commit();
}

void Store::record_artefact(const std::string& key, const std::string& kind, const std::string& path,
                            int64_t bytes) {
  Transaction tx(db_, path_);
  Statement(db_,
            fmt::format("INSERT OR REPLACE INTO artefacts(key, kind, path, bytes, created) VALUES(?,?,?,?,{})", kSqlNow),
            path_)
      .bind(1, key)
      .bind(2, kind)
      .bind(3, path)
      .bind(4, bytes)
      .run();
  tx.commit();
}

void Store::record_cell_artefacts(const std::string& cell_id, const std::vector<CellArtefact>& artefacts) {
  Transaction tx(db_, path_);
  require_owned(cell_id);
  for (const CellArtefact& a : artefacts)
    Statement(db_,
              "INSERT OR REPLACE INTO cell_artefacts(cell_id, kind, role, sha256, key, bytes, from_cache, parts) "
              "VALUES(?,?,?,?,?,?,?,?)",
              path_)
        .bind(1, cell_id)
        .bind(2, a.kind)
        .bind(3, a.role)
        .bind(4, a.sha256)
        .bind(5, a.key)
        .bind(6, a.bytes)
        .bind(7, int64_t{a.from_cache})
        .bind(8, a.parts)
        .run();
  tx.commit();
}

void Store::finish_cell(const std::string& cell_id, CellStatus status, const std::string& error,
                        const Provenance& p) {
  Transaction tx(db_, path_);
  require_owned(cell_id);
  Statement(db_,
            fmt::format("INSERT OR REPLACE INTO provenance(cell_id, git_commit, git_dirty, host, cpu_model, cores, "
                        "threads, torch_version, faiss_version, sqlite_version, build_type, omp_wait_policy, "
                        "command_line, recorded, code_identity, code_identities, library_versions, load1_start, "
                        "load1_end) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,{},?,?,?,?,?)",
                        kSqlNow),
            path_)
      .bind(1, cell_id)
      .bind(2, p.git_commit)
      .bind(3, int64_t{p.git_dirty})
      .bind(4, p.host)
      .bind(5, p.cpu_model)
      .bind(6, p.cores)
      .bind(7, p.threads)
      .bind(8, p.torch_version)
      .bind(9, p.faiss_version)
      .bind(10, p.sqlite_version)
      .bind(11, p.build_type)
      .bind(12, p.omp_wait_policy)
      .bind(13, p.command_line)
      .bind(14, p.code_identity)
      .bind(15, p.code_identities)
      .bind(16, p.library_versions)
      .bind(17, p.load1_start)
      .bind(18, p.load1_end)
      .run();
  Statement(db_, fmt::format("UPDATE cells SET status=?, error=?, finished={0}, heartbeat={0} WHERE cell_id=?", kSqlNow),
            path_)
      .bind(1, std::string(status_name(status)))
      .bind(2, error)
      .bind(3, cell_id)
      .run();
  tx.commit();
}

std::map<std::string, double> Store::metrics(const std::string& cell_id) {
  Statement s(db_, "SELECT name, value FROM metrics WHERE cell_id=? AND value IS NOT NULL", path_);
  s.bind(1, cell_id);
  std::map<std::string, double> out;
  while (s.step()) out[s.text(0)] = s.real(1);
  return out;
}

std::vector<StageRecord> Store::stages(const std::string& cell_id) {
  Statement s(db_, "SELECT stage, wall_s, cpu_s, peak_rss_bytes FROM stages WHERE cell_id=? ORDER BY rowid", path_);
  s.bind(1, cell_id);
  std::vector<StageRecord> out;
  while (s.step()) out.push_back({s.text(0), s.real(1), s.real(2), s.integer(3)});
  return out;
}

std::optional<StoredSelection> Store::selection(const std::string& cell_id) {
  Statement s(db_, "SELECT count, sha256, ids, keep FROM selections WHERE cell_id=?", path_);
  s.bind(1, cell_id);
  if (!s.step()) return std::nullopt;
  const int64_t n = s.integer(0);
  const auto ids = s.blob(2), keep = s.blob(3);
  if (n < 0 || ids.size() != static_cast<size_t>(n) * sizeof(int64_t) || keep.size() != static_cast<size_t>(n) * sizeof(float))
    throw Error(fmt::format("{}: cell {}: the recorded selection is damaged ({} ids, {} + {} bytes)", path_,
                            cell_id.substr(0, 12), n, ids.size(), keep.size()));
  StoredSelection out;
  out.ids.resize(static_cast<size_t>(n));
  out.keep.resize(static_cast<size_t>(n));
  if (n > 0) {
    std::memcpy(out.ids.data(), ids.data(), ids.size());
    std::memcpy(out.keep.data(), keep.data(), keep.size());
  }
  out.sha256 = s.text(1);
  return out;
}

std::optional<StoredMasks> Store::patch_masks(const std::string& cell_id) {
  Statement s(db_, "SELECT grid_rows, grid_cols, patch_px, count, masks FROM patch_masks WHERE cell_id=?", path_);
  s.bind(1, cell_id);
  if (!s.step()) return std::nullopt;
  StoredMasks out;
  out.grid = {s.integer(0), s.integer(1), s.integer(2)};
  out.count = s.integer(3);
  if (out.grid.count() <= 0 || out.count < 0)
    throw Error(fmt::format("{}: cell {}: the recorded patch masks are damaged (grid {} x {}, {} images)", path_,
                            cell_id.substr(0, 12), out.grid.rows, out.grid.cols, out.count));
  try {
    const std::string packed = s.blob(4);
    out.masks = unpack_masks({reinterpret_cast<const uint8_t*>(packed.data()), packed.size()}, out.count,
                             out.grid.count());
  } catch (const Error& e) {
    throw Error(fmt::format("{}: cell {}: {}", path_, cell_id.substr(0, 12), e.what()));
  }
  return out;
}

std::vector<StoredClassBins> Store::bins(const std::string& cell_id) {
  Statement s(db_, "SELECT classes, data FROM bins WHERE cell_id=?", path_);
  s.bind(1, cell_id);
  if (!s.step()) return {};
  const std::string data = s.blob(1);
  return decode_bins({data.begin(), data.end()}, s.integer(0), fmt::format("{}: cell {}", path_, cell_id.substr(0, 12)));
}

std::vector<CellArtefact> Store::cell_artefacts(const std::string& cell_id) {
  Statement s(db_,
              "SELECT kind, role, sha256, coalesce(key,''), coalesce(bytes,-1), coalesce(from_cache,0), "
              "coalesce(parts,1) FROM cell_artefacts WHERE cell_id=? ORDER BY kind",
              path_);
  s.bind(1, cell_id);
  std::vector<CellArtefact> out;
  while (s.step())
    out.push_back({s.text(0), s.text(1), s.text(2), s.text(3), s.integer(4), s.integer(5) != 0, s.integer(6)});
  return out;
}

std::optional<Provenance> Store::provenance(const std::string& cell_id) {
  Statement s(db_,
              "SELECT coalesce(git_commit,''), coalesce(git_dirty,0), coalesce(host,''), coalesce(cpu_model,''), "
              "coalesce(torch_version,''), coalesce(faiss_version,''), coalesce(sqlite_version,''), "
              "coalesce(build_type,''), coalesce(omp_wait_policy,''), coalesce(command_line,''), coalesce(cores,0), "
              "coalesce(threads,0), coalesce(code_identity,''), coalesce(code_identities,''), "
              "coalesce(library_versions,''), coalesce(load1_start,-1), coalesce(load1_end,-1) "
              "FROM provenance WHERE cell_id=?",
              path_);
  s.bind(1, cell_id);
  if (!s.step()) return std::nullopt;
  Provenance p;
  p.git_commit = s.text(0);
  p.git_dirty = s.integer(1) != 0;
  p.host = s.text(2);
  p.cpu_model = s.text(3);
  p.torch_version = s.text(4);
  p.faiss_version = s.text(5);
  p.sqlite_version = s.text(6);
  p.build_type = s.text(7);
  p.omp_wait_policy = s.text(8);
  p.command_line = s.text(9);
  p.cores = s.integer(10);
  p.threads = s.integer(11);
  p.code_identity = s.text(12);
  p.code_identities = s.text(13);
  p.library_versions = s.text(14);
  p.load1_start = s.real(15);
  p.load1_end = s.real(16);
  return p;
}

std::map<std::string, std::string> Store::selection_hashes() {
  Statement s(db_, "SELECT cell_id, sha256 FROM selections", path_);
  std::map<std::string, std::string> out;
  while (s.step()) out[s.text(0)] = s.text(1);
  return out;
}

}  // namespace dq
