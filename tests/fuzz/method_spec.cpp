// Fuzz target: method and dataset spec strings ("bgfdq(k=20,theta=0.25)", "image_folder(path=x)"), as
// the YAML grid, `dqbench select` and `datasets inspect` take them. A spec that parses must give a
// canonical form that parses back to itself, and a method that instantiates.
#include "harness/dataset_definitions.h"
#include "methods/method.h"
#include "tests/fuzz/fuzz_target.h"

DQ_FUZZ_TARGET(method_spec) {
  if (input.find("library") != std::string_view::npos) return;  // plugins load libraries (experiment_yaml.cpp)
  const std::string text(input);
  try {
    const dq::DatasetDefinition d = dq::parse_dataset_spec(text, "fuzz");
    (void)d.params.canonical();
  } catch (const dq::Error&) {
  }
  const dq::MethodSpec spec = dq::parse_method_spec(text, "fuzz");
  const std::string canonical = spec.canonical();
  const dq::MethodSpec again = dq::parse_method_spec(canonical, "fuzz (canonical form)");
  if (again.canonical() != canonical)
    dq::fuzz::finding("canonical form does not parse back to itself: '" + canonical + "' -> '" + again.canonical() + "'");
  (void)spec.display();
  (void)spec.instantiate();
}
