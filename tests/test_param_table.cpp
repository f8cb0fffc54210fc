// Parameters declared once (core/param_table.h): a ParamTable's specs take their types and defaults
// from the option struct, parse() fills every bound member (nested ones too), enums are parsed by
// name at the edge, and the methods' tables give the same specs as the registry lists.
#include <catch2/catch.hpp>

#include "core/error.h"
#include "core/param_table.h"
#include "methods/method.h"

using namespace dq;

namespace {

enum class Shape { Round, Square };
const char* shape_name(Shape s) { return s == Shape::Round ? "round" : "square"; }

struct Inner {
  int64_t count = 7;
  uint64_t bytes = 3ull << 20;
};
struct Options {
  double weight = 0.5;
  std::string tag = "a";
  bool on = true;
  Shape shape = Shape::Square;
  Inner inner;
};

const ParamTable<Options>& table() {
  static const ParamTable<Options> t{{
      field({.name = "weight", .help = "w", .min = 0, .max = 1}, &Options::weight),
      field({.name = "tag", .help = "t"}, &Options::tag),
      field({.name = "on", .help = "o"}, &Options::on),
      field({.name = "shape", .help = "s"}, named_values({Shape::Round, Shape::Square}, shape_name), &Options::shape),
      field({.name = "count", .help = "c", .min = 1}, &Options::inner, &Inner::count),
      field({.name = "size_mb", .help = "m", .min = 1},
            ParamCodec<uint64_t, int64_t>{[](const uint64_t& b) { return static_cast<int64_t>(b >> 20); },
                                          [](const int64_t& m) { return static_cast<uint64_t>(m) << 20; }},
            &Options::inner, &Inner::bytes),
  }};
  return t;
}

}  // namespace

TEST_CASE("param table: types and defaults come from the option struct", "[params]") {
  const auto& specs = table().specs();
  REQUIRE(specs.size() == 6);
  CHECK(specs[0].type == ParamType::Double);
  CHECK(std::get<double>(specs[0].default_value) == 0.5);
  CHECK(*specs[0].max == 1.0);
  CHECK(specs[1].type == ParamType::String);
  CHECK(std::get<std::string>(specs[1].default_value) == "a");
  CHECK(specs[2].type == ParamType::Bool);
  CHECK(std::get<bool>(specs[2].default_value));
  CHECK(specs[3].type == ParamType::String);
  CHECK(specs[3].choices == std::vector<std::string>{"round", "square"});
  CHECK(std::get<std::string>(specs[3].default_value) == "square");
  CHECK(std::get<int64_t>(specs[4].default_value) == 7);
  CHECK(std::get<int64_t>(specs[5].default_value) == 3);  // bytes given in MiB
  const Params defaults("test", specs);
  CHECK(defaults.canonical() == "count=7,on=true,shape=square,size_mb=3,tag=a,weight=0.5");
}

TEST_CASE("param table: parse fills every member; bad enum names are refused with the allowed values", "[params]") {
  Params p("thing 'x'", table().specs());
  p.set_from_text("weight", "0.25", "w");
  p.set_from_text("tag", "hello", "w");
  p.set_from_text("on", "off", "w");
  p.set_from_text("shape", "round", "w");
  p.set_from_text("count", "12", "w");
  p.set_from_text("size_mb", "5", "w");
  const Options o = table().parse(p);
  CHECK(o.weight == 0.25);
  CHECK(o.tag == "hello");
  CHECK_FALSE(o.on);
  CHECK(o.shape == Shape::Round);
  CHECK(o.inner.count == 12);
  CHECK(o.inner.bytes == (5ull << 20));
  CHECK(table().parse(Params("thing 'x'", table().specs())).shape == Shape::Square);
  CHECK_THROWS_WITH(p.set_from_text("shape", "oval", "x.yaml:3:4"),
                    Catch::Contains("x.yaml:3:4") && Catch::Contains("'shape'") && Catch::Contains("round|square"));
  CHECK_THROWS_WITH(p.set_from_text("weight", "2", "w"), Catch::Contains("outside [0, 1]"));
}

TEST_CASE("param table: every built-in method's specs come from its table, defaults as documented", "[params]") {
  // The defaults the papers and methods/docs state; the tables read them from the option structs.
  const auto spec_of = [](const std::string& method, const std::string& name) -> const ParamSpec& {
    for (const auto& s : MethodRegistry::instance().find(method, "test").params)
      if (s.name == name) return s;
    FAIL("no parameter " << name << " in " << method);
    throw;
  };
  CHECK(std::get<int64_t>(spec_of("bgfdq", "k").default_value) == 20);
  CHECK(std::get<int64_t>(spec_of("bgfdq", "tile_mb").default_value) == 256);
  CHECK(std::get<std::string>(spec_of("bgfdq", "spd").default_value) == "off");
  CHECK(spec_of("bgfdq", "spd").choices == std::vector<std::string>{"off", "on"});
  CHECK(std::get<std::string>(spec_of("bgfdq", "knn").default_value) == "exact");
  CHECK(std::get<int64_t>(spec_of("dq", "bins").default_value) == 10);
  CHECK(spec_of("dq", "mode").choices == std::vector<std::string>{"naive", "memo", "streaming"});
  CHECK(std::get<double>(spec_of("adq", "alpha").default_value) == 0.65);
  CHECK(std::get<std::string>(spec_of("dqas_approx", "proxy").default_value) == "ncm");
  CHECK(parse_method_spec("bgfdq", "t").canonical() ==
        "bgfdq(alpha=1,ef_search=0,k=20,knn=exact,lambda_scale=1,nlist=0,nprobe=0,recall_sample=1000,rerank=2,spd=off,"
        "theta=0.25,tile_mb=256)");
  CHECK(parse_method_spec("dq", "t").canonical() == "dq(bins=10,kernel=neg_sqeuclid,mode=naive,theta=0.25)");
}
