#include <catch2/catch.hpp>

#include <cstring>
#include <limits>
#include <set>

#include "core/error.h"
#include "core/hashing.h"
#include "core/memory_budget.h"
#include "core/npy.h"
#include "core/output_files.h"
#include "core/params.h"
#include "core/rng.h"
#include "core/text_escape.h"
#include "core/units.h"
#include "test_helpers.h"

using namespace dq;

TEST_CASE("spec strings split on key= commas and keep FAISS factory strings whole", "[core]") {
  const SpecString s = parse_spec_string("bgfdq(k=20, knn=PCA64,Flat,alpha=1.5)", "t");
  CHECK(s.name == "bgfdq");
  REQUIRE(s.args.size() == 3);
  CHECK(s.args[0] == std::make_pair(std::string("k"), std::string("20")));
  CHECK(s.args[1] == std::make_pair(std::string("knn"), std::string("PCA64,Flat")));
  CHECK(s.args[2] == std::make_pair(std::string("alpha"), std::string("1.5")));
  CHECK(parse_spec_string("random", "t").args.empty());
  CHECK_THROWS_WITH(parse_spec_string("dq(bins=3", "here"), Catch::Contains("here"));
  CHECK_THROWS_WITH(parse_spec_string("dq(3)", "here"), Catch::Contains("key=value"));
}

TEST_CASE("a key given twice in a spec string is refused, not last-wins", "[core][hygiene]") {
  // Before: "bgfdq(k=3,k=5)" ran with k=5 silently (a YAML mapping refuses the same mistake).
  CHECK_THROWS_WITH(parse_spec_string("bgfdq(k=3, alpha=1, k=5)", "--method"),
                    "--method (key 'k'): duplicate key in spec 'bgfdq(k=3, alpha=1, k=5)'");
  CHECK_THROWS_WITH(parse_spec_string("image_folder(path=a,path=b)", "command line"),
                    "command line (key 'path'): duplicate key in spec 'image_folder(path=a,path=b)'");
  CHECK(parse_spec_string("bgfdq(knn=IVF4,Flat,k=3)", "t").args.size() == 2);  // commas in a value are no keys
}

TEST_CASE("params validate names, types, ranges and choices", "[core]") {
  Params p("method 'x'", {{"k", ParamType::Int, int64_t{20}, "", {}, 1.0, {}},
                          {"alpha", ParamType::Double, 1.0, "", {}, 0.0, {}},
                          {"mode", ParamType::String, std::string("memo"), "", {"naive", "memo"}, {}, {}},
                          {"on", ParamType::Bool, false, "", {}, {}, {}}});
  CHECK(p.get_int("k") == 20);
  p.set_from_text("k", "7", "f:1");
  p.set_from_text("alpha", "2.5", "f:1");
  p.set_from_text("on", "on", "f:1");
  CHECK(p.get_int("k") == 7);
  CHECK(p.get_double("alpha") == 2.5);
  CHECK(p.get_bool("on"));
  CHECK(p.canonical() == "alpha=2.5,k=7,mode=memo,on=true");
  CHECK_THROWS_WITH(p.set_from_text("kk", "1", "f.yaml:3:4"),
                    Catch::Contains("f.yaml:3:4") && Catch::Contains("unknown parameter 'kk'") && Catch::Contains("k, alpha"));
  CHECK_THROWS_WITH(p.set_from_text("k", "2.5", "w"), Catch::Contains("expects an integer"));
  CHECK_THROWS_WITH(p.set_from_text("k", "0", "w"), Catch::Contains("outside"));
  CHECK_THROWS_WITH(p.set_from_text("mode", "fast", "w"), Catch::Contains("naive|memo"));
  CHECK_THROWS_WITH(p.set_from_text("on", "maybe", "w"), Catch::Contains("true/false"));
}

TEST_CASE("byte sizes parse with binary and decimal units", "[core][units]") {
  CHECK(parse_bytes("12GiB", "w") == 12ull << 30);
  CHECK(parse_bytes("1.5 MiB", "w") == 1572864ull);
  CHECK(parse_bytes("2GB", "w") == 2000000000ull);
  CHECK(parse_bytes("100", "w") == 100ull);
  CHECK(parse_bytes("100B", "w") == 100ull);
  CHECK(parse_bytes("0", "w") == 0ull);
  CHECK(parse_bytes("3KiB", "w") == 3072ull);
  CHECK(parse_bytes("3kB", "w") == 3000ull);
  CHECK(parse_bytes("3KB", "w") == 3000ull);
  CHECK(parse_bytes("1TiB", "w") == 1ull << 40);
  CHECK(parse_bytes("2TB", "w") == 2000000000000ull);
  CHECK(parse_bytes("0.5B", "w") == 1ull);  // rounded to the nearest byte (half away from zero)
  CHECK_THROWS_WITH(parse_bytes("12 gigs", "budget"),
                    "budget: unknown size unit 'gigs' in '12 gigs' (use B, KiB, MiB, GiB, TiB, KB, MB, GB, TB)");
  CHECK_THROWS_WITH(parse_bytes("12gib", "w"), Catch::Contains("unknown size unit 'gib'"));  // units are case-sensitive
  CHECK_THROWS_WITH(parse_bytes("GiB", "x.yaml:3:16 (key 'memory_budget')"),
                    "x.yaml:3:16 (key 'memory_budget'): 'GiB' is not a size (expected e.g. 12GiB, 512MiB, 1000000)");
  CHECK_THROWS_WITH(parse_bytes("", "w"), Catch::Contains("is not a size"));
  CHECK_THROWS_WITH(parse_bytes("-1GiB", "w"), "w: size '-1GiB' must be a non-negative number");
  CHECK_THROWS_WITH(parse_bytes("inf", "w"), Catch::Contains("non-negative number"));
  CHECK_THROWS_WITH(parse_bytes("nan", "w"), Catch::Contains("non-negative number"));
}

TEST_CASE("durations parse in seconds, minutes and hours", "[core][units]") {
  CHECK(parse_duration("90", "w") == 90.0);
  CHECK(parse_duration("90s", "w") == 90.0);
  CHECK(parse_duration("30m", "w") == 1800.0);
  CHECK(parse_duration("30min", "w") == 1800.0);
  CHECK(parse_duration("2h", "w") == 7200.0);
  CHECK(parse_duration("1.5 h", "w") == 5400.0);  // spaces between number and unit, as for sizes
  CHECK(parse_duration("0.25s", "w") == 0.25);
  CHECK_THROWS_WITH(parse_duration("2d", "x.yaml:4:10 (key 'timeout')"),
                    "x.yaml:4:10 (key 'timeout'): unknown duration unit 'd' in '2d' (use s, m or h)");
  CHECK_THROWS_WITH(parse_duration("soon", "w"), "w: 'soon' is not a duration (e.g. 90s, 30m, 2h)");
  CHECK_THROWS_WITH(parse_duration("0s", "w"), "w: duration '0s' must be positive");
  CHECK_THROWS_WITH(parse_duration("-5m", "w"), Catch::Contains("must be positive"));
  CHECK_THROWS_WITH(parse_duration("inf", "w"), Catch::Contains("must be positive"));
  // A deadline is an integer count of nanoseconds: 1e300 hours would overflow it.
  CHECK(parse_duration("87600h", "w") == 87600.0 * 3600);
  CHECK_THROWS_WITH(parse_duration("1e300h", "w"), "w: duration '1e300h' is beyond any run (at most 87600h, ten years)");
  CHECK_THROWS_WITH(parse_bytes("1e30TiB", "w"), Catch::Contains("is beyond any machine"));
}

TEST_CASE("sizes and durations print in the units people read", "[core][units]") {
  CHECK(format_bytes(0) == "0 B");
  CHECK(format_bytes(1023) == "1023 B");
  CHECK(format_bytes(1536) == "1.5 KiB");
  CHECK(format_bytes(12ull << 30) == "12.0 GiB");
  CHECK(format_bytes(3ull << 40) == "3.0 TiB");
  CHECK(format_bytes(2048ull << 40) == "2048.0 TiB");  // TiB is the largest unit
  CHECK(format_bytes(parse_bytes("512MiB", "w")) == "512.0 MiB");
  CHECK(format_duration(4.24) == "4.2s");
  CHECK(format_duration(0) == "0.0s");
  CHECK(format_duration(307) == "5m07s");
  CHECK(format_duration(3 * 3600 + 5 * 60 + 59) == "3h05m");
  CHECK(format_duration(parse_duration("24h", "w")) == "24h00m");
  CHECK(format_duration(-1) == "-");
}

TEST_CASE("memory budget refuses requests over the limit and releases on scope exit", "[core]") {
  MemoryBudget budget(1000);
  {
    auto a = budget.reserve(600, "a");
    CHECK(budget.in_use() == 600);
    try {
      auto b = budget.reserve(500, "dense similarity");
      FAIL("expected OutOfMemory");
    } catch (const OutOfMemory& e) {
      CHECK(e.requested_bytes() == 500);
      CHECK(e.buffer() == "dense similarity");
      CHECK(std::string(e.what()).find("500 bytes") != std::string::npos);
    }
  }
  CHECK(budget.in_use() == 0);
  CHECK(budget.peak() == 600);
  auto c = budget.reserve(1000, "exactly the budget");
  CHECK(budget.in_use() == 1000);
}

TEST_CASE("rng is reproducible, bounded and roughly uniform", "[core]") {
  Rng a(42), b(42), c(43);
  bool differs = false;
  for (int i = 0; i < 100; ++i) {
    const uint64_t x = a.next_u64();
    CHECK(x == b.next_u64());
    differs |= x != c.next_u64();
  }
  CHECK(differs);
  std::vector<int> counts(7, 0);
  Rng r(1);
  for (int i = 0; i < 70000; ++i) {
    const uint64_t v = r.uniform_below(7);
    REQUIRE(v < 7);
    ++counts[v];
  }
  for (int k : counts) CHECK(std::abs(k - 10000) < 500);  // ~5 sigma
  CHECK(derive_seed(1, "a") == derive_seed(1, "a"));
  CHECK(derive_seed(1, "a") != derive_seed(1, "b"));
  CHECK(derive_seed(1, uint64_t{3}) != derive_seed(2, uint64_t{3}));
}

TEST_CASE("sha256 matches the published test vector", "[core]") {
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("npy round trip for float32 and int64, and conversions", "[core]") {
  const auto dir = test::scratch_dir("npy");
  const std::vector<float> z = {1.5f, -2.f, 3.25f, 0.f, 7.f, 8.f};
  write_npy((dir / "z.npy").string(), z.data(), {2, 3});
  const NpyArray a = read_npy((dir / "z.npy").string());
  CHECK(a.dtype == "f4");
  CHECK(a.shape == std::vector<int64_t>{2, 3});
  CHECK(a.as_float32("z") == z);
  const std::vector<int64_t> ids = {5, -1, 1ll << 40};
  write_npy((dir / "i.npy").string(), ids.data(), {3});
  CHECK(read_npy((dir / "i.npy").string()).as_int64("i") == ids);
  CHECK_THROWS_WITH(read_npy((dir / "i.npy").string()).as_float32("i.npy"), Catch::Contains("expected a float"));
  test::write_text(dir / "bad.npy", "not numpy");
  CHECK_THROWS_WITH(read_npy((dir / "bad.npy").string()), Catch::Contains("bad magic"));
  // uint64 from 2^63 up has no int64 (a newcomer's labels 2^64 - 1 sorted before 0 as -1).
  NpyArray u{"u8", {3}, std::vector<unsigned char>(24, 0)};
  const uint64_t values[3] = {7, (uint64_t{1} << 63) - 1, ~uint64_t{0}};
  std::memcpy(u.bytes.data(), values, sizeof values);
  CHECK_THROWS_WITH(u.as_int64("y.npy"), "y.npy: element 2 is 18446744073709551615 (uint64), beyond the int64 range "
                                         "integers are read in");
  u.bytes.resize(16);
  u.shape = {2};
  CHECK(u.as_int64("y.npy") == std::vector<int64_t>{7, std::numeric_limits<int64_t>::max()});
}

TEST_CASE("an .npy header whose shape the file cannot hold is bad input, not an allocation", "[core][hygiene]") {
  // Before: shape (100000000, 512) over 16 data bytes asked for 200 GB and `select` exited 3,
  // "the machine ran out of memory"; a shape whose product overflows int64 did the same.
  const auto dir = test::scratch_dir("npy_lying_header");
  auto write = [&](const std::string& name, const std::string& shape) {
    std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + shape + "), }";
    header.append((64 - (10 + header.size() + 1) % 64) % 64, ' ');
    header += '\n';
    std::string file = std::string("\x93NUMPY\x01\x00", 8);
    file += static_cast<char>(header.size() & 0xff);
    file += static_cast<char>(header.size() >> 8);
    test::write_text(dir / name, file + header + std::string(16, '\0'));
    return (dir / name).string();
  };
  const std::string big = write("big.npy", "100000000, 512");
  CHECK_THROWS_WITH(read_npy(big), big + ": truncated .npy data (shape (100000000, 512) of 4-byte items needs more "
                                        "than the 16 bytes the file holds)");
  const std::string wraps = write("wraps.npy", "4000000000000, 4000000");  // 1.6e19 elements: int64 overflows
  CHECK_THROWS_WITH(read_npy(wraps), Catch::StartsWith(wraps + ": truncated .npy data"));
  CHECK_THROWS_WITH(read_npy(write("digits.npy", "99999999999999999999, 2")), Catch::Contains("is beyond any file"));
  const NpyArray exact = read_npy(write("exact.npy", "2, 2"));  // 16 bytes: exactly what the file holds
  CHECK(exact.as_float32("exact") == std::vector<float>(4, 0.0f));
  CHECK(read_npy(write("empty.npy", "0, 4000000000000")).size() == 0);
}

TEST_CASE("text from elsewhere: Markdown cannot break a row or render markup; a terminal gets no escapes", "[core]") {
  CHECK(markdown_escape("a<b>&c") == "a&lt;b&gt;&amp;c");
  CHECK(markdown_escape("one\ntwo\r\tthree") == "one two  three");
  CHECK(markdown_escape("![x](http://h/i.png) and [link](u) `code`") == "\\![x](http://h/i.png) and [link](u) `code`");
  CHECK(markdown_cell("a|b\n| c |") == "a\\|b \\| c \\|");
  // ESC ] 0 ; title BEL (retitles the window), ESC [ 2 J (clears the screen), CSI as the C1 code U+009B.
  CHECK(terminal_text("ok\x1b]0;pwned\x07\x1b[2J\xc2\x9b" "31m±\n") == "ok?]0;pwned??[2J?31m±?");
  CHECK(terminal_text("plain ± text") == "plain ± text");
}

TEST_CASE("UTF-8 is checked strictly: stray, overlong, surrogate, too large and cut sequences", "[core]") {
  const size_t ok = std::string_view::npos;
  CHECK(invalid_utf8_at("plain ± é \xf0\x9f\x98\x80") == ok);  // 2-, 3- and 4-byte forms
  CHECK(invalid_utf8_at("") == ok);
  CHECK(invalid_utf8_at("path/caf\xe9.jpg") == 8);   // Latin-1 é
  CHECK(invalid_utf8_at("\xc0\xaf") == 0);           // overlong '/'
  CHECK(invalid_utf8_at("x\xe0\x80\xaf") == 1);      // overlong 3-byte
  CHECK(invalid_utf8_at("\xed\xa0\x80") == 0);       // a surrogate
  CHECK(invalid_utf8_at("\xf4\x90\x80\x80") == 0);   // above U+10FFFF
  CHECK(invalid_utf8_at("ab\xe2\x82") == 2);          // cut at the end
  CHECK(invalid_utf8_at("\x80") == 0);                // a lone continuation byte
  CHECK_THROWS_WITH(parse_spec_string("random(x=caf\xe9)", "here"), Catch::Contains("here: spec is not UTF-8 text (byte 0xe9 at offset 12)"));
}

TEST_CASE("output files: temporaries named by core/atomic_file.h, all or nothing", "[core]") {
  namespace fs = std::filesystem;
  const auto dir = test::scratch_dir("core_output_files");
  const std::string a = (dir / "a.npy").string(), b = (dir / "b.npy").string();
  const auto entries = [&] { return std::distance(fs::directory_iterator(dir), fs::directory_iterator()); };
  {
    OutputFiles first, second;
    const std::string ta = first.add("--out", a);
    const std::string tb = first.add("--keep-out", b);
    // Beside the final file, named "<path>.tmp.<pid>.<random>" as every atomic write here is, and unique
    // per writer (two commands of one process writing the same path no longer share a temporary).
    CHECK(ta.rfind(a + ".tmp.", 0) == 0);
    CHECK(second.add("--out", a) != ta);
    const int64_t one = 1;
    write_npy(ta, &one, {1});
    CHECK_THROWS_WITH(first.commit(), Catch::Contains("--keep-out " + b + ": was never written"));
    write_npy(tb, &one, {1});
    CHECK(entries() == 2);  // the two temporaries, nothing at the final paths yet
    CHECK_FALSE(fs::exists(a));
  }  // destroyed without commit: the temporaries are gone, nothing was written
  CHECK(entries() == 0);
  OutputFiles outputs;
  const int64_t two = 2;
  write_npy(outputs.add("--out", a), &two, {1});
  outputs.commit();
  CHECK(read_npy(a).as_int64(a) == std::vector<int64_t>{2});
  CHECK(entries() == 1);
}
